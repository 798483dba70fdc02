/* reduce.cu — reductions: column sums (bias and position-embedding
 * gradients), mean over tokens and its backward, sum of squares (the global
 * gradient norm). All accumulate in fp32. */
#include "kernels.h"
#include "kern_common.cuh"

/* out[p, c] (+)= sum over rows r with r % period == p of x[r, c].
 * Grid: (column tiles of 32, period, row splits). Each block sums a strip of
 * its rows for 32 columns with 8 row-lanes, then one atomic per column. */
template <typename TX>
__global__ void colsum_kernel(const TX *__restrict__ x, float *__restrict__ out,
                              size_t rows, int C, size_t period, size_t reps_per_split)
{
    __shared__ float part[8][33];
    int c = blockIdx.x * 32 + (threadIdx.x & 31);
    int ly = threadIdx.x >> 5; /* 0..7 */
    size_t p = blockIdx.y;
    size_t reps = (rows - p + period - 1) / period; /* rows with this phase */
    size_t k0 = (size_t)blockIdx.z * reps_per_split;
    size_t k1 = k0 + reps_per_split < reps ? k0 + reps_per_split : reps;
    float s = 0.0f;
    if (c < C)
        for (size_t k = k0 + ly; k < k1; k += 8) s += ek_ld(x, (p + k * period) * C + c);
    part[ly][threadIdx.x & 31] = s;
    __syncthreads();
    if (ly == 0 && c < C) {
        float t = 0.0f;
        for (int j = 0; j < 8; ++j) t += part[j][threadIdx.x];
        atomicAdd(&out[p * C + c], t);
    }
}

cudaError_t ek_colsum(cudaStream_t st, int tx, const void *x, float *out, size_t rows, int C,
                      size_t period)
{
    if (!rows || C <= 0) return cudaSuccess;
    if (period < 1) period = 1;
    size_t reps = (rows + period - 1) / period;
    size_t splits = (reps + 255) / 256; /* up to 256 rows of one phase per block */
    if (splits > 1024) splits = 1024;
    size_t per = (reps + splits - 1) / splits;
    if (period > 65535 || splits > 65535) return cudaErrorInvalidConfiguration;
    dim3 grid((unsigned)((C + 31) / 32), (unsigned)period, (unsigned)splits);
    EK_DISPATCH1(tx, TX,
        colsum_kernel<TX><<<grid, 256, 0, st>>>((const TX *)x, out, rows, C, period, per));
    return cudaGetLastError();
}

/* y[b, c] = mean over t of x[b, t, c] */
template <typename TX, typename TY>
__global__ void mean_tokens_kernel(const TX *__restrict__ x, TY *__restrict__ y, int B, int T,
                                   int C)
{
    size_t n = (size_t)B * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t b = i / C, c = i % C;
        float s = 0.0f;
        for (int t = 0; t < T; ++t) s += ek_ld(x, (b * T + t) * C + c);
        ek_st(y, i, s / (float)T);
    }
}

cudaError_t ek_mean_tokens_fwd(cudaStream_t st, int tx, int ty, const void *x, void *y, int B,
                               int T, int C)
{
    size_t n = (size_t)B * C;
    if (!n || T <= 0) return cudaSuccess;
    EK_DISPATCH2(tx, TX, ty, TY,
        mean_tokens_kernel<TX, TY><<<ek_blocks(n, 256, 65535u), 256, 0, st>>>(
            (const TX *)x, (TY *)y, B, T, C));
    return cudaGetLastError();
}

template <typename TD, typename TX>
__global__ void mean_tokens_bwd_kernel(const TD *__restrict__ dy, TX *__restrict__ dx, int B,
                                       int T, int C, int accumulate)
{
    size_t n = (size_t)B * T * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t c = i % C, b = i / ((size_t)T * C);
        float v = ek_ld(dy, b * C + c) / (float)T;
        if (accumulate) v += ek_ld(dx, i);
        ek_st(dx, i, v);
    }
}

cudaError_t ek_mean_tokens_bwd(cudaStream_t st, int td, int tx, const void *dy, void *dx, int B,
                               int T, int C, int accumulate)
{
    size_t n = (size_t)B * T * C;
    if (!n) return cudaSuccess;
    EK_DISPATCH2(td, TD, tx, TX,
        mean_tokens_bwd_kernel<TD, TX><<<ek_blocks(n, 256, 65535u * 4), 256, 0, st>>>(
            (const TD *)dy, (TX *)dx, B, T, C, accumulate));
    return cudaGetLastError();
}

/* Global L2 norm in a fixed order (so every run gives the same bits): a
 * fixed grid writes one partial per block, then one block adds the partials
 * in index order and takes the square root. */
template <typename TX>
__global__ void sumsq_partial_kernel(const TX *__restrict__ x, size_t n, float *partial)
{
    __shared__ float scratch[32];
    float s = 0.0f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = ek_ld(x, i);
        s += v * v;
    }
    s = ek_block_sum(s, scratch);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sqrt_sum_kernel(const float *partial, int np, float *out)
{
    __shared__ float scratch[32];
    float s = 0.0f;
    for (int i = threadIdx.x; i < np; i += blockDim.x) s += partial[i];
    s = ek_block_sum(s, scratch);
    if (threadIdx.x == 0) *out = sqrtf(s);
}

cudaError_t ek_l2_norm(cudaStream_t st, int tx, const void *x, size_t n, float *partial,
                       float *out)
{
    if (!n) return cudaMemsetAsync(out, 0, sizeof(float), st);
    EK_DISPATCH1(tx, TX,
        sumsq_partial_kernel<TX><<<EK_NORM_BLOCKS, 256, 0, st>>>((const TX *)x, n, partial));
    sqrt_sum_kernel<<<1, 256, 0, st>>>(partial, EK_NORM_BLOCKS, out);
    return cudaGetLastError();
}
