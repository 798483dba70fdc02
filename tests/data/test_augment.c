/* test_augment.c — the q1 augmentations (data/augment.h): each fixed-parameter
 * op against torchvision's bytes (tests/fixtures/augment_ops.safetensors, made
 * by tests/data/gen_augment_fixtures.py), the random draws' ranges and
 * frequencies, determinism across thread counts, the shuffle, the parameter
 * checks; and it prints the time of one recipe batch.
 *
 * Usage: test_data_augment <shared data dir> <fixtures dir> <scratch dir>
 * (only the fixtures dir is used: the images are synthetic). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "core/safetensors.h"
#include "data/augment.h"
#include "test_util.h"


static uint64_t rng_state = 0x5eed;
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* The q1 recipe (Q1_RECIPE.md). */
static ember_augment recipe(void) {
    ember_augment a;
    memset(&a, 0, sizeof a);
    a.n = 6;
    a.steps[0].kind = EMBER_AUG_RANDOM_CROP;
    a.steps[0].size = 32;
    a.steps[0].padding = 4;
    a.steps[1].kind = EMBER_AUG_HFLIP;
    a.steps[1].p = 0.5;
    a.steps[2].kind = EMBER_AUG_COLOR_JITTER;
    a.steps[2].brightness = a.steps[2].contrast = a.steps[2].saturation = 0.2;
    a.steps[3].kind = EMBER_AUG_RANDOM_AFFINE;
    a.steps[3].degrees = 15;
    a.steps[3].translate = 0.1;
    a.steps[4].kind = EMBER_AUG_RANDOM_ROTATION;
    a.steps[4].degrees = 15;
    a.steps[5].kind = EMBER_AUG_NORMALIZE;
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2471f, 0.2435f, 0.2616f};
    memcpy(a.steps[5].mean, mean, sizeof mean);
    memcpy(a.steps[5].std, std, sizeof std);
    return a;
}

/* ---- fixtures --------------------------------------------------------------- */

static ember_st_file fx;

static const ember_st_entry *need(const char *name, ember_dtype dt) {
    const ember_st_entry *e = ember_st_find(&fx, name);
    if (!e || e->dtype != dt) {
        fprintf(stderr, "fixture: tensor %s missing or of the wrong dtype; regenerate with "
                        "tests/data/gen_augment_fixtures.py\n", name);
        exit(1);
    }
    return e;
}
static const uint8_t *bytes_of(const ember_st_entry *e) { return fx.data + e->offset; }
static int32_t i32_at(const ember_st_entry *e, int64_t i) {
    int32_t v;
    memcpy(&v, bytes_of(e) + 4 * i, 4);
    return v;
}
static float f32_at(const ember_st_entry *e, int64_t i) {
    float v;
    memcpy(&v, bytes_of(e) + 4 * i, 4);
    return v;
}

/* Byte-for-byte comparison (every op is exact: no tolerance); prints the
 * first difference. */
static int same_bytes(const char *what, int k, const uint8_t *got, const uint8_t *want, int w, int h,
                      int c) {
    size_t n = (size_t)w * h * c, bad = 0, first = 0;
    int maxd = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            if (!bad) first = i;
            bad++;
            int d = abs((int)got[i] - (int)want[i]);
            if (d > maxd) maxd = d;
        }
    if (bad) {
        size_t p = first / c;
        fprintf(stderr,
                "%s case %d: %zu of %zu bytes differ from torchvision (max %d levels); first at "
                "x=%zu y=%zu ch=%zu: got %d want %d\n",
                what, k, bad, n, maxd, p % (size_t)w, p / (size_t)w, first % c, got[first], want[first]);
        t_failures++;
    }
    return bad == 0;
}

/* Runs op `op` (0 crop, 1 hflip, 2 brightness, 3 contrast, 4 saturation,
 * 5 affine, 6 rotate) with fixture parameters p[3] on src into dst. */
static void run_op(int op, const uint8_t *src, int w, int h, int c, const float *p, uint8_t *dst) {
    switch (op) {
    case 0: ember_aug_crop(src, w, h, c, (int)p[2], (int)p[0], (int)p[1], w, h, dst); break;
    case 1: ember_aug_hflip(src, w, h, c, dst); break;
    case 2: ember_aug_brightness(src, w, h, c, p[0], dst); break;
    case 3: ember_aug_contrast(src, w, h, c, p[0], dst); break;
    case 4: ember_aug_saturation(src, w, h, c, p[0], dst); break;
    case 5: ember_aug_affine(src, w, h, c, p[0], (int)p[1], (int)p[2], dst); break;
    default: ember_aug_rotate(src, w, h, c, p[0], dst); break;
    }
}

static void test_fixture_ops(const char *fixdir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/augment_ops.safetensors", fixdir);
    ember_err err = {{0}};
    if (ember_st_open(&fx, path, &err) != 0) {
        fprintf(stderr, "cannot read the augmentation fixture: %s\n", err.msg);
        t_failures++;
        return;
    }
    /* name, op, input ("images": indices in <name>.img; else one image) */
    static const struct {
        const char *name;
        int op;
        const char *input;
    } groups[] = {
        {"crop", 0, "images"},           {"hflip", 1, "images"},
        {"brightness", 2, "images"},     {"contrast", 3, "images"},
        {"saturation", 4, "images"},     {"brightness_small", 2, "small"},
        {"contrast_small", 3, "small"},  {"saturation_small", 4, "small"},
        {"brightness_grey", 2, "grey"},  {"contrast_grey", 3, "grey"},
        {"saturation_grey", 4, "grey"},
        {"affine", 5, "images"},         {"rotate", 6, "images"},
        {"affine_rect", 5, "rect"},      {"rotate_rect", 6, "rect"},
        {"affine_grey", 5, "grey"},      {"rotate_grey", 6, "grey"},
        {"affine_grey32", 5, "grey32"},  {"rotate_grey32", 6, "grey32"},
    };
    static const char *opname[7] = {"crop",       "hflip",  "brightness", "contrast",
                                    "saturation", "affine", "rotate"};
    uint8_t *buf = xmalloc(32 * 32 * 3);
    int checked = 0, bad_cases = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        char n[96];
        const ember_st_entry *in = need(groups[g].input, EMBER_U8);
        int many = strcmp(groups[g].input, "images") == 0;
        int h = (int)in->shape[many], w = (int)in->shape[many + 1];
        int c = in->ndim == many + 3 ? (int)in->shape[many + 2] : 1;
        size_t isz = (size_t)w * h * c;
        snprintf(n, sizeof n, "%s.param", groups[g].name);
        const ember_st_entry *pa = need(n, EMBER_F32);
        snprintf(n, sizeof n, "%s.out", groups[g].name);
        const ember_st_entry *out = need(n, EMBER_U8);
        const ember_st_entry *ix = NULL;
        if (many) {
            snprintf(n, sizeof n, "%s.img", groups[g].name);
            ix = need(n, EMBER_I32);
        }
        for (int k = 0; k < pa->shape[0]; k++) {
            float p[3] = {f32_at(pa, 3 * k), f32_at(pa, 3 * k + 1), f32_at(pa, 3 * k + 2)};
            const uint8_t *src = bytes_of(in) + (ix ? (size_t)i32_at(ix, k) * isz : 0);
            const uint8_t *want = bytes_of(out) + (size_t)k * isz;
            int op = groups[g].op;
            int ok = 1;
            run_op(op, src, w, h, c, p, buf);
            ok &= same_bytes(groups[g].name, k, buf, want, w, h, c);
            if (op >= 2 && op <= 4) { /* the jitter ops may work in place */
                memcpy(buf, src, isz);
                run_op(op, buf, w, h, c, p, buf);
                ok &= same_bytes(groups[g].name, k, buf, want, w, h, c);
            }
            if (!ok) {
                fprintf(stderr, "  (%s %dx%dx%d, params %.9g %.9g %.9g)\n", opname[op], w, h, c, p[0], p[1],
                        p[2]);
                bad_cases++;
            }
            checked++;
        }
    }
    {   /* to_tensor + normalize: float x / 255, then (x - mean) / std in float as
         * torch does; IEEE division and subtraction make it bit-exact. */
        const ember_st_entry *in = need("small", EMBER_U8), *out = need("norm.out", EMBER_F32);
        const ember_st_entry *mu = need("norm.mean", EMBER_F32), *sd = need("norm.std", EMBER_F32);
        float mean[3], std[3];
        for (int i = 0; i < 3; i++) mean[i] = f32_at(mu, i), std[i] = f32_at(sd, i);
        int w = (int)in->shape[1], h = (int)in->shape[0];
        size_t n = (size_t)w * h * 3;
        float *t = xmalloc(n * sizeof(float));
        ember_aug_to_tensor(bytes_of(in), w, h, 3, mean, std, t);
        double maxd = 0;
        size_t differ = 0;
        for (size_t i = 0; i < n; i++) {
            float want = f32_at(out, (int64_t)i);
            double d = fabs((double)t[i] - (double)want);
            if (d > maxd) maxd = d;
            differ += memcmp(&t[i], &want, sizeof want) != 0;
        }
        CHECK(maxd <= 1e-6, "to_tensor + normalize: max |diff| %g > 1e-6", maxd);
        CHECK(differ == 0, "to_tensor + normalize: %zu of %zu floats not bit-identical (max |diff| %g)",
              differ, n, maxd);
        free(t);
        checked++;
    }
    printf("fixture ops: %d cases compared with torchvision, %d differ\n", checked, bad_cases);
    free(buf);
    ember_st_close(&fx);
}

/* ---- pipeline composition ----------------------------------------------------- */

/* apply_u8 must be the composition of the ops with the drawn parameters, in
 * the recipe's order, with jitter in its drawn order. */
static void test_composition(void) {
    ember_augment a = recipe();
    const int W = 32, H = 32, C = 3;
    size_t isz = (size_t)W * H * C;
    uint8_t *src = xmalloc(isz), *got = xmalloc(isz), *x = xmalloc(isz), *y = xmalloc(isz);
    uint8_t *scratch = xmalloc(2 * isz);
    for (uint64_t stream = 0; stream < 200; stream++) {
        for (size_t i = 0; i < isz; i++) src[i] = (uint8_t)rng_next();
        ember_augment_apply_u8(&a, src, W, H, C, 42, stream, got, scratch);
        ember_aug_draws d;
        memset(&d, 0, sizeof d);
        for (int k = 0; k < a.n; k++) ember_augment_draw(&a, k, W, H, 42, stream, &d);
        ember_aug_crop(src, W, H, C, 4, d.crop_x, d.crop_y, 32, 32, x);
        if (d.flip) {
            ember_aug_hflip(x, W, H, C, y);
            memcpy(x, y, isz);
        }
        for (int i = 0; i < 3; i++) {
            int o = d.jitter_order[i];
            if (o == 0) ember_aug_brightness(x, W, H, C, d.bright_f, x);
            else if (o == 1) ember_aug_contrast(x, W, H, C, d.contrast_f, x);
            else ember_aug_saturation(x, W, H, C, d.sat_f, x);
        }
        ember_aug_affine(x, W, H, C, d.affine_angle, d.affine_tx, d.affine_ty, y);
        ember_aug_rotate(y, W, H, C, d.rot_angle, x);
        CHECK(memcmp(got, x, isz) == 0, "stream %llu: apply_u8 differs from the composed ops",
              (unsigned long long)stream);
        /* apply_f32 = to_tensor(normalize) of apply_u8 */
        float *f = xmalloc(isz * sizeof(float)), *g = xmalloc(isz * sizeof(float));
        ember_augment_apply_f32(&a, src, W, H, C, 42, stream, f, scratch);
        ember_aug_to_tensor(got, W, H, C, a.steps[5].mean, a.steps[5].std, g);
        CHECK(memcmp(f, g, isz * sizeof(float)) == 0, "stream %llu: apply_f32 != to_tensor(apply_u8)",
              (unsigned long long)stream);
        free(f);
        free(g);
    }
    free(src), free(got), free(x), free(y), free(scratch);

    /* A non-square greyscale input, a smaller crop, a certain flip. */
    ember_augment b;
    memset(&b, 0, sizeof b);
    b.n = 2;
    b.steps[0].kind = EMBER_AUG_RANDOM_CROP;
    b.steps[0].size = 24;
    b.steps[0].padding = 2;
    b.steps[1].kind = EMBER_AUG_HFLIP;
    b.steps[1].p = 1.0;
    ember_err err = {{0}};
    CHECK(ember_augment_check(&b, 30, 40, 1, &err) == 0, "crop+flip refused: %s", err.msg);
    int ow, oh;
    ember_augment_out_size(&b, 30, 40, &ow, &oh);
    CHECK(ow == 24 && oh == 24, "out size %dx%d", ow, oh);
    src = xmalloc(30 * 40);
    got = xmalloc(24 * 24);
    x = xmalloc(24 * 24);
    y = xmalloc(24 * 24);
    scratch = xmalloc(2 * 30 * 40);
    for (int i = 0; i < 30 * 40; i++) src[i] = (uint8_t)rng_next();
    for (uint64_t stream = 0; stream < 50; stream++) {
        ember_aug_draws d;
        memset(&d, 0, sizeof d);
        ember_augment_draw(&b, 0, 30, 40, 7, stream, &d);
        CHECK(d.crop_x >= 0 && d.crop_x <= 30 + 4 - 24 && d.crop_y >= 0 && d.crop_y <= 40 + 4 - 24,
              "crop offset %d,%d", d.crop_x, d.crop_y);
        ember_augment_apply_u8(&b, src, 30, 40, 1, 7, stream, got, scratch);
        ember_aug_crop(src, 30, 40, 1, 2, d.crop_x, d.crop_y, 24, 24, x);
        ember_aug_hflip(x, 24, 24, 1, y);
        CHECK(memcmp(got, y, 24 * 24) == 0, "crop+flip stream %llu", (unsigned long long)stream);
    }
    free(src), free(got), free(x), free(y), free(scratch);

    /* Nonsense angles give a black image, not a crash (UBSan watches). */
    uint8_t img[8 * 8 * 3], out[8 * 8 * 3];
    memset(img, 200, sizeof img);
    const double odd[3] = {NAN, INFINITY, 1e300};
    for (int i = 0; i < 3; i++) {
        ember_aug_affine(img, 8, 8, 3, odd[i], 0, 0, out);
        ember_aug_rotate(img, 8, 8, 3, odd[i], out);
    }
    ember_aug_affine(img, 8, 8, 3, NAN, 0, 0, out);
    int zero = 1;
    for (size_t i = 0; i < sizeof out; i++) zero &= out[i] == 0;
    CHECK(zero, "affine by NaN degrees is not black");
}

/* ---- random draws ------------------------------------------------------------- */

static void within(const char *what, double count, double n, double p) {
    double sigma = sqrt(n * p * (1 - p));
    CHECK(fabs(count - n * p) <= 4 * sigma, "%s: %g of %g, expected %g +- %g (4 sigma)", what, count, n,
          n * p, 4 * sigma);
}

static void test_draws(void) {
    ember_augment a = recipe();
    const int N = 20000;
    const uint64_t seed = 1234567;
    int flips = 0, crop_x[9] = {0}, crop_y[9] = {0}, perm[6] = {0}, tx[7] = {0}, ty[7] = {0};
    double fsum[3] = {0}, lo[3] = {9, 9, 9}, hi[3] = {-9, -9, -9};
    double amin = 99, amax = -99, rmin = 99, rmax = -99, asum = 0, rsum = 0;
    for (int s = 0; s < N; s++) {
        uint64_t stream = ember_augment_stream(3, (uint64_t)s);
        ember_aug_draws d;
        memset(&d, 0, sizeof d);
        for (int k = 0; k < a.n; k++) ember_augment_draw(&a, k, 32, 32, seed, stream, &d);
        CHECK(d.crop_x >= 0 && d.crop_x <= 8 && d.crop_y >= 0 && d.crop_y <= 8, "crop offset %d,%d",
              d.crop_x, d.crop_y);
        if (d.crop_x >= 0 && d.crop_x <= 8) crop_x[d.crop_x]++;
        if (d.crop_y >= 0 && d.crop_y <= 8) crop_y[d.crop_y]++;
        flips += d.flip != 0;
        int o0 = d.jitter_order[0], o1 = d.jitter_order[1], o2 = d.jitter_order[2];
        CHECK(o0 >= 0 && o0 < 3 && o1 >= 0 && o1 < 3 && o2 >= 0 && o2 < 3 && o0 != o1 && o1 != o2 &&
                  o0 != o2, "jitter order %d %d %d is not a permutation", o0, o1, o2);
        if (o0 >= 0 && o0 < 3 && o1 >= 0 && o1 < 3) perm[o0 * 2 + (o1 > o0 ? o1 - 1 : o1)]++;
        double f[3] = {d.bright_f, d.contrast_f, d.sat_f};
        for (int i = 0; i < 3; i++) {
            fsum[i] += f[i];
            if (f[i] < lo[i]) lo[i] = f[i];
            if (f[i] > hi[i]) hi[i] = f[i];
        }
        CHECK(d.affine_tx >= -3 && d.affine_tx <= 3 && d.affine_ty >= -3 && d.affine_ty <= 3,
              "affine shift %d,%d outside [-3, 3]", d.affine_tx, d.affine_ty);
        if (d.affine_tx >= -3 && d.affine_tx <= 3) tx[d.affine_tx + 3]++;
        if (d.affine_ty >= -3 && d.affine_ty <= 3) ty[d.affine_ty + 3]++;
        amin = fmin(amin, d.affine_angle), amax = fmax(amax, d.affine_angle), asum += d.affine_angle;
        rmin = fmin(rmin, d.rot_angle), rmax = fmax(rmax, d.rot_angle), rsum += d.rot_angle;
    }
    within("flips (p = 0.5)", flips, N, 0.5);
    for (int v = 0; v < 9; v++) {
        char what[64];
        snprintf(what, sizeof what, "crop x = %d", v);
        within(what, crop_x[v], N, 1.0 / 9);
        snprintf(what, sizeof what, "crop y = %d", v);
        within(what, crop_y[v], N, 1.0 / 9);
    }
    for (int p = 0; p < 6; p++) {
        char what[64];
        snprintf(what, sizeof what, "jitter order #%d", p);
        within(what, perm[p], N, 1.0 / 6);
    }
    for (int i = 0; i < 3; i++) {
        CHECK(lo[i] >= 0.8f && hi[i] <= 1.2f, "jitter factor %d in [%g, %g], outside [0.8, 1.2]", i,
              lo[i], hi[i]);
        CHECK(lo[i] < 0.801 && hi[i] > 1.199, "jitter factor %d does not span [0.8, 1.2]: [%g, %g]",
              i, lo[i], hi[i]);
        /* U(0.8, 1.2): sd 0.4 / sqrt(12); 4 sigma of the mean of N */
        double tol = 4 * 0.4 / sqrt(12.0) / sqrt((double)N);
        CHECK(fabs(fsum[i] / N - 1.0) <= tol, "jitter factor %d: mean %g, expected 1 +- %g", i,
              fsum[i] / N, tol);
    }
    /* round(U(-3.2, 3.2)): the ends take 0.7 / 6.4 each, the others 1 / 6.4 */
    for (int v = -3; v <= 3; v++) {
        double p = (v == -3 || v == 3) ? 0.7 / 6.4 : 1.0 / 6.4;
        char what[64];
        snprintf(what, sizeof what, "affine tx = %d", v);
        within(what, tx[v + 3], N, p);
        snprintf(what, sizeof what, "affine ty = %d", v);
        within(what, ty[v + 3], N, p);
    }
    double atol = 4 * 30 / sqrt(12.0) / sqrt((double)N);
    CHECK(amin >= -15 && amax <= 15 && amin < -14.9 && amax > 14.9, "affine angles span [%g, %g]", amin,
          amax);
    CHECK(rmin >= -15 && rmax <= 15 && rmin < -14.9 && rmax > 14.9, "rotation angles span [%g, %g]", rmin,
          rmax);
    CHECK(fabs(asum / N) <= atol && fabs(rsum / N) <= atol, "angle means %g, %g, expected 0 +- %g",
          asum / N, rsum / N, atol);

    /* Off switches and edge probabilities. */
    ember_augment b;
    memset(&b, 0, sizeof b);
    b.n = 2;
    b.steps[0].kind = EMBER_AUG_HFLIP;
    b.steps[0].p = 0.0;
    b.steps[1].kind = EMBER_AUG_HFLIP;
    b.steps[1].p = 1.0;
    int f0 = 0, f1 = 0;
    for (int s = 0; s < 2000; s++) {
        ember_aug_draws d;
        memset(&d, 0, sizeof d);
        ember_augment_draw(&b, 0, 32, 32, seed, (uint64_t)s, &d);
        f0 += d.flip;
        ember_augment_draw(&b, 1, 32, 32, seed, (uint64_t)s, &d);
        f1 += d.flip;
    }
    CHECK(f0 == 0 && f1 == 2000, "p = 0 flipped %d times, p = 1 flipped %d of 2000", f0, f1);
}

/* ---- determinism and the batch ------------------------------------------------ */

static void test_batch(void) {
    ember_augment a = recipe();
    ember_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = 300;
    ds.width = ds.height = 32;
    ds.channels = 3;
    ds.n_classes = 10;
    ds.pixels = xmalloc((size_t)ds.n * 32 * 32 * 3);
    ds.labels = xmalloc((size_t)ds.n);
    for (int64_t i = 0; i < ds.n * 32 * 32 * 3; i++) ds.pixels[i] = (uint8_t)rng_next();
    for (int64_t i = 0; i < ds.n; i++) ds.labels[i] = (uint8_t)(rng_next() % 10);

    const int64_t B = 128;
    size_t per = 3 * 32 * 32;
    int64_t *idx = xmalloc((size_t)ds.n * sizeof(int64_t));
    ember_shuffle(idx, ds.n, 9, 0);
    float *o1 = xmalloc(B * per * sizeof(float)), *o2 = xmalloc(B * per * sizeof(float));
    int32_t *l1 = xmalloc(B * sizeof(int32_t));
    ember_err err = {{0}};

    omp_set_num_threads(1);
    CHECK(ember_augment_batch(&a, &ds, idx, B, 9, 5, o1, l1, &err) == 0, "batch: %s", err.msg);
    omp_set_num_threads(2);
    CHECK(ember_augment_batch(&a, &ds, idx, B, 9, 5, o2, NULL, &err) == 0, "batch: %s", err.msg);
    CHECK(memcmp(o1, o2, B * per * sizeof(float)) == 0, "batch differs between 1 and 2 threads");
    for (int64_t i = 0; i < B; i++) CHECK(l1[i] == ds.labels[idx[i]], "label %lld", (long long)i);

    /* Each image is apply_f32 with its own stream, whatever its place in the batch. */
    uint8_t *scratch = xmalloc(2 * per);
    float *one = xmalloc(per * sizeof(float));
    for (int64_t i = 0; i < B; i += 17) {
        ember_augment_apply_f32(&a, ember_dataset_image(&ds, idx[i]), 32, 32, 3, 9,
                                ember_augment_stream(5, (uint64_t)idx[i]), one, scratch);
        CHECK(memcmp(one, o1 + i * per, per * sizeof(float)) == 0, "batch image %lld != apply_f32",
              (long long)i);
    }
    /* Same seed and stream: same bytes; another epoch or seed: different. */
    CHECK(ember_augment_batch(&a, &ds, idx, B, 9, 6, o2, NULL, &err) == 0, "batch: %s", err.msg);
    CHECK(memcmp(o1, o2, B * per * sizeof(float)) != 0, "epochs 5 and 6 gave the same batch");
    CHECK(ember_augment_batch(&a, &ds, idx, B, 10, 5, o2, NULL, &err) == 0, "batch: %s", err.msg);
    CHECK(memcmp(o1, o2, B * per * sizeof(float)) != 0, "seeds 9 and 10 gave the same batch");

    /* NULL aug: to_tensor only. */
    CHECK(ember_augment_batch(NULL, &ds, idx, 4, 9, 5, o2, NULL, &err) == 0, "batch: %s", err.msg);
    ember_aug_to_tensor(ember_dataset_image(&ds, idx[3]), 32, 32, 3, NULL, NULL, one);
    CHECK(memcmp(one, o2 + 3 * per, per * sizeof(float)) == 0, "to_tensor-only batch");

    /* Bad indices are refused with a message. */
    int64_t bad[2] = {0, ds.n};
    err.msg[0] = 0;
    CHECK(ember_augment_batch(&a, &ds, bad, 2, 9, 5, o2, NULL, &err) == -1 && strstr(err.msg, "outside"),
          "out-of-range index accepted (%s)", err.msg);

    /* Time of one recipe batch with 2 threads, and 1 for scale (measured,
     * not asserted: the machine may be shared). */
    for (int threads = 2; threads >= 1; threads--) {
        omp_set_num_threads(threads);
        struct timespec t0, t1;
        double best = 1e9;
        for (int rep = 0; rep < 5; rep++) {
            clock_gettime(CLOCK_MONOTONIC, &t0);
            ember_augment_batch(&a, &ds, idx, B, 9, (uint64_t)rep, o2, l1, &err);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
            if (ms < best) best = ms;
        }
        printf("ember_augment_batch: 128 images 32x32, full recipe, %d thread%s: %.3f ms (best of 5), "
               "%.0f images/s\n", threads, threads > 1 ? "s" : "", best, 128 / (best / 1e3));
    }

    free(scratch), free(one), free(idx), free(o1), free(o2), free(l1);
    ember_dataset_free(&ds);
}

/* ---- shuffle ------------------------------------------------------------------- */

static void test_shuffle(void) {
    const int64_t n = 1000;
    int64_t *a = xmalloc(n * sizeof(int64_t)), *b = xmalloc(n * sizeof(int64_t));
    char *seen = xmalloc(n);
    ember_shuffle(a, n, 77, 0);
    memset(seen, 0, n);
    int ok = 1;
    for (int64_t i = 0; i < n; i++) {
        if (a[i] < 0 || a[i] >= n || seen[a[i]]) ok = 0;
        else seen[a[i]] = 1;
    }
    CHECK(ok, "shuffle is not a permutation of 0..n-1");
    ember_shuffle(b, n, 77, 0);
    CHECK(memcmp(a, b, n * sizeof(int64_t)) == 0, "same seed and epoch gave different orders");
    ember_shuffle(b, n, 77, 1);
    CHECK(memcmp(a, b, n * sizeof(int64_t)) != 0, "epochs 0 and 1 gave the same order");
    ember_shuffle(b, n, 78, 0);
    CHECK(memcmp(a, b, n * sizeof(int64_t)) != 0, "seeds 77 and 78 gave the same order");
    int fixed = 0;
    for (int64_t i = 0; i < n; i++) fixed += a[i] == i;
    CHECK(fixed < 10, "%d of %lld elements stayed in place", fixed, (long long)n);
    ember_shuffle(a, 0, 1, 1);
    ember_shuffle(a, 1, 1, 1);
    CHECK(a[0] == 0, "n = 1");

    /* Uniform over the 24 orders of 4 elements. */
    int counts[24] = {0};
    const int E = 24000;
    for (int e = 0; e < E; e++) {
        int64_t p[4];
        ember_shuffle(p, 4, 5, (uint64_t)e);
        /* Lehmer code */
        int code = 0, fact[4] = {6, 2, 1, 1};
        for (int i = 0; i < 4; i++) {
            int smaller = 0;
            for (int j = i + 1; j < 4; j++) smaller += p[j] < p[i];
            code += smaller * fact[i];
        }
        counts[code]++;
    }
    for (int k = 0; k < 24; k++) {
        char what[64];
        snprintf(what, sizeof what, "shuffle order #%d of 4 elements", k);
        within(what, counts[k], E, 1.0 / 24);
    }
    free(a), free(b), free(seen);
}

/* ---- parameter checks ------------------------------------------------------- */

static void expect_refused(const char *what, const ember_augment *a, int w, int h, int c,
                           const char *needle) {
    ember_err err = {{0}};
    int rc = ember_augment_check(a, w, h, c, &err);
    CHECK(rc == -1, "%s: accepted", what);
    CHECK(rc != -1 || strstr(err.msg, needle), "%s: message \"%s\" does not mention \"%s\"", what,
          err.msg, needle);
    if (rc == -1) printf("  refused %-28s %s\n", what, err.msg);
}

static void test_check(void) {
    ember_augment a = recipe();
    ember_err err = {{0}};
    CHECK(ember_augment_check(&a, 32, 32, 3, &err) == 0, "recipe refused: %s", err.msg);
    CHECK(ember_augment_check(NULL, 32, 32, 3, &err) == 0, "NULL (to_tensor only) refused: %s", err.msg);
    int ow, oh;
    ember_augment_out_size(&a, 32, 32, &ow, &oh);
    CHECK(ow == 32 && oh == 32, "out size %dx%d", ow, oh);
    ember_augment b = a;
    b.steps[0].size = 24;
    ember_augment_out_size(&b, 32, 40, &ow, &oh);
    CHECK(ow == 24 && oh == 24, "out size after a 24 crop: %dx%d", ow, oh);

    b = a, b.steps[0].padding = -1;
    expect_refused("negative padding", &b, 32, 32, 3, "padding");
    b = a, b.steps[0].size = 41;
    expect_refused("crop larger than padded", &b, 32, 32, 3, "larger than the padded");
    b = a, b.steps[0].padding = 2000000000;
    expect_refused("huge padding", &b, 32, 32, 3, "padding");
    b = a, b.steps[0].size = 0;
    expect_refused("crop size 0", &b, 32, 32, 3, "size");
    b = a, b.steps[0].size = 40, b.steps[0].padding = 8, b.steps[1] = a.steps[0];
    b.steps[1].size = 24, b.steps[1].padding = 0;
    expect_refused("crop growing past in/out", &b, 32, 32, 3, "intermediate");
    b = a, b.steps[1].p = 1.5;
    expect_refused("p > 1", &b, 32, 32, 3, "[0, 1]");
    b = a, b.steps[1].p = -0.1;
    expect_refused("p < 0", &b, 32, 32, 3, "[0, 1]");
    b = a, b.steps[2].contrast = -0.2;
    expect_refused("negative jitter", &b, 32, 32, 3, "contrast");
    b = a, b.steps[3].degrees = -1;
    expect_refused("negative affine degrees", &b, 32, 32, 3, "degrees");
    b = a, b.steps[4].degrees = -15;
    expect_refused("negative rotation degrees", &b, 32, 32, 3, "degrees");
    b = a, b.steps[3].translate = 1.5;
    expect_refused("translate > 1", &b, 32, 32, 3, "translate");
    b = a, b.steps[3].translate = -0.1;
    expect_refused("translate < 0", &b, 32, 32, 3, "translate");
    b = a, b.steps[4] = a.steps[5], b.steps[5] = a.steps[4];
    expect_refused("normalize not last", &b, 32, 32, 3, "last");
    b = a, b.steps[5].std[1] = 0.0f;
    expect_refused("std 0", &b, 32, 32, 3, "std");
    b = a, b.n = EMBER_AUG_MAX_STEPS + 1;
    expect_refused("too many steps", &b, 32, 32, 3, "steps");
    b = a, b.steps[2].kind = (ember_aug_kind)99;
    expect_refused("unknown kind", &b, 32, 32, 3, "unknown");
    expect_refused("4 channels", &a, 32, 32, 4, "channels");
    expect_refused("empty image", &a, 0, 32, 3, "empty");
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <shared data dir> <fixtures dir> <scratch dir>\n", argv[0]);
        return 2;
    }
    test_fixture_ops(argv[2]);
    test_composition();
    test_draws();
    test_shuffle();
    test_check();
    test_batch();
    if (t_failures) {
        fprintf(stderr, "test_augment: %d check(s) failed\n", t_failures);
        return 1;
    }
    printf("test_augment: all checks passed\n");
    return 0;
}
