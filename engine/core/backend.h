/* backend.h — the backend table: every tensor operation the engine's models
 * and training need, each forward beside its backward. One instance per
 * backend: the CPU one (engine/cpu, always present) and the CUDA one
 * (cuda/, built as libember_cuda.so and loaded with dlopen on first use).
 * Models, losses and optimizers are written once against this table.
 *
 * Changes: (add a dated line here for any change after the first version;
 * the rule is "only add": new members go at the END of struct ember_backend,
 * and EMBER_BACKEND_ABI is bumped when a member is added.)
 *   2026-11-26  first version (ABI 1).
 *   2026-11-26  ember_step_scalars_set takes the betas as double (callers
 *               passing floats are unaffected): 0.999f is not 0.999, and
 *               torch computes 1 - beta2^t from the double.
 *   2026-11-27  ABI 2: CLIPSeg inference ops act_fwd, conv3x3_cols,
 *               deconv_scatter, film_fwd appended. They are OPTIONAL (a
 *               backend may leave them NULL, as the CUDA one does for now);
 *               callers check and report "not supported on this backend".
 *
 * ---------------------------------------------------------------------------
 * Conventions, for every op below
 *
 * - Every op takes `be` (the table itself, so an implementation reaches its
 *   state through be->impl) first and `ember_err *err` last, returns 0 on
 *   success or -1 with a message in err. Ops validate dtypes, devices and
 *   shapes on the host (cheap, capture-safe) and refuse what they do not
 *   support with a message naming the op and the argument.
 * - Tensors are contiguous row-major (tensor.h). "[R, C]" means: any shape
 *   whose numel is R*C where the op says it flattens leading dims (e.g. a
 *   LayerNorm over [B, T, C] is [R = B*T, C]). Shapes named by letters are
 *   checked for consistency between arguments.
 * - All tensors of one call live on the backend's device.
 * - dtypes: "f32" means only f32; "f32|bf16" means the backend may accept
 *   bf16 too (the CUDA backend does for the mixed precision path; the CPU
 *   backend computes in f32 only and refuses bf16 except in `cast`).
 *   Statistics saved for backward (LayerNorm mean/rstd, attention logsumexp,
 *   cross-entropy probabilities) and optimizer state are always f32.
 * - Gradients: an op writes (=) its output gradients unless its `accumulate`
 *   argument is non-zero, in which case it adds (+=) into them. Parameter
 *   gradients are usually accumulated into a buffer zeroed once per step.
 * - Aliasing: an output may alias an input only where the op says so.
 * - Asynchrony: ops are enqueued on the backend's stream and may return
 *   before the result is ready; be->sync waits. Errors detected on the
 *   device may surface at a later call or at sync.
 *
 * CUDA graphs: the CUDA backend captures a whole training step once and
 * replays it. Therefore every op is capture-safe: no host synchronisation, no
 * allocation (memory comes from arenas), no host-side decision on device
 * values. Everything that changes from step to step (learning rate, AdamW
 * bias corrections, dropout RNG offset) is READ BY THE OPS FROM A DEVICE
 * TENSOR holding one ember_step_scalars, which the host refreshes with
 * copy_h2d before each launch. C scalar arguments (p, eps, betas, weight
 * decay, offsets within a step) must be the same on every replay.
 * ------------------------------------------------------------------------- */
#ifndef EMBER_CORE_BACKEND_H
#define EMBER_CORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_BACKEND_ABI 2

/* The per-step values that ops read from device memory (see above). Stored
 * in a device tensor of dtype u8 and exactly sizeof(ember_step_scalars)
 * bytes (or any tensor of at least that many bytes); layout is fixed: 32
 * bytes, little-endian, no padding surprises. */
typedef struct ember_step_scalars {
    float lr;            /* learning rate of this step */
    float bc1;           /* AdamW bias correction 1 - beta1^t (t = step, 1-based) */
    float bc2;           /* AdamW bias correction 1 - beta2^t */
    float reserved0;     /* 0 */
    uint64_t rng_offset; /* Philox counter base of this step's dropout */
    int64_t t;           /* step number (1-based); informational */
} ember_step_scalars;

/* Fills s for step t (1-based) with bias corrections computed in double. */
void ember_step_scalars_set(ember_step_scalars *s, float lr, double beta1, double beta2,
                            int64_t t, uint64_t rng_offset);

/* Matrix product descriptor (row-major throughout).
 *
 *   C[b] (m x n) = alpha * op(A[b]) (m x k) * op(B[b]) (k x n) + beta * C[b]
 *                  (+ bias[n] broadcast over rows)
 *   then, with gelu: pre[b] = that result, C[b] = gelu(pre[b]).
 *
 * op(X) = X or X^T. A is stored m x k (trans_a = 0) or k x m (trans_a = 1);
 * B is stored k x n (trans_b = 0) or n x k (trans_b = 1). lda/ldb/ldc are
 * row strides in elements (0 = packed: the stored width). For batch > 1,
 * stride_a/b/c are the element distances between consecutive matrices
 * (0 for a broadcast operand; stride_c must be non-zero). A linear layer
 * y = x W^T + b with x [R, in], W [out, in] is m = R, n = out, k = in,
 * trans_b = 1; its weight gradient dW += dy^T x is m = out, n = in, k = R,
 * trans_a = 1, beta = 1; its input gradient dx = dy W is m = R, n = in,
 * k = out. */
typedef struct ember_gemm {
    int trans_a, trans_b;
    int64_t m, n, k;
    int64_t lda, ldb, ldc;
    int64_t batch;
    int64_t stride_a, stride_b, stride_c;
    float alpha, beta;
    int gelu; /* non-zero: fused erf-GELU epilogue, pre-activation saved in `pre` */
} ember_gemm;

/* A filled-in descriptor for the common case: no transposes, packed, one
 * matrix, alpha 1, beta 0, no GELU. */
ember_gemm ember_gemm_default(int64_t m, int64_t n, int64_t k);

typedef struct ember_backend ember_backend;

/* Activations of act_fwd. */
#define EMBER_ACT_RELU 1       /* max(x, 0) */
#define EMBER_ACT_QUICK_GELU 2 /* x * sigmoid(1.702 x), CLIP's activation */

struct ember_backend {
    int abi;            /* EMBER_BACKEND_ABI of the code that built it */
    size_t struct_size; /* sizeof(ember_backend) there: members past it are absent */
    const char *name;   /* "cpu", "cuda" */
    ember_device device;
    void *impl;         /* the backend's own state (stream, handles, workspace) */

    /* Releases the backend's state. The table is unusable afterwards. */
    void (*close)(const ember_backend *be);
    /* One line for the user, e.g. "NVIDIA H100 80GB HBM3, 79.1 GiB, sm_90". */
    const char *(*describe)(const ember_backend *be);

    /* ---- memory (outside the training step) ------------------------------ */

    /* Device memory of `bytes` (>0), aligned to at least 256 bytes. Arenas
     * (arena.h) call this once and sub-allocate; nothing else should. */
    int (*alloc)(const ember_backend *be, size_t bytes, void **out, ember_err *err);
    void (*dealloc)(const ember_backend *be, void *p);

    /* Copies, enqueued on the backend's stream in order with the ops. The
     * host buffer must stay valid and unchanged until the next sync (the CPU
     * backend copies at once). Capture-safe only for device-to-device. */
    int (*copy_h2d)(const ember_backend *be, void *dst, const void *src, size_t bytes,
                    ember_err *err);
    int (*copy_d2h)(const ember_backend *be, void *dst, const void *src, size_t bytes,
                    ember_err *err);
    int (*copy_d2d)(const ember_backend *be, void *dst, const void *src, size_t bytes,
                    ember_err *err);
    /* Sets bytes of device memory (named so to stay clear of libc macros). */
    int (*fill_bytes)(const ember_backend *be, void *dst, int byte, size_t bytes,
                      ember_err *err);
    /* Waits for everything enqueued; reports asynchronous device errors. */
    int (*sync)(const ember_backend *be, ember_err *err);

    /* ---- matrix products ------------------------------------------------- */

    /* See ember_gemm. a, b: f32|bf16 (same dtype). c: f32|bf16, may differ
     * from a's dtype (output dtype). bias: NULL or [n], f32 or c's dtype.
     * pre: required iff g->gelu, same dtype and size as c (it is what
     * gelu_bwd needs). Numel of each operand must cover what the
     * descriptor addresses. With beta != 0, c is read first (c must not
     * alias a or b). */
    int (*matmul)(const ember_backend *be, const ember_gemm *g, const ember_tensor *a,
                  const ember_tensor *b, const ember_tensor *bias, ember_tensor *c,
                  ember_tensor *pre, ember_err *err);

    /* dbias[N] (+)= sum over rows of dy[R, N]. dbias f32; dy f32|bf16. */
    int (*bias_grad)(const ember_backend *be, ember_tensor *dbias, const ember_tensor *dy,
                     int accumulate, ember_err *err);

    /* ---- elementwise ----------------------------------------------------- */

    /* out = gelu(x) = x * 0.5 * (1 + erf(x / sqrt(2))) (exact, not tanh).
     * Any shape; out may alias x. f32|bf16. */
    int (*gelu_fwd)(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                    ember_err *err);
    /* dx (+)= dy * gelu'(x), x the pre-activation. dx may alias dy. */
    int (*gelu_bwd)(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy,
                    const ember_tensor *x, int accumulate, ember_err *err);

    /* out = a + b, same numel. out may alias a or b (so add(g, g, d) is g += d).
     * f32|bf16 (out's dtype may differ, e.g. f32 residual + bf16 branch). */
    int (*add)(const ember_backend *be, ember_tensor *out, const ember_tensor *a,
               const ember_tensor *b, ember_err *err);

    /* Inverted dropout: out = x * keep / (1 - p), keep from Philox as in
     * philox.h with seed and base = step->rng_offset + offset (step may be
     * NULL: base = offset). p in [0, 1); p == 0 copies. A call over n
     * elements consumes ceil(n/4) counters: give each dropout site of a step
     * its own offset range. Nothing is saved: the backward recomputes the
     * mask. out may alias x. f32|bf16. */
    int (*dropout_fwd)(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                       float p, uint64_t seed, uint64_t offset, const ember_tensor *step,
                       ember_err *err);
    /* dx (+)= dy * keep / (1 - p), same mask as the forward with the same
     * arguments. dx may alias dy when accumulate == 0. */
    int (*dropout_bwd)(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy,
                       float p, uint64_t seed, uint64_t offset, const ember_tensor *step,
                       int accumulate, ember_err *err);

    /* ---- normalisation --------------------------------------------------- */

    /* LayerNorm over the last dim of x [R, C]: out = (x - mean) * rstd * gamma
     * + beta, with biased variance and rstd = 1/sqrt(var + eps). Saves
     * mean [R] and rstd [R] (f32) for backward. gamma, beta [C] f32.
     * x, out f32|bf16. */
    int (*layernorm_fwd)(const ember_backend *be, ember_tensor *out, ember_tensor *mean,
                         ember_tensor *rstd, const ember_tensor *x, const ember_tensor *gamma,
                         const ember_tensor *beta, float eps, ember_err *err);
    /* dx (+)= (accumulate_dx), dgamma += and dbeta += (always accumulated:
     * parameter gradients), from dy [R, C] and the saved mean/rstd.
     * dx must not alias dy or x. */
    int (*layernorm_bwd)(const ember_backend *be, ember_tensor *dx, ember_tensor *dgamma,
                         ember_tensor *dbeta, const ember_tensor *dy, const ember_tensor *x,
                         const ember_tensor *mean, const ember_tensor *rstd,
                         const ember_tensor *gamma, int accumulate_dx, ember_err *err);

    /* ---- attention ------------------------------------------------------- */

    /* Multi-head scaled dot-product attention on a packed qkv [B, T, 3C]
     * (the output of one Linear(C, 3C), as timm/PyTorch lay it out: channel
     * s*C + h*D + d is q/k/v (s = 0/1/2), head h, dim d; D = C/heads).
     * out [B, T, C] (channel h*D + d), softmax(q k^T / sqrt(D)) v per head;
     * causal: key j > query i is masked. Saves lse [B, heads, T] f32, the
     * natural-log logsumexp of each scaled score row, for backward.
     * qkv, out f32|bf16. */
    int (*attention_fwd)(const ember_backend *be, ember_tensor *out, ember_tensor *lse,
                         const ember_tensor *qkv, int heads, int causal, ember_err *err);
    /* dqkv [B, T, 3C] (written) from dout [B, T, C], qkv, out and lse of the
     * forward (probabilities are recomputed from lse). */
    int (*attention_bwd)(const ember_backend *be, ember_tensor *dqkv, const ember_tensor *dout,
                         const ember_tensor *qkv, const ember_tensor *out,
                         const ember_tensor *lse, int heads, int causal, ember_err *err);

    /* ---- token plumbing -------------------------------------------------- */

    /* out [B, C] = mean over T of x [B, T, C]. */
    int (*mean_tokens_fwd)(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                           ember_err *err);
    /* dx [B, T, C] = dy [B, C] / T broadcast over T (written). */
    int (*mean_tokens_bwd)(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy,
                           ember_err *err);

    /* Patch extraction for a p x p stride-p convolution (no padding):
     * img [B, Cin, H, W] (H, W multiples of p) -> cols [B, (H/p)*(W/p),
     * Cin*p*p]; patch index py*(W/p) + px (row-major over the patch grid),
     * column ci*p*p + ky*p + kx: the flattening of a Conv2d weight
     * [Cout, Cin, p, p], so the convolution is matmul(cols, W^T) + bias. */
    int (*im2col_fwd)(const ember_backend *be, ember_tensor *cols, const ember_tensor *img,
                      int p, ember_err *err);
    /* Its adjoint: dimg [B, Cin, H, W] (+)= scatter of dcols. */
    int (*im2col_bwd)(const ember_backend *be, ember_tensor *dimg, const ember_tensor *dcols,
                      int p, int accumulate, ember_err *err);

    /* out [B, T, C] = x [B, T, C] + pos [T, C] (pos may carry leading 1s,
     * e.g. [1, T, C]). out may alias x. */
    int (*pos_embed_fwd)(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                         const ember_tensor *pos, ember_err *err);
    /* dpos [T, C] (+)= sum over B of dy [B, T, C]. dpos f32. */
    int (*pos_embed_bwd)(const ember_backend *be, ember_tensor *dpos, const ember_tensor *dy,
                         int accumulate, ember_err *err);

    /* ---- loss ------------------------------------------------------------ */

    /* Softmax cross-entropy with label smoothing s over K classes:
     * target = (1 - s) * onehot(label) + s / K; row loss = -sum target *
     * log softmax(logits). loss [1] f32 (+)= scale * sum of row losses
     * (scale = 1/B gives the batch mean, as PyTorch's reduction='mean').
     * Saves probs [B, K] f32 (the softmax) for backward. logits [B, K]
     * f32|bf16; labels [B] i32, each in [0, K) (out-of-range labels give an
     * error from the CPU backend; on a device they give a NaN loss). */
    int (*ce_fwd)(const ember_backend *be, ember_tensor *loss, ember_tensor *probs,
                  const ember_tensor *logits, const ember_tensor *labels, float smoothing,
                  float scale, int accumulate, ember_err *err);
    /* dlogits [B, K] (written) = scale * (probs - target). */
    int (*ce_bwd)(const ember_backend *be, ember_tensor *dlogits, const ember_tensor *probs,
                  const ember_tensor *labels, float smoothing, float scale, ember_err *err);

    /* ---- optimizer ------------------------------------------------------- */

    /* Fused AdamW over flat f32 buffers params, grads, m, v (same numel), as
     * torch.optim.AdamW (decoupled weight decay, bias correction):
     *   g = grads * (*grad_scale if grad_scale else 1)
     *   params *= 1 - lr * weight_decay
     *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
     *   params -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
     * lr, bc1, bc2 read from step (ember_step_scalars on the device).
     * params_bf16: NULL, or a bf16 tensor of the same numel that receives
     * the updated weights rounded (mixed precision copy, same pass).
     * grad_scale: NULL or f32 [1] on the device (e.g. a clipping factor). */
    int (*adamw)(const ember_backend *be, ember_tensor *params, const ember_tensor *grads,
                 ember_tensor *m, ember_tensor *v, ember_tensor *params_bf16,
                 const ember_tensor *step, float beta1, float beta2, float eps,
                 float weight_decay, const ember_tensor *grad_scale, ember_err *err);

    /* t = 0 (any dtype). */
    int (*zero)(const ember_backend *be, ember_tensor *t, ember_err *err);

    /* out [1] f32 = sqrt(sum of x^2) over all of x (f32|bf16), accumulated
     * in at least f32; deterministic for a given backend and thread count. */
    int (*l2_norm)(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                   ember_err *err);

    /* ---- conversions and evaluation --------------------------------------- */

    /* out = in converted: f32 -> bf16 (round to nearest even, bf16.h),
     * bf16 -> f32, or same dtype (a copy). Same numel. */
    int (*cast)(const ember_backend *be, ember_tensor *out, const ember_tensor *in,
                ember_err *err);

    /* out [B] i32 = index of the largest logit of each row of logits [B, K]
     * (first one on ties). */
    int (*argmax)(const ember_backend *be, ember_tensor *out, const ember_tensor *logits,
                  ember_err *err);
    /* count [1] i32 (+)= number of rows whose argmax equals the label. */
    int (*accuracy_count)(const ember_backend *be, ember_tensor *count,
                          const ember_tensor *logits, const ember_tensor *labels,
                          int accumulate, ember_err *err);

    /* Images to the model's input: out [B, Cin, H, W] f32|bf16 =
     * (in / 255 - mean[c]) / std[c], in u8 [B, Cin, H, W]. mean and std are
     * host arrays of Cin values (constant across replays). */
    int (*normalize_u8)(const ember_backend *be, ember_tensor *out, const ember_tensor *in,
                        const float *mean, const float *std, ember_err *err);

    /* ---- CUDA graphs (NULL on backends without them) ----------------------- */

    /* Starts capturing the ops that follow into a graph instead of running them. */
    int (*graph_begin)(const ember_backend *be, ember_err *err);
    /* Ends the capture; *graph receives an executable graph handle. */
    int (*graph_end)(const ember_backend *be, void **graph, ember_err *err);
    /* Enqueues one replay. */
    int (*graph_launch)(const ember_backend *be, void *graph, ember_err *err);
    void (*graph_destroy)(const ember_backend *be, void *graph);

    /* ---- inference ops of CLIPSeg (ABI 2; optional: may be NULL) ----------- */

    /* out = act(x), act one of EMBER_ACT_*. Any shape; out may alias x. f32. */
    int (*act_fwd)(const ember_backend *be, ember_tensor *out, const ember_tensor *x, int act,
                   ember_err *err);
    /* Columns of a 3x3, stride-1, zero-padding-1 convolution on a
     * channels-last image x [B, H, W, C]: cols [B, H*W, 9*C], row y*W + x,
     * column (ky*3 + kx)*C + c = x[b, y+ky-1, x+kx-1, c] (0 outside). The
     * convolution is matmul(cols, W'^T) + bias with the Conv2d weight
     * [Cout, C, 3, 3] permuted to W' [Cout, 3, 3, C]. f32. */
    int (*conv3x3_cols)(const ember_backend *be, ember_tensor *cols, const ember_tensor *x,
                        ember_err *err);
    /* The scatter of a non-overlapping transposed convolution (kernel s,
     * stride s): cols [B, H, W, Cout*s*s] (= in [B, H*W, Cin] times the
     * ConvTranspose2d weight [Cin, Cout, s, s] viewed as [Cin, Cout*s*s]),
     * out [B, H*s, W*s, Cout] channels-last:
     * out[b, y*s+i, x*s+j, co] = cols[b, y, x, (co*s + i)*s + j] + bias[co].
     * bias: NULL or [Cout]. f32. */
    int (*deconv_scatter)(const ember_backend *be, ember_tensor *out, const ember_tensor *cols,
                          const ember_tensor *bias, int s, ember_err *err);
    /* FiLM: out[b, t, c] = scale[b, c] * x[bx, t, c] + shift[b, c], with
     * out [B, T, C], scale and shift [B, C], x [B, T, C] or [1, T, C]
     * (broadcast over b). out may alias x when their shapes are equal. f32. */
    int (*film_fwd)(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                    const ember_tensor *scale, const ember_tensor *shift, ember_err *err);
};

/* ---- finding backends (engine/core/backend_load.c) ------------------------ */

/* The CPU backend: always available, never fails (engine/cpu). */
const ember_backend *ember_backend_cpu(void);

/* The symbol libember_cuda.so exports, and its type. On success *out is a
 * table valid until its close. */
#define EMBER_CUDA_ENTRY "ember_cuda_backend_open"
typedef int (*ember_backend_open_fn)(const ember_backend **out, ember_err *err);
int ember_cuda_backend_open(const ember_backend **out, ember_err *err);

/* Loads the CUDA backend on first call (dlopen), then returns the same table.
 * Search order: $EMBER_CUDA_LIB (a full path), libember_cuda.so next to the
 * running executable, the build directory compiled in (EMBER_CUDA_BUILD_DIR),
 * then the dynamic linker's own search. On failure returns -1 with
 * "CUDA backend not available: <why>; using the CPU" in err (and remembers
 * the failure: later calls fail fast with the same message). */
int ember_backend_cuda(const ember_backend **out, ember_err *err);

/* Forgets a loaded or failed CUDA backend (closes it, dlcloses the library),
 * so the next ember_backend_cuda call tries again. For tests and shutdown. */
void ember_backend_cuda_unload(void);

/* ember_backend_cpu() for EMBER_DEV_CPU, ember_backend_cuda() for CUDA. */
int ember_backend_for(ember_device dev, const ember_backend **out, ember_err *err);

/* Validates a table handed over by a loaded library (abi, size, members). */
int ember_backend_validate(const ember_backend *be, ember_err *err);

#ifdef __cplusplus
}
#endif
#endif
