/* elementwise.cu — casts, residual adds and scaling: one pass over memory,
 * fp32 arithmetic whatever the storage types. */
#include "kernels.h"
#include "kern_common.cuh"

template <typename TI, typename TO>
__global__ void cast_kernel(const TI *__restrict__ x, TO *__restrict__ y, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        ek_st(y, i, ek_ld(x, i));
}

cudaError_t ek_cast(cudaStream_t st, int tx, int ty, const void *x, void *y, size_t n)
{
    if (!n) return cudaSuccess;
    if (tx == ty) return cudaMemcpyAsync(y, x, n * (tx == EK_F32 ? 4 : 2),
                                         cudaMemcpyDeviceToDevice, st);
    unsigned b = ek_blocks(n, 256, 65535u * 4);
    EK_DISPATCH2(tx, TI, ty, TO,
        cast_kernel<TI, TO><<<b, 256, 0, st>>>((const TI *)x, (TO *)y, n));
    return cudaGetLastError();
}

/* y = alpha*a + beta*b (b may be NULL; y may alias a or b). */
template <typename TA, typename TB, typename TY>
__global__ void axpby_kernel(const TA *a, const TB *b, TY *y, float alpha, float beta, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = alpha * ek_ld(a, i);
        if (b) v += beta * ek_ld(b, i);
        ek_st(y, i, v);
    }
}

template <typename TA, typename TB, typename TY>
__global__ void axpby4_kernel(const TA *a, const TB *b, TY *y, float alpha, float beta, size_t n)
{
    for (size_t i = 4 * (blockIdx.x * (size_t)blockDim.x + threadIdx.x); i < n;
         i += 4 * (size_t)gridDim.x * blockDim.x) {
        float va[4], vb[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        ek_ld4(a, i, va);
        if (b) ek_ld4(b, i, vb);
#pragma unroll
        for (int k = 0; k < 4; ++k) va[k] = alpha * va[k] + beta * vb[k];
        ek_st4(y, i, va);
    }
}

cudaError_t ek_axpby(cudaStream_t st, int ta, int tb, int ty, const void *a, const void *b,
                     void *y, float alpha, float beta, size_t n)
{
    if (!n) return cudaSuccess;
    if (ek_vec4_ok(n, a, b, y)) {
        unsigned b4 = ek_blocks(n / 4, 256, 65535u * 4);
        EK_DISPATCH2(ta, TA, ty, TY, EK_DISPATCH1(tb, TB,
            axpby4_kernel<TA, TB, TY><<<b4, 256, 0, st>>>((const TA *)a, (const TB *)b,
                                                          (TY *)y, alpha, beta, n)));
        return cudaGetLastError();
    }
    unsigned bl = ek_blocks(n, 256, 65535u * 4);
    EK_DISPATCH2(ta, TA, ty, TY, EK_DISPATCH1(tb, TB,
        axpby_kernel<TA, TB, TY><<<bl, 256, 0, st>>>((const TA *)a, (const TB *)b, (TY *)y,
                                                     alpha, beta, n)));
    return cudaGetLastError();
}

/* y[r, c] = x[r, c] + bias[(r % period) , c]: the position embedding added
 * to every image's tokens (period = tokens per image). */
/* Rows are walked by blocks, columns by threads: no per-element division. */
template <typename TX, typename TB, typename TY>
__global__ void add_rows_kernel(const TX *x, const TB *bias, TY *y, size_t rows, int C,
                                size_t period)
{
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        size_t base = r * (size_t)C, pb = (r % period) * (size_t)C;
        for (int c = threadIdx.x; c < C; c += blockDim.x)
            ek_st(y, base + c, ek_ld(x, base + c) + ek_ld(bias, pb + c));
    }
}

cudaError_t ek_add_rows(cudaStream_t st, int tx, int tb, int ty, const void *x,
                        const void *bias, void *y, size_t rows, int C, size_t period)
{
    size_t n = rows * (size_t)C;
    if (!n) return cudaSuccess;
    unsigned bl = rows < 65535u * 4 ? (unsigned)rows : 65535u * 4;
    unsigned th = C >= 256 ? 256 : (unsigned)((C + 31) / 32 * 32);
    EK_DISPATCH2(tx, TX, ty, TY, EK_DISPATCH1(tb, TB,
        add_rows_kernel<TX, TB, TY><<<bl, th, 0, st>>>((const TX *)x, (const TB *)bias,
                                                        (TY *)y, rows, C, period)));
    return cudaGetLastError();
}
