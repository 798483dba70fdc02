/* test_cifar10.c — CIFAR-10 reading: the real subset in ../shared/data
 * (counts, labels, class names, CHW->HWC layout against the raw records),
 * synthetic archives and folders written here with libarchive (odd record
 * counts, batch order, every error case), and the cache-folder logic of
 * ember_cifar10_load (md5 check, default roots).
 * Args: <shared data dir> <fixtures dir> <scratch dir>. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/cifar10.h"
#include "data_test.h"
#include "data/fetch.h"





typedef struct {
    const char *name;
    const uint8_t *data;
    size_t len;
} entry;

/* Writes a tar (gz: gzip-compressed) holding the entries. */
static int write_tar(const char *path, int gz, const entry *es, int n) {
    struct archive *a = archive_write_new();
    int ok = a && (!gz || archive_write_add_filter_gzip(a) == ARCHIVE_OK) &&
             archive_write_set_format_pax_restricted(a) == ARCHIVE_OK &&
             archive_write_open_filename(a, path) == ARCHIVE_OK;
    for (int i = 0; ok && i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, es[i].name);
        archive_entry_set_size(e, (la_int64_t)es[i].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        ok = archive_write_header(a, e) == ARCHIVE_OK &&
             (es[i].len == 0 || archive_write_data(a, es[i].data, es[i].len) == (la_ssize_t)es[i].len);
        archive_entry_free(e);
    }
    if (a && archive_write_close(a) != ARCHIVE_OK) ok = 0;
    if (!ok) fprintf(stderr, "writing %s: %s\n", path, a ? archive_error_string(a) : "no memory");
    if (a) archive_write_free(a);
    return ok ? 0 : -1;
}

static int write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* n random records with labels (seed + i) % 10. */
static uint8_t *make_records(int n, unsigned seed) {
    uint8_t *b = malloc((size_t)n * EMBER_CIFAR10_RECORD + 1);
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < (size_t)n * EMBER_CIFAR10_RECORD; i++) {
        s = s * 1664525u + 1013904223u;
        b[i] = (uint8_t)(s >> 24);
    }
    for (int i = 0; i < n; i++) b[(size_t)i * EMBER_CIFAR10_RECORD] = (uint8_t)((seed + (unsigned)i) % 10);
    return b;
}

/* Does ds image `img` hold raw record `rec` (label + CHW planes), as HWC? */
static int same_record(const ember_dataset *ds, int64_t img, const uint8_t *rec) {
    if (ds->labels[img] != rec[0]) return 0;
    const uint8_t *px = ember_dataset_image(ds, img);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
            for (int c = 0; c < 3; c++)
                if (px[(y * 32 + x) * 3 + c] != rec[1 + c * 1024 + y * 32 + x]) return 0;
    return 1;
}

/* The raw bytes of one archive entry, read independently of the loader. */
static uint8_t *raw_entry(const char *path, const char *name, size_t *len) {
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    uint8_t *out = NULL;
    if (archive_read_open_filename(a, path, 65536) == ARCHIVE_OK) {
        struct archive_entry *e;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
            if (strcmp(archive_entry_pathname(e), name) != 0) continue;
            size_t n = (size_t)archive_entry_size(e);
            out = malloc(n + 1);
            size_t got = 0;
            la_ssize_t r;
            while (got < n && (r = archive_read_data(a, out + got, n - got)) > 0) got += (size_t)r;
            *len = got;
            break;
        }
    }
    archive_read_free(a);
    return out;
}

static int has(const char *msg, const char *what) { return strstr(msg, what) != NULL; }

static const char *official[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                   "dog",      "frog",       "horse", "ship", "truck"};

/* ---- the real subset ----------------------------------------------------- */

static int test_real(const char *shared) {
    char path[1200];
    snprintf(path, sizeof path, "%s/cifar10-subset/cifar-10-subset-binary.tar.gz", shared);
    if (access(path, R_OK) != 0) {
        printf("SKIP real-data checks: %s is missing (see ../shared/data/README.md; set "
               "EMBER_SHARED_DATA)\n", path);
        return 77;
    }
    static const int64_t train_counts[10] = {396, 366, 420, 384, 422, 393, 414, 385, 407, 413};
    static const int64_t test_counts[10] = {103, 89, 100, 103, 90, 86, 112, 102, 106, 109};
    static const uint8_t train_first[5] = {6, 9, 9, 4, 1}, test_first[5] = {3, 8, 8, 0, 6};
    for (int s = 0; s < 2; s++) {
        ember_dataset ds = {0};
        ember_err err = {{0}};
        int rc = ember_cifar10_read_archive(path, s ? EMBER_CIFAR10_TEST : EMBER_CIFAR10_TRAIN, &ds, &err);
        CHECK(rc == 0, "reading %s: %s", path, err.msg);
        if (rc) continue;
        CHECK(ds.n == (s ? 1000 : 4000), "n = %lld", (long long)ds.n);
        CHECK(ds.height == 32 && ds.width == 32 && ds.channels == 3 && ds.n_classes == 10, "shape");
        CHECK(strcmp(ds.name, s ? "CIFAR-10 test" : "CIFAR-10 train") == 0, "name %s", ds.name);
        CHECK(strcmp(ds.source, path) == 0, "source %s", ds.source);
        for (int i = 0; i < 5; i++)
            CHECK(ds.labels[i] == (s ? test_first : train_first)[i], "label %d = %d", i, ds.labels[i]);
        int64_t counts[10];
        ember_dataset_class_counts(&ds, counts);
        for (int k = 0; k < 10; k++)
            CHECK(counts[k] == (s ? test_counts : train_counts)[k], "split %d class %d count %lld", s,
                  k, (long long)counts[k]);
        for (int k = 0; k < 10; k++)
            CHECK(strcmp(ds.classes[k], official[k]) == 0, "class %d = %s", k, ds.classes[k]);
        /* Layout: every image against the raw CHW records. */
        size_t len = 0;
        uint8_t *raw = raw_entry(path, s ? "cifar-10-batches-bin/test_batch.bin"
                                         : "cifar-10-batches-bin/data_batch_1.bin", &len);
        CHECK(raw && len == (size_t)ds.n * EMBER_CIFAR10_RECORD, "raw entry %zu bytes", len);
        if (raw && len == (size_t)ds.n * EMBER_CIFAR10_RECORD) {
            int bad = 0;
            for (int64_t i = 0; i < ds.n; i++)
                if (!same_record(&ds, i, raw + i * EMBER_CIFAR10_RECORD)) bad++;
            CHECK(bad == 0, "%d images differ from their raw records", bad);
            /* And one pixel spelled out: image 0, row 5, column 7. */
            const uint8_t *px = ember_dataset_image(&ds, 0) + (5 * 32 + 7) * 3;
            CHECK(px[0] == raw[1 + 5 * 32 + 7] && px[1] == raw[1 + 1024 + 5 * 32 + 7] &&
                      px[2] == raw[1 + 2048 + 5 * 32 + 7], "pixel (5,7)");
        }
        free(raw);
        ember_dataset_free(&ds);
    }
    /* The same file through ember_cifar10_load(root = the archive). */
    ember_cifar10_source src = {.root = path};
    ember_dataset ds = {0};
    ember_err err = {{0}};
    CHECK(ember_cifar10_load(&src, EMBER_CIFAR10_TEST, &ds, &err) == 0, "load: %s", err.msg);
    CHECK(ds.n == 1000, "load n = %lld", (long long)ds.n);
    ember_dataset_free(&ds);
    return 0;
}

/* ---- synthetic archives -------------------------------------------------- */

static void test_append(void) {
    ember_dataset ds = {0};
    ember_err err = {{0}};
    uint8_t *r = make_records(3, 1);
    CHECK(ember_cifar10_append_records(&ds, r, 0, "empty", &err) == 0, "%s", err.msg);
    CHECK(ds.n == 0 && ds.height == 32 && ds.n_classes == 10, "zero records set up the dataset");
    CHECK(strcmp(ds.classes[9], "truck") == 0, "official names");
    CHECK(ember_cifar10_append_records(&ds, r, 3 * EMBER_CIFAR10_RECORD, "x", &err) == 0, "%s", err.msg);
    CHECK(ds.n == 3, "n=%lld", (long long)ds.n);
    CHECK(ember_cifar10_append_records(&ds, r, 2 * EMBER_CIFAR10_RECORD - 1, "odd.bin", &err) == -1,
          "odd size accepted");
    CHECK(has(err.msg, "odd.bin") && has(err.msg, "3073"), "msg: %s", err.msg);
    r[EMBER_CIFAR10_RECORD] = 10;
    CHECK(ember_cifar10_append_records(&ds, r, 3 * EMBER_CIFAR10_RECORD, "bad.bin", &err) == -1,
          "label 10 accepted");
    CHECK(has(err.msg, "bad.bin") && has(err.msg, "label 10") && has(err.msg, "record 1"), "msg: %s", err.msg);
    CHECK(ds.n == 3, "failed append changed n");
    r[EMBER_CIFAR10_RECORD] = 2;
    CHECK(same_record(&ds, 2, r + 2 * EMBER_CIFAR10_RECORD), "appended record 2");
    free(r);
    ember_dataset_free(&ds);
}

static const char *meta_custom = "c0\nc1\r\nc2\nc3\nc4\n\nc5\nc6\nc7\nc8\nc9\n\n";

static void check_synth(const ember_dataset *ds, int is_train, uint8_t **rec, const int *counts,
                        const int *order, int norder, int custom_names, const char *what) {
    int64_t want = 0;
    for (int i = 0; i < norder; i++) want += counts[order[i]];
    CHECK(ds->n == want, "%s: n = %lld, want %lld", what, (long long)ds->n, (long long)want);
    if (ds->n != want) return;
    int64_t img = 0;
    int bad = 0;
    for (int i = 0; i < norder; i++)
        for (int j = 0; j < counts[order[i]]; j++, img++)
            if (!same_record(ds, img, rec[order[i]] + (size_t)j * EMBER_CIFAR10_RECORD)) bad++;
    CHECK(bad == 0, "%s: %d images differ", what, bad);
    CHECK(strcmp(ds->name, is_train ? "CIFAR-10 train" : "CIFAR-10 test") == 0, "%s: name %s", what,
          ds->name);
    CHECK(strcmp(ds->classes[1], custom_names ? "c1" : "automobile") == 0 &&
              strcmp(ds->classes[5], custom_names ? "c5" : "dog") == 0,
          "%s: class names %s %s", what, ds->classes[1], ds->classes[5]);
}

static int expect_error(const char *archive, ember_cifar10_split split, const char *a,
                        const char *b, const char *what) {
    ember_dataset ds = {0};
    ember_err err = {{0}};
    int rc = ember_cifar10_read_archive(archive, split, &ds, &err);
    CHECK(rc == -1, "%s: accepted", what);
    CHECK(ds.n == 0 && ds.pixels == NULL, "%s: out written on failure", what);
    CHECK(has(err.msg, a) && (!b || has(err.msg, b)), "%s: message lacks '%s'/'%s': %s", what, a,
          b ? b : "", err.msg);
    if (getenv("EMBER_TEST_VERBOSE")) printf("%s -> %s\n", what, err.msg);
    if (rc == 0) ember_dataset_free(&ds);
    return rc;
}

static void test_synthetic(void) {
    /* Batches 1, 2, 3, 10 (the last empty) and a test batch, stored out of
     * order: the loader must read them in k order. */
    enum { NB = 5 };
    const int counts[NB] = {3, 5, 7, 0, 4}; /* batch 1, 2, 3, 10, test */
    uint8_t *rec[NB];
    for (int i = 0; i < NB; i++) rec[i] = make_records(counts[i] ? counts[i] : 1, 10u + (unsigned)i);
#define E(name, i) {"cifar-10-batches-bin/" name, rec[i], (size_t)counts[i] * EMBER_CIFAR10_RECORD}
    entry es[] = {
        {"cifar-10-batches-bin/readme.html", (const uint8_t *)"<html/>", 7},
        E("data_batch_2.bin", 1),
        E("test_batch.bin", 4),
        E("data_batch_10.bin", 3),
        {"cifar-10-batches-bin/batches.meta.txt", (const uint8_t *)meta_custom, strlen(meta_custom)},
        E("data_batch_1.bin", 0),
        E("data_batch_3.bin", 2),
    };
    const int train_order[] = {0, 1, 2, 3}, test_order[] = {4};
    const char *tgz = sp("synth.tar.gz"), *tar = sp("synth.tar");
    CHECK(write_tar(tgz, 1, es, 7) == 0, "write tgz");
    CHECK(write_tar(tar, 0, es, 4) == 0, "write tar"); /* no meta, no batches 1 and 3 */
    ember_dataset ds = {0};
    ember_err err = {{0}};
    CHECK(ember_cifar10_read_archive(tgz, EMBER_CIFAR10_TRAIN, &ds, &err) == 0, "%s", err.msg);
    check_synth(&ds, 1, rec, counts, train_order, 4, 1, "tgz train");
    CHECK(strcmp(ds.source, tgz) == 0, "source %s", ds.source);
    ember_dataset_free(&ds);
    CHECK(ember_cifar10_read_archive(tgz, EMBER_CIFAR10_TEST, &ds, &err) == 0, "%s", err.msg);
    check_synth(&ds, 0, rec, counts, test_order, 1, 1, "tgz test");
    ember_dataset_free(&ds);
    const int tar_order[] = {1, 3};
    CHECK(ember_cifar10_read_archive(tar, EMBER_CIFAR10_TRAIN, &ds, &err) == 0, "%s", err.msg);
    check_synth(&ds, 1, rec, counts, tar_order, 2, 0, "plain tar train");
    ember_dataset_free(&ds);

    /* Extracted folder: read via the parent and via the batches folder. */
    const char *dir = sp("extracted"), *bdir = sp("extracted/cifar-10-batches-bin");
    ember_err e2 = {{0}};
    CHECK(ember_mkdirs(bdir, &e2) == 0, "%s", e2.msg);
    char p[1400];
    for (int i = 1; i < 7; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, es[i].name);
        CHECK(write_file(p, es[i].data, es[i].len) == 0, "write %s", p);
    }
    CHECK(ember_cifar10_read_dir(dir, EMBER_CIFAR10_TRAIN, &ds, &err) == 0, "%s", err.msg);
    check_synth(&ds, 1, rec, counts, train_order, 4, 1, "dir train");
    ember_dataset_free(&ds);
    CHECK(ember_cifar10_read_dir(bdir, EMBER_CIFAR10_TEST, &ds, &err) == 0, "%s", err.msg);
    check_synth(&ds, 0, rec, counts, test_order, 1, 1, "batches dir test");
    CHECK(strcmp(ds.source, bdir) == 0, "source %s", ds.source);
    ember_dataset_free(&ds);
    /* read_archive on a folder and load(root = folder) both work too. */
    CHECK(ember_cifar10_read_archive(dir, EMBER_CIFAR10_TEST, &ds, &err) == 0, "%s", err.msg);
    ember_dataset_free(&ds);
    ember_cifar10_source src = {.root = dir};
    CHECK(ember_cifar10_load(&src, EMBER_CIFAR10_TRAIN, &ds, &err) == 0, "%s", err.msg);
    check_synth(&ds, 1, rec, counts, train_order, 4, 1, "load dir train");
    ember_dataset_free(&ds);
    /* Folder errors: no test batch, bad meta. */
    snprintf(p, sizeof p, "%s/test_batch.bin", bdir);
    unlink(p);
    CHECK(ember_cifar10_read_dir(dir, EMBER_CIFAR10_TEST, &ds, &err) == -1, "missing test batch");
    CHECK(has(err.msg, "test_batch.bin") && has(err.msg, bdir), "msg: %s", err.msg);
    snprintf(p, sizeof p, "%s/batches.meta.txt", bdir);
    CHECK(write_file(p, "a\nb\n", 4) == 0, "write meta");
    CHECK(ember_cifar10_read_dir(dir, EMBER_CIFAR10_TRAIN, &ds, &err) == -1, "2-line meta");
    CHECK(has(err.msg, "batches.meta.txt") && has(err.msg, "10"), "msg: %s", err.msg);
    CHECK(ember_cifar10_read_dir(sp("nowhere"), EMBER_CIFAR10_TRAIN, &ds, &err) == -1, "no dir");
    CHECK(has(err.msg, "nowhere"), "msg: %s", err.msg);

    /* Error cases, each its own archive. */
    uint8_t *two = make_records(2, 3);
    entry trunc[] = {{"cifar-10-batches-bin/data_batch_1.bin", two, 2 * EMBER_CIFAR10_RECORD - 5}};
    CHECK(write_tar(sp("trunc.tar.gz"), 1, trunc, 1) == 0, "write");
    expect_error(sp("trunc.tar.gz"), EMBER_CIFAR10_TRAIN, "data_batch_1.bin", "3073", "truncated record");
    two[EMBER_CIFAR10_RECORD] = 11;
    entry lab[] = {{"cifar-10-batches-bin/test_batch.bin", two, 2 * EMBER_CIFAR10_RECORD}};
    CHECK(write_tar(sp("label.tar.gz"), 1, lab, 1) == 0, "write");
    expect_error(sp("label.tar.gz"), EMBER_CIFAR10_TEST, "test_batch.bin", "label 11", "label 11");
    two[EMBER_CIFAR10_RECORD] = 1;
    entry notest[] = {{"cifar-10-batches-bin/data_batch_1.bin", two, 2 * EMBER_CIFAR10_RECORD}};
    CHECK(write_tar(sp("notest.tar.gz"), 1, notest, 1) == 0, "write");
    expect_error(sp("notest.tar.gz"), EMBER_CIFAR10_TEST, "test_batch.bin", "notest.tar.gz", "missing test");
    entry notrain[] = {{"cifar-10-batches-bin/test_batch.bin", two, 2 * EMBER_CIFAR10_RECORD}};
    CHECK(write_tar(sp("notrain.tar"), 0, notrain, 1) == 0, "write");
    expect_error(sp("notrain.tar"), EMBER_CIFAR10_TRAIN, "data_batch", "notrain.tar", "missing train");
    entry dup[] = {notest[0], {"other/data_batch_1.bin", two, 2 * EMBER_CIFAR10_RECORD}};
    CHECK(write_tar(sp("dup.tar"), 0, dup, 2) == 0, "write");
    expect_error(sp("dup.tar"), EMBER_CIFAR10_TRAIN, "twice", NULL, "duplicate batch");
    entry allempty[] = {{"cifar-10-batches-bin/data_batch_1.bin", two, 0},
                        {"cifar-10-batches-bin/test_batch.bin", two, 2 * EMBER_CIFAR10_RECORD}};
    CHECK(write_tar(sp("allempty.tar"), 0, allempty, 2) == 0, "write");
    expect_error(sp("allempty.tar"), EMBER_CIFAR10_TRAIN, "hold no images", "allempty.tar", "only empty batches");
    entry badmeta[] = {notest[0], {"cifar-10-batches-bin/batches.meta.txt", (const uint8_t *)"x\n", 2}};
    CHECK(write_tar(sp("badmeta.tar"), 0, badmeta, 2) == 0, "write");
    expect_error(sp("badmeta.tar"), EMBER_CIFAR10_TRAIN, "batches.meta.txt", NULL, "1-line meta");
    free(two);

    /* Not archives / damaged archives. */
    const char *text = "this is not an archive at all, just some text\n";
    CHECK(write_file(sp("text.tar.gz"), text, strlen(text)) == 0, "write");
    expect_error(sp("text.tar.gz"), EMBER_CIFAR10_TRAIN, "text.tar.gz", "archive", "text file");
    uint8_t badgz[512] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    for (int i = 10; i < 512; i++) badgz[i] = (uint8_t)(i * 37 + 11);
    CHECK(write_file(sp("garbage.tar.gz"), badgz, sizeof badgz) == 0, "write");
    expect_error(sp("garbage.tar.gz"), EMBER_CIFAR10_TRAIN, "garbage.tar.gz", NULL, "garbage gzip");
    /* The good archive cut in half: a truncated gzip stream. */
    FILE *f = fopen(tgz, "rb");
    uint8_t *whole = malloc(1 << 20);
    size_t wl = f ? fread(whole, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    CHECK(wl > 1000, "read back tgz");
    CHECK(write_file(sp("half.tar.gz"), whole, wl / 2) == 0, "write");
    expect_error(sp("half.tar.gz"), EMBER_CIFAR10_TRAIN, "half.tar.gz", "fresh copy", "truncated gzip");
    free(whole);
    /* A tar header that claims a 1.2 GB batch: refused before any allocation. */
    uint8_t huge[512 * 3] = {0};
    snprintf((char *)huge, 100, "cifar-10-batches-bin/data_batch_1.bin");
    memcpy(huge + 100, "0000644", 8);
    memcpy(huge + 108, "0000000", 8);
    memcpy(huge + 116, "0000000", 8);
    snprintf((char *)huge + 124, 12, "%011llo", (unsigned long long)EMBER_CIFAR10_RECORD * 400000ull);
    memcpy(huge + 136, "00000000000", 12);
    huge[156] = '0';
    memcpy(huge + 257, "ustar", 6);
    memcpy(huge + 263, "00", 2);
    memset(huge + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += huge[i];
    snprintf((char *)huge + 148, 8, "%06o", sum);
    CHECK(write_file(sp("huge.tar"), huge, sizeof huge) == 0, "write");
    expect_error(sp("huge.tar"), EMBER_CIFAR10_TRAIN, "huge.tar", "larger", "1.2 GB entry");
    expect_error(sp("absent.tar.gz"), EMBER_CIFAR10_TRAIN, "absent.tar.gz", "root=", "missing file");

    for (int i = 0; i < NB; i++) free(rec[i]);
#undef E
}

/* ---- ember_cifar10_load: cache folders, md5, default roots --------------- */

static void test_load(void) {
    uint8_t *r = make_records(6, 7), *t = make_records(2, 8);
    entry es[] = {{"cifar-10-batches-bin/data_batch_1.bin", r, 6 * EMBER_CIFAR10_RECORD},
                  {"cifar-10-batches-bin/test_batch.bin", t, 2 * EMBER_CIFAR10_RECORD}};
    const char *cache = sp("cache");
    ember_err err = {{0}};
    CHECK(ember_mkdirs(cache, &err) == 0, "%s", err.msg);
    char archive[1300];
    snprintf(archive, sizeof archive, "%s/%s", cache, EMBER_CIFAR10_ARCHIVE);
    CHECK(write_tar(archive, 1, es, 2) == 0, "write");
    char md5[33];
    CHECK(ember_md5_file(archive, md5, &err) == 0, "%s", err.msg);
    ember_dataset ds = {0};

    /* Wrong md5: the message calls the file corrupt and says to delete it. */
    ember_cifar10_source src = {.root = cache, .md5 = "00000000000000000000000000000000"};
    CHECK(ember_cifar10_load(&src, EMBER_CIFAR10_TRAIN, &ds, &err) == -1, "bad md5 accepted");
    CHECK(has(err.msg, "corrupt") && has(err.msg, "delete") && has(err.msg, archive), "msg: %s", err.msg);
    CHECK(ds.n == 0, "out written");
    /* The official md5 applies by default (url left at the official one). */
    src.md5 = NULL;
    CHECK(ember_cifar10_load(&src, EMBER_CIFAR10_TRAIN, &ds, &err) == -1, "official md5 not checked");
    CHECK(has(err.msg, "corrupt") && has(err.msg, EMBER_CIFAR10_MD5), "msg: %s", err.msg);
    src.md5 = md5;
    CHECK(ember_cifar10_load(&src, EMBER_CIFAR10_TRAIN, &ds, &err) == 0, "%s", err.msg);
    CHECK(ds.n == 6 && strcmp(ds.source, archive) == 0, "n %lld source %s", (long long)ds.n, ds.source);
    ember_dataset_free(&ds);
    /* A url of one's own: no md5 unless given. */
    src.md5 = NULL;
    src.url = "http://127.0.0.1:1/elsewhere.tar.gz";
    CHECK(ember_cifar10_load(&src, EMBER_CIFAR10_TEST, &ds, &err) == 0, "%s", err.msg);
    CHECK(ds.n == 2, "n %lld", (long long)ds.n);
    ember_dataset_free(&ds);

    /* Nothing there, no download: says where it looked and what to do. */
    const char *empty = sp("emptycache");
    CHECK(ember_mkdirs(empty, &err) == 0, "%s", err.msg);
    ember_cifar10_source none = {.root = empty};
    CHECK(ember_cifar10_load(&none, EMBER_CIFAR10_TRAIN, &ds, &err) == -1, "empty accepted");
    CHECK(has(err.msg, empty) && has(err.msg, "download=true") && has(err.msg, "root="), "msg: %s", err.msg);
    none.root = sp("no/such/file.tar.gz");
    CHECK(ember_cifar10_load(&none, EMBER_CIFAR10_TRAIN, &ds, &err) == -1, "missing archive accepted");
    CHECK(has(err.msg, "file.tar.gz") && has(err.msg, "does not exist"), "msg: %s", err.msg);
    /* cifar10() prefixes its name; the library must not (it read twice). */
    CHECK(strncmp(err.msg, "cifar10", 7) != 0, "msg: %s", err.msg);
    /* Download from a url that cannot answer: the fetch error comes through. */
    none.root = sp("dlcache");
    none.download = 1;
    none.url = "http://127.0.0.1:1/cifar.tar.gz";
    CHECK(ember_cifar10_load(&none, EMBER_CIFAR10_TRAIN, &ds, &err) == -1, "dead url accepted");
    CHECK(has(err.msg, "127.0.0.1:1"), "msg: %s", err.msg);
    CHECK(strncmp(err.msg, "downloading http://127.0.0.1:1/", 31) == 0, "msg: %s", err.msg);

    /* Default roots: $EMBER_DATA/cifar10, then $XDG_CACHE_HOME/ember/cifar10,
     * then ~/.cache/ember/cifar10. */
    const char *envd = sp("envdata"), *xdg = sp("xdg"), *home = sp("home");
    char p[1400];
    snprintf(p, sizeof p, "%s/cifar10", envd);
    CHECK(ember_mkdirs(p, &err) == 0, "%s", err.msg);
    snprintf(p, sizeof p, "%s/cifar10/%s", envd, EMBER_CIFAR10_ARCHIVE);
    CHECK(write_tar(p, 1, es, 1) == 0, "write"); /* train only */
    snprintf(p, sizeof p, "%s/ember/cifar10/cifar-10-batches-bin", xdg);
    CHECK(ember_mkdirs(p, &err) == 0, "%s", err.msg);
    snprintf(p, sizeof p, "%s/ember/cifar10/cifar-10-batches-bin/test_batch.bin", xdg);
    CHECK(write_file(p, t, 2 * EMBER_CIFAR10_RECORD) == 0, "write");
    setenv("EMBER_DATA", envd, 1);
    setenv("XDG_CACHE_HOME", xdg, 1);
    setenv("HOME", home, 1);
    ember_cifar10_source def = {.url = "http://127.0.0.1:1/x"}; /* no md5 check */
    CHECK(ember_cifar10_load(&def, EMBER_CIFAR10_TRAIN, &ds, &err) == 0, "EMBER_DATA: %s", err.msg);
    CHECK(ds.n == 6, "n %lld", (long long)ds.n);
    ember_dataset_free(&ds);
    unsetenv("EMBER_DATA");
    CHECK(ember_cifar10_load(&def, EMBER_CIFAR10_TEST, &ds, &err) == 0, "XDG: %s", err.msg);
    CHECK(ds.n == 2, "n %lld", (long long)ds.n);
    ember_dataset_free(&ds);
    unsetenv("XDG_CACHE_HOME");
    CHECK(ember_cifar10_load(&def, EMBER_CIFAR10_TEST, &ds, &err) == -1, "HOME: found something");
    CHECK(has(err.msg, home) && has(err.msg, ".cache/ember/cifar10"), "msg: %s", err.msg);
    free(r);
    free(t);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s <shared data dir> <fixtures dir> <scratch dir>\n", argv[0]);
        return 2;
    }
    snprintf(scratch, sizeof scratch, "%s", argv[3]);
    rm_rf(scratch);
    ember_err err = {{0}};
    if (ember_mkdirs(scratch, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    test_append();
    test_synthetic();
    test_load();
    int real = test_real(argv[1]);
    if (t_failures) {
        fprintf(stderr, "test_cifar10: %d check(s) failed\n", t_failures);
        return 1;
    }
    if (real == 77) return 77;
    printf("test_cifar10: all checks passed\n");
    return 0;
}
