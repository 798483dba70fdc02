/* test_fetch.c — downloads against a tiny HTTP/1.1 server run by this test
 * on 127.0.0.1 (no other network): success with md5, redirects, HTTP
 * errors, a short body, a stalled body, cancel from the progress callback,
 * file:// urls; dest is never touched by a failure and no .part is left.
 * The same into memory: the size cap (announced and arriving), 404, cancel.
 * What callers are told besides the message: EMBER_FETCH_NOT_FOUND for 404,
 * 410 and a missing file:// file only, and the HTTP status. The hub's
 * fallback from model.safetensors to pytorch_model.bin over HTTP, decided
 * by that return value: on 404 and 410, never on 401 or 503.
 * Then cifar10 loading with download=true into a scratch cache, and the
 * second load served from the cache with the server gone. md5 against
 * known vectors; mkdir -p.
 * Args: <shared data dir> <fixtures dir> <scratch dir>. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/cifar10.h"
#include "data_test.h"
#include "data/fetch.h"
#include "data/hub.h"


static int has(const char *msg, const char *what) { return strstr(msg, what) != NULL; }
static int exists(const char *p) { return access(p, F_OK) == 0; }
static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}
static int write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* md5 computed here in one shot, independently of ember_md5_file. */
static void md5_hex(const void *data, size_t len, char hex[33]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_md5(), NULL) != 1 || n != 16) {
        hex[0] = '\0';
        return;
    }
    for (int i = 0; i < 16; i++) sprintf(hex + 2 * i, "%02x", md[i]);
}

/* ---- the server ---------------------------------------------------------- */

typedef struct {
    int fd;
    int port;
    atomic_int stop;
    atomic_int hits;
    pthread_t thread;
    const uint8_t *body;    /* /ok */
    size_t body_len;
    const uint8_t *archive; /* /cifar.tar.gz */
    size_t archive_len;
} server;

static int send_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR) continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_head(int fd, int status, const char *reason, long long length, const char *extra) {
    char h[512];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d %s\r\nContent-Length: %lld\r\nContent-Type: "
                     "application/octet-stream\r\nConnection: close\r\n%s\r\n",
                     status, reason, length, extra ? extra : "");
    return send_all(fd, h, (size_t)n);
}

static int peer_closed(int fd) {
    char c;
    ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* A model hub at /hub/<org>/<name>/resolve/<rev>/<file>: every repository
 * has pytorch_model.bin, except org/none; model.safetensors is missing
 * (404) except that org/gone's is 410 Gone, org/flaky's a 503 and
 * everything of org/gated a 401. */
static void serve_hub(int fd, const char *path) {
    static const char bin[] = "remote bin";
    if (strncmp(path, "org/gated/", 10) == 0) {
        send_head(fd, 401, "Unauthorized", 0, NULL);
    } else if (strstr(path, "/pytorch_model.bin") && strncmp(path, "org/none/", 9) != 0) {
        if (send_head(fd, 200, "OK", (long long)strlen(bin), NULL) == 0) send_all(fd, bin, strlen(bin));
    } else if (strncmp(path, "org/gone/", 9) == 0) {
        send_head(fd, 410, "Gone", 0, NULL);
    } else if (strncmp(path, "org/flaky/", 10) == 0) {
        send_head(fd, 503, "Service Unavailable", 0, NULL);
    } else {
        send_head(fd, 404, "Not Found", 0, NULL);
    }
}

static void serve(server *s, int fd) {
    char req[8192];
    size_t got = 0;
    while (got < sizeof req - 1) {
        ssize_t r = recv(fd, req + got, sizeof req - 1 - got, 0);
        if (r <= 0) return;
        got += (size_t)r;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n")) break;
    }
    char path[256] = "";
    if (sscanf(req, "GET %255s HTTP/1.1", path) != 1) {
        send_head(fd, 400, "Bad Request", 0, NULL);
        return;
    }
    atomic_fetch_add(&s->hits, 1);
    if (strcmp(path, "/ok") == 0) {
        if (send_head(fd, 200, "OK", (long long)s->body_len, NULL) == 0)
            send_all(fd, s->body, s->body_len);
    } else if (strcmp(path, "/cifar.tar.gz") == 0) {
        if (send_head(fd, 200, "OK", (long long)s->archive_len, NULL) == 0)
            send_all(fd, s->archive, s->archive_len);
    } else if (strcmp(path, "/nolen") == 0) {
        /* No Content-Length: the size is known only as the bytes arrive. */
        static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: "
                                "close\r\n\r\n";
        if (send_all(fd, h, sizeof h - 1) == 0) send_all(fd, s->body, s->body_len);
    } else if (strcmp(path, "/redirect") == 0) {
        send_head(fd, 302, "Found", 0, "Location: /ok\r\n");
    } else if (strcmp(path, "/to-file") == 0) {
        send_head(fd, 302, "Found", 0, "Location: file:///etc/hostname\r\n");
    } else if (strcmp(path, "/gone") == 0) {
        send_head(fd, 410, "Gone", 0, NULL);
    } else if (strcmp(path, "/forbidden") == 0) {
        send_head(fd, 403, "Forbidden", 0, NULL);
    } else if (strncmp(path, "/hub/", 5) == 0) {
        serve_hub(fd, path + 5);
    } else if (strcmp(path, "/boom") == 0) {
        if (send_head(fd, 500, "Internal Server Error", 5, NULL) == 0) send_all(fd, "boom\n", 5);
    } else if (strcmp(path, "/short") == 0) {
        /* Promises 100000 bytes, sends 1000, hangs up. */
        if (send_head(fd, 200, "OK", 100000, NULL) == 0) send_all(fd, s->body, 1000);
    } else if (strcmp(path, "/slow") == 0) {
        /* A trickle that goes on until the client hangs up (at most 20 s). */
        if (send_head(fd, 200, "OK", 10000000, NULL) == 0)
            for (int i = 0; i < 1000 && !atomic_load(&s->stop); i++) {
                if (send_all(fd, s->body, 512)) break;
                sleep_ms(20);
            }
    } else if (strcmp(path, "/stall") == 0) {
        /* A few bytes, then silence until the client gives up (at most 10 s). */
        if (send_head(fd, 200, "OK", 10000000, NULL) == 0 && send_all(fd, s->body, 10) == 0)
            for (int i = 0; i < 200 && !atomic_load(&s->stop) && !peer_closed(fd); i++) sleep_ms(50);
    } else {
        const char *msg = "not found\n";
        if (send_head(fd, 404, "Not Found", (long long)strlen(msg), NULL) == 0)
            send_all(fd, msg, strlen(msg));
    }
}

static void *server_main(void *arg) {
    server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        int r = poll(&p, 1, 50);
        if (r <= 0) continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) continue;
        serve(s, c);
        shutdown(c, SHUT_WR);
        close(c);
    }
    return NULL;
}

static int server_start(server *s) {
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0) return -1;
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(s->fd, (struct sockaddr *)&a, sizeof a) || listen(s->fd, 8) ||
        getsockname(s->fd, (struct sockaddr *)&a, &al)) {
        close(s->fd);
        return -1;
    }
    s->port = ntohs(a.sin_port);
    atomic_store(&s->stop, 0);
    if (pthread_create(&s->thread, NULL, server_main, s)) {
        close(s->fd);
        return -1;
    }
    return 0;
}

static void server_stop(server *s) {
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

/* A port where nothing listens. */
static int dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    int port = 1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* ---- progress callbacks -------------------------------------------------- */

typedef struct {
    int calls;
    uint64_t last_done, last_total;
    uint64_t cancel_after; /* 0: never */
} prog;

static int on_progress(void *ctx, uint64_t done, uint64_t total) {
    prog *p = ctx;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    return p->cancel_after && done >= p->cancel_after;
}

/* ---- tests --------------------------------------------------------------- */

static void test_md5_mkdirs(void) {
    static const struct {
        const char *text, *md5;
    } vec[] = {{"", "d41d8cd98f00b204e9800998ecf8427e"},
               {"abc", "900150983cd24fb0d6963f7d28e17f72"},
               {"The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6"}};
    ember_err err = {{0}};
    for (int i = 0; i < 3; i++) {
        CHECK(write_file(sp("vec.txt"), vec[i].text, strlen(vec[i].text)) == 0, "write");
        char hex[33] = "";
        CHECK(ember_md5_file(sp("vec.txt"), hex, &err) == 0, "%s", err.msg);
        CHECK(strcmp(hex, vec[i].md5) == 0, "md5(\"%s\") = %s", vec[i].text, hex);
    }
    /* Bigger than one read chunk, against a one-shot digest. */
    size_t n = 300001;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i * 131 + (i >> 9));
    CHECK(write_file(sp("big.bin"), big, n) == 0, "write");
    char want[33], hex[33] = "";
    md5_hex(big, n, want);
    CHECK(ember_md5_file(sp("big.bin"), hex, &err) == 0 && strcmp(hex, want) == 0, "big: %s vs %s", hex, want);
    free(big);
    CHECK(ember_md5_file(sp("nope.bin"), hex, &err) == -1 && has(err.msg, "nope.bin"), "msg: %s", err.msg);

    CHECK(ember_mkdirs(sp("a/b/c/"), &err) == 0, "%s", err.msg);
    struct stat st;
    CHECK(stat(sp("a/b/c"), &st) == 0 && S_ISDIR(st.st_mode), "a/b/c not made");
    CHECK(ember_mkdirs(sp("a/b/c"), &err) == 0, "existing: %s", err.msg);
    CHECK(write_file(sp("a/file"), "x", 1) == 0, "write");
    CHECK(ember_mkdirs(sp("a/file/d"), &err) == -1, "file in the way accepted");
    CHECK(has(err.msg, "a/file"), "msg: %s", err.msg);
}

/* A failed download: return value want_rc (-1, or EMBER_FETCH_NOT_FOUND),
 * a message with the url and want1 (and want2), dest untouched. */
static void check_failed_fetch_rc(const char *url, const ember_fetch_opts *o, int want_rc,
                                  const char *want1, const char *want2, const char *what) {
    const char *dest = sp("dl/kept.bin");
    char part[1300];
    snprintf(part, sizeof part, "%s.part", dest);
    CHECK(write_file(dest, "old", 3) == 0, "write");
    ember_err err = {{0}};
    int rc = ember_fetch_url(url, dest, o, &err);
    CHECK(rc == want_rc, "%s: returned %d, expected %d", what, rc, want_rc);
    CHECK(has(err.msg, url) && has(err.msg, want1) && (!want2 || has(err.msg, want2)),
          "%s: message lacks url/'%s'/'%s': %s", what, want1, want2 ? want2 : "", err.msg);
    size_t len = 0;
    uint8_t *b = slurp(dest, &len);
    CHECK(b && len == 3 && memcmp(b, "old", 3) == 0, "%s: dest changed", what);
    free(b);
    CHECK(!exists(part), "%s: %s left behind", what, part);
    if (getenv("EMBER_TEST_VERBOSE")) printf("%s -> %s\n", what, err.msg);
}

static void check_failed_fetch(const char *url, const ember_fetch_opts *o, const char *want1,
                               const char *want2, const char *what) {
    check_failed_fetch_rc(url, o, -1, want1, want2, what);
}

static void test_fetch(server *s) {
    char url[256];
    ember_err err = {{0}};
    const char *dest = sp("dl/new/ok.bin");
    char want[33];
    md5_hex(s->body, s->body_len, want);

    /* Success into a folder that does not exist yet, md5 checked. */
    prog p = {0};
    ember_fetch_opts o = {.md5 = want, .progress = on_progress, .progress_ctx = &p};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", s->port);
    CHECK(ember_fetch_url(url, dest, &o, &err) == 0, "%s", err.msg);
    size_t len = 0;
    uint8_t *b = slurp(dest, &len);
    CHECK(b && len == s->body_len && memcmp(b, s->body, len) == 0, "body differs (%zu bytes)", len);
    free(b);
    CHECK(p.calls > 0 && p.last_done == s->body_len && p.last_total == s->body_len,
          "progress: %d calls, last %llu/%llu", p.calls, (unsigned long long)p.last_done,
          (unsigned long long)p.last_total);
    CHECK(!exists(sp("dl/new/ok.bin.part")), ".part left");

    /* Redirect, upper-case md5, no progress callback; overwrites dest. */
    char upper[33];
    for (int i = 0; i < 33; i++) upper[i] = (char)(want[i] >= 'a' && want[i] <= 'f' ? want[i] - 32 : want[i]);
    ember_fetch_opts o2 = {.md5 = upper};
    CHECK(write_file(dest, "stale", 5) == 0, "write");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redirect", s->port);
    CHECK(ember_fetch_url(url, dest, &o2, &err) == 0, "redirect: %s", err.msg);
    b = slurp(dest, &len);
    CHECK(b && len == s->body_len && memcmp(b, s->body, len) == 0, "redirect body differs");
    free(b);
    CHECK(ember_fetch_url(url, dest, NULL, &err) == 0, "NULL opts: %s", err.msg);

    /* Failures: dest untouched, no .part. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing.tar.gz", s->port);
    check_failed_fetch_rc(url, NULL, EMBER_FETCH_NOT_FOUND, "404", NULL, "404");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/gone", s->port);
    check_failed_fetch_rc(url, NULL, EMBER_FETCH_NOT_FOUND, "HTTP 410", "gone", "410");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/forbidden", s->port);
    check_failed_fetch(url, NULL, "HTTP 403", NULL, "403");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/boom", s->port);
    check_failed_fetch(url, NULL, "500", NULL, "500");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/short", s->port);
    check_failed_fetch(url, NULL, "closed", NULL, "short body");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", s->port);
    ember_fetch_opts bad = {.md5 = "0123456789abcdef0123456789abcdef"};
    check_failed_fetch(url, &bad, "md5", want, "md5 mismatch");
    ember_fetch_opts junk = {.md5 = "xyz"};
    check_failed_fetch(url, &junk, "md5", "xyz", "malformed md5");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/to-file", s->port);
    check_failed_fetch(url, NULL, "to-file", NULL, "redirect to file://");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x.bin", dead_port());
    check_failed_fetch(url, NULL, "127.0.0.1", NULL, "connection refused");
    check_failed_fetch("gopher://127.0.0.1/x", NULL, "gopher", NULL, "unsupported scheme");

    /* Cancel from the progress callback. */
    prog pc = {.cancel_after = 2048};
    ember_fetch_opts oc = {.progress = on_progress, .progress_ctx = &pc};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", s->port);
    check_failed_fetch(url, &oc, "cancelled", NULL, "cancel");
    CHECK(pc.last_done >= 2048 && pc.last_done < 10000000, "cancel came at %llu",
          (unsigned long long)pc.last_done);

    /* A stalled body trips the low-speed limit. */
    ember_fetch_opts os = {.low_speed_time_s = 1};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stall", s->port);
    time_t t0 = time(NULL);
    check_failed_fetch(url, &os, "timed out", NULL, "stall");
    CHECK(time(NULL) - t0 < 8, "stall took %lld s", (long long)(time(NULL) - t0));

    /* file:// */
    CHECK(write_file(sp("src.bin"), s->body, s->body_len) == 0, "write");
    char abs[1300];
    if (scratch[0] == '/') snprintf(abs, sizeof abs, "file://%s", sp("src.bin"));
    else {
        char cwd[1024];
        snprintf(abs, sizeof abs, "file://%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", sp("src.bin"));
    }
    CHECK(ember_fetch_url(abs, sp("dl/file.bin"), &o2, &err) == 0, "file://: %s", err.msg);
    b = slurp(sp("dl/file.bin"), &len);
    CHECK(b && len == s->body_len && memcmp(b, s->body, len) == 0, "file:// body differs");
    free(b);
    snprintf(abs + strlen(abs) - 7, 16, "gone.bin");
    check_failed_fetch_rc(abs, NULL, EMBER_FETCH_NOT_FOUND, "gone.bin", NULL, "file:// missing");
}

/* ember_fetch_to_memory: the same transfers, into a buffer with a cap. */
static void check_failed_memory_rc(const char *url, size_t cap, const ember_fetch_opts *o, int want_rc,
                                   const char *want1, const char *want2, const char *what) {
    ember_fetched f = {.data = (uint8_t *)"sentinel", .len = 8};
    ember_err err = {{0}};
    int rc = ember_fetch_to_memory(url, cap, o, &f, &err);
    CHECK(rc == want_rc, "%s: returned %d, expected %d", what, rc, want_rc);
    CHECK(has(err.msg, url) && has(err.msg, want1) && (!want2 || has(err.msg, want2)),
          "%s: message lacks url/'%s'/'%s': %s", what, want1, want2 ? want2 : "", err.msg);
    CHECK(f.len == 8 && memcmp(f.data, "sentinel", 8) == 0, "%s: out was written", what);
    if (getenv("EMBER_TEST_VERBOSE")) printf("%s -> %s\n", what, err.msg);
}

static void check_failed_memory(const char *url, size_t cap, const ember_fetch_opts *o,
                                const char *want1, const char *want2, const char *what) {
    check_failed_memory_rc(url, cap, o, -1, want1, want2, what);
}

static void test_fetch_memory(server *s) {
    char url[256];
    ember_err err = {{0}};
    char want[33];
    md5_hex(s->body, s->body_len, want);

    /* Success, md5 checked, progress seen; a cap of exactly the size is enough. */
    prog p = {0};
    ember_fetch_opts o = {.md5 = want, .progress = on_progress, .progress_ctx = &p};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", s->port);
    ember_fetched f = {0};
    CHECK(ember_fetch_to_memory(url, s->body_len, &o, &f, &err) == 0, "%s", err.msg);
    CHECK(f.data && f.len == s->body_len && memcmp(f.data, s->body, f.len) == 0,
          "memory body differs (%zu bytes)", f.len);
    CHECK(strcmp(f.content_type, "application/octet-stream") == 0, "content type '%s'",
          f.content_type);
    CHECK(p.calls > 0 && p.last_done == s->body_len, "progress: %d calls, last %llu", p.calls,
          (unsigned long long)p.last_done);
    ember_fetched_free(&f);
    CHECK(f.data == NULL && f.len == 0, "free did not clear");
    ember_fetched_free(&f); /* twice is harmless */

    /* No Content-Length; through a redirect; default cap. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/nolen", s->port);
    CHECK(ember_fetch_to_memory(url, 0, NULL, &f, &err) == 0, "nolen: %s", err.msg);
    CHECK(f.len == s->body_len && memcmp(f.data, s->body, f.len) == 0, "nolen body differs");
    CHECK(strcmp(f.content_type, "image/png") == 0, "nolen content type '%s'", f.content_type);
    ember_fetched_free(&f);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/redirect", s->port);
    CHECK(ember_fetch_to_memory(url, 1 << 20, NULL, &f, &err) == 0, "redirect: %s", err.msg);
    CHECK(f.len == s->body_len && memcmp(f.data, s->body, f.len) == 0, "redirect body differs");
    ember_fetched_free(&f);

    /* The cap: announced by Content-Length, and found while the bytes arrive. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", s->port);
    check_failed_memory(url, s->body_len - 1, NULL, "limit", "199999 bytes", "cap (announced)");
    check_failed_memory(url, 2u << 16, NULL, "200000 bytes, more than the 128 KiB", NULL,
                        "cap names the size");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/nolen", s->port);
    check_failed_memory(url, 1 << 16, NULL, "larger than the 64 KiB limit", NULL,
                        "cap (arriving)");
    check_failed_memory(url, 0, &(ember_fetch_opts){.md5 = "0123456789abcdef0123456789abcdef"},
                        "md5", want, "memory md5 mismatch");

    /* HTTP errors name the status; other failures as for files. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/missing.png", s->port);
    check_failed_memory_rc(url, 0, NULL, EMBER_FETCH_NOT_FOUND, "HTTP 404", "not found", "404");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/gone", s->port);
    check_failed_memory_rc(url, 0, NULL, EMBER_FETCH_NOT_FOUND, "HTTP 410", NULL, "410");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/boom", s->port);
    check_failed_memory(url, 0, NULL, "HTTP 500", NULL, "500");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/short", s->port);
    check_failed_memory(url, 0, NULL, "closed", NULL, "short body");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/to-file", s->port);
    check_failed_memory(url, 0, NULL, "to-file", NULL, "redirect to file://");
    prog pc = {.cancel_after = 2048};
    ember_fetch_opts oc = {.progress = on_progress, .progress_ctx = &pc};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", s->port);
    check_failed_memory(url, 0, &oc, "cancelled", NULL, "cancel");

    /* file:// reads the disk; a missing file says so. */
    char abs[1300], cwd[1024];
    if (scratch[0] == '/') snprintf(abs, sizeof abs, "file://%s", sp("src.bin"));
    else snprintf(abs, sizeof abs, "file://%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", sp("src.bin"));
    CHECK(write_file(sp("src.bin"), s->body, s->body_len) == 0, "write");
    CHECK(ember_fetch_to_memory(abs, 0, NULL, &f, &err) == 0, "file://: %s", err.msg);
    CHECK(f.len == s->body_len && memcmp(f.data, s->body, f.len) == 0, "file:// body differs");
    ember_fetched_free(&f);
    snprintf(abs + strlen(abs) - 7, 16, "gone.bin");
    check_failed_memory_rc(abs, 0, NULL, EMBER_FETCH_NOT_FOUND, "cannot open the file", "gone.bin",
                           "file:// missing");
    check_failed_memory("", 0, NULL, "no url", NULL, "empty url");
}

/* The HTTP status callers get (opts.http_status), whatever the outcome, and
 * which failures are "not found": a file:// file that is there but
 * unreadable is not (the hub must not fall back past it). */
static void test_status(server *s) {
    char url[256];
    ember_err err = {{0}};
    static const struct {
        const char *path;
        int rc;
        long status;
    } cases[] = {{"/ok", 0, 200},          {"/redirect", 0, 200}, {"/missing", EMBER_FETCH_NOT_FOUND, 404},
                 {"/gone", EMBER_FETCH_NOT_FOUND, 410}, {"/forbidden", -1, 403}, {"/boom", -1, 500}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, cases[i].path);
        long status = -7;
        ember_fetch_opts o = {.http_status = &status};
        int rc = ember_fetch_url(url, sp("dl/status.bin"), &o, &err);
        CHECK(rc == cases[i].rc && status == cases[i].status, "%s: rc %d status %ld", cases[i].path, rc, status);
        status = -7;
        ember_fetched f = {0};
        rc = ember_fetch_to_memory(url, 0, &o, &f, &err);
        CHECK(rc == cases[i].rc && status == cases[i].status, "%s (memory): rc %d status %ld", cases[i].path, rc,
              status);
        ember_fetched_free(&f);
    }
    /* no HTTP answer at all: 0 */
    long status = -7;
    ember_fetch_opts o = {.http_status = &status};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", dead_port());
    CHECK(ember_fetch_url(url, sp("dl/status.bin"), &o, &err) == -1 && status == 0, "refused: status %ld", status);
    status = -7;
    CHECK(ember_fetch_url("", sp("dl/status.bin"), &o, &err) == -1 && status == 0, "no url: status %ld", status);

    /* file://: a missing file, or a path through a file, is "not found";
     * one that is there but unreadable is not (root reads anything: skipped) */
    char abs[1300], cwd[1024];
    const char *base = scratch[0] == '/' ? "" : getcwd(cwd, sizeof cwd) ? cwd : ".";
    snprintf(abs, sizeof abs, "file://%s%s%s", base, base[0] ? "/" : "", sp("src.bin"));
    CHECK(write_file(sp("src.bin"), "x", 1) == 0, "write");
    status = -7;
    CHECK(ember_fetch_url(abs, sp("dl/status.bin"), &o, &err) == 0 && status == 0, "file://: %s", err.msg);
    strcat(abs, "/inside");
    check_failed_fetch_rc(abs, NULL, EMBER_FETCH_NOT_FOUND, "cannot open the file", NULL, "file:// through a file");
    abs[strlen(abs) - 7] = '\0';
    /* a folder is there: whatever the failure, not "not found" */
    char dir[1300];
    snprintf(dir, sizeof dir, "file://%s%s%s", base, base[0] ? "/" : "", sp("dl"));
    ember_fetched f = {0};
    int rc = ember_fetch_to_memory(dir, 0, NULL, &f, &err);
    CHECK(rc != EMBER_FETCH_NOT_FOUND, "file:// folder: rc %d: %s", rc, err.msg);
    ember_fetched_free(&f);
    if (geteuid() != 0 && chmod(sp("src.bin"), 0) == 0) {
        check_failed_fetch_rc(abs, NULL, -1, "cannot open the file", "readable", "file:// unreadable");
        chmod(sp("src.bin"), 0644);
    }
}

static char notices[1024];
static void on_notice(void *ctx, const char *line) {
    (void)ctx;
    size_t n = strlen(notices);
    snprintf(notices + n, sizeof notices - n, "%s\n", line);
}

/* ember_hub_file_first downloading from an HTTP hub (serve_hub): it goes
 * on from model.safetensors to pytorch_model.bin on 404 and 410, decided by
 * ember_fetch_url's return value; a 401 or a 503 stops at once, without
 * asking for the .bin. */
static void test_hub_http(server *s) {
    ember_err err = {{0}};
    char endpoint[128], out[1300], want[1300];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/hub/", s->port);
    /* only the scratch caches: nothing of the user's */
    setenv("HF_HUB_CACHE", sp("hub-hf-empty"), 1);
    setenv("EMBER_DATA", sp("hub-ember"), 1);
    unsetenv("HF_ENDPOINT");
    static const char *const w[] = {"model.safetensors", "pytorch_model.bin"};
    ember_hub_opts o = {.download = 1, .endpoint = endpoint, .notice = on_notice};
    static const char *const fallback[] = {"org/binonly", "org/gone"};
    for (size_t i = 0; i < 2; i++) {
        size_t which = 9;
        notices[0] = '\0';
        int hits0 = atomic_load(&s->hits);
        int rc = ember_hub_file_first(fallback[i], w, 2, &o, out, sizeof out, &which, &err);
        CHECK(rc == 0 && which == 1, "%s: rc %d which %zu: %s", fallback[i], rc, which, err.msg);
        snprintf(want, sizeof want, "%s/hf/%s/main/pytorch_model.bin", sp("hub-ember"), fallback[i]);
        size_t len = 0;
        uint8_t *b = slurp(want, &len);
        CHECK(rc == 0 && !strcmp(out, want) && b && len == 10 && !memcmp(b, "remote bin", 10), "%s: got %s",
              fallback[i], out);
        free(b);
        CHECK(atomic_load(&s->hits) == hits0 + 2, "%s: %d requests", fallback[i], atomic_load(&s->hits) - hits0);
        CHECK(has(notices, "model.safetensors is not on http://127.0.0.1") &&
                  has(notices, "downloading pytorch_model.bin instead"), "%s: notice %s", fallback[i], notices);
    }
    static const struct {
        const char *repo, *status;
    } stop[] = {{"org/gated", "HTTP 401"}, {"org/flaky", "HTTP 503"}};
    for (size_t i = 0; i < 2; i++) {
        notices[0] = '\0';
        int hits0 = atomic_load(&s->hits);
        int rc = ember_hub_file_first(stop[i].repo, w, 2, &o, out, sizeof out, NULL, &err);
        CHECK(rc == -1 && has(err.msg, stop[i].status) && has(err.msg, "model.safetensors") &&
                  !has(err.msg, "pytorch_model.bin"), "%s: rc %d: %s", stop[i].repo, rc, err.msg);
        CHECK(atomic_load(&s->hits) == hits0 + 1 && !notices[0], "%s: %d requests, notice %s", stop[i].repo,
              atomic_load(&s->hits) - hits0, notices);
    }
    /* neither file: missing (an optional file's caller uses defaults) */
    int rc = ember_hub_file_first("org/none", w, 2, &o, out, sizeof out, NULL, &err);
    CHECK(rc == EMBER_HUB_MISSING && has(err.msg, "model.safetensors is not on") &&
              has(err.msg, "org/none/resolve/main/pytorch_model.bin"), "org/none: rc %d: %s", rc, err.msg);
    rc = ember_hub_file("org/none", "preprocessor_config.json", &o, out, sizeof out, &err);
    CHECK(rc == EMBER_HUB_MISSING && has(err.msg, "HTTP 404"), "one file: rc %d: %s", rc, err.msg);
    unsetenv("HF_HUB_CACHE");
    unsetenv("EMBER_DATA");
}

static uint8_t *make_archive(size_t *len) {
    enum { N = 5, T = 3 };
    uint8_t *rec = malloc((N + T) * EMBER_CIFAR10_RECORD);
    for (int i = 0; i < (N + T) * EMBER_CIFAR10_RECORD; i++) rec[i] = (uint8_t)(i * 7 + 3);
    for (int i = 0; i < N + T; i++) rec[i * EMBER_CIFAR10_RECORD] = (uint8_t)(i % 10);
    const char *path = sp("served.tar.gz");
    struct archive *a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    archive_write_open_filename(a, path);
    const char *names[2] = {"cifar-10-batches-bin/data_batch_1.bin", "cifar-10-batches-bin/test_batch.bin"};
    size_t sizes[2] = {N * EMBER_CIFAR10_RECORD, T * EMBER_CIFAR10_RECORD};
    const uint8_t *datas[2] = {rec, rec + N * EMBER_CIFAR10_RECORD};
    for (int i = 0; i < 2; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, names[i]);
        archive_entry_set_size(e, (la_int64_t)sizes[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, datas[i], sizes[i]);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    free(rec);
    return slurp(path, len);
}

static void test_cifar_download(server *s) {
    char url[256], md5[33];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/cifar.tar.gz", s->port);
    md5_hex(s->archive, s->archive_len, md5);
    const char *cache = sp("cache/deep/cifar10");
    char archive[1300];
    snprintf(archive, sizeof archive, "%s/%s", cache, EMBER_CIFAR10_ARCHIVE);
    ember_err err = {{0}};
    ember_dataset ds = {0};

    /* A wrong md5: the download fails and nothing stays in the cache. */
    ember_cifar10_source bad = {.root = cache, .download = 1, .url = url,
                                .md5 = "ffffffffffffffffffffffffffffffff"};
    CHECK(ember_cifar10_load(&bad, EMBER_CIFAR10_TRAIN, &ds, &err) == -1, "bad md5 accepted");
    CHECK(has(err.msg, "md5") && has(err.msg, url), "msg: %s", err.msg);
    CHECK(!exists(archive), "bad download kept");

    prog p = {0};
    ember_cifar10_source src = {.root = cache, .download = 1, .url = url, .md5 = md5,
                                .progress = on_progress, .progress_ctx = &p};
    int hits0 = atomic_load(&s->hits);
    CHECK(ember_cifar10_load(&src, EMBER_CIFAR10_TRAIN, &ds, &err) == 0, "download: %s", err.msg);
    CHECK(ds.n == 5 && ds.labels[4] == 4 && strcmp(ds.name, "CIFAR-10 train") == 0, "n %lld",
          (long long)ds.n);
    CHECK(strcmp(ds.source, archive) == 0, "source %s", ds.source);
    ember_dataset_free(&ds);
    CHECK(atomic_load(&s->hits) == hits0 + 1, "server hits %d", atomic_load(&s->hits) - hits0);
    CHECK(p.calls > 0 && p.last_done == s->archive_len, "progress %d calls", p.calls);
    CHECK(exists(archive), "archive not cached");

    /* The server goes away: the cache answers. */
    server_stop(s);
    CHECK(ember_cifar10_load(&src, EMBER_CIFAR10_TEST, &ds, &err) == 0, "from cache: %s", err.msg);
    CHECK(ds.n == 3 && ds.labels[0] == 5, "n %lld", (long long)ds.n);
    ember_dataset_free(&ds);

    /* The cached file damaged: corrupt, delete it. */
    FILE *f = fopen(archive, "ab");
    if (f) {
        fputc('!', f);
        fclose(f);
    }
    CHECK(ember_cifar10_load(&src, EMBER_CIFAR10_TRAIN, &ds, &err) == -1, "damaged cache accepted");
    CHECK(has(err.msg, "corrupt") && has(err.msg, "delete") && has(err.msg, archive), "msg: %s", err.msg);
    /* Deleted, with the server gone: the download error names the url. */
    unlink(archive);
    CHECK(ember_cifar10_load(&src, EMBER_CIFAR10_TRAIN, &ds, &err) == -1, "no server, no cache");
    CHECK(has(err.msg, url), "msg: %s", err.msg);
    /* What the user reads is "cifar10: " + this: no name of its own here. */
    CHECK(strncmp(err.msg, "downloading ", 12) == 0, "msg: %s", err.msg);
    CHECK(!exists(archive), "failed download left a file");
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s <shared data dir> <fixtures dir> <scratch dir>\n", argv[0]);
        return 2;
    }
    snprintf(scratch, sizeof scratch, "%s", argv[3]);
    /* A proxy from the environment must not see requests to our server. */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    rm_rf(scratch);
    ember_err err = {{0}};
    if (ember_mkdirs(scratch, &err) || ember_mkdirs(sp("dl"), &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    server s;
    memset(&s, 0, sizeof s);
    s.body_len = 200000;
    uint8_t *body = malloc(s.body_len);
    for (size_t i = 0; i < s.body_len; i++) body[i] = (uint8_t)(i * 2654435761u >> 13);
    s.body = body;
    s.archive = make_archive(&s.archive_len);
    if (!s.archive || server_start(&s)) {
        fprintf(stderr, "cannot set up the test server on 127.0.0.1\n");
        return 2;
    }
    test_md5_mkdirs();
    test_fetch(&s);
    test_fetch_memory(&s);
    test_status(&s);
    test_hub_http(&s);
    test_cifar_download(&s); /* stops the server */
    free(body);
    free((void *)s.archive);
    if (t_failures) {
        fprintf(stderr, "test_fetch: %d check(s) failed\n", t_failures);
        return 1;
    }
    printf("test_fetch: all checks passed\n");
    return 0;
}
