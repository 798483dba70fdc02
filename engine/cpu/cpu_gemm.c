/* cpu_gemm.c — matrix products on the CPU: OpenBLAS cblas_sgemm when built
 * with EMBER_BLAS, else a portable blocked sgemm (the GPU test machines may
 * lack OpenBLAS); plus the bias and GELU epilogues and the bias gradient. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "core/cancel.h"
#include "cpu/cpu_internal.h"

#ifdef EMBER_HAVE_BLAS
#include <cblas.h>
#endif

#ifndef EMBER_HAVE_BLAS
/* Block sizes: a KB x NB panel of op(B) (128 KiB) is packed once and reused
 * by every row of C, which the threads share out. */
enum { KB = 128, NB = 256 };

static int portable_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                          const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                          float *c, int64_t ldc, ember_err *err) {
    for (int64_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (beta == 0.0f)
            for (int64_t j = 0; j < n; j++) row[j] = 0.0f;
        else if (beta != 1.0f)
            for (int64_t j = 0; j < n; j++) row[j] *= beta;
    }
    if (k == 0 || alpha == 0.0f) return 0;
    float *panel = malloc(sizeof(float) * KB * NB);
    if (!panel) return ember_err_set(err, "matmul: out of memory for the packing buffer");
    for (int64_t p0 = 0; p0 < k; p0 += KB) {
        int64_t kb = k - p0 < KB ? k - p0 : KB;
        for (int64_t j0 = 0; j0 < n; j0 += NB) {
            int64_t nb = n - j0 < NB ? n - j0 : NB;
            for (int64_t p = 0; p < kb; p++)
                for (int64_t j = 0; j < nb; j++)
                    panel[p * NB + j] = tb ? b[(j0 + j) * ldb + p0 + p] : b[(p0 + p) * ldb + j0 + j];
#pragma omp parallel for schedule(static) if (m * nb * kb > 32768)
            for (int64_t i = 0; i < m; i++) {
                float *crow = c + i * ldc + j0;
                for (int64_t p = 0; p < kb; p++) {
                    float av = alpha * (ta ? a[(p0 + p) * lda + i] : a[i * lda + p0 + p]);
                    const float *brow = panel + p * NB;
                    for (int64_t j = 0; j < nb; j++) crow[j] += av * brow[j];
                }
            }
        }
    }
    free(panel);
    return 0;
}
#endif

int cpu_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc, ember_err *err) {
    if (m == 0 || n == 0) return 0;
#ifdef EMBER_HAVE_BLAS
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return ember_err_set(err, "matmul: dimensions beyond 2^31 are not supported on the CPU");
    if (k == 0) {
        /* BLAS leaves C alone for k == 0 only when beta == 1; be explicit. */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return 0;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
    return 0;
#else
    return portable_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, err);
#endif
}

/* Elements an operand of `rows` x `width` with row stride ld spans, over
 * `batch` matrices `stride` apart. */
static int64_t span(int64_t rows, int64_t width, int64_t ld, int64_t batch, int64_t stride) {
    if (rows == 0 || width == 0) return 0;
    return (batch - 1) * stride + (rows - 1) * ld + width;
}

static int overlaps(const void *p, size_t pn, const void *q, size_t qn) {
    const char *a = p, *b = q;
    return pn && qn && a < b + qn && b < a + pn;
}

/* The least a chunk of a split product may be. OpenBLAS runs a one-row
 * product as a matrix-vector product, and small ones (up to a few million
 * multiply-adds) through its small-matrix or direct kernels, each with
 * another summation order than its blocked kernels; so a chunk is never
 * smaller than 64 rows or 2^25 multiply-adds (the chunks of a real split,
 * about cpu_chunk_flops() each, are far larger). Then every element of C is
 * the same sum, in the same order, as in the unsplit call: row blocks of C
 * share nothing, and each element is still the full reduction over k,
 * blocked over k as before. tests/engine/test_cancel.c compares the two
 * bit for bit. */
enum { MIN_CHUNK_ROWS = 64 };
#define MIN_CHUNK_MNK 33554432.0

/* Rows of C per chunk for an m x n x k product: about cpu_chunk_flops()
 * each, at least the least above. */
static int64_t chunk_rows(int64_t n, int64_t k) {
    double per_row = (double)(n > 0 ? n : 1) * (double)(k > 0 ? k : 1);
    double r = (double)cpu_chunk_flops() / (2.0 * per_row);
    if (r < MIN_CHUNK_MNK / per_row) r = MIN_CHUNK_MNK / per_row + 1.0;
    if (r < MIN_CHUNK_ROWS) r = MIN_CHUNK_ROWS;
    return r > 1e15 ? (int64_t)1e15 : (int64_t)r;
}

int cpu_matmul(const ember_backend *be, const ember_gemm *g, const ember_tensor *a,
               const ember_tensor *b, const ember_tensor *bias, ember_tensor *c, ember_tensor *pre,
               ember_err *err) {
    (void)be;
    const char *op = "matmul";
    if (!g) return ember_err_set(err, "matmul: no descriptor");
    if (cpu_need_f32(a, op, "A", -1, err) || cpu_need_f32(b, op, "B", -1, err) ||
        cpu_need_f32(c, op, "C", -1, err))
        return -1;
    if (g->m < 0 || g->n < 0 || g->k < 0 || g->batch < 1)
        return ember_err_set(err, "matmul: bad sizes m=%lld n=%lld k=%lld batch=%lld",
                             (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->batch);
    int64_t a_rows = g->trans_a ? g->k : g->m, a_w = g->trans_a ? g->m : g->k;
    int64_t b_rows = g->trans_b ? g->n : g->k, b_w = g->trans_b ? g->k : g->n;
    /* 0 means packed; BLAS wants strides of at least 1 even for empty rows. */
    int64_t lda = g->lda ? g->lda : (a_w > 0 ? a_w : 1), ldb = g->ldb ? g->ldb : (b_w > 0 ? b_w : 1),
            ldc = g->ldc ? g->ldc : (g->n > 0 ? g->n : 1);
    if (lda < a_w || ldb < b_w || ldc < g->n || lda < 1 || ldb < 1 || ldc < 1)
        return ember_err_set(err, "matmul: a row stride is smaller than the row (lda=%lld ldb=%lld ldc=%lld)",
                             (long long)lda, (long long)ldb, (long long)ldc);
    if (g->stride_a < 0 || g->stride_b < 0 || g->stride_c < 0 || (g->batch > 1 && g->stride_c == 0))
        return ember_err_set(err, "matmul: batch strides must be >= 0 and stride_c > 0 when batch > 1");
    int64_t na = span(a_rows, a_w, lda, g->batch, g->stride_a);
    int64_t nb = span(b_rows, b_w, ldb, g->batch, g->stride_b);
    int64_t nc = span(g->m, g->n, ldc, g->batch, g->stride_c);
    if (ember_tensor_numel(a) < na || ember_tensor_numel(b) < nb || ember_tensor_numel(c) < nc)
        return ember_err_set(err,
                             "matmul: operands too small for m=%lld n=%lld k=%lld batch=%lld "
                             "(A needs %lld elements, has %lld; B %lld/%lld; C %lld/%lld)",
                             (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->batch,
                             (long long)na, (long long)ember_tensor_numel(a), (long long)nb,
                             (long long)ember_tensor_numel(b), (long long)nc,
                             (long long)ember_tensor_numel(c));
    if (bias && cpu_need_f32(bias, op, "bias", g->n, err)) return -1;
    if (g->gelu) {
        if (!pre) return ember_err_set(err, "matmul: the GELU epilogue needs a tensor for the pre-activation");
        if (cpu_need_f32(pre, op, "pre", -1, err)) return -1;
        if (ember_tensor_numel(pre) < nc) return ember_err_set(err, "matmul: pre is smaller than C");
        if (overlaps(pre->data, ember_tensor_nbytes(pre), c->data, ember_tensor_nbytes(c)))
            return ember_err_set(err, "matmul: pre must not overlap C");
    }
    size_t cb = (size_t)nc * 4;
    if (g->beta != 0.0f && (overlaps(c->data, cb, a->data, (size_t)na * 4) ||
                            overlaps(c->data, cb, b->data, (size_t)nb * 4)))
        return ember_err_set(err, "matmul: with beta != 0, C must not overlap A or B");
    const float *A = a->data, *B = b->data;
    float *C = c->data;
    const int64_t rows = chunk_rows(g->n, g->k);
    for (int64_t bi = 0; bi < g->batch; bi++) {
        float *Cb = C + bi * g->stride_c;
        const float *Ab = A + bi * g->stride_a;
        /* Row blocks of C, with a cancellation check between them; the last
         * takes the remainder, so none is below `rows`. */
        for (int64_t i0 = 0, len; i0 < g->m; i0 += len) {
            len = g->m - i0 < 2 * rows ? g->m - i0 : rows;
            if ((bi || i0) && ember_cancel_check(err)) return -1;
            /* Rows i0.. of op(A): rows of A, or columns when it is transposed. */
            const float *Ai = g->trans_a ? Ab + i0 : Ab + i0 * lda;
            float *Ci = Cb + i0 * ldc;
            if (cpu_sgemm(g->trans_a, g->trans_b, len, g->n, g->k, g->alpha, Ai, lda, B + bi * g->stride_b, ldb,
                          g->beta, Ci, ldc, err))
                return -1;
            if (!bias && !g->gelu) continue;
            const float *bv = bias ? bias->data : NULL;
            float *P = g->gelu ? (float *)pre->data + bi * g->stride_c + i0 * ldc : NULL;
            int64_t n = g->n;
#pragma omp parallel for schedule(static) if (len * n > 16384)
            for (int64_t i = 0; i < len; i++) {
                float *row = Ci + i * ldc;
                for (int64_t j = 0; j < n; j++) {
                    float v = row[j] + (bv ? bv[j] : 0.0f);
                    if (P) {
                        P[i * ldc + j] = v;
                        v = cpu_gelu(v);
                    }
                    row[j] = v;
                }
            }
        }
    }
    return 0;
}

int cpu_bias_grad(const ember_backend *be, ember_tensor *dbias, const ember_tensor *dy,
                  int accumulate, ember_err *err) {
    (void)be;
    if (cpu_need_f32(dbias, "bias_grad", "dbias", -1, err) ||
        cpu_need_f32(dy, "bias_grad", "dy", -1, err))
        return -1;
    int64_t n = ember_tensor_numel(dbias), total = ember_tensor_numel(dy);
    if (n == 0 || total % n)
        return ember_err_set(err, "bias_grad: dy (%lld elements) is not rows of %lld", (long long)total,
                             (long long)n);
    int64_t r = total / n;
    const float *Y = dy->data;
    float *D = dbias->data;
    /* Column sums in double, each over the rows in order; the rows go in
     * chunks with cancellation checks between them, the sums running on. */
    double *acc = calloc((size_t)n, sizeof *acc);
    if (!acc) return ember_err_set(err, "bias_grad: out of memory");
    /* Column blocks keep each thread's reads within whole cache lines. */
    int64_t nblk = (n + 63) / 64;
    for (int64_t r0 = 0, r1; r0 < r; r0 = r1) {
        if (cpu_chunk_next(r0, r, (double)n * CPU_COST_STREAM, &r1, err)) {
            free(acc);
            return -1;
        }
#pragma omp parallel for schedule(static)
        for (int64_t blk = 0; blk < nblk; blk++) {
            int64_t j0 = blk * 64, w = n - j0 < 64 ? n - j0 : 64;
            double *a = acc + j0;
            for (int64_t i = r0; i < r1; i++) {
                const float *row = Y + i * n + j0;
                for (int64_t j = 0; j < w; j++) a[j] += row[j];
            }
        }
    }
    for (int64_t j = 0; j < n; j++) D[j] = (float)(acc[j] + (accumulate ? D[j] : 0.0f));
    free(acc);
    return 0;
}
