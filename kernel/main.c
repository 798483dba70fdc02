/* main.c — ember-kernel: reads the connection file, binds the sockets,
 * starts the heartbeat and execution threads, runs the control loop on the
 * main thread, and shuts everything down in order (exit status 0). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "handlers.h"
#include "heartbeat.h"
#include "interrupt.h"
#include "message.h"
#include "iopub.h"
#include "sockets.h"

static void usage(FILE *to)
{
    fprintf(to, "usage: ember-kernel -f CONNECTION_FILE\n"
                "       ember-kernel --version\n"
                "A Jupyter kernel for Ember; front ends start it from its kernelspec.\n");
}

static int start_thread(pthread_t *t, void *(*fn)(void *), ember_kernel *k, const char *what)
{
    int e = pthread_create(t, NULL, fn, k);
    if (e != 0) {
        ember_log("cannot start the %s thread: %s", what, strerror(e));
        return -1;
    }
    return 0;
}

/* Waits up to ms for t; 0 when it ended. */
static int join_within(pthread_t t, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_timedjoin_np(t, NULL, &ts) == 0 ? 0 : -1;
}

/* zmq_ctx_term waits for queued messages (bounded by ZMQ_LINGER); a signal
 * may interrupt the wait, which is then simply resumed. */
static void term_context(void *ctx)
{
    while (zmq_ctx_term(ctx) != 0) {
        if (errno != EINTR) {
            ember_log("zmq_ctx_term failed: %s", zmq_strerror(errno));
            return;
        }
    }
}

int main(int argc, char **argv)
{
    const char *conn_path = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--connection-file") == 0) &&
            i + 1 < argc) {
            conn_path = argv[++i];
        } else if (strncmp(argv[i], "--connection-file=", 18) == 0) {
            conn_path = argv[i] + 18;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("ember-kernel %s (Jupyter protocol %s)\n", ember_version(),
                   EMBER_PROTOCOL_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ember-kernel: unexpected argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!conn_path) {
        usage(stderr);
        return 2;
    }

    /* static: zero-initialised, and outlives the threads */
    static ember_kernel k;
    char err[1024];
    if (ember_connection_load(conn_path, &k.conn, err, sizeof err) != 0) {
        fprintf(stderr, "ember-kernel: %s\n", err);
        return 2;
    }
    if (ember_signer_init(&k.signer, k.conn.scheme, k.conn.key, k.conn.keylen, err,
                          sizeof err) != 0) {
        fprintf(stderr, "ember-kernel: %s\n", err);
        ember_connection_free(&k.conn);
        return 2;
    }
    int status = 1;
    if (ember_uuid4(k.session) != 0) {
        fprintf(stderr, "ember-kernel: the system gave no random bytes for a session id\n");
        goto out_signer;
    }
    k.zctx = zmq_ctx_new();
    k.iopub_ctx = k.zctx ? zmq_ctx_new() : NULL;
    if (!k.iopub_ctx) {
        fprintf(stderr, "ember-kernel: cannot create a ZeroMQ context: %s\n",
                zmq_strerror(errno));
        if (k.zctx)
            term_context(k.zctx);
        goto out_signer;
    }
    if (ember_sockets_open(&k, err, sizeof err) != 0) {
        fprintf(stderr, "ember-kernel: %s\n", err);
        goto out_sockets;
    }
    k.engine = ember_engine_new();
    if (!k.engine) {
        fprintf(stderr, "ember-kernel: the engine could not start (out of memory)\n");
        goto out_sockets;
    }
    k.version = ember_version();
    k.banner = ember_banner();
    k.execution_count = 1;
    if (ember_history_open(&k.history, NULL, err, sizeof err) != 0)
        ember_log("history is off for this session: %s", err);
    ember_interrupt_install(k.engine);
    /* Past a file-size limit (RLIMIT_FSIZE) a write fails with EFBIG, which
     * the writer reports (a checkpoint says so and training goes on); the
     * default SIGXFSZ would kill the kernel instead. */
    signal(SIGXFSZ, SIG_IGN);

    ember_interrupt_block(); /* the threads inherit the mask: SIGINT comes here */
    /* The IOPub thread first: it welcomes early subscribers, then sends
     * `starting` before anything else. */
    int threads_ok = ember_iopub_start(&k, err, sizeof err) == 0;
    if (!threads_ok)
        ember_log("%s", err);
    else
        ember_publish_status(&k, "starting", NULL);
    if (threads_ok) {
        threads_ok = start_thread(&k.hb_thread, ember_heartbeat_main, &k, "heartbeat") == 0;
        k.hb_started = threads_ok;
    }
    if (threads_ok) {
        threads_ok = start_thread(&k.exec_thread, ember_shell_main, &k, "execution") == 0;
        k.exec_started = threads_ok;
    }
    ember_interrupt_unblock();

    if (threads_ok && ember_control_loop(&k) == 0)
        status = 0;

    /* Shutdown: stop a running cell, then end every blocking ZeroMQ call in
     * the other threads (they see ETERM and close their own sockets). IOPub
     * is in a context of its own, so the last outputs (the cell's error,
     * idle, shutdown_reply) still leave; its thread stops last. */
    atomic_store(&k.shutting_down, 1);
    ember_interrupt(k.engine);
    if (zmq_ctx_shutdown(k.zctx) != 0)
        ember_log("zmq_ctx_shutdown failed: %s", zmq_strerror(errno));
    int joined = 1;
    if (k.hb_started && join_within(k.hb_thread, 2000) != 0) {
        ember_log("the heartbeat thread did not stop");
        joined = 0;
    }
    if (k.exec_started && join_within(k.exec_thread, 5000) != 0) {
        ember_log("the running cell did not stop within 5 s of shutdown; exiting anyway");
        joined = 0;
    }
    /* The last outputs leave; the queue is freed only when no thread can
     * publish any more. */
    if (ember_iopub_stop(&k, joined) != 0)
        joined = 0;
    ember_socket_close(&k.control);
    ember_socket_close(&k.wake_pull);
    if (!joined) {
        /* A thread still holds its sockets and maybe the engine: nothing
         * more can be released safely, and the replies are already out. */
        fflush(NULL);
        _exit(status);
    }
    if (!k.exec_started) {
        ember_socket_close(&k.shell);
        ember_socket_close(&k.stdin_sock);
        ember_socket_close(&k.wake_push);
    }
    if (!k.hb_started)
        ember_socket_close(&k.hb);
    ember_socket_close(&k.iopub); /* closed by ember_iopub_stop unless it never started */
    ember_history_close(&k.history);
    ember_engine_free(k.engine);
    term_context(k.zctx);
    term_context(k.iopub_ctx);
    ember_signer_free(&k.signer);
    ember_connection_free(&k.conn);
    return status;

out_sockets:
    ember_socket_close(&k.shell);
    ember_socket_close(&k.control);
    ember_socket_close(&k.stdin_sock);
    ember_socket_close(&k.iopub);
    ember_socket_close(&k.hb);
    ember_socket_close(&k.wake_pull);
    ember_socket_close(&k.wake_push);
    term_context(k.zctx);
    term_context(k.iopub_ctx);
out_signer:
    ember_signer_free(&k.signer);
    ember_connection_free(&k.conn);
    return 1;
}
