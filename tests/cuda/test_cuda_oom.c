/* test_cuda_oom.c — out of GPU memory is an error with a message, not a
 * crash, and the backend keeps working afterwards: an absurd allocation
 * (1 PiB), an absurd arena through the engine's arena code, then real work
 * checked against the CPU. Skips (77) without a GPU. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "cuda_test.h"

int main(void)
{
    const ember_backend *gpu;
    int rc = ct_open(&gpu);
    if (rc) return rc;
    const ember_backend *cpu = ember_backend_cpu();
    ember_err err;

    ember_err_clear(&err);
    void *p = (void *)1;
    rc = gpu->alloc(gpu, (size_t)1 << 50, &p, &err);
    printf("     alloc(1 PiB): %s\n", err.msg);
    ct_expect("alloc(1 PiB) fails", rc == -1 && p == NULL);
    ct_expect("... and says the GPU is out of memory",
              strstr(err.msg, "out of memory") != NULL && strstr(err.msg, "cudaMalloc") != NULL);

    ember_arena a;
    memset(&a, 0, sizeof a);
    ember_err_clear(&err);
    rc = ember_arena_init(&a, gpu, (size_t)3 << 48, &err);
    printf("     arena(768 TiB): %s\n", err.msg);
    ct_expect("an absurd arena fails with a message", rc == -1 && err.msg[0] != '\0');
    ember_arena_release(&a);

    /* The backend still works: a sync is clean and an op matches the CPU. */
    ember_err_clear(&err);
    ct_ok("sync after the failures", gpu->sync(gpu, &err), &err);
    ct_pair x, y;
    ct_rng r = {12345};
    if (ct_pair_new(&x, gpu, EMBER_F32, 1, (const int64_t[]){4097}) ||
        ct_pair_new(&y, gpu, EMBER_F32, 1, (const int64_t[]){4097}) ||
        ct_pair_fill(&x, gpu, &r, -3, 3))
        return 1;
    ct_ok("gelu on the CPU", cpu->gelu_fwd(cpu, &y.cpu, &x.cpu, &err), &err);
    ct_ok("gelu on the GPU after OOM", gpu->gelu_fwd(gpu, &y.gpu, &x.gpu, &err), &err);
    ct_expect_rel("gelu after OOM matches the CPU", ct_pair_rel(&y, gpu), CT_TOL_F32);
    /* and a normal arena can still be had */
    ember_err_clear(&err);
    rc = ember_arena_init(&a, gpu, (size_t)64 << 20, &err);
    ct_ok("a 64 MiB arena after OOM", rc, &err);
    ember_arena_release(&a);
    ct_pair_free(&x, gpu);
    ct_pair_free(&y, gpu);
    ct_close();
    printf("%s: %d failure%s\n", ct_failures ? "FAILED" : "PASSED", ct_failures,
           ct_failures == 1 ? "" : "s");
    return ct_failures ? 1 : 0;
}
