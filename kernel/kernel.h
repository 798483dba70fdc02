/* kernel.h — the state of one running kernel and who owns which part of it.
 *
 * Threads and their sockets:
 *   main thread      control (ROUTER), wake_pull (inproc PULL)
 *   execution thread shell (ROUTER), stdin (ROUTER), wake_push (inproc PUSH)
 *   heartbeat thread hb (REP)
 *   IOPub thread     iopub (XPUB), in a context of its own
 * ZeroMQ sockets are not thread-safe, so each has one owner. The main and
 * execution threads publish by putting finished messages on the IOPub queue
 * (ember_iopub, under its own lock); the IOPub thread sends them in that
 * order, waiting for a subscriber that is behind rather than dropping
 * anything (iopub.c). IOPub has its own context so that shutting down the
 * other sockets (zmq_ctx_shutdown) still lets the last outputs leave. */
#ifndef EMBER_KERNEL_KERNEL_H
#define EMBER_KERNEL_KERNEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <ember/engine.h>

#include "connection.h"
#include "history.h"
#include "sign.h"
#include "wire.h"

#define EMBER_WAKE_INPROC "inproc://ember-wake"
/* Any message on wake_push asks the main thread to shut down (a
 * shutdown_request arrived on shell). */

typedef struct iopub_item iopub_item;

/* The IOPub queue: messages waiting for the IOPub thread, and stream text
 * not yet made into a message. Everything here is under lock. */
typedef struct ember_iopub {
    pthread_mutex_t lock;
    pthread_cond_t room;       /* the queue got shorter */
    int wake_fd;               /* eventfd: the IOPub thread has work */
    int sleeping, woken;       /* the IOPub thread waits in poll / was told */
    iopub_item *head, *tail;
    size_t queued, queued_bytes;
    /* Stream text of one stream at a time (a write to the other stream, or
     * any other message, publishes it first, which keeps the order) and of
     * one parent, whose header frame is copied. */
    char stream_name[8];
    ember_buf stream_parent;
    char *text;
    size_t len, cap;
    uint64_t deadline_ns;      /* publish the text by then (CLOCK_MONOTONIC) */
    uint64_t stop_deadline_ns; /* shutdown: what is still queued then is dropped */
    pthread_t thread;
    int started;               /* the IOPub thread runs (and takes messages) */
    int joinable;
} ember_iopub;

typedef struct ember_kernel {
    void *zctx;
    ember_connection conn;
    ember_signer signer;
    char session[37];

    void *shell, *control, *stdin_sock, *iopub, *hb;
    void *wake_pull, *wake_push;
    void *iopub_ctx; /* iopub's own context */
    ember_iopub iopub_q;

    ember_engine *engine;
    const char *version, *banner;
    ember_history history;
    int execution_count;        /* execution thread only */
    /* Requests taken off shell when a cell failed with stop_on_error, before
     * its reply went out: the execute_requests among them are aborted.
     * Execution thread only. */
    ember_msg *held;
    size_t nheld, held_cap;

    atomic_int shutting_down;
    pthread_t exec_thread, hb_thread;
    int exec_started, hb_started;
} ember_kernel;

/* log.c */
void ember_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ember_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ember_log, but only the first time for a given key (e.g. a msg_type). */
void ember_log_once(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
