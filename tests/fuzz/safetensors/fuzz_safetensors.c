/* fuzz_safetensors.c — libFuzzer target for the safetensors reader
 * (engine/core): any bytes, parsed from memory and mapped from a file, must
 * give a validated table of tensors or an error with a message. Every entry
 * that is accepted must lie inside the data, not overlap another, be found
 * by name, copy out and view (when aligned); what was read must write back
 * (ember_st_write) and read again to the same names, shapes and bytes. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/safetensors.h"

static int fd = -1;
static char map_path[64];
static char dir[512], out_path[600];

static void fatal(const char *what)
{
    perror(what);
    abort(); /* a broken harness, not a finding */
}

static void cleanup(void)
{
    unlink(out_path);
    rmdir(dir);
}

/* The input goes to a memfd (or an unlinked file in /dev/shm or $TMPDIR)
 * for ember_st_open; the round trip needs a real folder, since the writer
 * renames a temporary file over its target. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!tmp) tmp = "/tmp";
    fd = memfd_create("safetensors", MFD_CLOEXEC);
    if (fd < 0) {
        char tmpl[560];
        snprintf(tmpl, sizeof tmpl, "%s/fuzz-st-XXXXXX", tmp);
        fd = mkstemp(tmpl);
        if (fd < 0) fatal("fuzz_safetensors: temporary file");
        unlink(tmpl);
    }
    snprintf(map_path, sizeof map_path, "/proc/self/fd/%d", fd);
    snprintf(dir, sizeof dir, "%s/fuzz-st-XXXXXX", tmp);
    if (!mkdtemp(dir)) fatal("fuzz_safetensors: mkdtemp");
    snprintf(out_path, sizeof out_path, "%s/round.safetensors", dir);
    atexit(cleanup);
    return 0;
}

static void file_set(const void *data, size_t len)
{
    if (ftruncate(fd, 0) != 0) fatal("fuzz_safetensors: ftruncate");
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = pwrite(fd, p + done, len - done, (off_t)done);
        if (w <= 0) fatal("fuzz_safetensors: pwrite");
        done += (size_t)w;
    }
}

static size_t entry_numel(const ember_st_entry *e)
{
    size_t n = 1;
    for (int d = 0; d < e->ndim; d++) n *= (size_t)e->shape[d];
    return n;
}

static int same_entries(const ember_st_file *a, const ember_st_file *b)
{
    if (a->count != b->count || a->data_len != b->data_len) return 0;
    if ((a->metadata_json == NULL) != (b->metadata_json == NULL) ||
        (a->metadata_json && strcmp(a->metadata_json, b->metadata_json) != 0))
        return 0;
    for (size_t i = 0; i < a->count; i++) {
        const ember_st_entry *x = &a->entries[i], *y = &b->entries[i];
        if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->ndim != y->ndim || x->offset != y->offset ||
            x->nbytes != y->nbytes || memcmp(x->shape, y->shape, sizeof x->shape))
            return 0;
    }
    return 1;
}

/* Checks every entry and copies each into a host tensor (tensors[i]). */
static void check_entries(const ember_st_file *f, ember_tensor *tensors)
{
    for (size_t i = 0; i < f->count; i++) {
        const ember_st_entry *e = &f->entries[i];
        if (!e->name || !e->name[0] || e->ndim < 0 || e->ndim > EMBER_MAX_DIMS) abort();
        if (e->offset > f->data_len || e->nbytes > f->data_len - e->offset) abort();
        if (entry_numel(e) * ember_dtype_size(e->dtype) != e->nbytes) abort();
        if (i && e->offset < f->entries[i - 1].offset) abort(); /* in offset order */
        if (i && e->nbytes && f->entries[i - 1].nbytes &&
            f->entries[i - 1].offset + f->entries[i - 1].nbytes > e->offset)
            abort(); /* overlap */
        if (ember_st_find(f, e->name) != e) abort();

        ember_err err = {{0}};
        ember_tensor v;
        if (ember_st_view(f, e->name, &v, &err) == 0) {
            if (ember_tensor_nbytes(&v) != e->nbytes || (e->nbytes && memcmp(v.data, f->data + e->offset, e->nbytes)))
                abort();
        } else if (!err.msg[0] || ((uintptr_t)(f->data + e->offset) % ember_dtype_size(e->dtype)) == 0) {
            abort(); /* only misalignment may refuse a view */
        }

        ember_tensor *t = &tensors[i];
        if (ember_tensor_host_new(t, e->dtype, e->ndim, e->shape, &err) != 0) abort();
        if (ember_st_copy(f, e->name, t, 0, &err) != 0) abort();
        if (e->nbytes && memcmp(t->data, f->data + e->offset, e->nbytes) != 0) abort();
        /* flat copy: allowed by reshape only */
        ember_tensor flat;
        int64_t n = (int64_t)entry_numel(e);
        if (ember_tensor_host_new(&flat, e->dtype, 1, &n, &err) != 0) abort();
        if (ember_st_copy(f, e->name, &flat, 1, &err) != 0) abort();
        if (e->ndim != 1 && ember_st_copy(f, e->name, &flat, 0, &err) == 0) abort();
        ember_tensor_free(&flat);
        /* the wrong dtype is refused */
        ember_tensor other;
        ember_dtype odt = e->dtype == EMBER_U8 ? EMBER_F32 : EMBER_U8;
        if (ember_tensor_host_new(&other, odt, e->ndim, e->shape, &err) != 0) abort();
        if (ember_st_copy(f, e->name, &other, 1, &err) == 0) abort();
        ember_tensor_free(&other);
    }
    if (ember_st_find(f, "") != NULL) abort();
}

/* Writes what was read and reads it back: the same tensors must come out. */
static void round_trip(const ember_st_file *f, ember_tensor *tensors)
{
    ember_st_item *items = calloc(f->count ? f->count : 1, sizeof *items);
    if (!items) return;
    for (size_t i = 0; i < f->count; i++) items[i] = (ember_st_item){f->entries[i].name, &tensors[i]};
    ember_err err = {{0}};
    if (ember_st_write(out_path, items, f->count, f->metadata_json, &err) != 0) {
        fprintf(stderr, "round trip: write failed: %s\n", err.msg);
        abort();
    }
    ember_st_file g;
    if (ember_st_open(&g, out_path, &err) != 0) {
        fprintf(stderr, "round trip: read back failed: %s\n", err.msg);
        abort();
    }
    if (g.count != f->count) abort();
    if ((f->metadata_json == NULL) != (g.metadata_json == NULL) ||
        (f->metadata_json && strcmp(f->metadata_json, g.metadata_json) != 0))
        abort();
    for (size_t i = 0; i < f->count; i++) {
        const ember_st_entry *a = &f->entries[i], *b = ember_st_find(&g, a->name);
        if (!b || b->dtype != a->dtype || b->ndim != a->ndim || b->nbytes != a->nbytes ||
            memcmp(b->shape, a->shape, sizeof a->shape) ||
            (a->nbytes && memcmp(g.data + b->offset, f->data + a->offset, a->nbytes)))
            abort();
    }
    ember_st_close(&g);
    free(items);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ember_st_file f;
    ember_err err = {{0}};
    int rc = ember_st_parse_buffer(&f, data, size, &err);
    if (rc != 0) {
        if (!err.msg[0] || f.entries || f.count || f.metadata_json) abort();
        ember_st_close(&f); /* safe on a failed parse */
    }

    /* the same bytes through mmap must give the same answer */
    file_set(data, size);
    ember_st_file m;
    ember_err merr = {{0}};
    int mrc = ember_st_open(&m, map_path, &merr);
    if ((mrc == 0) != (rc == 0) || (mrc != 0 && !merr.msg[0])) abort();
    if (mrc == 0) {
        if (!same_entries(&f, &m)) abort();
        ember_st_close(&m);
    } else {
        ember_st_close(&m);
    }
    if (rc != 0) return 0;

    ember_tensor *tensors = calloc(f.count ? f.count : 1, sizeof *tensors);
    if (tensors) {
        check_entries(&f, tensors);
        round_trip(&f, tensors);
        for (size_t i = 0; i < f.count; i++) ember_tensor_free(&tensors[i]);
        free(tensors);
    }
    ember_st_close(&f);
    return 0;
}
