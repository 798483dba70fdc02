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
    /* When not NULL, gets the HTTP status of the last response (200, 404,
     * 503...), failed or not, or 0 when no HTTP response came (a network
     * error, a timeout, a file:// url). An output: written even though
     * opts is const. */
    long *http_status;
} ember_fetch_opts;

/* What ember_fetch_url and ember_fetch_to_memory return, besides 0 and -1,
 * when the file is not there: the server answered HTTP 404 (Not Found) or
 * 410 (Gone), or a file:// url names no file. err says so, as for -1. A
 * caller with alternatives (hub.c: model.safetensors, else
 * pytorch_model.bin) goes on to the next on this and only on this: any
 * other failure (a network error, 401/403, 5xx, a full disk) is -1. */
#define EMBER_FETCH_NOT_FOUND 1

/* Downloads url (http, https, file) to dest, creating dest's folder.
 * Returns 0; EMBER_FETCH_NOT_FOUND (above); -1 for other HTTP errors,
 * network errors, a short body, a bad md5 or a cancel. A failure's message
 * names the url and the cause, and leaves dest untouched. */
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
 * url named, network errors, timeouts, cancel, bad md5), with the same
 * return values (EMBER_FETCH_NOT_FOUND for 404 / 410 / no such file). out
 * is written only on success. */
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
