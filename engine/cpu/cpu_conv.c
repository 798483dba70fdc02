/* cpu_conv.c — the CPU backend's inference ops for CLIPSeg's decoder and
 * CLIP's towers: activations (ReLU, quick_gelu), 3x3 convolution columns on
 * channels-last images, the scatter of a non-overlapping transposed
 * convolution, and FiLM (per-sample scale and shift). Each runs in chunks
 * with cancellation checks between them (cpu_chunk_next). */
#include <math.h>

#include "cpu/cpu_internal.h"

#define PAR_IF(n) if ((n) > 16384)

int cpu_act_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, int act,
                ember_err *err) {
    (void)be;
    const char *op = "act_fwd";
    int64_t n = ember_tensor_numel(x);
    if (cpu_need_f32(x, op, "x", -1, err) || cpu_need_f32(out, op, "out", n, err)) return -1;
    const float *X = x->data;
    float *O = out->data;
    if (act != EMBER_ACT_RELU && act != EMBER_ACT_QUICK_GELU)
        return ember_err_set(err, "%s: unknown activation %d (use EMBER_ACT_RELU or EMBER_ACT_QUICK_GELU)", op, act);
    for (int64_t c0 = 0, c1; c0 < n; c0 = c1) {
        if (cpu_chunk_next(c0, n, CPU_COST_MATH, &c1, err)) return -1;
        if (act == EMBER_ACT_RELU) {
#pragma omp parallel for schedule(static) PAR_IF(n)
            for (int64_t i = c0; i < c1; i++) O[i] = X[i] > 0.0f ? X[i] : 0.0f;
        } else {
            /* x / (1 + exp(-1.702 x)): torch's x * sigmoid(1.702 x) in f32. */
#pragma omp parallel for schedule(static) PAR_IF(n)
            for (int64_t i = c0; i < c1; i++) O[i] = X[i] / (1.0f + expf(-1.702f * X[i]));
        }
    }
    return 0;
}

int cpu_conv3x3_cols(const ember_backend *be, ember_tensor *cols, const ember_tensor *x,
                     ember_err *err) {
    (void)be;
    const char *op = "conv3x3_cols";
    if (cpu_need_f32(x, op, "x", -1, err)) return -1;
    if (x->ndim != 4) return ember_err_set(err, "%s: x must be [B, H, W, C], got %d dims", op, x->ndim);
    int64_t B = x->shape[0], H = x->shape[1], W = x->shape[2], C = x->shape[3];
    if (cpu_need_f32(cols, op, "cols", B * H * W * 9 * C, err)) return -1;
    const float *X = x->data;
    float *O = cols->data;
    for (int64_t q0 = 0, q1; q0 < B * H; q0 = q1) {
        if (cpu_chunk_next(q0, B * H, (double)W * 9 * C * CPU_COST_STREAM, &q1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(B * H * W * 9 * C)
        for (int64_t by = q0; by < q1; by++) {
            int64_t b = by / H, y = by % H;
            for (int64_t xx = 0; xx < W; xx++) {
                float *row = O + ((b * H + y) * W + xx) * 9 * C;
                for (int ky = 0; ky < 3; ky++) {
                    int64_t sy = y + ky - 1;
                    for (int kx = 0; kx < 3; kx++) {
                        int64_t sx = xx + kx - 1;
                        float *dst = row + (ky * 3 + kx) * C;
                        if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
                            memset(dst, 0, (size_t)C * sizeof(float));
                        } else {
                            memcpy(dst, X + ((b * H + sy) * W + sx) * C, (size_t)C * sizeof(float));
                        }
                    }
                }
            }
        }
    }
    return 0;
}

int cpu_deconv_scatter(const ember_backend *be, ember_tensor *out, const ember_tensor *cols,
                       const ember_tensor *bias, int s, ember_err *err) {
    (void)be;
    const char *op = "deconv_scatter";
    if (cpu_need_f32(cols, op, "cols", -1, err)) return -1;
    if (cols->ndim != 4) return ember_err_set(err, "%s: cols must be [B, H, W, Cout*s*s], got %d dims", op, cols->ndim);
    if (s < 1) return ember_err_set(err, "%s: stride %d must be at least 1", op, s);
    int64_t B = cols->shape[0], H = cols->shape[1], W = cols->shape[2], K = cols->shape[3];
    int64_t ss = (int64_t)s * s;
    if (K % ss) return ember_err_set(err, "%s: cols' last dim %lld is not Cout*%d*%d", op, (long long)K, s, s);
    int64_t Co = K / ss;
    if (cpu_need_f32(out, op, "out", B * H * W * K, err)) return -1;
    if (bias && cpu_need_f32(bias, op, "bias", Co, err)) return -1;
    const float *X = cols->data, *bb = bias ? bias->data : NULL;
    float *O = out->data;
    int64_t OW = W * s;
    for (int64_t q0 = 0, q1; q0 < B * H; q0 = q1) {
        if (cpu_chunk_next(q0, B * H, (double)W * K * CPU_COST_STREAM, &q1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(B * H * W * K)
        for (int64_t by = q0; by < q1; by++) {
            int64_t b = by / H, y = by % H;
            for (int64_t xx = 0; xx < W; xx++) {
                const float *src = X + ((b * H + y) * W + xx) * K;
                for (int i = 0; i < s; i++)
                    for (int j = 0; j < s; j++) {
                        float *dst = O + ((b * H * s + y * s + i) * OW + xx * s + j) * Co;
                        for (int64_t co = 0; co < Co; co++)
                            dst[co] = src[(co * s + i) * s + j] + (bb ? bb[co] : 0.0f);
                    }
            }
        }
    }
    return 0;
}

int cpu_film_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                 const ember_tensor *scale, const ember_tensor *shift, ember_err *err) {
    (void)be;
    const char *op = "film_fwd";
    if (cpu_need_f32(out, op, "out", -1, err) || cpu_need_f32(x, op, "x", -1, err)) return -1;
    if (out->ndim != 3) return ember_err_set(err, "%s: out must be [B, T, C], got %d dims", op, out->ndim);
    int64_t B = out->shape[0], T = out->shape[1], C = out->shape[2];
    if (x->ndim != 3 || x->shape[1] != T || x->shape[2] != C || (x->shape[0] != B && x->shape[0] != 1))
        return ember_err_set(err, "%s: x must be [%lld, %lld, %lld] or [1, %lld, %lld]", op, (long long)B,
                             (long long)T, (long long)C, (long long)T, (long long)C);
    if (cpu_need_f32(scale, op, "scale", B * C, err) || cpu_need_f32(shift, op, "shift", B * C, err))
        return -1;
    if (x->shape[0] != B && x->data == out->data)
        return ember_err_set(err, "%s: out may alias x only when their shapes are equal", op);
    int64_t xstride = x->shape[0] == B ? T * C : 0;
    const float *X = x->data, *S = scale->data, *A = shift->data;
    float *O = out->data;
    for (int64_t q0 = 0, q1; q0 < B * T; q0 = q1) {
        if (cpu_chunk_next(q0, B * T, (double)C * CPU_COST_STREAM, &q1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(B * T * C)
        for (int64_t bt = q0; bt < q1; bt++) {
            int64_t b = bt / T, t = bt % T;
            const float *xr = X + b * xstride + t * C;
            float *orow = O + bt * C;
            for (int64_t c = 0; c < C; c++) orow[c] = S[b * C + c] * xr[c] + A[b * C + c];
        }
    }
    return 0;
}
