/* sockets.c — binding the kernel's sockets and sending/receiving whole
 * messages. Every ZeroMQ error is logged with the call and the reason. */
#include "sockets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "message.h"

/* Frames beyond this are received and thrown away: no valid request has so many. */
#define MAX_FRAMES 256

static void *make_socket(void *ctx, int type, const char *what, char *err, size_t errlen)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        snprintf(err, errlen, "cannot create the %s socket: %s", what, zmq_strerror(errno));
        return NULL;
    }
    /* Replies still queued at shutdown get a second to leave, no more. */
    int linger = 1000;
    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0) {
        snprintf(err, errlen, "cannot set ZMQ_LINGER on %s: %s", what, zmq_strerror(errno));
        ember_socket_close(&s);
        return NULL;
    }
    return s;
}

/* IOPub never drops a message: with ZMQ_XPUB_NODROP a subscriber whose
 * queue is full (EMBER_IOPUB_HWM messages behind) makes a send wait (for at
 * most EMBER_IOPUB_SEND_SLICE_MS at a time, so the IOPub thread can look at
 * its stall limit and at shutdown between tries) instead of dropping. */
static int iopub_options(void *s, char *err, size_t errlen)
{
    static const struct {
        int opt, value;
        const char *name;
    } opts[] = {
        /* every subscription reaches us, so each new front end gets its own
         * iopub_welcome even when the topic is already known */
        {ZMQ_XPUB_VERBOSE, 1, "ZMQ_XPUB_VERBOSE"},
        {ZMQ_XPUB_NODROP, 1, "ZMQ_XPUB_NODROP"},
        {ZMQ_SNDHWM, EMBER_IOPUB_HWM, "ZMQ_SNDHWM"},
        {ZMQ_SNDTIMEO, EMBER_IOPUB_SEND_SLICE_MS, "ZMQ_SNDTIMEO"},
    };
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        if (zmq_setsockopt(s, opts[i].opt, &opts[i].value, sizeof opts[i].value) != 0) {
            snprintf(err, errlen, "cannot set %s on iopub: %s", opts[i].name, zmq_strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int bind_channel(ember_kernel *k, void *s, int ch, char *err, size_t errlen)
{
    char ep[300];
    if (ember_connection_endpoint(&k->conn, ch, ep, sizeof ep) != 0) {
        snprintf(err, errlen, "the %s endpoint is too long", ember_channel_name(ch));
        return -1;
    }
    if (strchr(k->conn.ip, ':')) {
        int on = 1;
        if (zmq_setsockopt(s, ZMQ_IPV6, &on, sizeof on) != 0) {
            snprintf(err, errlen, "cannot enable IPv6 on %s: %s", ember_channel_name(ch),
                     zmq_strerror(errno));
            return -1;
        }
    }
    if (zmq_bind(s, ep) != 0) {
        snprintf(err, errlen, "cannot bind the %s channel to %s: %s (is the port in use?)",
                 ember_channel_name(ch), ep, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int ember_sockets_open(ember_kernel *k, char *err, size_t errlen)
{
    struct {
        void **slot;
        int type, ch;
    } socks[] = {
        {&k->shell, ZMQ_ROUTER, EMBER_CH_SHELL},     {&k->control, ZMQ_ROUTER, EMBER_CH_CONTROL},
        {&k->stdin_sock, ZMQ_ROUTER, EMBER_CH_STDIN}, {&k->iopub, ZMQ_XPUB, EMBER_CH_IOPUB},
        {&k->hb, ZMQ_REP, EMBER_CH_HB},
    };
    for (size_t i = 0; i < sizeof socks / sizeof *socks; i++) {
        const char *name = ember_channel_name(socks[i].ch);
        void *s = make_socket(socks[i].type == ZMQ_XPUB ? k->iopub_ctx : k->zctx, socks[i].type,
                              name, err, errlen);
        if (!s)
            return -1;
        *socks[i].slot = s;
        int on = 1;
        if (socks[i].type == ZMQ_ROUTER &&
            zmq_setsockopt(s, ZMQ_ROUTER_HANDOVER, &on, sizeof on) != 0) {
            snprintf(err, errlen, "cannot set ZMQ_ROUTER_HANDOVER on %s: %s", name,
                     zmq_strerror(errno));
            return -1;
        }
        /* An input_request to a front end with no stdin channel must fail
         * (EHOSTUNREACH), not vanish and leave input() waiting forever. */
        if (socks[i].ch == EMBER_CH_STDIN &&
            zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &on, sizeof on) != 0) {
            snprintf(err, errlen, "cannot set ZMQ_ROUTER_MANDATORY on stdin: %s",
                     zmq_strerror(errno));
            return -1;
        }
        if (socks[i].type == ZMQ_XPUB && iopub_options(s, err, errlen) != 0)
            return -1;
        if (bind_channel(k, s, socks[i].ch, err, errlen) != 0)
            return -1;
    }
    if (!(k->wake_pull = make_socket(k->zctx, ZMQ_PULL, "wake-up (PULL)", err, errlen)) ||
        !(k->wake_push = make_socket(k->zctx, ZMQ_PUSH, "wake-up (PUSH)", err, errlen)))
        return -1;
    if (zmq_bind(k->wake_pull, EMBER_WAKE_INPROC) != 0 ||
        zmq_connect(k->wake_push, EMBER_WAKE_INPROC) != 0) {
        snprintf(err, errlen, "cannot connect the inproc wake-up pair: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int ember_recv_msg(ember_kernel *k, void *sock, const char *channel, ember_msg *m)
{
    zmq_msg_t frames[MAX_FRAMES];
    size_t n = 0;
    int more = 1, rc = 0, dropped_frames = 0;
    while (more) {
        zmq_msg_t tmp, *f = n < MAX_FRAMES ? &frames[n] : &tmp;
        zmq_msg_init(f);
        int r;
        do {
            r = zmq_msg_recv(f, sock, 0);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            int e = errno;
            zmq_msg_close(f);
            for (size_t i = 0; i < n; i++)
                zmq_msg_close(&frames[i]);
            errno = e;
            return -1;
        }
        more = zmq_msg_more(f);
        if (f == &tmp) {
            zmq_msg_close(&tmp);
            dropped_frames = 1;
        } else {
            n++;
        }
    }
    if (dropped_frames) {
        ember_log("dropped a message on %s: more than %d frames", channel, MAX_FRAMES);
        rc = 1;
    } else {
        ember_frame views[MAX_FRAMES];
        for (size_t i = 0; i < n; i++) {
            views[i].data = zmq_msg_data(&frames[i]);
            views[i].len = zmq_msg_size(&frames[i]);
        }
        char err[256];
        int pr = ember_wire_parse(&k->signer, views, n, m, err, sizeof err);
        if (pr == EMBER_WIRE_BADREQ) {
            ember_log("%s on %s cannot be handled (%s): answering with an error", m->msg_type,
                      channel, err);
        } else if (pr != EMBER_WIRE_OK) {
            ember_log("dropped a message on %s: %s", channel, err);
            rc = 1;
        }
    }
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
    return rc;
}

int ember_send_parts(void *sock, const ember_parts *p)
{
    for (size_t i = 0; i < p->n; i++) {
        int r;
        do {
            r = zmq_send(sock, p->parts[i].data, p->parts[i].len, i + 1 < p->n ? ZMQ_SNDMORE : 0);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            if (errno != ETERM)
                ember_log("zmq_send failed: %s", zmq_strerror(errno));
            return -1;
        }
    }
    return 0;
}

int ember_send_msg(ember_kernel *k, void *sock, const ember_buf *ids, size_t nids,
                   const char *msg_type, const ember_msg *parent, json_t *metadata,
                   json_t *content)
{
    ember_parts p;
    if (ember_build_msg(k, ids, nids, msg_type, parent ? &parent->header_raw : NULL, metadata,
                        content, &p) != 0)
        return -1;
    int rc = ember_send_parts(sock, &p);
    ember_parts_free(&p);
    return rc;
}

int ember_build_msg(ember_kernel *k, const ember_buf *ids, size_t nids, const char *msg_type,
                    const ember_buf *parent_header, json_t *metadata, json_t *content,
                    ember_parts *out)
{
    out->parts = NULL;
    out->n = 0;
    char header[512];
    int hl = ember_header_format(header, sizeof header, msg_type, k->session);
    if (hl < 0) {
        ember_log("cannot build a %s header (no randomness for its msg_id)", msg_type);
        return -1;
    }
    char *meta = metadata ? json_dumps(metadata, JSON_COMPACT) : NULL;
    char *body = json_is_object(content) ? json_dumps(content, JSON_COMPACT) : NULL;
    if (!body || (metadata && !meta)) {
        ember_log("cannot build %s: %s", msg_type,
                  json_is_object(content) ? "out of memory" : "content is not an object");
        free(meta);
        free(body);
        return -1;
    }
    /* The parent_header is the request's header frame exactly as it came. */
    ember_frame parts[4] = {
        {(const unsigned char *)header, (size_t)hl},
        parent_header ? (ember_frame){parent_header->data, parent_header->len}
                      : (ember_frame){(const unsigned char *)"{}", 2},
        meta ? (ember_frame){(const unsigned char *)meta, strlen(meta)}
             : (ember_frame){(const unsigned char *)"{}", 2},
        {(const unsigned char *)body, strlen(body)},
    };
    char err[256];
    int rc = ember_wire_serialize_frames(&k->signer, ids, nids, parts, out, err, sizeof err);
    free(meta);
    free(body);
    if (rc != 0) {
        ember_log("cannot build %s: %s", msg_type, err);
        return -1;
    }
    return 0;
}

int ember_reply(ember_kernel *k, void *sock, const ember_msg *req, const char *reply_type,
                json_t *content)
{
    if (!content) {
        ember_log("cannot build %s: out of memory", reply_type);
        return -1;
    }
    int rc = ember_send_msg(k, sock, req->ids, req->nids, reply_type, req, NULL, content);
    json_decref(content);
    return rc;
}

void ember_socket_close(void **s)
{
    if (*s && zmq_close(*s) != 0)
        ember_log("closing a socket failed: %s", zmq_strerror(errno));
    *s = NULL;
}
