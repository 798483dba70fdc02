/* test_vit.c — the ViT's bookkeeping and training behaviour on the CPU:
 * the default parameter count (the same number torch gives, checked by the
 * fixture generator), names and layout, initialisation statistics (timm's
 * scheme; test_vit_init.c checks both), config and input errors, a short
 * training run that learns a separable toy task with dropout on,
 * determinism, the safetensors checkpoint round trip, and the MultiStepLR
 * schedule of the recipe. */
#include <unistd.h>

#include "nn/schedule.h"
#include "nn/vit.h"
#include "test_util.h"

static ember_vit_config tiny(void) {
    ember_vit_config c = ember_vit_default_config();
    c.image_size = 8;
    c.patch = 4;
    c.dim = 16;
    c.depth = 2;
    c.heads = 2;
    c.mlp_hidden = 24;
    c.num_classes = 3;
    return c;
}

/* Images whose class sets the mean of one colour channel. */
static void toy_batch(float *img, int32_t *lab, int B, const ember_vit_config *c, uint64_t salt) {
    int64_t hw = (int64_t)c->image_size * c->image_size;
    t_rng_state = salt;
    for (int b = 0; b < B; b++) {
        lab[b] = (int32_t)(t_next() % (uint64_t)c->num_classes);
        for (int ch = 0; ch < c->in_chans; ch++)
            for (int64_t i = 0; i < hw; i++)
                img[((int64_t)b * c->in_chans + ch) * hw + i] = (float)(0.5 * t_normal() + (ch == lab[b] ? 1.0 : 0.0));
    }
}

static void test_counts(void) {
    ember_vit_config d = ember_vit_default_config();
    CHECK(ember_vit_param_count(&d) == 14243722, "default count %lld", (long long)ember_vit_param_count(&d));
    ember_err e = {{0}};
    ember_vit_config bad = d;
    bad.heads = 7;
    CHECK(ember_vit_config_check(&bad, &e) == -1 && strstr(e.msg, "heads"), "heads must divide dim");
    bad = d;
    bad.patch = 5;
    CHECK(ember_vit_config_check(&bad, &e) == -1 && strstr(e.msg, "patch"), "patch must divide image");
    bad = d;
    bad.dropout = 1.0f;
    CHECK(ember_vit_config_check(&bad, &e) == -1, "dropout 1 refused");
    bad = d;
    bad.depth = -1;
    CHECK(ember_vit_config_check(&bad, &e) == -1, "negative depth refused");
}

static void test_init_and_layout(void) {
    ember_vit_config c = ember_vit_default_config();
    c.depth = 1;
    /* The figures below are timm's scheme; test_vit_init.c checks both. */
    c.init = EMBER_VIT_INIT_TIMM;
    ember_vit vit;
    ember_err e = {{0}};
    if (ember_vit_create(&vit, &c, ember_backend_cpu(), 3, &e)) {
        CHECK(0, "create: %s", e.msg);
        return;
    }
    CHECK(vit.n_params == 3 + 12 + 4, "19 tensors, got %d", vit.n_params);
    CHECK(strcmp(vit.params[0].name, "patch_embed.weight") == 0 && vit.params[0].ndim == 4 &&
              vit.params[0].shape[0] == 384 && vit.params[0].shape[1] == 3 && vit.params[0].shape[3] == 4,
          "patch_embed.weight [384, 3, 4, 4]");
    const ember_vit_param *qkv = ember_vit_find_param(&vit, "blocks.0.attn.qkv.weight");
    CHECK(qkv && qkv->shape[0] == 1152 && qkv->shape[1] == 384 && qkv->offset % 64 == 0, "qkv layout");
    CHECK(ember_vit_find_param(&vit, "head.bias") && !ember_vit_find_param(&vit, "cls_token"), "names");
    const float *w = vit.w.data;
    double s = 0, s2 = 0, mx = 0;
    for (int64_t i = 0; i < qkv->numel; i++) {
        double x = w[qkv->offset + i];
        s += x, s2 += x * x, mx = fmax(mx, fabs(x));
    }
    double mean = s / qkv->numel, sd = sqrt(s2 / qkv->numel - mean * mean);
    CHECK(fabs(mean) < 1e-3 && fabs(sd - 0.02) < 5e-4 && mx < 0.15, "linear init N(0, 0.02): mean %g sd %g", mean, sd);
    const ember_vit_param *pe = ember_vit_find_param(&vit, "patch_embed.weight");
    double bound = 1 / sqrt(48.0), pm = 0;
    for (int64_t i = 0; i < pe->numel; i++) pm = fmax(pm, fabs(w[pe->offset + i]));
    CHECK(pm <= bound && pm > 0.95 * bound, "patch init U(+-1/sqrt(48)): max %g", pm);
    const ember_vit_param *ln = ember_vit_find_param(&vit, "blocks.0.norm1.weight"),
                          *lb = ember_vit_find_param(&vit, "blocks.0.attn.qkv.bias");
    CHECK(w[ln->offset] == 1.0f && w[ln->offset + 383] == 1.0f && w[lb->offset + 7] == 0.0f, "LN ones, zero biases");
    ember_vit_destroy(&vit);
}

static void test_training(void) {
    ember_vit_config c = tiny();
    ember_err e = {{0}};
    ember_vit a, b;
    const ember_backend *be = ember_backend_cpu();
    if (ember_vit_create(&a, &c, be, 11, &e) || ember_vit_create(&b, &c, be, 11, &e)) {
        CHECK(0, "create: %s", e.msg);
        return;
    }
    enum { B = 16 };
    float img[B * 3 * 64];
    int32_t lab[B];
    float first = 0, last = 0, lb = 0;
    for (int step = 0; step < 60; step++) {
        toy_batch(img, lab, B, &c, 1000 + (uint64_t)step);
        float la = 0;
        OK(ember_vit_upload_batch(&a, img, lab, B, &err_));
        OK(ember_vit_train_step(&a, 3e-3f, &la, &err_));
        OK(ember_vit_upload_batch(&b, img, lab, B, &err_));
        OK(ember_vit_train_step(&b, 3e-3f, &lb, &err_));
        CHECK(la == lb, "same seed, same data: same loss at step %d (%g vs %g)", step, la, lb);
        CHECK(isfinite(la), "finite loss");
        if (step < 5) first += la / 5;
        if (step >= 55) last += la / 5;
    }
    printf("toy task: loss %.4f -> %.4f\n", first, last);
    CHECK(last < 0.6 * first, "training lowers the loss: %.4f -> %.4f", first, last);
    toy_batch(img, lab, B, &c, 99);
    float el;
    int32_t correct = -1;
    OK(ember_vit_upload_batch(&a, img, lab, B, &err_));
    OK(ember_vit_eval_batch(&a, 0.0f, &el, &correct, &err_));
    printf("toy task: eval loss %.4f, %d/%d correct\n", el, correct, B);
    CHECK(correct >= B * 3 / 4, "learned the toy task: %d/%d", correct, B);

    /* Dropout really is on in training: same weights, another mask, another loss. */
    float l1, l2;
    OK(ember_vit_begin_step(&a, 0.0f, &err_));
    OK(ember_vit_forward(&a, 1, &err_));
    OK(ember_vit_loss(&a, &err_));
    l1 = *(float *)a.acts.loss.data;
    a.rng_offset += a.rng_per_step;
    OK(ember_vit_begin_step(&a, 0.0f, &err_));
    OK(ember_vit_forward(&a, 1, &err_));
    OK(ember_vit_loss(&a, &err_));
    l2 = *(float *)a.acts.loss.data;
    CHECK(l1 != l2, "dropout masks change with the step offset");

    /* Checkpoint round trip. */
    char path[256];
    snprintf(path, sizeof path, "/tmp/ember_vit_test_%ld.safetensors", (long)getpid());
    OK(ember_vit_save_safetensors(&a, path, &err_));
    ember_vit cvit;
    if (!ember_vit_create(&cvit, &c, be, 999, &e)) {
        ember_st_file f;
        OK(ember_st_open(&f, path, &err_));
        OK(ember_vit_load_safetensors(&cvit, &f, NULL, &err_));
        CHECK(memcmp(cvit.w.data, a.w.data, (size_t)a.n_elems * 4) == 0, "weights survive save + load");
        ember_st_close(&f);
        ember_vit_destroy(&cvit);
    }
    /* A checkpoint of another size is refused with the tensor's name. */
    ember_vit_config other = c;
    other.dim = 32;
    if (!ember_vit_create(&cvit, &other, be, 1, &e)) {
        ember_st_file f;
        OK(ember_st_open(&f, path, &err_));
        CHECK(ember_vit_load_safetensors(&cvit, &f, NULL, &e) == -1 && strstr(e.msg, "patch_embed.weight"),
              "size mismatch: %s", e.msg);
        ember_st_close(&f);
        ember_vit_destroy(&cvit);
    }
    unlink(path);

    /* A smaller last batch reuses the arena; the full size comes back at the same addresses. */
    void *base = a.act_arena.base, *imgs = a.acts.images.data;
    OK(ember_vit_upload_batch(&a, img, lab, 5, &err_));
    CHECK(a.act_arena.base == base && a.acts.batch == 5, "partial batch without reallocation");
    OK(ember_vit_eval_batch(&a, 0.0f, &el, &correct, &err_));
    CHECK(correct >= 0 && correct <= 5 && isfinite(el), "partial batch evaluates");
    OK(ember_vit_set_batch(&a, B, &err_));
    CHECK(a.acts.images.data == imgs, "same addresses for the same batch size");

    /* Bad input. */
    lab[3] = 3;
    CHECK(ember_vit_upload_batch(&a, img, lab, B, &e) == -1 && strstr(e.msg, "outside"), "bad label: %s", e.msg);
    CHECK(ember_vit_set_batch(&a, 0, &e) == -1, "batch 0 refused");
    CHECK(ember_vit_train_step(&a, -1.0f, NULL, &e) == -1, "negative lr refused");
    ember_vit_destroy(&a);
    ember_vit_destroy(&b);
}

static void test_schedule(void) {
    const int ms[2] = {50, 75};
    CHECK(ember_lr_multistep(3e-4f, 0, ms, 2, 0.1f) == 3e-4f, "epoch 0");
    CHECK(ember_lr_multistep(3e-4f, 49, ms, 2, 0.1f) == 3e-4f, "epoch 49");
    CHECK(fabsf(ember_lr_multistep(3e-4f, 50, ms, 2, 0.1f) / 3e-5f - 1) < 1e-6f, "epoch 50");
    CHECK(fabsf(ember_lr_multistep(3e-4f, 74, ms, 2, 0.1f) / 3e-5f - 1) < 1e-6f, "epoch 74");
    CHECK(fabsf(ember_lr_multistep(3e-4f, 99, ms, 2, 0.1f) / 3e-6f - 1) < 1e-6f, "epoch 99");
    CHECK(ember_lr_multistep(1.0f, 10, NULL, 0, 0.1f) == 1.0f, "no milestones");
}

int main(void) {
    test_schedule();
    test_counts();
    test_init_and_layout();
    test_training();
    return t_finish("test_vit");
}
