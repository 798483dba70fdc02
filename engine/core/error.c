/* error.c — formatting helpers for ember_err. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ember_err_set(ember_err *err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int ember_err_prefix(ember_err *err, const char *fmt, ...) {
    if (!err) return -1;
    char prefix[256];
    char old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Concatenate by hand: the result is cut at the buffer's end on purpose. */
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 1) n = sizeof err->msg - 1;
    memcpy(err->msg, prefix, n);
    size_t m = strlen(old);
    if (m > sizeof err->msg - 1 - n) m = sizeof err->msg - 1 - n;
    memcpy(err->msg + n, old, m);
    err->msg[n + m] = '\0';
    return -1;
}
