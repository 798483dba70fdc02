/* arena.h — the backend's own device arena: one cudaMalloc at open, carved
 * into 256-byte-aligned pieces (cuBLASLt workspace, reduction partials,
 * device-side counters). Nothing is freed piecemeal; the whole arena goes at
 * close. Tensors' memory is the engine's business (core arenas over
 * be->alloc); this one only serves the backend itself, so no op ever calls
 * cudaMalloc, which a captured graph would forbid. */
#ifndef EMBER_CUDA_ARENA_H
#define EMBER_CUDA_ARENA_H

#include <stddef.h>

#include "core/error.h"

typedef struct ecu_arena {
    char *base;
    size_t size, used;
} ecu_arena;

/* One cudaMalloc of `bytes`; on failure err says how much and why. */
int ecu_arena_init(ecu_arena *a, size_t bytes, ember_err *err);
/* A piece of `bytes` aligned to 256 bytes, or -1 with a message when the
 * arena is exhausted. */
int ecu_arena_take(ecu_arena *a, size_t bytes, void **out, ember_err *err);
void ecu_arena_release(ecu_arena *a);

#endif
