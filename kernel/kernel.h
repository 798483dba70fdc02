/* kernel.h — the state of one running kernel and who owns which part of it.
 *
 * Threads and their sockets:
 *   main thread      control (ROUTER), wake_pull (inproc PULL)
 *   execution thread shell (ROUTER), stdin (ROUTER), wake_push (inproc PUSH)
 *   heartbeat thread hb (REP)
 *   both             iopub (XPUB), only while holding iopub_lock
 * ZeroMQ sockets are not thread-safe, but a socket may pass between threads
 * behind a full memory barrier, which the mutex gives. Sharing IOPub this way
 * keeps a thread hop off every output message. Whoever holds the lock also
 * answers pending subscriptions with iopub_welcome (iopub.c), because any
 * operation on the socket may consume the wake-up of its ZMQ_FD, which the
 * main thread polls to notice subscriptions while the execution thread is
 * quiet. */
#ifndef EMBER_KERNEL_KERNEL_H
#define EMBER_KERNEL_KERNEL_H

#include <pthread.h>
#include <stdatomic.h>

#include <ember/engine.h>

#include "connection.h"
#include "history.h"
#include "sign.h"
#include "wire.h"

#define EMBER_WAKE_INPROC "inproc://ember-wake"
/* Any message on wake_push asks the main thread to shut down (a
 * shutdown_request arrived on shell). */

typedef struct ember_kernel {
    void *zctx;
    ember_connection conn;
    ember_signer signer;
    char session[37];

    void *shell, *control, *stdin_sock, *iopub, *hb;
    void *wake_pull, *wake_push;
    pthread_mutex_t iopub_lock;
    int iopub_fd; /* ZMQ_FD of iopub, polled by the main thread */

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
