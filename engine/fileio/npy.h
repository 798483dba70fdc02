/* npy.h — NumPy's file formats, written without NumPy: .npy (format 1.0,
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html)
 * and .npz (a zip of .npy members, stored uncompressed as np.savez writes
 * them). numpy.load reads both without allow_pickle: only plain dtypes are
 * written (little-endian float32 '<f4' and fixed-width unicode '<U<n>').
 * Files are written atomically (atomic.h). */
#ifndef EMBER_FILEIO_NPY_H
#define EMBER_FILEIO_NPY_H

#include "atomic.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_NPY_MAX_DIMS 8

/* The header of a C-ordered array: magic, version 1.0, length and the dict
 * "{'descr': ..., 'fortran_order': False, 'shape': (...), }" padded with
 * spaces to a multiple of 64 bytes (what numpy itself writes). *len gets
 * its length. */
int ember_npy_header(const char *descr, const int64_t *shape, int ndim, char *buf, size_t cap,
                     size_t *len, ember_ferr *err);

/* A float32 array as a .npy file at path. */
int ember_npy_save_f32(const char *path, const float *data, const int64_t *shape, int ndim,
                       ember_ferr *err);

/* ---- .npz ---- */
typedef struct ember_npz_entry ember_npz_entry;
typedef struct ember_npz {
    ember_afile af;
    ember_npz_entry *e;
    size_t n, cap;
    uint64_t offset; /* bytes written so far */
    uint16_t dos_time, dos_date;
} ember_npz;

int ember_npz_open(ember_npz *z, const char *path, ember_ferr *err);
/* Adds "<key>.npy" (numpy.load(...)[key] gives it back). key: a plain
 * name (no '/'), unique within the archive. */
int ember_npz_add_f32(ember_npz *z, const char *key, const float *data, const int64_t *shape,
                      int ndim, ember_ferr *err);
/* A 1-D array of n UTF-8 strings as numpy's fixed-width unicode. */
int ember_npz_add_strings(ember_npz *z, const char *key, const char *const *strs, size_t n,
                          ember_ferr *err);
/* Writes the central directory and renames the archive into place; on
 * failure nothing is left behind. Releases z either way. */
int ember_npz_commit(ember_npz *z, ember_ferr *err);
void ember_npz_abort(ember_npz *z);

#ifdef __cplusplus
}
#endif
#endif
