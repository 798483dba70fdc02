/* attention_tc.cu — the bf16 attention path on tensor cores (WMMA, bf16
 * operands, fp32 accumulation), for the sizes a ViT has: up to 128 tokens
 * and head dim up to 64 (both padded to multiples of 16 with zeros). One
 * block per (batch, head) holds the whole head in shared memory, so the
 * softmax is exact and dK/dV need no atomics. Probabilities and dS are
 * rounded to bf16 before their products, as fused-attention kernels do; the
 * softmax, logsumexp and D_i = dO.O stay fp32. attention.cu's CUDA-core
 * kernels serve fp32 and the other sizes. */
#include <mma.h>

#include "kernels.h"
#include "kern_common.cuh"

using namespace nvcuda;

#define TC_THREADS 256
#define TC_MAX_T 128
#define TC_MAX_D 64

typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> tc_acc;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> tc_a_row;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::col_major> tc_a_col;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> tc_b_row;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> tc_b_col;

static __host__ __device__ int rup16(int x) { return (x + 15) & ~15; }

/* Leading dimensions (elements): bf16 [Tp][Dp] tiles, bf16 [Tp][Tp],
 * f32 [Tp][Tp], f32 [Tp][Dp]. The +8 / +4 padding spreads rows over banks
 * and keeps every 16-row tile 32-byte aligned. */
struct tc_ld {
    int Tp, Dp, h, p, s, o;
};
static __host__ __device__ tc_ld tc_lds(int T, int D)
{
    tc_ld l;
    l.Tp = rup16(T);
    l.Dp = rup16(D);
    l.h = l.Dp + 8;
    l.p = l.Tp + 8;
    l.s = l.Tp + 4;
    l.o = l.Dp + 4;
    return l;
}

/* Shared-memory layout (byte offsets). Buffers whose lives do not overlap
 * share space when they fit: P (bf16) takes the place of Q and K once S is
 * computed, O (f32) that of S once the softmax has read it; in the backward
 * dP overwrites S once P is taken out, and the dQ/dK/dV staging overwrites
 * dP once dS is formed. Less shared memory = more blocks per SM. */
struct tc_fwd_layout {
    size_t q, k, v, s, p, o, total;
};
static __host__ __device__ tc_fwd_layout tc_fwd_lay(int T, int D)
{
    tc_ld l = tc_lds(T, D);
    tc_fwd_layout y;
    size_t hb = (size_t)l.Tp * l.h * 2, sb = (size_t)l.Tp * l.s * 4, pb = (size_t)l.Tp * l.p * 2,
           ob = (size_t)l.Tp * l.o * 4;
    y.q = 0;
    y.k = hb;
    y.v = 2 * hb;
    y.s = 3 * hb;
    y.total = 3 * hb + sb;
    if (pb <= 2 * hb) y.p = 0;
    else { y.p = y.total; y.total += pb; }
    if (ob <= sb) y.o = y.s;
    else { y.o = y.total; y.total += ob; }
    return y;
}

struct tc_bwd_layout {
    size_t q, k, v, dO, s, pb, ds, out, di, total;
};
static __host__ __device__ tc_bwd_layout tc_bwd_lay(int T, int D)
{
    tc_ld l = tc_lds(T, D);
    tc_bwd_layout y;
    size_t hb = (size_t)l.Tp * l.h * 2, sb = (size_t)l.Tp * l.s * 4, pb = (size_t)l.Tp * l.p * 2,
           ob = (size_t)l.Tp * l.o * 4;
    y.q = 0;
    y.k = hb;
    y.v = 2 * hb;
    y.dO = 3 * hb;
    y.s = 4 * hb;
    y.pb = y.s + sb;
    y.ds = y.pb + pb;
    y.total = y.ds + pb;
    if (ob <= sb) y.out = y.s;
    else { y.out = y.total; y.total += ob; }
    y.di = y.total;
    y.total += (size_t)2 * l.Tp * 4;
    return y;
}

size_t ek_attention_tc_fwd_smem(int T, int D)
{
    return tc_fwd_lay(T, D).total;
}

size_t ek_attention_tc_bwd_smem(int T, int D)
{
    return tc_bwd_lay(T, D).total;
}

/* dst[Tp][ld] = rows of q/k/v (s) or of a [B,T,C] tensor (s < 0), zero
 * padded past T and D. */
__device__ void tc_load(bf16 *dst, int ld, const bf16 *src, int b, int h, int s, int T, int C,
                        int D, int Tp, int Dp, bool vec)
{
    size_t row_stride = s >= 0 ? (size_t)3 * C : (size_t)C;
    size_t col0 = (s >= 0 ? (size_t)s * C : 0) + (size_t)h * D;
    if (vec) {
        /* 16-byte chunks of 8 elements: D and C are multiples of 8, so a
         * chunk is wholly inside the head or wholly padding */
        int cpr = Dp / 8;
        for (int i = threadIdx.x; i < Tp * cpr; i += blockDim.x) {
            int r = i / cpr, d0 = (i % cpr) * 8;
            uint4 v = make_uint4(0u, 0u, 0u, 0u);
            if (r < T && d0 < D)
                v = *(const uint4 *)(src + ((size_t)b * T + r) * row_stride + col0 + d0);
            *(uint4 *)(dst + r * ld + d0) = v;
        }
        return;
    }
    for (int i = threadIdx.x; i < Tp * Dp; i += blockDim.x) {
        int r = i / Dp, d = i % Dp;
        bf16 v = __float2bfloat16_rn(0.0f);
        if (r < T && d < D) v = src[((size_t)b * T + r) * row_stride + col0 + d];
        dst[r * ld + d] = v;
    }
}

/* C[Tm x Tn tiles] = A B with A, B fragments loaded by the callbacks'
 * pointer rules; each warp takes tiles round robin. */
template <typename FA, typename FB, typename LA, typename LB>
__device__ void tc_mm(float *C, int ldc, int mt, int ntl, int kt, const bf16 *A, int lda,
                      const bf16 *Bm, int ldb)
{
    int warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int t = warp; t < mt * ntl; t += nw) {
        int ti = t / ntl, tj = t % ntl;
        tc_acc acc;
        wmma::fill_fragment(acc, 0.0f);
        for (int k = 0; k < kt; ++k) {
            FA a;
            FB bb;
            /* row-major A: (m, k) at A[m*lda + k]; col-major: at A[k*lda + m] */
            const bf16 *pa = LA::row ? A + ti * 16 * lda + k * 16 : A + k * 16 * lda + ti * 16;
            const bf16 *pb = LB::row ? Bm + k * 16 * ldb + tj * 16 : Bm + tj * 16 * ldb + k * 16;
            wmma::load_matrix_sync(a, pa, lda);
            wmma::load_matrix_sync(bb, pb, ldb);
            wmma::mma_sync(acc, a, bb, acc);
        }
        wmma::store_matrix_sync(C + ti * 16 * ldc + tj * 16, acc, ldc, wmma::mem_row_major);
    }
}
struct RowL { static const bool row = true; };
struct ColL { static const bool row = false; };

/* rows r < T, columns d < D of src (f32, leading dim ld) times mul into
 * dst[(b*T + r) * stride + col0 + d] as bf16; 16-byte stores when vec. */
__device__ void tc_store_rows(bf16 *dst, size_t stride, size_t col0, const float *src, int ld,
                              int b, int T, int D, float mul, bool vec)
{
    if (vec) {
        int cpr = D / 8;
        for (int i = threadIdx.x; i < T * cpr; i += blockDim.x) {
            int r = i / cpr, d0 = (i % cpr) * 8;
            const float *p = src + r * ld + d0;
            __nv_bfloat162 q[4];
#pragma unroll
            for (int k = 0; k < 4; ++k) q[k] = __floats2bfloat162_rn(p[2 * k] * mul, p[2 * k + 1] * mul);
            uint4 w;
            w.x = *(const unsigned *)&q[0];
            w.y = *(const unsigned *)&q[1];
            w.z = *(const unsigned *)&q[2];
            w.w = *(const unsigned *)&q[3];
            *(uint4 *)(dst + ((size_t)b * T + r) * stride + col0 + d0) = w;
        }
        return;
    }
    for (int i = threadIdx.x; i < T * D; i += blockDim.x) {
        int r = i / D, d = i % D;
        dst[((size_t)b * T + r) * stride + col0 + d] = __float2bfloat16_rn(src[r * ld + d] * mul);
    }
}

__global__ void __launch_bounds__(TC_THREADS)
attn_tc_fwd_kernel(const bf16 *__restrict__ qkv, bf16 *__restrict__ out, float *__restrict__ lse,
                   int B, int T, int H, int D, int causal)
{
    extern __shared__ __align__(128) unsigned char smraw[];
    tc_ld l = tc_lds(T, D);
    tc_fwd_layout y = tc_fwd_lay(T, D);
    bf16 *sQ = (bf16 *)(smraw + y.q), *sK = (bf16 *)(smraw + y.k), *sV = (bf16 *)(smraw + y.v);
    float *sS = (float *)(smraw + y.s);
    bf16 *sP = (bf16 *)(smraw + y.p);
    float *sO = (float *)(smraw + y.o);
    int b = blockIdx.x / H, h = blockIdx.x % H, C = H * D;
    int nt = l.Tp / 16, nd = l.Dp / 16;
    float scale = rsqrtf((float)D);
    bool vec = D % 8 == 0 && C % 8 == 0 && !((uintptr_t)qkv % 16) && !((uintptr_t)out % 16);

    tc_load(sQ, l.h, qkv, b, h, 0, T, C, D, l.Tp, l.Dp, vec);
    tc_load(sK, l.h, qkv, b, h, 1, T, C, D, l.Tp, l.Dp, vec);
    tc_load(sV, l.h, qkv, b, h, 2, T, C, D, l.Tp, l.Dp, vec);
    __syncthreads();
    /* S = Q K^T: K row-major [n][k] is B col-major */
    tc_mm<tc_a_row, tc_b_col, RowL, ColL>(sS, l.s, nt, nt, nd, sQ, l.h, sK, l.h);
    __syncthreads();
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int r = warp; r < l.Tp; r += nw) {
        bf16 *pr = sP + r * l.p;
        if (r >= T) {
            for (int j = lane; j < l.Tp; j += 32) pr[j] = __float2bfloat16_rn(0.0f);
            continue;
        }
        const float *sr = sS + r * l.s;
        int lim = causal ? r + 1 : T;
        float mx = -INFINITY;
        for (int j = lane; j < lim; j += 32) mx = fmaxf(mx, sr[j] * scale);
        mx = ek_warp_max(mx);
        float sum = 0.0f;
        for (int j = lane; j < lim; j += 32) sum += expf(sr[j] * scale - mx);
        sum = ek_warp_sum(sum);
        float inv = 1.0f / sum;
        for (int j = lane; j < l.Tp; j += 32)
            pr[j] = __float2bfloat16_rn(j < lim ? expf(sr[j] * scale - mx) * inv : 0.0f);
        if (lane == 0) lse[((size_t)b * H + h) * T + r] = mx + logf(sum);
    }
    __syncthreads();
    /* O = P V */
    tc_mm<tc_a_row, tc_b_row, RowL, RowL>(sO, l.o, nt, nd, nt, sP, l.p, sV, l.h);
    __syncthreads();
    tc_store_rows(out, C, (size_t)h * D, sO, l.o, b, T, D, 1.0f, vec);
}

__global__ void __launch_bounds__(TC_THREADS)
attn_tc_bwd_kernel(bf16 *__restrict__ dqkv, const bf16 *__restrict__ dout,
                   const bf16 *__restrict__ qkv, const bf16 *__restrict__ out,
                   const float *__restrict__ lse, int B, int T, int H, int D, int causal)
{
    extern __shared__ __align__(128) unsigned char smraw[];
    tc_ld l = tc_lds(T, D);
    tc_bwd_layout y = tc_bwd_lay(T, D);
    bf16 *sQ = (bf16 *)(smraw + y.q), *sK = (bf16 *)(smraw + y.k), *sV = (bf16 *)(smraw + y.v),
         *sdO = (bf16 *)(smraw + y.dO);
    float *sS = (float *)(smraw + y.s), *sdP = sS; /* dP overwrites S (see the layout) */
    bf16 *sPb = (bf16 *)(smraw + y.pb), *sdS = (bf16 *)(smraw + y.ds);
    float *sOut = (float *)(smraw + y.out);
    float *sDi = (float *)(smraw + y.di), *sL = sDi + l.Tp;
    int b = blockIdx.x / H, h = blockIdx.x % H, C = H * D;
    int nt = l.Tp / 16, nd = l.Dp / 16;
    float scale = rsqrtf((float)D);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;

    bool vec = D % 8 == 0 && C % 8 == 0 && !((uintptr_t)qkv % 16) && !((uintptr_t)dout % 16) &&
               !((uintptr_t)dqkv % 16);
    tc_load(sQ, l.h, qkv, b, h, 0, T, C, D, l.Tp, l.Dp, vec);
    tc_load(sK, l.h, qkv, b, h, 1, T, C, D, l.Tp, l.Dp, vec);
    tc_load(sV, l.h, qkv, b, h, 2, T, C, D, l.Tp, l.Dp, vec);
    tc_load(sdO, l.h, dout, b, h, -1, T, C, D, l.Tp, l.Dp, vec);
    __syncthreads();
    for (int r = warp; r < l.Tp; r += nw) {
        float s = 0.0f;
        if (r < T)
            for (int d = lane; d < D; d += 32)
                s += __bfloat162float(sdO[r * l.h + d]) *
                     __bfloat162float(out[((size_t)b * T + r) * C + (size_t)h * D + d]);
        s = ek_warp_sum(s);
        if (lane == 0) {
            sDi[r] = s;
            sL[r] = r < T ? lse[((size_t)b * H + h) * T + r] : 0.0f;
        }
    }
    __syncthreads();
    tc_mm<tc_a_row, tc_b_col, RowL, ColL>(sS, l.s, nt, nt, nd, sQ, l.h, sK, l.h); /* S = Q K^T */
    __syncthreads();
    for (int i = threadIdx.x; i < l.Tp * l.Tp; i += blockDim.x) {
        int r = i / l.Tp, j = i % l.Tp;
        float p = 0.0f;
        if (r < T && j < T && (!causal || j <= r)) p = expf(sS[r * l.s + j] * scale - sL[r]);
        sPb[r * l.p + j] = __float2bfloat16_rn(p);
    }
    __syncthreads();
    tc_mm<tc_a_row, tc_b_col, RowL, ColL>(sdP, l.s, nt, nt, nd, sdO, l.h, sV, l.h); /* dP = dO V^T */
    __syncthreads();
    for (int i = threadIdx.x; i < l.Tp * l.Tp; i += blockDim.x) {
        int r = i / l.Tp, j = i % l.Tp;
        float p = __bfloat162float(sPb[r * l.p + j]);
        sdS[r * l.p + j] = __float2bfloat16_rn(p * (sdP[r * l.s + j] - sDi[r]));
    }
    __syncthreads();
    /* dV = P^T dO (P^T read as col-major P) */
    tc_mm<tc_a_col, tc_b_row, ColL, RowL>(sOut, l.o, nt, nd, nt, sPb, l.p, sdO, l.h);
    __syncthreads();
    tc_store_rows(dqkv, (size_t)3 * C, (size_t)2 * C + (size_t)h * D, sOut, l.o, b, T, D, 1.0f, vec);
    __syncthreads();
    /* dK = scale * dS^T Q */
    tc_mm<tc_a_col, tc_b_row, ColL, RowL>(sOut, l.o, nt, nd, nt, sdS, l.p, sQ, l.h);
    __syncthreads();
    tc_store_rows(dqkv, (size_t)3 * C, (size_t)C + (size_t)h * D, sOut, l.o, b, T, D, scale, vec);
    __syncthreads();
    /* dQ = scale * dS K */
    tc_mm<tc_a_row, tc_b_row, RowL, RowL>(sOut, l.o, nt, nd, nt, sdS, l.p, sK, l.h);
    __syncthreads();
    tc_store_rows(dqkv, (size_t)3 * C, (size_t)h * D, sOut, l.o, b, T, D, scale, vec);
}

int ek_attention_tc_ok(int T, int D, int max_smem, int bwd)
{
    if (T < 1 || T > TC_MAX_T || D < 1 || D > TC_MAX_D) return 0;
    size_t need = bwd ? ek_attention_tc_bwd_smem(T, D) : ek_attention_tc_fwd_smem(T, D);
    return need <= (size_t)max_smem;
}

cudaError_t ek_attention_tc_setup(int max_smem)
{
    cudaError_t e = cudaFuncSetAttribute(attn_tc_fwd_kernel,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, max_smem);
    if (e == cudaSuccess)
        e = cudaFuncSetAttribute(attn_tc_bwd_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 max_smem);
    return e;
}

cudaError_t ek_attention_tc_fwd(cudaStream_t st, const void *qkv, void *out, float *lse, int B,
                                int T, int H, int D, int causal)
{
    if (B <= 0) return cudaSuccess;
    attn_tc_fwd_kernel<<<(unsigned)(B * H), TC_THREADS, ek_attention_tc_fwd_smem(T, D), st>>>(
        (const bf16 *)qkv, (bf16 *)out, lse, B, T, H, D, causal);
    return cudaGetLastError();
}

cudaError_t ek_attention_tc_bwd(cudaStream_t st, void *dqkv, const void *dout, const void *qkv,
                                const void *out, const float *lse, int B, int T, int H, int D,
                                int causal)
{
    if (B <= 0) return cudaSuccess;
    attn_tc_bwd_kernel<<<(unsigned)(B * H), TC_THREADS, ek_attention_tc_bwd_smem(T, D), st>>>(
        (bf16 *)dqkv, (const bf16 *)dout, (const bf16 *)qkv, (const bf16 *)out, lse, B, T, H, D,
        causal);
    return cudaGetLastError();
}
