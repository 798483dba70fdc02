/* train_test.h — shared helpers of the engine/train tests: check macros,
 * the tiny ViT they train, and a synthetic dataset whose class is the
 * image's colour (so a few epochs must learn it). Header-only. */
#ifndef EMBER_TESTS_TRAIN_TEST_H
#define EMBER_TESTS_TRAIN_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "train/fit.h"

static int t_failures;

#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) {                                                \
            t_failures++;                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
            fprintf(stderr, __VA_ARGS__);                             \
            fprintf(stderr, "\n");                                    \
        }                                                             \
    } while (0)

#define OK(call)                                                                          \
    do {                                                                                  \
        ember_err err_ = {{0}};                                                           \
        ember_err *E = &err_;                                                             \
        (void)E;                                                                          \
        int rc_ = (call);                                                                 \
        if (rc_ != 0) {                                                                   \
            fprintf(stderr, "FAIL %s:%d: %s -> %d: %s\n", __FILE__, __LINE__, #call, rc_, \
                    err_.msg);                                                            \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

/* dim 32, depth 2, heads 2, patch 4, 32x32, `classes` outputs. */
static inline ember_vit_config t_tiny_config(int classes) {
    ember_vit_config c = ember_vit_default_config();
    c.image_size = 32;
    c.patch = 4;
    c.dim = 32;
    c.depth = 2;
    c.heads = 2;
    c.mlp_hidden = 64;
    c.num_classes = classes;
    return c;
}

static inline void t_make_vit(ember_vit *vit, int classes, uint64_t seed) {
    ember_vit_config c = t_tiny_config(classes);
    ember_err e = {{0}};
    if (ember_vit_create(vit, &c, ember_backend_cpu(), seed, &e)) {
        fprintf(stderr, "FAIL: creating the tiny ViT: %s\n", e.msg);
        exit(1);
    }
}

static uint64_t t_rng;
static inline uint32_t t_next(void) {
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return (uint32_t)(t_rng >> 16);
}

/* n images of side x side with random classes (< 27); class k is a flat
 * colour whose channel levels are k's base-3 digits (40, 127 or 214) plus
 * uniform noise of +-50 per pixel. */
static inline void t_make_dataset(ember_dataset *ds, int64_t n, int side, int classes, uint64_t salt) {
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "synthetic %d", classes);
    ds->n = n;
    ds->height = ds->width = side;
    ds->channels = 3;
    ds->n_classes = classes;
    for (int k = 0; k < classes; k++) snprintf(ds->classes[k], sizeof ds->classes[k], "class%d", k);
    size_t ib = (size_t)side * side * 3;
    ds->pixels = malloc((size_t)n * ib);
    ds->labels = malloc((size_t)n);
    if (!ds->pixels || !ds->labels) {
        fprintf(stderr, "FAIL: out of memory\n");
        exit(1);
    }
    t_rng = 0x9E3779B97F4A7C15ULL ^ (salt * 0xBF58476D1CE4E5B9ULL) ^ 1;
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(t_next() % (uint32_t)classes);
        ds->labels[i] = (uint8_t)k;
        int base[3], d = k;
        for (int c = 0; c < 3; c++, d /= 3) base[c] = 40 + 87 * (d % 3);
        uint8_t *p = ds->pixels + (size_t)i * ib;
        for (size_t j = 0; j < ib; j++) {
            int v = base[j % 3] + (int)(t_next() % 101) - 50;
            p[j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* The whole parameter buffer on the host (caller frees). */
static inline float *t_weights(const ember_vit *vit) {
    float *w = malloc((size_t)vit->n_elems * sizeof(float));
    ember_err e = {{0}};
    if (!w || vit->be->copy_d2h(vit->be, w, vit->w.data, (size_t)vit->n_elems * sizeof(float), &e) ||
        vit->be->sync(vit->be, &e)) {
        fprintf(stderr, "FAIL: reading the weights: %s\n", e.msg);
        exit(1);
    }
    return w;
}

static inline int t_finish(const char *name) {
    if (t_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, t_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

/* The q1 recipe's train pipeline (Q1_RECIPE.md). */
static inline ember_augment recipe_pipeline(void) {
    ember_augment a;
    memset(&a, 0, sizeof a);
    a.n = 6;
    a.steps[0] = (ember_aug_step){.kind = EMBER_AUG_RANDOM_CROP, .size = 32, .padding = 4};
    a.steps[1] = (ember_aug_step){.kind = EMBER_AUG_HFLIP, .p = 0.5};
    a.steps[2] =
        (ember_aug_step){.kind = EMBER_AUG_COLOR_JITTER, .brightness = 0.2, .contrast = 0.2, .saturation = 0.2};
    a.steps[3] = (ember_aug_step){.kind = EMBER_AUG_RANDOM_AFFINE, .degrees = 15, .translate = 0.1};
    a.steps[4] = (ember_aug_step){.kind = EMBER_AUG_RANDOM_ROTATION, .degrees = 15};
    a.steps[5] = (ember_aug_step){.kind = EMBER_AUG_NORMALIZE,
                                  .mean = {0.4914f, 0.4822f, 0.4465f},
                                  .std = {0.2471f, 0.2435f, 0.2616f}};
    return a;
}

#endif
