/* cpu_attention.c — multi-head softmax attention on packed qkv, forward and
 * backward, one (batch, head) pair per task. The backward recomputes the
 * probabilities from the saved logsumexp instead of keeping T x T scores.
 *
 * Inner loops are written as axpy's over contiguous rows (K and V are first
 * transposed into per-thread scratch) so the compiler vectorises them
 * without reassociating sums; scores are f32 dot products, softmax sums and
 * logsumexp are accumulated in double. */
#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/cpu_internal.h"

typedef struct {
    int64_t B, T, C, H, D;
} att_dims;

static int att_check(const char *op, const ember_tensor *qkv, int heads, att_dims *d, ember_err *err) {
    if (cpu_need_f32(qkv, op, "qkv", -1, err)) return -1;
    if (qkv->ndim != 3) return ember_err_set(err, "%s: qkv must be [B, T, 3C], got %d dims", op, qkv->ndim);
    d->B = qkv->shape[0];
    d->T = qkv->shape[1];
    if (qkv->shape[2] % 3) return ember_err_set(err, "%s: qkv's last dim (%lld) is not 3C", op, (long long)qkv->shape[2]);
    d->C = qkv->shape[2] / 3;
    if (heads < 1 || d->C % heads)
        return ember_err_set(err, "%s: %d heads do not divide the width %lld", op, heads, (long long)d->C);
    d->H = heads;
    d->D = d->C / heads;
    return 0;
}

static int threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* dst[e * T + j] = src[j * stride + e]: a head's K or V, transposed. */
static void transpose_head(float *dst, const float *src, int64_t T, int64_t D, int64_t stride) {
    for (int64_t j = 0; j < T; j++)
        for (int64_t e = 0; e < D; e++) dst[e * T + j] = src[j * stride + e];
}

/* s[j] = q . k_j for j < nj, with kt = K^T (D x T). */
static void scores(float *s, const float *q, const float *kt, int64_t nj, int64_t T, int64_t D) {
    for (int64_t j = 0; j < nj; j++) s[j] = 0.0f;
    for (int64_t e = 0; e < D; e++) {
        const float qe = q[e], *row = kt + e * T;
        for (int64_t j = 0; j < nj; j++) s[j] += qe * row[j];
    }
}

int cpu_attention_fwd(const ember_backend *be, ember_tensor *out, ember_tensor *lse,
                      const ember_tensor *qkv, int heads, int causal, ember_err *err) {
    (void)be;
    const char *op = "attention_fwd";
    att_dims d;
    if (att_check(op, qkv, heads, &d, err) || cpu_need_f32(out, op, "out", d.B * d.T * d.C, err) ||
        cpu_need_f32(lse, op, "lse", d.B * d.H * d.T, err))
        return -1;
    const int64_t T = d.T, D = d.D, C3 = 3 * d.C;
    size_t per = (size_t)(T * D + T + D + 1);
    float *scratch = malloc(sizeof(float) * per * (size_t)threads());
    if (!scratch) return ember_err_set(err, "%s: out of memory for scratch", op);
    const float *QKV = qkv->data;
    float *O = out->data, *L = lse->data;
    const float scale = (float)(1.0 / sqrt((double)D));
#pragma omp parallel for schedule(dynamic) if (d.B * d.H > 1)
    for (int64_t bh = 0; bh < d.B * d.H; bh++) {
        int64_t b = bh / d.H, h = bh % d.H;
        float *kt = scratch + (size_t)thread_id() * per, *s = kt + T * D, *acc = s + T;
        const float *base = QKV + b * T * C3;
        transpose_head(kt, base + d.C + h * D, T, D, C3);
        for (int64_t i = 0; i < T; i++) {
            int64_t nj = causal ? i + 1 : T;
            scores(s, base + i * C3 + h * D, kt, nj, T, D);
            float mx = -INFINITY;
            for (int64_t j = 0; j < nj; j++) {
                s[j] *= scale;
                mx = s[j] > mx ? s[j] : mx;
            }
            double sum = 0.0;
            for (int64_t j = 0; j < nj; j++) {
                s[j] = expf(s[j] - mx);
                sum += s[j];
            }
            for (int64_t e = 0; e < D; e++) acc[e] = 0.0f;
            for (int64_t j = 0; j < nj; j++) {
                const float pj = s[j], *v = base + j * C3 + 2 * d.C + h * D;
                for (int64_t e = 0; e < D; e++) acc[e] += pj * v[e];
            }
            float inv = (float)(1.0 / sum), *o = O + (b * T + i) * d.C + h * D;
            for (int64_t e = 0; e < D; e++) o[e] = acc[e] * inv;
            L[(b * d.H + h) * T + i] = (float)((double)mx + log(sum));
        }
    }
    free(scratch);
    return 0;
}

int cpu_attention_bwd(const ember_backend *be, ember_tensor *dqkv, const ember_tensor *dout,
                      const ember_tensor *qkv, const ember_tensor *out, const ember_tensor *lse,
                      int heads, int causal, ember_err *err) {
    (void)be;
    const char *op = "attention_bwd";
    att_dims d;
    int64_t nqkv = ember_tensor_numel(qkv);
    if (att_check(op, qkv, heads, &d, err) || cpu_need_f32(dqkv, op, "dqkv", nqkv, err) ||
        cpu_need_f32(dout, op, "dout", d.B * d.T * d.C, err) ||
        cpu_need_f32(out, op, "out", d.B * d.T * d.C, err) ||
        cpu_need_f32(lse, op, "lse", d.B * d.H * d.T, err))
        return -1;
    const int64_t T = d.T, D = d.D, C3 = 3 * d.C;
    /* Per thread: K^T, V^T, dK, dV (T x D each), P and dS rows (T each), dQ row (D). */
    size_t per = (size_t)(4 * T * D + 2 * T + D + 1);
    float *scratch = malloc(sizeof(float) * per * (size_t)threads());
    if (!scratch) return ember_err_set(err, "%s: out of memory for scratch", op);
    const float *QKV = qkv->data, *DO = dout->data, *O = out->data, *L = lse->data;
    float *DQKV = dqkv->data;
    const float scale = (float)(1.0 / sqrt((double)D));
#pragma omp parallel for schedule(dynamic) if (d.B * d.H > 1)
    for (int64_t bh = 0; bh < d.B * d.H; bh++) {
        int64_t b = bh / d.H, h = bh % d.H;
        float *kt = scratch + (size_t)thread_id() * per, *vt = kt + T * D, *dk = vt + T * D, *dv = dk + T * D,
              *p = dv + T * D, *ds = p + T, *dq = ds + T;
        const float *base = QKV + b * T * C3;
        float *dbase = DQKV + b * T * C3;
        transpose_head(kt, base + d.C + h * D, T, D, C3);
        transpose_head(vt, base + 2 * d.C + h * D, T, D, C3);
        for (int64_t i = 0; i < T * D; i++) dk[i] = dv[i] = 0.0f;
        for (int64_t i = 0; i < T; i++) {
            const float *q = base + i * C3 + h * D;
            const float *doi = DO + (b * T + i) * d.C + h * D, *oi = O + (b * T + i) * d.C + h * D;
            const float li = L[(b * d.H + h) * T + i];
            int64_t nj = causal ? i + 1 : T;
            double di = 0.0;
            for (int64_t e = 0; e < D; e++) di += (double)doi[e] * oi[e];
            scores(p, q, kt, nj, T, D);  /* scores */
            scores(ds, doi, vt, nj, T, D); /* dP_ij = dO_i . v_j */
            for (int64_t j = 0; j < nj; j++) {
                p[j] = expf(p[j] * scale - li);
                ds[j] = p[j] * (ds[j] - (float)di);
            }
            for (int64_t e = 0; e < D; e++) dq[e] = 0.0f;
            for (int64_t j = 0; j < nj; j++) {
                const float sj = ds[j], pj = p[j], *k = base + j * C3 + d.C + h * D;
                float *dkj = dk + j * D, *dvj = dv + j * D;
                for (int64_t e = 0; e < D; e++) {
                    dq[e] += sj * k[e];
                    dkj[e] += sj * q[e];
                    dvj[e] += pj * doi[e];
                }
            }
            float *dqo = dbase + i * C3 + h * D;
            for (int64_t e = 0; e < D; e++) dqo[e] = dq[e] * scale;
        }
        for (int64_t j = 0; j < T; j++)
            for (int64_t e = 0; e < D; e++) {
                dbase[j * C3 + d.C + h * D + e] = dk[j * D + e] * scale;
                dbase[j * C3 + 2 * d.C + h * D + e] = dv[j * D + e];
            }
    }
    free(scratch);
    return 0;
}
