/* sockets.h — ZeroMQ plumbing: binding the five channels, and moving whole
 * Jupyter messages in and out of a socket. */
#ifndef EMBER_KERNEL_SOCKETS_H
#define EMBER_KERNEL_SOCKETS_H

#include <stddef.h>
#include <jansson.h>

#include "kernel.h"

/* Creates and binds shell, control, stdin, iopub, hb and the inproc pair. */
int ember_sockets_open(ember_kernel *k, char *err, size_t errlen);
/* Closes *s (if any) and sets it to NULL; a failure is logged, since at
 * shutdown there is nobody left to tell. */
void ember_socket_close(void **s);

/* Receives one multipart message and parses it. Returns 0 with *m filled
 * (m->bad non-empty for a bad request, which must get an error reply: see
 * ember_reply_bad), 1 when a message arrived but was dropped (logged: bad
 * signature, bad framing, an unreadable header), -1 when the socket failed
 * (errno set; ETERM at shutdown). */
int ember_recv_msg(ember_kernel *k, void *sock, const char *channel, ember_msg *m);

/* Sends every frame; -1 (and a log line) when ZeroMQ refuses. */
int ember_send_parts(void *sock, const ember_parts *p);

/* IOPub's limits: messages queued for one subscriber before a send waits
 * (ZMQ_SNDHWM), and the longest single wait inside ZeroMQ. */
#define EMBER_IOPUB_HWM 1000
#define EMBER_IOPUB_SEND_SLICE_MS 50

/* The frames of one message: ids, <IDS|MSG>, signature, a fresh header,
 * parent_header (these header bytes as they came, or {} when NULL),
 * metadata ({} when NULL), content. JSON arguments are borrowed. Returns
 * -1 (logged) when it cannot be built. */
int ember_build_msg(ember_kernel *k, const ember_buf *ids, size_t nids, const char *msg_type,
                    const ember_buf *parent_header, json_t *metadata, json_t *content,
                    ember_parts *out);

/* Signs and sends one message. content and metadata are borrowed; parent
 * (the request this answers, its header becomes parent_header) may be NULL. */
int ember_send_msg(ember_kernel *k, void *sock, const ember_buf *ids, size_t nids,
                   const char *msg_type, const ember_msg *parent, json_t *metadata,
                   json_t *content);

/* Reply to req on sock, routed to req's identities. Steals content. */
int ember_reply(ember_kernel *k, void *sock, const ember_msg *req, const char *reply_type,
                json_t *content);

#endif
