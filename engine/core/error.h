/* error.h — the error carrier every fallible engine function fills in.
 *
 * Convention: a fallible function returns int 0 on success, -1 on failure, and
 * on failure has written a human-readable message (what went wrong and, where
 * possible, what to do) into the ember_err the caller passed. err may be NULL
 * when the caller does not want the message. */
#ifndef EMBER_CORE_ERROR_H
#define EMBER_CORE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ember_err {
    char msg[512];
} ember_err;

/* printf-style; always returns -1 so that `return ember_err_set(err, ...);`
 * reads naturally. Safe with err == NULL. Truncates long messages. */
int ember_err_set(ember_err *err, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefixes the message already in err with context ("loading x.safetensors: ").
 * Returns -1. */
int ember_err_prefix(ember_err *err, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static inline void ember_err_clear(ember_err *err) {
    if (err) err->msg[0] = '\0';
}

#ifdef __cplusplus
}
#endif
#endif
