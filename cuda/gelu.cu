/* gelu.cu — exact (erf) GELU, forward and backward, elementwise. Used where a
 * GELU cannot ride on a cuBLASLt epilogue (fp32 path, or shapes whose
 * epilogue the heuristic refuses). */
#include "kernels.h"
#include "kern_common.cuh"

#define EK_SQRT1_2 0.70710678118654752440f
#define EK_INV_SQRT_2PI 0.39894228040143267794f

template <typename TI, typename TO>
__global__ void gelu_fwd_kernel(const TI *__restrict__ x, TO *__restrict__ y, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = ek_ld(x, i);
        ek_st(y, i, 0.5f * v * (1.0f + erff(v * EK_SQRT1_2)));
    }
}

/* Four elements per thread with vector loads (n % 4 == 0, aligned). */
template <typename TI, typename TO>
__global__ void gelu_fwd4_kernel(const TI *__restrict__ x, TO *__restrict__ y, size_t n)
{
    for (size_t i = 4 * (blockIdx.x * (size_t)blockDim.x + threadIdx.x); i < n;
         i += 4 * (size_t)gridDim.x * blockDim.x) {
        float v[4];
        ek_ld4(x, i, v);
#pragma unroll
        for (int k = 0; k < 4; ++k) v[k] = 0.5f * v[k] * (1.0f + erff(v[k] * EK_SQRT1_2));
        ek_st4(y, i, v);
    }
}

template <typename TI, typename TD>
__global__ void gelu_bwd4_kernel(const TD *__restrict__ dy, const TI *__restrict__ x,
                                 TD *__restrict__ dx, size_t n, int accumulate)
{
    for (size_t i = 4 * (blockIdx.x * (size_t)blockDim.x + threadIdx.x); i < n;
         i += 4 * (size_t)gridDim.x * blockDim.x) {
        float v[4], g[4], a[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        ek_ld4(x, i, v);
        ek_ld4(dy, i, g);
        if (accumulate) ek_ld4(dx, i, a);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            float cdf = 0.5f * (1.0f + erff(v[k] * EK_SQRT1_2));
            float pdf = EK_INV_SQRT_2PI * expf(-0.5f * v[k] * v[k]);
            g[k] = g[k] * (cdf + v[k] * pdf) + a[k];
        }
        ek_st4(dx, i, g);
    }
}

/* dx = dy * (Phi(x) + x * phi(x)); accumulate adds into dx. */
template <typename TI, typename TD>
__global__ void gelu_bwd_kernel(const TD *__restrict__ dy, const TI *__restrict__ x,
                                TD *__restrict__ dx, size_t n, int accumulate)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = ek_ld(x, i);
        float cdf = 0.5f * (1.0f + erff(v * EK_SQRT1_2));
        float pdf = EK_INV_SQRT_2PI * expf(-0.5f * v * v);
        float g = ek_ld(dy, i) * (cdf + v * pdf);
        if (accumulate) g += ek_ld(dx, i);
        ek_st(dx, i, g);
    }
}

cudaError_t ek_gelu_fwd(cudaStream_t st, int tx, int ty, const void *x, void *y, size_t n)
{
    if (!n) return cudaSuccess;
    if (ek_vec4_ok(n, x, y, y)) {
        unsigned b4 = ek_blocks(n / 4, 256, 65535u * 4);
        EK_DISPATCH2(tx, TI, ty, TO,
            gelu_fwd4_kernel<TI, TO><<<b4, 256, 0, st>>>((const TI *)x, (TO *)y, n));
        return cudaGetLastError();
    }
    unsigned b = ek_blocks(n, 256, 65535u * 4);
    EK_DISPATCH2(tx, TI, ty, TO,
        gelu_fwd_kernel<TI, TO><<<b, 256, 0, st>>>((const TI *)x, (TO *)y, n));
    return cudaGetLastError();
}

cudaError_t ek_gelu_bwd(cudaStream_t st, int tx, int td, const void *dy, const void *x,
                        void *dx, size_t n, int accumulate)
{
    if (!n) return cudaSuccess;
    if (ek_vec4_ok(n, dy, x, dx)) {
        unsigned b4 = ek_blocks(n / 4, 256, 65535u * 4);
        EK_DISPATCH2(tx, TI, td, TD,
            gelu_bwd4_kernel<TI, TD><<<b4, 256, 0, st>>>((const TD *)dy, (const TI *)x,
                                                        (TD *)dx, n, accumulate));
        return cudaGetLastError();
    }
    unsigned b = ek_blocks(n, 256, 65535u * 4);
    EK_DISPATCH2(tx, TI, td, TD,
        gelu_bwd_kernel<TI, TD><<<b, 256, 0, st>>>((const TD *)dy, (const TI *)x, (TD *)dx,
                                                  n, accumulate));
    return cudaGetLastError();
}
