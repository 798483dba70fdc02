/* tensor.h — the engine's tensor: a typed, shaped view of contiguous memory
 * on one device. The contract shared by engine/ and cuda/.
 *
 * A tensor is a small value (copy it freely). It never owns memory by itself
 * unless `owner` says so: most tensors are views into an arena (see arena.h)
 * or into a model's parameter buffer. Data is always contiguous row-major
 * (C order): element (i0, i1, ..., in) lives at
 * ((i0 * shape[1] + i1) * shape[2] + ...) * dtype_size bytes from `data`.
 *
 * Include style: the ember_core target exports engine/ as an include root, so
 * users write #include "core/tensor.h" (and "cpu/...", "nn/..."). */
#ifndef EMBER_CORE_TENSOR_H
#define EMBER_CORE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types. Values are stable (they may be stored in files). */
typedef enum ember_dtype {
    EMBER_F32 = 0,
    EMBER_BF16 = 1, /* bfloat16: the top 16 bits of an IEEE f32 (see bf16.h) */
    EMBER_U8 = 2,
    EMBER_I32 = 3,
    EMBER_I64 = 4,
    EMBER_DTYPE_COUNT
} ember_dtype;

typedef enum ember_device {
    EMBER_DEV_CPU = 0,
    EMBER_DEV_CUDA = 1
} ember_device;

#define EMBER_MAX_DIMS 6

/* Who frees `data`. */
typedef enum ember_owner {
    EMBER_OWNER_NONE = 0,    /* a view: someone else (arena, buffer) owns it */
    EMBER_OWNER_MALLOC = 1,  /* host memory from malloc: ember_tensor_free frees it */
    EMBER_OWNER_BACKEND = 2  /* device memory from be->alloc: ember_tensor_free
                                calls be->dealloc (the tensor keeps `be`) */
} ember_owner;

struct ember_backend;

typedef struct ember_tensor {
    void *data;                     /* first element; NULL for an empty tensor */
    ember_dtype dtype;
    ember_device device;
    int ndim;                       /* 0 (a scalar) .. EMBER_MAX_DIMS */
    int64_t shape[EMBER_MAX_DIMS];  /* entries past ndim are 1 */
    ember_owner owner;
    const struct ember_backend *be; /* for EMBER_OWNER_BACKEND */
} ember_tensor;

/* Bytes per element; 0 for an invalid dtype. */
size_t ember_dtype_size(ember_dtype dt);
/* "f32", "bf16", "u8", "i32", "i64"; "?" for an invalid dtype. */
const char *ember_dtype_name(ember_dtype dt);
/* Safetensors names "F32", "BF16", "U8", "I32", "I64" and back. Returns -1
 * for an unknown name. */
const char *ember_dtype_st_name(ember_dtype dt);
int ember_dtype_from_st_name(const char *name, ember_dtype *out);
const char *ember_device_name(ember_device dev);

/* Product of the shape (1 for a scalar). */
int64_t ember_tensor_numel(const ember_tensor *t);
size_t ember_tensor_nbytes(const ember_tensor *t);

/* Fills *t as a non-owning view of `data`. Checks ndim, non-negative dims and
 * that the byte count does not overflow. */
int ember_tensor_view(ember_tensor *t, void *data, ember_dtype dt, ember_device dev,
                      int ndim, const int64_t *shape, ember_err *err);

/* Host tensor with malloc'd, zero-filled storage (owner MALLOC). */
int ember_tensor_host_new(ember_tensor *t, ember_dtype dt, int ndim,
                          const int64_t *shape, ember_err *err);

/* Releases what the tensor owns (nothing for a view) and zeroes *t. */
void ember_tensor_free(ember_tensor *t);

/* Same dtype, device and shape. */
int ember_tensor_same_shape(const ember_tensor *a, const ember_tensor *b);

/* "[4, 64, 384] f32 cuda" into buf; returns buf. */
const char *ember_tensor_describe(const ember_tensor *t, char *buf, size_t len);

/* Checks used by backends to validate op arguments; each returns 0 or fills
 * err with "<what>: expected ..., got ..." and returns -1. */
int ember_tensor_check(const ember_tensor *t, const char *what, ember_dtype dt,
                       ember_device dev, int64_t numel, ember_err *err);

#ifdef __cplusplus
}
#endif
#endif
