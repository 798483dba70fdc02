/* arena.c — bump allocation inside one backend block. */
#include "core/arena.h"

#include <string.h>

int ember_arena_init(ember_arena *a, const ember_backend *be, size_t cap, ember_err *err) {
    memset(a, 0, sizeof *a);
    if (!be) return ember_err_set(err, "arena: no backend");
    if (cap == 0) return ember_err_set(err, "arena: zero capacity");
    void *p = NULL;
    if (be->alloc(be, cap, &p, err)) return ember_err_prefix(err, "arena of %zu bytes: ", cap);
    a->be = be;
    a->device = be->device;
    a->base = p;
    a->cap = cap;
    return 0;
}

void ember_arena_init_measure(ember_arena *a, ember_device dev) {
    memset(a, 0, sizeof *a);
    a->device = dev;
    a->cap = SIZE_MAX / 4;
    a->measuring = 1;
}

void ember_arena_release(ember_arena *a) {
    if (a->be && a->base) a->be->dealloc(a->be, a->base);
    memset(a, 0, sizeof *a);
}

int ember_arena_alloc(ember_arena *a, size_t bytes, size_t align, void **out, ember_err *err) {
    *out = NULL;
    if (align == 0 || (align & (align - 1)))
        return ember_err_set(err, "arena: alignment %zu is not a power of two", align);
    size_t start = (a->used + align - 1) & ~(align - 1);
    if (start < a->used || start > a->cap || bytes > a->cap - start)
        return ember_err_set(err,
                             "arena out of room: asked for %zu bytes, %zu of %zu left "
                             "(make the arena larger or the batch smaller)",
                             bytes, a->cap > a->used ? a->cap - a->used : 0, a->cap);
    a->used = start + bytes;
    if (a->used > a->peak) a->peak = a->used;
    *out = a->measuring ? NULL : a->base + start;
    return 0;
}

int ember_arena_tensor(ember_arena *a, ember_tensor *t, ember_dtype dt, int ndim,
                       const int64_t *shape, ember_err *err) {
    if (ember_tensor_view(t, NULL, dt, a->device, ndim, shape, err)) return -1;
    void *p;
    if (ember_arena_alloc(a, ember_tensor_nbytes(t), EMBER_ARENA_ALIGN, &p, err)) return -1;
    t->data = p;
    return 0;
}
