/* log.c — the kernel's diagnostics on stderr, which the front end's terminal
 * or log shows. Debug lines only with EMBER_KERNEL_DEBUG=1 in the environment. */
#include "kernel.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void vlog(const char *tag, const char *suffix, const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    /* One fprintf per line so lines from two threads do not interleave. */
    fprintf(stderr, "[%s] %s%s\n", tag, line, suffix);
}

void ember_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("ember-kernel", "", fmt, ap);
    va_end(ap);
}

void ember_debug(const char *fmt, ...)
{
    static atomic_int enabled = -1;
    if (enabled < 0) {
        const char *e = getenv("EMBER_KERNEL_DEBUG");
        enabled = e && *e && *e != '0';
    }
    if (!enabled)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("ember-kernel debug", "", fmt, ap);
    va_end(ap);
}

/* Keys already logged by ember_log_once. A front-end extension that polls
 * with a request Ember does not know (jupyter-resource-usage's
 * usage_request, every few seconds) must not flood the server's log. */
#define ONCE_KEYS 64
static char once_keys[ONCE_KEYS][64];
static int once_n;
static pthread_mutex_t once_lock = PTHREAD_MUTEX_INITIALIZER;

void ember_log_once(const char *key, const char *fmt, ...)
{
    int first = 1;
    pthread_mutex_lock(&once_lock);
    for (int i = 0; i < once_n; i++)
        if (strncmp(once_keys[i], key, sizeof once_keys[i] - 1) == 0) {
            first = 0;
            break;
        }
    if (first && once_n < ONCE_KEYS)
        snprintf(once_keys[once_n++], sizeof once_keys[0], "%s", key);
    pthread_mutex_unlock(&once_lock);
    if (!first)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("ember-kernel", " (said once; later ones are ignored silently)", fmt, ap);
    va_end(ap);
}
