/* handlers.h — one function per shell msg_type, run on the execution thread
 * between the busy and idle status messages that shell.c publishes. */
#ifndef EMBER_KERNEL_HANDLERS_H
#define EMBER_KERNEL_HANDLERS_H

#include "kernel.h"

/* execute.c. Returns 1 when the cell failed and the request asked to stop on
 * error (the caller then aborts the queued execute_requests). */
int ember_handle_execute(ember_kernel *k, const ember_msg *req);
/* An execute_request that arrived after a failing cell with stop_on_error. */
void ember_handle_aborted(ember_kernel *k, const ember_msg *req);

/* handlers.c */
/* The error reply to a request ("x_request" -> "x_reply" with status
 * "error", ename, evalue and traceback; for an execute_request on shell also
 * an error on IOPub and execution_count). Nothing when msg_type names no
 * request (comm_msg...): the protocol has no reply for it. */
void ember_reply_error(ember_kernel *k, void *sock, const ember_msg *req, const char *ename,
                       const char *evalue);
/* The error reply to a bad request (req->bad says why). */
void ember_reply_bad(ember_kernel *k, void *sock, const ember_msg *req);
/* What a request's content must hold: a key, its JSON type (JSON_TRUE for a
 * boolean) and whether it is required; a list ends with a NULL key. */
typedef struct ember_field {
    const char *key;
    int type;
    int required;
} ember_field;
/* 0 when every field is as described; else answers the request with an
 * error reply naming the first field that is not, and returns -1. */
int ember_check_fields(ember_kernel *k, void *sock, const ember_msg *req, const ember_field *f);

void ember_handle_kernel_info(ember_kernel *k, const ember_msg *req);
void ember_handle_complete(ember_kernel *k, const ember_msg *req);
void ember_handle_inspect(ember_kernel *k, const ember_msg *req);
void ember_handle_is_complete(ember_kernel *k, const ember_msg *req);
void ember_handle_history(ember_kernel *k, const ember_msg *req);
void ember_handle_comm_info(ember_kernel *k, const ember_msg *req);
void ember_handle_comm_open(ember_kernel *k, const ember_msg *req);
void ember_handle_comm_ignored(ember_kernel *k, const ember_msg *req);
void ember_handle_connect(ember_kernel *k, const ember_msg *req);
void ember_handle_shell_shutdown(ember_kernel *k, const ember_msg *req);
void ember_handle_shell_interrupt(ember_kernel *k, const ember_msg *req);

/* input.c: the stdin round trip behind the engine's input(); *line gets
 * *len bytes (the answer may hold a NUL). */
int ember_stdin_input(ember_kernel *k, const ember_msg *req, const char *prompt, int password,
                      char **line, size_t *len, char *err, size_t errlen);

/* shell.c: the execution thread. */
void *ember_shell_main(void *kernel);
/* Takes every request already waiting on shell into k->held, so that those
 * (and only those) are aborted after a failing cell: called just before its
 * execute_reply, which the front end might answer with new work at once. */
void ember_shell_hold_queued(ember_kernel *k);

/* control.c: the main thread's loop; returns once shutdown is asked for. */
int ember_control_loop(ember_kernel *k);


#endif
