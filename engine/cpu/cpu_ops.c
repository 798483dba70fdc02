/* cpu_ops.c — the CPU backend's elementwise, normalisation, token and
 * conversion ops (f32; reductions accumulate in double so that this backend
 * can serve as the reference for the CUDA one). The ops a training step
 * runs over whole activations go in chunks with cancellation checks between
 * them (cpu_chunk_next); sums keep their order across chunks. */
#include <math.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/bf16.h"
#include "core/philox.h"
#include "cpu/cpu_internal.h"

#define PAR_IF(n) if ((n) > 16384)

/* erff/expf are accurate to about 1 ulp: enough, and several times faster
 * than the double versions on the MLP's large activations. */
float cpu_gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f)); }

float cpu_gelu_grad(float x) {
    float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752440f));
    float pdf = expf(-0.5f * x * x) * 0.39894228040143267794f;
    return cdf + x * pdf;
}

int cpu_gelu_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, ember_err *err) {
    (void)be;
    int64_t n = ember_tensor_numel(x);
    if (cpu_need_f32(x, "gelu_fwd", "x", -1, err) || cpu_need_f32(out, "gelu_fwd", "out", n, err))
        return -1;
    const float *X = x->data;
    float *O = out->data;
    for (int64_t c0 = 0, c1; c0 < n; c0 = c1) {
        if (cpu_chunk_next(c0, n, CPU_COST_MATH, &c1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = c0; i < c1; i++) O[i] = cpu_gelu(X[i]);
    }
    return 0;
}

int cpu_gelu_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy,
                 const ember_tensor *x, int accumulate, ember_err *err) {
    (void)be;
    int64_t n = ember_tensor_numel(x);
    if (cpu_need_f32(x, "gelu_bwd", "x", -1, err) || cpu_need_f32(dy, "gelu_bwd", "dy", n, err) ||
        cpu_need_f32(dx, "gelu_bwd", "dx", n, err))
        return -1;
    const float *X = x->data, *DY = dy->data;
    float *DX = dx->data;
    for (int64_t c0 = 0, c1; c0 < n; c0 = c1) {
        if (cpu_chunk_next(c0, n, CPU_COST_MATH, &c1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = c0; i < c1; i++) {
            float g = DY[i] * cpu_gelu_grad(X[i]);
            DX[i] = accumulate ? DX[i] + g : g;
        }
    }
    return 0;
}

int cpu_add(const ember_backend *be, ember_tensor *out, const ember_tensor *a, const ember_tensor *b,
            ember_err *err) {
    (void)be;
    int64_t n = ember_tensor_numel(a);
    if (cpu_need_f32(a, "add", "a", -1, err) || cpu_need_f32(b, "add", "b", n, err) ||
        cpu_need_f32(out, "add", "out", n, err))
        return -1;
    const float *A = a->data, *B = b->data;
    float *O = out->data;
    for (int64_t c0 = 0, c1; c0 < n; c0 = c1) {
        if (cpu_chunk_next(c0, n, CPU_COST_STREAM, &c1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = c0; i < c1; i++) O[i] = A[i] + B[i];
    }
    return 0;
}

/* Philox4x32-10 of PHILOX_LANES consecutive counters c0, c0 + 1, ... at once
 * (word j of counter c0 + g in r[j][g]): the same numbers as
 * ember_philox4x32_10 (test_cpu_ops compares them), four counters per SSE2
 * register where there is SSE2 (gcc does not vectorise the 32 x 32 -> 64
 * bit products itself), else a plain loop. */
enum { PHILOX_LANES = 16 };
#ifdef __SSE2__
/* hi and lo 32 bits of x * m in each of the four lanes (m is the same
 * constant in every lane). */
static inline void mulhilo4(__m128i x, __m128i m, __m128i *hi, __m128i *lo) {
    const __m128i low = _mm_set_epi32(0, -1, 0, -1);
    __m128i even = _mm_mul_epu32(x, m);                        /* lanes 0, 2 */
    __m128i odd = _mm_mul_epu32(_mm_srli_epi64(x, 32), m);     /* lanes 1, 3 */
    *lo = _mm_or_si128(_mm_and_si128(even, low), _mm_slli_epi64(odd, 32));
    *hi = _mm_or_si128(_mm_srli_epi64(even, 32), _mm_andnot_si128(low, odd));
}

static void philox_lanes(uint32_t r[4][PHILOX_LANES], uint64_t c0, uint64_t seed) {
    const __m128i m0 = _mm_set1_epi32((int)EMBER_PHILOX_M0), m1 = _mm_set1_epi32((int)EMBER_PHILOX_M1);
    for (int g = 0; g < PHILOX_LANES; g += 4) {
        uint32_t lo[4], hi[4];
        for (int l = 0; l < 4; l++) {
            uint64_t c = c0 + (uint64_t)(g + l);
            lo[l] = (uint32_t)c;
            hi[l] = (uint32_t)(c >> 32);
        }
        __m128i x0 = _mm_loadu_si128((const __m128i *)lo), x1 = _mm_loadu_si128((const __m128i *)hi);
        __m128i x2 = _mm_setzero_si128(), x3 = _mm_setzero_si128();
        uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
        for (int round = 0; round < 10; round++) {
            __m128i hi0, lo0, hi1, lo1;
            mulhilo4(x0, m0, &hi0, &lo0);
            mulhilo4(x2, m1, &hi1, &lo1);
            x0 = _mm_xor_si128(_mm_xor_si128(hi1, x1), _mm_set1_epi32((int)k0));
            x1 = lo1;
            x2 = _mm_xor_si128(_mm_xor_si128(hi0, x3), _mm_set1_epi32((int)k1));
            x3 = lo0;
            k0 += EMBER_PHILOX_W0;
            k1 += EMBER_PHILOX_W1;
        }
        _mm_storeu_si128((__m128i *)&r[0][g], x0);
        _mm_storeu_si128((__m128i *)&r[1][g], x1);
        _mm_storeu_si128((__m128i *)&r[2][g], x2);
        _mm_storeu_si128((__m128i *)&r[3][g], x3);
    }
}
#else
static void philox_lanes(uint32_t r[4][PHILOX_LANES], uint64_t c0, uint64_t seed) {
    for (int g = 0; g < PHILOX_LANES; g++) {
        uint64_t c = c0 + (uint64_t)g;
        ember_philox4 ctr = {{(uint32_t)c, (uint32_t)(c >> 32), 0u, 0u}};
        ember_philox4 o = ember_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
        for (int j = 0; j < 4; j++) r[j][g] = o.v[j];
    }
}
#endif

/* Shared by forward and backward: out (+)= in * keep / (1 - p). */
static int dropout_apply(const char *op, ember_tensor *out, const ember_tensor *in, float p,
                         uint64_t seed, uint64_t offset, const ember_tensor *step, int accumulate,
                         ember_err *err) {
    int64_t n = ember_tensor_numel(in);
    if (cpu_need_f32(in, op, "input", -1, err) || cpu_need_f32(out, op, "output", n, err))
        return -1;
    if (!(p >= 0.0f && p < 1.0f))
        return ember_err_set(err, "%s: the drop probability must be in [0, 1), got %g", op, (double)p);
    ember_step_scalars s;
    if (cpu_read_step(step, op, &s, err)) return -1;
    const float *X = in->data;
    float *O = out->data;
    if (p == 0.0f) {
        for (int64_t c0 = 0, c1; c0 < n; c0 = c1) {
            if (cpu_chunk_next(c0, n, CPU_COST_STREAM, &c1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(n)
            for (int64_t i = c0; i < c1; i++) O[i] = accumulate ? O[i] + X[i] : X[i];
        }
        return 0;
    }
    uint64_t base = s.rng_offset + offset;
    uint32_t thr = ember_dropout_threshold(p);
    float scale = 1.0f / (1.0f - p);
    int64_t blocks = (n + 4 * PHILOX_LANES - 1) / (4 * PHILOX_LANES);
    for (int64_t c0 = 0, c1; c0 < blocks; c0 = c1) {
        if (cpu_chunk_next(c0, blocks, 4 * PHILOX_LANES * CPU_COST_MATH, &c1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t bi = c0; bi < c1; bi++) {
            uint32_t r[4][PHILOX_LANES];
            philox_lanes(r, base + (uint64_t)(bi * PHILOX_LANES), seed);
            int64_t i0 = bi * 4 * PHILOX_LANES;
            int64_t cnt = n - i0 < 4 * PHILOX_LANES ? n - i0 : 4 * PHILOX_LANES;
            const float *x = X + i0; /* may be out itself (in place) */
            float *o = O + i0;
            /* Element 4g + j of the block takes word j of group g, as
             * ember_philox_draw numbers them. */
            uint32_t keep[4 * PHILOX_LANES];
            for (int g = 0; g < PHILOX_LANES; g++)
                for (int j = 0; j < 4; j++) keep[4 * g + j] = r[j][g] >= thr;
            if (accumulate)
                for (int64_t i = 0; i < cnt; i++) {
                    float v = x[i] * scale;
                    o[i] += keep[i] ? v : 0.0f;
                }
            else
                for (int64_t i = 0; i < cnt; i++) {
                    float v = x[i] * scale;
                    o[i] = keep[i] ? v : 0.0f;
                }
        }
    }
    return 0;
}

int cpu_dropout_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x, float p,
                    uint64_t seed, uint64_t offset, const ember_tensor *step, ember_err *err) {
    (void)be;
    return dropout_apply("dropout_fwd", out, x, p, seed, offset, step, 0, err);
}

int cpu_dropout_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy, float p,
                    uint64_t seed, uint64_t offset, const ember_tensor *step, int accumulate,
                    ember_err *err) {
    (void)be;
    return dropout_apply("dropout_bwd", dx, dy, p, seed, offset, step, accumulate, err);
}

int cpu_layernorm_fwd(const ember_backend *be, ember_tensor *out, ember_tensor *mean,
                      ember_tensor *rstd, const ember_tensor *x, const ember_tensor *gamma,
                      const ember_tensor *beta, float eps, ember_err *err) {
    (void)be;
    const char *op = "layernorm_fwd";
    if (cpu_need_f32(gamma, op, "gamma", -1, err)) return -1;
    int64_t C = ember_tensor_numel(gamma);
    int64_t n = ember_tensor_numel(x);
    if (cpu_need_f32(x, op, "x", -1, err) || cpu_need_f32(beta, op, "beta", C, err) ||
        cpu_need_f32(out, op, "out", n, err))
        return -1;
    if (C == 0 || n % C) return ember_err_set(err, "%s: x (%lld elements) is not rows of %lld", op, (long long)n, (long long)C);
    int64_t R = n / C;
    if (cpu_need_f32(mean, op, "mean", R, err) || cpu_need_f32(rstd, op, "rstd", R, err)) return -1;
    const float *X = x->data, *G = gamma->data, *B = beta->data;
    float *O = out->data, *M = mean->data, *S = rstd->data;
    for (int64_t r0 = 0, r1; r0 < R; r0 = r1) {
        if (cpu_chunk_next(r0, R, (double)C * 2 * CPU_COST_STREAM, &r1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t r = r0; r < r1; r++) {
            const float *xr = X + r * C;
            double sum = 0.0;
            for (int64_t c = 0; c < C; c++) sum += xr[c];
            double mu = sum / (double)C, var = 0.0;
            for (int64_t c = 0; c < C; c++) var += (xr[c] - mu) * (xr[c] - mu);
            var /= (double)C;
            double rs = 1.0 / sqrt(var + (double)eps);
            float *orow = O + r * C;
            for (int64_t c = 0; c < C; c++) orow[c] = (float)((xr[c] - mu) * rs * G[c] + B[c]);
            M[r] = (float)mu;
            S[r] = (float)rs;
        }
    }
    return 0;
}

int cpu_layernorm_bwd(const ember_backend *be, ember_tensor *dx, ember_tensor *dgamma,
                      ember_tensor *dbeta, const ember_tensor *dy, const ember_tensor *x,
                      const ember_tensor *mean, const ember_tensor *rstd,
                      const ember_tensor *gamma, int accumulate_dx, ember_err *err) {
    (void)be;
    const char *op = "layernorm_bwd";
    if (cpu_need_f32(gamma, op, "gamma", -1, err)) return -1;
    int64_t C = ember_tensor_numel(gamma), n = ember_tensor_numel(x);
    if (cpu_need_f32(x, op, "x", -1, err)) return -1;
    if (C == 0 || n % C) return ember_err_set(err, "%s: x is not rows of %lld", op, (long long)C);
    int64_t R = n / C;
    if (cpu_need_f32(dy, op, "dy", n, err) || cpu_need_f32(dx, op, "dx", n, err) ||
        cpu_need_f32(dgamma, op, "dgamma", C, err) || cpu_need_f32(dbeta, op, "dbeta", C, err) ||
        cpu_need_f32(mean, op, "mean", R, err) || cpu_need_f32(rstd, op, "rstd", R, err))
        return -1;
    const float *X = x->data, *DY = dy->data, *M = mean->data, *S = rstd->data, *G = gamma->data;
    float *DX = dx->data, *DG = dgamma->data, *DB = dbeta->data;
    /* dgamma and dbeta sum over every row in row order, in double; the
     * sums run on across the row chunks. */
    double *acc = calloc((size_t)(2 * C), sizeof *acc);
    if (!acc) return ember_err_set(err, "%s: out of memory", op);
    double *AG = acc, *AB = acc + C;
    int64_t nblk = (C + 63) / 64;
    for (int64_t r0 = 0, r1; r0 < R; r0 = r1) {
        if (cpu_chunk_next(r0, R, (double)C * 4 * CPU_COST_STREAM, &r1, err)) {
            free(acc);
            return -1;
        }
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t r = r0; r < r1; r++) {
            const float *xr = X + r * C, *dyr = DY + r * C;
            double mu = M[r], rs = S[r], s1 = 0.0, s2 = 0.0;
            for (int64_t c = 0; c < C; c++) {
                double g = (double)dyr[c] * G[c];
                s1 += g;
                s2 += g * (xr[c] - mu) * rs;
            }
            s1 /= (double)C;
            s2 /= (double)C;
            float *dxr = DX + r * C;
            for (int64_t c = 0; c < C; c++) {
                double xhat = (xr[c] - mu) * rs;
                double v = rs * ((double)dyr[c] * G[c] - s1 - xhat * s2);
                dxr[c] = accumulate_dx ? (float)(dxr[c] + v) : (float)v;
            }
        }
#pragma omp parallel for schedule(static)
        for (int64_t blk = 0; blk < nblk; blk++) {
            int64_t c0 = blk * 64, w = C - c0 < 64 ? C - c0 : 64;
            double *ag = AG + c0, *ab = AB + c0;
            for (int64_t r = r0; r < r1; r++) {
                const float *xr = X + r * C + c0, *dyr = DY + r * C + c0;
                double mu = M[r], rs = S[r];
                for (int64_t j = 0; j < w; j++) {
                    ag[j] += (double)dyr[j] * ((xr[j] - mu) * rs);
                    ab[j] += dyr[j];
                }
            }
        }
    }
    for (int64_t c = 0; c < C; c++) {
        DG[c] = (float)(DG[c] + AG[c]);
        DB[c] = (float)(DB[c] + AB[c]);
    }
    free(acc);
    return 0;
}

/* [B, T, C] from x's shape: the last dim is C, the one before T, the rest B. */
static int btc(const ember_tensor *x, int64_t *B, int64_t *T, int64_t *C, const char *op,
               ember_err *err) {
    if (x->ndim < 3) return ember_err_set(err, "%s: expected a [B, T, C] tensor, got %d dims", op, x->ndim);
    *C = x->shape[x->ndim - 1];
    *T = x->shape[x->ndim - 2];
    int64_t tc = (*C) * (*T);
    *B = tc ? ember_tensor_numel(x) / tc : 0;
    return 0;
}

int cpu_mean_tokens_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                        ember_err *err) {
    (void)be;
    int64_t B = 0, T = 0, C = 0;
    if (cpu_need_f32(x, "mean_tokens_fwd", "x", -1, err) || btc(x, &B, &T, &C, "mean_tokens_fwd", err) ||
        cpu_need_f32(out, "mean_tokens_fwd", "out", B * C, err))
        return -1;
    const float *X = x->data;
    float *O = out->data;
    for (int64_t b0 = 0, b1; b0 < B; b0 = b1) {
        if (cpu_chunk_next(b0, B, (double)T * C * CPU_COST_STREAM, &b1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(B * T * C)
        for (int64_t b = b0; b < b1; b++)
            for (int64_t c = 0; c < C; c++) {
                double s = 0.0;
                for (int64_t t = 0; t < T; t++) s += X[(b * T + t) * C + c];
                O[b * C + c] = (float)(s / (double)T);
            }
    }
    return 0;
}

int cpu_mean_tokens_bwd(const ember_backend *be, ember_tensor *dx, const ember_tensor *dy,
                        ember_err *err) {
    (void)be;
    int64_t B = 0, T = 0, C = 0;
    if (cpu_need_f32(dx, "mean_tokens_bwd", "dx", -1, err) || btc(dx, &B, &T, &C, "mean_tokens_bwd", err) ||
        cpu_need_f32(dy, "mean_tokens_bwd", "dy", B * C, err))
        return -1;
    const float *DY = dy->data;
    float *DX = dx->data;
    float inv = 1.0f / (float)T;
    for (int64_t r0 = 0, r1; r0 < B * T; r0 = r1) {
        if (cpu_chunk_next(r0, B * T, (double)C * CPU_COST_STREAM, &r1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(B * T * C)
        for (int64_t bt = r0; bt < r1; bt++) {
            int64_t b = bt / T;
            for (int64_t c = 0; c < C; c++) DX[bt * C + c] = DY[b * C + c] * inv;
        }
    }
    return 0;
}

/* Checks img [B, Cin, H, W] against cols [B, (H/p)(W/p), Cin p p]. */
static int im2col_dims(const char *op, const ember_tensor *img, const ember_tensor *cols, int p,
                       int64_t d[4], ember_err *err) {
    if (cpu_need_f32(img, op, "image", -1, err) || cpu_need_f32(cols, op, "cols", -1, err)) return -1;
    if (img->ndim != 4) return ember_err_set(err, "%s: the image must be [B, C, H, W], got %d dims", op, img->ndim);
    if (p < 1) return ember_err_set(err, "%s: patch size must be >= 1, got %d", op, p);
    for (int i = 0; i < 4; i++) d[i] = img->shape[i];
    if (d[2] % p || d[3] % p)
        return ember_err_set(err, "%s: image %lldx%lld is not a multiple of the patch size %d", op,
                             (long long)d[2], (long long)d[3], p);
    int64_t need = d[0] * (d[2] / p) * (d[3] / p) * d[1] * p * p;
    if (ember_tensor_numel(cols) != need)
        return ember_err_set(err, "%s: cols has %lld elements, expected %lld", op,
                             (long long)ember_tensor_numel(cols), (long long)need);
    return 0;
}

int cpu_im2col_fwd(const ember_backend *be, ember_tensor *cols, const ember_tensor *img, int p,
                   ember_err *err) {
    (void)be;
    int64_t d[4];
    if (im2col_dims("im2col_fwd", img, cols, p, d, err)) return -1;
    int64_t B = d[0], Ci = d[1], H = d[2], W = d[3], gh = H / p, gw = W / p, K = Ci * p * p;
    const float *I = img->data;
    float *O = cols->data;
    for (int64_t q0 = 0, q1; q0 < B * gh * gw; q0 = q1) {
        if (cpu_chunk_next(q0, B * gh * gw, (double)K * CPU_COST_STREAM, &q1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(B * Ci * H * W)
        for (int64_t bp = q0; bp < q1; bp++) {
            int64_t b = bp / (gh * gw), py = (bp / gw) % gh, px = bp % gw;
            float *row = O + bp * K;
            for (int64_t ci = 0; ci < Ci; ci++)
                for (int ky = 0; ky < p; ky++)
                    for (int kx = 0; kx < p; kx++)
                        row[(ci * p + ky) * p + kx] = I[((b * Ci + ci) * H + py * p + ky) * W + px * p + kx];
        }
    }
    return 0;
}

int cpu_im2col_bwd(const ember_backend *be, ember_tensor *dimg, const ember_tensor *dcols, int p,
                   int accumulate, ember_err *err) {
    (void)be;
    int64_t d[4];
    if (im2col_dims("im2col_bwd", dimg, dcols, p, d, err)) return -1;
    int64_t B = d[0], Ci = d[1], H = d[2], W = d[3], gh = H / p, gw = W / p, K = Ci * p * p;
    const float *G = dcols->data;
    float *D = dimg->data;
    /* Patches do not overlap, so the adjoint is a pure scatter. */
    for (int64_t q0 = 0, q1; q0 < B * gh * gw; q0 = q1) {
        if (cpu_chunk_next(q0, B * gh * gw, (double)K * CPU_COST_STREAM, &q1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(B * Ci * H * W)
        for (int64_t bp = q0; bp < q1; bp++) {
            int64_t b = bp / (gh * gw), py = (bp / gw) % gh, px = bp % gw;
            const float *row = G + bp * K;
            for (int64_t ci = 0; ci < Ci; ci++)
                for (int ky = 0; ky < p; ky++)
                    for (int kx = 0; kx < p; kx++) {
                        float *dst = &D[((b * Ci + ci) * H + py * p + ky) * W + px * p + kx];
                        float v = row[(ci * p + ky) * p + kx];
                        *dst = accumulate ? *dst + v : v;
                    }
        }
    }
    return 0;
}

int cpu_pos_embed_fwd(const ember_backend *be, ember_tensor *out, const ember_tensor *x,
                      const ember_tensor *pos, ember_err *err) {
    (void)be;
    const char *op = "pos_embed_fwd";
    int64_t n = ember_tensor_numel(x);
    if (cpu_need_f32(x, op, "x", -1, err) || cpu_need_f32(pos, op, "pos", -1, err) ||
        cpu_need_f32(out, op, "out", n, err))
        return -1;
    int64_t tc = ember_tensor_numel(pos);
    if (tc == 0 || n % tc) return ember_err_set(err, "%s: x (%lld elements) is not a batch of pos (%lld)", op, (long long)n, (long long)tc);
    const float *X = x->data, *P = pos->data;
    float *O = out->data;
    for (int64_t c0 = 0, c1; c0 < n; c0 = c1) {
        if (cpu_chunk_next(c0, n, CPU_COST_STREAM, &c1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = c0; i < c1; i++) O[i] = X[i] + P[i % tc];
    }
    return 0;
}

int cpu_pos_embed_bwd(const ember_backend *be, ember_tensor *dpos, const ember_tensor *dy,
                      int accumulate, ember_err *err) {
    (void)be;
    const char *op = "pos_embed_bwd";
    if (cpu_need_f32(dy, op, "dy", -1, err) || cpu_need_f32(dpos, op, "dpos", -1, err)) return -1;
    int64_t n = ember_tensor_numel(dy), tc = ember_tensor_numel(dpos);
    if (tc == 0 || n % tc) return ember_err_set(err, "%s: dy is not a batch of dpos", op);
    int64_t B = n / tc;
    const float *DY = dy->data;
    float *DP = dpos->data;
    /* Chunks of columns: each sum still runs over every b in order. */
    for (int64_t c0 = 0, c1; c0 < tc; c0 = c1) {
        if (cpu_chunk_next(c0, tc, (double)B * CPU_COST_STREAM, &c1, err)) return -1;
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = c0; i < c1; i++) {
            double s = 0.0;
            for (int64_t b = 0; b < B; b++) s += DY[b * tc + i];
            DP[i] = accumulate ? (float)(DP[i] + s) : (float)s;
        }
    }
    return 0;
}

int cpu_zero(const ember_backend *be, ember_tensor *t, ember_err *err) {
    (void)be;
    if (!t || t->device != EMBER_DEV_CPU) return ember_err_set(err, "zero: expected a CPU tensor");
    size_t nb = ember_tensor_nbytes(t);
    if (nb && !t->data) return ember_err_set(err, "zero: tensor has no data");
    if (nb) memset(t->data, 0, nb);
    return 0;
}

int cpu_l2_norm(const ember_backend *be, ember_tensor *out, const ember_tensor *x, ember_err *err) {
    (void)be;
    if (cpu_need_f32(x, "l2_norm", "x", -1, err) || cpu_need_f32(out, "l2_norm", "out", 1, err)) return -1;
    int64_t n = ember_tensor_numel(x);
    const float *X = x->data;
    double s = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : s) PAR_IF(n)
    for (int64_t i = 0; i < n; i++) s += (double)X[i] * X[i];
    *(float *)out->data = (float)sqrt(s);
    return 0;
}

int cpu_cast(const ember_backend *be, ember_tensor *out, const ember_tensor *in, ember_err *err) {
    (void)be;
    if (!in || !out) return ember_err_set(err, "cast: missing tensor");
    int64_t n = ember_tensor_numel(in);
    if (cpu_need(in, "cast", "in", in->dtype, -1, err) || cpu_need(out, "cast", "out", out->dtype, n, err))
        return -1;
    if (in->dtype == out->dtype) {
        if (n) memmove(out->data, in->data, ember_tensor_nbytes(in));
        return 0;
    }
    if (in->dtype == EMBER_F32 && out->dtype == EMBER_BF16) {
        const float *I = in->data;
        uint16_t *O = out->data;
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = 0; i < n; i++) O[i] = ember_f32_to_bf16(I[i]);
        return 0;
    }
    if (in->dtype == EMBER_BF16 && out->dtype == EMBER_F32) {
        const uint16_t *I = in->data;
        float *O = out->data;
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = 0; i < n; i++) O[i] = ember_bf16_to_f32(I[i]);
        return 0;
    }
    return ember_err_set(err, "cast: %s to %s is not supported (only f32 <-> bf16)",
                         ember_dtype_name(in->dtype), ember_dtype_name(out->dtype));
}

/* Rows of logits [B, K]: K is the last dim. */
static int rows_k(const ember_tensor *logits, int64_t *B, int64_t *K, const char *op, ember_err *err) {
    /* Defined on every path: gcc -O3 cannot see that callers stop on error. */
    *B = 0;
    *K = 0;
    if (cpu_need_f32(logits, op, "logits", -1, err)) return -1;
    if (logits->ndim < 1) return ember_err_set(err, "%s: logits must be [B, K]", op);
    *K = logits->shape[logits->ndim - 1];
    if (*K < 1) return ember_err_set(err, "%s: logits have no classes", op);
    *B = ember_tensor_numel(logits) / *K;
    return 0;
}

static int64_t row_argmax(const float *row, int64_t K) {
    int64_t best = 0;
    for (int64_t k = 1; k < K; k++)
        if (row[k] > row[best]) best = k;
    return best;
}

int cpu_argmax(const ember_backend *be, ember_tensor *out, const ember_tensor *logits, ember_err *err) {
    (void)be;
    int64_t B = 0, K = 0;
    if (rows_k(logits, &B, &K, "argmax", err) || cpu_need(out, "argmax", "out", EMBER_I32, B, err)) return -1;
    const float *L = logits->data;
    int32_t *O = out->data;
    for (int64_t b = 0; b < B; b++) O[b] = (int32_t)row_argmax(L + b * K, K);
    return 0;
}

int cpu_accuracy_count(const ember_backend *be, ember_tensor *count, const ember_tensor *logits,
                       const ember_tensor *labels, int accumulate, ember_err *err) {
    (void)be;
    int64_t B = 0, K = 0;
    if (rows_k(logits, &B, &K, "accuracy_count", err) ||
        cpu_need(labels, "accuracy_count", "labels", EMBER_I32, B, err) ||
        cpu_need(count, "accuracy_count", "count", EMBER_I32, 1, err))
        return -1;
    const float *L = logits->data;
    const int32_t *Y = labels->data;
    int32_t c = 0;
    for (int64_t b = 0; b < B; b++) c += row_argmax(L + b * K, K) == Y[b];
    int32_t *O = count->data;
    *O = accumulate ? *O + c : c;
    return 0;
}

int cpu_normalize_u8(const ember_backend *be, ember_tensor *out, const ember_tensor *in,
                     const float *mean, const float *std, ember_err *err) {
    (void)be;
    if (cpu_need(in, "normalize_u8", "in", EMBER_U8, -1, err)) return -1;
    int64_t n = ember_tensor_numel(in);
    if (cpu_need_f32(out, "normalize_u8", "out", n, err)) return -1;
    if (in->ndim != 4) return ember_err_set(err, "normalize_u8: expected [B, C, H, W] images");
    if (!mean || !std) return ember_err_set(err, "normalize_u8: mean and std are required");
    int64_t C = in->shape[1], hw = in->shape[2] * in->shape[3];
    for (int64_t c = 0; c < C; c++)
        if (!(std[c] > 0.0f)) return ember_err_set(err, "normalize_u8: std[%lld] must be > 0", (long long)c);
    const uint8_t *I = in->data;
    float *O = out->data;
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (i / hw) % C;
        O[i] = ((float)I[i] / 255.0f - mean[c]) / std[c];
    }
    return 0;
}
