/* cpu_attention.c — multi-head softmax attention on packed qkv, forward and
 * backward, one (batch, head) pair per task. The backward recomputes the
 * probabilities from the saved logsumexp instead of keeping T x T scores.
 *
 * The scores Q K^T come from a register-tiled loop with a fixed summation
 * order (see scores()); the other products (P V and the adjoints) are sgemm
 * calls on the strided head slices of qkv, T x T scores per thread; softmax sums,
 * logsumexp and the rows' dO . O are accumulated in double. */
#include <math.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/cancel.h"
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

/* dst[e * T + j] = src[j * stride + e]: a head's K, transposed. */
static void transpose_head(float *restrict dst, const float *restrict src, int64_t T, int64_t D,
                           int64_t stride) {
    for (int64_t j = 0; j < T; j++)
        for (int64_t e = 0; e < D; e++) dst[e * T + j] = src[j * stride + e];
}

/* S = scale Q K^T (T x T) with kt = K^T (D x T). Not sgemm: every score is
 * the f32 sum of q_e k_e in order of e, then scaled, so that the scores
 * (and the logsumexp built on them, which tests hold to 1e-6) round the
 * same on every machine and BLAS. 4 x 8 tiles keep the sums in registers
 * and vectorise over j without reordering any sum. */
#ifdef __SSE2__
/* One full TI x TJ tile in SSE2 registers: a product, then a sum, per
 * term, exactly the scalar order (no FMA), at any -O level. */
static void scores_tile(float *restrict S, const float *restrict q, int64_t ldq,
                        const float *restrict kt, int64_t T, int64_t D, float scale) {
    __m128 a00 = _mm_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
           a31 = a00;
    for (int64_t e = 0; e < D; e++) {
        const __m128 k0 = _mm_loadu_ps(kt + e * T), k1 = _mm_loadu_ps(kt + e * T + 4);
        __m128 q0 = _mm_set1_ps(q[e]), q1 = _mm_set1_ps(q[ldq + e]), q2 = _mm_set1_ps(q[2 * ldq + e]),
               q3 = _mm_set1_ps(q[3 * ldq + e]);
        a00 = _mm_add_ps(a00, _mm_mul_ps(q0, k0));
        a01 = _mm_add_ps(a01, _mm_mul_ps(q0, k1));
        a10 = _mm_add_ps(a10, _mm_mul_ps(q1, k0));
        a11 = _mm_add_ps(a11, _mm_mul_ps(q1, k1));
        a20 = _mm_add_ps(a20, _mm_mul_ps(q2, k0));
        a21 = _mm_add_ps(a21, _mm_mul_ps(q2, k1));
        a30 = _mm_add_ps(a30, _mm_mul_ps(q3, k0));
        a31 = _mm_add_ps(a31, _mm_mul_ps(q3, k1));
    }
    const __m128 sc = _mm_set1_ps(scale);
    _mm_storeu_ps(S, _mm_mul_ps(a00, sc));
    _mm_storeu_ps(S + 4, _mm_mul_ps(a01, sc));
    _mm_storeu_ps(S + T, _mm_mul_ps(a10, sc));
    _mm_storeu_ps(S + T + 4, _mm_mul_ps(a11, sc));
    _mm_storeu_ps(S + 2 * T, _mm_mul_ps(a20, sc));
    _mm_storeu_ps(S + 2 * T + 4, _mm_mul_ps(a21, sc));
    _mm_storeu_ps(S + 3 * T, _mm_mul_ps(a30, sc));
    _mm_storeu_ps(S + 3 * T + 4, _mm_mul_ps(a31, sc));
}
#else
static void scores_tile(float *restrict S, const float *restrict q, int64_t ldq,
                        const float *restrict kt, int64_t T, int64_t D, float scale) {
    float acc[4][8] = {{0}};
    for (int64_t e = 0; e < D; e++)
        for (int r = 0; r < 4; r++) {
            const float qe = q[r * ldq + e];
            for (int c = 0; c < 8; c++) acc[r][c] += qe * kt[e * T + c];
        }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 8; c++) S[r * T + c] = acc[r][c] * scale;
}
#endif

static void scores(float *restrict S, const float *restrict q, int64_t ldq,
                   const float *restrict kt, int64_t T, int64_t D, float scale) {
    enum { TI = 4, TJ = 8 };
    for (int64_t i0 = 0; i0 < T; i0 += TI)
        for (int64_t j0 = 0; j0 < T; j0 += TJ) {
            if (i0 + TI <= T && j0 + TJ <= T) {
                scores_tile(S + i0 * T + j0, q + i0 * ldq, ldq, kt + j0, T, D, scale);
                continue;
            }
            int64_t ni = T - i0 < TI ? T - i0 : TI, nj = T - j0 < TJ ? T - j0 : TJ;
            for (int64_t r = 0; r < ni; r++)
                for (int64_t c = 0; c < nj; c++) {
                    float a = 0.0f;
                    for (int64_t e = 0; e < D; e++) a += q[(i0 + r) * ldq + e] * kt[e * T + j0 + c];
                    S[(i0 + r) * T + j0 + c] = a * scale;
                }
        }
}

/* (batch, head) tasks per chunk: about cpu_chunk_flops() of work, a whole
 * number of rounds of the threads, at least one round. Tasks are
 * independent, so chunking changes no result. */
static int64_t tasks_per_chunk(double task_flops) {
    int64_t nt = threads(), per = (int64_t)((double)cpu_chunk_flops() / task_flops);
    if (per < nt) per = nt;
    return (per + nt - 1) / nt * nt;
}

/* Row softmax statistics of s[0..nj): the maximum and the sum of
 * exp(s - max), in double as before the GEMM rewrite. */
static double softmax_row(float *s, int64_t nj, float *mx_out) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < nj; j++) mx = s[j] > mx ? s[j] : mx;
    double sum = 0.0;
    for (int64_t j = 0; j < nj; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    *mx_out = mx;
    return sum;
}

int cpu_attention_fwd(const ember_backend *be, ember_tensor *out, ember_tensor *lse,
                      const ember_tensor *qkv, int heads, int causal, ember_err *err) {
    (void)be;
    const char *op = "attention_fwd";
    att_dims d;
    if (att_check(op, qkv, heads, &d, err) || cpu_need_f32(out, op, "out", d.B * d.T * d.C, err) ||
        cpu_need_f32(lse, op, "lse", d.B * d.H * d.T, err))
        return -1;
    const int64_t T = d.T, D = d.D, C = d.C, C3 = 3 * d.C;
    if (T == 0 || d.B == 0) return 0;
    size_t per = (size_t)(T * T + T * D);
    float *scratch = malloc(sizeof(float) * per * (size_t)threads());
    if (!scratch) return ember_err_set(err, "%s: out of memory for scratch", op);
    const float *QKV = qkv->data;
    float *O = out->data, *L = lse->data;
    const float scale = (float)(1.0 / sqrt((double)D));
    int failed = 0, stopped = 0;
    /* One (batch, head) pair per task, its products as single-threaded
     * GEMMs on the strided head slices of qkv (an OpenMP-built OpenBLAS runs
     * serially inside a parallel region). The tasks run in chunks with a
     * cancellation check between them; whether a region is parallel still
     * depends on the whole count, so a task's products run the same way. */
    const int64_t tasks = d.B * d.H, per_chunk = tasks_per_chunk(4.0 * (double)T * (double)T * (double)D);
    for (int64_t t0 = 0; t0 < tasks && !failed; t0 += per_chunk) {
        if (t0 && ember_cancel_check(err)) {
            stopped = 1;
            break;
        }
        const int64_t t1 = tasks - t0 < per_chunk ? tasks : t0 + per_chunk;
#pragma omp parallel for schedule(dynamic) if (tasks > 1) reduction(| : failed)
        for (int64_t bh = t0; bh < t1; bh++) {
            int64_t b = bh / d.H, h = bh % d.H;
            float *S = scratch + (size_t)thread_id() * per, *kt = S + T * T;
            const float *q = QKV + b * T * C3 + h * D, *k = q + C, *v = q + 2 * C;
            float *o = O + b * T * C + h * D;
            ember_err local;
            /* The causal upper triangle is computed and ignored. */
            transpose_head(kt, k, T, D, C3);
            scores(S, q, C3, kt, T, D, scale);
            for (int64_t i = 0; i < T; i++) {
                int64_t nj = causal ? i + 1 : T;
                float *s = S + i * T, mx;
                double sum = softmax_row(s, nj, &mx);
                float inv = (float)(1.0 / sum);
                for (int64_t j = 0; j < nj; j++) s[j] *= inv;
                for (int64_t j = nj; j < T; j++) s[j] = 0.0f;
                L[(b * d.H + h) * T + i] = (float)((double)mx + log(sum));
            }
            /* O_h = P V, straight into the head's columns of out. */
            if (cpu_sgemm(0, 0, T, D, T, 1.0f, S, T, v, C3, 0.0f, o, C, &local)) failed |= 1;
        }
    }
    free(scratch);
    if (stopped) return -1;
    if (failed) return ember_err_set(err, "%s: a matrix product failed (sizes beyond 2^31?)", op);
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
    const int64_t T = d.T, D = d.D, C = d.C, C3 = 3 * d.C;
    if (T == 0 || d.B == 0) return 0;
    /* Per thread: P and dP/dS (T x T each), K^T (D x T). */
    size_t per = (size_t)(2 * T * T + T * D);
    float *scratch = malloc(sizeof(float) * per * (size_t)threads());
    if (!scratch) return ember_err_set(err, "%s: out of memory for scratch", op);
    const float *QKV = qkv->data, *DO = dout->data, *O = out->data, *L = lse->data;
    float *DQKV = dqkv->data;
    const float scale = (float)(1.0 / sqrt((double)D));
    int failed = 0, stopped = 0;
    /* In chunks, as the forward. */
    const int64_t tasks = d.B * d.H, per_chunk = tasks_per_chunk(10.0 * (double)T * (double)T * (double)D);
    for (int64_t t0 = 0; t0 < tasks && !failed; t0 += per_chunk) {
        if (t0 && ember_cancel_check(err)) {
            stopped = 1;
            break;
        }
        const int64_t t1 = tasks - t0 < per_chunk ? tasks : t0 + per_chunk;
#pragma omp parallel for schedule(dynamic) if (tasks > 1) reduction(| : failed)
        for (int64_t bh = t0; bh < t1; bh++) {
            int64_t b = bh / d.H, h = bh % d.H;
            float *P = scratch + (size_t)thread_id() * per, *dS = P + T * T, *kt = dS + T * T;
            const float *q = QKV + b * T * C3 + h * D, *k = q + C, *v = q + 2 * C;
            const float *dO = DO + b * T * C + h * D, *o = O + b * T * C + h * D;
            const float *l = L + (b * d.H + h) * T;
            float *dq = DQKV + b * T * C3 + h * D, *dk = dq + C, *dv = dq + 2 * C;
            ember_err local;
            /* P from the same scores as the forward and the saved logsumexp;
             * dP = dO V^T. */
            transpose_head(kt, k, T, D, C3);
            scores(P, q, C3, kt, T, D, scale);
            if (cpu_sgemm(0, 1, T, T, D, 1.0f, dO, C, v, C3, 0.0f, dS, T, &local)) {
                failed |= 1;
                continue;
            }
            for (int64_t i = 0; i < T; i++) {
                int64_t nj = causal ? i + 1 : T;
                const float *doi = dO + i * C, *oi = o + i * C;
                double di = 0.0;
                for (int64_t e = 0; e < D; e++) di += (double)doi[e] * oi[e];
                float *p = P + i * T, *ds = dS + i * T, li = l[i], dif = (float)di;
                for (int64_t j = 0; j < nj; j++) {
                    p[j] = expf(p[j] - li);
                    ds[j] = p[j] * (ds[j] - dif);
                }
                for (int64_t j = nj; j < T; j++) p[j] = ds[j] = 0.0f;
            }
            /* dQ = scale dS K, dK = scale dS^T Q, dV = P^T dO, into dqkv's slices. */
            if (cpu_sgemm(0, 0, T, D, T, scale, dS, T, k, C3, 0.0f, dq, C3, &local) ||
                cpu_sgemm(1, 0, T, D, T, scale, dS, T, q, C3, 0.0f, dk, C3, &local) ||
                cpu_sgemm(1, 0, T, D, T, 1.0f, P, T, dO, C, 0.0f, dv, C3, &local))
                failed |= 1;
        }
    }
    free(scratch);
    if (stopped) return -1;
    if (failed) return ember_err_set(err, "%s: a matrix product failed (sizes beyond 2^31?)", op);
    return 0;
}
