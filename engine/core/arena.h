/* arena.h — one big device allocation, sub-allocated by bumping a pointer.
 * The training step allocates nothing: models size an arena once (a
 * "measuring" arena counts the bytes a plan needs without allocating), then
 * carve their activations, gradients and optimizer state out of it.
 * mark/reset gives scoped scratch space (e.g. per evaluation batch). */
#ifndef EMBER_CORE_ARENA_H
#define EMBER_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_ARENA_ALIGN 256 /* every tensor starts 256-byte aligned */

typedef struct ember_arena {
    const ember_backend *be; /* NULL for a measuring arena */
    ember_device device;
    uint8_t *base;
    size_t cap;
    size_t used;
    size_t peak;
    int measuring; /* counts bytes only: hands out NULL data pointers */
} ember_arena;

/* Allocates cap bytes through be->alloc. */
int ember_arena_init(ember_arena *a, const ember_backend *be, size_t cap, ember_err *err);
/* An arena that only measures: allocations always succeed with data NULL and
 * `peak` tells how big a real arena must be. */
void ember_arena_init_measure(ember_arena *a, ember_device dev);
/* Frees the block (be->dealloc); safe on a zeroed or measuring arena. */
void ember_arena_release(ember_arena *a);

/* bytes from the arena aligned to `align` (a power of two, >= 1). Fails with
 * a message giving the request and the room left when it does not fit. */
int ember_arena_alloc(ember_arena *a, size_t bytes, size_t align, void **out, ember_err *err);
/* A tensor view of a fresh EMBER_ARENA_ALIGN-aligned block (not zeroed). */
int ember_arena_tensor(ember_arena *a, ember_tensor *t, ember_dtype dt, int ndim,
                       const int64_t *shape, ember_err *err);

static inline size_t ember_arena_mark(const ember_arena *a) { return a->used; }
/* Frees everything allocated after `mark` (which must come from ember_arena_mark). */
static inline void ember_arena_reset(ember_arena *a, size_t mark) {
    if (mark <= a->used) a->used = mark;
}

#ifdef __cplusplus
}
#endif
#endif
