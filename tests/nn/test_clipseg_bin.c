/* test_clipseg_bin.c — CLIPSeg from PyTorch checkpoints (pytorch_model.bin
 * written by transformers 4's save_pretrained(safe_serialization=False),
 * tests/nn/gen_clipseg_bin_fixtures.py), opened with engine/data's
 * ember_weights_open and loaded with ember_clipseg_load_file:
 *   - the micro model (CLIP's 49,408-id vocabulary) against transformers'
 *     float64 logits (normwise 1e-4, as test_clipseg.c), and bit for bit
 *     against its safetensors twin (the same tensors written with
 *     ember_st_write and loaded with ember_clipseg_load);
 *   - a bf16 checkpoint (clipseg_plain in bfloat16): the tensors stay bf16
 *     in the reader and are widened at load, bit for bit what the plain
 *     fixture's f32 weights rounded to bf16 give;
 *   - one open file serves two loads (the GPU attempt, then the CPU);
 *   - a checkpoint of another model is refused naming it once.
 * argv[1]: the fixtures dir; argv[2]: a scratch dir. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/bf16.h"
#include "core/safetensors.h"
#include "data/weights.h"
#include "nn/clipseg.h"
#include "test_util.h"

static char fix[1024], scratch[1024];

static const char *fp(const char *name) {
    static char buf[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", fix, name);
    return buf[k];
}

static float *read_f32(const ember_st_file *f, const char *name, int64_t *n) {
    const ember_st_entry *e = ember_st_find(f, name);
    if (!e || e->dtype != EMBER_F32) return NULL;
    float *p = malloc(e->nbytes ? e->nbytes : 1);
    if (p) memcpy(p, f->data + e->offset, e->nbytes);
    *n = (int64_t)(e->nbytes / 4);
    return p;
}

static int32_t *read_i32(const ember_st_file *f, const char *name, const ember_st_entry **out) {
    const ember_st_entry *e = ember_st_find(f, name);
    *out = e;
    if (!e || e->dtype != EMBER_I32) return NULL;
    int32_t *p = malloc(e->nbytes);
    if (p) memcpy(p, f->data + e->offset, e->nbytes);
    return p;
}

/* Writes f's float tensors to path as f32 safetensors; with round_bf16 each
 * value is first rounded to bfloat16 (what model.to(torch.bfloat16) does). */
static int write_twin(const ember_st_file *f, const char *path, int round_bf16) {
    ember_err err = {{0}};
    ember_tensor *ts = calloc(f->count, sizeof *ts);
    ember_st_item *items = calloc(f->count, sizeof *items);
    size_t n = 0;
    int rc = !ts || !items;
    for (size_t i = 0; i < f->count && !rc; i++) {
        const ember_st_entry *e = &f->entries[i];
        if (e->dtype != EMBER_F32 && e->dtype != EMBER_BF16) continue;
        if (!strncmp(e->name, "input.", 6) || !strncmp(e->name, "expect.", 7)) continue;
        rc = ember_tensor_host_new(&ts[n], EMBER_F32, e->ndim, e->shape, &err);
        if (rc) break;
        float *d = ts[n].data;
        size_t k = e->nbytes / ember_dtype_size(e->dtype);
        for (size_t j = 0; j < k; j++) {
            float x;
            if (e->dtype == EMBER_F32) {
                memcpy(&x, f->data + e->offset + 4 * j, 4);
            } else {
                uint16_t h;
                memcpy(&h, f->data + e->offset + 2 * j, 2);
                x = ember_bf16_to_f32(h);
            }
            d[j] = round_bf16 ? ember_bf16_round(x) : x;
        }
        items[n].name = e->name;
        items[n].t = &ts[n];
        n++;
    }
    if (!rc) rc = ember_st_write(path, items, n, NULL, &err);
    if (rc) fprintf(stderr, "write_twin %s: %s\n", path, err.msg);
    for (size_t i = 0; i < n; i++) ember_tensor_free(&ts[i]);
    free(ts);
    free(items);
    return rc;
}

/* The inputs and expected logits of a fixture file. */
typedef struct inputs {
    ember_st_file f;
    float *pix, *expect;
    int32_t *ids, *eos;
    int64_t nlog;
    int P, L, S;
} inputs;

static int inputs_open(inputs *in, const char *path) {
    memset(in, 0, sizeof *in);
    ember_err err = {{0}};
    if (ember_st_open(&in->f, path, &err)) {
        CHECK(0, "%s", err.msg);
        return -1;
    }
    int64_t npix;
    const ember_st_entry *eids, *eeos, *epix = ember_st_find(&in->f, "input.pixel_values");
    in->pix = read_f32(&in->f, "input.pixel_values", &npix);
    in->expect = read_f32(&in->f, "expect.logits", &in->nlog);
    in->ids = read_i32(&in->f, "input.ids", &eids);
    in->eos = read_i32(&in->f, "input.eos", &eeos);
    if (!in->pix || !in->expect || !in->ids || !in->eos || !epix) {
        CHECK(0, "%s: fixture tensors missing", path);
        return -1;
    }
    in->P = (int)eids->shape[0];
    in->L = (int)eids->shape[1];
    in->S = (int)epix->shape[3];
    return 0;
}

static void inputs_close(inputs *in) {
    free(in->pix);
    free(in->expect);
    free(in->ids);
    free(in->eos);
    ember_st_close(&in->f);
}

/* The logits of a loaded model on in's inputs (malloc'd), or NULL. */
static float *run(ember_clipseg *m, const inputs *in) {
    int O = ember_clipseg_output_size(m);
    float *logits = calloc((size_t)in->P * O * O, sizeof *logits);
    ember_err err = {{0}};
    if (!logits || ember_clipseg_forward(m, in->pix, in->ids, in->eos, in->P, in->L, logits, NULL, &err)) {
        CHECK(0, "forward: %s", err.msg);
        free(logits);
        return NULL;
    }
    return logits;
}

static void test_micro_bin(void) {
    inputs in;
    if (inputs_open(&in, fp("clipseg_bin_expect.safetensors"))) {
        inputs_close(&in);
        return;
    }
    const char *bin = fp("clipseg_bin/pytorch_model.bin"), *cfg = fp("clipseg_bin/config.json");
    ember_st_file w;
    ember_err err = {{0}};
    int rc = ember_weights_open(&w, bin, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) {
        inputs_close(&in);
        return;
    }
    CHECK(w.owned != NULL && w.map == NULL, "a .bin is converted into an owned buffer");
    const ember_st_entry *emb = ember_st_find(&w, "clip.text_model.embeddings.token_embedding.weight");
    CHECK(emb && emb->dtype == EMBER_F32 && emb->shape[0] == 49408, "the token embedding of CLIP's vocabulary");

    /* Loaded twice from one open file, as clipseg() does after a GPU
     * that could not take the model: the file is only read. */
    ember_clipseg *a = NULL, *b = NULL;
    rc = ember_clipseg_load_file(&a, ember_backend_cpu(), &w, bin, NULL, cfg, in.S, &err);
    CHECK(rc == 0, "load .bin: %s", err.msg);
    rc = rc ? rc : ember_clipseg_load_file(&b, ember_backend_cpu(), &w, bin, NULL, cfg, in.S, &err);
    CHECK(rc == 0, "second load from the same file: %s", err.msg);

    char twin[1200];
    snprintf(twin, sizeof twin, "%s/micro_twin.safetensors", scratch);
    ember_clipseg *t = NULL;
    if (!rc && write_twin(&w, twin, 0) == 0) {
        rc = ember_clipseg_load(&t, ember_backend_cpu(), twin, NULL, cfg, in.S, &err);
        CHECK(rc == 0, "load twin: %s", err.msg);
    }
    ember_st_close(&w);
    if (a && b && t) {
        float *la = run(a, &in), *lb = run(b, &in), *lt = run(t, &in);
        if (la && lb && lt) {
            size_t bytes = (size_t)in.nlog * sizeof(float);
            double e = t_relerr_ff(la, in.expect, in.nlog);
            printf("micro .bin: logits rel err %.2e against transformers (float64)\n", e);
            CHECK(e < 1e-4, "micro .bin parity: %g", e);
            CHECK(memcmp(la, lt, bytes) == 0, "the .bin and its safetensors twin differ");
            CHECK(memcmp(la, lb, bytes) == 0, "two loads from one open file differ");
        }
        free(la);
        free(lb);
        free(lt);
    }
    ember_clipseg_free(a);
    ember_clipseg_free(b);
    ember_clipseg_free(t);
    inputs_close(&in);
}

static void test_bf16_bin(void) {
    inputs in;
    if (inputs_open(&in, fp("clipseg_plain.safetensors"))) {
        inputs_close(&in);
        return;
    }
    const char *bin = fp("clipseg_bf16/pytorch_model.bin"), *cfg = fp("clipseg_plain_config.json");
    ember_st_file w;
    ember_err err = {{0}};
    int rc = ember_weights_open(&w, bin, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) {
        inputs_close(&in);
        return;
    }
    size_t nbf = 0;
    for (size_t i = 0; i < w.count; i++) nbf += w.entries[i].dtype == EMBER_BF16;
    CHECK(nbf > 0 && nbf == w.count, "the reader keeps bf16 tensors bf16 (%zu of %zu)", nbf, w.count);
    ember_clipseg *m = NULL, *r = NULL;
    rc = ember_clipseg_load_file(&m, ember_backend_cpu(), &w, bin, NULL, cfg, in.S, &err);
    CHECK(rc == 0, "load bf16 .bin: %s", err.msg);
    ember_st_close(&w);

    /* The plain fixture's f32 weights, rounded to bf16 here. */
    char twin[1200];
    snprintf(twin, sizeof twin, "%s/plain_bf16_twin.safetensors", scratch);
    if (!rc && write_twin(&in.f, twin, 1) == 0) {
        rc = ember_clipseg_load(&r, ember_backend_cpu(), twin, NULL, cfg, in.S, &err);
        CHECK(rc == 0, "load the rounded twin: %s", err.msg);
    }
    if (m && r) {
        float *lm = run(m, &in), *lr = run(r, &in);
        if (lm && lr) {
            CHECK(memcmp(lm, lr, (size_t)in.nlog * sizeof(float)) == 0,
                  "the bf16 .bin and the f32 weights rounded to bf16 differ");
            /* bf16 weights move the logits, but not far */
            double e = t_relerr_ff(lm, in.expect, in.nlog);
            printf("bf16 .bin: logits rel err %.2e against the f32 model\n", e);
            CHECK(e < 0.1, "bf16 logits far from the f32 model's: %g", e);
        }
        free(lm);
        free(lr);
    }
    ember_clipseg_free(m);
    ember_clipseg_free(r);
    inputs_close(&in);
}

static void test_refusals(void) {
    ember_err err = {{0}};
    ember_clipseg *m = NULL;
    /* a ViT state dict is no CLIPSeg: the path once, the missing tensor named */
    const char *vit = fp("torch/vit_tiny.pt");
    ember_st_file w;
    int rc = ember_weights_open(&w, vit, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (!rc) {
        rc = ember_clipseg_load_file(&m, ember_backend_cpu(), &w, vit, NULL, NULL, 352, &err);
        CHECK(rc != 0 && strstr(err.msg, "not a CLIPSeg checkpoint") && strstr(err.msg, vit) &&
                  !strstr(strstr(err.msg, vit) + 1, vit),
              "%s", err.msg);
        ember_st_close(&w);
    }
    /* no file: said, not a crash */
    rc = ember_clipseg_load_file(&m, ember_backend_cpu(), NULL, NULL, NULL, NULL, 352, &err);
    CHECK(rc != 0 && m == NULL && strstr(err.msg, "no weights file"), "%s", err.msg);
    /* a hostile checkpoint never gets as far as the loader */
    rc = ember_weights_open(&w, fp("torch/bad_os_system.pt"), &err);
    CHECK(rc != 0 && strstr(err.msg, "refusing") && strstr(err.msg, ".system"), "%s", err.msg);
}

int main(int argc, char **argv) {
    snprintf(fix, sizeof fix, "%s", argc > 1 ? argv[1] : "tests/fixtures");
    snprintf(scratch, sizeof scratch, "%s", argc > 2 ? argv[2] : "/tmp/test_clipseg_bin");
    mkdir(scratch, 0755);
    test_micro_bin();
    test_bf16_bin();
    test_refusals();
    return t_finish("test_clipseg_bin");
}
