/* arena.cu — the backend's own device arena (see arena.h). */
#include "arena.h"
#include "check.h"

int ecu_arena_init(ecu_arena *a, size_t bytes, ember_err *err)
{
    a->base = NULL;
    a->size = a->used = 0;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        ecu_fail_cuda(err, e, "cudaMalloc(arena)", "arena", __FILE__, __LINE__);
        return -1;
    }
    a->base = (char *)p;
    a->size = bytes;
    return 0;
}

int ecu_arena_take(ecu_arena *a, size_t bytes, void **out, ember_err *err)
{
    size_t off = (a->used + 255) & ~(size_t)255;
    if (!a->base || off > a->size || bytes > a->size - off)
        return ecu_errf(err, "CUDA backend arena: %zu bytes asked, %zu of %zu left", bytes,
                        a->size - (off < a->size ? off : a->size), a->size);
    *out = a->base + off;
    a->used = off + bytes;
    return 0;
}

void ecu_arena_release(ecu_arena *a)
{
    if (a->base) (void)cudaFree(a->base);
    (void)cudaGetLastError();
    a->base = NULL;
    a->size = a->used = 0;
}
