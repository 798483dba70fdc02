/* input.c — the stdin channel: an input_request to the front end that sent
 * the execute_request, then a wait for its input_reply that an interrupt or
 * shutdown ends promptly (the wait polls the interrupt flag every 20 ms). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "handlers.h"
#include "iopub.h"
#include "sockets.h"

/* Replies to an earlier, abandoned input_request must not answer this one. */
static void drain_stale(ember_kernel *k)
{
    for (;;) {
        zmq_pollitem_t it = {k->stdin_sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 0) <= 0 || !(it.revents & ZMQ_POLLIN))
            return;
        ember_msg m;
        if (ember_recv_msg(k, k->stdin_sock, "stdin", &m) < 0)
            return;
        if (m.msg_type)
            ember_debug("discarding a stale %s on stdin", m.msg_type);
        ember_msg_clear(&m);
    }
}

int ember_stdin_input(ember_kernel *k, const ember_msg *req, const char *prompt, int password,
                      char **line, size_t *len, char *err, size_t errlen)
{
    *line = NULL;
    *len = 0;
    drain_stale(k);
    /* a prompt printed before input() is seen before the input box */
    ember_iopub_flush(k);
    json_t *content = json_pack("{s:s%, s:b}", "prompt", prompt, strlen(prompt), "password",
                                password);
    if (!content) {
        snprintf(err, errlen, "input(): the prompt is not valid UTF-8");
        return -1;
    }
    int rc = ember_send_msg(k, k->stdin_sock, req->ids, req->nids, "input_request", req,
                            NULL, content);
    json_decref(content);
    if (rc != 0) {
        snprintf(err, errlen,
                 "input() is not available: the front end is not connected to the stdin "
                 "channel");
        return -1;
    }
    for (;;) {
        if (ember_interrupt_pending(k->engine)) {
            snprintf(err, errlen, "input() was interrupted");
            return -1;
        }
        if (atomic_load(&k->shutting_down)) {
            snprintf(err, errlen, "input(): the kernel is shutting down");
            return -1;
        }
        zmq_pollitem_t it = {k->stdin_sock, 0, ZMQ_POLLIN, 0};
        int r = zmq_poll(&it, 1, 20);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "input(): waiting for the reply failed: %s",
                     zmq_strerror(errno));
            return -1;
        }
        if (r == 0)
            continue;
        ember_msg m;
        int got = ember_recv_msg(k, k->stdin_sock, "stdin", &m);
        if (got < 0) {
            snprintf(err, errlen, "input(): reading the reply failed: %s", zmq_strerror(errno));
            return -1;
        }
        if (got > 0)
            continue;
        if (strcmp(m.msg_type, "input_reply") != 0) {
            ember_log("ignoring %s on stdin while waiting for input_reply", m.msg_type);
            ember_msg_clear(&m);
            continue;
        }
        if (m.bad[0]) {
            /* The answer came but cannot be read: input() fails with why,
             * rather than wait for an answer that will not come again. */
            snprintf(err, errlen, "input(): the front end's input_reply cannot be read: %s",
                     m.bad);
            ember_msg_clear(&m);
            return -1;
        }
        json_t *value = json_object_get(m.content, "value");
        if (!json_is_string(value)) {
            ember_msg_clear(&m);
            snprintf(err, errlen, "input(): the front end's input_reply has no string \"value\"");
            return -1;
        }
        *len = json_string_length(value);
        *line = malloc(*len + 1);
        if (*line) {
            memcpy(*line, json_string_value(value), *len);
            (*line)[*len] = 0;
        }
        ember_msg_clear(&m);
        if (!*line) {
            snprintf(err, errlen, "input(): out of memory");
            return -1;
        }
        return 0;
    }
}
