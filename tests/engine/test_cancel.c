/* test_cancel.c — stopping long engine work (core/cancel.h), deterministic
 * (no clocks, no threads racing: tokens trip at a chosen check, or a flag is
 * raised from inside a chosen op):
 *   1. the token: nothing installed never stops; a raised flag or the
 *      trip_at-th check stops, stays stopped, and counts; tokens nest;
 *   2. the CPU backend's long ops run in chunks: a matrix product split in
 *      row blocks and attention split in groups of (batch, head) give the
 *      same bits as in one piece, and a trip between chunks stops the op
 *      with the chunks before it written and the ones after untouched;
 *   3. the ViT's forward and backward check before every op: on the
 *      recording backend, a flag raised while op n runs stops the pass with
 *      exactly n ops issued, for every n; and a training step stops before
 *      AdamW for a flag raised during any op before it;
 *   4. a training step is applied whole or not at all: tripped at each of
 *      its checks in turn, it leaves the weights, AdamW's m and v, t and the
 *      dropout offset bit for bit as they were (also with every op in small
 *      chunks, so that trips land inside ops); the step then taken equals
 *      bit for bit the step of a model that was never interrupted; and a
 *      whole step with every op chunked equals the unchunked step. */
#include <stdatomic.h>

#include "core/backend.h"
#include "core/cancel.h"
#include "cpu/cpu_internal.h"
#include "nn/vit.h"
#include "test_util.h"
#include "trace_backend.h"

static const ember_backend *cpu;

static ember_tensor tview(void *p, int nd, int64_t a, int64_t b, int64_t c) {
    ember_tensor t;
    int64_t s[4] = {a, b, c, 1};
    ember_err e;
    if (ember_tensor_view(&t, p, EMBER_F32, EMBER_DEV_CPU, nd, s, &e)) {
        fprintf(stderr, "view: %s\n", e.msg);
        exit(2);
    }
    return t;
}

static int same_bits(const float *a, const float *b, int64_t n) { return memcmp(a, b, (size_t)n * sizeof(float)) == 0; }

/* ---- 1. the token ------------------------------------------------------------ */

static void test_token(void) {
    ember_err err = {{0}};
    CHECK(ember_cancel_current() == NULL && ember_cancel_check(&err) == 0 && !ember_cancel_tripped(),
          "without a token nothing stops");
    atomic_int flag;
    atomic_init(&flag, 0);
    ember_cancel a;
    ember_cancel_init(&a, &flag);
    ember_cancel_push(&a);
    CHECK(ember_cancel_check(&err) == 0 && ember_cancel_check(&err) == 0 && a.checks == 2 && !a.tripped,
          "a lowered flag lets work go on (checks %lld)", (long long)a.checks);
    atomic_store(&flag, 1);
    CHECK(ember_cancel_check(&err) == -1 && !strcmp(err.msg, EMBER_CANCEL_MSG) && ember_cancel_tripped(),
          "a raised flag stops (%s)", err.msg);
    atomic_store(&flag, 0);
    CHECK(ember_cancel_check(&err) == -1 && a.checks == 4, "a tripped token stays tripped");
    /* Nesting: an inner token on no flag, tripping at its 3rd check. */
    ember_cancel b;
    ember_cancel_init(&b, NULL);
    b.trip_at = 3;
    ember_cancel_push(&b);
    CHECK(ember_cancel_current() == &b && !ember_cancel_tripped(), "the inner token is current and fresh");
    CHECK(ember_cancel_check(&err) == 0 && ember_cancel_check(&err) == 0 && ember_cancel_check(&err) == -1 &&
              b.checks == 3 && b.tripped,
          "trip_at stops at exactly that check");
    ember_cancel_pop(&b);
    CHECK(ember_cancel_current() == &a && a.checks == 4, "pop brings the outer token back, its count untouched");
    ember_cancel_pop(&a);
    CHECK(ember_cancel_current() == NULL && ember_cancel_check(&err) == 0, "and then none");
}

/* ---- 2. chunked CPU ops -------------------------------------------------------- */

typedef struct mm_case {
    int64_t m, n, k;
    int ta, tb, batch, bias, gelu, pad;
    float beta;
} mm_case;

/* C (and pre) of one product at the current chunk size. */
static int run_mm(const mm_case *q, const float *A, const float *B, const float *bias, const float *C0, float *C,
                  float *P, int64_t nc, ember_err *err) {
    int64_t lda = (q->ta ? q->m : q->k) + q->pad, ldb = (q->tb ? q->k : q->n) + q->pad, ldc = q->n + q->pad;
    int64_t sa = (q->ta ? q->k : q->m) * lda, sb = (q->tb ? q->n : q->k) * ldb;
    ember_gemm g = ember_gemm_default(q->m, q->n, q->k);
    g.trans_a = q->ta;
    g.trans_b = q->tb;
    g.lda = lda;
    g.ldb = ldb;
    g.ldc = ldc;
    g.batch = q->batch;
    g.stride_a = sa;
    g.stride_b = sb;
    g.stride_c = q->m * ldc;
    g.beta = q->beta;
    g.gelu = q->gelu;
    memcpy(C, C0, (size_t)nc * sizeof(float));
    ember_tensor ta = tview((void *)A, 1, sa * q->batch, 0, 0), tb = tview((void *)B, 1, sb * q->batch, 0, 0),
                 tc = tview(C, 1, nc, 0, 0), tp = tview(P, 1, nc, 0, 0), tbias = tview((void *)bias, 1, q->n, 0, 0);
    return cpu->matmul(cpu, &g, &ta, &tb, q->bias ? &tbias : NULL, &tc, q->gelu ? &tp : NULL, err);
}

static void test_matmul_chunks(void) {
    /* With the smallest chunk size, products split into the least chunks a
     * split makes (2^25 multiply-adds: about 220 rows here), 3 or 4 per
     * matrix. */
    const mm_case cases[] = {
        {1000, 384, 384, 0, 0, 1, 0, 0, 0, 0.0f}, {1000, 384, 384, 0, 1, 1, 1, 0, 0, 0.0f},
        {1000, 384, 400, 1, 0, 1, 0, 0, 3, 1.0f}, {900, 400, 384, 1, 1, 1, 1, 1, 0, 0.0f},
        {800, 384, 384, 0, 1, 2, 1, 1, 5, 0.5f},  {700, 512, 300, 0, 0, 3, 0, 0, 0, 1.0f},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const mm_case *q = &cases[ci];
        int64_t lda = (q->ta ? q->m : q->k) + q->pad, ldb = (q->tb ? q->k : q->n) + q->pad, ldc = q->n + q->pad;
        int64_t na = (q->ta ? q->k : q->m) * lda * q->batch, nb = (q->tb ? q->n : q->k) * ldb * q->batch;
        int64_t nc = q->m * ldc * q->batch;
        float *A = t_alloc(na), *B = t_alloc(nb), *bias = t_alloc(q->n), *C0 = t_alloc(nc);
        float *C1 = t_alloc(nc), *P1 = t_alloc(nc), *C2 = t_alloc(nc), *P2 = t_alloc(nc);
        t_fill(A, na, 1.0);
        t_fill(B, nb, 1.0);
        t_fill(bias, q->n, 1.0);
        t_fill(C0, nc, 1.0);
        ember_err err = {{0}};
        int64_t old = cpu_set_chunk_flops(0);
        int rc1 = run_mm(q, A, B, bias, C0, C1, P1, nc, &err);
        cpu_set_chunk_flops(1);
        int rc2 = run_mm(q, A, B, bias, C0, C2, P2, nc, &err);
        CHECK(rc1 == 0 && rc2 == 0, "case %zu: %s", ci, err.msg);
        CHECK(same_bits(C1, C2, nc), "case %zu: the product in row blocks differs from the whole one", ci);
        CHECK(!q->gelu || same_bits(P1, P2, nc), "case %zu: the pre-activation differs", ci);

        /* Tripped at the 2nd check, before the 3rd block: the first rows
         * of the first matrix hold the product, every other element is
         * untouched. */
        if (q->beta == 0.0f) {
            float *C0s = t_alloc(nc);
            for (int64_t i = 0; i < nc; i++) C0s[i] = 12345.0f;
            ember_cancel tok;
            ember_cancel_init(&tok, NULL);
            tok.trip_at = 2;
            ember_cancel_push(&tok);
            int rc3 = run_mm(q, A, B, bias, C0s, C2, P2, nc, &err);
            ember_cancel_pop(&tok);
            CHECK(rc3 == -1 && tok.tripped && tok.checks == 2 && !strcmp(err.msg, EMBER_CANCEL_MSG),
                  "case %zu: the product did not stop at its 2nd check (rc %d, checks %lld)", ci, rc3,
                  (long long)tok.checks);
            int64_t done = 0;
            while (done < q->m && C2[done * ldc] != 12345.0f) done++;
            int ok = done >= 128 && done < q->m;
            for (int64_t i = 0; i < nc; i++) {
                int written = i < done * ldc && i % ldc < q->n;
                ok &= written ? C2[i] == C1[i] : C2[i] == 12345.0f;
            }
            CHECK(ok, "case %zu: stopped mid-product after %lld rows: the first blocks must be written, the rest "
                      "untouched", ci, (long long)done);
            free(C0s);
        }
        cpu_set_chunk_flops(old);
        free(A), free(B), free(bias), free(C0), free(C1), free(P1), free(C2), free(P2);
    }
}

static void test_attention_chunks(void) {
    enum { Bn = 5, T = 40, C = 48, H = 4 };
    const int64_t nq = (int64_t)Bn * T * 3 * C, no = (int64_t)Bn * T * C, nl = (int64_t)Bn * H * T;
    float *qkv = t_alloc(nq), *dout = t_alloc(no);
    float *o1 = t_alloc(no), *l1 = t_alloc(nl), *d1 = t_alloc(nq), *o2 = t_alloc(no), *l2 = t_alloc(nl),
          *d2 = t_alloc(nq);
    t_fill(qkv, nq, 1.0);
    t_fill(dout, no, 1.0);
    ember_tensor tq = tview(qkv, 3, Bn, T, 3 * C), tdo = tview(dout, 3, Bn, T, C);
    for (int causal = 0; causal < 2; causal++) {
        ember_tensor to1 = tview(o1, 3, Bn, T, C), tl1 = tview(l1, 3, Bn, H, T), td1 = tview(d1, 3, Bn, T, 3 * C);
        ember_tensor to2 = tview(o2, 3, Bn, T, C), tl2 = tview(l2, 3, Bn, H, T), td2 = tview(d2, 3, Bn, T, 3 * C);
        ember_err err = {{0}};
        int64_t old = cpu_set_chunk_flops(0);
        OK(cpu->attention_fwd(cpu, &to1, &tl1, &tq, H, causal, &err_) ||
           cpu->attention_bwd(cpu, &td1, &tdo, &tq, &to1, &tl1, H, causal, &err_));
        cpu_set_chunk_flops(1); /* one round of the threads per chunk */
        OK(cpu->attention_fwd(cpu, &to2, &tl2, &tq, H, causal, &err_) ||
           cpu->attention_bwd(cpu, &td2, &tdo, &tq, &to1, &tl1, H, causal, &err_));
        CHECK(same_bits(o1, o2, no) && same_bits(l1, l2, nl) && same_bits(d1, d2, nq),
              "causal %d: attention in groups of heads differs from in one piece", causal);
        /* Stopped at the 2nd check: the last batch's heads were not run. */
        for (int64_t i = 0; i < no; i++) o2[i] = 12345.0f;
        for (int64_t i = 0; i < nq; i++) d2[i] = 12345.0f;
        for (int pass = 0; pass < 2; pass++) {
            ember_cancel tok;
            ember_cancel_init(&tok, NULL);
            tok.trip_at = 2;
            ember_cancel_push(&tok);
            int rc = pass == 0 ? cpu->attention_fwd(cpu, &to2, &tl2, &tq, H, causal, &err)
                               : cpu->attention_bwd(cpu, &td2, &tdo, &tq, &to1, &tl1, H, causal, &err);
            ember_cancel_pop(&tok);
            const float *got = pass == 0 ? o2 : d2, *want = pass == 0 ? o1 : d1;
            int64_t row = pass == 0 ? C : 3 * C, last = (int64_t)(Bn - 1) * T * row;
            CHECK(rc == -1 && tok.tripped && tok.checks == 2, "causal %d %s: did not stop at its 2nd check (rc %d)",
                  causal, pass ? "backward" : "forward", rc);
            CHECK(same_bits(got, want, row) && got[last] == 12345.0f,
                  "causal %d %s: the first heads must be done and the last batch untouched", causal,
                  pass ? "backward" : "forward");
        }
        cpu_set_chunk_flops(old);
    }
    free(qkv), free(dout), free(o1), free(l1), free(d1), free(o2), free(l2), free(d2);
}

/* ---- 3. the ViT checks before every op ------------------------------------------ */

static ember_vit_config small(void) {
    ember_vit_config c = ember_vit_default_config();
    c.image_size = 8;
    c.patch = 2;
    c.dim = 12;
    c.depth = 2;
    c.heads = 3;
    c.mlp_hidden = 20;
    c.num_classes = 5;
    c.dropout = 0.1f;
    return c;
}

enum { NB = 3 };

static void batch(const ember_vit_config *c, float *img, int32_t *lab) {
    t_fill(img, (int64_t)NB * c->in_chans * c->image_size * c->image_size, 1.0);
    for (int i = 0; i < NB; i++) lab[i] = (int32_t)(t_next() % (uint64_t)c->num_classes);
}

static atomic_int user_flag;
static void user_interrupts(void *ctx) {
    (void)ctx;
    atomic_store(&user_flag, 1);
}

/* Runs pass (0 forward, 1 backward) with the flag raised while op k runs;
 * returns the pass's result, *issued the ops it issued. */
static int pass_interrupted(ember_vit *v, int pass, int k, int *issued, int *tripped) {
    trace_reset();
    atomic_store(&user_flag, 0);
    trace_after_call(k, user_interrupts, NULL);
    ember_cancel tok;
    ember_cancel_init(&tok, &user_flag);
    ember_cancel_push(&tok);
    ember_err err = {{0}};
    int rc = pass == 0 ? ember_vit_forward(v, 1, &err) : ember_vit_backward(v, 1, &err);
    ember_cancel_pop(&tok);
    *issued = trace_count();
    *tripped = tok.tripped;
    CHECK(rc == 0 || strstr(err.msg, EMBER_CANCEL_MSG), "the stop's message: %s", err.msg);
    return rc;
}

static void test_vit_op_boundaries(void) {
    ember_vit_config c = small();
    ember_vit v;
    OK(ember_vit_create(&v, &c, trace_backend(), 5, &err_));
    float img[NB * 3 * 8 * 8];
    int32_t lab[NB];
    batch(&c, img, lab);
    OK(ember_vit_upload_batch(&v, img, lab, NB, &err_));
    OK(ember_vit_begin_step(&v, 1e-3f, &err_));
    for (int pass = 0; pass < 2; pass++) {
        trace_reset();
        if (pass == 0)
            OK(ember_vit_forward(&v, 1, &err_));
        else
            OK(ember_vit_loss(&v, &err_) || (trace_reset(), ember_vit_backward(&v, 1, &err_)));
        int n = trace_count();
        CHECK(n > 20, "pass %d issued only %d ops", pass, n);
        for (int k = 1; k <= n; k++) {
            int issued = 0, tripped = 0;
            int rc = pass_interrupted(&v, pass, k, &issued, &tripped);
            if (k < n)
                CHECK(rc == -1 && tripped && issued == k,
                      "%s: interrupted during op %d of %d, it went on to %d ops (rc %d)",
                      pass ? "backward" : "forward", k, n, issued, rc);
            else /* during the last op: nothing is left to stop */
                CHECK(rc == 0 && !tripped && issued == n, "%s: interrupted during its last op", pass ? "backward" : "forward");
        }
    }
    ember_vit_destroy(&v);
    trace_reset();
}

/* A step on the recording backend with the flag raised while op k runs:
 * for every op before AdamW the step stops and AdamW is never issued (nor t
 * or the dropout offset advanced); raised during AdamW itself, the step is
 * complete. */
static void test_step_op_boundaries(void) {
    ember_vit_config c = small();
    ember_vit v;
    OK(ember_vit_create(&v, &c, trace_backend(), 5, &err_));
    float img[NB * 3 * 8 * 8];
    int32_t lab[NB];
    batch(&c, img, lab);
    OK(ember_vit_upload_batch(&v, img, lab, NB, &err_));
    trace_reset();
    float loss;
    int32_t correct;
    OK(ember_vit_train_step_count(&v, 1e-3f, &loss, &correct, &err_));
    int n = trace_count(), at = 0;
    for (int i = 0; i < n; i++)
        if (!strncmp(trace_line(i), "adamw", 5)) at = i + 1;
    CHECK(at == n, "AdamW must be the step's last op (op %d of %d)", at, n);
    for (int k = 1; k <= n; k++) {
        trace_reset();
        atomic_store(&user_flag, 0);
        trace_after_call(k, user_interrupts, NULL);
        ember_cancel tok;
        ember_cancel_init(&tok, &user_flag);
        ember_cancel_push(&tok);
        int64_t t = v.t;
        uint64_t rng = v.rng_offset;
        ember_err err = {{0}};
        int rc = ember_vit_train_step_count(&v, 1e-3f, &loss, &correct, &err);
        ember_cancel_pop(&tok);
        int adamw = 0;
        for (int i = 0; i < trace_count(); i++) adamw |= !strncmp(trace_line(i), "adamw", 5);
        if (k < at)
            CHECK(rc == -1 && tok.tripped && !adamw && v.t == t && v.rng_offset == rng,
                  "interrupted during op %d of %d (%.40s): rc %d, AdamW issued %d, t %lld -> %lld", k, n,
                  trace_line(k - 1), rc, adamw, (long long)t, (long long)v.t);
        else
            CHECK(rc == 0 && adamw && v.t == t + 1, "interrupted during AdamW, the step must be complete");
    }
    ember_vit_destroy(&v);
    trace_reset();
}

/* ---- 4. a step is applied whole or not at all ------------------------------------- */

typedef struct snap {
    float *w, *m, *v;
    int64_t t;
    uint64_t rng;
} snap;

static snap take(const ember_vit *v) {
    snap s = {t_alloc(v->n_elems), t_alloc(v->n_elems), t_alloc(v->n_elems), v->t, v->rng_offset};
    memcpy(s.w, v->w.data, (size_t)v->n_elems * sizeof(float));
    memcpy(s.m, v->m.data, (size_t)v->n_elems * sizeof(float));
    memcpy(s.v, v->v.data, (size_t)v->n_elems * sizeof(float));
    return s;
}

static int same_state(const snap *a, const snap *b, int64_t n) {
    return a->t == b->t && a->rng == b->rng && same_bits(a->w, b->w, n) && same_bits(a->m, b->m, n) &&
           same_bits(a->v, b->v, n);
}

static void drop_snap(snap *s) { free(s->w), free(s->m), free(s->v); }

/* chunk_flops 0: the default (no op of this model is split); small: every
 * elementwise and row op in many chunks, so trips land inside ops too. */
static void test_step_atomic(int64_t chunk_flops) {
    int64_t old_chunk = cpu_set_chunk_flops(chunk_flops);
    ember_vit_config c = small();
    ember_vit a, ref;
    OK(ember_vit_create(&a, &c, cpu, 9, &err_));
    OK(ember_vit_create(&ref, &c, cpu, 9, &err_));
    float img[NB * 3 * 8 * 8];
    int32_t lab[NB];
    batch(&c, img, lab);
    OK(ember_vit_upload_batch(&a, img, lab, NB, &err_));
    OK(ember_vit_upload_batch(&ref, img, lab, NB, &err_));
    /* One plain step each, so m, v and t are not zero. */
    float la = 0, lr_ = 0;
    int32_t ca = 0, cr = 0;
    OK(ember_vit_train_step_count(&a, 1e-2f, &la, &ca, &err_));
    OK(ember_vit_train_step_count(&ref, 1e-2f, &lr_, &cr, &err_));
    /* The reference's second step, under a token that never trips: how
     * many checks a step makes (and that checking changes no result). */
    ember_cancel count;
    ember_cancel_init(&count, NULL);
    ember_cancel_push(&count);
    OK(ember_vit_train_step_count(&ref, 1e-2f, &lr_, &cr, &err_));
    ember_cancel_pop(&count);
    int64_t n = count.checks;
    CHECK(n > (chunk_flops ? 400 : 40), "a step made only %lld checks", (long long)n);
    /* Every check; with small chunks (thousands of checks) every stride-th
     * and the last ones, which cover the end of the backward and the check
     * before AdamW. */
    int64_t stride = chunk_flops ? n / 150 + 1 : 1;
    for (int64_t k = 1; k <= n; k = k >= n - 2 ? k + 1 : k + stride < n - 2 ? k + stride : n - 2) {
        snap before = take(&a);
        ember_cancel tok;
        ember_cancel_init(&tok, NULL);
        tok.trip_at = k;
        ember_cancel_push(&tok);
        ember_err err = {{0}};
        int rc = ember_vit_train_step_count(&a, 1e-2f, &la, &ca, &err);
        ember_cancel_pop(&tok);
        snap after = take(&a);
        CHECK(rc == -1 && tok.tripped && tok.checks == k,
              "chunks %lld: tripped at check %lld of %lld: rc %d, %lld checks", (long long)chunk_flops,
              (long long)k, (long long)n, rc, (long long)tok.checks);
        CHECK(same_state(&before, &after, a.n_elems),
              "chunks %lld: tripped at check %lld of %lld: weights, m, v, t or the dropout offset changed",
              (long long)chunk_flops, (long long)k, (long long)n);
        drop_snap(&before);
        drop_snap(&after);
    }
    /* Now the step itself: the same as the uninterrupted model's. */
    OK(ember_vit_train_step_count(&a, 1e-2f, &la, &ca, &err_));
    snap sa = take(&a), sr = take(&ref);
    CHECK(same_state(&sa, &sr, a.n_elems) && la == lr_ && ca == cr,
          "after %lld interrupted attempts the step differs from an uninterrupted one", (long long)n);
    drop_snap(&sa);
    drop_snap(&sr);
    ember_vit_destroy(&a);
    ember_vit_destroy(&ref);
    cpu_set_chunk_flops(old_chunk);
}

/* A whole training step with every op cut into small chunks equals the
 * step in one piece. 1,024 tokens of width 256 make the products large
 * enough to split (a chunk of a product is at least 2^25 multiply-adds). */
static void test_step_chunked(void) {
    ember_vit_config c = ember_vit_default_config();
    c.image_size = 16;
    c.patch = 2; /* 64 tokens */
    c.dim = 256;
    c.depth = 1;
    c.heads = 4;
    c.mlp_hidden = 512;
    c.num_classes = 10;
    enum { B2 = 16 };
    ember_vit a, b;
    OK(ember_vit_create(&a, &c, cpu, 3, &err_));
    OK(ember_vit_create(&b, &c, cpu, 3, &err_));
    float *img = t_alloc((int64_t)B2 * 3 * 16 * 16);
    int32_t lab[B2];
    for (int i = 0; i < B2; i++) lab[i] = (i * 7) % 10;
    t_fill(img, (int64_t)B2 * 3 * 16 * 16, 1.0);
    OK(ember_vit_upload_batch(&a, img, lab, B2, &err_));
    OK(ember_vit_upload_batch(&b, img, lab, B2, &err_));
    float la = 0, lb = 0;
    for (int s = 0; s < 2; s++) {
        int64_t old = cpu_set_chunk_flops(0);
        OK(ember_vit_train_step(&a, 1e-3f, &la, &err_));
        cpu_set_chunk_flops(1 << 16);
        OK(ember_vit_train_step(&b, 1e-3f, &lb, &err_));
        cpu_set_chunk_flops(old);
    }
    snap sa = take(&a), sb = take(&b);
    CHECK(same_state(&sa, &sb, a.n_elems) && la == lb, "two steps in chunks differ from two in one piece");
    drop_snap(&sa);
    drop_snap(&sb);
    free(img);
    ember_vit_destroy(&a);
    ember_vit_destroy(&b);
}

int main(void) {
    cpu = ember_backend_cpu();
    test_token();
    test_matmul_chunks();
    test_attention_chunks();
    test_vit_op_boundaries();
    test_step_op_boundaries();
    test_step_atomic(0);
    test_step_atomic(256);
    test_step_chunked();
    return t_finish("test_cancel");
}
