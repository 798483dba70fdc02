/* xent.cu — softmax fused with cross-entropy and label smoothing (forward:
 * loss and saved probabilities in one pass; backward: dlogits from the saved
 * probabilities), plus argmax and the accuracy count that read the same
 * logits. One warp per row, fp32 arithmetic. */
#include "kernels.h"
#include "kern_common.cuh"

/* Warp-wide argmax, lowest index on ties (as the CPU backend); arg < 0
 * marks a lane that holds no element. */
__device__ __forceinline__ void warp_argmax(float &mx, int &arg)
{
    for (int o = 16; o > 0; o >>= 1) {
        float om = __shfl_xor_sync(0xffffffffu, mx, o);
        int oa = __shfl_xor_sync(0xffffffffu, arg, o);
        if (oa >= 0 && (arg < 0 || om > mx || (om == mx && oa < arg))) { mx = om; arg = oa; }
    }
}

template <typename TL>
__global__ void ce_fwd_kernel(const TL *__restrict__ logits, const int *__restrict__ labels,
                              int N, int K, float smoothing, float scale,
                              float *__restrict__ loss, float *__restrict__ probs)
{
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= N) return;
    const TL *lr = logits + (size_t)row * K;
    float mx = -INFINITY;
    for (int k = lane; k < K; k += 32) mx = fmaxf(mx, ek_ld(lr, k));
    mx = ek_warp_max(mx);
    float se = 0.0f, sl = 0.0f;
    for (int k = lane; k < K; k += 32) {
        float v = ek_ld(lr, k);
        se += expf(v - mx);
        sl += v;
    }
    se = ek_warp_sum(se);
    sl = ek_warp_sum(sl);
    float lse = mx + logf(se);
    if (probs) {
        float inv = 1.0f / se;
        for (int k = lane; k < K; k += 32)
            probs[(size_t)row * K + k] = expf(ek_ld(lr, k) - mx) * inv;
    }
    if (lane == 0) {
        int lab = labels[row];
        float l;
        if (lab >= 0 && lab < K) {
            /* -sum_k target_k (x_k - lse), target = (1-s) onehot + s/K */
            l = lse - (1.0f - smoothing) * ek_ld(lr, lab) - (smoothing / (float)K) * sl;
        } else {
            l = __int_as_float(0x7fc00000); /* a bad label poisons the loss */
        }
        atomicAdd(loss, scale * l);
    }
}

cudaError_t ek_ce_fwd(cudaStream_t st, int tl, const void *logits, const int *labels, int N,
                      int K, float smoothing, float scale, float *loss, float *probs)
{
    if (N <= 0 || K <= 0) return cudaSuccess;
    EK_DISPATCH1(tl, TL,
        ce_fwd_kernel<TL><<<(unsigned)((N + 7) / 8), 256, 0, st>>>(
            (const TL *)logits, labels, N, K, smoothing, scale, loss, probs));
    return cudaGetLastError();
}

template <typename TG>
__global__ void ce_bwd_kernel(TG *__restrict__ dlogits, const float *__restrict__ probs,
                              const int *__restrict__ labels, int N, int K, float smoothing,
                              float scale)
{
    size_t n = (size_t)N * K;
    float off = smoothing / (float)K, on = 1.0f - smoothing + off;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int r = (int)(i / K), k = (int)(i % K);
        int lab = labels[r];
        float q = (k == lab) ? on : off;
        float g = (lab >= 0 && lab < K) ? scale * (probs[i] - q) : __int_as_float(0x7fc00000);
        ek_st(dlogits, i, g);
    }
}

cudaError_t ek_ce_bwd(cudaStream_t st, int tg, void *dlogits, const float *probs,
                      const int *labels, int N, int K, float smoothing, float scale)
{
    size_t n = (size_t)N * K;
    if (!n) return cudaSuccess;
    EK_DISPATCH1(tg, TG,
        ce_bwd_kernel<TG><<<ek_blocks(n, 256, 65535u), 256, 0, st>>>(
            (TG *)dlogits, probs, labels, N, K, smoothing, scale));
    return cudaGetLastError();
}

/* out[r] = argmax (argmax_out != NULL); *count += rows whose argmax == label
 * (count != NULL). */
template <typename TL>
__global__ void argmax_kernel(const TL *__restrict__ logits, int N, int K,
                              int *__restrict__ argmax_out, const int *__restrict__ labels,
                              int *__restrict__ count)
{
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= N) return;
    const TL *lr = logits + (size_t)row * K;
    float mx = -INFINITY;
    int arg = -1; /* -1: this lane saw no element yet */
    for (int k = lane; k < K; k += 32) {
        float v = ek_ld(lr, k);
        if (arg < 0 || v > mx) { mx = v; arg = k; }
    }
    warp_argmax(mx, arg);
    if (arg < 0) arg = 0;
    if (lane == 0) {
        if (argmax_out) argmax_out[row] = arg;
        if (count && labels && labels[row] == arg) atomicAdd(count, 1);
    }
}

cudaError_t ek_argmax(cudaStream_t st, int tl, const void *logits, int N, int K, int *out,
                      const int *labels, int *count)
{
    if (N <= 0 || K <= 0) return cudaSuccess;
    EK_DISPATCH1(tl, TL,
        argmax_kernel<TL><<<(unsigned)((N + 7) / 8), 256, 0, st>>>(
            (const TL *)logits, N, K, out, labels, count));
    return cudaGetLastError();
}
