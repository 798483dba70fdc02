/* fetch.h — downloads (libcurl) into the data caches or into memory (images
 * by url), and file digests (OpenSSL). A download to a file goes to
 * "<dest>.part" and is renamed into place only when complete (and, with an
 * md5, verified), so an interrupted or failed download never leaves a file
 * that looks whole. */
#ifndef EMBER_DATA_FETCH_H
#define EMBER_DATA_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called as bytes arrive (total 0 when the server did not say). Return
 * non-zero to cancel the transfer (the fetch then fails with "cancelled"). */
typedef int (*ember_fetch_progress)(void *ctx, uint64_t done, uint64_t total);

typedef struct ember_fetch_opts {
    const char *md5;        /* expected hex digest, or NULL for none */
    ember_fetch_progress progress;
    void *progress_ctx;
    long connect_timeout_s; /* 0: 30 s */
    long low_speed_time_s;  /* abort below 1 KiB/s for this long; 0: 60 s */
} ember_fetch_opts;

/* Downloads url (http, https, file) to dest, creating dest's folder. HTTP
 * errors (404...), network errors, a short body, a bad md5 or a cancel give
 * an error naming the url and the cause; dest is then left untouched. */
int ember_fetch_url(const char *url, const char *dest, const ember_fetch_opts *opts,
                    ember_err *err);

/* A body fetched into memory. */
typedef struct ember_fetched {
    uint8_t *data;          /* malloc'd (NULL when empty); ember_fetched_free releases it */
    size_t len;
    char content_type[128]; /* as the server sent it ("" for none, e.g. file: urls) */
} ember_fetched;

/* Fetches url (http, https, file) into memory, at most max_bytes (0: 1 GiB).
 * A body over the cap (announced or arriving) fails with a message giving
 * the limit; other failures are those of ember_fetch_url (HTTP status and
 * url named, network errors, timeouts, cancel, bad md5). out is written only
 * on success. */
int ember_fetch_to_memory(const char *url, size_t max_bytes, const ember_fetch_opts *opts,
                          ember_fetched *out, ember_err *err);
void ember_fetched_free(ember_fetched *f);

/* md5 of a file as 32 lowercase hex digits + NUL. */
int ember_md5_file(const char *path, char hex[33], ember_err *err);

/* mkdir -p. */
int ember_mkdirs(const char *dir, ember_err *err);

#ifdef __cplusplus
}
#endif
#endif
