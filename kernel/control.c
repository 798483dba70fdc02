/* control.c — the main thread's loop. It answers the control channel at once
 * (kernel_info, interrupt, shutdown) even while a cell runs: its IOPub
 * messages never wait for a slow subscriber (iopub.c). */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <zmq.h>

#include "handlers.h"
#include "kernel_info.h"
#include "iopub.h"
#include "parent.h"
#include "sockets.h"

static void handle_control(ember_kernel *k, const ember_msg *m)
{
    ember_publish_status(k, "busy", m);
    if (m->bad[0]) {
        ember_reply_bad(k, k->control, m);
    } else if (strcmp(m->msg_type, "kernel_info_request") == 0) {
        ember_reply(k, k->control, m, "kernel_info_reply", ember_kernel_info(k));
    } else if (strcmp(m->msg_type, "interrupt_request") == 0) {
        ember_interrupt(k->engine);
        ember_reply(k, k->control, m, "interrupt_reply", json_pack("{s:s}", "status", "ok"));
    } else if (strcmp(m->msg_type, "shutdown_request") == 0) {
        int restart = json_is_true(json_object_get(m->content, "restart"));
        ember_reply(k, k->control, m, "shutdown_reply",
                    json_pack("{s:s, s:b}", "status", "ok", "restart", restart));
        /* ipykernel also broadcasts it, for front ends watching IOPub only. */
        ember_publish(k, "shutdown_reply", m,
                      json_pack("{s:s, s:b}", "status", "ok", "restart", restart));
        atomic_store(&k->shutting_down, 1);
    } else {
        ember_log_once(m->msg_type, "ignoring messages of unknown type \"%s\" on control",
                       m->msg_type);
    }
    ember_publish_status(k, "idle", m);
}

int ember_control_loop(ember_kernel *k)
{
    pid_t parent = ember_parent_from_env();
    while (!atomic_load(&k->shutting_down)) {
        zmq_pollitem_t items[] = {
            {k->control, 0, ZMQ_POLLIN, 0},
            {k->wake_pull, 0, ZMQ_POLLIN, 0},
        };
        /* With a parent to watch, wake once a second to look at it. */
        int r = zmq_poll(items, 2, parent ? 1000 : -1);
        if (r < 0) {
            if (errno == EINTR) /* SIGINT: the handler already did its work */
                continue;
            ember_log("polling the control channel failed: %s", zmq_strerror(errno));
            return -1;
        }
        if (ember_parent_gone(parent)) {
            ember_log("the process that started this kernel (pid %ld) has exited: shutting down",
                      (long)parent);
            atomic_store(&k->shutting_down, 1);
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            /* Only the shell's shutdown_request sends anything here. */
            char buf[32];
            if (zmq_recv(k->wake_pull, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
                atomic_store(&k->shutting_down, 1);
        }
        if (items[0].revents & ZMQ_POLLIN) {
            ember_msg m;
            int got = ember_recv_msg(k, k->control, "control", &m);
            if (got < 0 && errno != EINTR && errno != EAGAIN) {
                ember_log("the control channel failed: %s", zmq_strerror(errno));
                return -1;
            }
            if (got == 0) {
                handle_control(k, &m);
                ember_msg_clear(&m);
            }
        }
    }
    return 0;
}
