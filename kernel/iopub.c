/* iopub.c — the IOPub XPUB socket, shared by the main and execution threads
 * under iopub_lock (see kernel.h). Every message is published by the thread
 * that produced it, so one request's outputs keep their order, and each
 * holder of the lock answers the subscriptions it finds waiting. */
#include "iopub.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "message.h"
#include "sockets.h"

/* Under the lock: one pending (un)subscription; -1 when none was waiting. */
static int welcome_one(ember_kernel *k)
{
    zmq_msg_t f;
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, k->iopub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&f);
        return -1;
    }
    const unsigned char *d = zmq_msg_data(&f);
    size_t n = zmq_msg_size(&f);
    /* 1 + topic is a subscription; 0 + topic an unsubscription. */
    if (n >= 1 && d[0] == 1) {
        json_t *topic = ember_json_text((const char *)d + 1, n - 1);
        json_t *content = topic ? json_pack("{s:o}", "subscription", topic) : NULL;
        if (content) {
            /* The topic as first frame, so a subscriber to only that topic
             * receives it; an empty topic needs no frame. */
            ember_buf id = {(unsigned char *)d + 1, n - 1};
            ember_send_msg(k, k->iopub, n > 1 ? &id : NULL, n > 1 ? 1 : 0, "iopub_welcome",
                           NULL, NULL, content);
            json_decref(content);
        } else {
            ember_log("cannot build iopub_welcome: out of memory");
        }
    }
    zmq_msg_close(&f);
    return 0;
}

/* Under the lock: handles everything waiting, then leaves ZMQ_FD re-armed
 * (reading ZMQ_EVENTS until it shows no input is what re-arms it). */
static void service_locked(ember_kernel *k)
{
    for (;;) {
        int events = 0;
        size_t len = sizeof events;
        if (zmq_getsockopt(k->iopub, ZMQ_EVENTS, &events, &len) != 0) {
            if (errno != ETERM)
                ember_log("cannot read iopub's ZMQ_EVENTS: %s", zmq_strerror(errno));
            return;
        }
        if (!(events & ZMQ_POLLIN) || welcome_one(k) != 0)
            return;
    }
}

void ember_iopub_service(ember_kernel *k)
{
    pthread_mutex_lock(&k->iopub_lock);
    service_locked(k);
    pthread_mutex_unlock(&k->iopub_lock);
}

int ember_publish(ember_kernel *k, const char *msg_type, const ember_msg *parent,
                  json_t *content)
{
    if (!content) {
        ember_log("cannot build %s: out of memory", msg_type);
        return -1;
    }
    /* Front ends subscribe to everything; the topic only helps someone
     * reading a capture. */
    char topic[96];
    snprintf(topic, sizeof topic, "kernel.%s.%s", k->session, msg_type);
    ember_buf id = {(unsigned char *)topic, strlen(topic)};
    pthread_mutex_lock(&k->iopub_lock);
    int rc = ember_send_msg(k, k->iopub, &id, 1, msg_type, parent, NULL, content);
    service_locked(k);
    pthread_mutex_unlock(&k->iopub_lock);
    json_decref(content);
    return rc;
}

int ember_publish_status(ember_kernel *k, const char *state, const ember_msg *parent)
{
    return ember_publish(k, "status", parent, json_pack("{s:s}", "execution_state", state));
}
