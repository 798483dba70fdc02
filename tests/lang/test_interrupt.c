/* test_interrupt.c — ember_interrupt from another thread and from a signal
 * handler stops sleep() promptly with KeyboardInterrupt, variables stay as
 * they were, and the pending flag can be read and cleared. */
#include "lang_test.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static ember_engine *e;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *interrupter(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ember_interrupt(e);
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    ember_interrupt(e); /* async-signal-safe */
}

/* An input callback that waits for the interrupt, as the kernel's does. */
static int waiting_input(void *ctx, const char *prompt, int password, char **line, size_t *len, char *err,
                         size_t errlen)
{
    (void)ctx; (void)prompt; (void)password; (void)line; (void)len;
    while (!ember_interrupt_pending(e)) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "interrupted");
    return -1;
}

int main(void)
{
    e = ember_engine_new();
    ember_io io;
    fake_io f;
    fake_io_init(&f, &io);

    CHECK(ember_interrupt_pending(e) == 0);
    ember_interrupt(e);
    CHECK(ember_interrupt_pending(e) == 1);
    ember_interrupt_clear(e);
    CHECK(ember_interrupt_pending(e) == 0);

    /* from a thread, during sleep(60) */
    CHECK_STR(eval_repr(e, &io, "x = 1; l = [1, 2]"), "");
    pthread_t th;
    pthread_create(&th, NULL, interrupter, NULL);
    double t0 = now();
    cell c;
    run_cell(e, &io, "x = 2\nsleep(60)\nx = 3", &c);
    double took = now() - t0;
    pthread_join(th, NULL);
    CHECK(!c.r.ok);
    CHECK_STR(c.r.ename, "KeyboardInterrupt");
    CHECK_CONTAINS(json_string_value(json_array_get(c.r.traceback, 1)), "----> 2\x1b[0m sleep(60)");
    CHECK(took < 0.5);
    fprintf(stderr, "sleep(60) interrupted after %.3f s\n", took);
    ember_exec_result_clear(&c.r);
    CHECK_STR(eval_repr(e, &io, "[x, l]"), "[2, [1, 2]]");
    CHECK(ember_interrupt_pending(e) == 0); /* consumed by the KeyboardInterrupt */

    /* from a signal handler */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    t0 = now();
    alarm(1);
    run_cell(e, &io, "sleep(30)", &c);
    took = now() - t0;
    CHECK(!c.r.ok);
    CHECK_STR(c.r.ename, "KeyboardInterrupt");
    CHECK(took < 1.5);
    ember_exec_result_clear(&c.r);

    /* an interrupt pending before a statement stops the cell there */
    ember_interrupt(e);
    run_cell(e, &io, "x = 100", &c);
    CHECK_STR(c.r.ename, "KeyboardInterrupt");
    ember_exec_result_clear(&c.r);
    CHECK_STR(eval_repr(e, &io, "x"), "2");

    /* the kernel clears the flag before each execute: then nothing is stopped */
    ember_interrupt(e);
    ember_interrupt_clear(e);
    CHECK_STR(eval_repr(e, &io, "sleep(0.01); x"), "2");

    /* input() waiting for the front end is interrupted too */
    io.input = waiting_input;
    pthread_create(&th, NULL, interrupter, NULL);
    t0 = now();
    run_cell(e, &io, "answer = input('?')", &c);
    pthread_join(th, NULL);
    CHECK_STR(c.r.ename, "KeyboardInterrupt");
    CHECK(now() - t0 < 0.5);
    ember_exec_result_clear(&c.r);
    CHECK_STR(eval_repr(e, &io, "answer"), "NameError: name 'answer' is not defined");

    /* sleep() is not cut short without an interrupt */
    t0 = now();
    CHECK_STR(eval_repr(e, &io, "sleep(0.05)"), "");
    CHECK(now() - t0 >= 0.05);

    fake_io_free(&f);
    ember_engine_free(e);
    return test_finish("test_interrupt");
}
