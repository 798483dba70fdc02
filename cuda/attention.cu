/* attention.cu — fused multi-head softmax attention on a packed qkv tensor,
 * forward and backward, Ember's own kernels (not cuDNN: the cuDNN fused
 * attention is reachable from C only through the backend-descriptor graph
 * API, heavy for the gain at ViT sizes of 64 tokens and head dim 48).
 *
 * Forward: one block per (batch, head, tile of 64 queries). The scaled
 * queries stay in shared memory, keys and values stream through in chunks
 * of 64; the score rows for the whole key range live in shared memory, so
 * the softmax is exact (no online rescaling) and the logsumexp is saved.
 * Backward: one block per (batch, head), walking query tiles, so dK and dV
 * accumulate in shared memory without atomics. All arithmetic is fp32 on
 * CUDA cores with 4x4 register tiles; storage may be fp32 or bf16. */
#include "kernels.h"
#include "kern_common.cuh"

#define AT_TILE 64   /* queries per tile and keys per chunk */
#define AT_THREADS 256

/* C[r][c] (+)= scale * sum_k A(r, k) * B(c, k) over R x N outputs, A and B in
 * shared memory addressed through strides (so transposes are free). The
 * block's 256 threads form a 16 x 16 grid; each owns a 4 x 4 register tile
 * per 64 x 64 output block. Ends with a barrier. */
__device__ void at_mm(float *C, int ldc, int R, int N, int K, const float *A, int a_rs,
                      int a_ks, const float *B, int b_cs, int b_ks, int accumulate, float scale)
{
    int ty = threadIdx.x >> 4, tx = threadIdx.x & 15;
    for (int r0 = 0; r0 < R; r0 += 64) {
        for (int c0 = 0; c0 < N; c0 += 64) {
            float acc[4][4];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
            int rr[4], cc[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                rr[i] = min(r0 + ty + 16 * i, R - 1);
                cc[i] = min(c0 + tx + 16 * i, N - 1);
            }
            for (int k = 0; k < K; ++k) {
                float a[4], b[4];
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    a[i] = A[rr[i] * a_rs + k * a_ks];
                    b[i] = B[cc[i] * b_cs + k * b_ks];
                }
#pragma unroll
                for (int i = 0; i < 4; ++i)
#pragma unroll
                    for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
            }
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                int r = r0 + ty + 16 * i;
                if (r >= R) continue;
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    int c = c0 + tx + 16 * j;
                    if (c >= N) continue;
                    float v = scale * acc[i][j];
                    if (accumulate) v += C[r * ldc + c];
                    C[r * ldc + c] = v;
                }
            }
        }
    }
    __syncthreads();
}

/* rows [t0, t0+n) of one head's q, k or v (s = 0, 1, 2) into dst[n][D+1],
 * times mul. Ends with a barrier. */
template <typename T>
__device__ void at_load(float *dst, const T *qkv, int b, int h, int s, int t0, int n, int T_,
                        int C, int D, float mul)
{
    for (int i = threadIdx.x; i < n * D; i += blockDim.x) {
        int r = i / D, d = i % D;
        size_t src = ((size_t)b * T_ + t0 + r) * (size_t)(3 * C) + (size_t)s * C + h * D + d;
        dst[r * (D + 1) + d] = ek_ld(qkv, src) * mul;
    }
    __syncthreads();
}

/* rows [t0, t0+n) of an [B, T, C] tensor's head h into dst[n][D+1]. */
template <typename T>
__device__ void at_load_bt(float *dst, const T *x, int b, int h, int t0, int n, int T_, int C,
                           int D)
{
    for (int i = threadIdx.x; i < n * D; i += blockDim.x) {
        int r = i / D, d = i % D;
        dst[r * (D + 1) + d] = ek_ld(x, ((size_t)b * T_ + t0 + r) * (size_t)C + h * D + d);
    }
    __syncthreads();
}

size_t ek_attention_fwd_smem(int T, int D)
{
    int ldS = T + 1;
    return sizeof(float) * ((size_t)3 * AT_TILE * (D + 1) + (size_t)AT_TILE * ldS);
}

template <typename TI, typename TO>
__global__ void __launch_bounds__(AT_THREADS)
attention_fwd_kernel(const TI *__restrict__ qkv, TO *__restrict__ out, float *__restrict__ lse,
                     int B, int T, int H, int D, int causal)
{
    extern __shared__ float sm[];
    int ldS = T + 1, ldD = D + 1;
    float *sQ = sm;                       /* [64][D+1] scaled queries */
    float *sKV = sQ + AT_TILE * ldD;      /* [64][D+1] key or value chunk */
    float *sO = sKV + AT_TILE * ldD;      /* [64][D+1] output accumulator */
    float *sS = sO + AT_TILE * ldD;       /* [64][T+1] scores, then probabilities */
    int bh = blockIdx.x, b = bh / H, h = bh % H, C = H * D;
    int q0 = blockIdx.y * AT_TILE, nq = min(AT_TILE, T - q0);
    float scale = rsqrtf((float)D);

    at_load(sQ, qkv, b, h, 0, q0, nq, T, C, D, scale);
    for (int k0 = 0; k0 < T; k0 += AT_TILE) {
        int nk = min(AT_TILE, T - k0);
        at_load(sKV, qkv, b, h, 1, k0, nk, T, C, D, 1.0f);
        at_mm(sS + k0, ldS, nq, nk, D, sQ, ldD, 1, sKV, ldD, 1, 0, 1.0f);
    }
    /* softmax per row, one warp per row */
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int r = wid; r < nq; r += nw) {
        float *row = sS + r * ldS;
        int lim = causal ? min(T, q0 + r + 1) : T;
        float mx = -INFINITY;
        for (int j = lane; j < lim; j += 32) mx = fmaxf(mx, row[j]);
        mx = ek_warp_max(mx);
        float s = 0.0f;
        for (int j = lane; j < T; j += 32) {
            float e = j < lim ? expf(row[j] - mx) : 0.0f;
            row[j] = e;
            s += e;
        }
        s = ek_warp_sum(s);
        float inv = 1.0f / s;
        for (int j = lane; j < lim; j += 32) row[j] *= inv;
        if (lane == 0) lse[((size_t)b * H + h) * T + q0 + r] = mx + logf(s);
    }
    __syncthreads();
    int kend = causal ? min(T, q0 + nq) : T;
    for (int k0 = 0; k0 < kend; k0 += AT_TILE) {
        int nk = min(AT_TILE, kend - k0);
        at_load(sKV, qkv, b, h, 2, k0, nk, T, C, D, 1.0f);
        /* O[q][d] += sum_j P[q][k0+j] V[j][d] */
        at_mm(sO, ldD, nq, D, nk, sS + k0, ldS, 1, sKV, 1, ldD, k0 > 0, 1.0f);
    }
    for (int i = threadIdx.x; i < nq * D; i += blockDim.x) {
        int r = i / D, d = i % D;
        ek_st(out, ((size_t)b * T + q0 + r) * (size_t)C + h * D + d, sO[r * ldD + d]);
    }
}

size_t ek_attention_bwd_smem(int T, int D)
{
    int ldD = D + 1, ldS = T + 1;
    /* Q, dO, K/V chunk, dQ tiles; S/P/dS rows; dP chunk; dK and dV for all
     * keys; D_i and lse for the tile */
    return sizeof(float) * ((size_t)4 * AT_TILE * ldD + (size_t)AT_TILE * ldS +
                            (size_t)AT_TILE * (AT_TILE + 1) + (size_t)2 * T * ldD +
                            2 * AT_TILE);
}

template <typename TI, typename TG>
__global__ void __launch_bounds__(AT_THREADS)
attention_bwd_kernel(TG *__restrict__ dqkv, const TG *__restrict__ dout,
                     const TI *__restrict__ qkv, const TI *__restrict__ out,
                     const float *__restrict__ lse, int B, int T, int H, int D, int causal)
{
    extern __shared__ float sm[];
    int ldS = T + 1, ldD = D + 1, ldP = AT_TILE + 1;
    float *sQ = sm;
    float *sdO = sQ + AT_TILE * ldD;
    float *sKV = sdO + AT_TILE * ldD;
    float *sdQ = sKV + AT_TILE * ldD;
    float *sS = sdQ + AT_TILE * ldD;
    float *sdP = sS + AT_TILE * ldS;
    float *sdK = sdP + AT_TILE * ldP;
    float *sdV = sdK + (size_t)T * ldD;
    float *sDi = sdV + (size_t)T * ldD;
    float *sL = sDi + AT_TILE;
    int bh = blockIdx.x, b = bh / H, h = bh % H, C = H * D;
    float scale = rsqrtf((float)D);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;

    for (int i = threadIdx.x; i < 2 * T * ldD; i += blockDim.x) sdK[i] = 0.0f;

    for (int q0 = 0; q0 < T; q0 += AT_TILE) {
        int nq = min(AT_TILE, T - q0);
        int kend = causal ? min(T, q0 + nq) : T;
        at_load(sQ, qkv, b, h, 0, q0, nq, T, C, D, scale);
        at_load_bt(sdO, dout, b, h, q0, nq, T, C, D);
        /* D_i = dO_i . O_i (O read straight from global memory) */
        for (int r = wid; r < nq; r += nw) {
            float s = 0.0f;
            for (int d = lane; d < D; d += 32)
                s += sdO[r * ldD + d] *
                     ek_ld(out, ((size_t)b * T + q0 + r) * (size_t)C + h * D + d);
            s = ek_warp_sum(s);
            if (lane == 0) {
                sDi[r] = s;
                sL[r] = lse[((size_t)b * H + h) * T + q0 + r];
            }
        }
        /* P = exp(S - lse) */
        for (int k0 = 0; k0 < kend; k0 += AT_TILE) {
            int nk = min(AT_TILE, kend - k0);
            at_load(sKV, qkv, b, h, 1, k0, nk, T, C, D, 1.0f);
            at_mm(sS + k0, ldS, nq, nk, D, sQ, ldD, 1, sKV, ldD, 1, 0, 1.0f);
        }
        for (int i = threadIdx.x; i < nq * kend; i += blockDim.x) {
            int r = i / kend, j = i % kend;
            float p = (causal && j > q0 + r) ? 0.0f : expf(sS[r * ldS + j] - sL[r]);
            sS[r * ldS + j] = p;
        }
        __syncthreads();
        for (int k0 = 0; k0 < kend; k0 += AT_TILE) {
            int nk = min(AT_TILE, kend - k0);
            /* dV[k0+j][d] += sum_i P[i][k0+j] dO[i][d] */
            at_mm(sdV + k0 * ldD, ldD, nk, D, nq, sS + k0, 1, ldS, sdO, 1, ldD, 1, 1.0f);
            at_load(sKV, qkv, b, h, 2, k0, nk, T, C, D, 1.0f);
            /* dP[i][j] = dO_i . V_j */
            at_mm(sdP, ldP, nq, nk, D, sdO, ldD, 1, sKV, ldD, 1, 0, 1.0f);
            for (int i = threadIdx.x; i < nq * nk; i += blockDim.x) {
                int r = i / nk, j = i % nk;
                float *p = &sS[r * ldS + k0 + j];
                *p = *p * (sdP[r * ldP + j] - sDi[r]);
            }
            __syncthreads();
        }
        /* sS now holds dS. dQ = scale * dS K; dK += dS^T (scale * Q). */
        for (int k0 = 0; k0 < kend; k0 += AT_TILE) {
            int nk = min(AT_TILE, kend - k0);
            at_load(sKV, qkv, b, h, 1, k0, nk, T, C, D, 1.0f);
            at_mm(sdQ, ldD, nq, D, nk, sS + k0, ldS, 1, sKV, 1, ldD, k0 > 0, 1.0f);
            at_mm(sdK + k0 * ldD, ldD, nk, D, nq, sS + k0, 1, ldS, sQ, 1, ldD, 1, 1.0f);
        }
        for (int i = threadIdx.x; i < nq * D; i += blockDim.x) {
            int r = i / D, d = i % D;
            ek_st(dqkv, ((size_t)b * T + q0 + r) * (size_t)(3 * C) + h * D + d,
                  kend > 0 ? scale * sdQ[r * ldD + d] : 0.0f);
        }
        __syncthreads();
    }
    for (int i = threadIdx.x; i < T * D; i += blockDim.x) {
        int r = i / D, d = i % D;
        size_t base = ((size_t)b * T + r) * (size_t)(3 * C) + h * D + d;
        ek_st(dqkv, base + C, sdK[r * ldD + d]);
        ek_st(dqkv, base + 2 * (size_t)C, sdV[r * ldD + d]);
    }
}

/* The dynamic shared-memory ceiling must be raised once per instantiation,
 * before any capture: ek_attention_setup does that for every one. */
cudaError_t ek_attention_setup(int max_smem)
{
    cudaError_t e = cudaSuccess;
#define AT_SET(k)                                                                        \
    if (e == cudaSuccess)                                                                \
        e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, max_smem)
    AT_SET((attention_fwd_kernel<float, float>));
    AT_SET((attention_fwd_kernel<float, bf16>));
    AT_SET((attention_fwd_kernel<bf16, float>));
    AT_SET((attention_fwd_kernel<bf16, bf16>));
    AT_SET((attention_bwd_kernel<float, float>));
    AT_SET((attention_bwd_kernel<float, bf16>));
    AT_SET((attention_bwd_kernel<bf16, float>));
    AT_SET((attention_bwd_kernel<bf16, bf16>));
#undef AT_SET
    return e;
}

cudaError_t ek_attention_fwd(cudaStream_t st, int ti, int to, const void *qkv, void *out,
                             float *lse, int B, int T, int H, int D, int causal)
{
    if (B <= 0 || T <= 0) return cudaSuccess;
    size_t smem = ek_attention_fwd_smem(T, D);
    dim3 grid((unsigned)(B * H), (unsigned)((T + AT_TILE - 1) / AT_TILE));
    EK_DISPATCH2(ti, TI, to, TO,
        attention_fwd_kernel<TI, TO><<<grid, AT_THREADS, smem, st>>>(
            (const TI *)qkv, (TO *)out, lse, B, T, H, D, causal));
    return cudaGetLastError();
}

cudaError_t ek_attention_bwd(cudaStream_t st, int ti, int tg, void *dqkv, const void *dout,
                             const void *qkv, const void *out, const float *lse, int B, int T,
                             int H, int D, int causal)
{
    if (B <= 0 || T <= 0) return cudaSuccess;
    size_t smem = ek_attention_bwd_smem(T, D);
    EK_DISPATCH2(ti, TI, tg, TG,
        attention_bwd_kernel<TI, TG><<<(unsigned)(B * H), AT_THREADS, smem, st>>>(
            (TG *)dqkv, (const TG *)dout, (const TI *)qkv, (const TI *)out, lse, B, T, H, D,
            causal));
    return cudaGetLastError();
}
