/* viz_util.c — error-message helpers for the viz library. */
#include "viz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void viz_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void viz_prefix_err(char *err, size_t errlen, const char *prefix)
{
    if (!err || errlen == 0)
        return;
    size_t n = strlen(err) + 1;
    char *copy = malloc(n);
    if (!copy)
        return; /* keep the original message rather than lose it */
    memcpy(copy, err, n);
    snprintf(err, errlen, "%s: %s", prefix, copy);
    free(copy);
}
