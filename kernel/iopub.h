/* iopub.h — publishing on IOPub from any thread: a queue the IOPub thread
 * sends in order, stream text coalesced per stream, iopub_welcome for each
 * new subscriber (protocol 5.5, JEP 65), and no message ever dropped for a
 * subscriber that reads (see iopub.c for the one that does not). */
#ifndef EMBER_KERNEL_IOPUB_H
#define EMBER_KERNEL_IOPUB_H

#include <jansson.h>

#include "kernel.h"

/* Stream text is published at the latest this long after its first byte was
 * written, or as soon as this many bytes are waiting. */
#define EMBER_STREAM_FLUSH_MS 50
#define EMBER_STREAM_FLUSH_BYTES (64 * 1024)
/* A publisher waits (the execution thread only) while more than this is
 * queued for the IOPub thread... */
#define EMBER_IOPUB_QUEUE_MSGS 256
#define EMBER_IOPUB_QUEUE_BYTES (8u << 20)
/* ...unless an interrupt is pending (the cell is about to stop, and must not
 * wait for a subscriber to stop it), up to this many times as much. */
#define EMBER_IOPUB_QUEUE_INTERRUPTED 4
/* A subscriber that has taken nothing for this long (seconds;
 * $EMBER_IOPUB_STALL_SECONDS changes it) no longer holds the kernel up:
 * messages it has no room for are dropped for it alone, until it reads
 * again. */
#define EMBER_IOPUB_STALL_SECONDS 10.0

/* Starts the IOPub thread (k->iopub must be open). Before it, every
 * subscription already waiting is welcomed. -1 with err when it cannot. */
int ember_iopub_start(ember_kernel *k, char *err, size_t errlen);
/* At shutdown: sends what is queued (giving up after about two seconds),
 * ends the IOPub thread and closes the socket; with release (no other
 * thread can publish any more) frees the queue as well. -1 when the thread
 * did not end: then nothing of IOPub may be released. */
int ember_iopub_stop(ember_kernel *k, int release);

/* The calling thread's publishing waits while the queue is full: called by
 * the execution thread, whose cells can produce output without end. Other
 * threads (control) never wait. */
void ember_iopub_producer_thread(void);

/* Publishes one message after any stream text waiting; steals content,
 * parent may be NULL. Thread-safe. */
int ember_publish(ember_kernel *k, const char *msg_type, const ember_msg *parent,
                  json_t *content);
int ember_publish_status(ember_kernel *k, const char *state, const ember_msg *parent);
/* Stream text ("stdout" or "stderr"), coalesced: consecutive writes to the
 * same stream for the same parent become one message. */
void ember_publish_stream(ember_kernel *k, const ember_msg *parent, const char *name,
                          const char *text, size_t len);
/* Publishes the stream text waiting now (before an input_request, so a
 * prompt printed first is seen first). */
void ember_iopub_flush(ember_kernel *k);

#endif
