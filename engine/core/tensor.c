/* tensor.c — dtype tables, shape arithmetic and argument checks for tensors. */
#include "core/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"

static const struct {
    const char *name, *st;
    size_t size;
} dtypes[EMBER_DTYPE_COUNT] = {
    [EMBER_F32] = {"f32", "F32", 4}, [EMBER_BF16] = {"bf16", "BF16", 2},
    [EMBER_U8] = {"u8", "U8", 1},    [EMBER_I32] = {"i32", "I32", 4},
    [EMBER_I64] = {"i64", "I64", 8},
};

static int dtype_ok(ember_dtype dt) { return (unsigned)dt < EMBER_DTYPE_COUNT; }

size_t ember_dtype_size(ember_dtype dt) { return dtype_ok(dt) ? dtypes[dt].size : 0; }
const char *ember_dtype_name(ember_dtype dt) { return dtype_ok(dt) ? dtypes[dt].name : "?"; }
const char *ember_dtype_st_name(ember_dtype dt) { return dtype_ok(dt) ? dtypes[dt].st : "?"; }

int ember_dtype_from_st_name(const char *name, ember_dtype *out) {
    for (int i = 0; i < EMBER_DTYPE_COUNT; i++)
        if (strcmp(name, dtypes[i].st) == 0) {
            *out = (ember_dtype)i;
            return 0;
        }
    return -1;
}

const char *ember_device_name(ember_device dev) {
    return dev == EMBER_DEV_CPU ? "cpu" : dev == EMBER_DEV_CUDA ? "cuda" : "?";
}

int64_t ember_tensor_numel(const ember_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t ember_tensor_nbytes(const ember_tensor *t) {
    return (size_t)ember_tensor_numel(t) * ember_dtype_size(t->dtype);
}

static int shape_ok(ember_dtype dt, int ndim, const int64_t *shape, ember_err *err) {
    if (!dtype_ok(dt)) return ember_err_set(err, "invalid dtype %d", (int)dt);
    if (ndim < 0 || ndim > EMBER_MAX_DIMS)
        return ember_err_set(err, "a tensor has 0 to %d dimensions, not %d", EMBER_MAX_DIMS, ndim);
    /* Keep byte counts far below SIZE_MAX so later arithmetic cannot wrap. */
    const double limit = 9.0e15;
    double n = (double)dtypes[dt].size;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return ember_err_set(err, "dimension %d is negative (%lld)", i, (long long)shape[i]);
        n *= (double)shape[i];
    }
    if (n > limit) return ember_err_set(err, "tensor too large (%.3g bytes)", n);
    return 0;
}

int ember_tensor_view(ember_tensor *t, void *data, ember_dtype dt, ember_device dev, int ndim,
                      const int64_t *shape, ember_err *err) {
    if (shape_ok(dt, ndim, shape, err)) return -1;
    memset(t, 0, sizeof *t);
    t->data = data;
    t->dtype = dt;
    t->device = dev;
    t->ndim = ndim;
    for (int i = 0; i < EMBER_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    t->owner = EMBER_OWNER_NONE;
    return 0;
}

int ember_tensor_host_new(ember_tensor *t, ember_dtype dt, int ndim, const int64_t *shape,
                          ember_err *err) {
    if (ember_tensor_view(t, NULL, dt, EMBER_DEV_CPU, ndim, shape, err)) return -1;
    size_t bytes = ember_tensor_nbytes(t);
    t->data = calloc(bytes ? bytes : 1, 1);
    if (!t->data) return ember_err_set(err, "out of memory allocating %zu bytes", bytes);
    t->owner = EMBER_OWNER_MALLOC;
    return 0;
}

void ember_tensor_free(ember_tensor *t) {
    if (!t) return;
    if (t->owner == EMBER_OWNER_MALLOC)
        free(t->data);
    else if (t->owner == EMBER_OWNER_BACKEND && t->be && t->data)
        t->be->dealloc(t->be, t->data);
    memset(t, 0, sizeof *t);
}

int ember_tensor_same_shape(const ember_tensor *a, const ember_tensor *b) {
    if (a->dtype != b->dtype || a->device != b->device || a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *ember_tensor_describe(const ember_tensor *t, char *buf, size_t len) {
    size_t off = 0;
    if (!len) return buf;
    buf[0] = '\0';
    off += (size_t)snprintf(buf + off, len - off, "[");
    for (int i = 0; i < t->ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (off < len)
        snprintf(buf + off, len - off, "] %s %s", ember_dtype_name(t->dtype), ember_device_name(t->device));
    return buf;
}

int ember_tensor_check(const ember_tensor *t, const char *what, ember_dtype dt, ember_device dev,
                       int64_t numel, ember_err *err) {
    if (!t) return ember_err_set(err, "%s: missing tensor", what);
    char d[128];
    if (t->dtype != dt)
        return ember_err_set(err, "%s: expected dtype %s, got %s", what, ember_dtype_name(dt),
                             ember_tensor_describe(t, d, sizeof d));
    if (t->device != dev)
        return ember_err_set(err, "%s: expected a tensor on %s, got %s", what, ember_device_name(dev),
                             ember_tensor_describe(t, d, sizeof d));
    if (numel >= 0 && ember_tensor_numel(t) != numel)
        return ember_err_set(err, "%s: expected %lld elements, got %s", what, (long long)numel,
                             ember_tensor_describe(t, d, sizeof d));
    if (!t->data && ember_tensor_numel(t) > 0)
        return ember_err_set(err, "%s: tensor has no data", what);
    return 0;
}
