/* dropout.cu — inverted dropout whose mask comes from Philox4x32-10 through
 * the header the CPU backend uses (core/philox.h), so that for the same seed
 * and counter base both backends drop the same elements. The mask is never
 * stored: the backward pass draws it again. The counter base may come partly
 * from device memory (step_base), so that a captured CUDA graph draws a fresh
 * mask on every replay. */
#include "kernels.h"
#include "kern_common.cuh"
#include "core/philox.h"

/* Each thread draws one Philox block: four consecutive elements. */
template <typename TI, typename TO, bool V4>
__global__ void dropout_kernel(const TI *x, TO *y, size_t n,
                               uint64_t seed, uint64_t base, const uint64_t *step_base,
                               uint32_t thresh, float scale, int accumulate)
{
    uint64_t b = base + (step_base ? *step_base : 0);
    size_t groups = (n + 3) / 4;
    for (size_t g = blockIdx.x * (size_t)blockDim.x + threadIdx.x; g < groups;
         g += (size_t)gridDim.x * blockDim.x) {
        uint64_t c = b + g;
        ember_philox4 ctr;
        ctr.v[0] = (uint32_t)c;
        ctr.v[1] = (uint32_t)(c >> 32);
        ctr.v[2] = 0;
        ctr.v[3] = 0;
        ember_philox4 r = ember_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
        if (V4) {
            float v[4], a[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            ek_ld4(x, g * 4, v);
            if (accumulate) ek_ld4(y, g * 4, a);
#pragma unroll
            for (int k = 0; k < 4; ++k) v[k] = (r.v[k] >= thresh ? v[k] * scale : 0.0f) + a[k];
            ek_st4(y, g * 4, v);
        } else {
            for (int k = 0; k < 4; ++k) {
                size_t i = g * 4 + k;
                if (i < n) {
                    float v = r.v[k] >= thresh ? ek_ld(x, i) * scale : 0.0f;
                    if (accumulate) v += ek_ld(y, i);
                    ek_st(y, i, v);
                }
            }
        }
    }
}

cudaError_t ek_dropout(cudaStream_t st, int tx, int ty, const void *x, void *y, size_t n,
                       float p, uint64_t seed, uint64_t base, const uint64_t *step_base,
                       int accumulate)
{
    if (!n) return cudaSuccess;
    uint32_t thresh = ember_dropout_threshold(p);
    float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
    size_t groups = (n + 3) / 4;
    unsigned blocks = ek_blocks(groups, 256, 65535u * 2);
    if (ek_vec4_ok(n, x, y, y)) {
        EK_DISPATCH2(tx, TI, ty, TO,
            dropout_kernel<TI, TO, true><<<blocks, 256, 0, st>>>(
                (const TI *)x, (TO *)y, n, seed, base, step_base, thresh, scale, accumulate));
    } else {
        EK_DISPATCH2(tx, TI, ty, TO,
            dropout_kernel<TI, TO, false><<<blocks, 256, 0, st>>>(
                (const TI *)x, (TO *)y, n, seed, base, step_base, thresh, scale, accumulate));
    }
    return cudaGetLastError();
}
