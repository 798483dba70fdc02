/* cpu_internal.h — the CPU backend's operations, shared between its files
 * (the table itself is assembled in cpu_backend.c). Not for use outside
 * engine/cpu: everything else goes through the backend table. */
#ifndef EMBER_CPU_INTERNAL_H
#define EMBER_CPU_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "core/backend.h"

/* Argument checks: an f32 tensor on the CPU with `numel` elements (numel < 0:
 * any). They name the op and the argument in the message. */
int cpu_need_f32(const ember_tensor *t, const char *op, const char *arg, int64_t numel,
                 ember_err *err);
int cpu_need(const ember_tensor *t, const char *op, const char *arg, ember_dtype dt,
             int64_t numel, ember_err *err);
/* The step scalars from a CPU tensor (NULL: zeros with bc1 = bc2 = 1). */
int cpu_read_step(const ember_tensor *step, const char *op, ember_step_scalars *out,
                  ember_err *err);

/* Long ops run in chunks of about this many floating-point operations and
 * check for cancellation between them (core/cancel.h): 20-100 ms of one op
 * on two cores (sgemm runs at tens of GFLOP/s there, attention and the
 * elementwise ops slower), so an interrupt lands well within half a second
 * while the chunk boundaries (a join of the threads and a few loads each)
 * cost nothing measurable. The setter is for tests and benches (<= 0
 * restores the default) and returns the previous value; not thread-safe. */
#define CPU_CHUNK_FLOPS_DEFAULT ((int64_t)1 << 30)
int64_t cpu_chunk_flops(void);
int64_t cpu_set_chunk_flops(int64_t flops);

/* One step of a loop over items [0, n) run in chunks, each item costing
 * about item_flops: before every chunk but the first, a cancellation check
 * (-1 with the message in err when it says stop); then *c1 = the end of the
 * chunk starting at c0. Usage, with the parallel loop inside:
 *     for (int64_t c0 = 0, c1; c0 < n; c0 = c1) {
 *         if (cpu_chunk_next(c0, n, cost, &c1, err)) return -1;
 *         ... items c0 .. c1 - 1 ...
 *     }
 * Only for loops whose items are independent (or whose sums run along the
 * items in order), so that chunking changes no result. Memory-bound items
 * count a few flops per element touched, transcendental ones more. */
int cpu_chunk_next(int64_t c0, int64_t n, double item_flops, int64_t *c1, ember_err *err);
/* Work per element for cpu_chunk_next, in sgemm-flop equivalents (what
 * takes as long): a load/store-bound element, and one that calls erff or
 * expf or runs Philox. */
#define CPU_COST_STREAM 16.0
#define CPU_COST_MATH 64.0

/* Plain row-major sgemm on raw pointers (BLAS or portable), one matrix:
 * C = alpha op(A) op(B) + beta C. */
int cpu_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc, ember_err *err);

float cpu_gelu(float x);
float cpu_gelu_grad(float x);

int cpu_matmul(const ember_backend *be, const ember_gemm *g, const ember_tensor *a,
               const ember_tensor *b, const ember_tensor *bias, ember_tensor *c, ember_tensor *pre,
               ember_err *err);
int cpu_bias_grad(const ember_backend *be, ember_tensor *dbias, const ember_tensor *dy,
                  int accumulate, ember_err *err);

int cpu_gelu_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, ember_err *err);
int cpu_gelu_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy,
                 const ember_tensor *x, int accumulate, ember_err *err);
int cpu_add(const ember_backend *be, ember_tensor *out, const ember_tensor *a,
            const ember_tensor *b, ember_err *err);
int cpu_dropout_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, float p,
                    uint64_t seed, uint64_t offset, const ember_tensor *step, ember_err *err);
int cpu_dropout_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy, float p,
                    uint64_t seed, uint64_t offset, const ember_tensor *step, int accumulate,
                    ember_err *err);
int cpu_layernorm_fwd(const ember_backend *be, ember_tensor *out, ember_tensor *mean,
                      ember_tensor *rstd, const ember_tensor *x, const ember_tensor *gamma,
                      const ember_tensor *beta, float eps, ember_err *err);
int cpu_layernorm_bwd(const ember_backend *be, ember_tensor *dx, ember_tensor *dgamma,
                      ember_tensor *dbeta, const ember_tensor *dy, const ember_tensor *x,
                      const ember_tensor *mean, const ember_tensor *rstd,
                      const ember_tensor *gamma, int accumulate_dx, ember_err *err);
int cpu_attention_fwd(const ember_backend *be, ember_tensor *out, ember_tensor *lse,
                      const ember_tensor *qkv, int heads, int causal, ember_err *err);
int cpu_attention_bwd(const ember_backend *be, ember_tensor *dqkv, const ember_tensor *dout,
                      const ember_tensor *qkv, const ember_tensor *out, const ember_tensor *lse,
                      int heads, int causal, ember_err *err);
int cpu_mean_tokens_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                        ember_err *err);
int cpu_mean_tokens_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy,
                        ember_err *err);
int cpu_im2col_fwd(const ember_backend *be, ember_tensor *cols, const ember_tensor *img, int p,
                   ember_err *err);
int cpu_im2col_bwd(const ember_backend *be, ember_tensor *dimg, const ember_tensor *dcols, int p,
                   int accumulate, ember_err *err);
int cpu_pos_embed_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                      const ember_tensor *pos, ember_err *err);
int cpu_pos_embed_bwd(const ember_backend *be, ember_tensor *dpos, const ember_tensor *dy,
                      int accumulate, ember_err *err);
int cpu_ce_fwd(const ember_backend *be, ember_tensor *loss, ember_tensor *probs,
               const ember_tensor *logits, const ember_tensor *labels, float smoothing,
               float scale, int accumulate, ember_err *err);
int cpu_ce_bwd(const ember_backend *be, ember_tensor *dlogits, const ember_tensor *probs,
               const ember_tensor *labels, float smoothing, float scale, ember_err *err);
int cpu_adamw(const ember_backend *be, ember_tensor *params, const ember_tensor *grads,
              ember_tensor *m, ember_tensor *v, ember_tensor *params_bf16,
              const ember_tensor *step, float beta1, float beta2, float eps, float weight_decay,
              const ember_tensor *grad_scale, ember_err *err);
int cpu_zero(const ember_backend *be, ember_tensor *t, ember_err *err);
int cpu_l2_norm(const ember_backend *be, ember_tensor *out, const ember_tensor *x, ember_err *err);
int cpu_cast(const ember_backend *be, ember_tensor *out, const ember_tensor *in, ember_err *err);
int cpu_argmax(const ember_backend *be, ember_tensor *out, const ember_tensor *logits,
               ember_err *err);
int cpu_accuracy_count(const ember_backend *be, ember_tensor *count, const ember_tensor *logits,
                       const ember_tensor *labels, int accumulate, ember_err *err);
int cpu_normalize_u8(const ember_backend *be, ember_tensor *out, const ember_tensor *in,
                     const float *mean, const float *std, ember_err *err);

/* CLIPSeg inference ops (cpu_conv.c). */
int cpu_act_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, int act,
                ember_err *err);
int cpu_conv3x3_cols(const ember_backend *be, ember_tensor *cols, const ember_tensor *x,
                     ember_err *err);
int cpu_deconv_scatter(const ember_backend *be, ember_tensor *out, const ember_tensor *cols,
                       const ember_tensor *bias, int s, ember_err *err);
int cpu_film_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                 const ember_tensor *scale, const ember_tensor *shift, ember_err *err);

#endif
