/* test_vit_mixed.c — the ViT's bf16 mixed-precision option, checked where
 * there is no GPU:
 *   1. the CPU backend refuses it with a message saying what to do, and the
 *      config check refuses compute dtypes other than f32 and bf16;
 *   2. engine/nn's mixed training step issues exactly the operations, in the
 *      same order, with the same dtypes, shapes, scalars and data flow, as
 *      tests/cuda/vit_mixed.c, the step that was verified on an H200 against
 *      the CPU backend (logits within 3e-3, gradients within 8e-3) and timed
 *      at 4.45 ms: both run on a recording backend (trace_backend.h) and
 *      their traces must be equal line for line. Also the evaluation-mode
 *      forward/backward (dropout off: the f32 -> bf16 casts of the residual
 *      gradient), and that AdamW and loading weights refresh the bf16 copy;
 *   3. the fp32 path issues no bf16 operation at all (its numbers are held
 *      to PyTorch by test_vit_parity). */
#include <unistd.h>

#include "nn/vit.h"
#include "test_util.h"
#include "trace_backend.h"
#include "vit_mixed.h"

static ember_vit_config small(ember_dtype compute) {
    ember_vit_config c = ember_vit_default_config();
    c.image_size = 8;
    c.patch = 2; /* 16 tokens: counts not multiples of 8 anywhere */
    c.dim = 12;
    c.depth = 2;
    c.heads = 3;
    c.mlp_hidden = 20;
    c.num_classes = 5;
    c.dropout = 0.1f;
    c.compute_dtype = compute;
    return c;
}

enum { B = 3 };

static void batch(const ember_vit_config *c, float *img, int32_t *lab) {
    t_fill(img, (int64_t)B * c->in_chans * c->image_size * c->image_size, 1.0);
    for (int i = 0; i < B; i++) lab[i] = (int32_t)(t_next() % (uint64_t)c->num_classes);
}

/* A copy of the current trace. */
typedef struct trace {
    int n;
    char **l;
} trace;

static trace grab(void) {
    trace t = {trace_count(), NULL};
    CHECK(t.n > 0, "the trace overflowed or is empty (%d lines)", t.n);
    if (t.n <= 0) return t;
    t.l = calloc((size_t)t.n, sizeof *t.l);
    for (int i = 0; t.l && i < t.n; i++) t.l[i] = strdup(trace_line(i));
    trace_pause();
    return t;
}

static void drop(trace *t) {
    for (int i = 0; t->l && i < t->n; i++) free(t->l[i]);
    free(t->l);
    t->l = NULL;
    t->n = 0;
}

static int count(const trace *t, const char *needle) {
    int k = 0;
    for (int i = 0; t->l && i < t->n; i++) k += strstr(t->l[i], needle) != NULL;
    return k;
}

/* Equal line for line; reports the first difference. */
static void same(const char *what, const trace *a, const trace *ref) {
    if (!a->l || !ref->l) {
        CHECK(0, "%s: no trace", what);
        return;
    }
    int n = a->n < ref->n ? a->n : ref->n;
    for (int i = 0; i < n; i++)
        if (strcmp(a->l[i], ref->l[i])) {
            CHECK(0, "%s: op %d differs\n  engine/nn: %s\n  vit_mixed: %s", what, i, a->l[i], ref->l[i]);
            return;
        }
    CHECK(a->n == ref->n, "%s: %d ops vs %d in vit_mixed", what, a->n, ref->n);
    printf("%s: %d ops, identical\n", what, a->n);
}

static void test_refused_on_cpu(void) {
    ember_vit_config c = small(EMBER_BF16);
    ember_vit v;
    ember_err e = {{0}};
    int rc = ember_vit_create(&v, &c, ember_backend_cpu(), 1, &e);
    CHECK(rc == -1, "bf16 on the CPU backend must be refused");
    CHECK(strstr(e.msg, "mixed precision (bf16) needs the CUDA backend; use fp32 on the CPU") != NULL,
          "clear message, got '%s'", e.msg);
    ember_vit_destroy(&v); /* safe after a refused create */
    c.compute_dtype = EMBER_U8;
    CHECK(ember_vit_config_check(&c, &e) == -1 && strstr(e.msg, "compute dtype") && strstr(e.msg, "u8"),
          "u8 compute refused: '%s'", e.msg);
    /* fp32, the default, still works on the CPU and computes no bf16 */
    c = small(EMBER_F32);
    CHECK(ember_vit_default_config().compute_dtype == EMBER_F32, "fp32 is the default");
    rc = ember_vit_create(&v, &c, ember_backend_cpu(), 1, &e);
    CHECK(rc == 0, "fp32 on the CPU: %s", e.msg);
    if (!rc) {
        CHECK(v.wb.data == NULL && !ember_vit_mixed(&v), "no bf16 copy in fp32");
        ember_vit_destroy(&v);
    }
}

static void test_same_ops_as_vit_mixed(void) {
    const ember_backend *tb = trace_backend();
    ember_vit_config cm = small(EMBER_BF16), cf = small(EMBER_F32);
    float img[B * 3 * 64];
    int32_t lab[B];
    t_rng_state = 77;
    batch(&cm, img, lab);
    ember_vit eng, ref32, f32;
    vit_mixed mx;
    memset(&mx, 0, sizeof mx);
    ember_err e = {{0}};
    if (ember_vit_create(&eng, &cm, tb, 4242, &e) || ember_vit_create(&ref32, &cf, tb, 4242, &e) ||
        ember_vit_create(&f32, &cf, tb, 4242, &e)) {
        CHECK(0, "create on the trace backend: %s", e.msg);
        return;
    }
    CHECK(eng.wb.data && eng.wb.dtype == EMBER_BF16 && ember_tensor_numel(&eng.wb) == eng.n_elems,
          "mixed: a bf16 weight copy of the whole buffer");
    CHECK(eng.n_elems == ref32.n_elems && eng.rng_per_step == ref32.rng_per_step,
          "same parameter layout as fp32");
    OK(ember_vit_upload_batch(&eng, img, lab, B, &err_));
    OK(ember_vit_upload_batch(&f32, img, lab, B, &err_));
    OK(vit_mixed_init(&mx, &ref32, B, &err_));
    OK(vit_mixed_upload(&mx, img, lab, &err_));
    CHECK(eng.rng_per_step == mx.rng_per_step, "same Philox counters per step (%llu vs %llu)",
          (unsigned long long)eng.rng_per_step, (unsigned long long)mx.rng_per_step);
    /* a later step, so that the step scalars and offsets are not all zero */
    eng.rng_offset = ref32.rng_offset = f32.rng_offset = 5 * eng.rng_per_step;
    eng.t = ref32.t = f32.t = 5;
    OK(ember_vit_begin_step(&eng, 1e-3f, &err_));
    OK(ember_vit_begin_step(&ref32, 1e-3f, &err_));
    OK(ember_vit_begin_step(&f32, 1e-3f, &err_));

    /* the training step: forward with dropout, loss, backward, AdamW */
    trace_reset();
    OK(ember_vit_step_device(&eng, &err_));
    trace a = grab();
    trace_reset();
    OK(vit_mixed_step(&mx, &err_));
    trace r = grab();
    same("mixed training step", &a, &r);
    /* forward: patch, 4 per block, head; backward: 2 per linear with an
     * input gradient, 1 for the patch embedding */
    int mm = (2 + 4 * cm.depth) + (2 + 8 * cm.depth + 1);
    CHECK(count(&a, "matmul") == mm, "%d matrix products, expected %d", count(&a, "matmul"), mm);
    CHECK(count(&a, " a=bf16(") == mm && count(&a, " b=bf16(") == mm, "every matrix product has bf16 operands");
    CHECK(count(&a, "params_bf16=bf16") == 1, "AdamW refreshes the bf16 copy in its pass");
    CHECK(count(&a, "dropout_fwd") == 1 + 3 * cm.depth, "every dropout site");

    /* the fp32 step differs (the comparison above is not vacuous) and
     * carries no bf16 at all */
    trace_reset();
    OK(ember_vit_step_device(&f32, &err_));
    trace f = grab();
    CHECK(f.n > 0 && count(&f, "=bf16") == 0, "fp32 step: no bf16 anywhere (%d lines)", count(&f, "=bf16"));
    CHECK(count(&f, "params_bf16=-") == 1, "fp32 AdamW writes no bf16 copy");
    CHECK(count(&f, "matmul") == mm && count(&f, " a=f32(") == mm, "the fp32 step: the same products in f32");
    drop(&a);
    drop(&r);
    drop(&f);

    /* evaluation-mode forward and backward (dropout off): the backward's
     * dropout sites become dropout_bwd with p = 0, the f32 -> bf16 cast of
     * the residual gradient, as in vit_mixed (test_cuda_vit part B) */
    trace_reset();
    OK(ember_vit_forward(&eng, 0, &err_) || ember_vit_loss(&eng, &err_) || ember_vit_backward(&eng, 0, &err_));
    a = grab();
    trace_reset();
    OK(vit_mixed_forward(&mx, 0, &err_) || vit_mixed_loss(&mx, &err_) || vit_mixed_backward(&mx, 0, &err_));
    r = grab();
    same("mixed forward + backward, dropout off", &a, &r);
    CHECK(count(&a, "dropout_fwd") == 0 && count(&a, "dropout_bwd dx=bf16") == 3 * cm.depth + 1,
          "dropout off: no masks, %d casting dropout_bwd", count(&a, "dropout_bwd dx=bf16"));
    drop(&a);
    drop(&r);

    /* the standalone AdamW and loading weights keep the bf16 copy fresh */
    trace_reset();
    OK(ember_vit_adamw(&eng, 1e-3f, &err_));
    a = grab();
    CHECK(count(&a, "params_bf16=bf16") == 1, "ember_vit_adamw refreshes the bf16 copy");
    drop(&a);
    char path[256];
    snprintf(path, sizeof path, "/tmp/ember_vit_mixed_test_%ld.safetensors", (long)getpid());
    OK(ember_vit_save_safetensors(&eng, path, &err_));
    ember_st_file sf;
    if (!ember_st_open(&sf, path, &e)) {
        trace_reset();
        OK(ember_vit_load_safetensors(&eng, &sf, NULL, &err_));
        a = grab();
        CHECK(count(&a, "cast out=bf16") == 1, "loading weights refreshes the bf16 copy");
        drop(&a);
        ember_st_close(&sf);
    } else {
        CHECK(0, "reopen the checkpoint: %s", e.msg);
    }
    unlink(path);
    trace_reset();
    vit_mixed_free(&mx);
    ember_vit_destroy(&eng);
    ember_vit_destroy(&ref32);
    ember_vit_destroy(&f32);
}

int main(void) {
    test_refused_on_cpu();
    test_same_ops_as_vit_mixed();
    return t_finish("test_vit_mixed");
}
