/* fuzz_torch_ckpt.c — libFuzzer target for PyTorch checkpoints
 * (engine/data/torch_pickle.c, torch_ckpt.c): any bytes must give a table
 * of tensors or an error with a message — never a crash, a leak, a read
 * out of bounds or a huge allocation.
 *
 * Input: first byte 'Z' — the rest is a whole checkpoint file, read from
 *          memory (the seeds are the fixtures of tests/fixtures/torch);
 *        first byte 'P' — the rest is a data.pkl: it is unpickled, and
 *          when it describes tensors the harness writes a zip around it
 *          (libarchive's writer) with storages of the declared sizes
 *          filled with a pattern, reads that, and checks every tensor
 *          element by element against its own gather (offset, sizes,
 *          strides, conversions), so the copying is checked, not only
 *          the parsing;
 *        anything else — both, on the same bytes. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/torch_ckpt.h"
#include "data/torch_pickle.h"

/* The zip round trip is skipped above these (the reader's own bounds are
 * far larger; the harness stays fast). */
#define MAX_STORED ((size_t)1 << 22)
#define MAX_OUT ((int64_t)1 << 22)

static int verbose; /* FUZZ_VERBOSE=1: print each outcome (to check seeds) */

static void check_file(const ember_st_file *f)
{
    for (size_t i = 0; i < f->count; i++) {
        const ember_st_entry *e = &f->entries[i];
        if (!e->name || !e->name[0] || e->ndim < 0 || e->ndim > EMBER_MAX_DIMS) abort();
        if (e->offset % 64 || e->offset > f->data_len || e->nbytes > f->data_len - e->offset) abort();
        size_t n = 1;
        for (int d = 0; d < e->ndim; d++) n *= (size_t)e->shape[d];
        if (n * ember_dtype_size(e->dtype) != e->nbytes) abort();
        if (i && e->offset < f->entries[i - 1].offset + f->entries[i - 1].nbytes) abort();
        if (e->nbytes) {
            volatile uint8_t sum = 0;
            sum ^= f->data[e->offset];
            sum ^= f->data[e->offset + e->nbytes - 1]; /* every byte is readable */
            (void)sum;
        }
    }
}

static void read_file(const uint8_t *data, size_t size)
{
    ember_st_file f;
    ember_err err = {{0}};
    if (ember_torch_parse_buffer(&f, data, size, "fuzz.pt", &err) != 0) {
        if (verbose) fprintf(stderr, "file: %s\n", err.msg);
        if (!err.msg[0] || f.entries || f.count || f.owned || f.data) abort();
        ember_st_close(&f);
        return;
    }
    if (verbose) fprintf(stderr, "file: %zu tensors\n", f.count);
    check_file(&f);
    ember_st_close(&f);
}

/* ---- the reference gather ---------------------------------------------- */

static uint8_t pattern(size_t storage, size_t i) { return (uint8_t)((i * 131 + storage * 17 + (i >> 8)) ^ 0x5c); }

/* An independent float16 decoding (arithmetic, not bit moves). */
static float ref_half(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp((double)m, -24);
    else v = ldexp((double)(1024 + m), e - 25);
    return (float)(s ? -v : v);
}

static int same_float(float a, float b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Element k (row-major) of tensor t, checked against what the reader wrote. */
static void check_tensor(const ember_torch_index *ix, const ember_torch_tensor *t, uint8_t *const *stor,
                         const ember_st_file *f)
{
    const ember_st_entry *e = ember_st_find(f, t->name);
    if (!e) abort();
    const ember_torch_storage *st = &ix->storages[t->storage];
    size_t isz = ember_torch_dtype_size(st->dtype);
    int64_t n = ember_torch_tensor_numel(t);
    for (int64_t k = 0; k < n; k++) {
        int64_t rem = k, at = t->offset;
        for (int d = t->ndim - 1; d >= 0; d--) {
            at += (rem % t->size[d]) * t->stride[d];
            rem /= t->size[d];
        }
        if (at < 0 || at >= st->numel) abort(); /* the unpickler let a view out */
        const uint8_t *src = stor[t->storage] + (size_t)at * isz;
        const uint8_t *dst = f->data + e->offset + (size_t)k * ember_dtype_size(e->dtype);
        float fv;
        int32_t iv;
        switch (st->dtype) {
        case EMBER_TORCH_F16: {
            uint16_t h;
            memcpy(&h, src, 2);
            memcpy(&fv, dst, 4);
            if (e->dtype != EMBER_F32 || !same_float(fv, ref_half(h))) abort();
            break;
        }
        case EMBER_TORCH_F64: {
            double d;
            memcpy(&d, src, 8);
            memcpy(&fv, dst, 4);
            float want = fabs(d) >= 3.4028235677973366e38 ? (d < 0 ? -INFINITY : INFINITY)
                         : fabs(d) > 3.4028234663852886e38 ? (d < 0 ? -3.4028234663852886e38f : 3.4028234663852886e38f)
                                                            : (float)d;
            if (e->dtype != EMBER_F32 || !same_float(fv, want)) abort();
            break;
        }
        case EMBER_TORCH_I16: {
            int16_t v;
            memcpy(&v, src, 2);
            memcpy(&iv, dst, 4);
            if (e->dtype != EMBER_I32 || iv != v) abort();
            break;
        }
        case EMBER_TORCH_I8:
            memcpy(&iv, dst, 4);
            if (e->dtype != EMBER_I32 || iv != (int8_t)*src) abort();
            break;
        case EMBER_TORCH_BOOL:
            if (e->dtype != EMBER_U8 || *dst != (*src != 0)) abort();
            break;
        default:
            if (ember_dtype_size(e->dtype) != isz || memcmp(dst, src, isz)) abort();
        }
    }
}

/* ---- a zip around a pickle ------------------------------------------------ */

static int add_member(struct archive *w, const char *name, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    if (!e) return -1;
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    int rc = archive_write_header(w, e) == ARCHIVE_OK && (!len || archive_write_data(w, data, len) == (la_ssize_t)len)
                 ? 0
                 : -1;
    archive_entry_free(e);
    return rc;
}

static void round_trip(const uint8_t *pkl, size_t len, const ember_torch_index *ix)
{
    size_t stored = 0;
    int64_t out = 0;
    for (size_t s = 0; s < ix->n_storages; s++) {
        size_t b = (size_t)ix->storages[s].numel * ember_torch_dtype_size(ix->storages[s].dtype);
        if (b > MAX_STORED || stored + b > MAX_STORED) return;
        stored += b;
    }
    for (size_t i = 0; i < ix->n_tensors; i++) {
        out += ember_torch_tensor_numel(&ix->tensors[i]);
        if (out > MAX_OUT) return;
    }
    uint8_t **stor = calloc(ix->n_storages + 1, sizeof *stor);
    size_t cap = len + stored + 512 * (ix->n_storages + 8) + 4096;
    uint8_t *zip = malloc(cap);
    struct archive *w = archive_write_new();
    int ok = stor && zip && w;
    for (size_t s = 0; ok && s < ix->n_storages; s++) {
        size_t b = (size_t)ix->storages[s].numel * ember_torch_dtype_size(ix->storages[s].dtype);
        ok = (stor[s] = malloc(b ? b : 1)) != NULL;
        for (size_t i = 0; ok && i < b; i++) stor[s][i] = pattern(s, i);
    }
    size_t used = 0;
    ok = ok && archive_write_set_format_zip(w) == ARCHIVE_OK &&
         archive_write_zip_set_compression_store(w) == ARCHIVE_OK &&
         archive_write_set_bytes_per_block(w, 0) == ARCHIVE_OK &&
         archive_write_open_memory(w, zip, cap, &used) == ARCHIVE_OK && add_member(w, "fz/data.pkl", pkl, len) == 0 &&
         add_member(w, "fz/byteorder", "little", 6) == 0;
    for (size_t s = 0; ok && s < ix->n_storages; s++) {
        char name[128];
        snprintf(name, sizeof name, "fz/data/%s", ix->storages[s].key);
        size_t b = (size_t)ix->storages[s].numel * ember_torch_dtype_size(ix->storages[s].dtype);
        ok = add_member(w, name, stor[s], b) == 0;
    }
    ok = ok && archive_write_close(w) == ARCHIVE_OK;
    if (w) archive_write_free(w);
    if (ok) {
        ember_st_file f;
        ember_err err = {{0}};
        /* the pickle was accepted and every storage has its declared size */
        if (ember_torch_parse_buffer(&f, zip, used, "fuzz.pt", &err) != 0) {
            fprintf(stderr, "a valid pickle in a well-formed zip was refused: %s\n", err.msg);
            abort();
        }
        check_file(&f);
        if (f.count != ix->n_tensors) abort();
        for (size_t i = 0; i < ix->n_tensors; i++) check_tensor(ix, &ix->tensors[i], stor, &f);
        if (verbose) fprintf(stderr, "pickle: %zu tensors checked in a zip\n", ix->n_tensors);
        ember_st_close(&f);
    } else if (zip && w) {
        fprintf(stderr, "fuzz_torch_ckpt: the harness could not write its zip\n");
        abort(); /* a broken harness, not a finding */
    }
    for (size_t s = 0; stor && s < ix->n_storages; s++) free(stor[s]);
    free(stor);
    free(zip);
}

static void read_pickle(const uint8_t *data, size_t size)
{
    ember_torch_index ix;
    ember_err err = {{0}};
    if (ember_torch_unpickle(data, size, "fuzz.pt", &ix, &err) != 0) {
        if (verbose) fprintf(stderr, "pickle: %s\n", err.msg);
        if (!err.msg[0] || ix.tensors || ix.n_tensors || ix.storages) abort();
        return;
    }
    for (size_t i = 0; i < ix.n_tensors; i++) {
        const ember_torch_tensor *t = &ix.tensors[i];
        if (!t->name || !t->name[0] || t->storage >= ix.n_storages || t->ndim < 0 || t->ndim > EMBER_MAX_DIMS) abort();
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ix.tensors[j].name, t->name)) abort();
    }
    round_trip(data, size, &ix);
    ember_torch_index_free(&ix);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size && data[0] == 'Z') {
        read_file(data + 1, size - 1);
    } else if (size && data[0] == 'P') {
        read_pickle(data + 1, size - 1);
    } else {
        read_file(data, size);
        read_pickle(data, size);
    }
    return 0;
}
