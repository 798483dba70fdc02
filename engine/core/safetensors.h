/* safetensors.h — reading (mmap) and writing the safetensors format: an
 * 8-byte little-endian header length, a JSON header mapping tensor names
 * (PyTorch-style: "blocks.0.attn.qkv.weight") to dtype, shape and byte
 * range, then the raw little-endian data. Everything read is validated
 * (header size, JSON shape, dtypes, offsets inside the file, byte counts
 * matching shapes, no overlapping ranges) so that a corrupt or hostile file
 * gives a clear error and never a crash. */
#ifndef EMBER_CORE_SAFETENSORS_H
#define EMBER_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Headers larger than this are refused (the format's own reference
 * implementation uses the same bound). */
#define EMBER_ST_MAX_HEADER (100u * 1024u * 1024u)

typedef struct ember_st_entry {
    char *name;
    ember_dtype dtype;
    int ndim;
    int64_t shape[EMBER_MAX_DIMS];
    size_t offset; /* from the start of the data section */
    size_t nbytes;
} ember_st_entry;

typedef struct ember_st_file {
    void *map;          /* the mmap of the whole file (NULL for parse_buffer) */
    size_t map_len;
    const uint8_t *data; /* start of the data section */
    size_t data_len;
    ember_st_entry *entries; /* in file order of their offsets */
    size_t count;
    char *metadata_json; /* the "__metadata__" object as JSON text, or NULL */
    void *owned;         /* a buffer the file owns (malloc'd, freed by ember_st_close): the
                            tensors of a file converted on reading (data/torch_ckpt.h) */
} ember_st_file;

/* Maps and validates a file. On failure *f is left empty (closing it is safe). */
int ember_st_open(ember_st_file *f, const char *path, ember_err *err);
/* Validates a file image in memory; f borrows buf, which must outlive f. */
int ember_st_parse_buffer(ember_st_file *f, const void *buf, size_t len, ember_err *err);
/* Frees what f holds (entries, the mapping or owned buffer); safe on an empty f. */
void ember_st_close(ember_st_file *f);

const ember_st_entry *ember_st_find(const ember_st_file *f, const char *name);

/* A read-only host view of a tensor in the file. Fails if the bytes are not
 * aligned for the dtype (use ember_st_copy then). */
int ember_st_view(const ember_st_file *f, const char *name, ember_tensor *out, ember_err *err);
/* Copies a tensor into dst (host), which must have the same dtype and shape
 * (or the same numel when allow_reshape). */
int ember_st_copy(const ember_st_file *f, const char *name, ember_tensor *dst, int allow_reshape,
                  ember_err *err);

typedef struct ember_st_item {
    const char *name;
    const ember_tensor *t; /* host tensor */
} ember_st_item;

/* Writes items (in order) to path, atomically: into a temporary file in
 * path's folder, fsync'd, renamed over path, the folder fsync'd
 * (fileio/atomic.h, the one writer of every file Ember saves), so a crash
 * or a full disk leaves an earlier file of that name as it was.
 * metadata_json: NULL or a JSON object of string values. err gets the
 * errno of the cause (ENOSPC, EFBIG, EACCES, ENOENT...), so callers can
 * say what to do; the message names path once. */
struct ember_ferr;
int ember_st_save(const char *path, const ember_st_item *items, size_t n,
                  const char *metadata_json, struct ember_ferr *err);
/* ember_st_save with the message in an ember_err. */
int ember_st_write(const char *path, const ember_st_item *items, size_t n,
                   const char *metadata_json, ember_err *err);

#ifdef __cplusplus
}
#endif
#endif
