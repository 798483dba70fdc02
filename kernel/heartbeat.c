/* heartbeat.c — the heartbeat thread. It touches nothing but its own socket,
 * so it answers at once whatever the other threads are doing; it ends when
 * the context is shut down (ETERM). */
#include "heartbeat.h"
#include "sockets.h"

#include <errno.h>
#include <zmq.h>

void *ember_heartbeat_main(void *arg)
{
    ember_kernel *k = arg;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int r = zmq_msg_recv(&m, k->hb, 0);
        if (r >= 0) {
            /* REP demands a reply to each request; multipart pings are echoed whole. */
            int more = zmq_msg_more(&m);
            r = zmq_msg_send(&m, k->hb, more ? ZMQ_SNDMORE : 0);
        }
        if (r < 0) {
            int e = errno;
            zmq_msg_close(&m);
            if (e == EINTR || e == EAGAIN)
                continue;
            if (e != ETERM)
                ember_log("heartbeat stopped: %s", zmq_strerror(e));
            break;
        }
    }
    ember_socket_close(&k->hb);
    return NULL;
}
