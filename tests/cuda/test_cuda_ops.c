/* test_cuda_ops.c — every op of the CUDA backend against the CPU backend
 * (the reference), on random data and on awkward shapes: sizes that are not
 * multiples of 8, a single row, one head, T not a multiple of the attention
 * tile. fp32 path within 1e-5 relative, bf16 path within 2e-2 relative per
 * tensor (cuda_test.h says why those bounds). Skips (77) without a GPU. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "cuda_test.h"

static const ember_backend *CPU, *GPU;
static ct_rng RNG = {0x9E3779B97F4A7C15ull};

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define NEW(p, dt, nd, ...) ct_pair_new(&(p), GPU, dt, nd, SH(__VA_ARGS__))
#define FILL(p, lo, hi) ct_pair_fill(&(p), GPU, &RNG, lo, hi)
#define FREE(p) ct_pair_free(&(p), GPU)

static double tol_for(ember_dtype dt)
{
    return dt == EMBER_BF16 ? CT_TOL_BF16 : CT_TOL_F32;
}

static const char *dn(ember_dtype dt)
{
    return dt == EMBER_BF16 ? "bf16" : "f32";
}

/* Runs `expr` with B = CPU, then with B = GPU and S(x) naming each side's
 * tensor; stops the test case on an error. */
#define BOTH(what, expr)                                                    \
    do {                                                                    \
        ember_err e_;                                                       \
        ember_err_clear(&e_);                                               \
        {                                                                   \
            const ember_backend *B = CPU;                                   \
            int side = 0;                                                   \
            (void)side;                                                     \
            if (ct_ok(what " (cpu)", (expr), &e_)) goto done;               \
        }                                                                   \
        {                                                                   \
            const ember_backend *B = GPU;                                   \
            int side = 1;                                                   \
            (void)side;                                                     \
            if (ct_ok(what " (cuda)", (expr), &e_)) goto done;              \
        }                                                                   \
    } while (0)
#define S(p) (side ? &(p).gpu : &(p).cpu)
#define E (&e_)

/* ---- matmul ----------------------------------------------------------- */

static void t_matmul(ember_dtype dt, ember_dtype cdt, int64_t batch, int64_t m, int64_t n,
                     int64_t k, int ta, int tb, int bias, int gelu, float beta)
{
    char what[200];
    snprintf(what, sizeof what, "matmul %s->%s b%lld m%lld n%lld k%lld t%d%d%s%s beta%g", dn(dt),
             dn(cdt), (long long)batch, (long long)m, (long long)n, (long long)k, ta, tb,
             bias ? " bias" : "", gelu ? " gelu" : "", (double)beta);
    ct_pair A, Bm, C, bi, pre;
    memset(&bi, 0, sizeof bi);
    memset(&pre, 0, sizeof pre);
    if (NEW(A, dt, 1, batch * m * k) || NEW(Bm, dt, 1, batch * k * n) ||
        NEW(C, cdt, 1, batch * m * n))
        return;
    FILL(A, -1, 1);
    FILL(Bm, -1, 1);
    FILL(C, -1, 1);
    if (bias) { NEW(bi, EMBER_F32, 1, n); FILL(bi, -1, 1); }
    if (gelu) { NEW(pre, cdt, 1, batch * m * n); FILL(pre, 0, 1); }
    ember_gemm g = ember_gemm_default(m, n, k);
    g.trans_a = ta;
    g.trans_b = tb;
    g.batch = batch;
    g.stride_a = m * k;
    g.stride_b = k * n;
    g.stride_c = m * n;
    g.beta = beta;
    g.alpha = 0.75f;
    g.gelu = gelu;
    BOTH("matmul", B->matmul(B, &g, S(A), S(Bm), bias ? S(bi) : NULL, S(C), gelu ? S(pre) : NULL, E));
    ct_expect_rel(what, ct_pair_rel(&C, GPU), tol_for(cdt == EMBER_BF16 ? cdt : dt));
    if (gelu) ct_expect_rel("  ... pre-activation", ct_pair_rel(&pre, GPU), tol_for(cdt == EMBER_BF16 ? cdt : dt));
done:
    FREE(A); FREE(Bm); FREE(C);
    if (bias) FREE(bi);
    if (gelu) FREE(pre);
}

static void t_bias_grad(ember_dtype dt, int64_t R, int64_t N)
{
    char what[200];
    snprintf(what, sizeof what, "bias_grad %s %lldx%lld", dn(dt), (long long)R, (long long)N);
    ct_pair dy, db;
    if (NEW(dy, dt, 2, R, N) || NEW(db, EMBER_F32, 1, N)) return;
    FILL(dy, -1, 1);
    FILL(db, -1, 1);
    BOTH("bias_grad", B->bias_grad(B, S(db), S(dy), 1, E));
    ct_expect_rel(what, ct_pair_rel(&db, GPU), tol_for(dt) / 4 + 1e-6);
done:
    FREE(dy); FREE(db);
}

/* ---- elementwise -------------------------------------------------------- */

static void t_gelu(ember_dtype dt, int64_t n)
{
    char what[200];
    snprintf(what, sizeof what, "gelu fwd/bwd %s n%lld", dn(dt), (long long)n);
    ct_pair x, y, dy, dx;
    if (NEW(x, dt, 1, n) || NEW(y, dt, 1, n) || NEW(dy, dt, 1, n) || NEW(dx, dt, 1, n)) return;
    FILL(x, -5, 5);
    FILL(dy, -1, 1);
    FILL(dx, -1, 1);
    BOTH("gelu_fwd", B->gelu_fwd(B, S(y), S(x), E));
    BOTH("gelu_bwd", B->gelu_bwd(B, S(dx), S(dy), S(x), 1, E));
    ct_expect_rel(what, fmax(ct_pair_rel(&y, GPU), ct_pair_rel(&dx, GPU)), tol_for(dt));
done:
    FREE(x); FREE(y); FREE(dy); FREE(dx);
}

static void t_add(ember_dtype ta, ember_dtype tb, ember_dtype to, int64_t n)
{
    char what[200];
    snprintf(what, sizeof what, "add %s+%s->%s n%lld", dn(ta), dn(tb), dn(to), (long long)n);
    ct_pair a, b, o;
    if (NEW(a, ta, 1, n) || NEW(b, tb, 1, n) || NEW(o, to, 1, n)) return;
    FILL(a, -1, 1);
    FILL(b, -1, 1);
    BOTH("add", B->add(B, S(o), S(a), S(b), E));
    ct_expect_rel(what, ct_pair_rel(&o, GPU), tol_for(to));
done:
    FREE(a); FREE(b); FREE(o);
}

/* ---- step scalars ------------------------------------------------------- */

typedef struct step_pair {
    ember_tensor cpu, gpu;
} step_pair;

static int step_new(step_pair *s, float lr, int64_t t, uint64_t rng_offset)
{
    ember_err err;
    ember_step_scalars sc;
    ember_step_scalars_set(&sc, lr, 0.9f, 0.999f, t, rng_offset);
    int64_t sh[1] = {(int64_t)sizeof sc};
    void *d = NULL;
    if (ember_tensor_host_new(&s->cpu, EMBER_U8, 1, sh, &err) ||
        GPU->alloc(GPU, sizeof sc, &d, &err) ||
        ember_tensor_view(&s->gpu, d, EMBER_U8, EMBER_DEV_CUDA, 1, sh, &err) ||
        GPU->copy_h2d(GPU, d, &sc, sizeof sc, &err) || GPU->sync(GPU, &err))
        return ct_ok("step scalars", -1, &err);
    memcpy(s->cpu.data, &sc, sizeof sc);
    return 0;
}

static void step_free(step_pair *s)
{
    ember_tensor_free(&s->cpu);
    if (s->gpu.data) GPU->dealloc(GPU, s->gpu.data);
}

/* ---- dropout: same mask on both backends --------------------------------- */

static void t_dropout(ember_dtype dt, int64_t n, float p, uint64_t seed, uint64_t off,
                      int with_step)
{
    char what[200];
    snprintf(what, sizeof what, "dropout %s n%lld p%.2f off%llu%s", dn(dt), (long long)n,
             (double)p, (unsigned long long)off, with_step ? " +step" : "");
    step_pair st;
    memset(&st, 0, sizeof st);
    ct_pair x, y, dy, dx;
    if (NEW(x, dt, 1, n) || NEW(y, dt, 1, n) || NEW(dy, dt, 1, n) || NEW(dx, dt, 1, n)) return;
    if (with_step && step_new(&st, 1e-3f, 1, 1ull << 33)) return;
    FILL(x, 0.5f, 2.0f); /* never zero: a zero output means dropped */
    FILL(dy, 0.5f, 2.0f);
    BOTH("dropout_fwd", B->dropout_fwd(B, S(y), S(x), p, seed, off, with_step ? S(st) : NULL, E));
    BOTH("dropout_bwd", B->dropout_bwd(B, S(dx), S(dy), p, seed, off, with_step ? S(st) : NULL, 0, E));
    float *g = malloc(sizeof(float) * (size_t)n), *gb = malloc(sizeof(float) * (size_t)n);
    if (g && gb && !ct_pair_fetch(&y, GPU, g) && !ct_pair_fetch(&dx, GPU, gb)) {
        int64_t same = 0, dropped = 0;
        for (int64_t i = 0; i < n; i++) {
            int cz = ((float *)y.cpu.data)[i] == 0.0f, gz = g[i] == 0.0f;
            int bz = ((float *)dx.cpu.data)[i] == 0.0f, hz = gb[i] == 0.0f;
            same += (cz == gz) && (bz == hz) && (cz == bz);
            dropped += cz;
        }
        char w2[400];
        snprintf(w2, sizeof w2, "%s: masks equal (%lld/%lld dropped)", what, (long long)dropped,
                 (long long)n);
        ct_expect(w2, same == n);
    }
    free(g);
    free(gb);
    ct_expect_rel(what, fmax(ct_pair_rel(&y, GPU), ct_pair_rel(&dx, GPU)), tol_for(dt));
done:
    FREE(x); FREE(y); FREE(dy); FREE(dx);
    if (with_step) step_free(&st);
}

/* ---- layernorm ---------------------------------------------------------- */

static void t_layernorm(ember_dtype dt, int64_t R, int64_t C)
{
    char what[200];
    snprintf(what, sizeof what, "layernorm fwd/bwd %s %lldx%lld", dn(dt), (long long)R, (long long)C);
    ct_pair x, y, mu, rs, ga, be, dy, dx, dg, dbt;
    if (NEW(x, dt, 2, R, C) || NEW(y, dt, 2, R, C) || NEW(mu, EMBER_F32, 1, R) ||
        NEW(rs, EMBER_F32, 1, R) || NEW(ga, EMBER_F32, 1, C) || NEW(be, EMBER_F32, 1, C) ||
        NEW(dy, dt, 2, R, C) || NEW(dx, dt, 2, R, C) || NEW(dg, EMBER_F32, 1, C) ||
        NEW(dbt, EMBER_F32, 1, C))
        return;
    FILL(x, -2, 3);
    FILL(ga, 0.5f, 1.5f);
    FILL(be, -0.5f, 0.5f);
    FILL(dy, -1, 1);
    FILL(dx, -1, 1);
    FILL(dg, -1, 1);
    FILL(dbt, -1, 1);
    BOTH("layernorm_fwd", B->layernorm_fwd(B, S(y), S(mu), S(rs), S(x), S(ga), S(be), 1e-5f, E));
    BOTH("layernorm_bwd", B->layernorm_bwd(B, S(dx), S(dg), S(dbt), S(dy), S(x), S(mu), S(rs), S(ga), 1, E));
    ct_expect_rel(what, ct_pair_rel(&y, GPU), tol_for(dt));
    ct_expect_rel("  ... mean, rstd", fmax(ct_pair_rel(&mu, GPU), ct_pair_rel(&rs, GPU)), CT_TOL_F32);
    ct_expect_rel("  ... dx", ct_pair_rel(&dx, GPU), tol_for(dt));
    ct_expect_rel("  ... dgamma, dbeta", fmax(ct_pair_rel(&dg, GPU), ct_pair_rel(&dbt, GPU)), tol_for(dt));
done:
    FREE(x); FREE(y); FREE(mu); FREE(rs); FREE(ga); FREE(be); FREE(dy); FREE(dx); FREE(dg); FREE(dbt);
}

/* ---- attention ---------------------------------------------------------- */

static void t_attention(ember_dtype dt, int64_t Bn, int64_t T, int64_t C, int H, int causal)
{
    char what[200];
    snprintf(what, sizeof what, "attention %s B%lld T%lld C%lld H%d%s", dn(dt), (long long)Bn,
             (long long)T, (long long)C, H, causal ? " causal" : "");
    ct_pair qkv, out, lse, dout, dqkv;
    if (NEW(qkv, dt, 3, Bn, T, 3 * C) || NEW(out, dt, 3, Bn, T, C) ||
        NEW(lse, EMBER_F32, 3, Bn, H, T) || NEW(dout, dt, 3, Bn, T, C) ||
        NEW(dqkv, dt, 3, Bn, T, 3 * C))
        return;
    FILL(qkv, -2, 2);
    FILL(dout, -1, 1);
    BOTH("attention_fwd", B->attention_fwd(B, S(out), S(lse), S(qkv), H, causal, E));
    ct_expect_rel(what, ct_pair_rel(&out, GPU), tol_for(dt));
    ct_expect_rel("  ... lse", ct_pair_rel(&lse, GPU), CT_TOL_F32 * (dt == EMBER_BF16 ? 100 : 1));
    /* backward from the same saved tensors on both sides: give the GPU the
     * CPU's out and lse so that only the backward is compared */
    {
        ct_pair *ps[2] = {&out, &lse};
        for (int i = 0; i < 2; i++) {
            ct_pair *p = ps[i];
            memcpy(p->host, p->cpu.data, sizeof(float) * (size_t)p->n);
            if (ct_pair_push(p, GPU)) goto done;
        }
    }
    BOTH("attention_bwd", B->attention_bwd(B, S(dqkv), S(dout), S(qkv), S(out), S(lse), H, causal, E));
    ct_expect_rel("  ... dqkv", ct_pair_rel(&dqkv, GPU), tol_for(dt));
done:
    FREE(qkv); FREE(out); FREE(lse); FREE(dout); FREE(dqkv);
}

/* ---- token plumbing ------------------------------------------------------- */

static void t_tokens(ember_dtype dt, int64_t Bn, int64_t T, int64_t C)
{
    char what[200];
    snprintf(what, sizeof what, "mean_tokens + pos_embed %s B%lld T%lld C%lld", dn(dt),
             (long long)Bn, (long long)T, (long long)C);
    ct_pair x, m, dm, dx, pos, y, dpos;
    if (NEW(x, dt, 3, Bn, T, C) || NEW(m, dt, 2, Bn, C) || NEW(dm, dt, 2, Bn, C) ||
        NEW(dx, dt, 3, Bn, T, C) || NEW(pos, EMBER_F32, 3, 1, T, C) || NEW(y, dt, 3, Bn, T, C) ||
        NEW(dpos, EMBER_F32, 2, T, C))
        return;
    FILL(x, -1, 1);
    FILL(dm, -1, 1);
    FILL(pos, -1, 1);
    FILL(dpos, -1, 1);
    BOTH("mean_tokens_fwd", B->mean_tokens_fwd(B, S(m), S(x), E));
    BOTH("mean_tokens_bwd", B->mean_tokens_bwd(B, S(dx), S(dm), E));
    BOTH("pos_embed_fwd", B->pos_embed_fwd(B, S(y), S(x), S(pos), E));
    BOTH("pos_embed_bwd", B->pos_embed_bwd(B, S(dpos), S(x), 1, E));
    ct_expect_rel(what, ct_pair_rel(&m, GPU), tol_for(dt));
    ct_expect_rel("  ... mean_tokens_bwd", ct_pair_rel(&dx, GPU), tol_for(dt));
    ct_expect_rel("  ... pos_embed_fwd", ct_pair_rel(&y, GPU), tol_for(dt));
    ct_expect_rel("  ... pos_embed_bwd", ct_pair_rel(&dpos, GPU), tol_for(dt));
done:
    FREE(x); FREE(m); FREE(dm); FREE(dx); FREE(pos); FREE(y); FREE(dpos);
}

static void t_im2col(ember_dtype dt, int64_t Bn, int64_t Ci, int64_t H, int64_t W, int p)
{
    char what[200];
    snprintf(what, sizeof what, "im2col fwd/bwd %s B%lld C%lld %lldx%lld p%d", dn(dt),
             (long long)Bn, (long long)Ci, (long long)H, (long long)W, p);
    int64_t T = (H / p) * (W / p), K = Ci * p * p;
    ct_pair img, cols, dcols, dimg;
    if (NEW(img, dt, 4, Bn, Ci, H, W) || NEW(cols, dt, 3, Bn, T, K) || NEW(dcols, dt, 3, Bn, T, K) ||
        NEW(dimg, dt, 4, Bn, Ci, H, W))
        return;
    FILL(img, -1, 1);
    FILL(dcols, -1, 1);
    FILL(dimg, -1, 1);
    BOTH("im2col_fwd", B->im2col_fwd(B, S(cols), S(img), p, E));
    BOTH("im2col_bwd", B->im2col_bwd(B, S(dimg), S(dcols), p, 1, E));
    ct_expect_rel(what, fmax(ct_pair_rel(&cols, GPU), ct_pair_rel(&dimg, GPU)), tol_for(dt));
done:
    FREE(img); FREE(cols); FREE(dcols); FREE(dimg);
}

/* ---- loss, optimizer, reductions ----------------------------------------- */

static void t_ce(ember_dtype dt, int64_t Bn, int64_t K, float smoothing)
{
    char what[200];
    snprintf(what, sizeof what, "cross-entropy %s B%lld K%lld s%.2f", dn(dt), (long long)Bn,
             (long long)K, (double)smoothing);
    ct_pair lg, lab, loss, probs, dl, cnt, am;
    if (NEW(lg, dt, 2, Bn, K) || NEW(lab, EMBER_I32, 1, Bn) || NEW(loss, EMBER_F32, 1, 1) ||
        NEW(probs, EMBER_F32, 2, Bn, K) || NEW(dl, dt, 2, Bn, K) || NEW(cnt, EMBER_I32, 1, 1) ||
        NEW(am, EMBER_I32, 1, Bn))
        return;
    FILL(lg, -4, 4);
    FILL(lab, 0, (float)K);
    float scale = 1.0f / (float)Bn;
    BOTH("ce_fwd", B->ce_fwd(B, S(loss), S(probs), S(lg), S(lab), smoothing, scale, 0, E));
    BOTH("ce_bwd", B->ce_bwd(B, S(dl), S(probs), S(lab), smoothing, scale, E));
    BOTH("argmax", B->argmax(B, S(am), S(lg), E));
    BOTH("accuracy_count", B->accuracy_count(B, S(cnt), S(lg), S(lab), 0, E));
    ct_expect_rel(what, ct_pair_rel(&loss, GPU), CT_TOL_F32);
    ct_expect_rel("  ... probs", ct_pair_rel(&probs, GPU), CT_TOL_F32);
    ct_expect_rel("  ... dlogits", ct_pair_rel(&dl, GPU), tol_for(dt));
    ct_expect_rel("  ... argmax (exact)", ct_pair_rel(&am, GPU), 0.0);
    ct_expect_rel("  ... accuracy count (exact)", ct_pair_rel(&cnt, GPU), 0.0);
done:
    FREE(lg); FREE(lab); FREE(loss); FREE(probs); FREE(dl); FREE(cnt); FREE(am);
}

static void t_adamw(int64_t n, int with_bf16, int with_scale)
{
    char what[200];
    snprintf(what, sizeof what, "adamw n%lld%s%s (3 steps, lr change)", (long long)n,
             with_bf16 ? " +bf16 copy" : "", with_scale ? " +grad_scale" : "");
    ct_pair w, g, m, v, wb, gs;
    memset(&wb, 0, sizeof wb);
    memset(&gs, 0, sizeof gs);
    if (NEW(w, EMBER_F32, 1, n) || NEW(g, EMBER_F32, 1, n) || NEW(m, EMBER_F32, 1, n) ||
        NEW(v, EMBER_F32, 1, n))
        return;
    if (with_bf16 && NEW(wb, EMBER_BF16, 1, n)) return;
    if (with_scale) { if (NEW(gs, EMBER_F32, 1, 1)) return; FILL(gs, 0.5f, 0.6f); }
    FILL(w, -0.1f, 0.1f);
    FILL(m, 0, 0);
    FILL(v, 0, 0);
    for (int t = 1; t <= 3; t++) {
        step_pair st;
        if (step_new(&st, t < 3 ? 1e-3f : 1e-4f, t, 0)) goto done;
        FILL(g, -1, 1);
        /* the CPU backend writes no bf16 copy; give it a dummy-free call */
        {
            ember_err e_;
            ember_err_clear(&e_);
            if (ct_ok("adamw (cpu)", CPU->adamw(CPU, &w.cpu, &g.cpu, &m.cpu, &v.cpu, NULL, &st.cpu,
                                                 0.9f, 0.999f, 1e-8f, 0.05f,
                                                 with_scale ? &gs.cpu : NULL, &e_), &e_) ||
                ct_ok("adamw (cuda)", GPU->adamw(GPU, &w.gpu, &g.gpu, &m.gpu, &v.gpu,
                                                  with_bf16 ? &wb.gpu : NULL, &st.gpu, 0.9f,
                                                  0.999f, 1e-8f, 0.05f,
                                                  with_scale ? &gs.gpu : NULL, &e_), &e_)) {
                step_free(&st);
                goto done;
            }
        }
        step_free(&st);
    }
    ct_expect_rel(what, ct_pair_rel(&w, GPU), CT_TOL_F32);
    ct_expect_rel("  ... m, v", fmax(ct_pair_rel(&m, GPU), ct_pair_rel(&v, GPU)), CT_TOL_F32);
    if (with_bf16) {
        /* the bf16 copy must be the CPU weights rounded to nearest even */
        float *h = malloc(sizeof(float) * (size_t)n);
        if (h && !ct_pair_fetch(&wb, GPU, h)) {
            int64_t bad = 0;
            for (int64_t i = 0; i < n; i++) {
                float ref = ember_bf16_round(((float *)w.cpu.data)[i]);
                if (fabsf(h[i] - ref) > fabsf(ref) * 0.0079f) bad++; /* one bf16 ulp */
            }
            ct_expect("  ... bf16 copy is the rounded master weights (within 1 ulp)", bad == 0);
        }
        free(h);
    }
done:
    FREE(w); FREE(g); FREE(m); FREE(v);
    if (with_bf16) FREE(wb);
    if (with_scale) FREE(gs);
}

static void t_misc(ember_dtype dt, int64_t n)
{
    char what[200];
    snprintf(what, sizeof what, "l2_norm, zero %s n%lld", dn(dt), (long long)n);
    ct_pair x, nrm;
    if (NEW(x, dt, 1, n) || NEW(nrm, EMBER_F32, 1, 1)) return;
    FILL(x, -1, 1);
    FILL(nrm, -5, -4); /* poisoned: an op that writes nothing cannot pass */
    BOTH("l2_norm", B->l2_norm(B, S(nrm), S(x), E));
    ct_expect_rel(what, ct_pair_rel(&nrm, GPU), CT_TOL_F32);
    {
        float g = -1.0f;
        ct_expect("  ... the norm was written (> 0)", !ct_pair_fetch(&nrm, GPU, &g) && g > 0.0f);
    }
    BOTH("zero", B->zero(B, S(x), E));
    ct_expect_rel("  ... zero (exact)", ct_pair_rel(&x, GPU), 0.0);
done:
    FREE(x); FREE(nrm);
}

static void t_cast(int64_t n)
{
    ct_pair x, b, back;
    if (NEW(x, EMBER_F32, 1, n) || NEW(b, EMBER_BF16, 1, n) || NEW(back, EMBER_F32, 1, n)) return;
    FILL(x, -100, 100);
    ember_err e_;
    ember_err_clear(&e_);
    if (ct_ok("cast f32->bf16", GPU->cast(GPU, &b.gpu, &x.gpu, &e_), &e_) ||
        ct_ok("cast bf16->f32", GPU->cast(GPU, &back.gpu, &b.gpu, &e_), &e_))
        goto done;
    float *h = malloc(sizeof(float) * (size_t)n);
    if (h && !ct_pair_fetch(&back, GPU, h)) {
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++)
            if (h[i] != ember_bf16_round(x.host[i])) bad++;
        char what[200];
        snprintf(what, sizeof what, "cast f32->bf16->f32 n%lld: round to nearest even, bit exact",
                 (long long)n);
        ct_expect(what, bad == 0);
    }
    free(h);
done:
    FREE(x); FREE(b); FREE(back);
}

static void t_normalize(ember_dtype dt, int64_t Bn, int64_t H, int64_t W)
{
    char what[200];
    snprintf(what, sizeof what, "normalize_u8 %s B%lld %lldx%lld", dn(dt), (long long)Bn,
             (long long)H, (long long)W);
    ct_pair in, out;
    if (NEW(in, EMBER_U8, 4, Bn, 3, H, W) || NEW(out, dt, 4, Bn, 3, H, W)) return;
    FILL(in, 0, 256);
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, sd[3] = {0.2471f, 0.2435f, 0.2616f};
    BOTH("normalize_u8", B->normalize_u8(B, S(out), S(in), mean, sd, E));
    ct_expect_rel(what, ct_pair_rel(&out, GPU), tol_for(dt));
done:
    FREE(in); FREE(out);
}

static void t_errors(void)
{
    /* a wrong dtype and a CPU tensor must be refused with a message, not crash */
    ct_pair a, b;
    if (NEW(a, EMBER_I32, 1, 8) || NEW(b, EMBER_F32, 1, 8)) return;
    ember_err e_;
    ember_err_clear(&e_);
    int rc = GPU->gelu_fwd(GPU, &b.gpu, &a.gpu, &e_);
    ct_expect("gelu_fwd refuses an i32 input with a message", rc == -1 && strstr(e_.msg, "dtype"));
    printf("     (%s)\n", e_.msg);
    rc = GPU->gelu_fwd(GPU, &b.gpu, &b.cpu, &e_);
    ct_expect("gelu_fwd refuses a CPU tensor with a message", rc == -1 && strstr(e_.msg, "CPU"));
    printf("     (%s)\n", e_.msg);
    FREE(a); FREE(b);
}

int main(void)
{
    int rc = ct_open(&GPU);
    if (rc) return rc;
    CPU = ember_backend_cpu();
    ember_dtype dts[2] = {EMBER_F32, EMBER_BF16};
    for (int i = 0; i < 2; i++) {
        ember_dtype dt = dts[i];
        /* matrix products: awkward sizes, transposes, bias, GELU, beta, batches */
        t_matmul(dt, dt, 1, 1, 1, 1, 0, 0, 0, 0, 0.0f);
        t_matmul(dt, dt, 1, 7, 13, 5, 0, 1, 1, 0, 0.0f);
        t_matmul(dt, dt, 1, 33, 17, 129, 1, 0, 0, 1, 0.0f);
        t_matmul(dt, dt, 1, 1, 96, 64, 1, 1, 1, 1, 0.0f);
        t_matmul(dt, dt, 1, 256, 1152, 384, 0, 1, 1, 0, 0.0f);
        t_matmul(dt, dt, 1, 200, 1536, 384, 0, 1, 1, 1, 0.0f);
        t_matmul(dt, EMBER_F32, 1, 384, 1536, 256, 1, 0, 0, 0, 1.0f); /* dW += dy^T x */
        t_matmul(dt, dt, 3, 17, 9, 5, 0, 1, 0, 0, 0.5f);
        t_bias_grad(dt, 1, 5);
        t_bias_grad(dt, 300, 77);
        t_gelu(dt, 1);
        t_gelu(dt, 12345);
        t_add(dt, dt, dt, 1001);
        t_add(EMBER_F32, dt, EMBER_F32, 77);
        t_dropout(dt, 1, 0.5f, 7, 0, 0);
        t_dropout(dt, 1001, 0.1f, 1234, 5, 0);
        t_dropout(dt, 65536 + 3, 0.5f, 42, 99, 1);
        t_layernorm(dt, 1, 384);
        t_layernorm(dt, 37, 77);
        t_layernorm(dt, 300, 384);
        t_layernorm(dt, 5, 777); /* wider than the register-tiled kernel: the generic one */
        t_attention(dt, 2, 64, 96, 2, 0);
        t_attention(dt, 1, 1, 8, 1, 0);
        t_attention(dt, 3, 70, 60, 5, 0);
        t_attention(dt, 2, 17, 48, 1, 1);
        t_attention(dt, 1, 130, 64, 2, 1);
        t_tokens(dt, 2, 64, 48);
        t_tokens(dt, 1, 1, 5);
        t_tokens(dt, 3, 7, 13);
        t_im2col(dt, 2, 3, 32, 32, 4);
        t_im2col(dt, 1, 2, 12, 8, 4);
        t_im2col(dt, 1, 1, 3, 3, 3);
        t_ce(dt, 4, 10, 0.1f);
        t_ce(dt, 1, 3, 0.0f);
        t_ce(dt, 37, 1000, 0.1f);
        t_misc(dt, 1);
        t_misc(dt, 100003);
        t_normalize(dt, 2, 5, 7);
    }
    t_adamw(1, 0, 0);
    t_adamw(54321, 1, 1);
    t_cast(1);
    t_cast(4097);
    t_errors();
    ct_close();
    printf("%s: %d failure%s\n", ct_failures ? "FAILED" : "PASSED", ct_failures,
           ct_failures == 1 ? "" : "s");
    return ct_failures ? 1 : 0;
}
