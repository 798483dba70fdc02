/* cifar10.c — CIFAR-10 in its official binary layout: records to an HWC
 * dataset, the split read straight out of the .tar.gz (streamed with
 * libarchive, nothing extracted) or out of an extracted folder, and the
 * cache folder logic (find, download, verify) behind cifar10(). */
#define _GNU_SOURCE
#include "data/cifar10.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLANE 1024
/* No file of the dataset comes near this; a bigger one is a wrong or
 * hostile archive, and reading it would only exhaust memory. */
#define MAX_ENTRY_BYTES ((int64_t)1 << 30)
#define MAX_META_BYTES (64 * 1024)
#define MAX_TRAIN_FILES 4096

static const char *const official_classes[10] = {"airplane", "automobile", "bird", "cat",
                                                 "deer",     "dog",        "frog", "horse",
                                                 "ship",     "truck"};

/* ---- records ------------------------------------------------------------- */

int ember_cifar10_append_records(ember_dataset *ds, const uint8_t *buf, size_t len,
                                 const char *what, ember_err *err) {
    if (!what) what = "CIFAR-10 data";
    if (len % EMBER_CIFAR10_RECORD != 0)
        return ember_err_set(err, "%s: size %zu bytes is not a whole number of 3073-byte CIFAR-10 "
                                  "records (the file is truncated or not a CIFAR-10 batch); get a "
                                  "fresh copy of the archive", what, len);
    if (ds->height == 0 && ds->n == 0 && !ds->pixels) {
        ds->height = 32;
        ds->width = 32;
        ds->channels = 3;
        ds->n_classes = 10;
        for (int k = 0; k < 10; k++)
            snprintf(ds->classes[k], EMBER_DATASET_CLASS_NAME_MAX, "%s", official_classes[k]);
    } else if (ds->height != 32 || ds->width != 32 || ds->channels != 3 || ds->n_classes < 10) {
        return ember_err_set(err, "%s: cannot append CIFAR-10 records to a %dx%dx%d dataset with "
                                  "%d classes", what, ds->height, ds->width, ds->channels,
                             ds->n_classes);
    }
    size_t count = len / EMBER_CIFAR10_RECORD;
    /* Check everything before touching ds, so a bad file leaves it as it was. */
    for (size_t i = 0; i < count; i++) {
        uint8_t label = buf[i * EMBER_CIFAR10_RECORD];
        if (label >= 10)
            return ember_err_set(err, "%s: record %zu has label %u, but CIFAR-10 labels are 0..9 "
                                      "(the file is damaged or not CIFAR-10); get a fresh copy",
                                 what, i, (unsigned)label);
    }
    if (count == 0) return 0;
    size_t old = (size_t)ds->n;
    if (count > (SIZE_MAX / (3 * PLANE)) - old || old + count > (size_t)INT64_MAX)
        return ember_err_set(err, "%s: too many records", what);
    size_t total = old + count;
    uint8_t *pixels = realloc(ds->pixels, total * 3 * PLANE);
    if (!pixels) return ember_err_set(err, "%s: out of memory for %zu images", what, total);
    ds->pixels = pixels;
    uint8_t *labels = realloc(ds->labels, total);
    if (!labels) return ember_err_set(err, "%s: out of memory for %zu labels", what, total);
    ds->labels = labels;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *rec = buf + i * EMBER_CIFAR10_RECORD;
        const uint8_t *r = rec + 1, *g = r + PLANE, *b = g + PLANE;
        uint8_t *dst = pixels + (old + i) * 3 * PLANE;
        labels[old + i] = rec[0];
        for (int p = 0; p < PLANE; p++) {
            dst[3 * p] = r[p];
            dst[3 * p + 1] = g[p];
            dst[3 * p + 2] = b[p];
        }
    }
    ds->n = (int64_t)total;
    return 0;
}

/* batches.meta.txt: the class names, one a line, blank lines ignored. */
static int parse_meta(const char *text, size_t len, char names[10][EMBER_DATASET_CLASS_NAME_MAX],
                      const char *what, ember_err *err) {
    int n = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        size_t a = i, b = j;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
        if (b > a) {
            if (n == 10)
                return ember_err_set(err, "%s: more than 10 class names; expected the 10 CIFAR-10 "
                                          "class names, one a line", what);
            if (b - a >= EMBER_DATASET_CLASS_NAME_MAX)
                return ember_err_set(err, "%s: class name on line %d is longer than %d characters",
                                     what, n + 1, EMBER_DATASET_CLASS_NAME_MAX - 1);
            for (size_t k = a; k < b; k++)
                if (text[k] == '\0' || (unsigned char)text[k] < 0x20)
                    return ember_err_set(err, "%s: not a text file of class names", what);
            memcpy(names[n], text + a, b - a);
            names[n][b - a] = '\0';
            n++;
        }
        i = j + 1;
    }
    if (n != 10)
        return ember_err_set(err, "%s: %d class names, expected the 10 CIFAR-10 class names, one a "
                                  "line", what, n);
    return 0;
}

/* Copies with truncation (long paths are cut in the display field only). */
static void copy_str(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void finish(ember_dataset *ds, ember_cifar10_split split, const char *source,
                   char names[10][EMBER_DATASET_CLASS_NAME_MAX], int have_names) {
    snprintf(ds->name, sizeof ds->name, "CIFAR-10 %s", split == EMBER_CIFAR10_TRAIN ? "train" : "test");
    copy_str(ds->source, sizeof ds->source, source);
    if (have_names)
        for (int k = 0; k < 10; k++) memcpy(ds->classes[k], names[k], EMBER_DATASET_CLASS_NAME_MAX);
}

/* "data_batch_<k>.bin" with k a positive decimal without leading zeros. */
static int train_index(const char *base) {
    static const char pre[] = "data_batch_";
    size_t lp = sizeof pre - 1, n = strlen(base);
    if (n <= lp + 4 || strncmp(base, pre, lp) != 0 || strcmp(base + n - 4, ".bin") != 0) return 0;
    const char *d = base + lp, *end = base + n - 4;
    if (*d == '0') return 0;
    long k = 0;
    for (; d < end; d++) {
        if (*d < '0' || *d > '9') return 0;
        k = k * 10 + (*d - '0');
        if (k > 1000000) return 0;
    }
    return (int)k;
}

static const char *split_file(ember_cifar10_split split) {
    return split == EMBER_CIFAR10_TRAIN ? "data_batch_<k>.bin" : "test_batch.bin";
}

/* ---- archives ------------------------------------------------------------ */

typedef struct {
    int k;           /* batch number; 0 for test_batch.bin */
    uint8_t *data;
    size_t len;
    char *name;      /* entry path, for errors */
} batch;

static int cmp_batch(const void *a, const void *b) {
    const batch *x = a, *y = b;
    return (x->k > y->k) - (x->k < y->k);
}

static void free_batches(batch *bs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(bs[i].data);
        free(bs[i].name);
    }
    free(bs);
}

/* Reads the current entry whole. `what` is "<archive>: <entry>". */
static int read_entry(struct archive *a, struct archive_entry *e, const char *what, size_t cap,
                      uint8_t **out, size_t *out_len, ember_err *err) {
    size_t len = 0, alloc = 0;
    uint8_t *data = NULL;
    if (archive_entry_size_is_set(e)) {
        int64_t sz = archive_entry_size(e);
        if (sz < 0 || (uint64_t)sz > cap)
            return ember_err_set(err, "%s: entry of %lld bytes is larger than any CIFAR-10 file "
                                      "(limit %zu); this is not the CIFAR-10 archive", what,
                                 (long long)sz, cap);
        alloc = (size_t)sz;
    }
    data = malloc(alloc ? alloc : 1);
    if (!data) return ember_err_set(err, "%s: out of memory", what);
    for (;;) {
        if (len == alloc) {
            if (alloc >= cap) {
                /* Grown to the limit; one more byte means too big. */
                uint8_t probe;
                la_ssize_t r = archive_read_data(a, &probe, 1);
                if (r == 0) break;
                free(data);
                if (r < 0)
                    return ember_err_set(err, "%s: the archive is damaged (%s); delete it and get "
                                              "a fresh copy", what, archive_error_string(a));
                return ember_err_set(err, "%s: entry is larger than any CIFAR-10 file (limit "
                                          "%zu bytes); this is not the CIFAR-10 archive", what, cap);
            }
            if (archive_entry_size_is_set(e)) {
                /* Declared size reached: make sure nothing more follows. */
                uint8_t probe;
                la_ssize_t r = archive_read_data(a, &probe, 1);
                if (r == 0) break;
                free(data);
                if (r < 0)
                    return ember_err_set(err, "%s: the archive is damaged (%s); delete it and get "
                                              "a fresh copy", what, archive_error_string(a));
                return ember_err_set(err, "%s: entry holds more data than its header says", what);
            }
            size_t na = alloc ? alloc * 2 : 1 << 20;
            if (na > cap) na = cap;
            uint8_t *nd = realloc(data, na);
            if (!nd) {
                free(data);
                return ember_err_set(err, "%s: out of memory", what);
            }
            data = nd;
            alloc = na;
        }
        la_ssize_t r = archive_read_data(a, data + len, alloc - len);
        if (r < 0) {
            free(data);
            return ember_err_set(err, "%s: the archive is damaged (%s); delete it and get a fresh "
                                      "copy", what, archive_error_string(a));
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    if (archive_entry_size_is_set(e) && (int64_t)len != archive_entry_size(e)) {
        free(data);
        return ember_err_set(err, "%s: the archive is truncated (%zu of %lld bytes); delete it "
                                  "and get a fresh copy", what, len,
                             (long long)archive_entry_size(e));
    }
    *out = data;
    *out_len = len;
    return 0;
}

int ember_cifar10_read_archive(const char *path, ember_cifar10_split split, ember_dataset *out,
                               ember_err *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return ember_err_set(err, "CIFAR-10 archive %s: %s; pass root= the path of "
                                  "cifar-10-binary.tar.gz (or its extracted folder)", path,
                             strerror(errno));
    if (S_ISDIR(st.st_mode)) return ember_cifar10_read_dir(path, split, out, err);

    struct archive *a = archive_read_new();
    if (!a) return ember_err_set(err, "%s: out of memory opening the archive", path);
    batch *bs = NULL;
    size_t nb = 0, cap_b = 0;
    char *meta = NULL;
    size_t meta_len = 0;
    int rc = -1;
    char what[1024];
    ember_dataset ds;
    memset(&ds, 0, sizeof ds);

    if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
        archive_read_support_filter_none(a) != ARCHIVE_OK ||
        archive_read_support_format_tar(a) != ARCHIVE_OK) {
        ember_err_set(err, "%s: libarchive cannot read .tar.gz here: %s", path, archive_error_string(a));
        goto done;
    }
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        ember_err_set(err, "%s is not a readable .tar.gz / .tar archive (%s); expected the CIFAR-10 "
                           "binary archive cifar-10-binary.tar.gz: delete it and download it "
                           "again, or pass root= the right file", path, archive_error_string(a));
        goto done;
    }
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            ember_err_set(err, "%s is not a readable CIFAR-10 archive (%s): delete it and "
                               "download it again, or pass root= the right file", path,
                          archive_error_string(a));
            goto done;
        }
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        const char *name = archive_entry_pathname(e);
        if (!name) continue;
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        snprintf(what, sizeof what, "%s: %s", path, name);
        int k = -1;
        if (split == EMBER_CIFAR10_TRAIN) k = train_index(base);
        else if (strcmp(base, "test_batch.bin") == 0) k = 0;
        if (k > 0 || (k == 0 && split == EMBER_CIFAR10_TEST)) {
            for (size_t i = 0; i < nb; i++)
                if (bs[i].k == k) {
                    ember_err_set(err, "%s: %s appears twice in the archive (also as %s); expected "
                                       "the official layout", path, base, bs[i].name);
                    goto done;
                }
            if (nb == MAX_TRAIN_FILES) {
                ember_err_set(err, "%s: more than %d batch files", path, MAX_TRAIN_FILES);
                goto done;
            }
            if (archive_entry_size_is_set(e) &&
                archive_entry_size(e) % EMBER_CIFAR10_RECORD != 0) {
                ember_err_set(err, "%s: size %lld bytes is not a whole number of 3073-byte "
                                   "CIFAR-10 records (truncated or not a CIFAR-10 batch); get a "
                                   "fresh copy of the archive", what,
                              (long long)archive_entry_size(e));
                goto done;
            }
            if (nb == cap_b) {
                size_t nc = cap_b ? cap_b * 2 : 8;
                batch *nbs = realloc(bs, nc * sizeof *bs);
                if (!nbs) {
                    ember_err_set(err, "%s: out of memory", path);
                    goto done;
                }
                bs = nbs;
                cap_b = nc;
            }
            batch *b = &bs[nb];
            memset(b, 0, sizeof *b);
            b->k = k;
            b->name = strdup(name);
            if (!b->name) {
                ember_err_set(err, "%s: out of memory", path);
                goto done;
            }
            nb++;
            if (read_entry(a, e, what, (size_t)MAX_ENTRY_BYTES, &b->data, &b->len, err)) goto done;
        } else if (strcmp(base, "batches.meta.txt") == 0) {
            free(meta);
            meta = NULL;
            uint8_t *m = NULL;
            if (read_entry(a, e, what, MAX_META_BYTES, &m, &meta_len, err)) goto done;
            meta = (char *)m;
        } else if (archive_read_data_skip(a) != ARCHIVE_OK) {
            ember_err_set(err, "%s is damaged (%s); delete it and get a fresh copy", what,
                          archive_error_string(a));
            goto done;
        }
    }
    if (nb == 0) {
        ember_err_set(err, "%s holds no %s: it is not the CIFAR-10 binary archive (expected "
                           "cifar-10-batches-bin/%s inside); pass root= cifar-10-binary.tar.gz",
                      path, split == EMBER_CIFAR10_TRAIN ? "training batches (data_batch_<k>.bin)"
                                                         : "test batch (test_batch.bin)",
                      split_file(split));
        goto done;
    }
    char names[10][EMBER_DATASET_CLASS_NAME_MAX];
    if (meta) {
        char mwhat[1024];
        snprintf(mwhat, sizeof mwhat, "%s: batches.meta.txt", path);
        if (parse_meta(meta, meta_len, names, mwhat, err)) goto done;
    }
    qsort(bs, nb, sizeof *bs, cmp_batch);
    for (size_t i = 0; i < nb; i++) {
        snprintf(what, sizeof what, "%s: %s", path, bs[i].name);
        int r = ember_cifar10_append_records(&ds, bs[i].data, bs[i].len, what, err);
        /* The raw copy goes as soon as it is converted: peak memory stays
         * near one copy of the split. */
        free(bs[i].data);
        bs[i].data = NULL;
        if (r) goto done;
    }
    if (ds.n == 0) {
        ember_err_set(err, "%s: the %s batches hold no images (every file is empty); get a fresh "
                           "copy of the archive", path, split == EMBER_CIFAR10_TRAIN ? "training" : "test");
        goto done;
    }
    finish(&ds, split, path, names, meta != NULL);
    *out = ds;
    memset(&ds, 0, sizeof ds);
    rc = 0;
done:
    ember_dataset_free(&ds);
    free_batches(bs, nb);
    free(meta);
    archive_read_free(a);
    return rc;
}

/* ---- extracted folders --------------------------------------------------- */

static int read_file_whole(const char *path, size_t cap, uint8_t **out, size_t *out_len,
                           ember_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ember_err_set(err, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return ember_err_set(err, "cannot read %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size > cap) {
        fclose(f);
        return ember_err_set(err, "%s is not a CIFAR-10 file (not a regular file or larger than "
                                  "%zu bytes)", path, cap);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *data = malloc(len ? len : 1);
    if (!data) {
        fclose(f);
        return ember_err_set(err, "out of memory reading %s", path);
    }
    if (len && fread(data, 1, len, f) != len) {
        int e = ferror(f) ? errno : 0;
        free(data);
        fclose(f);
        return ember_err_set(err, "cannot read %s: %s", path, e ? strerror(e) : "file shrank while being read");
    }
    fclose(f);
    *out = data;
    *out_len = len;
    return 0;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int ember_cifar10_read_dir(const char *dir, ember_cifar10_split split, ember_dataset *out,
                           ember_err *err) {
    if (!is_dir(dir))
        return ember_err_set(err, "CIFAR-10 folder %s: %s; pass root= the extracted "
                                  "cifar-10-batches-bin folder or cifar-10-binary.tar.gz", dir,
                             access(dir, F_OK) == 0 ? "not a folder" : "no such folder");
    char base[PATH_MAX];
    int n = snprintf(base, sizeof base, "%s/cifar-10-batches-bin", dir);
    if (n < 0 || (size_t)n >= sizeof base) return ember_err_set(err, "%s: path too long", dir);
    if (!is_dir(base)) snprintf(base, sizeof base, "%s", dir);

    int *ks = NULL;
    size_t nk = 0;
    int rc = -1;
    uint8_t *data = NULL;
    char path[PATH_MAX + 64];
    ember_dataset ds;
    memset(&ds, 0, sizeof ds);

    if (split == EMBER_CIFAR10_TRAIN) {
        DIR *d = opendir(base);
        if (!d) return ember_err_set(err, "cannot list %s: %s", base, strerror(errno));
        ks = malloc(MAX_TRAIN_FILES * sizeof *ks);
        if (!ks) {
            closedir(d);
            return ember_err_set(err, "out of memory listing %s", base);
        }
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            int k = train_index(de->d_name);
            if (k <= 0) continue;
            if (nk == MAX_TRAIN_FILES) {
                closedir(d);
                ember_err_set(err, "%s: more than %d batch files", base, MAX_TRAIN_FILES);
                goto done;
            }
            ks[nk++] = k;
        }
        closedir(d);
        qsort(ks, nk, sizeof *ks, cmp_int);
    } else {
        snprintf(path, sizeof path, "%s/test_batch.bin", base);
        if (is_file(path)) {
            ks = malloc(sizeof *ks);
            if (!ks) return ember_err_set(err, "out of memory");
            ks[nk++] = 0;
        }
    }
    if (nk == 0) {
        ember_err_set(err, "%s holds no %s: expected the extracted CIFAR-10 folder "
                           "(cifar-10-batches-bin); pass root= that folder or "
                           "cifar-10-binary.tar.gz", base,
                      split == EMBER_CIFAR10_TRAIN ? "training batches (data_batch_<k>.bin)"
                                                   : "test batch (test_batch.bin)");
        goto done;
    }
    char names[10][EMBER_DATASET_CLASS_NAME_MAX];
    int have_names = 0;
    snprintf(path, sizeof path, "%s/batches.meta.txt", base);
    if (is_file(path)) {
        size_t len;
        if (read_file_whole(path, MAX_META_BYTES, &data, &len, err)) goto done;
        if (parse_meta((const char *)data, len, names, path, err)) goto done;
        free(data);
        data = NULL;
        have_names = 1;
    }
    for (size_t i = 0; i < nk; i++) {
        if (split == EMBER_CIFAR10_TRAIN) snprintf(path, sizeof path, "%s/data_batch_%d.bin", base, ks[i]);
        else snprintf(path, sizeof path, "%s/test_batch.bin", base);
        size_t len;
        if (read_file_whole(path, (size_t)MAX_ENTRY_BYTES, &data, &len, err)) goto done;
        if (ember_cifar10_append_records(&ds, data, len, path, err)) goto done;
        free(data);
        data = NULL;
    }
    if (ds.n == 0) {
        ember_err_set(err, "%s: the %s batches hold no images (every file is empty); get a fresh "
                           "copy of the data", base, split == EMBER_CIFAR10_TRAIN ? "training" : "test");
        goto done;
    }
    finish(&ds, split, base, names, have_names);
    *out = ds;
    memset(&ds, 0, sizeof ds);
    rc = 0;
done:
    free(data);
    free(ks);
    ember_dataset_free(&ds);
    return rc;
}

/* ---- finding, downloading, verifying ------------------------------------- */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int default_root(char *buf, size_t cap, ember_err *err) {
    const char *v = getenv("EMBER_DATA");
    int n;
    if (v && v[0]) n = snprintf(buf, cap, "%s/cifar10", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && v[0]) n = snprintf(buf, cap, "%s/ember/cifar10", v);
    else if ((v = getenv("HOME")) && v[0]) n = snprintf(buf, cap, "%s/.cache/ember/cifar10", v);
    else
        return ember_err_set(err, "no cache folder for CIFAR-10: none of EMBER_DATA, XDG_CACHE_HOME, "
                                  "HOME is set; pass root= a folder or the archive");
    if (n < 0 || (size_t)n >= cap) return ember_err_set(err, "the CIFAR-10 cache folder path is too long");
    return 0;
}

/* An extracted folder: the batches folder itself or its parent. */
static int looks_extracted(const char *dir) {
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/cifar-10-batches-bin", dir);
    if (is_dir(p)) return 1;
    snprintf(p, sizeof p, "%s/data_batch_1.bin", dir);
    if (is_file(p)) return 1;
    snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    return is_file(p);
}

int ember_cifar10_load(const ember_cifar10_source *src, ember_cifar10_split split,
                       ember_dataset *out, ember_err *err) {
    ember_cifar10_source none;
    memset(&none, 0, sizeof none);
    if (!src) src = &none;
    const char *url = src->url && src->url[0] ? src->url : EMBER_CIFAR10_URL;
    const char *md5 = src->md5 && src->md5[0] ? src->md5
                      : strcmp(url, EMBER_CIFAR10_URL) == 0 ? EMBER_CIFAR10_MD5
                                                            : NULL;
    char root[PATH_MAX];
    int explicit_root = src->root && src->root[0];
    if (explicit_root) {
        if (strlen(src->root) >= sizeof root) return ember_err_set(err, "root path too long");
        snprintf(root, sizeof root, "%s", src->root);
    } else if (default_root(root, sizeof root, err)) {
        return -1;
    }

    struct stat st;
    int exists = stat(root, &st) == 0;
    if (exists && !S_ISDIR(st.st_mode)) {
        /* root is the archive itself: verified only against an md5 the
         * caller gave, since it may well be a subset or a private copy. */
        if (src->md5 && src->md5[0]) {
            char got[33];
            if (ember_md5_file(root, got, err)) return -1;
            if (strcasecmp(got, src->md5) != 0)
                return ember_err_set(err, "%s is corrupt or not the expected file (md5 %s, "
                                          "expected %s): delete it and get a fresh copy", root, got,
                                     src->md5);
        }
        return ember_cifar10_read_archive(root, split, out, err);
    }
    if (!exists && explicit_root &&
        (ends_with(root, ".tar.gz") || ends_with(root, ".tgz") || ends_with(root, ".tar")))
        return ember_err_set(err, "%s does not exist; pass root= the path of "
                                  "cifar-10-binary.tar.gz, or a cache folder together with "
                                  "download=true", root);

    char archive[PATH_MAX + 64];
    snprintf(archive, sizeof archive, "%s/%s", root, EMBER_CIFAR10_ARCHIVE);
    if (exists && is_file(archive)) {
        if (md5) {
            char got[33];
            if (ember_md5_file(archive, got, err)) return -1;
            if (strcasecmp(got, md5) != 0)
                return ember_err_set(err, "%s is corrupt (md5 %s, expected %s): delete it and "
                                          "cifar10() will download it again (with download=true)",
                                     archive, got, md5);
        }
        return ember_cifar10_read_archive(archive, split, out, err);
    }
    if (exists && looks_extracted(root)) return ember_cifar10_read_dir(root, split, out, err);

    if (!src->download)
        return ember_err_set(err, "CIFAR-10 not found: looked for %s and for an extracted "
                                  "cifar-10-batches-bin folder in %s. Pass download=true to "
                                  "fetch it (%s, 163 MB) into %s, or root= the path of "
                                  "cifar-10-binary.tar.gz or of its extracted folder%s", archive,
                             root, url, root,
                             explicit_root ? "" : " (or set EMBER_DATA to a folder holding cifar10/)");
    ember_fetch_opts fo;
    memset(&fo, 0, sizeof fo);
    fo.md5 = md5;
    fo.progress = src->progress;
    fo.progress_ctx = src->progress_ctx;
    /* Its message starts "downloading <url>"; the language binding names
     * the builtin, so no "cifar10: " here (it would read twice). */
    if (ember_fetch_url(url, archive, &fo, err)) return -1;
    return ember_cifar10_read_archive(archive, split, out, err);
}
