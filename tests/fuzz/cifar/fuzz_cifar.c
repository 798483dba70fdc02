/* fuzz_cifar.c — libFuzzer target for the CIFAR-10 reader (engine/data):
 * any bytes, read as an archive (.tar.gz / .tar, both splits) and as raw
 * records, must give a dataset or an error with a message — never a crash,
 * a leak or a read out of bounds — and what is read must be consistent
 * (labels below 10, one 32x32x3 image per 3073-byte record).
 *
 * Input: first byte 0xC1 — structured mode: the rest describes tar entries
 *          (see build_tar), which the harness writes as a well-formed tar
 *          with valid checksums, so that mutations reach the reader's own
 *          logic (batch names and order, duplicates, sizes, class names)
 *          instead of dying in libarchive's header checks;
 *        anything else — the bytes are the archive, and raw records. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data/cifar10.h"

/* ---- a memory-backed file (the archive reader takes a path) ------------ */

static int fd = -1;
static char path[64];
static int verbose; /* FUZZ_VERBOSE=1: print each split's outcome (to check seeds) */

static void fatal(const char *what)
{
    perror(what);
    abort(); /* a broken harness, not a finding */
}

/* A memfd, or an unlinked temporary file in /dev/shm or $TMPDIR, reached
 * through /proc/self/fd so it leaves nothing behind. */
static void file_open(void)
{
    fd = memfd_create("cifar", MFD_CLOEXEC);
    if (fd < 0) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        char tmpl[512];
        snprintf(tmpl, sizeof tmpl, "%s/fuzz-cifar-XXXXXX", dir ? dir : "/tmp");
        fd = mkstemp(tmpl);
        if (fd < 0) fatal("fuzz_cifar: temporary file");
        unlink(tmpl);
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
}

static void file_set(const void *data, size_t len)
{
    if (ftruncate(fd, 0) != 0) fatal("fuzz_cifar: ftruncate");
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = pwrite(fd, p + done, len - done, (off_t)done);
        if (w <= 0) fatal("fuzz_cifar: pwrite");
        done += (size_t)w;
    }
}

/* ---- structured mode: a tar built from a description ------------------- */

static const char *const names[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_10.bin", "test_batch.bin",
                                    "batches.meta.txt", "data_batch_0.bin", "data_batch_01.bin", "readme.html",
                                    "data_batch_1000001.bin", "data_batch_.bin"};

typedef struct {
    uint8_t *p;
    size_t n, cap;
} obuf;

static void put(obuf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) fatal("fuzz_cifar: realloc");
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_zeros(obuf *b, size_t n)
{
    static const uint8_t zero[512];
    while (n) {
        size_t k = n < sizeof zero ? n : sizeof zero;
        put(b, zero, k);
        n -= k;
    }
}

/* One ustar header with a valid checksum. */
static void put_header(obuf *b, const char *name, size_t nlen, size_t size, char type)
{
    uint8_t h[512];
    memset(h, 0, sizeof h);
    memcpy(h, name, nlen < 99 ? nlen : 99);
    memcpy(h + 100, "0000644", 7);
    memcpy(h + 108, "0000000", 7);
    memcpy(h + 116, "0000000", 7);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    memcpy(h + 136, "15000000000", 11);
    h[156] = (uint8_t)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    put(b, h, sizeof h);
}

/* The description, entry after entry:
 *   flags (1 byte): bit 0 puts the name in cifar-10-batches-bin/, bit 1
 *     takes the name from `names` (next byte: its index) instead of
 *     name_len + name bytes, bit 2 makes a folder entry, bit 3 makes the
 *     content records (next byte: their count; labels from the following
 *     bytes, pixels a pattern) instead of len (2 bytes LE) + bytes,
 *     bit 4 declares one record more than the content holds (a truncated
 *     entry, which ends the archive);
 * and, when the description runs out, the end-of-archive blocks. */
static void build_tar(const uint8_t *d, size_t n, obuf *out)
{
    size_t i = 0;
    while (i < n) {
        uint8_t flags = d[i++];
        char name[128];
        size_t nl = 0;
        if (flags & 1) {
            memcpy(name, "cifar-10-batches-bin/", 21);
            nl = 21;
        }
        if (flags & 2) {
            const char *s = names[(i < n ? d[i++] : 0) % (sizeof names / sizeof names[0])];
            size_t l = strlen(s);
            memcpy(name + nl, s, l);
            nl += l;
        } else {
            size_t l = i < n ? d[i++] % 64 : 0;
            if (l > n - i) l = n - i;
            memcpy(name + nl, d + i, l);
            nl += l;
            i += l;
        }
        if (flags & 4) {
            put_header(out, name, nl, 0, '5');
            continue;
        }
        obuf content = {0};
        if (flags & 8) {
            size_t count = i < n ? d[i++] % 8 : 0;
            for (size_t r = 0; r < count; r++) {
                uint8_t rec[EMBER_CIFAR10_RECORD];
                rec[0] = i < n ? d[i++] : 0;
                for (int k = 1; k < EMBER_CIFAR10_RECORD; k++) rec[k] = (uint8_t)(k * 7 + r);
                put(&content, rec, sizeof rec);
            }
        } else {
            size_t l = 0;
            if (i + 2 <= n) l = d[i] | (size_t)d[i + 1] << 8;
            i += i + 2 <= n ? 2 : n - i;
            if (l > n - i) l = n - i;
            put(&content, d + i, l);
            i += l;
        }
        size_t declared = content.n;
        if ((flags & 16) && declared) {
            /* the header promises more than the archive holds: libarchive
               must report truncation, the reader must pass it on */
            put_header(out, name, nl, declared + EMBER_CIFAR10_RECORD, '0');
            put(out, content.p, content.n);
            free(content.p);
            return;
        }
        put_header(out, name, nl, declared, '0');
        put(out, content.p, content.n);
        put_zeros(out, (512 - content.n % 512) % 512);
        free(content.p);
    }
    put_zeros(out, 1024);
}

/* ---- checks ------------------------------------------------------------ */

static void check_dataset(const ember_dataset *ds)
{
    /* n == 0 is allowed: batch files may be empty (then so is the split) */
    if (ds->n < 0 || ds->height != 32 || ds->width != 32 || ds->channels != 3 || ds->n_classes != 10 ||
        (ds->n && (!ds->pixels || !ds->labels)))
        abort();
    uint64_t sum = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        if (ds->labels[i] >= 10) abort();
        sum += ember_dataset_image(ds, i)[3071]; /* every image's last byte is readable */
    }
    for (int k = 0; k < 10; k++)
        if (!memchr(ds->classes[k], 0, EMBER_DATASET_CLASS_NAME_MAX) || !ds->classes[k][0]) abort();
    if (!memchr(ds->name, 0, sizeof ds->name) || !memchr(ds->source, 0, sizeof ds->source)) abort();
    (void)sum;
}

static void check_records(const uint8_t *data, size_t size)
{
    ember_dataset ds;
    memset(&ds, 0, sizeof ds);
    ember_err err = {{0}};
    if (ember_cifar10_append_records(&ds, data, size, "fuzz input", &err) != 0) {
        if (!err.msg[0] || ds.pixels || ds.labels || ds.n) abort();
        ember_dataset_free(&ds);
        return;
    }
    size_t n = size / EMBER_CIFAR10_RECORD;
    if (size % EMBER_CIFAR10_RECORD || (size_t)ds.n != n) abort();
    /* records become HWC: red, green, blue of each pixel side by side */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *rec = data + i * EMBER_CIFAR10_RECORD, *img = ds.pixels + i * 3072;
        if (ds.labels[i] != rec[0]) abort();
        for (int p = 0; p < 1024; p += 97)
            if (img[3 * p] != rec[1 + p] || img[3 * p + 1] != rec[1 + 1024 + p] || img[3 * p + 2] != rec[1 + 2048 + p])
                abort();
    }
    /* appending again doubles the dataset, keeping what was there */
    if (n && ember_cifar10_append_records(&ds, data, size, NULL, &err) == 0) {
        if ((size_t)ds.n != 2 * n || ds.labels[n] != data[0] || ds.pixels[3 * 1024 * n] != data[1]) abort();
        check_dataset(&ds);
    }
    ember_dataset_free(&ds);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    file_open();
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    obuf tar = {0};
    if (size && data[0] == 0xC1) {
        build_tar(data + 1, size - 1, &tar);
        file_set(tar.p, tar.n);
    } else {
        file_set(data, size);
    }
    for (int split = EMBER_CIFAR10_TRAIN; split <= EMBER_CIFAR10_TEST; split++) {
        ember_dataset ds;
        memset(&ds, 0xA5, sizeof ds); /* written only on success */
        ember_err err = {{0}};
        if (ember_cifar10_read_archive(path, (ember_cifar10_split)split, &ds, &err) != 0) {
            if (!err.msg[0]) abort();
            if (verbose) fprintf(stderr, "split %d: %s\n", split, err.msg);
            continue;
        }
        if (verbose)
            fprintf(stderr, "split %d: %lld images, first label %d, classes %s..\n", split, (long long)ds.n,
                    ds.n ? ds.labels[0] : -1, ds.classes[0]);
        check_dataset(&ds);
        ember_dataset_free(&ds);
    }
    free(tar.p);
    check_records(data, size);
    return 0;
}
