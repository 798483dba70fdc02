/* kernels.h — host-side launchers of the CUDA backend's own kernels. Each
 * enqueues on `st` and returns the launch status (cudaGetLastError), so the
 * caller can turn it into an ember_err with its own file and line. Storage
 * types are EK_F32 (0) or EK_BF16 (1); arithmetic is always fp32. */
#ifndef EMBER_CUDA_KERNELS_H
#define EMBER_CUDA_KERNELS_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#define EK_NORM_BLOCKS 264 /* partials of the fixed-order L2 norm */

cudaError_t ek_layernorm_fwd(cudaStream_t st, int tx, int tw, int ty, const void *x,
                             const void *w, const void *b, void *y, float *mean, float *rstd,
                             int rows, int C, float eps);
/* gamma (w) is always f32; dy and dx may differ (bf16 dy into an f32 dx). */
cudaError_t ek_layernorm_bwd(cudaStream_t st, int tx, int td, int tdx, const void *dy,
                             const void *x, const void *w, const float *mean,
                             const float *rstd, void *dx, float *dw, float *db, int rows,
                             int C, int accumulate);

cudaError_t ek_gelu_fwd(cudaStream_t st, int tx, int ty, const void *x, void *y, size_t n);
cudaError_t ek_gelu_bwd(cudaStream_t st, int tx, int td, const void *dy, const void *x,
                        void *dx, size_t n, int accumulate);

cudaError_t ek_cast(cudaStream_t st, int tx, int ty, const void *x, void *y, size_t n);
cudaError_t ek_axpby(cudaStream_t st, int ta, int tb, int ty, const void *a, const void *b,
                     void *y, float alpha, float beta, size_t n);
cudaError_t ek_add_rows(cudaStream_t st, int tx, int tb, int ty, const void *x,
                        const void *bias, void *y, size_t rows, int C, size_t period);

cudaError_t ek_colsum(cudaStream_t st, int tx, const void *x, float *out, size_t rows, int C,
                      size_t period);
cudaError_t ek_mean_tokens_fwd(cudaStream_t st, int tx, int ty, const void *x, void *y, int B,
                               int T, int C);
cudaError_t ek_mean_tokens_bwd(cudaStream_t st, int td, int tx, const void *dy, void *dx, int B,
                               int T, int C, int accumulate);
cudaError_t ek_l2_norm(cudaStream_t st, int tx, const void *x, size_t n, float *partial,
                       float *out);

cudaError_t ek_dropout(cudaStream_t st, int tx, int ty, const void *x, void *y, size_t n,
                       float p, uint64_t seed, uint64_t base, const uint64_t *step_base,
                       int accumulate);

cudaError_t ek_ce_fwd(cudaStream_t st, int tl, const void *logits, const int *labels, int N,
                      int K, float smoothing, float scale, float *loss, float *probs);
cudaError_t ek_ce_bwd(cudaStream_t st, int tg, void *dlogits, const float *probs,
                      const int *labels, int N, int K, float smoothing, float scale);
cudaError_t ek_argmax(cudaStream_t st, int tl, const void *logits, int N, int K, int *out,
                      const int *labels, int *count);

typedef struct ek_adamw_hp {
    float beta1, beta2, eps, wd;
} ek_adamw_hp;
/* step: device pointer to {lr, bc1, bc2} (ember_step_scalars' first three
 * floats); grad_scale: NULL or a device float. */
cudaError_t ek_adamw(cudaStream_t st, int tg, float *w, const void *g, float *m, float *v,
                     void *w_bf16, size_t n, const ek_adamw_hp *hp, const float *step,
                     const float *grad_scale);

cudaError_t ek_im2col(cudaStream_t st, int ti, int tc, void *img, void *cols, int B, int Cin,
                      int H, int W, int p, int dir, int accumulate);
cudaError_t ek_normalize_u8(cudaStream_t st, int to, const uint8_t *in, void *out, size_t n,
                            int C, size_t plane, const float *mean, const float *std);

size_t ek_attention_fwd_smem(int T, int D);
size_t ek_attention_bwd_smem(int T, int D);
cudaError_t ek_attention_setup(int max_smem);
cudaError_t ek_attention_fwd(cudaStream_t st, int ti, int to, const void *qkv, void *out,
                             float *lse, int B, int T, int H, int D, int causal);
cudaError_t ek_attention_bwd(cudaStream_t st, int ti, int tg, void *dqkv, const void *dout,
                             const void *qkv, const void *out, const float *lse, int B, int T,
                             int H, int D, int causal);

/* attention_tc.cu: the bf16 tensor-core path (T <= 128, head dim <= 64). */
int ek_attention_tc_ok(int T, int D, int max_smem, int bwd);
cudaError_t ek_attention_tc_setup(int max_smem);
cudaError_t ek_attention_tc_fwd(cudaStream_t st, const void *qkv, void *out, float *lse, int B,
                                int T, int H, int D, int causal);
cudaError_t ek_attention_tc_bwd(cudaStream_t st, void *dqkv, const void *dout, const void *qkv,
                                const void *out, const float *lse, int B, int T, int H, int D,
                                int causal);

/* CLIPSeg inference ops (clipseg_ops.cu), f32 only; see backend.h for the
 * layouts. act: 1 ReLU, 2 quick_gelu (EMBER_ACT_*). */
cudaError_t ek_act_f32(cudaStream_t st, const float *x, float *y, size_t n, int act);
cudaError_t ek_conv3x3_cols_f32(cudaStream_t st, const float *x, float *cols, int64_t B,
                                int64_t H, int64_t W, int64_t C);
cudaError_t ek_deconv_scatter_f32(cudaStream_t st, const float *cols, const float *bias,
                                  float *out, int64_t B, int64_t H, int64_t W, int64_t Co, int s);
cudaError_t ek_film_f32(cudaStream_t st, const float *x, const float *scale, const float *shift,
                        float *out, int64_t B, int64_t T, int64_t C, int64_t xstride);

#endif
