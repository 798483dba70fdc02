/* iopub.c — IOPub: one queue, one thread that owns the XPUB socket, and no
 * output dropped.
 *
 * The main and execution threads turn each output into signed frames and put
 * them on the queue (k->iopub_q); the IOPub thread sends them in that order.
 * A cell can produce output faster than a front end takes it, and ZeroMQ's
 * PUB sockets drop what does not fit (which lost thousands of display and
 * stream messages under load). So the socket runs with ZMQ_XPUB_NODROP: a
 * send waits while a subscriber's pipe is full, the queue then fills, and
 * the execution thread waits in ember_publish until there is room again.
 * The main thread never waits (control replies stay prompt), and an
 * interrupt lets the execution thread past the limit so the cell can stop.
 *
 * Stream text is coalesced, as ipykernel does: writes to one stream become
 * one message, published EMBER_STREAM_FLUSH_MS after the first byte, at
 * EMBER_STREAM_FLUSH_BYTES, or before any other message (a write to the
 * other stream included), so the order of stdout, stderr and displays is
 * kept.
 *
 * Subscribers that go away cost nothing: ZeroMQ drops a disconnected peer's
 * pipe, and its messages with it. A subscriber that stays connected but
 * never reads would hold the kernel up forever; after it has taken nothing
 * for the stall limit, the messages it has no room for are dropped for it
 * alone (ZMQ_XPUB_NODROP off for that send), which the log says, until a
 * send finds room for every subscriber again. */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include "iopub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "message.h"
#include "sockets.h"

struct iopub_item {
    ember_parts parts;
    size_t bytes;
    iopub_item *next;
};

static _Thread_local int is_producer;

/* The IOPub thread's own state (one kernel per process). */
static int degraded;
static unsigned long long undelivered;
static uint64_t stall_ns;
static atomic_int stopping;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ember_iopub_producer_thread(void) { is_producer = 1; }

/* Under the lock: makes sure a sleeping IOPub thread wakes up. */
static void wake_locked(ember_iopub *q)
{
    if (!q->sleeping || q->woken)
        return;
    uint64_t one = 1;
    if (write(q->wake_fd, &one, sizeof one) != (ssize_t)sizeof one && errno != EAGAIN)
        ember_log("cannot wake the IOPub thread: %s", strerror(errno));
    q->woken = 1;
}

static void free_item(iopub_item *it)
{
    ember_parts_free(&it->parts);
    free(it);
}

/* Under the lock: takes p (its frames now belong to the queue). */
static void enqueue_locked(ember_iopub *q, ember_parts *p)
{
    iopub_item *it = malloc(sizeof *it);
    if (!it || !q->started) {
        /* the message was built; without memory or a thread to send it, it
         * cannot be kept */
        ember_log("dropped an IOPub message: %s", it ? "the IOPub thread has stopped" : "out of memory");
        free(it);
        ember_parts_free(p);
        return;
    }
    it->parts = *p;
    it->bytes = 0;
    for (size_t i = 0; i < p->n; i++)
        it->bytes += p->parts[i].len;
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->queued++;
    q->queued_bytes += it->bytes;
    p->parts = NULL;
    p->n = 0;
    wake_locked(q);
}

/* Front ends subscribe to everything; the topic only helps someone reading
 * a capture. */
static int build(ember_kernel *k, const char *msg_type, const ember_buf *parent_header,
                 json_t *content, ember_parts *out)
{
    char topic[96];
    snprintf(topic, sizeof topic, "kernel.%s.%s", k->session, msg_type);
    ember_buf id = {(unsigned char *)topic, strlen(topic)};
    return ember_build_msg(k, &id, 1, msg_type, parent_header, NULL, content, out);
}

/* Under the lock: the stream text waiting becomes a queued message. */
static void flush_locked(ember_kernel *k)
{
    ember_iopub *q = &k->iopub_q;
    if (!q->len)
        return;
    json_t *t = ember_json_text(q->text, q->len);
    json_t *content = t ? json_pack("{s:s, s:o}", "name", q->stream_name, "text", t) : NULL;
    ember_parts p;
    if (!content)
        ember_log("dropped %zu bytes of %s output: out of memory", q->len, q->stream_name);
    else if (build(k, "stream", q->stream_parent.data ? &q->stream_parent : NULL, content,
                   &p) == 0)
        enqueue_locked(q, &p);
    json_decref(content);
    q->len = 0;
    if (q->cap > 4 * EMBER_STREAM_FLUSH_BYTES) {
        /* one huge write need not keep its buffer */
        free(q->text);
        q->text = NULL;
        q->cap = 0;
    }
}

/* Under the lock: the execution thread waits while the queue is full. */
static void wait_for_room_locked(ember_kernel *k)
{
    ember_iopub *q = &k->iopub_q;
    if (!is_producer)
        return;
    for (;;) {
        size_t f = ember_interrupt_pending(k->engine) ? EMBER_IOPUB_QUEUE_INTERRUPTED : 1;
        if ((q->queued <= f * EMBER_IOPUB_QUEUE_MSGS &&
             q->queued_bytes <= f * EMBER_IOPUB_QUEUE_BYTES) ||
            !q->started || atomic_load(&stopping) || atomic_load(&k->shutting_down))
            return;
        /* timed, so an interrupt or a shutdown is noticed */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&q->room, &q->lock, &ts);
    }
}

int ember_publish(ember_kernel *k, const char *msg_type, const ember_msg *parent,
                  json_t *content)
{
    ember_iopub *q = &k->iopub_q;
    int rc = -1;
    ember_parts p = {NULL, 0};
    if (!content)
        ember_log("cannot build %s: out of memory", msg_type);
    else
        rc = build(k, msg_type, parent ? &parent->header_raw : NULL, content, &p);
    json_decref(content);
    pthread_mutex_lock(&q->lock);
    flush_locked(k); /* older stream text goes first, even if this failed */
    if (rc == 0)
        enqueue_locked(q, &p);
    wait_for_room_locked(k);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int ember_publish_status(ember_kernel *k, const char *state, const ember_msg *parent)
{
    return ember_publish(k, "status", parent, json_pack("{s:s}", "execution_state", state));
}

static int same_parent(const ember_iopub *q, const ember_msg *parent)
{
    if (!parent)
        return q->stream_parent.data == NULL;
    return q->stream_parent.data && q->stream_parent.len == parent->header_raw.len &&
           memcmp(q->stream_parent.data, parent->header_raw.data, parent->header_raw.len) == 0;
}

void ember_publish_stream(ember_kernel *k, const ember_msg *parent, const char *name,
                          const char *text, size_t len)
{
    ember_iopub *q = &k->iopub_q;
    if (!len)
        return;
    pthread_mutex_lock(&q->lock);
    if (q->len && (strcmp(q->stream_name, name) != 0 || !same_parent(q, parent)))
        flush_locked(k);
    if (!q->len) {
        snprintf(q->stream_name, sizeof q->stream_name, "%s", name);
        ember_buf_free(&q->stream_parent);
        if (parent && ember_buf_set(&q->stream_parent, parent->header_raw.data,
                                    parent->header_raw.len) != 0) {
            ember_log("dropped %zu bytes of %s output: out of memory", len, name);
            pthread_mutex_unlock(&q->lock);
            return;
        }
        q->deadline_ns = now_ns() + (uint64_t)EMBER_STREAM_FLUSH_MS * 1000000u;
        wake_locked(q); /* its poll must now end by the deadline */
    }
    if (q->len + len > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + len)
            cap *= 2;
        char *grown = realloc(q->text, cap);
        if (!grown) {
            ember_log("dropped %zu bytes of %s output: out of memory", len, name);
            pthread_mutex_unlock(&q->lock);
            return;
        }
        q->text = grown;
        q->cap = cap;
    }
    memcpy(q->text + q->len, text, len);
    q->len += len;
    if (q->len >= EMBER_STREAM_FLUSH_BYTES)
        flush_locked(k);
    wait_for_room_locked(k);
    pthread_mutex_unlock(&q->lock);
}

void ember_iopub_flush(ember_kernel *k)
{
    ember_iopub *q = &k->iopub_q;
    pthread_mutex_lock(&q->lock);
    flush_locked(k);
    wait_for_room_locked(k);
    pthread_mutex_unlock(&q->lock);
}

/* ---- the IOPub thread ---- */

static int send_frame(ember_kernel *k, const ember_buf *b, int flags)
{
    return zmq_send(k->iopub, b->data, b->len, flags);
}

static int set_nodrop(ember_kernel *k, int on)
{
    if (zmq_setsockopt(k->iopub, ZMQ_XPUB_NODROP, &on, sizeof on) != 0) {
        ember_log("cannot set ZMQ_XPUB_NODROP to %d on iopub: %s", on, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* Sends one message whole. Only its first frame can find no room (ZeroMQ
 * checks a pipe's limit when a message starts); while it does, the send
 * waits in slices of EMBER_IOPUB_SEND_SLICE_MS, up to the stall limit. */
static void send_parts(ember_kernel *k, const ember_parts *p)
{
    int more = p->n > 1 ? ZMQ_SNDMORE : 0;
    uint64_t since = 0;
    for (;;) {
        if (send_frame(k, &p->parts[0], more | (degraded ? ZMQ_DONTWAIT : 0)) >= 0) {
            if (degraded) {
                ember_log("IOPub: every subscriber is taking messages again (%llu were not "
                          "delivered to the one that was not)",
                          undelivered);
                degraded = 0;
                undelivered = 0;
            }
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            ember_log("IOPub: zmq_send failed: %s", zmq_strerror(errno));
            return;
        }
        uint64_t now = now_ns();
        if (!since)
            since = now;
        int stop = atomic_load(&stopping) && now >= k->iopub_q.stop_deadline_ns;
        if (!degraded && !stop && now - since < stall_ns)
            continue;
        if (!degraded && !stop)
            ember_log("IOPub: a subscriber has taken no message for %.0f s: what it has no room "
                      "for is dropped for it (and for any other subscriber as far behind) "
                      "until it takes messages again",
                      (double)stall_ns / 1e9);
        degraded = degraded || !stop;
        /* Lossy for this one message: it still reaches every subscriber with
         * room for it. */
        if (set_nodrop(k, 0) != 0)
            return;
        int r = send_frame(k, &p->parts[0], more | ZMQ_DONTWAIT);
        set_nodrop(k, 1);
        if (r < 0) {
            ember_log("IOPub: zmq_send failed: %s", zmq_strerror(errno));
            return;
        }
        undelivered++;
        break;
    }
    for (size_t i = 1; i < p->n; i++) {
        /* a message once started must be finished: its other frames always
         * have room */
        while (send_frame(k, &p->parts[i], i + 1 < p->n ? ZMQ_SNDMORE : 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            ember_log("IOPub: zmq_send failed: %s", zmq_strerror(errno));
            return;
        }
    }
}

/* Answers every (un)subscription waiting on the XPUB socket: 1 + topic is a
 * subscription, which gets an iopub_welcome; 0 + topic an unsubscription. */
static void welcome_all(ember_kernel *k)
{
    for (;;) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, k->iopub, ZMQ_DONTWAIT) < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ETERM)
                ember_log("IOPub: reading subscriptions failed: %s", zmq_strerror(errno));
            zmq_msg_close(&f);
            return;
        }
        const unsigned char *d = zmq_msg_data(&f);
        size_t n = zmq_msg_size(&f);
        if (n >= 1 && d[0] == 1) {
            json_t *topic = ember_json_text((const char *)d + 1, n - 1);
            json_t *content = topic ? json_pack("{s:o}", "subscription", topic) : NULL;
            ember_parts p;
            /* The topic as first frame, so a subscriber to only that topic
             * receives it; an empty topic needs no frame. */
            ember_buf id = {(unsigned char *)d + 1, n - 1};
            if (!content)
                ember_log("cannot build iopub_welcome: out of memory");
            else if (ember_build_msg(k, n > 1 ? &id : NULL, n > 1 ? 1 : 0, "iopub_welcome", NULL,
                                     NULL, content, &p) == 0) {
                send_parts(k, &p);
                ember_parts_free(&p);
            }
            json_decref(content);
        }
        zmq_msg_close(&f);
    }
}

static void *iopub_main(void *arg)
{
    ember_kernel *k = arg;
    ember_iopub *q = &k->iopub_q;
    for (;;) {
        welcome_all(k);
        pthread_mutex_lock(&q->lock);
        if (q->len && (now_ns() >= q->deadline_ns || atomic_load(&stopping)))
            flush_locked(k);
        iopub_item *it = q->head;
        int timeout = -1;
        if (it) {
            q->head = it->next;
            if (!q->head)
                q->tail = NULL;
            q->queued--;
            q->queued_bytes -= it->bytes;
            pthread_cond_broadcast(&q->room);
        } else if (atomic_load(&stopping)) {
            pthread_mutex_unlock(&q->lock);
            break;
        } else {
            if (q->len) {
                uint64_t now = now_ns();
                timeout = q->deadline_ns > now ? (int)((q->deadline_ns - now) / 1000000u) + 1 : 0;
            }
            q->sleeping = 1;
        }
        pthread_mutex_unlock(&q->lock);
        if (it) {
            send_parts(k, &it->parts);
            free_item(it);
            continue;
        }
        zmq_pollitem_t items[2] = {{k->iopub, 0, ZMQ_POLLIN, 0}, {NULL, q->wake_fd, ZMQ_POLLIN, 0}};
        int r = zmq_poll(items, 2, timeout);
        if (r < 0 && errno != EINTR) {
            ember_log("IOPub: polling failed: %s", zmq_strerror(errno));
            pthread_mutex_lock(&q->lock);
            q->started = 0; /* publishers must not wait for a thread that is gone */
            pthread_cond_broadcast(&q->room);
            pthread_mutex_unlock(&q->lock);
            break;
        }
        if (r > 0 && (items[1].revents & ZMQ_POLLIN)) {
            uint64_t v;
            if (read(q->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
                ember_log("IOPub: reading the wake-up failed: %s", strerror(errno));
        }
        pthread_mutex_lock(&q->lock);
        q->sleeping = 0;
        q->woken = 0;
        pthread_mutex_unlock(&q->lock);
    }
    return NULL;
}

int ember_iopub_start(ember_kernel *k, char *err, size_t errlen)
{
    ember_iopub *q = &k->iopub_q;
    const char *env = getenv("EMBER_IOPUB_STALL_SECONDS");
    char *end = NULL;
    double stall = env ? strtod(env, &end) : EMBER_IOPUB_STALL_SECONDS;
    if (!env || end == env || *end || !(stall > 0 && stall < 1e6)) {
        if (env)
            ember_log("EMBER_IOPUB_STALL_SECONDS=\"%s\" is not a number of seconds: using %.0f",
                      env, EMBER_IOPUB_STALL_SECONDS);
        stall = EMBER_IOPUB_STALL_SECONDS;
    }
    stall_ns = (uint64_t)(stall * 1e9);
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&q->room, &ca) != 0) {
        snprintf(err, errlen, "cannot set up the IOPub queue's condition variable");
        return -1;
    }
    pthread_condattr_destroy(&ca);
    if (pthread_mutex_init(&q->lock, NULL) != 0) {
        pthread_cond_destroy(&q->room);
        snprintf(err, errlen, "cannot set up the IOPub queue's mutex");
        return -1;
    }
    q->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->wake_fd < 0) {
        snprintf(err, errlen, "cannot create the IOPub thread's eventfd: %s", strerror(errno));
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->room);
        return -1;
    }
    q->started = 1;
    q->joinable = 1;
    int e = pthread_create(&q->thread, NULL, iopub_main, k);
    if (e != 0) {
        q->started = q->joinable = 0;
        snprintf(err, errlen, "cannot start the IOPub thread: %s", strerror(e));
        close(q->wake_fd);
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->room);
        return -1;
    }
    return 0;
}

int ember_iopub_stop(ember_kernel *k, int release)
{
    ember_iopub *q = &k->iopub_q;
    if (!q->joinable)
        return 0;
    pthread_mutex_lock(&q->lock);
    /* what is queued gets two seconds to leave; a subscriber that takes
     * nothing in that time does not hold up the exit */
    q->stop_deadline_ns = now_ns() + 2000000000u;
    atomic_store(&stopping, 1);
    uint64_t one = 1;
    if (write(q->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        ember_log("cannot wake the IOPub thread: %s", strerror(errno));
    pthread_cond_broadcast(&q->room);
    pthread_mutex_unlock(&q->lock);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 4;
    if (pthread_timedjoin_np(q->thread, NULL, &ts) != 0) {
        ember_log("the IOPub thread did not stop");
        return -1; /* it still uses the socket: leave both to the exit */
    }
    q->joinable = 0;
    ember_socket_close(&k->iopub);
    if (!release)
        return 0;
    for (iopub_item *it = q->head, *next; it; it = next) {
        next = it->next;
        free_item(it);
    }
    q->head = q->tail = NULL;
    free(q->text);
    q->text = NULL;
    ember_buf_free(&q->stream_parent);
    close(q->wake_fd);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->room);
    q->started = 0;
    return 0;
}
