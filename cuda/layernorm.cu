/* layernorm.cu — LayerNorm over the last dimension, forward and backward.
 * One warp per row; statistics in fp32 whatever the storage type. The
 * backward pass accumulates dgamma/dbeta into fp32 buffers through shared
 * memory first, so global atomics are one per column per block. */
#include "kernels.h"
#include "kern_common.cuh"

#define LN_ROWS_PER_BLOCK 8

template <typename TX, typename TW, typename TY>
__global__ void ln_fwd_kernel(const TX *__restrict__ x, const TW *__restrict__ w,
                              const TW *__restrict__ b, TY *__restrict__ y,
                              float *__restrict__ mean_out, float *__restrict__ rstd_out,
                              int rows, int C, float eps)
{
    int row = blockIdx.x * LN_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const TX *xr = x + (size_t)row * C;
    float s = 0.0f;
    for (int c = lane; c < C; c += 32) s += ek_ld(xr, c);
    float mean = ek_warp_sum(s) / (float)C;
    float v = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float d = ek_ld(xr, c) - mean;
        v += d * d;
    }
    float var = ek_warp_sum(v) / (float)C;
    float rstd = rsqrtf(var + eps);
    TY *yr = y + (size_t)row * C;
    for (int c = lane; c < C; c += 32) {
        float h = (ek_ld(xr, c) - mean) * rstd;
        float g = w ? ek_ld(w, c) : 1.0f, bb = b ? ek_ld(b, c) : 0.0f;
        ek_st(yr, c, h * g + bb);
    }
    if (lane == 0) {
        if (mean_out) mean_out[row] = mean;
        if (rstd_out) rstd_out[row] = rstd;
    }
}

cudaError_t ek_layernorm_fwd(cudaStream_t st, int tx, int tw, int ty, const void *x,
                             const void *w, const void *b, void *y, float *mean, float *rstd,
                             int rows, int C, float eps)
{
    if (rows <= 0 || C <= 0) return cudaSuccess;
    unsigned blocks = (unsigned)((rows + LN_ROWS_PER_BLOCK - 1) / LN_ROWS_PER_BLOCK);
    EK_DISPATCH2(tx, TX, ty, TY, EK_DISPATCH1(tw, TW,
        ln_fwd_kernel<TX, TW, TY><<<blocks, 32 * LN_ROWS_PER_BLOCK, 0, st>>>(
            (const TX *)x, (const TW *)w, (const TW *)b, (TY *)y, mean, rstd, rows, C, eps)));
    return cudaGetLastError();
}

/* Each block walks a strip of rows; dgamma/dbeta partials live in shared
 * memory (2*C floats) and are flushed once per block. */
template <typename TX, typename TD, typename TDX>
__global__ void ln_bwd_kernel(const TD *__restrict__ dy, const TX *__restrict__ x,
                              const float *__restrict__ w, const float *__restrict__ mean_in,
                              const float *__restrict__ rstd_in, TDX *__restrict__ dx,
                              float *__restrict__ dw, float *__restrict__ db, int rows,
                              int C, int rows_per_block, int accumulate)
{
    extern __shared__ float sm[];
    float *sdw = sm, *sdb = sm + C;
    for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) sm[c] = 0.0f;
    __syncthreads();
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int r0 = blockIdx.x * rows_per_block;
    int r1 = min(rows, r0 + rows_per_block);
    for (int row = r0 + wid; row < r1; row += nw) {
        const TX *xr = x + (size_t)row * C;
        const TD *dyr = dy + (size_t)row * C;
        float mean = mean_in[row], rstd = rstd_in[row];
        float a = 0.0f, bsum = 0.0f;
        for (int c = lane; c < C; c += 32) {
            float h = (ek_ld(xr, c) - mean) * rstd;
            float g = ek_ld(dyr, c);
            float gw = g * (w ? ek_ld(w, c) : 1.0f);
            a += gw;
            bsum += gw * h;
            if (dw) atomicAdd(&sdw[c], g * h);
            if (db) atomicAdd(&sdb[c], g);
        }
        a = ek_warp_sum(a) / (float)C;
        bsum = ek_warp_sum(bsum) / (float)C;
        if (dx) {
            TDX *dxr = dx + (size_t)row * C;
            for (int c = lane; c < C; c += 32) {
                float h = (ek_ld(xr, c) - mean) * rstd;
                float gw = ek_ld(dyr, c) * (w ? ek_ld(w, c) : 1.0f);
                float v = (gw - a - h * bsum) * rstd;
                if (accumulate) v += ek_ld(dxr, c);
                ek_st(dxr, c, v);
            }
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        if (dw) atomicAdd(&dw[c], sdw[c]);
        if (db) atomicAdd(&db[c], sdb[c]);
    }
}

/* The same backward with each lane's columns (c = lane + 32 j, j < NJ) in
 * registers: x and dy are read once per row, gamma once per warp, and the
 * dgamma/dbeta partials of all the warp's rows meet in shared memory once,
 * not once per row. For C <= 32 NJ. */
template <typename TX, typename TD, typename TDX, int NJ>
__global__ void __launch_bounds__(256)
ln_bwd_reg_kernel(const TD *__restrict__ dy, const TX *__restrict__ x, const float *__restrict__ w,
                  const float *__restrict__ mean_in, const float *__restrict__ rstd_in,
                  TDX *__restrict__ dx, float *__restrict__ dw, float *__restrict__ db, int rows,
                  int C, int rows_per_block, int accumulate)
{
    extern __shared__ float sm[];
    float *sdw = sm, *sdb = sm + C;
    for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) sm[c] = 0.0f;
    __syncthreads();
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    float wv[NJ], aw[NJ], ab[NJ];
#pragma unroll
    for (int j = 0; j < NJ; ++j) {
        int c = lane + 32 * j;
        wv[j] = (c < C && w) ? w[c] : 1.0f;
        aw[j] = ab[j] = 0.0f;
    }
    int r0 = blockIdx.x * rows_per_block;
    int r1 = min(rows, r0 + rows_per_block);
    for (int row = r0 + wid; row < r1; row += nw) {
        const TX *xr = x + (size_t)row * C;
        const TD *dyr = dy + (size_t)row * C;
        float mean = mean_in[row], rstd = rstd_in[row];
        float hv[NJ], gw[NJ], a = 0.0f, bsum = 0.0f;
#pragma unroll
        for (int j = 0; j < NJ; ++j) {
            int c = lane + 32 * j;
            hv[j] = gw[j] = 0.0f;
            if (c < C) {
                float h = (ek_ld(xr, c) - mean) * rstd, g = ek_ld(dyr, c);
                hv[j] = h;
                gw[j] = g * wv[j];
                a += gw[j];
                bsum += gw[j] * h;
                aw[j] += g * h;
                ab[j] += g;
            }
        }
        a = ek_warp_sum(a) / (float)C;
        bsum = ek_warp_sum(bsum) / (float)C;
        if (dx) {
            TDX *dxr = dx + (size_t)row * C;
#pragma unroll
            for (int j = 0; j < NJ; ++j) {
                int c = lane + 32 * j;
                if (c < C) {
                    float v = (gw[j] - a - hv[j] * bsum) * rstd;
                    if (accumulate) v += ek_ld(dxr, c);
                    ek_st(dxr, c, v);
                }
            }
        }
    }
#pragma unroll
    for (int j = 0; j < NJ; ++j) {
        int c = lane + 32 * j;
        if (c < C) {
            atomicAdd(&sdw[c], aw[j]);
            atomicAdd(&sdb[c], ab[j]);
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        if (dw) atomicAdd(&dw[c], sdw[c]);
        if (db) atomicAdd(&db[c], sdb[c]);
    }
}

cudaError_t ek_layernorm_bwd(cudaStream_t st, int tx, int td, int tdx, const void *dy,
                             const void *x, const void *w, const float *mean,
                             const float *rstd, void *dx, float *dw, float *db, int rows,
                             int C, int accumulate)
{
    if (rows <= 0 || C <= 0) return cudaSuccess;
    size_t smem = 2 * (size_t)C * sizeof(float);
    if (smem > 48 * 1024) return cudaErrorInvalidValue; /* C > 6144: refused by the caller */
    if (C <= 32 * 12) {
        int rpb = 32;
        unsigned blocks = (unsigned)((rows + rpb - 1) / rpb);
        EK_DISPATCH2(tx, TX, td, TD, EK_DISPATCH1(tdx, TDX,
            ln_bwd_reg_kernel<TX, TD, TDX, 12><<<blocks, 256, smem, st>>>(
                (const TD *)dy, (const TX *)x, (const float *)w, mean, rstd, (TDX *)dx, dw, db,
                rows, C, rpb, accumulate)));
        return cudaGetLastError();
    }
    int rows_per_block = 16; /* 512 blocks for 8192 rows: enough to fill the GPU */
    unsigned blocks = (unsigned)((rows + rows_per_block - 1) / rows_per_block);
    EK_DISPATCH2(tx, TX, td, TD, EK_DISPATCH1(tdx, TDX,
        ln_bwd_kernel<TX, TD, TDX><<<blocks, 256, smem, st>>>(
            (const TD *)dy, (const TX *)x, (const float *)w, mean, rstd, (TDX *)dx, dw, db,
            rows, C, rows_per_block, accumulate)));
    return cudaGetLastError();
}
