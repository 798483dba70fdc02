/* shell.c — the execution thread: takes shell requests one at a time, frames
 * each with status busy/idle on IOPub, and after a failing cell with
 * stop_on_error answers the execute_requests that were queued when it failed
 * with "aborted", as ipykernel does (not the ones sent after its reply).
 * Ends when the ZeroMQ context shuts down (ETERM). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "handlers.h"
#include "iopub.h"
#include "sockets.h"

typedef void (*handler_fn)(ember_kernel *k, const ember_msg *req);

static const struct {
    const char *msg_type;
    handler_fn fn;
} handlers[] = {
    {"kernel_info_request", ember_handle_kernel_info},
    {"complete_request", ember_handle_complete},
    {"inspect_request", ember_handle_inspect},
    {"is_complete_request", ember_handle_is_complete},
    {"history_request", ember_handle_history},
    {"comm_info_request", ember_handle_comm_info},
    {"comm_open", ember_handle_comm_open},
    {"comm_msg", ember_handle_comm_ignored},
    {"comm_close", ember_handle_comm_ignored},
    {"connect_request", ember_handle_connect},
    {"shutdown_request", ember_handle_shell_shutdown},
    {"interrupt_request", ember_handle_shell_interrupt},
};

/* Runs one request between busy and idle; returns 1 when queued
 * execute_requests must now be aborted. */
static int dispatch(ember_kernel *k, const ember_msg *m, int aborting)
{
    int is_execute = strcmp(m->msg_type, "execute_request") == 0;
    int stop = 0;
    ember_publish_status(k, "busy", m);
    if (m->bad[0]) {
        ember_reply_bad(k, k->shell, m);
    } else if (is_execute && aborting) {
        ember_handle_aborted(k, m);
    } else if (is_execute) {
        stop = ember_handle_execute(k, m);
    } else {
        size_t i = 0, n = sizeof handlers / sizeof *handlers;
        while (i < n && strcmp(handlers[i].msg_type, m->msg_type) != 0)
            i++;
        if (i < n)
            handlers[i].fn(k, m);
        else
            ember_log_once(m->msg_type, "ignoring messages of unknown type \"%s\" on shell", m->msg_type);
    }
    ember_publish_status(k, "idle", m);
    return stop;
}

void ember_shell_hold_queued(ember_kernel *k)
{
    for (;;) {
        zmq_pollitem_t it = {k->shell, 0, ZMQ_POLLIN, 0};
        int r = zmq_poll(&it, 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        if (k->nheld == k->held_cap) {
            size_t cap = k->held_cap ? 2 * k->held_cap : 16;
            ember_msg *grown = realloc(k->held, cap * sizeof *grown);
            if (!grown) {
                ember_log("out of memory while aborting queued requests");
                return; /* the rest are simply run as they come */
            }
            k->held = grown;
            k->held_cap = cap;
        }
        int got = ember_recv_msg(k, k->shell, "shell", &k->held[k->nheld]);
        if (got < 0)
            return;
        if (got == 0)
            k->nheld++;
    }
}

/* After a failing cell with stop_on_error: the requests that were queued
 * when it failed are handled now, with execute_requests aborted. */
static void run_held(ember_kernel *k)
{
    for (size_t i = 0; i < k->nheld; i++) {
        dispatch(k, &k->held[i], 1);
        ember_msg_clear(&k->held[i]);
    }
    k->nheld = 0;
}

void *ember_shell_main(void *arg)
{
    ember_kernel *k = arg;
    /* cells can print without end: their publishing waits for the IOPub
     * thread to keep up (iopub.c) */
    ember_iopub_producer_thread();
    while (!atomic_load(&k->shutting_down)) {
        ember_msg m;
        int got = ember_recv_msg(k, k->shell, "shell", &m);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            if (errno != ETERM)
                ember_log("the shell channel failed: %s", zmq_strerror(errno));
            break;
        }
        if (got > 0)
            continue;
        int stop = dispatch(k, &m, 0);
        ember_msg_clear(&m);
        if (stop)
            run_held(k);
    }
    for (size_t i = 0; i < k->nheld; i++)
        ember_msg_clear(&k->held[i]);
    free(k->held);
    k->held = NULL;
    k->nheld = k->held_cap = 0;
    ember_socket_close(&k->shell);
    ember_socket_close(&k->stdin_sock);
    ember_socket_close(&k->wake_push);
    return NULL;
}
