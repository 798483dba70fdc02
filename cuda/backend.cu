/* backend.cu — the CUDA backend table (core/backend.h): argument checks on
 * the host, then the kernels of this folder or cuBLASLt, all enqueued on the
 * backend's one stream. Also open/close, memory, copies and graph capture.
 * The only exported symbols are ember_cuda_backend_open and the probe the
 * GPU tests use to tell "no GPU" (skip) from a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "state.h"
#include "validate.h"

#define ECU_EXPORT extern "C" __attribute__((visibility("default")))
#define S(be) ecu_of(be)
#define STREAM(be) (ecu_of(be)->stream)

/* ---- memory and copies ---------------------------------------------------- */

static int be_alloc(const ember_backend *be, size_t bytes, void **out, ember_err *err)
{
    (void)be;
    *out = NULL;
    if (!bytes) return ecu_errf(err, "alloc: zero bytes asked");
    if (S(be)->capturing)
        return ecu_errf(err, "alloc: device memory cannot be allocated during graph capture");
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        ecu_fail_cuda(err, e, "cudaMalloc", "alloc", __FILE__, __LINE__);
        size_t fr = 0, tot = 0;
        if (cudaMemGetInfo(&fr, &tot) == cudaSuccess) {
            char extra[160];
            snprintf(extra, sizeof extra, " (asked %.2f GiB, %.2f GiB free of %.2f GiB)",
                     bytes / 1073741824.0, fr / 1073741824.0, tot / 1073741824.0);
            size_t l = strlen(err ? err->msg : "");
            if (err && l + strlen(extra) < sizeof err->msg) strcat(err->msg, extra);
        }
        (void)cudaGetLastError();
        return -1;
    }
    *out = p;
    ecu_state *s = S(be);
    for (int i = 0; i < ECU_MAX_ALLOCS; ++i)
        if (!s->allocs[i].p) {
            s->allocs[i].p = p;
            s->allocs[i].n = bytes;
            break;
        }
    s->mem_cur += bytes;
    if (s->mem_cur > s->mem_peak) s->mem_peak = s->mem_cur;
    return 0;
}

static void be_dealloc(const ember_backend *be, void *p)
{
    if (!p) return;
    ecu_state *s = S(be);
    for (int i = 0; i < ECU_MAX_ALLOCS; ++i)
        if (s->allocs[i].p == p) {
            s->mem_cur -= s->allocs[i].n;
            s->allocs[i].p = NULL;
            break;
        }
    (void)cudaFree(p);
    (void)cudaGetLastError();
}

static int be_copy(const ember_backend *be, void *dst, const void *src, size_t bytes,
                   cudaMemcpyKind kind, ember_err *err)
{
    if (!bytes) return 0;
    if (!dst || !src) return ecu_errf(err, "copy: NULL pointer");
    if (S(be)->capturing && kind != cudaMemcpyDeviceToDevice)
        return ecu_errf(err, "copy: host copies cannot be captured in a graph; refresh "
                        "inputs before launching it");
    CU_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, STREAM(be)));
    return 0;
}

static int be_copy_h2d(const ember_backend *be, void *d, const void *s, size_t n, ember_err *err)
{
    return be_copy(be, d, s, n, cudaMemcpyHostToDevice, err);
}
static int be_copy_d2h(const ember_backend *be, void *d, const void *s, size_t n, ember_err *err)
{
    return be_copy(be, d, s, n, cudaMemcpyDeviceToHost, err);
}
static int be_copy_d2d(const ember_backend *be, void *d, const void *s, size_t n, ember_err *err)
{
    return be_copy(be, d, s, n, cudaMemcpyDeviceToDevice, err);
}

static int be_fill_bytes(const ember_backend *be, void *dst, int byte, size_t bytes,
                         ember_err *err)
{
    if (!bytes) return 0;
    CU_CHECK(cudaMemsetAsync(dst, byte, bytes, STREAM(be)));
    return 0;
}

static int be_sync(const ember_backend *be, ember_err *err)
{
    if (S(be)->capturing)
        return ecu_errf(err, "sync: cannot wait for the GPU during graph capture");
    CU_CHECK(cudaStreamSynchronize(STREAM(be)));
    return 0;
}

/* ---- matrix products ------------------------------------------------------ */

static int be_matmul(const ember_backend *be, const ember_gemm *g, const ember_tensor *a,
                     const ember_tensor *b, const ember_tensor *bias, ember_tensor *c,
                     ember_tensor *pre, ember_err *err)
{
    return ecu_matmul(S(be), g, a, b, bias, c, pre, err);
}

static int be_bias_grad(const ember_backend *be, ember_tensor *dbias, const ember_tensor *dy,
                        int accumulate, ember_err *err)
{
    const char *op = "bias_grad";
    if (ecu_arg(op, "dy", dy, ECU_FLOAT, -1, err)) return -1;
    int64_t R = 0, N = 0;
    ecu_rows_cols(dy, &R, &N);
    if (ecu_arg(op, "dbias", dbias, ECU_F32, N, err)) return -1;
    if (!accumulate) CU_CHECK(cudaMemsetAsync(dbias->data, 0, (size_t)N * 4, STREAM(be)));
    CU_CHECK(ek_colsum(STREAM(be), ecu_ek(dy), dy->data, (float *)dbias->data, (size_t)R,
                       (int)N, 1));
    return 0;
}

/* ---- elementwise ---------------------------------------------------------- */

static int be_gelu_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                       ember_err *err)
{
    if (ecu_arg("gelu_fwd", "x", x, ECU_FLOAT, -1, err) ||
        ecu_arg("gelu_fwd", "out", out, ECU_FLOAT, ecu_numel(x), err))
        return -1;
    CU_CHECK(ek_gelu_fwd(STREAM(be), ecu_ek(x), ecu_ek(out), x->data, out->data,
                         (size_t)ecu_numel(x)));
    return 0;
}

static int be_gelu_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy,
                       const ember_tensor *x, int accumulate, ember_err *err)
{
    const char *op = "gelu_bwd";
    if (ecu_arg(op, "x", x, ECU_FLOAT, -1, err) ||
        ecu_arg(op, "dy", dy, ECU_FLOAT, ecu_numel(x), err) ||
        ecu_arg(op, "dx", dx, ECU_FLOAT, ecu_numel(x), err))
        return -1;
    if (dx->dtype != dy->dtype)
        return ecu_errf(err, "gelu_bwd: dx (%s) and dy (%s) must share a dtype",
                        ecu_dtname(dx->dtype), ecu_dtname(dy->dtype));
    if (accumulate && dx->data == dy->data)
        return ecu_errf(err, "gelu_bwd: dx may alias dy only when accumulate is 0");
    CU_CHECK(ek_gelu_bwd(STREAM(be), ecu_ek(x), ecu_ek(dx), dy->data, x->data, dx->data,
                         (size_t)ecu_numel(x), accumulate));
    return 0;
}

static int be_add(const ember_backend *be, ember_tensor *out, const ember_tensor *a,
                  const ember_tensor *b, ember_err *err)
{
    const char *op = "add";
    if (ecu_arg(op, "a", a, ECU_FLOAT, -1, err) ||
        ecu_arg(op, "b", b, ECU_FLOAT, ecu_numel(a), err) ||
        ecu_arg(op, "out", out, ECU_FLOAT, ecu_numel(a), err))
        return -1;
    CU_CHECK(ek_axpby(STREAM(be), ecu_ek(a), ecu_ek(b), ecu_ek(out), a->data, b->data,
                      out->data, 1.0f, 1.0f, (size_t)ecu_numel(a)));
    return 0;
}

static int dropout_args(const char *op, float p, const ember_tensor *step,
                        const uint64_t **step_base, ember_err *err)
{
    if (!(p >= 0.0f && p < 1.0f))
        return ecu_errf(err, "%s: p must be in [0, 1), got %g", op, (double)p);
    *step_base = NULL;
    if (step) {
        if (ecu_arg(op, "step", step, ECU_ANY, -1, err)) return -1;
        if (ecu_nbytes(step) < sizeof(ember_step_scalars))
            return ecu_errf(err, "%s: step holds %zu bytes; ember_step_scalars needs %zu", op,
                            ecu_nbytes(step), sizeof(ember_step_scalars));
        *step_base = (const uint64_t *)((const char *)step->data +
                                        offsetof(ember_step_scalars, rng_offset));
    }
    return 0;
}

static int be_dropout_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                          float p, uint64_t seed, uint64_t offset, const ember_tensor *step,
                          ember_err *err)
{
    const char *op = "dropout_fwd";
    const uint64_t *sb;
    if (ecu_arg(op, "x", x, ECU_FLOAT, -1, err) ||
        ecu_arg(op, "out", out, ECU_FLOAT, ecu_numel(x), err) ||
        dropout_args(op, p, step, &sb, err))
        return -1;
    size_t n = (size_t)ecu_numel(x);
    if (p == 0.0f) {
        if (out->data == x->data && out->dtype == x->dtype) return 0;
        CU_CHECK(ek_cast(STREAM(be), ecu_ek(x), ecu_ek(out), x->data, out->data, n));
        return 0;
    }
    CU_CHECK(ek_dropout(STREAM(be), ecu_ek(x), ecu_ek(out), x->data, out->data, n, p, seed,
                        offset, sb, 0));
    return 0;
}

static int be_dropout_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy,
                          float p, uint64_t seed, uint64_t offset, const ember_tensor *step,
                          int accumulate, ember_err *err)
{
    const char *op = "dropout_bwd";
    const uint64_t *sb;
    if (ecu_arg(op, "dy", dy, ECU_FLOAT, -1, err) ||
        ecu_arg(op, "dx", dx, ECU_FLOAT, ecu_numel(dy), err) ||
        dropout_args(op, p, step, &sb, err))
        return -1;
    if (accumulate && dx->data == dy->data)
        return ecu_errf(err, "dropout_bwd: dx may alias dy only when accumulate is 0");
    size_t n = (size_t)ecu_numel(dy);
    if (p == 0.0f) {
        if (accumulate)
            CU_CHECK(ek_axpby(STREAM(be), ecu_ek(dy), ecu_ek(dx), ecu_ek(dx), dy->data,
                              dx->data, dx->data, 1.0f, 1.0f, n));
        else if (dx->data != dy->data || dx->dtype != dy->dtype)
            CU_CHECK(ek_cast(STREAM(be), ecu_ek(dy), ecu_ek(dx), dy->data, dx->data, n));
        return 0;
    }
    CU_CHECK(ek_dropout(STREAM(be), ecu_ek(dy), ecu_ek(dx), dy->data, dx->data, n, p, seed,
                        offset, sb, accumulate));
    return 0;
}

/* ---- normalisation -------------------------------------------------------- */

static int be_layernorm_fwd(const ember_backend *be, ember_tensor *out, ember_tensor *mean,
                            ember_tensor *rstd, const ember_tensor *x, const ember_tensor *gamma,
                            const ember_tensor *beta, float eps, ember_err *err)
{
    const char *op = "layernorm_fwd";
    if (ecu_arg(op, "x", x, ECU_FLOAT, -1, err)) return -1;
    int64_t R = 0, C = 0;
    ecu_rows_cols(x, &R, &C);
    if (ecu_arg(op, "out", out, ECU_FLOAT, R * C, err) ||
        ecu_arg(op, "mean", mean, ECU_F32, R, err) || ecu_arg(op, "rstd", rstd, ECU_F32, R, err) ||
        ecu_arg(op, "gamma", gamma, ECU_F32, C, err) || ecu_arg(op, "beta", beta, ECU_F32, C, err))
        return -1;
    if (!(eps > 0.0f)) return ecu_errf(err, "layernorm_fwd: eps must be > 0, got %g", (double)eps);
    CU_CHECK(ek_layernorm_fwd(STREAM(be), ecu_ek(x), 0, ecu_ek(out), x->data, gamma->data,
                              beta->data, out->data, (float *)mean->data, (float *)rstd->data,
                              (int)R, (int)C, eps));
    return 0;
}

static int be_layernorm_bwd(const ember_backend *be, ember_tensor *dx, ember_tensor *dgamma,
                            ember_tensor *dbeta, const ember_tensor *dy, const ember_tensor *x,
                            const ember_tensor *mean, const ember_tensor *rstd,
                            const ember_tensor *gamma, int accumulate_dx, ember_err *err)
{
    const char *op = "layernorm_bwd";
    if (ecu_arg(op, "x", x, ECU_FLOAT, -1, err)) return -1;
    int64_t R = 0, C = 0;
    ecu_rows_cols(x, &R, &C);
    if (ecu_arg(op, "dy", dy, ECU_FLOAT, R * C, err) ||
        ecu_arg(op, "dx", dx, ECU_FLOAT, R * C, err) ||
        ecu_arg(op, "dgamma", dgamma, ECU_F32, C, err) ||
        ecu_arg(op, "dbeta", dbeta, ECU_F32, C, err) ||
        ecu_arg(op, "mean", mean, ECU_F32, R, err) || ecu_arg(op, "rstd", rstd, ECU_F32, R, err) ||
        ecu_arg(op, "gamma", gamma, ECU_F32, C, err))
        return -1;
    if (C > 6144)
        return ecu_errf(err, "layernorm_bwd: %lld channels; the CUDA kernel takes at most 6144",
                        (long long)C);
    CU_CHECK(ek_layernorm_bwd(STREAM(be), ecu_ek(x), ecu_ek(dy), ecu_ek(dx), dy->data, x->data,
                              gamma->data, (const float *)mean->data, (const float *)rstd->data,
                              dx->data, (float *)dgamma->data, (float *)dbeta->data, (int)R,
                              (int)C, accumulate_dx));
    return 0;
}

/* ---- attention ------------------------------------------------------------ */

static int attn_dims(const char *op, const ember_tensor *qkv, int heads, int64_t *B, int64_t *T,
                     int64_t *C, ember_err *err)
{
    if (ecu_arg(op, "qkv", qkv, ECU_FLOAT, -1, err)) return -1;
    if (qkv->ndim != 3 || qkv->shape[2] % 3)
        return ecu_errf(err, "%s: qkv must be [B, T, 3C]", op);
    *B = qkv->shape[0];
    *T = qkv->shape[1];
    *C = qkv->shape[2] / 3;
    if (heads < 1 || *C % heads)
        return ecu_errf(err, "%s: %lld channels do not split into %d heads", op,
                        (long long)*C, heads);
    return 0;
}

static int be_attention_fwd(const ember_backend *be, ember_tensor *out, ember_tensor *lse,
                            const ember_tensor *qkv, int heads, int causal, ember_err *err)
{
    const char *op = "attention_fwd";
    int64_t B = 0, T = 0, C = 0;
    if (attn_dims(op, qkv, heads, &B, &T, &C, err) ||
        ecu_arg(op, "out", out, ECU_FLOAT, B * T * C, err) ||
        ecu_arg(op, "lse", lse, ECU_F32, B * heads * T, err))
        return -1;
    int D = (int)(C / heads);
    if (qkv->dtype == EMBER_BF16 && out->dtype == EMBER_BF16 && !S(be)->no_tc &&
        ek_attention_tc_ok((int)T, D, S(be)->max_smem, 0)) {
        CU_CHECK(ek_attention_tc_fwd(STREAM(be), qkv->data, out->data, (float *)lse->data,
                                     (int)B, (int)T, heads, D, causal));
        return 0;
    }
    if (ek_attention_fwd_smem((int)T, D) > (size_t)S(be)->max_smem)
        return ecu_errf(err, "attention_fwd: %lld tokens of head dim %d do not fit the "
                        "kernel's shared memory (%d bytes)", (long long)T, D, S(be)->max_smem);
    CU_CHECK(ek_attention_fwd(STREAM(be), ecu_ek(qkv), ecu_ek(out), qkv->data, out->data,
                              (float *)lse->data, (int)B, (int)T, heads, D, causal));
    return 0;
}

static int be_attention_bwd(const ember_backend *be, ember_tensor *dqkv, const ember_tensor *dout,
                            const ember_tensor *qkv, const ember_tensor *out,
                            const ember_tensor *lse, int heads, int causal, ember_err *err)
{
    const char *op = "attention_bwd";
    int64_t B = 0, T = 0, C = 0;
    if (attn_dims(op, qkv, heads, &B, &T, &C, err) ||
        ecu_arg(op, "dqkv", dqkv, ECU_FLOAT, B * T * 3 * C, err) ||
        ecu_arg(op, "dout", dout, ECU_FLOAT, B * T * C, err) ||
        ecu_arg(op, "out", out, ECU_FLOAT, B * T * C, err) ||
        ecu_arg(op, "lse", lse, ECU_F32, B * heads * T, err))
        return -1;
    if (out->dtype != qkv->dtype || dout->dtype != dqkv->dtype)
        return ecu_errf(err, "attention_bwd: out must have qkv's dtype and dout dqkv's");
    int D = (int)(C / heads);
    if (qkv->dtype == EMBER_BF16 && dqkv->dtype == EMBER_BF16 && !S(be)->no_tc &&
        ek_attention_tc_ok((int)T, D, S(be)->max_smem, 1)) {
        CU_CHECK(ek_attention_tc_bwd(STREAM(be), dqkv->data, dout->data, qkv->data, out->data,
                                     (const float *)lse->data, (int)B, (int)T, heads, D, causal));
        return 0;
    }
    if (ek_attention_bwd_smem((int)T, D) > (size_t)S(be)->max_smem)
        return ecu_errf(err, "attention_bwd: %lld tokens of head dim %d do not fit the "
                        "kernel's shared memory (%d bytes)", (long long)T, D, S(be)->max_smem);
    CU_CHECK(ek_attention_bwd(STREAM(be), ecu_ek(qkv), ecu_ek(dqkv), dqkv->data, dout->data,
                              qkv->data, out->data, (const float *)lse->data, (int)B, (int)T,
                              heads, D, causal));
    return 0;
}

/* ---- token plumbing ------------------------------------------------------- */

static int btc(const char *op, const ember_tensor *x, int64_t *B, int64_t *T, int64_t *C,
               ember_err *err)
{
    if (ecu_arg(op, "x", x, ECU_FLOAT, -1, err)) return -1;
    if (x->ndim != 3) return ecu_errf(err, "%s: x must be [B, T, C], got %d dims", op, x->ndim);
    *B = x->shape[0];
    *T = x->shape[1];
    *C = x->shape[2];
    return 0;
}

static int be_mean_tokens_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                              ember_err *err)
{
    int64_t B = 0, T = 0, C = 0;
    if (btc("mean_tokens_fwd", x, &B, &T, &C, err) ||
        ecu_arg("mean_tokens_fwd", "out", out, ECU_FLOAT, B * C, err))
        return -1;
    CU_CHECK(ek_mean_tokens_fwd(STREAM(be), ecu_ek(x), ecu_ek(out), x->data, out->data, (int)B,
                                (int)T, (int)C));
    return 0;
}

static int be_mean_tokens_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy,
                              ember_err *err)
{
    const char *op = "mean_tokens_bwd";
    if (ecu_arg(op, "dx", dx, ECU_FLOAT, -1, err)) return -1;
    if (dx->ndim != 3) return ecu_errf(err, "%s: dx must be [B, T, C]", op);
    int64_t B = dx->shape[0], T = dx->shape[1], C = dx->shape[2];
    if (ecu_arg(op, "dy", dy, ECU_FLOAT, B * C, err)) return -1;
    CU_CHECK(ek_mean_tokens_bwd(STREAM(be), ecu_ek(dy), ecu_ek(dx), dy->data, dx->data, (int)B,
                                (int)T, (int)C, 0));
    return 0;
}

static int im2col_dims(const char *op, const ember_tensor *img, int p, int64_t *B, int64_t *Ci,
                       int64_t *H, int64_t *W, ember_err *err)
{
    if (ecu_arg(op, "img", img, ECU_FLOAT, -1, err)) return -1;
    if (img->ndim != 4) return ecu_errf(err, "%s: img must be [B, Cin, H, W]", op);
    *B = img->shape[0];
    *Ci = img->shape[1];
    *H = img->shape[2];
    *W = img->shape[3];
    if (p < 1 || *H % p || *W % p)
        return ecu_errf(err, "%s: a %lldx%lld image does not split into %dx%d patches", op,
                        (long long)*H, (long long)*W, p, p);
    return 0;
}

static int be_im2col_fwd(const ember_backend *be, ember_tensor *cols, const ember_tensor *img,
                         int p, ember_err *err)
{
    int64_t B = 0, Ci = 0, H = 0, W = 0;
    if (im2col_dims("im2col_fwd", img, p, &B, &Ci, &H, &W, err) ||
        ecu_arg("im2col_fwd", "cols", cols, ECU_FLOAT, B * Ci * H * W, err))
        return -1;
    CU_CHECK(ek_im2col(STREAM(be), ecu_ek(img), ecu_ek(cols), img->data, cols->data, (int)B,
                       (int)Ci, (int)H, (int)W, p, 0, 0));
    return 0;
}

static int be_im2col_bwd(const ember_backend *be, ember_tensor *dimg, const ember_tensor *dcols,
                         int p, int accumulate, ember_err *err)
{
    int64_t B = 0, Ci = 0, H = 0, W = 0;
    if (im2col_dims("im2col_bwd", dimg, p, &B, &Ci, &H, &W, err) ||
        ecu_arg("im2col_bwd", "dcols", dcols, ECU_FLOAT, B * Ci * H * W, err))
        return -1;
    CU_CHECK(ek_im2col(STREAM(be), ecu_ek(dimg), ecu_ek(dcols), dimg->data, dcols->data, (int)B,
                       (int)Ci, (int)H, (int)W, p, 1, accumulate));
    return 0;
}

static int be_pos_embed_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                            const ember_tensor *pos, ember_err *err)
{
    const char *op = "pos_embed_fwd";
    int64_t B = 0, T = 0, C = 0;
    if (btc(op, x, &B, &T, &C, err) || ecu_arg(op, "out", out, ECU_FLOAT, B * T * C, err) ||
        ecu_arg(op, "pos", pos, ECU_FLOAT, T * C, err))
        return -1;
    CU_CHECK(ek_add_rows(STREAM(be), ecu_ek(x), ecu_ek(pos), ecu_ek(out), x->data, pos->data,
                         out->data, (size_t)(B * T), (int)C, (size_t)T));
    return 0;
}

static int be_pos_embed_bwd(const ember_backend *be, ember_tensor *dpos, const ember_tensor *dy,
                            int accumulate, ember_err *err)
{
    const char *op = "pos_embed_bwd";
    int64_t B = 0, T = 0, C = 0;
    if (ecu_arg(op, "dy", dy, ECU_FLOAT, -1, err)) return -1;
    if (dy->ndim != 3) return ecu_errf(err, "%s: dy must be [B, T, C]", op);
    B = dy->shape[0];
    T = dy->shape[1];
    C = dy->shape[2];
    if (ecu_arg(op, "dpos", dpos, ECU_F32, T * C, err)) return -1;
    if (!accumulate) CU_CHECK(cudaMemsetAsync(dpos->data, 0, (size_t)(T * C) * 4, STREAM(be)));
    CU_CHECK(ek_colsum(STREAM(be), ecu_ek(dy), dy->data, (float *)dpos->data, (size_t)(B * T),
                       (int)C, (size_t)T));
    return 0;
}

/* ---- loss ----------------------------------------------------------------- */

static int ce_dims(const char *op, const ember_tensor *logits, const ember_tensor *labels,
                   int64_t *B, int64_t *K, ember_err *err)
{
    if (ecu_arg(op, "logits", logits, ECU_FLOAT, -1, err)) return -1;
    ecu_rows_cols(logits, B, K);
    return ecu_arg(op, "labels", labels, ECU_I32, *B, err);
}

static int be_ce_fwd(const ember_backend *be, ember_tensor *loss, ember_tensor *probs,
                     const ember_tensor *logits, const ember_tensor *labels, float smoothing,
                     float scale, int accumulate, ember_err *err)
{
    const char *op = "ce_fwd";
    int64_t B = 0, K = 0;
    if (ce_dims(op, logits, labels, &B, &K, err) || ecu_arg(op, "loss", loss, ECU_F32, 1, err) ||
        ecu_arg(op, "probs", probs, ECU_F32, B * K, err))
        return -1;
    if (!(smoothing >= 0.0f && smoothing <= 1.0f))
        return ecu_errf(err, "ce_fwd: smoothing must be in [0, 1], got %g", (double)smoothing);
    if (!accumulate) CU_CHECK(cudaMemsetAsync(loss->data, 0, 4, STREAM(be)));
    CU_CHECK(ek_ce_fwd(STREAM(be), ecu_ek(logits), logits->data, (const int *)labels->data,
                       (int)B, (int)K, smoothing, scale, (float *)loss->data,
                       (float *)probs->data));
    return 0;
}

static int be_ce_bwd(const ember_backend *be, ember_tensor *dlogits, const ember_tensor *probs,
                     const ember_tensor *labels, float smoothing, float scale, ember_err *err)
{
    const char *op = "ce_bwd";
    int64_t B = 0, K = 0;
    if (ecu_arg(op, "dlogits", dlogits, ECU_FLOAT, -1, err)) return -1;
    ecu_rows_cols(dlogits, &B, &K);
    if (ecu_arg(op, "probs", probs, ECU_F32, B * K, err) ||
        ecu_arg(op, "labels", labels, ECU_I32, B, err))
        return -1;
    CU_CHECK(ek_ce_bwd(STREAM(be), ecu_ek(dlogits), dlogits->data, (const float *)probs->data,
                       (const int *)labels->data, (int)B, (int)K, smoothing, scale));
    return 0;
}

/* ---- optimizer and reductions --------------------------------------------- */

static int be_adamw(const ember_backend *be, ember_tensor *params, const ember_tensor *grads,
                    ember_tensor *m, ember_tensor *v, ember_tensor *params_bf16,
                    const ember_tensor *step, float beta1, float beta2, float eps,
                    float weight_decay, const ember_tensor *grad_scale, ember_err *err)
{
    const char *op = "adamw";
    if (ecu_arg(op, "params", params, ECU_F32, -1, err)) return -1;
    int64_t n = ecu_numel(params);
    if (ecu_arg(op, "grads", grads, ECU_FLOAT, n, err) || ecu_arg(op, "m", m, ECU_F32, n, err) ||
        ecu_arg(op, "v", v, ECU_F32, n, err) || ecu_arg(op, "step", step, ECU_ANY, -1, err))
        return -1;
    if (params_bf16 && ecu_arg(op, "params_bf16", params_bf16, ECU_BF16, n, err)) return -1;
    if (grad_scale && ecu_arg(op, "grad_scale", grad_scale, ECU_F32, 1, err)) return -1;
    if (ecu_nbytes(step) < sizeof(ember_step_scalars))
        return ecu_errf(err, "adamw: step holds %zu bytes; ember_step_scalars needs %zu",
                        ecu_nbytes(step), sizeof(ember_step_scalars));
    ek_adamw_hp hp = {beta1, beta2, eps, weight_decay};
    CU_CHECK(ek_adamw(STREAM(be), ecu_ek(grads), (float *)params->data, grads->data,
                      (float *)m->data, (float *)v->data, params_bf16 ? params_bf16->data : NULL,
                      (size_t)n, &hp, (const float *)step->data,
                      grad_scale ? (const float *)grad_scale->data : NULL));
    return 0;
}

static int be_zero(const ember_backend *be, ember_tensor *t, ember_err *err)
{
    if (ecu_arg("zero", "t", t, ECU_ANY, -1, err)) return -1;
    size_t n = ecu_nbytes(t);
    if (n) CU_CHECK(cudaMemsetAsync(t->data, 0, n, STREAM(be)));
    return 0;
}

static int be_l2_norm(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                      ember_err *err)
{
    if (ecu_arg("l2_norm", "x", x, ECU_FLOAT, -1, err) ||
        ecu_arg("l2_norm", "out", out, ECU_F32, 1, err))
        return -1;
    CU_CHECK(ek_l2_norm(STREAM(be), ecu_ek(x), x->data, (size_t)ecu_numel(x),
                        S(be)->norm_partial, (float *)out->data));
    return 0;
}

/* ---- conversions and evaluation ------------------------------------------- */

static int be_cast(const ember_backend *be, ember_tensor *out, const ember_tensor *in,
                   ember_err *err)
{
    if (ecu_arg("cast", "in", in, ECU_ANY, -1, err) ||
        ecu_arg("cast", "out", out, ECU_ANY, ecu_numel(in), err))
        return -1;
    size_t n = (size_t)ecu_numel(in);
    if (in->dtype == out->dtype) {
        if (n && in->data != out->data)
            CU_CHECK(cudaMemcpyAsync(out->data, in->data, ecu_nbytes(in),
                                     cudaMemcpyDeviceToDevice, STREAM(be)));
        return 0;
    }
    unsigned fl = ECU_FLOAT;
    if (!((1u << in->dtype) & fl) || !((1u << out->dtype) & fl))
        return ecu_errf(err, "cast: %s to %s is not supported (f32 <-> bf16 only)",
                        ecu_dtname(in->dtype), ecu_dtname(out->dtype));
    CU_CHECK(ek_cast(STREAM(be), ecu_ek(in), ecu_ek(out), in->data, out->data, n));
    return 0;
}

static int be_argmax(const ember_backend *be, ember_tensor *out, const ember_tensor *logits,
                     ember_err *err)
{
    if (ecu_arg("argmax", "logits", logits, ECU_FLOAT, -1, err)) return -1;
    int64_t B = 0, K = 0;
    ecu_rows_cols(logits, &B, &K);
    if (ecu_arg("argmax", "out", out, ECU_I32, B, err)) return -1;
    CU_CHECK(ek_argmax(STREAM(be), ecu_ek(logits), logits->data, (int)B, (int)K,
                       (int *)out->data, NULL, NULL));
    return 0;
}

static int be_accuracy_count(const ember_backend *be, ember_tensor *count,
                             const ember_tensor *logits, const ember_tensor *labels,
                             int accumulate, ember_err *err)
{
    int64_t B = 0, K = 0;
    if (ce_dims("accuracy_count", logits, labels, &B, &K, err) ||
        ecu_arg("accuracy_count", "count", count, ECU_I32, 1, err))
        return -1;
    if (!accumulate) CU_CHECK(cudaMemsetAsync(count->data, 0, 4, STREAM(be)));
    CU_CHECK(ek_argmax(STREAM(be), ecu_ek(logits), logits->data, (int)B, (int)K, NULL,
                       (const int *)labels->data, (int *)count->data));
    return 0;
}

static int be_normalize_u8(const ember_backend *be, ember_tensor *out, const ember_tensor *in,
                           const float *mean, const float *std, ember_err *err)
{
    const char *op = "normalize_u8";
    if (ecu_arg(op, "in", in, ECU_U8, -1, err) ||
        ecu_arg(op, "out", out, ECU_FLOAT, ecu_numel(in), err))
        return -1;
    if (in->ndim != 4) return ecu_errf(err, "%s: in must be [B, Cin, H, W]", op);
    if (!mean || !std) return ecu_errf(err, "%s: mean and std are required", op);
    int C = (int)in->shape[1];
    if (C < 1 || C > 8) return ecu_errf(err, "%s: %d channels; at most 8 are supported", op, C);
    for (int c = 0; c < C; ++c)
        if (!(std[c] > 0.0f))
            return ecu_errf(err, "%s: std[%d] = %g must be > 0", op, c, (double)std[c]);
    CU_CHECK(ek_normalize_u8(STREAM(be), ecu_ek(out), (const uint8_t *)in->data, out->data,
                             (size_t)ecu_numel(in), C, (size_t)(in->shape[2] * in->shape[3]),
                             mean, std));
    return 0;
}

/* ---- CUDA graphs ---------------------------------------------------------- */

/* ---- CLIPSeg inference ops (clipseg_ops.cu) ------------------------------ */

static int be_act_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, int act,
                      ember_err *err)
{
    const char *op = "act_fwd";
    if (ecu_arg(op, "x", x, ECU_F32, -1, err) || ecu_arg(op, "out", out, ECU_F32, ecu_numel(x), err))
        return -1;
    if (act != EMBER_ACT_RELU && act != EMBER_ACT_QUICK_GELU)
        return ecu_errf(err, "%s: unknown activation %d (use EMBER_ACT_RELU or EMBER_ACT_QUICK_GELU)",
                        op, act);
    CU_CHECK(ek_act_f32(STREAM(be), (const float *)x->data, (float *)out->data,
                        (size_t)ecu_numel(x), act == EMBER_ACT_RELU ? 1 : 2));
    return 0;
}

static int be_conv3x3_cols(const ember_backend *be, ember_tensor *cols, const ember_tensor *x,
                           ember_err *err)
{
    const char *op = "conv3x3_cols";
    if (ecu_arg(op, "x", x, ECU_F32, -1, err)) return -1;
    if (x->ndim != 4) return ecu_errf(err, "%s: x must be [B, H, W, C], got %d dims", op, x->ndim);
    int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    if (ecu_arg(op, "cols", cols, ECU_F32, B * H * W * 9 * C, err)) return -1;
    CU_CHECK(ek_conv3x3_cols_f32(STREAM(be), (const float *)x->data, (float *)cols->data, B, H, W, C));
    return 0;
}

static int be_deconv_scatter(const ember_backend *be, ember_tensor *out, const ember_tensor *cols,
                             const ember_tensor *bias, int s, ember_err *err)
{
    const char *op = "deconv_scatter";
    if (ecu_arg(op, "cols", cols, ECU_F32, -1, err)) return -1;
    if (cols->ndim != 4)
        return ecu_errf(err, "%s: cols must be [B, H, W, Cout*s*s], got %d dims", op, cols->ndim);
    if (s < 1) return ecu_errf(err, "%s: stride %d must be at least 1", op, s);
    int64_t B = cols->shape[0], H = cols->shape[1], W = cols->shape[2], K = cols->shape[3];
    if (K % ((int64_t)s * s))
        return ecu_errf(err, "%s: cols' last dim %lld is not Cout*%d*%d", op, (long long)K, s, s);
    int64_t Co = K / ((int64_t)s * s);
    if (ecu_arg(op, "out", out, ECU_F32, B * H * W * K, err) ||
        (bias && ecu_arg(op, "bias", bias, ECU_F32, Co, err)))
        return -1;
    CU_CHECK(ek_deconv_scatter_f32(STREAM(be), (const float *)cols->data,
                                   bias ? (const float *)bias->data : NULL, (float *)out->data, B, H,
                                   W, Co, s));
    return 0;
}

static int be_film_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                       const ember_tensor *scale, const ember_tensor *shift, ember_err *err)
{
    const char *op = "film_fwd";
    if (ecu_arg(op, "out", out, ECU_F32, -1, err) || ecu_arg(op, "x", x, ECU_F32, -1, err)) return -1;
    if (out->ndim != 3) return ecu_errf(err, "%s: out must be [B, T, C], got %d dims", op, out->ndim);
    int64_t B = out->shape[0], T = out->shape[1], C = out->shape[2];
    if (x->ndim != 3 || x->shape[1] != T || x->shape[2] != C || (x->shape[0] != B && x->shape[0] != 1))
        return ecu_errf(err, "%s: x must be [%lld, %lld, %lld] or [1, %lld, %lld]", op, (long long)B,
                        (long long)T, (long long)C, (long long)T, (long long)C);
    if (ecu_arg(op, "scale", scale, ECU_F32, B * C, err) ||
        ecu_arg(op, "shift", shift, ECU_F32, B * C, err))
        return -1;
    if (x->shape[0] != B && x->data == out->data)
        return ecu_errf(err, "%s: out may alias x only when their shapes are equal", op);
    CU_CHECK(ek_film_f32(STREAM(be), (const float *)x->data, (const float *)scale->data,
                         (const float *)shift->data, (float *)out->data, B, T, C,
                         x->shape[0] == B ? T * C : 0));
    return 0;
}

static int be_graph_begin(const ember_backend *be, ember_err *err)
{
    ecu_state *s = S(be);
    if (s->capturing) return ecu_errf(err, "graph_begin: a capture is already under way");
    /* thread-local mode: other threads' unrelated CUDA calls cannot break it */
    CU_CHECK(cudaStreamBeginCapture(s->stream, cudaStreamCaptureModeThreadLocal));
    s->capturing = 1;
    return 0;
}

static int be_graph_end(const ember_backend *be, void **graph, ember_err *err)
{
    ecu_state *s = S(be);
    *graph = NULL;
    if (!s->capturing) return ecu_errf(err, "graph_end: no capture is under way");
    s->capturing = 0;
    cudaGraph_t g = NULL;
    CU_CHECK(cudaStreamEndCapture(s->stream, &g));
    cudaGraphExec_t x = NULL;
    cudaError_t e = cudaGraphInstantiate(&x, g, 0);
    (void)cudaGraphDestroy(g);
    if (e != cudaSuccess)
        return ecu_fail_cuda(err, e, "cudaGraphInstantiate", "graph_end", __FILE__, __LINE__);
    *graph = (void *)x;
    return 0;
}

static int be_graph_launch(const ember_backend *be, void *graph, ember_err *err)
{
    if (!graph) return ecu_errf(err, "graph_launch: no graph");
    if (S(be)->capturing) return ecu_errf(err, "graph_launch: a capture is under way");
    CU_CHECK(cudaGraphLaunch((cudaGraphExec_t)graph, STREAM(be)));
    return 0;
}

static void be_graph_destroy(const ember_backend *be, void *graph)
{
    (void)be;
    if (graph) (void)cudaGraphExecDestroy((cudaGraphExec_t)graph);
    (void)cudaGetLastError();
}

/* ---- open / close --------------------------------------------------------- */

static const char *be_describe(const ember_backend *be)
{
    return S(be)->desc;
}

static void state_free(ecu_state *s)
{
    if (!s) return;
    if (s->capturing) {
        cudaGraph_t g = NULL;
        if (cudaStreamEndCapture(s->stream, &g) == cudaSuccess && g) (void)cudaGraphDestroy(g);
    }
    if (s->stream) (void)cudaStreamSynchronize(s->stream);
    ecu_plans_release(s);
    if (s->lt) (void)cublasLtDestroy(s->lt);
    ecu_arena_release(&s->arena);
    if (s->stream) (void)cudaStreamDestroy(s->stream);
    (void)cudaGetLastError();
    free(s);
}

static void be_close(const ember_backend *be)
{
    if (be) state_free(S(be));
}

static int state_init(ecu_state *s, ember_err *err)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return ecu_errf(err, "no CUDA device (cudaGetDeviceCount: %s: %s)", cudaGetErrorName(e),
                        cudaGetErrorString(e));
    }
    if (n < 1) return ecu_errf(err, "no CUDA device (cudaGetDeviceCount: 0 devices)");
    const char *want = getenv("EMBER_CUDA_DEVICE");
    s->device = want ? atoi(want) : 0;
    if (s->device < 0 || s->device >= n)
        return ecu_errf(err, "EMBER_CUDA_DEVICE=%s: there are %d CUDA devices (0..%d)", want, n,
                        n - 1);
    CU_CHECK(cudaSetDevice(s->device));
    CU_CHECK(cudaGetDeviceProperties(&s->prop, s->device));
    if (s->prop.major < 8)
        return ecu_errf(err, "%s (sm_%d%d) has no bf16 tensor cores; Ember's CUDA backend "
                        "needs sm_80 or newer", s->prop.name, s->prop.major, s->prop.minor);
    CU_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasLtCreate(&s->lt));
    if (ecu_arena_init(&s->arena, ECU_LT_WORKSPACE + (1u << 20), err) ||
        ecu_arena_take(&s->arena, ECU_LT_WORKSPACE, &s->lt_ws, err) ||
        ecu_arena_take(&s->arena, EK_NORM_BLOCKS * sizeof(float), (void **)&s->norm_partial,
                       err))
        return ecu_errf(err, "CUDA backend: cannot set up its workspace: %.400s", err->msg);
    s->max_smem = (int)s->prop.sharedMemPerBlockOptin;
    CU_CHECK(ek_attention_setup(s->max_smem));
    CU_CHECK(ek_attention_tc_setup(s->max_smem));
    /* EMBER_CUDA_NO_TC=1 forces the CUDA-core attention (for tests) */
    const char *nt = getenv("EMBER_CUDA_NO_TC");
    s->no_tc = nt && nt[0] == '1';
    snprintf(s->desc, sizeof s->desc, "%s, %.1f GiB, sm_%d%d, cuBLASLt %zu", s->prop.name,
             s->prop.totalGlobalMem / 1073741824.0, s->prop.major, s->prop.minor,
             cublasLtGetVersion());
    return 0;
}

ECU_EXPORT int ember_cuda_backend_open(const ember_backend **out, ember_err *err)
{
    *out = NULL;
    ecu_state *s = (ecu_state *)calloc(1, sizeof *s);
    if (!s) return ecu_errf(err, "CUDA backend: out of host memory");
    ember_err local;
    if (!err) err = &local;
    if (state_init(s, err)) {
        state_free(s);
        return -1;
    }
    ember_backend *t = &s->table;
    t->abi = EMBER_BACKEND_ABI;
    t->struct_size = sizeof(ember_backend);
    t->name = "cuda";
    t->device = EMBER_DEV_CUDA;
    t->impl = s;
    t->close = be_close;
    t->describe = be_describe;
    t->alloc = be_alloc;
    t->dealloc = be_dealloc;
    t->copy_h2d = be_copy_h2d;
    t->copy_d2h = be_copy_d2h;
    t->copy_d2d = be_copy_d2d;
    t->fill_bytes = be_fill_bytes;
    t->sync = be_sync;
    t->matmul = be_matmul;
    t->bias_grad = be_bias_grad;
    t->gelu_fwd = be_gelu_fwd;
    t->gelu_bwd = be_gelu_bwd;
    t->add = be_add;
    t->dropout_fwd = be_dropout_fwd;
    t->dropout_bwd = be_dropout_bwd;
    t->layernorm_fwd = be_layernorm_fwd;
    t->layernorm_bwd = be_layernorm_bwd;
    t->attention_fwd = be_attention_fwd;
    t->attention_bwd = be_attention_bwd;
    t->mean_tokens_fwd = be_mean_tokens_fwd;
    t->mean_tokens_bwd = be_mean_tokens_bwd;
    t->im2col_fwd = be_im2col_fwd;
    t->im2col_bwd = be_im2col_bwd;
    t->pos_embed_fwd = be_pos_embed_fwd;
    t->pos_embed_bwd = be_pos_embed_bwd;
    t->ce_fwd = be_ce_fwd;
    t->ce_bwd = be_ce_bwd;
    t->adamw = be_adamw;
    t->zero = be_zero;
    t->l2_norm = be_l2_norm;
    t->cast = be_cast;
    t->argmax = be_argmax;
    t->accuracy_count = be_accuracy_count;
    t->normalize_u8 = be_normalize_u8;
    t->graph_begin = be_graph_begin;
    t->graph_end = be_graph_end;
    t->graph_launch = be_graph_launch;
    t->graph_destroy = be_graph_destroy;
    t->act_fwd = be_act_fwd;
    t->conv3x3_cols = be_conv3x3_cols;
    t->deconv_scatter = be_deconv_scatter;
    t->film_fwd = be_film_fwd;
    *out = t;
    return 0;
}

/* For the GPU tests: the number of CUDA devices, or -1 with the runtime's
 * reason in msg, without opening a backend. */
ECU_EXPORT int ember_cuda_probe(char *msg, size_t len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(msg, len, "cudaGetDeviceCount: %s: %s", cudaGetErrorName(e),
                 cudaGetErrorString(e));
        return -1;
    }
    snprintf(msg, len, "cudaGetDeviceCount: %d device%s", n, n == 1 ? "" : "s");
    return n;
}

/* Device memory this backend holds: what be->alloc handed out now and at
 * its peak, plus the backend's own arena (workspace). For the benchmark. */
ECU_EXPORT int ember_cuda_mem_stats(const ember_backend *be, size_t *cur, size_t *peak)
{
    if (!be || !be->impl) return -1;
    ecu_state *s = S(be);
    *cur = s->mem_cur + s->arena.size;
    *peak = s->mem_peak + s->arena.size;
    return 0;
}

/* Device memory in use on the whole card (cudaMemGetInfo's total - free,
 * the CUDA context included). */
ECU_EXPORT int ember_cuda_mem_used(size_t *used, size_t *total)
{
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) {
        (void)cudaGetLastError();
        return -1;
    }
    *used = tot - fr;
    *total = tot;
    return 0;
}
