/* test_cpu_grad.c — the CPU backend's backward ops against central finite
 * differences of its own forward ops, on small awkward shapes.
 *
 * Objective: L = sum_j w_j out_j with random w (so dL/dout = w is the
 * incoming gradient). Central differences with h = 1e-2 on inputs of size
 * ~1 have truncation error ~h^2 = 1e-4 relative and f32 rounding noise of
 * ~1e-5; a wrong backward is off by O(1). Tolerance: normwise relative error
 * 5e-4 (measured errors are 1e-6 to 3e-5). Linear maps (im2col, mean over tokens, position embedding, dropout)
 * are checked exactly with the adjoint identity <A x, y> = <x, A^T y>. */
#include "core/backend.h"
#include "test_util.h"

static const ember_backend *be;
#define TOL 5e-4
#define H 1e-2f

static ember_tensor tv(void *p, ember_dtype dt, int nd, int64_t a, int64_t b, int64_t c, int64_t d) {
    ember_tensor t;
    int64_t s[4] = {a, b, c, d};
    ember_err e;
    if (ember_tensor_view(&t, p, dt, EMBER_DEV_CPU, nd, s, &e)) exit(2);
    return t;
}
#define F1(p, a) tv(p, EMBER_F32, 1, a, 1, 1, 1)
#define F2(p, a, b) tv(p, EMBER_F32, 2, a, b, 1, 1)
#define F3(p, a, b, c) tv(p, EMBER_F32, 3, a, b, c, 1)

typedef double (*objective_fn)(void *ctx);

/* Compares grad (analytic) with finite differences of obj over x. */
static void fd_check(const char *name, float *x, int64_t n, const float *grad, objective_fn obj, void *ctx) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + H;
        double lp = obj(ctx);
        x[i] = keep - H;
        double lm = obj(ctx);
        x[i] = keep;
        double fd = (lp - lm) / (2.0 * (double)H);
        num = fmax(num, fabs(fd - grad[i]));
        den = fmax(den, fabs(fd));
    }
    double e = den > 0 ? num / den : num;
    CHECK(e < TOL, "%s: analytic vs finite-difference gradient, relative error %.3g", name, e);
}

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- linear layer (matmul + bias, optional fused GELU) ---------------------- */
typedef struct {
    int64_t R, in, out;
    int gelu;
    float *x, *w, *b, *y, *pre, *dy;
} lin_ctx;

static void lin_fwd(lin_ctx *c) {
    ember_tensor x = F2(c->x, c->R, c->in), w = F2(c->w, c->out, c->in), b = F1(c->b, c->out), y = F2(c->y, c->R, c->out),
                 p = F2(c->pre, c->R, c->out);
    ember_gemm g = ember_gemm_default(c->R, c->out, c->in);
    g.trans_b = 1;
    g.gelu = c->gelu;
    OK(be->matmul(be, &g, &x, &w, &b, &y, c->gelu ? &p : NULL, &err_));
}
static double lin_obj(void *p) {
    lin_ctx *c = p;
    lin_fwd(c);
    return dot(c->y, c->dy, c->R * c->out);
}

static void test_linear(int gelu) {
    lin_ctx c = {.R = 5, .in = 7, .out = 3, .gelu = gelu};
    c.x = t_alloc(c.R * c.in), c.w = t_alloc(c.out * c.in), c.b = t_alloc(c.out), c.y = t_alloc(c.R * c.out);
    c.pre = t_alloc(c.R * c.out), c.dy = t_alloc(c.R * c.out);
    float *dx = t_alloc(c.R * c.in), *dw = t_alloc(c.out * c.in), *db = t_alloc(c.out), *dz = t_alloc(c.R * c.out);
    t_fill(c.x, c.R * c.in, 1), t_fill(c.w, c.out * c.in, 0.5), t_fill(c.b, c.out, 0.5), t_fill(c.dy, c.R * c.out, 1);
    lin_fwd(&c);
    ember_tensor tx = F2(c.x, c.R, c.in), tw = F2(c.w, c.out, c.in), tdy = F2(c.dy, c.R, c.out), tdz = F2(dz, c.R, c.out),
                 tpre = F2(c.pre, c.R, c.out), tdx = F2(dx, c.R, c.in), tdw = F2(dw, c.out, c.in), tdb = F1(db, c.out);
    const ember_tensor *g = &tdy;
    if (gelu) {
        OK(be->gelu_bwd(be, &tdz, &tdy, &tpre, 0, &err_));
        g = &tdz;
    }
    /* The three products of a linear layer's backward, as nn/vit.c issues them. */
    ember_gemm gw = ember_gemm_default(c.out, c.in, c.R);
    gw.trans_a = 1;
    OK(be->matmul(be, &gw, g, &tx, NULL, &tdw, NULL, &err_));
    OK(be->bias_grad(be, &tdb, g, 0, &err_));
    ember_gemm gx = ember_gemm_default(c.R, c.in, c.out);
    OK(be->matmul(be, &gx, g, &tw, NULL, &tdx, NULL, &err_));
    fd_check(gelu ? "linear+gelu dx" : "linear dx", c.x, c.R * c.in, dx, lin_obj, &c);
    fd_check(gelu ? "linear+gelu dW" : "linear dW", c.w, c.out * c.in, dw, lin_obj, &c);
    fd_check(gelu ? "linear+gelu db" : "linear db", c.b, c.out, db, lin_obj, &c);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.pre), free(c.dy), free(dx), free(dw), free(db), free(dz);
}

/* ---- LayerNorm ---------------------------------------------------------------- */
typedef struct {
    int64_t R, C;
    float *x, *g, *b, *y, *mu, *rs, *dy;
} ln_ctx;
static void ln_fwd(ln_ctx *c) {
    ember_tensor x = F2(c->x, c->R, c->C), g = F1(c->g, c->C), b = F1(c->b, c->C), y = F2(c->y, c->R, c->C),
                 m = F1(c->mu, c->R), r = F1(c->rs, c->R);
    OK(be->layernorm_fwd(be, &y, &m, &r, &x, &g, &b, 1e-5f, &err_));
}
static double ln_obj(void *p) {
    ln_ctx *c = p;
    ln_fwd(c);
    return dot(c->y, c->dy, c->R * c->C);
}
static void test_layernorm(int64_t R, int64_t C) {
    ln_ctx c = {.R = R, .C = C};
    c.x = t_alloc(R * C), c.g = t_alloc(C), c.b = t_alloc(C), c.y = t_alloc(R * C), c.mu = t_alloc(R), c.rs = t_alloc(R),
    c.dy = t_alloc(R * C);
    float *dx = t_alloc(R * C), *dg = t_alloc(C), *db = t_alloc(C);
    t_fill(c.x, R * C, 1), t_fill(c.g, C, 1), t_fill(c.b, C, 1), t_fill(c.dy, R * C, 1);
    for (int64_t i = 0; i < R * C; i++) dx[i] = 0.25f; /* accumulate_dx must add to this */
    ln_fwd(&c);
    ember_tensor tx = F2(c.x, R, C), tg = F1(c.g, C), tdy = F2(c.dy, R, C), tm = F1(c.mu, R), tr = F1(c.rs, R),
                 tdx = F2(dx, R, C), tdg = F1(dg, C), tdb = F1(db, C);
    OK(be->layernorm_bwd(be, &tdx, &tdg, &tdb, &tdy, &tx, &tm, &tr, &tg, 1, &err_));
    for (int64_t i = 0; i < R * C; i++) dx[i] -= 0.25f;
    fd_check("layernorm dx", c.x, R * C, dx, ln_obj, &c);
    fd_check("layernorm dgamma", c.g, C, dg, ln_obj, &c);
    fd_check("layernorm dbeta", c.b, C, db, ln_obj, &c);
    free(c.x), free(c.g), free(c.b), free(c.y), free(c.mu), free(c.rs), free(c.dy), free(dx), free(dg), free(db);
}

/* ---- attention ---------------------------------------------------------------- */
typedef struct {
    int64_t B, T, C, Hh;
    int causal;
    float *qkv, *o, *l, *dy;
} att_ctx;
static void att_fwd(att_ctx *c) {
    ember_tensor q = F3(c->qkv, c->B, c->T, 3 * c->C), o = F3(c->o, c->B, c->T, c->C), l = F3(c->l, c->B, c->Hh, c->T);
    OK(be->attention_fwd(be, &o, &l, &q, (int)c->Hh, c->causal, &err_));
}
static double att_obj(void *p) {
    att_ctx *c = p;
    att_fwd(c);
    return dot(c->o, c->dy, c->B * c->T * c->C);
}
static void test_attention(int64_t B, int64_t T, int64_t C, int64_t Hh, int causal) {
    att_ctx c = {.B = B, .T = T, .C = C, .Hh = Hh, .causal = causal};
    int64_t nq = B * T * 3 * C, no = B * T * C;
    c.qkv = t_alloc(nq), c.o = t_alloc(no), c.l = t_alloc(B * Hh * T), c.dy = t_alloc(no);
    float *dq = t_alloc(nq);
    t_fill(c.qkv, nq, 1), t_fill(c.dy, no, 1);
    att_fwd(&c);
    ember_tensor q = F3(c.qkv, B, T, 3 * C), o = F3(c.o, B, T, C), l = F3(c.l, B, Hh, T), dy = F3(c.dy, B, T, C),
                 tdq = F3(dq, B, T, 3 * C);
    OK(be->attention_bwd(be, &tdq, &dy, &q, &o, &l, (int)Hh, causal, &err_));
    fd_check(causal ? "attention (causal) dqkv" : "attention dqkv", c.qkv, nq, dq, att_obj, &c);
    free(c.qkv), free(c.o), free(c.l), free(c.dy), free(dq);
}

/* ---- cross-entropy ------------------------------------------------------------ */
typedef struct {
    int64_t B, K;
    float *x, *p, loss;
    int32_t *y;
} ce_ctx;
static double ce_obj(void *p) {
    ce_ctx *c = p;
    ember_tensor x = F2(c->x, c->B, c->K), pr = F2(c->p, c->B, c->K), l = F1(&c->loss, 1),
                 y = tv(c->y, EMBER_I32, 1, c->B, 1, 1, 1);
    OK(be->ce_fwd(be, &l, &pr, &x, &y, 0.1f, 1.0f / c->B, 0, &err_));
    return c->loss;
}
static void test_ce(void) {
    int32_t y[3] = {2, 0, 4};
    ce_ctx c = {.B = 3, .K = 5, .y = y};
    c.x = t_alloc(15), c.p = t_alloc(15);
    float *dx = t_alloc(15);
    t_fill(c.x, 15, 2);
    ce_obj(&c);
    ember_tensor pr = F2(c.p, 3, 5), tdx = F2(dx, 3, 5), ty = tv(y, EMBER_I32, 1, 3, 1, 1, 1);
    OK(be->ce_bwd(be, &tdx, &pr, &ty, 0.1f, 1.0f / 3, &err_));
    fd_check("cross-entropy dlogits", c.x, 15, dx, ce_obj, &c);
    free(c.x), free(c.p), free(dx);
}

/* ---- linear maps: adjoint identities -------------------------------------------- */
static void adjoint(const char *name, const float *x, const float *ax, int64_t nx, const float *y, const float *aty,
                    int64_t ny) {
    double l = dot(ax, y, ny), r = dot(x, aty, nx);
    CHECK(fabs(l - r) <= 1e-5 * (fabs(l) + 1), "%s: <Ax,y> = %.9g but <x,A^T y> = %.9g", name, l, r);
}

static void test_linear_maps(void) {
    /* im2col */
    int64_t B = 2, Ci = 3, Hh = 8, W = 4, p = 2, T = (Hh / p) * (W / p), K = Ci * p * p;
    int64_t ni = B * Ci * Hh * W, nc = B * T * K;
    float *x = t_alloc(ni), *ax = t_alloc(nc), *y = t_alloc(nc), *aty = t_alloc(ni);
    t_fill(x, ni, 1), t_fill(y, nc, 1);
    ember_tensor tx = tv(x, EMBER_F32, 4, B, Ci, Hh, W), tax = F3(ax, B, T, K), ty = F3(y, B, T, K),
                 taty = tv(aty, EMBER_F32, 4, B, Ci, Hh, W);
    OK(be->im2col_fwd(be, &tax, &tx, (int)p, &err_));
    OK(be->im2col_bwd(be, &taty, &ty, (int)p, 0, &err_));
    adjoint("im2col", x, ax, ni, y, aty, nc);
    free(x), free(ax), free(y), free(aty);

    /* mean over tokens and position embedding */
    int64_t Bt = 3, Tt = 5, C = 7, n = Bt * Tt * C;
    float *a = t_alloc(n), *m = t_alloc(Bt * C), *dm = t_alloc(Bt * C), *da = t_alloc(n), *pos = t_alloc(Tt * C),
          *dpos = t_alloc(Tt * C), *out = t_alloc(n);
    t_fill(a, n, 1), t_fill(dm, Bt * C, 1), t_fill(pos, Tt * C, 1);
    ember_tensor ta = F3(a, Bt, Tt, C), tm = F2(m, Bt, C), tdm = F2(dm, Bt, C), tda = F3(da, Bt, Tt, C);
    OK(be->mean_tokens_fwd(be, &tm, &ta, &err_));
    OK(be->mean_tokens_bwd(be, &tda, &tdm, &err_));
    adjoint("mean over tokens", a, m, n, dm, da, Bt * C);
    /* pos: the map pos -> x + pos is affine in pos; its adjoint on dy is dpos = sum_b dy. */
    ember_tensor tp = F2(pos, Tt, C), tdp = F2(dpos, Tt, C), to = F3(out, Bt, Tt, C);
    float *zero = t_alloc(n);
    ember_tensor tz = F3(zero, Bt, Tt, C);
    OK(be->pos_embed_fwd(be, &to, &tz, &tp, &err_));
    OK(be->pos_embed_bwd(be, &tdp, &ta, 0, &err_));
    adjoint("position embedding", pos, out, Tt * C, a, dpos, n);
    /* dropout (same mask both ways) */
    float *d1 = t_alloc(n), *d2 = t_alloc(n);
    ember_tensor t1 = F3(d1, Bt, Tt, C), t2 = F3(d2, Bt, Tt, C);
    OK(be->dropout_fwd(be, &t1, &ta, 0.3f, 9, 5, NULL, &err_));
    OK(be->dropout_bwd(be, &t2, &tda, 0.3f, 9, 5, NULL, 0, &err_));
    adjoint("dropout", a, d1, n, da, d2, n);
    free(a), free(m), free(dm), free(da), free(pos), free(dpos), free(out), free(zero), free(d1), free(d2);
}

int main(void) {
    be = ember_backend_cpu();
    test_linear(0);
    test_linear(1);
    test_layernorm(4, 9);
    test_layernorm(1, 33);
    test_attention(2, 6, 8, 2, 0);
    test_attention(2, 6, 8, 2, 1);
    test_attention(1, 1, 3, 1, 0);
    test_attention(1, 9, 6, 3, 1);
    test_ce();
    test_linear_maps();
    return t_finish("test_cpu_grad");
}
