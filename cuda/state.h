/* state.h — the CUDA backend's state behind ember_backend.impl: device,
 * stream, cuBLASLt handle, matmul plan cache, own arena. One per open. */
#ifndef EMBER_CUDA_STATE_H
#define EMBER_CUDA_STATE_H

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "arena.h"
#include "core/backend.h"

#define ECU_PLAN_SLOTS 256
#define ECU_LT_WORKSPACE (32u << 20)
#define ECU_MAX_ALLOCS 1024

/* Everything that decides a cuBLASLt plan: shapes, types, transposes,
 * strides, epilogue and the alignment of each pointer. */
typedef struct ecu_plan_key {
    int ta, tb, tc, td, tbias;  /* cudaDataType_t of A, B, C, D, bias (-1: none) */
    int op_a, op_b;             /* cuBLASLt's view (after the row-major swap) */
    long long m, n, k, lda, ldb, ldc, batch, sa, sb, sc;
    int epilogue;
    int align_a, align_b, align_c, align_d;
} ecu_plan_key;

typedef struct ecu_plan {
    int used;
    ecu_plan_key key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc, ld;
    cublasLtMatmulAlgo_t algo;
} ecu_plan;

typedef struct ecu_state {
    int device;
    cudaDeviceProp prop;
    char desc[256];
    cudaStream_t stream;
    cublasLtHandle_t lt;
    ecu_arena arena;      /* the backend's own: workspace, partials */
    void *lt_ws;          /* cuBLASLt workspace, ECU_LT_WORKSPACE bytes */
    float *norm_partial;  /* EK_NORM_BLOCKS floats */
    ecu_plan plans[ECU_PLAN_SLOTS];
    int plan_next;        /* round-robin eviction */
    ecu_plan_key refused[32]; /* keys cuBLASLt had no algorithm for */
    int n_refused;
    int capturing;
    int no_tc;            /* force the CUDA-core attention */
    int max_smem;         /* opt-in dynamic shared memory per block */
    /* what be->alloc handed out, for peak-memory reports */
    struct { void *p; size_t n; } allocs[ECU_MAX_ALLOCS];
    size_t mem_cur, mem_peak;
    ember_backend table;
} ecu_state;

static inline ecu_state *ecu_of(const ember_backend *be)
{
    return (ecu_state *)be->impl;
}

struct ember_gemm;
/* matmul.cu */
int ecu_matmul(ecu_state *s, const ember_gemm *g, const ember_tensor *a,
               const ember_tensor *b, const ember_tensor *bias, ember_tensor *c,
               ember_tensor *pre, ember_err *err);
void ecu_plans_release(ecu_state *s);

#endif
