/* adamw.cu — fused AdamW step over one parameter tensor: fp32 master
 * weights and moments, the gradient in fp32 or bf16, and optionally the bf16
 * working copy the forward pass reads, written in the same pass. The
 * learning rate and bias corrections can come from device memory so that a
 * captured CUDA graph takes the current values on every replay. Same
 * arithmetic as torch.optim.AdamW (decoupled decay applied first). */
#include "kernels.h"
#include "kern_common.cuh"

template <typename TG>
__global__ void adamw_kernel(float *__restrict__ w, const TG *__restrict__ g,
                             float *__restrict__ m, float *__restrict__ v,
                             bf16 *__restrict__ w_bf16, size_t n, ek_adamw_hp hp,
                             const float *__restrict__ step, const float *__restrict__ gscale)
{
    float lr = step[0], bc1 = step[1], bc2 = step[2];
    float gs = gscale ? *gscale : 1.0f;
    float step_size = lr / bc1;
    float bc2_sqrt = sqrtf(bc2);
    float decay = 1.0f - lr * hp.wd;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float gi = ek_ld(g, i) * gs;
        float wi = w[i] * decay;
        float mi = hp.beta1 * m[i] + (1.0f - hp.beta1) * gi;
        float vi = hp.beta2 * v[i] + (1.0f - hp.beta2) * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + hp.eps;
        wi -= step_size * (mi / denom);
        m[i] = mi;
        v[i] = vi;
        w[i] = wi;
        if (w_bf16) w_bf16[i] = __float2bfloat16_rn(wi);
    }
}

cudaError_t ek_adamw(cudaStream_t st, int tg, float *w, const void *g, float *m, float *v,
                     void *w_bf16, size_t n, const ek_adamw_hp *hp, const float *step,
                     const float *grad_scale)
{
    if (!n) return cudaSuccess;
    EK_DISPATCH1(tg, TG,
        adamw_kernel<TG><<<ek_blocks(n, 256, 65535u * 2), 256, 0, st>>>(
            w, (const TG *)g, m, v, (bf16 *)w_bf16, n, *hp, step, grad_scale));
    return cudaGetLastError();
}
