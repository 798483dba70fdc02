/* test_cpu_ops.c — every CPU backend forward op against a float64
 * reference on random shapes, awkward ones included (single rows, sizes
 * that are not multiples of 8), plus dropout's mask statistics, casts,
 * AdamW, and the clear errors ops give for bad arguments.
 *
 * Tolerance: normwise relative error 2e-6 for f32 results of sums of up to
 * a few hundred terms (f32 rounding 6e-8 per operation, errors growing
 * like sqrt(terms) on random data), 1e-6 where the op keeps double
 * accumulators. */
#include "core/backend.h"
#include "core/bf16.h"
#include "core/philox.h"
#include "test_util.h"

static const ember_backend *be;

static ember_tensor tview(void *p, ember_dtype dt, int nd, int64_t a, int64_t b, int64_t c, int64_t d) {
    ember_tensor t;
    int64_t s[4] = {a, b, c, d};
    ember_err e;
    if (ember_tensor_view(&t, p, dt, EMBER_DEV_CPU, nd, s, &e)) {
        fprintf(stderr, "view: %s\n", e.msg);
        exit(2);
    }
    return t;
}
#define F1(p, a) tview(p, EMBER_F32, 1, a, 1, 1, 1)
#define F2(p, a, b) tview(p, EMBER_F32, 2, a, b, 1, 1)
#define F3(p, a, b, c) tview(p, EMBER_F32, 3, a, b, c, 1)

static double gelu_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

/* ---- matmul ------------------------------------------------------------------ */

static void test_matmul_case(int64_t m, int64_t n, int64_t k, int ta, int tb, int64_t batch, int bcast_b,
                             float alpha, float beta, int bias, int gelu, int pad) {
    int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    int64_t arows = ta ? k : m, brows = tb ? n : k;
    int64_t sa = arows * lda, sb = bcast_b ? 0 : brows * ldb, sc = m * ldc;
    int64_t na = sa * batch, nb = bcast_b ? brows * ldb : sb * batch, nc = sc * batch;
    float *A = t_alloc(na), *Bm = t_alloc(nb), *C = t_alloc(nc), *bv = t_alloc(n), *P = t_alloc(nc);
    double *ref = t_allocd(nc), *refpre = t_allocd(nc);
    t_fill(A, na, 1);
    t_fill(Bm, nb, 1);
    t_fill(C, nc, 1);
    t_fill(bv, n, 1);
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++) {
                    double a = ta ? A[b * sa + p * lda + i] : A[b * sa + i * lda + p];
                    double bb = tb ? Bm[b * sb + j * ldb + p] : Bm[b * sb + p * ldb + j];
                    s += a * bb;
                }
                double v = alpha * s + (beta != 0.0f ? beta * (double)C[b * sc + i * ldc + j] : 0.0) + (bias ? bv[j] : 0.0);
                refpre[b * sc + i * ldc + j] = v;
                ref[b * sc + i * ldc + j] = gelu ? gelu_d(v) : v;
            }
    ember_gemm g = ember_gemm_default(m, n, k);
    g.trans_a = ta;
    g.trans_b = tb;
    g.lda = lda;
    g.ldb = ldb;
    g.ldc = ldc;
    g.batch = batch;
    g.stride_a = sa;
    g.stride_b = sb;
    g.stride_c = sc;
    g.alpha = alpha;
    g.beta = beta;
    g.gelu = gelu;
    ember_tensor ta_ = F1(A, na), tb_ = F1(Bm, nb), tc = F1(C, nc), tbias = F1(bv, n), tp = F1(P, nc);
    OK(be->matmul(be, &g, &ta_, &tb_, bias ? &tbias : NULL, &tc, gelu ? &tp : NULL, &err_));
    /* Compare only the addressed elements (padding is untouched). */
    double num = 0, den = 0, nump = 0;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                int64_t x = b * sc + i * ldc + j;
                num = fmax(num, fabs(C[x] - ref[x]));
                den = fmax(den, fabs(ref[x]));
                if (gelu) nump = fmax(nump, fabs(P[x] - refpre[x]));
            }
    double e = den > 0 ? num / den : num;
    CHECK(e < 2e-6, "matmul m=%lld n=%lld k=%lld ta=%d tb=%d batch=%lld bias=%d gelu=%d: rel err %.3g",
          (long long)m, (long long)n, (long long)k, ta, tb, (long long)batch, bias, gelu, e);
    if (gelu) CHECK(nump / (den + 1e-30) < 5e-6, "matmul pre-activation err %.3g", nump);
    free(A), free(Bm), free(C), free(bv), free(P), free(ref), free(refpre);
}

static void test_matmul(void) {
    static const int64_t shapes[][3] = {{1, 1, 1}, {1, 7, 13}, {5, 3, 1}, {17, 33, 9}, {64, 48, 129}, {3, 130, 257}, {1, 300, 2}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                test_matmul_case(m, n, k, ta, tb, 1, 0, 1.0f, 0.0f, 0, 0, 0);
                test_matmul_case(m, n, k, ta, tb, 3, (int)(s & 1), 0.5f, 1.0f, 1, 0, (int)s % 3);
                test_matmul_case(m, n, k, ta, tb, 2, 0, 1.0f, 0.0f, 1, 1, 1);
            }
    /* k == 0 is C = beta C (+ bias). */
    test_matmul_case(4, 5, 0, 0, 0, 1, 0, 1.0f, 0.5f, 1, 0, 0);
    /* Errors: bf16 operands, too-small operand, GELU without pre. */
    float a[6] = {0}, b[6] = {0}, c[4] = {0};
    uint16_t h[6] = {0};
    ember_tensor A = F2(a, 2, 3), Bt = F2(b, 3, 2), C = F2(c, 2, 2), H = tview(h, EMBER_BF16, 2, 2, 3, 1, 1);
    ember_gemm g = ember_gemm_default(2, 2, 3);
    ember_err e = {{0}};
    CHECK(be->matmul(be, &g, &H, &Bt, NULL, &C, NULL, &e) == -1 && strstr(e.msg, "f32 only"), "bf16 refused: %s", e.msg);
    g.k = 4;
    CHECK(be->matmul(be, &g, &A, &Bt, NULL, &C, NULL, &e) == -1 && strstr(e.msg, "too small"), "size check: %s", e.msg);
    g.k = 3;
    g.gelu = 1;
    CHECK(be->matmul(be, &g, &A, &Bt, NULL, &C, NULL, &e) == -1 && strstr(e.msg, "pre-activation"), "gelu pre: %s", e.msg);
    g.gelu = 0;
    g.beta = 1;
    CHECK(be->matmul(be, &g, &A, &Bt, NULL, &A, NULL, &e) == -1, "aliasing with beta refused");
}

/* ---- elementwise, norms, tokens ------------------------------------------- */

static void test_bias_grad_gelu_add(void) {
    int64_t R = 37, N = 131;
    float *dy = t_alloc(R * N), *db = t_alloc(N);
    double *ref = t_allocd(N);
    t_fill(dy, R * N, 1);
    t_fill(db, N, 1);
    for (int64_t j = 0; j < N; j++) {
        ref[j] = db[j];
        for (int64_t i = 0; i < R; i++) ref[j] += dy[i * N + j];
    }
    ember_tensor tdy = F2(dy, R, N), tdb = F1(db, N);
    OK(be->bias_grad(be, &tdb, &tdy, 1, &err_));
    CHECK(t_relerr_fd(db, ref, N) < 1e-6, "bias_grad accumulate");
    OK(be->bias_grad(be, &tdb, &tdy, 0, &err_));
    for (int64_t j = 0; j < N; j++) {
        ref[j] = 0;
        for (int64_t i = 0; i < R; i++) ref[j] += dy[i * N + j];
    }
    CHECK(t_relerr_fd(db, ref, N) < 1e-6, "bias_grad overwrite");

    int64_t n = 1001;
    float *x = t_alloc(n), *y = t_alloc(n), *z = t_alloc(n);
    double *r = t_allocd(n);
    t_fill(x, n, 3);
    t_fill(y, n, 1);
    for (int64_t i = 0; i < n; i++) r[i] = gelu_d(x[i]);
    ember_tensor tx = F1(x, n), ty = F1(y, n), tz = F1(z, n);
    OK(be->gelu_fwd(be, &tz, &tx, &err_));
    CHECK(t_relerr_fd(z, r, n) < 1e-6, "gelu_fwd");
    for (int64_t i = 0; i < n; i++) r[i] = (double)x[i] + y[i];
    OK(be->add(be, &tz, &tx, &ty, &err_));
    CHECK(t_relerr_fd(z, r, n) < 1e-7, "add");
    OK(be->add(be, &ty, &ty, &tx, &err_)); /* in place */
    CHECK(t_relerr_fd(y, r, n) < 1e-7, "add in place");
    free(dy), free(db), free(ref), free(x), free(y), free(z), free(r);
}

static void test_layernorm(void) {
    static const int64_t shapes[][2] = {{1, 7}, {5, 1}, {13, 48}, {64, 33}};
    for (size_t s = 0; s < 4; s++) {
        int64_t R = shapes[s][0], C = shapes[s][1];
        float *x = t_alloc(R * C), *o = t_alloc(R * C), *g = t_alloc(C), *b = t_alloc(C), *mu = t_alloc(R), *rs = t_alloc(R);
        double *ref = t_allocd(R * C), *rmu = t_allocd(R), *rrs = t_allocd(R);
        t_fill(x, R * C, 2);
        for (int64_t i = 0; i < R * C; i++) x[i] += 3.0f; /* an offset, as real activations have */
        t_fill(g, C, 1);
        t_fill(b, C, 1);
        for (int64_t r = 0; r < R; r++) {
            double m = 0, v = 0;
            for (int64_t c = 0; c < C; c++) m += x[r * C + c];
            m /= C;
            for (int64_t c = 0; c < C; c++) v += (x[r * C + c] - m) * (x[r * C + c] - m);
            v /= C;
            rmu[r] = m;
            rrs[r] = 1 / sqrt(v + 1e-5);
            for (int64_t c = 0; c < C; c++) ref[r * C + c] = (x[r * C + c] - m) * rrs[r] * g[c] + b[c];
        }
        ember_tensor tx = F2(x, R, C), to = F2(o, R, C), tg = F1(g, C), tb = F1(b, C), tm = F1(mu, R), tr = F1(rs, R);
        OK(be->layernorm_fwd(be, &to, &tm, &tr, &tx, &tg, &tb, 1e-5f, &err_));
        CHECK(t_relerr_fd(o, ref, R * C) < 1e-6, "layernorm out R=%lld C=%lld", (long long)R, (long long)C);
        CHECK(t_relerr_fd(mu, rmu, R) < 1e-6 && t_relerr_fd(rs, rrs, R) < 1e-6, "layernorm saved stats");
        free(x), free(o), free(g), free(b), free(mu), free(rs), free(ref), free(rmu), free(rrs);
    }
}

static void attention_ref(const float *qkv, double *out, double *lse, int64_t B, int64_t T, int64_t C, int64_t H,
                          int causal) {
    int64_t D = C / H;
    double *s = t_allocd(T);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++) {
                double mx = -INFINITY, sum = 0;
                int64_t nj = causal ? i + 1 : T;
                for (int64_t j = 0; j < nj; j++) {
                    double d = 0;
                    for (int64_t e = 0; e < D; e++)
                        d += (double)qkv[(b * T + i) * 3 * C + h * D + e] * qkv[(b * T + j) * 3 * C + C + h * D + e];
                    s[j] = d / sqrt((double)D);
                    mx = fmax(mx, s[j]);
                }
                for (int64_t j = 0; j < nj; j++) sum += exp(s[j] - mx);
                lse[(b * H + h) * T + i] = mx + log(sum);
                for (int64_t e = 0; e < D; e++) {
                    double a = 0;
                    for (int64_t j = 0; j < nj; j++) a += exp(s[j] - mx) / sum * qkv[(b * T + j) * 3 * C + 2 * C + h * D + e];
                    out[(b * T + i) * C + h * D + e] = a;
                }
            }
    free(s);
}

static void test_attention(void) {
    static const int64_t shapes[][4] = {{1, 1, 4, 1}, {2, 5, 6, 2}, {3, 17, 12, 3}, {1, 64, 48, 4}};
    for (size_t s = 0; s < 4; s++)
        for (int causal = 0; causal < 2; causal++) {
            int64_t B = shapes[s][0], T = shapes[s][1], C = shapes[s][2], H = shapes[s][3];
            float *qkv = t_alloc(B * T * 3 * C), *o = t_alloc(B * T * C), *l = t_alloc(B * H * T);
            double *ro = t_allocd(B * T * C), *rl = t_allocd(B * H * T);
            t_fill(qkv, B * T * 3 * C, 1.5);
            attention_ref(qkv, ro, rl, B, T, C, H, causal);
            ember_tensor tq = F3(qkv, B, T, 3 * C), to = F3(o, B, T, C), tl = F3(l, B, H, T);
            OK(be->attention_fwd(be, &to, &tl, &tq, (int)H, causal, &err_));
            CHECK(t_relerr_fd(o, ro, B * T * C) < 1e-6, "attention out B=%lld T=%lld C=%lld H=%lld causal=%d: %.3g",
                  (long long)B, (long long)T, (long long)C, (long long)H, causal, t_relerr_fd(o, ro, B * T * C));
            CHECK(t_relerr_fd(l, rl, B * H * T) < 1e-6, "attention lse");
            free(qkv), free(o), free(l), free(ro), free(rl);
        }
    float q[12] = {0}, o[4], l[2];
    ember_tensor tq = F3(q, 1, 2, 6), to = F3(o, 1, 2, 2), tl = F3(l, 1, 1, 2);
    ember_err e = {{0}};
    CHECK(be->attention_fwd(be, &to, &tl, &tq, 3, 0, &e) == -1 && strstr(e.msg, "heads"), "heads must divide C: %s", e.msg);
}

static void test_tokens(void) {
    int64_t B = 3, T = 5, C = 7;
    float *x = t_alloc(B * T * C), *o = t_alloc(B * C), *pos = t_alloc(T * C), *y = t_alloc(B * T * C);
    double *r = t_allocd(B * T * C);
    t_fill(x, B * T * C, 1);
    t_fill(pos, T * C, 1);
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) {
            double s = 0;
            for (int64_t t = 0; t < T; t++) s += x[(b * T + t) * C + c];
            r[b * C + c] = s / T;
        }
    ember_tensor tx = F3(x, B, T, C), to = F2(o, B, C), tp = tview(pos, EMBER_F32, 3, 1, T, C, 1), ty = F3(y, B, T, C);
    OK(be->mean_tokens_fwd(be, &to, &tx, &err_));
    CHECK(t_relerr_fd(o, r, B * C) < 1e-6, "mean_tokens_fwd");
    for (int64_t i = 0; i < B * T * C; i++) r[i] = (double)x[i] + pos[i % (T * C)];
    OK(be->pos_embed_fwd(be, &ty, &tx, &tp, &err_));
    CHECK(t_relerr_fd(y, r, B * T * C) < 1e-7, "pos_embed_fwd");
    free(x), free(o), free(pos), free(y), free(r);
}

/* im2col + matmul is a Conv2d (kernel p, stride p): compare with a direct convolution. */
static void test_patch_conv(void) {
    int64_t B = 2, Ci = 3, Hh = 8, W = 12, p = 4, Co = 5, gh = Hh / p, gw = W / p, K = Ci * p * p;
    float *img = t_alloc(B * Ci * Hh * W), *cols = t_alloc(B * gh * gw * K), *w = t_alloc(Co * K), *bias = t_alloc(Co),
          *out = t_alloc(B * gh * gw * Co);
    double *ref = t_allocd(B * gh * gw * Co);
    t_fill(img, B * Ci * Hh * W, 1);
    t_fill(w, Co * K, 1);
    t_fill(bias, Co, 1);
    for (int64_t b = 0; b < B; b++)
        for (int64_t py = 0; py < gh; py++)
            for (int64_t px = 0; px < gw; px++)
                for (int64_t co = 0; co < Co; co++) {
                    double s = bias[co];
                    for (int64_t ci = 0; ci < Ci; ci++)
                        for (int64_t ky = 0; ky < p; ky++)
                            for (int64_t kx = 0; kx < p; kx++)
                                s += (double)w[((co * Ci + ci) * p + ky) * p + kx] *
                                     img[((b * Ci + ci) * Hh + py * p + ky) * W + px * p + kx];
                    ref[((b * gh + py) * gw + px) * Co + co] = s;
                }
    ember_tensor ti = tview(img, EMBER_F32, 4, B, Ci, Hh, W), tc = F3(cols, B, gh * gw, K), tw = F2(w, Co, K),
                 tb = F1(bias, Co), to = F3(out, B, gh * gw, Co);
    OK(be->im2col_fwd(be, &tc, &ti, (int)p, &err_));
    ember_gemm g = ember_gemm_default(B * gh * gw, Co, K);
    g.trans_b = 1;
    OK(be->matmul(be, &g, &tc, &tw, &tb, &to, NULL, &err_));
    CHECK(t_relerr_fd(out, ref, B * gh * gw * Co) < 2e-6, "patch embedding = Conv2d");
    ember_err e = {{0}};
    CHECK(be->im2col_fwd(be, &tc, &ti, 5, &e) == -1 && strstr(e.msg, "multiple"), "bad patch size: %s", e.msg);
    free(img), free(cols), free(w), free(bias), free(out), free(ref);
}

static void test_ce(void) {
    int64_t B = 5, K = 7;
    float *x = t_alloc(B * K), *p = t_alloc(B * K), loss = 0;
    int32_t y[5] = {0, 6, 3, 3, 1};
    t_fill(x, B * K, 3);
    double tot = 0, s = 0.1;
    double *rp = t_allocd(B * K);
    for (int64_t b = 0; b < B; b++) {
        double mx = -INFINITY, z = 0;
        for (int64_t k = 0; k < K; k++) mx = fmax(mx, x[b * K + k]);
        for (int64_t k = 0; k < K; k++) z += exp(x[b * K + k] - mx);
        for (int64_t k = 0; k < K; k++) {
            double lp = x[b * K + k] - mx - log(z);
            rp[b * K + k] = exp(lp);
            tot -= ((k == y[b] ? 1 - s : 0) + s / K) * lp;
        }
    }
    ember_tensor tx = F2(x, B, K), tp = F2(p, B, K), tl = F1(&loss, 1), ty = tview(y, EMBER_I32, 1, B, 1, 1, 1);
    OK(be->ce_fwd(be, &tl, &tp, &tx, &ty, (float)s, 1.0f / B, 0, &err_));
    CHECK(fabs(loss - tot / B) / (tot / B) < 1e-6, "ce loss %.7f vs %.7f", loss, tot / B);
    CHECK(t_relerr_fd(p, rp, B * K) < 1e-6, "ce probs");
    OK(be->ce_fwd(be, &tl, &tp, &tx, &ty, (float)s, 1.0f, 1, &err_));
    CHECK(fabs(loss - (tot / B + tot)) / tot < 1e-6, "ce accumulate");
    y[2] = 7;
    ember_err e = {{0}};
    CHECK(be->ce_fwd(be, &tl, &tp, &tx, &ty, (float)s, 1.0f, 0, &e) == -1 && strstr(e.msg, "outside"), "bad label: %s", e.msg);
    free(x), free(p), free(rp);
}

/* ---- dropout ------------------------------------------------------------------ */

static void test_dropout(void) {
    int64_t n = 200003; /* not a multiple of 4 */
    float *x = t_alloc(n), *y = t_alloc(n), *dx = t_alloc(n);
    for (int64_t i = 0; i < n; i++) x[i] = 1.0f + (float)(i % 7);
    ember_step_scalars st;
    ember_step_scalars_set(&st, 0, 0.9f, 0.999f, 1, 1000);
    ember_tensor tx = F1(x, n), ty = F1(y, n), tdx = F1(dx, n), ts = tview(&st, EMBER_U8, 1, sizeof st, 1, 1, 1);
    float p = 0.1f;
    uint64_t seed = 42, off = 77;
    OK(be->dropout_fwd(be, &ty, &tx, p, seed, off, &ts, &err_));
    int64_t dropped = 0, bad = 0;
    uint32_t thr = ember_dropout_threshold(p);
    for (int64_t i = 0; i < n; i++) {
        int keep = ember_philox_draw(seed, 1000 + off, (uint64_t)i) >= thr;
        if (!keep) dropped++;
        float want = keep ? x[i] * (1.0f / (1.0f - p)) : 0.0f;
        if (y[i] != want) bad++;
    }
    CHECK(bad == 0, "dropout follows the documented Philox mapping exactly (%lld differ)", (long long)bad);
    double rate = (double)dropped / n, sd = sqrt(p * (1 - p) / n);
    CHECK(fabs(rate - p) < 5 * sd, "drop rate %.5f vs %.2f", rate, p);
    double sx = 0, sy = 0;
    for (int64_t i = 0; i < n; i++) sx += x[i], sy += y[i];
    CHECK(fabs(sy / sx - 1.0) < 0.01, "expected value preserved: ratio %.4f", sy / sx);
    /* Backward: the same mask and scale. */
    OK(be->dropout_bwd(be, &tdx, &tx, p, seed, off, &ts, 0, &err_));
    CHECK(memcmp(dx, y, (size_t)n * 4) == 0, "dropout_bwd reuses the forward's mask");
    /* Another step offset or seed: another mask. */
    st.rng_offset += 1;
    OK(be->dropout_fwd(be, &tdx, &tx, p, seed, off, &ts, &err_));
    CHECK(memcmp(dx, y, (size_t)n * 4) != 0, "step offset changes the mask");
    OK(be->dropout_fwd(be, &tdx, &tx, 0.0f, seed, off, &ts, &err_));
    CHECK(memcmp(dx, x, (size_t)n * 4) == 0, "p = 0 copies");
    ember_err e = {{0}};
    CHECK(be->dropout_fwd(be, &tdx, &tx, 1.0f, seed, off, &ts, &e) == -1, "p = 1 refused");
    free(x), free(y), free(dx);
}

/* ---- optimizer and reductions --------------------------------------------------- */

static void test_adamw(void) {
    int64_t n = 1031;
    float *w = t_alloc(n), *g = t_alloc(n), *m = t_alloc(n), *v = t_alloc(n), gs = 0.5f;
    uint16_t *wb = calloc((size_t)n, 2);
    double *rw = t_allocd(n), *rm = t_allocd(n), *rv = t_allocd(n);
    t_fill(w, n, 1);
    for (int64_t i = 0; i < n; i++) rw[i] = w[i];
    float lrs[3] = {1e-2f, 3e-3f, 1e-3f}, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    ember_step_scalars st;
    ember_tensor tw = F1(w, n), tg = F1(g, n), tm = F1(m, n), tv = F1(v, n), tgs = F1(&gs, 1),
                 twb = tview(wb, EMBER_BF16, 1, n, 1, 1, 1), ts = tview(&st, EMBER_U8, 1, sizeof st, 1, 1, 1);
    for (int t = 1; t <= 3; t++) {
        t_fill(g, n, 1);
        ember_step_scalars_set(&st, lrs[t - 1], b1, b2, t, 0);
        double lr = lrs[t - 1];
        for (int64_t i = 0; i < n; i++) {
            double gi = (double)g[i] * gs;
            rw[i] *= 1 - lr * wd;
            rm[i] = b1 * rm[i] + (1 - (double)b1) * gi;
            rv[i] = b2 * rv[i] + (1 - (double)b2) * gi * gi;
            double mh = rm[i] / (1 - pow(b1, t)), vh = rv[i] / (1 - pow(b2, t));
            rw[i] -= lr * mh / (sqrt(vh) + eps);
        }
        OK(be->adamw(be, &tw, &tg, &tm, &tv, &twb, &ts, b1, b2, eps, wd, &tgs, &err_));
    }
    CHECK(t_relerr_fd(w, rw, n) < 1e-6, "adamw weights after 3 steps: %.3g", t_relerr_fd(w, rw, n));
    CHECK(t_relerr_fd(m, rm, n) < 1e-6 && t_relerr_fd(v, rv, n) < 1e-6, "adamw moments");
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad += wb[i] != ember_f32_to_bf16(w[i]);
    CHECK(bad == 0, "adamw's bf16 copy is the rounded weights");
    ember_err e = {{0}};
    CHECK(be->adamw(be, &tw, &tg, &tm, &tv, NULL, NULL, b1, b2, eps, wd, NULL, &e) == -1, "adamw needs step scalars");
    free(w), free(g), free(m), free(v), free(wb), free(rw), free(rm), free(rv);
}

static void test_misc(void) {
    /* l2 norm */
    int64_t n = 999;
    float *x = t_alloc(n), out = 0;
    t_fill(x, n, 1);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    ember_tensor tx = F1(x, n), to = F1(&out, 1);
    OK(be->l2_norm(be, &to, &tx, &err_));
    CHECK(fabs(out - sqrt(s)) / sqrt(s) < 1e-6, "l2_norm");
    /* casts: round to nearest even, specials */
    float vals[6] = {1.0f, 1.00390625f /* 1 + 2^-8: tie, to even (1.0) */, 1.01171875f /* 1 + 3*2^-8: tie, up */,
                     -INFINITY, NAN, 3.0e38f};
    uint16_t h[6];
    float back[6];
    ember_tensor tf = F1(vals, 6), th = tview(h, EMBER_BF16, 1, 6, 1, 1, 1), tb = F1(back, 6);
    OK(be->cast(be, &th, &tf, &err_));
    OK(be->cast(be, &tb, &th, &err_));
    CHECK(back[0] == 1.0f && back[1] == 1.0f && back[2] == 1.015625f, "bf16 rounding %g %g %g", back[0], back[1], back[2]);
    CHECK(isinf(back[3]) && back[3] < 0 && isnan(back[4]), "bf16 specials");
    CHECK(fabs(back[5] - 3.0e38) / 3.0e38 < 4e-3, "bf16 large value");
    for (int i = 0; i < 6; i++)
        if (!isnan(vals[i])) CHECK(back[i] == ember_bf16_round(vals[i]), "bf16 round-trip helper %d", i);
    ember_err e = {{0}};
    int32_t iv[6];
    ember_tensor ti = tview(iv, EMBER_I32, 1, 6, 1, 1, 1);
    CHECK(be->cast(be, &ti, &tf, &e) == -1 && strstr(e.msg, "not supported"), "cast f32->i32 refused");
    /* argmax and accuracy (first index on ties) */
    float lg[3 * 4] = {0, 2, 2, 1, 5, 0, 0, 0, -1, -2, -3, -0.5f};
    int32_t am[3], lab[3] = {1, 0, 2}, cnt = 5;
    ember_tensor tl = F2(lg, 3, 4), ta = tview(am, EMBER_I32, 1, 3, 1, 1, 1), tlab = tview(lab, EMBER_I32, 1, 3, 1, 1, 1),
                 tc = tview(&cnt, EMBER_I32, 1, 1, 1, 1, 1);
    OK(be->argmax(be, &ta, &tl, &err_));
    CHECK(am[0] == 1 && am[1] == 0 && am[2] == 3, "argmax %d %d %d", am[0], am[1], am[2]);
    OK(be->accuracy_count(be, &tc, &tl, &tlab, 1, &err_));
    CHECK(cnt == 7, "accuracy_count accumulates: %d", cnt);
    /* normalize_u8 */
    uint8_t px[2 * 2 * 1 * 2] = {0, 255, 128, 64, 10, 20, 30, 40};
    float nx[8], mean[2] = {0.5f, 0.25f}, sd[2] = {0.25f, 0.5f};
    ember_tensor tu = tview(px, EMBER_U8, 4, 2, 2, 1, 2), tn = tview(nx, EMBER_F32, 4, 2, 2, 1, 2);
    OK(be->normalize_u8(be, &tn, &tu, mean, sd, &err_));
    CHECK(fabs(nx[1] - (1.0 - 0.5) / 0.25) < 1e-6 && fabs(nx[3] - (64 / 255.0 - 0.25) / 0.5) < 1e-6, "normalize_u8");
    /* zero */
    ember_tensor tz = F1(x, n);
    OK(be->zero(be, &tz, &err_));
    CHECK(x[0] == 0 && x[n - 1] == 0, "zero");
    free(x);
}

int main(void) {
    be = ember_backend_cpu();
    ember_err e = {{0}};
    CHECK(ember_backend_validate(be, &e) == 0, "the CPU table is complete: %s", e.msg);
    CHECK(strcmp(be->name, "cpu") == 0 && be->device == EMBER_DEV_CPU, "names");
    CHECK(sizeof(ember_step_scalars) == 32, "step scalars are 32 bytes");
    test_matmul();
    test_bias_grad_gelu_add();
    test_layernorm();
    test_attention();
    test_tokens();
    test_patch_conv();
    test_ce();
    test_dropout();
    test_adamw();
    test_misc();
    printf("CPU backend: %s\n", be->describe(be));
    return t_finish("test_cpu_ops");
}
