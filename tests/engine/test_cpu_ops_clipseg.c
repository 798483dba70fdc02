/* test_cpu_ops_clipseg.c — the CPU backend's CLIPSeg inference ops (act_fwd,
 * conv3x3_cols, deconv_scatter, film_fwd; engine/cpu/cpu_conv.c) against
 * float64 references: a direct 3x3 convolution and a direct transposed
 * convolution (through the ops plus matmul, as the model uses them), the
 * activations, FiLM with and without broadcast, and their argument errors. */
#include "core/backend.h"
#include "test_util.h"

static const ember_backend *be;

static ember_tensor view(float *p, int ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
    ember_tensor t;
    int64_t s[4] = {a, b, c, d};
    ember_err err;
    if (ember_tensor_view(&t, p, EMBER_F32, EMBER_DEV_CPU, ndim, s, &err)) {
        fprintf(stderr, "view: %s\n", err.msg);
        memset(&t, 0, sizeof t);
    }
    return t;
}

static void test_act(void) {
    enum { N = 1000 };
    float x[N], y[N];
    double ref[N];
    t_fill(x, N, 3.0);
    x[0] = 0.0f;
    x[1] = -0.0f;
    x[2] = 40.0f;
    x[3] = -40.0f;
    ember_tensor tx = view(x, 1, N, 0, 0, 0), ty = view(y, 1, N, 0, 0, 0);
    OK(be->act_fwd(be, &ty, &tx, EMBER_ACT_QUICK_GELU, &err_));
    for (int i = 0; i < N; i++) ref[i] = x[i] / (1.0 + exp(-1.702 * x[i]));
    double e = t_relerr_fd(y, ref, N);
    CHECK(e < 1e-6, "quick_gelu rel err %g", e);
    OK(be->act_fwd(be, &ty, &tx, EMBER_ACT_RELU, &err_));
    for (int i = 0; i < N; i++) ref[i] = x[i] > 0 ? x[i] : 0.0;
    CHECK(t_relerr_fd(y, ref, N) == 0.0, "relu not exact");
    /* In place. */
    OK(be->act_fwd(be, &tx, &tx, EMBER_ACT_RELU, &err_));
    CHECK(t_relerr_fd(x, ref, N) == 0.0, "relu in place not exact");
    ember_err err = {{0}};
    CHECK(be->act_fwd(be, &ty, &tx, 99, &err) != 0 && strstr(err.msg, "unknown activation"), "bad act: %s", err.msg);
    ember_tensor small = view(y, 1, N - 1, 0, 0, 0);
    CHECK(be->act_fwd(be, &small, &tx, EMBER_ACT_RELU, &err) != 0, "short out accepted");
}

/* Conv2d(C, Co, 3, padding 1) on channels-last x [B, H, W, C] with weight
 * [Co, C, 3, 3]: through conv3x3_cols + matmul, against a direct loop. */
static void test_conv3x3(int B, int H, int W, int C, int Co) {
    int64_t nx = (int64_t)B * H * W * C, nw = (int64_t)Co * C * 9, ny = (int64_t)B * H * W * Co;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *wp = malloc(nw * 4), *bias = malloc(Co * 4),
          *cols = malloc(B * H * W * 9 * C * 4), *y = malloc(ny * 4);
    double *ref = malloc(ny * 8);
    t_fill(x, nx, 1.0);
    t_fill(w, nw, 0.3);
    t_fill(bias, Co, 0.5);
    for (int o = 0; o < Co; o++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < 9; k++) wp[(o * 9 + k) * C + c] = w[(o * C + c) * 9 + k];
    for (int b = 0; b < B; b++)
        for (int yy = 0; yy < H; yy++)
            for (int xx = 0; xx < W; xx++)
                for (int o = 0; o < Co; o++) {
                    double acc = bias[o];
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int sy = yy + ky - 1, sx = xx + kx - 1;
                                if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                                acc += (double)w[((o * C + c) * 3 + ky) * 3 + kx] *
                                       x[(((int64_t)b * H + sy) * W + sx) * C + c];
                            }
                    ref[(((int64_t)b * H + yy) * W + xx) * Co + o] = acc;
                }
    ember_tensor tx = view(x, 4, B, H, W, C), tc = view(cols, 3, B, H * W, 9 * C, 0),
                 tw = view(wp, 2, Co, 9 * C, 0, 0), tb = view(bias, 1, Co, 0, 0, 0),
                 ty = view(y, 2, (int64_t)B * H * W, Co, 0, 0);
    OK(be->conv3x3_cols(be, &tc, &tx, &err_));
    ember_gemm g = ember_gemm_default((int64_t)B * H * W, Co, 9 * C);
    g.trans_b = 1;
    OK(be->matmul(be, &g, &tc, &tw, &tb, &ty, NULL, &err_));
    double e = t_relerr_fd(y, ref, ny);
    CHECK(e < 1e-5, "conv3x3 %dx%dx%dx%d -> %d rel err %g", B, H, W, C, Co, e);
    ember_err err = {{0}};
    ember_tensor flat = view(x, 2, B * H * W, C, 0, 0);
    CHECK(be->conv3x3_cols(be, &tc, &flat, &err) != 0 && strstr(err.msg, "[B, H, W, C]"), "2-D x: %s", err.msg);
    ember_tensor short_cols = view(cols, 1, B * H * W * 9 * C - 1, 0, 0, 0);
    CHECK(be->conv3x3_cols(be, &short_cols, &tx, &err) != 0, "short cols accepted");
    free(x); free(w); free(wp); free(bias); free(cols); free(y); free(ref);
}

/* ConvTranspose2d(Ci, Co, s, stride s) on channels-last x [B, H, W, Ci],
 * weight [Ci, Co, s, s]: matmul + deconv_scatter against a direct loop. */
static void test_deconv(int B, int H, int W, int Ci, int Co, int s, int with_bias) {
    int64_t K = (int64_t)Co * s * s, nx = (int64_t)B * H * W * Ci, nw = Ci * K;
    int64_t OH = (int64_t)H * s, OW = (int64_t)W * s, ny = B * OH * OW * Co;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *bias = malloc(Co * 4), *cols = malloc(B * H * W * K * 4),
          *y = malloc(ny * 4);
    double *ref = malloc(ny * 8);
    t_fill(x, nx, 1.0);
    t_fill(w, nw, 0.3);
    t_fill(bias, Co, 0.5);
    for (int64_t i = 0; i < ny; i++) ref[i] = with_bias ? bias[i % Co] : 0.0;
    /* The general formula out[oy, ox] += in[iy, ix] w[ky, kx], oy = iy*s + ky. */
    for (int b = 0; b < B; b++)
        for (int iy = 0; iy < H; iy++)
            for (int ix = 0; ix < W; ix++)
                for (int ci = 0; ci < Ci; ci++)
                    for (int co = 0; co < Co; co++)
                        for (int ky = 0; ky < s; ky++)
                            for (int kx = 0; kx < s; kx++) {
                                int64_t oy = (int64_t)iy * s + ky, ox = (int64_t)ix * s + kx;
                                ref[(((int64_t)b * OH + oy) * OW + ox) * Co + co] +=
                                    (double)x[(((int64_t)b * H + iy) * W + ix) * Ci + ci] *
                                    w[((ci * Co + co) * s + ky) * s + kx];
                            }
    ember_tensor tx = view(x, 2, (int64_t)B * H * W, Ci, 0, 0), tw = view(w, 2, Ci, K, 0, 0),
                 tc = view(cols, 4, B, H, W, K), tb = view(bias, 1, Co, 0, 0, 0),
                 ty = view(y, 4, B, OH, OW, Co);
    ember_gemm g = ember_gemm_default((int64_t)B * H * W, K, Ci);
    OK(be->matmul(be, &g, &tx, &tw, NULL, &tc, NULL, &err_));
    OK(be->deconv_scatter(be, &ty, &tc, with_bias ? &tb : NULL, s, &err_));
    double e = t_relerr_fd(y, ref, ny);
    CHECK(e < 1e-5, "deconv s=%d Ci=%d Co=%d rel err %g", s, Ci, Co, e);
    ember_err err = {{0}};
    CHECK(be->deconv_scatter(be, &ty, &tc, NULL, 0, &err) != 0 && strstr(err.msg, "stride"), "s=0: %s", err.msg);
    if (s > 1) {
        CHECK(be->deconv_scatter(be, &ty, &tc, NULL, s + 1, &err) != 0, "wrong s accepted");
    }
    ember_tensor bad_bias = view(bias, 1, Co - 1, 0, 0, 0);
    if (Co > 1) CHECK(be->deconv_scatter(be, &ty, &tc, &bad_bias, s, &err) != 0, "short bias accepted");
    free(x); free(w); free(bias); free(cols); free(y); free(ref);
}

static void test_film(void) {
    enum { B = 3, T = 5, C = 7 };
    float x[B * T * C], y[B * T * C], sc[B * C], sh[B * C];
    double ref[B * T * C];
    t_fill(x, B * T * C, 1.0);
    t_fill(sc, B * C, 1.0);
    t_fill(sh, B * C, 1.0);
    ember_tensor ts = view(sc, 2, B, C, 0, 0), tsh = view(sh, 2, B, C, 0, 0), ty = view(y, 3, B, T, C, 0);
    /* Broadcast x [1, T, C]. */
    ember_tensor x1 = view(x, 3, 1, T, C, 0);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) ref[(b * T + t) * C + c] = (double)sc[b * C + c] * x[t * C + c] + sh[b * C + c];
    OK(be->film_fwd(be, &ty, &x1, &ts, &tsh, &err_));
    CHECK(t_relerr_fd(y, ref, B * T * C) < 1e-7, "film broadcast");
    /* Full x, in place. */
    ember_tensor xf = view(x, 3, B, T, C, 0);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                ref[(b * T + t) * C + c] = (double)sc[b * C + c] * x[(b * T + t) * C + c] + sh[b * C + c];
    OK(be->film_fwd(be, &xf, &xf, &ts, &tsh, &err_));
    CHECK(t_relerr_fd(x, ref, B * T * C) < 1e-7, "film in place");
    ember_err err = {{0}};
    ember_tensor x2 = view(x, 3, 2, T, C, 0);
    CHECK(be->film_fwd(be, &ty, &x2, &ts, &tsh, &err) != 0 && strstr(err.msg, "film_fwd"), "x batch 2: %s", err.msg);
    ember_tensor s2 = view(sc, 2, B - 1, C, 0, 0);
    CHECK(be->film_fwd(be, &ty, &xf, &s2, &tsh, &err) != 0, "short scale accepted");
    ember_tensor y2 = view(y, 2, B * T, C, 0, 0);
    CHECK(be->film_fwd(be, &y2, &xf, &ts, &tsh, &err) != 0, "2-D out accepted");
}

int main(void) {
    be = ember_backend_cpu();
    ember_err err = {{0}};
    CHECK(ember_backend_validate(be, &err) == 0, "validate: %s", err.msg);
    CHECK(be->act_fwd && be->conv3x3_cols && be->deconv_scatter && be->film_fwd, "CPU lacks a CLIPSeg op");
    test_act();
    test_conv3x3(1, 5, 7, 3, 4);
    test_conv3x3(2, 6, 6, 16, 16);
    test_conv3x3(1, 1, 1, 2, 3);
    test_deconv(1, 3, 4, 5, 3, 4, 1);
    test_deconv(2, 2, 2, 16, 8, 2, 0);
    test_deconv(1, 4, 4, 8, 1, 4, 1);
    test_deconv(1, 2, 3, 4, 2, 1, 1);
    test_film();
    return t_finish("test_cpu_ops_clipseg");
}
