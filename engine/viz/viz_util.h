/* viz_util.h — small helpers shared by the viz sources (not a public API). */
#ifndef EMBER_VIZ_UTIL_H
#define EMBER_VIZ_UTIL_H

#include <stddef.h>

/* Writes a printf-style message into err (if err and errlen are non-zero). */
void viz_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in err with "prefix: ". */
void viz_prefix_err(char *err, size_t errlen, const char *prefix);

#endif
