/* iopub.h — publishing on IOPub from any thread, and iopub_welcome for each
 * new subscriber (protocol 5.5, JEP 65). */
#ifndef EMBER_KERNEL_IOPUB_H
#define EMBER_KERNEL_IOPUB_H

#include <jansson.h>

#include "kernel.h"

/* Publishes one message; steals content, parent may be NULL. Thread-safe. */
int ember_publish(ember_kernel *k, const char *msg_type, const ember_msg *parent,
                  json_t *content);
int ember_publish_status(ember_kernel *k, const char *state, const ember_msg *parent);

/* Answers every subscription waiting on the XPUB socket. The main thread
 * calls it when the socket's ZMQ_FD fires, and once before `starting`, so
 * an early front end gets its welcome before any other IOPub message. */
void ember_iopub_service(ember_kernel *k);

#endif
