/* matmul.cu — the backend's matrix product on cuBLASLt.
 *
 * Row-major C = op(A) op(B) is computed as the column-major product
 * C^T = op(B)^T op(A)^T, so cuBLASLt's "A" is our B and its "B" our A, with
 * m and n swapped; a bias over our columns is then a bias over its rows,
 * which is what the BIAS epilogue adds. Compute type is always
 * CUBLAS_COMPUTE_32F: bf16 operands accumulate in fp32, and fp32 operands
 * run true fp32 (never TF32), so the fp32 path matches the CPU backend.
 *
 * The GELU the table asks for is exact (erf); cuBLASLt's GELU epilogues use
 * the tanh approximation, so the product (with its bias epilogue) writes the
 * pre-activation and gelu.cu applies the exact GELU in one more pass.
 *
 * Plans (descriptors, layouts and the heuristic's algorithm) are cached per
 * shape, type, stride, epilogue and pointer alignment, so the steady state
 * and graph capture do no heuristic queries. The workspace comes from the
 * backend's own arena. */
#include <string.h>

#include "kernels.h"
#include "state.h"
#include "validate.h"

static int align_of(const void *p)
{
    uintptr_t u = (uintptr_t)p;
    int a = 256;
    while (a > 1 && (u % (uintptr_t)a)) a >>= 1;
    return a;
}

static cudaDataType_t cuda_type(int dt)
{
    return dt == EMBER_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

static void plan_destroy(ecu_plan *p)
{
    if (!p->used) return;
    /* teardown: nothing useful can be done with a failed destroy */
    (void)cublasLtMatrixLayoutDestroy(p->la);
    (void)cublasLtMatrixLayoutDestroy(p->lb);
    (void)cublasLtMatrixLayoutDestroy(p->lc);
    (void)cublasLtMatrixLayoutDestroy(p->ld);
    (void)cublasLtMatmulDescDestroy(p->desc);
    p->used = 0;
}

void ecu_plans_release(ecu_state *s)
{
    for (int i = 0; i < ECU_PLAN_SLOTS; ++i) plan_destroy(&s->plans[i]);
}

static int layout(cublasLtMatrixLayout_t *l, cudaDataType_t t, long long rows, long long cols,
                  long long ld, long long batch, long long stride, ember_err *err)
{
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(l, t, (uint64_t)rows, (uint64_t)cols, ld));
    if (batch > 1) {
        int32_t bc = (int32_t)batch;
        int64_t so = stride;
        CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                      &bc, sizeof bc));
        CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(
            *l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &so, sizeof so));
    }
    return 0;
}

static int plan_build(ecu_state *s, ecu_plan *p, const ecu_plan_key *k, ember_err *err)
{
    memset(p, 0, sizeof *p);
    p->key = *k;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    p->used = 1; /* from here on, plan_destroy cleans up what exists */
    cublasOperation_t oa = (cublasOperation_t)k->op_a, ob = (cublasOperation_t)k->op_b;
    if (cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &oa, sizeof oa) ||
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &ob, sizeof ob)) {
        plan_destroy(p);
        return ecu_errf(err, "matmul: cuBLASLt refused the transpose attributes");
    }
    cublasLtEpilogue_t epi = (cublasLtEpilogue_t)k->epilogue;
    cublasStatus_t st =
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi);
    if (st == CUBLAS_STATUS_SUCCESS && k->tbias >= 0) {
        cudaDataType_t bt = (cudaDataType_t)k->tbias;
        st = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt,
                                            sizeof bt);
    }
    if (st != CUBLAS_STATUS_SUCCESS) {
        plan_destroy(p);
        return ecu_fail_cublas(err, st, "cublasLtMatmulDescSetAttribute(epilogue)", "matmul",
                               __FILE__, __LINE__);
    }
    /* cuBLASLt's A: rows x cols as stored (before its op). */
    long long ar = k->op_a == CUBLAS_OP_N ? k->m : k->k, ac = k->op_a == CUBLAS_OP_N ? k->k : k->m;
    long long br = k->op_b == CUBLAS_OP_N ? k->k : k->n, bc = k->op_b == CUBLAS_OP_N ? k->n : k->k;
    /* the four layouts are created in order; plan_destroy needs all four, so
     * on a failure part-way the rest are created empty-handed: destroy by hand */
    p->la = p->lb = p->lc = p->ld = NULL;
    if (layout(&p->la, (cudaDataType_t)k->ta, ar, ac, k->lda, k->batch, k->sa, err) ||
        layout(&p->lb, (cudaDataType_t)k->tb, br, bc, k->ldb, k->batch, k->sb, err) ||
        layout(&p->lc, (cudaDataType_t)k->tc, k->m, k->n, k->ldc, k->batch, k->sc, err) ||
        layout(&p->ld, (cudaDataType_t)k->td, k->m, k->n, k->ldc, k->batch, k->sc, err)) {
        if (p->la) (void)cublasLtMatrixLayoutDestroy(p->la);
        if (p->lb) (void)cublasLtMatrixLayoutDestroy(p->lb);
        if (p->lc) (void)cublasLtMatrixLayoutDestroy(p->lc);
        if (p->ld) (void)cublasLtMatrixLayoutDestroy(p->ld);
        (void)cublasLtMatmulDescDestroy(p->desc);
        p->used = 0;
        return -1;
    }
    cublasLtMatmulPreference_t pref;
    st = cublasLtMatmulPreferenceCreate(&pref);
    if (st != CUBLAS_STATUS_SUCCESS) {
        plan_destroy(p);
        return ecu_fail_cublas(err, st, "cublasLtMatmulPreferenceCreate", "matmul", __FILE__,
                               __LINE__);
    }
    uint64_t ws = ECU_LT_WORKSPACE;
    uint32_t al[4] = {(uint32_t)k->align_a, (uint32_t)k->align_b, (uint32_t)k->align_c,
                      (uint32_t)k->align_d};
    static const cublasLtMatmulPreferenceAttributes_t al_attr[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                              sizeof ws);
    for (int i = 0; i < 4 && st == CUBLAS_STATUS_SUCCESS; ++i)
        st = cublasLtMatmulPreferenceSetAttribute(pref, al_attr[i], &al[i], sizeof al[i]);
    if (st != CUBLAS_STATUS_SUCCESS) {
        (void)cublasLtMatmulPreferenceDestroy(pref);
        plan_destroy(p);
        return ecu_fail_cublas(err, st, "cublasLtMatmulPreferenceSetAttribute", "matmul",
                               __FILE__, __LINE__);
    }
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    st = cublasLtMatmulAlgoGetHeuristic(s->lt, p->desc, p->la, p->lb, p->lc, p->ld, pref, 1,
                                        &res, &found);
    (void)cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || found < 1) {
        plan_destroy(p);
        return ecu_errf(err,
                        "matmul: cuBLASLt has no algorithm for m=%lld n=%lld k=%lld batch=%lld "
                        "(A %s, C %s, epilogue %d): %s",
                        k->n, k->m, k->k, k->batch, k->ta == CUDA_R_16BF ? "bf16" : "f32",
                        k->td == CUDA_R_16BF ? "bf16" : "f32", k->epilogue,
                        st != CUBLAS_STATUS_SUCCESS ? cublasGetStatusString(st)
                                                    : "no heuristic result");
    }
    p->algo = res.algo;
    return 0;
}

static int plan_get(ecu_state *s, const ecu_plan_key *k, ecu_plan **out, ember_err *err)
{
    for (int i = 0; i < ECU_PLAN_SLOTS; ++i)
        if (s->plans[i].used && !memcmp(&s->plans[i].key, k, sizeof *k)) {
            *out = &s->plans[i];
            return 0;
        }
    for (int i = 0; i < s->n_refused; ++i)
        if (!memcmp(&s->refused[i], k, sizeof *k))
            return ecu_errf(err, "matmul: cuBLASLt has no algorithm for this shape (cached)");
    if (s->capturing)
        return ecu_errf(err, "matmul: a new matrix-product shape appeared during CUDA graph "
                        "capture; run the step once uncaptured first");
    ecu_plan *p = &s->plans[s->plan_next];
    s->plan_next = (s->plan_next + 1) % ECU_PLAN_SLOTS;
    plan_destroy(p);
    if (plan_build(s, p, k, err)) {
        if (s->n_refused < 32) s->refused[s->n_refused++] = *k;
        return -1;
    }
    *out = p;
    return 0;
}

int ecu_matmul(ecu_state *s, const ember_gemm *g, const ember_tensor *a, const ember_tensor *b,
               const ember_tensor *bias, ember_tensor *c, ember_tensor *pre, ember_err *err)
{
    const char *op = "matmul";
    if (!g) return ecu_errf(err, "matmul: the descriptor is missing");
    if (ecu_arg(op, "a", a, ECU_FLOAT, -1, err) || ecu_arg(op, "b", b, ECU_FLOAT, -1, err) ||
        ecu_arg(op, "c", c, ECU_FLOAT, -1, err))
        return -1;
    if (a->dtype != b->dtype)
        return ecu_errf(err, "matmul: a is %s but b is %s; both operands must have one dtype",
                        ecu_dtname(a->dtype), ecu_dtname(b->dtype));
    if (a->dtype == EMBER_F32 && c->dtype == EMBER_BF16)
        return ecu_errf(err, "matmul: f32 operands with a bf16 output are not supported; "
                        "cast the operands to bf16 or ask for an f32 output");
    if (g->m < 0 || g->n < 0 || g->k < 0 || g->batch < 0)
        return ecu_errf(err, "matmul: negative size (m=%lld n=%lld k=%lld batch=%lld)",
                        (long long)g->m, (long long)g->n, (long long)g->k, (long long)g->batch);
    long long batch = g->batch ? g->batch : 1;
    long long m = g->m, n = g->n, k = g->k;
    long long lda = g->lda ? g->lda : (g->trans_a ? m : k);
    long long ldb = g->ldb ? g->ldb : (g->trans_b ? k : n);
    long long ldc = g->ldc ? g->ldc : n;
    long long arows = g->trans_a ? k : m, acols = g->trans_a ? m : k;
    long long brows = g->trans_b ? n : k, bcols = g->trans_b ? k : n;
    if (lda < acols || ldb < bcols || ldc < n)
        return ecu_errf(err, "matmul: a leading dimension is smaller than the stored width "
                        "(lda=%lld for %lld, ldb=%lld for %lld, ldc=%lld for %lld)",
                        lda, acols, ldb, bcols, ldc, n);
    if (batch > 1 && g->stride_c == 0)
        return ecu_errf(err, "matmul: batch %lld with stride_c 0 would write every product "
                        "to one place", batch);
    if (m == 0 || n == 0) return 0;
    /* every operand must cover what the descriptor addresses */
    long long need_a = (batch - 1) * g->stride_a + (arows - 1) * lda + acols;
    long long need_b = (batch - 1) * g->stride_b + (brows - 1) * ldb + bcols;
    long long need_c = (batch - 1) * g->stride_c + (m - 1) * ldc + n;
    if (k > 0 && (ecu_numel(a) < need_a || ecu_numel(b) < need_b))
        return ecu_errf(err, "matmul: operand too small: a has %lld elements (needs %lld), "
                        "b has %lld (needs %lld)", (long long)ecu_numel(a), need_a,
                        (long long)ecu_numel(b), need_b);
    if (ecu_numel(c) < need_c)
        return ecu_errf(err, "matmul: c has %lld elements; the product needs %lld",
                        (long long)ecu_numel(c), need_c);
    if (bias) {
        if (ecu_arg(op, "bias", bias, ECU_FLOAT, n, err)) return -1;
        if (bias->dtype != EMBER_F32 && bias->dtype != c->dtype)
            return ecu_errf(err, "matmul: bias must be f32 or c's dtype (%s)",
                            ecu_dtname(c->dtype));
    }
    if (g->gelu) {
        if (ecu_arg(op, "pre", pre, ECU_FLOAT, ecu_numel(c), err)) return -1;
        if (pre->dtype != c->dtype)
            return ecu_errf(err, "matmul: pre must have c's dtype (%s)", ecu_dtname(c->dtype));
    }
    if (g->beta != 0.0f && (c->data == a->data || c->data == b->data))
        return ecu_errf(err, "matmul: with beta != 0, c must not alias a or b");
    if (k == 0) {
        /* C = beta * C (+ bias): no product to run */
        if (g->beta == 0.0f && !bias && !g->gelu) {
            if (ldc == n && batch == 1)
                CU_CHECK(cudaMemsetAsync(c->data, 0, (size_t)(m * n) * ecu_dtsize(c->dtype),
                                         s->stream));
            else
                return ecu_errf(err, "matmul: k = 0 with strided output is not supported");
            return 0;
        }
        return ecu_errf(err, "matmul: k = 0 with beta, bias or GELU is not supported");
    }

    void *d_ptr = g->gelu ? pre->data : c->data;
    ecu_plan_key key;
    memset(&key, 0, sizeof key);
    key.ta = key.tb = (int)cuda_type(a->dtype);
    key.tc = key.td = (int)cuda_type(c->dtype);
    key.tbias = bias ? (int)cuda_type(bias->dtype) : -1;
    /* the swap: cuBLASLt's A is our B (n x k after op), its B our A */
    key.op_a = g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    key.op_b = g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    key.m = n;
    key.n = m;
    key.k = k;
    key.lda = ldb;
    key.ldb = lda;
    key.ldc = ldc;
    key.batch = batch;
    key.sa = g->stride_b;
    key.sb = g->stride_a;
    key.sc = g->stride_c;
    key.epilogue = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    key.align_a = align_of(b->data);
    key.align_b = align_of(a->data);
    key.align_c = align_of(c->data);
    key.align_d = align_of(d_ptr);
    ecu_plan *p = NULL;
    int fused_bias = bias != NULL;
    if (plan_get(s, &key, &p, err)) {
        if (!bias) return -1;
        /* no algorithm with this bias epilogue (e.g. an f32 bias on a bf16
         * output): run the plain product and add the bias in a second pass */
        fused_bias = 0;
        key.tbias = -1;
        key.epilogue = CUBLASLT_EPILOGUE_DEFAULT;
        if (ldc != n || (batch > 1 && g->stride_c != m * n))
            return ecu_errf(err, "matmul: this bias needs a packed output (ldc = n)");
        if (plan_get(s, &key, &p, err)) return -1;
    }
    if (fused_bias) {
        const void *bp = bias->data;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                    &bp, sizeof bp));
    }
    float alpha = g->alpha, beta = g->beta;
    CUBLAS_CHECK(cublasLtMatmul(s->lt, p->desc, &alpha, b->data, p->la, a->data, p->lb, &beta,
                                c->data, p->lc, d_ptr, p->ld, &p->algo, s->lt_ws,
                                ECU_LT_WORKSPACE, s->stream));
    if (bias && !fused_bias) {
        int td = g->gelu ? ecu_ek(pre) : ecu_ek(c);
        CU_CHECK(ek_add_rows(s->stream, td, ecu_ek(bias), td, d_ptr, bias->data, d_ptr,
                             (size_t)(batch * m), (int)n, 1));
    }
    if (g->gelu) {
        /* c = gelu(pre), exact erf; strided outputs run per row block */
        if (ldc == n && (batch == 1 || g->stride_c == m * n)) {
            CU_CHECK(ek_gelu_fwd(s->stream, ecu_ek(pre), ecu_ek(c), pre->data, c->data,
                                 (size_t)(batch * m * n)));
        } else {
            return ecu_errf(err, "matmul: a GELU epilogue needs a packed output (ldc = n)");
        }
    }
    return 0;
}
