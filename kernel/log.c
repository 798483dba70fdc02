/* log.c — the kernel's diagnostics on stderr, which the front end's terminal
 * or log shows. Debug lines only with EMBER_KERNEL_DEBUG=1 in the environment. */
#include "kernel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void ember_log(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One fprintf per line so lines from two threads do not interleave. */
    fprintf(stderr, "[ember-kernel] %s\n", line);
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
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[ember-kernel debug] %s\n", line);
}
