/* trace_backend.c — the recording backend of trace_backend.h. */
#include "trace_backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 20000
#define MAX_BUFS 4096
#define LINE_LEN 512

static char *lines[MAX_LINES];
static int n_lines, overflow, paused;
static const void *bufs[MAX_BUFS];
static int n_bufs;
static int hook_n;
static void (*hook_fn)(void *ctx);
static void *hook_ctx;

void trace_reset(void) {
    for (int i = 0; i < n_lines; i++) free(lines[i]);
    n_lines = 0;
    n_bufs = 0;
    overflow = 0;
    paused = 0;
    hook_n = 0;
    hook_fn = NULL;
}

void trace_after_call(int n, void (*fn)(void *ctx), void *ctx) {
    hook_n = n;
    hook_fn = fn;
    hook_ctx = ctx;
}

void trace_pause(void) { paused = 1; }

int trace_count(void) { return overflow ? -1 : n_lines; }

const char *trace_line(int i) { return i >= 0 && i < n_lines ? lines[i] : ""; }

static int buf_id(const void *p) {
    for (int i = 0; i < n_bufs; i++)
        if (bufs[i] == p) return i;
    if (n_bufs == MAX_BUFS) return -1;
    bufs[n_bufs] = p;
    return n_bufs++;
}

/* Appends to a line under construction. */
typedef struct line {
    char s[LINE_LEN];
    size_t n;
} line;

static void put(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(line *l, const char *fmt, ...) {
    if (l->n >= sizeof l->s) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->s + l->n, sizeof l->s - l->n, fmt, ap);
    va_end(ap);
    if (k > 0) l->n += (size_t)k;
}

static void put_t(line *l, const char *name, const ember_tensor *t) {
    if (!t) {
        put(l, " %s=-", name);
        return;
    }
    put(l, " %s=%s[", name, ember_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++) put(l, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    put(l, "]#%d", buf_id(t->data));
}

/* Matrix-product operands: element count only (see trace_backend.h). */
static void put_n(line *l, const char *name, const ember_tensor *t) {
    if (!t)
        put(l, " %s=-", name);
    else
        put(l, " %s=%s(%lld)#%d", name, ember_dtype_name(t->dtype), (long long)ember_tensor_numel(t),
            buf_id(t->data));
}

static int done(line *l) {
    if (paused) return 0;
    if (n_lines == MAX_LINES) {
        overflow = 1;
        return 0;
    }
    lines[n_lines] = malloc(l->n + 1);
    if (!lines[n_lines]) {
        overflow = 1;
        return 0;
    }
    memcpy(lines[n_lines], l->s, l->n);
    lines[n_lines][l->n] = '\0';
    n_lines++;
    if (hook_fn && n_lines == hook_n) hook_fn(hook_ctx);
    return 0;
}

#define BEGIN(op) \
    (void)be;     \
    (void)err;    \
    line L_ = {.n = 0}; \
    put(&L_, "%s", op)
#define T(name, t) put_t(&L_, name, t)
#define F(name, v) put(&L_, " %s=%.9g", name, (double)(v))
#define I(name, v) put(&L_, " %s=%lld", name, (long long)(v))
#define END() return done(&L_)

/* ---- memory: real host memory, real copies ------------------------------- */

static void tr_close(const ember_backend *be) { (void)be; }
static const char *tr_describe(const ember_backend *be) {
    (void)be;
    return "trace backend (records calls, computes nothing)";
}
static int tr_alloc(const ember_backend *be, size_t bytes, void **out, ember_err *err) {
    (void)be;
    size_t n = (bytes + 255) / 256 * 256;
    *out = aligned_alloc(256, n);
    if (!*out) return ember_err_set(err, "trace backend: out of memory");
    memset(*out, 0, n);
    return 0;
}
static void tr_dealloc(const ember_backend *be, void *p) {
    (void)be;
    free(p);
}
static int tr_copy(const ember_backend *be, void *dst, const void *src, size_t bytes, ember_err *err) {
    (void)be;
    (void)err;
    if (bytes) memmove(dst, src, bytes);
    return 0;
}
static int tr_copy_d2d(const ember_backend *be, void *dst, const void *src, size_t bytes, ember_err *err) {
    BEGIN("copy_d2d");
    put(&L_, " dst=#%d src=#%d bytes=%zu", buf_id(dst), buf_id(src), bytes);
    if (bytes) memmove(dst, src, bytes);
    END();
}
static int tr_fill(const ember_backend *be, void *dst, int byte, size_t bytes, ember_err *err) {
    BEGIN("fill_bytes");
    put(&L_, " dst=#%d byte=%d bytes=%zu", buf_id(dst), byte, bytes);
    memset(dst, byte, bytes);
    END();
}
static int tr_sync(const ember_backend *be, ember_err *err) {
    (void)be;
    (void)err;
    return 0;
}

/* ---- ops: record only ------------------------------------------------------ */

static int tr_matmul(const ember_backend *be, const ember_gemm *g, const ember_tensor *a, const ember_tensor *b,
                     const ember_tensor *bias, ember_tensor *c, ember_tensor *pre, ember_err *err) {
    BEGIN("matmul");
    put(&L_, " ta=%d tb=%d m=%lld n=%lld k=%lld ld=%lld,%lld,%lld batch=%lld strides=%lld,%lld,%lld gelu=%d",
        g->trans_a, g->trans_b, (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->lda,
        (long long)g->ldb, (long long)g->ldc, (long long)g->batch, (long long)g->stride_a,
        (long long)g->stride_b, (long long)g->stride_c, g->gelu);
    F("alpha", g->alpha);
    F("beta", g->beta);
    put_n(&L_, "a", a);
    put_n(&L_, "b", b);
    put_n(&L_, "bias", bias);
    put_n(&L_, "c", c);
    put_n(&L_, "pre", pre);
    END();
}
static int tr_bias_grad(const ember_backend *be, ember_tensor *dbias, const ember_tensor *dy, int accumulate,
                        ember_err *err) {
    BEGIN("bias_grad");
    T("dbias", dbias);
    T("dy", dy);
    I("acc", accumulate);
    END();
}
static int tr_gelu_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, ember_err *err) {
    BEGIN("gelu_fwd");
    T("out", out);
    T("x", x);
    END();
}
static int tr_gelu_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy, const ember_tensor *x,
                       int accumulate, ember_err *err) {
    BEGIN("gelu_bwd");
    T("dx", dx);
    T("dy", dy);
    T("x", x);
    I("acc", accumulate);
    END();
}
static int tr_add(const ember_backend *be, ember_tensor *out, const ember_tensor *a, const ember_tensor *b,
                  ember_err *err) {
    BEGIN("add");
    T("out", out);
    T("a", a);
    T("b", b);
    END();
}
static int tr_dropout_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, float p,
                          uint64_t seed, uint64_t offset, const ember_tensor *step, ember_err *err) {
    BEGIN("dropout_fwd");
    T("out", out);
    T("x", x);
    F("p", p);
    I("seed", seed);
    I("offset", offset);
    T("step", step);
    END();
}
static int tr_dropout_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy, float p,
                          uint64_t seed, uint64_t offset, const ember_tensor *step, int accumulate,
                          ember_err *err) {
    BEGIN("dropout_bwd");
    T("dx", dx);
    T("dy", dy);
    F("p", p);
    I("seed", seed);
    I("offset", offset);
    T("step", step);
    I("acc", accumulate);
    END();
}
static int tr_ln_fwd(const ember_backend *be, ember_tensor *out, ember_tensor *mean, ember_tensor *rstd,
                     const ember_tensor *x, const ember_tensor *gamma, const ember_tensor *beta, float eps,
                     ember_err *err) {
    BEGIN("layernorm_fwd");
    T("out", out);
    T("mean", mean);
    T("rstd", rstd);
    T("x", x);
    T("gamma", gamma);
    T("beta", beta);
    F("eps", eps);
    END();
}
static int tr_ln_bwd(const ember_backend *be, ember_tensor *dx, ember_tensor *dgamma, ember_tensor *dbeta,
                     const ember_tensor *dy, const ember_tensor *x, const ember_tensor *mean,
                     const ember_tensor *rstd, const ember_tensor *gamma, int accumulate_dx, ember_err *err) {
    BEGIN("layernorm_bwd");
    T("dx", dx);
    T("dgamma", dgamma);
    T("dbeta", dbeta);
    T("dy", dy);
    T("x", x);
    T("mean", mean);
    T("rstd", rstd);
    T("gamma", gamma);
    I("acc", accumulate_dx);
    END();
}
static int tr_att_fwd(const ember_backend *be, ember_tensor *out, ember_tensor *lse, const ember_tensor *qkv,
                      int heads, int causal, ember_err *err) {
    BEGIN("attention_fwd");
    T("out", out);
    T("lse", lse);
    T("qkv", qkv);
    I("heads", heads);
    I("causal", causal);
    END();
}
static int tr_att_bwd(const ember_backend *be, ember_tensor *dqkv, const ember_tensor *dout,
                      const ember_tensor *qkv, const ember_tensor *out, const ember_tensor *lse, int heads,
                      int causal, ember_err *err) {
    BEGIN("attention_bwd");
    T("dqkv", dqkv);
    T("dout", dout);
    T("qkv", qkv);
    T("out", out);
    T("lse", lse);
    I("heads", heads);
    I("causal", causal);
    END();
}
static int tr_mean_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, ember_err *err) {
    BEGIN("mean_tokens_fwd");
    T("out", out);
    T("x", x);
    END();
}
static int tr_mean_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy, ember_err *err) {
    BEGIN("mean_tokens_bwd");
    T("dx", dx);
    T("dy", dy);
    END();
}
static int tr_im2col_fwd(const ember_backend *be, ember_tensor *cols, const ember_tensor *img, int p,
                         ember_err *err) {
    BEGIN("im2col_fwd");
    T("cols", cols);
    T("img", img);
    I("p", p);
    END();
}
static int tr_im2col_bwd(const ember_backend *be, ember_tensor *dimg, const ember_tensor *dcols, int p,
                         int accumulate, ember_err *err) {
    BEGIN("im2col_bwd");
    T("dimg", dimg);
    T("dcols", dcols);
    I("p", p);
    I("acc", accumulate);
    END();
}
static int tr_pos_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, const ember_tensor *pos,
                      ember_err *err) {
    BEGIN("pos_embed_fwd");
    T("out", out);
    T("x", x);
    T("pos", pos);
    END();
}
static int tr_pos_bwd(const ember_backend *be, ember_tensor *dpos, const ember_tensor *dy, int accumulate,
                      ember_err *err) {
    BEGIN("pos_embed_bwd");
    T("dpos", dpos);
    T("dy", dy);
    I("acc", accumulate);
    END();
}
static int tr_ce_fwd(const ember_backend *be, ember_tensor *loss, ember_tensor *probs, const ember_tensor *logits,
                     const ember_tensor *labels, float smoothing, float scale, int accumulate, ember_err *err) {
    BEGIN("ce_fwd");
    T("loss", loss);
    T("probs", probs);
    T("logits", logits);
    T("labels", labels);
    F("smoothing", smoothing);
    F("scale", scale);
    I("acc", accumulate);
    END();
}
static int tr_ce_bwd(const ember_backend *be, ember_tensor *dlogits, const ember_tensor *probs,
                     const ember_tensor *labels, float smoothing, float scale, ember_err *err) {
    BEGIN("ce_bwd");
    T("dlogits", dlogits);
    T("probs", probs);
    T("labels", labels);
    F("smoothing", smoothing);
    F("scale", scale);
    END();
}
static int tr_adamw(const ember_backend *be, ember_tensor *params, const ember_tensor *grads, ember_tensor *m,
                    ember_tensor *v, ember_tensor *params_bf16, const ember_tensor *step, float beta1, float beta2,
                    float eps, float weight_decay, const ember_tensor *grad_scale, ember_err *err) {
    BEGIN("adamw");
    T("params", params);
    T("grads", grads);
    T("m", m);
    T("v", v);
    T("params_bf16", params_bf16);
    T("step", step);
    F("beta1", beta1);
    F("beta2", beta2);
    F("eps", eps);
    F("wd", weight_decay);
    T("grad_scale", grad_scale);
    END();
}
static int tr_zero(const ember_backend *be, ember_tensor *t, ember_err *err) {
    BEGIN("zero");
    T("t", t);
    memset(t->data, 0, ember_tensor_nbytes(t));
    END();
}
static int tr_l2(const ember_backend *be, ember_tensor *out, const ember_tensor *x, ember_err *err) {
    BEGIN("l2_norm");
    T("out", out);
    T("x", x);
    END();
}
static int tr_cast(const ember_backend *be, ember_tensor *out, const ember_tensor *in, ember_err *err) {
    BEGIN("cast");
    T("out", out);
    T("in", in);
    END();
}
static int tr_argmax(const ember_backend *be, ember_tensor *out, const ember_tensor *logits, ember_err *err) {
    BEGIN("argmax");
    T("out", out);
    T("logits", logits);
    END();
}
static int tr_acc(const ember_backend *be, ember_tensor *count, const ember_tensor *logits,
                  const ember_tensor *labels, int accumulate, ember_err *err) {
    BEGIN("accuracy_count");
    T("count", count);
    T("logits", logits);
    T("labels", labels);
    I("acc", accumulate);
    END();
}
static int tr_norm_u8(const ember_backend *be, ember_tensor *out, const ember_tensor *in, const float *mean,
                      const float *std, ember_err *err) {
    BEGIN("normalize_u8");
    T("out", out);
    T("in", in);
    F("mean0", mean[0]);
    F("std0", std[0]);
    END();
}

static const ember_backend TABLE = {
    .abi = EMBER_BACKEND_ABI,
    .struct_size = sizeof(ember_backend),
    .name = "trace",
    .device = EMBER_DEV_CUDA,
    .close = tr_close,
    .describe = tr_describe,
    .alloc = tr_alloc,
    .dealloc = tr_dealloc,
    .copy_h2d = tr_copy,
    .copy_d2h = tr_copy,
    .copy_d2d = tr_copy_d2d,
    .fill_bytes = tr_fill,
    .sync = tr_sync,
    .matmul = tr_matmul,
    .bias_grad = tr_bias_grad,
    .gelu_fwd = tr_gelu_fwd,
    .gelu_bwd = tr_gelu_bwd,
    .add = tr_add,
    .dropout_fwd = tr_dropout_fwd,
    .dropout_bwd = tr_dropout_bwd,
    .layernorm_fwd = tr_ln_fwd,
    .layernorm_bwd = tr_ln_bwd,
    .attention_fwd = tr_att_fwd,
    .attention_bwd = tr_att_bwd,
    .mean_tokens_fwd = tr_mean_fwd,
    .mean_tokens_bwd = tr_mean_bwd,
    .im2col_fwd = tr_im2col_fwd,
    .im2col_bwd = tr_im2col_bwd,
    .pos_embed_fwd = tr_pos_fwd,
    .pos_embed_bwd = tr_pos_bwd,
    .ce_fwd = tr_ce_fwd,
    .ce_bwd = tr_ce_bwd,
    .adamw = tr_adamw,
    .zero = tr_zero,
    .l2_norm = tr_l2,
    .cast = tr_cast,
    .argmax = tr_argmax,
    .accuracy_count = tr_acc,
    .normalize_u8 = tr_norm_u8,
};

const ember_backend *trace_backend(void) { return &TABLE; }
