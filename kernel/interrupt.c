/* interrupt.c — signal handling. The handler only calls ember_interrupt(),
 * which is async-signal-safe: SIGINT never kills the kernel, idle or busy. */
#include "interrupt.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "kernel.h"

static ember_engine *_Atomic g_engine;

static void on_sigint(int sig)
{
    (void)sig;
    int saved = errno;
    ember_engine *e = atomic_load(&g_engine);
    if (e)
        ember_interrupt(e);
    errno = saved;
}

int ember_interrupt_install(ember_engine *engine)
{
    atomic_store(&g_engine, engine);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) != 0) {
        ember_log("cannot install the SIGINT handler: %s", strerror(errno));
        return -1;
    }
    /* A front end that vanishes must not kill us through a write. */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void set_mask(int how)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    pthread_sigmask(how, &s, NULL);
}

void ember_interrupt_block(void) { set_mask(SIG_BLOCK); }
void ember_interrupt_unblock(void) { set_mask(SIG_UNBLOCK); }
