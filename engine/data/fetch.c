/* fetch.c — downloads (libcurl) into the data caches or into memory, and
 * file digests (OpenSSL); one transfer setup serves both. A download to a
 * file is written to "<dest>.part" and renamed over dest only once it is
 * complete and verified, so a failure never leaves a file that a later run
 * would take for a whole one. */
#define _GNU_SOURCE
#include "data/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- mkdir -p ------------------------------------------------------------ */

static int mkdir_one(const char *path, ember_err *err) {
    if (mkdir(path, 0777) == 0) return 0;
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return 0;
        return ember_err_set(err, "cannot create folder %s: a file of that name is in the way "
                                  "(move it or choose another folder)", path);
    }
    return ember_err_set(err, "cannot create folder %s: %s", path, strerror(e));
}

int ember_mkdirs(const char *dir, ember_err *err) {
    if (!dir || !dir[0]) return 0;
    char *p = strdup(dir);
    if (!p) return ember_err_set(err, "out of memory creating folder %s", dir);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    int rc = 0;
    /* Create each ancestor in turn; the leading '/' is not a component. */
    for (size_t i = 1; i < n && rc == 0; i++) {
        if (p[i] != '/' || p[i - 1] == '/') continue;
        p[i] = '\0';
        rc = mkdir_one(p, err);
        p[i] = '/';
    }
    if (rc == 0) rc = mkdir_one(p, err);
    free(p);
    return rc;
}

/* ---- md5 ----------------------------------------------------------------- */

static const char *ssl_reason(void) {
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "unknown OpenSSL error";
}

int ember_md5_file(const char *path, char hex[33], ember_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ember_err_set(err, "cannot open %s to check its md5: %s", path, strerror(errno));
    int rc = -1;
    unsigned char *buf = malloc(1 << 16);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!buf || !ctx) {
        ember_err_set(err, "out of memory computing the md5 of %s", path);
        goto done;
    }
    if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
        ember_err_set(err, "cannot compute md5 of %s: OpenSSL has no md5 (%s)", path, ssl_reason());
        goto done;
    }
    for (;;) {
        size_t got = fread(buf, 1, 1 << 16, f);
        if (got > 0 && EVP_DigestUpdate(ctx, buf, got) != 1) {
            ember_err_set(err, "md5 of %s failed: %s", path, ssl_reason());
            goto done;
        }
        if (got < (1 << 16)) {
            if (ferror(f)) {
                ember_err_set(err, "cannot read %s to check its md5: %s", path, strerror(errno));
                goto done;
            }
            break;
        }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 16) {
        ember_err_set(err, "md5 of %s failed: %s", path, ssl_reason());
        goto done;
    }
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 16; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[32] = '\0';
    rc = 0;
done:
    EVP_MD_CTX_free(ctx);
    free(buf);
    fclose(f);
    return rc;
}

static int valid_md5(const char *s) {
    if (strlen(s) != 32) return 0;
    for (int i = 0; i < 32; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i])) return 0;
    return 1;
}

/* ---- download ------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* One transfer: the body goes to a file (f) or, when f is NULL, into a
 * growing buffer of at most max_bytes. */
typedef struct {
    FILE *f;
    uint8_t *mem;
    size_t len, alloc, max_bytes;
    CURL *curl;
    long long announced; /* Content-Length over the cap, or -1 */
    int over_cap;
    int write_errno;
    const ember_fetch_opts *opts;
    int cancelled;
    char curl_msg[CURL_ERROR_SIZE];
} xfer;

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp) {
    xfer *x = userp;
    size_t n = size * nmemb;
    if (x->f) {
        if (n && fwrite(data, 1, n, x->f) != n) {
            x->write_errno = errno ? errno : EIO;
            return 0; /* makes curl stop with CURLE_WRITE_ERROR */
        }
        return n;
    }
    if (x->len == 0 && x->curl) {
        /* A body announced as larger than the cap fails before it arrives. */
        curl_off_t cl = -1;
        if (curl_easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
            cl > 0 && (uint64_t)cl > x->max_bytes) {
            x->announced = (long long)cl;
            x->over_cap = 1;
            return 0;
        }
    }
    if (n > x->max_bytes - x->len) {
        x->over_cap = 1;
        return 0;
    }
    if (x->len + n > x->alloc) {
        /* Doubling keeps a large body's copies few; never past the cap. */
        size_t want = x->alloc ? x->alloc : 1 << 16;
        while (want < x->len + n) want = want > SIZE_MAX / 2 ? SIZE_MAX : want * 2;
        if (want > x->max_bytes) want = x->max_bytes;
        uint8_t *m = realloc(x->mem, want);
        if (!m) {
            x->write_errno = ENOMEM;
            return 0;
        }
        x->mem = m;
        x->alloc = want;
    }
    memcpy(x->mem + x->len, data, n);
    x->len += n;
    return n;
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    (void)ultotal;
    (void)ulnow;
    xfer *x = userp;
    if (x->opts && x->opts->progress &&
        x->opts->progress(x->opts->progress_ctx, dlnow > 0 ? (uint64_t)dlnow : 0,
                          dltotal > 0 ? (uint64_t)dltotal : 0)) {
        x->cancelled = 1;
        return 1;
    }
    return 0;
}

/* "64 MiB" / "128 KiB" for whole units, else a byte count. */
static void format_size(char *buf, size_t len, uint64_t n) {
    if (n >= (1u << 20) && n % (1u << 20) == 0)
        snprintf(buf, len, "%llu MiB", (unsigned long long)(n >> 20));
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(buf, len, "%llu KiB", (unsigned long long)(n >> 10));
    else
        snprintf(buf, len, "%llu bytes", (unsigned long long)n);
}

/* Sets one option; the name goes into the error if libcurl refuses it. */
#define SETOPT(opt, val)                                                                  \
    do {                                                                                  \
        CURLcode c_ = curl_easy_setopt(curl, opt, val);                                   \
        if (c_ != CURLE_OK) {                                                             \
            ember_err_set(err, "downloading %s: libcurl refused option %s: %s", url, #opt, \
                          curl_easy_strerror(c_));                                        \
            goto fail;                                                                    \
        }                                                                                 \
    } while (0)

/* A transfer of url with the settings every download shares: allowed
 * protocols, redirects, timeouts, progress, the body into x. NULL with err
 * set on failure. */
static CURL *xfer_open(const char *url, xfer *x, ember_err *err) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        ember_err_set(err, "downloading %s: libcurl failed to initialise: %s", url,
                      curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        ember_err_set(err, "downloading %s: libcurl could not create a transfer", url);
        return NULL;
    }
    const ember_fetch_opts *opts = x->opts;
    long connect_s = opts && opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 30;
    long low_speed_s = opts && opts->low_speed_time_s > 0 ? opts->low_speed_time_s : 60;
    SETOPT(CURLOPT_ERRORBUFFER, x->curl_msg);
    SETOPT(CURLOPT_URL, url);
    /* A server must not be able to redirect us onto the local disk. */
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https,file");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE));
    SETOPT(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
    SETOPT(CURLOPT_MAXREDIRS, 10L);
    SETOPT(CURLOPT_FAILONERROR, 1L);
    /* The kernel is multi-threaded: no SIGALRM-based timeouts. */
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT, connect_s);
    SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1024L);
    SETOPT(CURLOPT_LOW_SPEED_TIME, low_speed_s);
    SETOPT(CURLOPT_USERAGENT, "ember-kernel");
    SETOPT(CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(CURLOPT_WRITEDATA, x);
    SETOPT(CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(CURLOPT_XFERINFODATA, x);
    SETOPT(CURLOPT_NOPROGRESS, 0L);
    x->curl = curl;
    return curl;
fail:
    curl_easy_cleanup(curl);
    return NULL;
}

/* Whether a file:// url whose transfer could not open its file names no
 * file at all (ENOENT, ENOTDIR), as opposed to one that is there but
 * unreadable: only the first is "not found" (EMBER_FETCH_NOT_FOUND). */
static int file_url_missing(const char *url) {
    if (strncasecmp(url, "file://", 7) != 0) return 0;
    CURLU *u = curl_url();
    char *path = NULL;
    int missing = 0;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK && path) {
        struct stat st;
        missing = stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
    }
    curl_free(path);
    curl_url_cleanup(u);
    return missing;
}

/* Runs the transfer; a failure becomes a message naming url and the cause
 * (part: the file being written, for write errors). 0, -1, or
 * EMBER_FETCH_NOT_FOUND (fetch.h). The status of the last HTTP response
 * goes to opts->http_status whatever the outcome. */
static int xfer_run(CURL *curl, const char *url, xfer *x, const char *part, ember_err *err) {
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    if (x->opts && x->opts->http_status) *x->opts->http_status = status;
    if (rc == CURLE_OK) return 0;
    const char *detail = x->curl_msg[0] ? x->curl_msg : curl_easy_strerror(rc);
    char cap[64];
    format_size(cap, sizeof cap, x->max_bytes);
    if (rc == CURLE_ABORTED_BY_CALLBACK && x->cancelled) {
        ember_err_set(err, "downloading %s: cancelled", url);
    } else if (rc == CURLE_HTTP_RETURNED_ERROR && status >= 400) {
        int gone = status == 404 || status == 410;
        ember_err_set(err, "downloading %s: the server answered HTTP %ld%s", url, status,
                      status == 404   ? " (not found: check the url)"
                      : status == 410 ? " (gone: the server no longer has it)"
                                      : "");
        return gone ? EMBER_FETCH_NOT_FOUND : -1;
    } else if (rc == CURLE_WRITE_ERROR && x->over_cap) {
        if (x->announced > 0)
            ember_err_set(err, "downloading %s: the file is %lld bytes, more than the %s limit",
                          url, x->announced, cap);
        else
            ember_err_set(err, "downloading %s: the file is larger than the %s limit", url, cap);
    } else if (rc == CURLE_WRITE_ERROR && x->write_errno == ENOMEM && !x->f) {
        ember_err_set(err, "downloading %s: out of memory after %zu bytes", url, x->len);
    } else if (rc == CURLE_WRITE_ERROR && x->write_errno) {
        ember_err_set(err, "downloading %s: cannot write %s: %s", url, part ? part : "the data",
                      strerror(x->write_errno));
    } else if (rc == CURLE_PARTIAL_FILE) {
        ember_err_set(err, "downloading %s: the connection closed before the whole file "
                           "arrived (%s); try again", url, detail);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        ember_err_set(err, "downloading %s: timed out (%s); check the network and try again",
                      url, detail);
    } else if (rc == CURLE_FILE_COULDNT_READ_FILE) {
        int missing = file_url_missing(url);
        ember_err_set(err, "downloading %s: cannot open the file (%s); check that it %s", url,
                      detail, missing ? "exists" : "exists and is readable");
        return missing ? EMBER_FETCH_NOT_FOUND : -1;
    } else {
        ember_err_set(err, "downloading %s: %s; check the url and the network", url, detail);
    }
    return -1;
}

int ember_fetch_url(const char *url, const char *dest, const ember_fetch_opts *opts,
                    ember_err *err) {
    if (opts && opts->http_status) *opts->http_status = 0; /* until a response comes */
    if (!url || !url[0]) return ember_err_set(err, "download: no url given");
    if (!dest || !dest[0]) return ember_err_set(err, "downloading %s: no destination file given", url);
    const char *want_md5 = opts ? opts->md5 : NULL;
    if (want_md5 && !valid_md5(want_md5))
        return ember_err_set(err, "downloading %s: expected md5 \"%s\" is not 32 hex digits", url,
                             want_md5);

    /* The folder that will hold dest. */
    const char *slash = strrchr(dest, '/');
    if (slash && slash != dest) {
        char *dir = strndup(dest, (size_t)(slash - dest));
        if (!dir) return ember_err_set(err, "out of memory downloading %s", url);
        int rc = ember_mkdirs(dir, err);
        free(dir);
        if (rc) return ember_err_prefix(err, "downloading %s: ", url);
    }

    char *part = NULL;
    if (asprintf(&part, "%s.part", dest) < 0) return ember_err_set(err, "out of memory downloading %s", url);

    CURL *curl = NULL;
    xfer x = {.opts = opts};
    x.f = fopen(part, "wb");
    if (!x.f) {
        ember_err_set(err, "downloading %s: cannot create %s: %s", url, part, strerror(errno));
        free(part);
        return -1;
    }
    int rc = -1; /* or EMBER_FETCH_NOT_FOUND, from the transfer */
    curl = xfer_open(url, &x, err);
    if (!curl || (rc = xfer_run(curl, url, &x, part, err)) != 0) goto fail;
    rc = -1; /* what can fail from here on (writing, md5) is not "not found" */
    curl_easy_cleanup(curl);
    curl = NULL;
    {
        int close_rc = fclose(x.f);
        x.f = NULL;
        if (close_rc != 0) {
            ember_err_set(err, "downloading %s: cannot write %s: %s", url, part, strerror(errno));
            goto fail;
        }
    }
    if (want_md5) {
        char got[33];
        if (ember_md5_file(part, got, err)) {
            ember_err_prefix(err, "downloading %s: ", url);
            goto fail;
        }
        if (strcasecmp(got, want_md5) != 0) {
            ember_err_set(err, "downloading %s: the file arrived with md5 %s, expected %s (the "
                               "download was damaged or the file on the server changed); try "
                               "again", url, got, want_md5);
            goto fail;
        }
    }
    if (rename(part, dest) != 0) {
        ember_err_set(err, "downloading %s: cannot move %s to %s: %s", url, part, dest,
                      strerror(errno));
        goto fail;
    }
    free(part);
    return 0;

fail:
    if (curl) curl_easy_cleanup(curl);
    if (x.f) fclose(x.f);
    unlink(part);
    free(part);
    return rc;
}

/* md5 of a buffer as 32 lowercase hex digits + NUL. */
static int md5_mem(const uint8_t *data, size_t len, char hex[33], ember_err *err) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data ? data : (const uint8_t *)"", len, md, &mdlen, EVP_md5(), NULL) != 1 ||
        mdlen != 16)
        return ember_err_set(err, "cannot compute md5: %s", ssl_reason());
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 16; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[32] = '\0';
    return 0;
}

int ember_fetch_to_memory(const char *url, size_t max_bytes, const ember_fetch_opts *opts,
                          ember_fetched *out, ember_err *err) {
    if (opts && opts->http_status) *opts->http_status = 0; /* until a response comes */
    if (!url || !url[0]) return ember_err_set(err, "download: no url given");
    if (!out) return ember_err_set(err, "downloading %s: nowhere to put the data", url);
    const char *want_md5 = opts ? opts->md5 : NULL;
    if (want_md5 && !valid_md5(want_md5))
        return ember_err_set(err, "downloading %s: expected md5 \"%s\" is not 32 hex digits", url,
                             want_md5);
    xfer x = {.opts = opts, .max_bytes = max_bytes ? max_bytes : (size_t)1 << 30, .announced = -1};
    int rc = -1; /* or EMBER_FETCH_NOT_FOUND, from the transfer */
    CURL *curl = xfer_open(url, &x, err);
    if (!curl || (rc = xfer_run(curl, url, &x, NULL, err)) != 0) goto fail;
    rc = -1; /* what can fail from here on (writing, md5) is not "not found" */
    ember_fetched got = {.data = x.mem, .len = x.len};
    const char *ct = NULL;
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(got.content_type, sizeof got.content_type, "%s", ct);
    if (want_md5) {
        char hex[33];
        if (md5_mem(x.mem, x.len, hex, err)) {
            ember_err_prefix(err, "downloading %s: ", url);
            goto fail;
        }
        if (strcasecmp(hex, want_md5) != 0) {
            ember_err_set(err, "downloading %s: the data arrived with md5 %s, expected %s (the "
                               "download was damaged or the file on the server changed); try "
                               "again", url, hex, want_md5);
            goto fail;
        }
    }
    curl_easy_cleanup(curl);
    *out = got;
    return 0;
fail:
    if (curl) curl_easy_cleanup(curl);
    free(x.mem);
    return rc;
}

void ember_fetched_free(ember_fetched *f) {
    if (!f) return;
    free(f->data);
    memset(f, 0, sizeof *f);
}
