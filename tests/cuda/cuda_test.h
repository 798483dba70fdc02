/* cuda_test.h — what the GPU tests share: loading the CUDA backend the way
 * the engine does (ember_backend_cuda, i.e. dlopen of libember_cuda.so),
 * skipping with exit code 77 when the machine has no CUDA device, and
 * paired tensors (one on the CPU backend, one on the GPU, same values) with
 * a relative-error comparison.
 *
 * Comparison: rel = ||gpu - cpu||_2 / max(||cpu||_2, 1e-30) per tensor.
 * Bounds used by the tests:
 *   fp32 path  1e-5: both backends compute in fp32 (true fp32 on the GPU, no
 *              TF32); only the summation order differs, worth ~1e-7..1e-6
 *              relative for the reductions here, so 1e-5 leaves 10x room and
 *              still catches any real mistake (a wrong element is >1e-3).
 *   bf16 path  2e-2: inputs are rounded to bf16 for BOTH backends, the GPU
 *              stores its output (and GEMM operands) in bf16: each rounding
 *              costs up to 2^-9 = 2e-3 relative, a few of them in a row give
 *              ~5e-3 in norm; 2e-2 is 4x that, and a wrong element still
 *              shows as > 5e-2. */
#ifndef EMBER_TESTS_CUDA_TEST_H
#define EMBER_TESTS_CUDA_TEST_H

#include <stdint.h>
#include <stdio.h>

#include "core/backend.h"

#define CT_SKIP 77
#define CT_TOL_F32 1e-5
#define CT_TOL_BF16 2e-2

/* Loads the CUDA backend. Returns 0 with *gpu set, CT_SKIP after printing
 * the SKIP line when there is no CUDA device, or 1 after printing why the
 * backend failed although a device exists. */
int ct_open(const ember_backend **gpu);
void ct_close(void);

/* A deterministic generator for test data (xorshift64*). */
typedef struct ct_rng {
    uint64_t s;
} ct_rng;
float ct_uniform(ct_rng *r, float lo, float hi);
float ct_normal(ct_rng *r);

/* A tensor held three times: host floats, a CPU-backend f32 tensor, and a
 * GPU tensor of dtype gdt (f32, bf16, i32 or u8). For bf16 the host values
 * are rounded to bf16 first, so both backends see the same inputs. */
typedef struct ct_pair {
    int64_t n;
    ember_dtype gdt;
    float *host;
    ember_tensor cpu, gpu;
} ct_pair;

int ct_pair_new(ct_pair *p, const ember_backend *gpu, ember_dtype gdt, int ndim,
                const int64_t *shape);
void ct_pair_free(ct_pair *p, const ember_backend *gpu);
/* Fill with values (uniform in [lo, hi)), rounded as gdt needs, and copy to
 * both sides. For i32 the values are truncated to integers. */
int ct_pair_fill(ct_pair *p, const ember_backend *gpu, ct_rng *r, float lo, float hi);
/* Copy host -> both sides (after editing p->host by hand). */
int ct_pair_push(ct_pair *p, const ember_backend *gpu);
/* Relative error of the GPU tensor against the CPU one (syncs). -1 on a
 * device error (printed). */
double ct_pair_rel(ct_pair *p, const ember_backend *gpu);
/* The GPU tensor's values as floats into out (n floats). */
int ct_pair_fetch(ct_pair *p, const ember_backend *gpu, float *out);

/* Checking: prints one line "ok"/"FAIL" with the error and bound, counts
 * failures. */
extern int ct_failures;
void ct_expect_rel(const char *what, double rel, double tol);
void ct_expect(const char *what, int cond);
/* Fails the test on a non-zero op status, printing err. */
int ct_ok(const char *what, int rc, const ember_err *err);

#endif
