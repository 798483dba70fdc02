/* bind_augment.c — augmentations in the language: one "transform" type for a
 * single step (random_crop(), hflip(), ...) and for a pipeline (compose()),
 * shown as torchvision shows them; transform.apply(image) to look at one
 * result; preview(dataset, augment) for a labelled grid of samples. */
#include "data/bind.h"
#include "viz/bind.h" /* engine/viz: image values */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void augment_free(void *data)
{
    free(data);
}

const ember_augment *data_augment_of(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &data_augment_type)
        return NULL;
    return v->as.obj.data;
}

static lang_value *augment_value(lang_ctx *cx, const ember_augment *aug)
{
    ember_augment *own = malloc(sizeof *own);
    if (!own)
        return lang_raise(cx, "MemoryError", "out of memory for a transform");
    *own = *aug;
    lang_value *v = lang_object(&data_augment_type, own);
    return v ? v : lang_raise(cx, "MemoryError", "out of memory for a transform");
}

/* Shortest text that reads back as the same double, as the language prints. */
static void num(char *buf, size_t len, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
}

static void fnum(char *buf, size_t len, float v)
{
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, len, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
}

/* One step as torchvision writes it. */
static void step_text(FILE *f, const ember_aug_step *s, int channels)
{
    char a[40], b[40], c[40];
    switch (s->kind) {
    case EMBER_AUG_RANDOM_CROP:
        fprintf(f, "RandomCrop(size=(%d, %d), padding=%d)", s->size, s->size, s->padding);
        break;
    case EMBER_AUG_HFLIP:
        num(a, sizeof a, s->p);
        fprintf(f, "RandomHorizontalFlip(p=%s)", a);
        break;
    case EMBER_AUG_COLOR_JITTER: {
        num(a, sizeof a, s->brightness);
        num(b, sizeof b, s->contrast);
        num(c, sizeof c, s->saturation);
        fprintf(f, "ColorJitter(brightness=%s, contrast=%s, saturation=%s)", a, b, c);
        break;
    }
    case EMBER_AUG_RANDOM_AFFINE:
        num(a, sizeof a, s->degrees);
        num(b, sizeof b, s->translate);
        fprintf(f, "RandomAffine(degrees=[-%s, %s], translate=(%s, %s))", a, a, b, b);
        break;
    case EMBER_AUG_RANDOM_ROTATION:
        num(a, sizeof a, s->degrees);
        fprintf(f, "RandomRotation(degrees=[-%s, %s])", a, a);
        break;
    case EMBER_AUG_NORMALIZE:
        fputs("Normalize(mean=[", f);
        for (int k = 0; k < channels; k++) {
            fnum(a, sizeof a, s->mean[k]);
            fprintf(f, "%s%s", k ? ", " : "", a);
        }
        fputs("], std=[", f);
        for (int k = 0; k < channels; k++) {
            fnum(a, sizeof a, s->std[k]);
            fprintf(f, "%s%s", k ? ", " : "", a);
        }
        fputs("])", f);
        break;
    }
}

static int norm_channels(const ember_aug_step *s)
{
    return s->n_given > 0 ? s->n_given : 3;
}

static char *augment_repr(const lang_value *self)
{
    const ember_augment *aug = data_augment_of(self);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    if (aug->n == 1) {
        step_text(f, &aug->steps[0], norm_channels(&aug->steps[0]));
    } else {
        fputs("Compose(\n", f);
        for (int k = 0; k < aug->n; k++) {
            fputs("    ", f);
            step_text(f, &aug->steps[k], norm_channels(&aug->steps[k]));
            fputs("\n", f);
        }
        fputs(")", f);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int augment_len(lang_ctx *cx, lang_value *self, int64_t *out)
{
    (void)cx;
    *out = data_augment_of(self)->n;
    return 0;
}

/* t[k]: step k of a pipeline, as a transform of its own. */
static lang_value *augment_index(lang_ctx *cx, lang_value *self, lang_value *key)
{
    const ember_augment *aug = data_augment_of(self);
    if (key->kind != LANG_INT)
        return lang_raise(cx, "TypeError", "transform: indices must be integers, got %s",
                          lang_type_name(key));
    int64_t k = key->as.i < 0 ? key->as.i + aug->n : key->as.i;
    if (k < 0 || k >= aug->n)
        return lang_raise(cx, "IndexError", "transform: step %" PRId64 " is out of range for %d steps",
                          key->as.i, aug->n);
    ember_augment one = {.n = 1, .steps = {aug->steps[k]}};
    return augment_value(cx, &one);
}

/* Image values are grey, RGB or RGBA; the pipeline takes grey or RGB. */
static int image_for_augment(lang_ctx *cx, const char *fname, const ember_image *src,
                             ember_image *rgb)
{
    char err[256];
    if (src->channels == 4) {
        if (ember_image_convert(src, 3, rgb, err, sizeof err) != 0) {
            lang_raise(cx, "MemoryError", "%s: %s", fname, err);
            return -1;
        }
        return 0;
    }
    *rgb = *src;
    rgb->data = NULL; /* borrowed: the caller reads src->data */
    return 0;
}

/* Runs the pipeline but its normalize step on one image: a new image. */
static lang_value *apply_u8(lang_ctx *cx, const char *fname, const ember_augment *aug,
                            const uint8_t *px, int w, int h, int c, uint64_t seed, uint64_t stream)
{
    ember_err err;
    if (ember_augment_check(aug, w, h, c, &err) != 0)
        return lang_raise(cx, "ValueError", "%s: %s", fname, err.msg);
    int ow, oh;
    ember_augment_out_size(aug, w, h, &ow, &oh);
    size_t big = (size_t)(w * h > ow * oh ? w * h : ow * oh) * (size_t)c;
    uint8_t *scratch = malloc(2 * big);
    ember_image out;
    char msg[256];
    if (!scratch || ember_image_alloc(&out, ow, oh, c, msg, sizeof msg) != 0) {
        free(scratch);
        return lang_raise(cx, "MemoryError", "%s: out of memory", fname);
    }
    ember_augment_apply_u8(aug, px, w, h, c, seed, stream, out.data, scratch);
    free(scratch);
    lang_value *v = viz_image_value(&out);
    return v ? v : lang_raise(cx, "MemoryError", "%s: out of memory", fname);
}

static lang_value *m_apply(lang_ctx *cx, const lang_args *a)
{
    const ember_augment *aug = data_augment_of(a->self);
    const ember_image *img = viz_image_of(a->v[0]);
    if (!img)
        return lang_arg_error(cx, a, 0, "TypeError", "an image");
    int64_t seed, index;
    if (lang_arg_int(cx, a, 1, &seed) < 0 || lang_arg_int(cx, a, 2, &index) < 0)
        return NULL;
    if (seed < 0)
        return lang_arg_error(cx, a, 1, "ValueError", "an integer >= 0");
    if (index < 0)
        return lang_arg_error(cx, a, 2, "ValueError", "an integer >= 0");
    ember_image rgb;
    if (image_for_augment(cx, "transform.apply", img, &rgb) < 0)
        return NULL;
    const uint8_t *px = rgb.data ? rgb.data : img->data;
    lang_value *v = apply_u8(cx, "transform.apply", aug, px, rgb.width, rgb.height, rgb.channels,
                             (uint64_t)seed, ember_augment_stream(0, (uint64_t)index));
    ember_image_free(&rgb);
    return v;
}

static const lang_builtin augment_methods[] = {
    {"apply(image, seed=0, index=0)",
     "The image after the random steps (normalize is left out, so the result is still a "
     "picture). seed and index pick the random draws: the same pair gives the same result, as "
     "in training, where index is the image's position in the dataset.",
     m_apply},
};

const lang_type data_augment_type = {
    .name = "transform",
    .doc = "transform: an image augmentation step (random_crop, hflip, color_jitter, "
           "random_affine, random_rotation, normalize) or a pipeline of them (compose), with "
           "torchvision's semantics. Give it to fit(augment=...) or preview(dataset, augment); "
           "t.apply(image) shows one random result; len(t) steps, t[k] is step k.",
    .free = augment_free,
    .repr = augment_repr,
    .methods = augment_methods,
    .nmethods = sizeof augment_methods / sizeof *augment_methods,
    .index = augment_index,
    .len = augment_len,
};

/* ---- the transform builtins ---- */

static lang_value *one_step(lang_ctx *cx, const char *fname, const ember_aug_step *s)
{
    ember_augment aug = {.n = 1, .steps = {*s}};
    ember_err err;
    /* a 32x32 RGB image stands for "any image" in the parameter checks,
     * except for crops, which are checked against real images when used */
    if (s->kind != EMBER_AUG_RANDOM_CROP && ember_augment_check(&aug, 32, 32, 3, &err) != 0)
        return lang_raise(cx, "ValueError", "%s: %s", fname, err.msg);
    return augment_value(cx, &aug);
}

static lang_value *b_random_crop(lang_ctx *cx, const lang_args *a)
{
    int64_t size, pad;
    if (lang_arg_int(cx, a, 0, &size) < 0 || lang_arg_int(cx, a, 1, &pad) < 0)
        return NULL;
    if (size < 1 || size > 4096)
        return lang_arg_error(cx, a, 0, "ValueError", "an integer from 1 to 4096");
    if (pad < 0 || pad > 1024)
        return lang_arg_error(cx, a, 1, "ValueError", "an integer from 0 to 1024");
    return one_step(cx, "random_crop",
                    &(ember_aug_step){.kind = EMBER_AUG_RANDOM_CROP, .size = (int)size, .padding = (int)pad});
}

static lang_value *b_hflip(lang_ctx *cx, const lang_args *a)
{
    double p;
    if (lang_arg_number(cx, a, 0, &p) < 0)
        return NULL;
    if (!(p >= 0 && p <= 1))
        return lang_arg_error(cx, a, 0, "ValueError", "a probability from 0 to 1");
    return one_step(cx, "hflip", &(ember_aug_step){.kind = EMBER_AUG_HFLIP, .p = p});
}

static lang_value *b_color_jitter(lang_ctx *cx, const lang_args *a)
{
    double f[3];
    for (size_t i = 0; i < 3; i++) {
        if (lang_arg_number(cx, a, i, &f[i]) < 0)
            return NULL;
        if (!(f[i] >= 0 && f[i] <= 1))
            return lang_arg_error(cx, a, i, "ValueError", "a number from 0 to 1");
    }
    return one_step(cx, "color_jitter",
                    &(ember_aug_step){.kind = EMBER_AUG_COLOR_JITTER, .brightness = f[0],
                                      .contrast = f[1], .saturation = f[2]});
}

static lang_value *b_random_affine(lang_ctx *cx, const lang_args *a)
{
    double deg, tr;
    if (lang_arg_number(cx, a, 0, &deg) < 0 || lang_arg_number(cx, a, 1, &tr) < 0)
        return NULL;
    if (!(deg >= 0 && deg <= 180))
        return lang_arg_error(cx, a, 0, "ValueError", "a number of degrees from 0 to 180");
    if (!(tr >= 0 && tr <= 1))
        return lang_arg_error(cx, a, 1, "ValueError", "a fraction of the image from 0 to 1");
    return one_step(cx, "random_affine",
                    &(ember_aug_step){.kind = EMBER_AUG_RANDOM_AFFINE, .degrees = deg, .translate = tr});
}

static lang_value *b_random_rotation(lang_ctx *cx, const lang_args *a)
{
    double deg;
    if (lang_arg_number(cx, a, 0, &deg) < 0)
        return NULL;
    if (!(deg >= 0 && deg <= 180))
        return lang_arg_error(cx, a, 0, "ValueError", "a number of degrees from 0 to 180");
    return one_step(cx, "random_rotation",
                    &(ember_aug_step){.kind = EMBER_AUG_RANDOM_ROTATION, .degrees = deg});
}

/* A list of 1 or 3 numbers into out[0..2]; *n gets the count. */
static int channel_list(lang_ctx *cx, const lang_args *a, size_t i, float out[4], int *n)
{
    const lang_value *l = a->v[i];
    if (l->kind != LANG_LIST || (l->as.list.len != 1 && l->as.list.len != 3)) {
        lang_arg_error(cx, a, i, "TypeError", "a list of 1 or 3 numbers (one per channel)");
        return -1;
    }
    *n = (int)l->as.list.len;
    for (int k = 0; k < *n; k++) {
        const lang_value *x = l->as.list.items[k];
        double d = x->kind == LANG_INT ? (double)x->as.i : x->kind == LANG_FLOAT ? x->as.f : NAN;
        if (!isfinite(d)) {
            lang_arg_error(cx, a, i, "TypeError", "a list of 1 or 3 finite numbers");
            return -1;
        }
        out[k] = (float)d;
    }
    for (int k = *n; k < 4; k++)
        out[k] = out[0];
    return 0;
}

static lang_value *b_normalize(lang_ctx *cx, const lang_args *a)
{
    ember_aug_step s = {.kind = EMBER_AUG_NORMALIZE};
    int nm, ns;
    if (channel_list(cx, a, 0, s.mean, &nm) < 0 || channel_list(cx, a, 1, s.std, &ns) < 0)
        return NULL;
    if (nm != ns)
        return lang_raise(cx, "ValueError", "normalize: mean has %d numbers but std has %d", nm, ns);
    for (int k = 0; k < ns; k++)
        if (!(s.std[k] > 0))
            return lang_arg_error(cx, a, 1, "ValueError", "positive numbers");
    s.n_given = nm;
    return one_step(cx, "normalize", &s);
}

static lang_value *b_compose(lang_ctx *cx, const lang_args *a)
{
    ember_augment aug = {0};
    for (size_t i = 0; i < a->nrest; i++) {
        const ember_augment *t = data_augment_of(a->rest[i]);
        if (!t)
            return lang_raise(cx, "TypeError", "compose: argument %zu is %s, not a transform "
                              "(random_crop(), hflip(), color_jitter(), ...)",
                              i + 1, lang_type_name(a->rest[i]));
        if (aug.n + t->n > EMBER_AUG_MAX_STEPS)
            return lang_raise(cx, "ValueError", "compose: at most %d steps", EMBER_AUG_MAX_STEPS);
        for (int k = 0; k < t->n; k++)
            aug.steps[aug.n++] = t->steps[k];
    }
    if (aug.n == 0)
        return lang_raise(cx, "TypeError", "compose: give at least one transform, e.g. "
                          "compose(random_crop(32, padding=4), hflip())");
    for (int k = 0; k + 1 < aug.n; k++)
        if (aug.steps[k].kind == EMBER_AUG_NORMALIZE)
            return lang_raise(cx, "ValueError", "compose: normalize must be the last step (it "
                              "turns pixels into numbers the other steps cannot take)");
    return augment_value(cx, &aug);
}

/* ---- preview ---- */

static lang_value *b_preview(lang_ctx *cx, const lang_args *a)
{
    const ember_dataset *ds = data_dataset_of(a->v[0]);
    if (!ds)
        return lang_arg_error(cx, a, 0, "TypeError", "a dataset (e.g. cifar10('train'))");
    const ember_augment *aug = NULL;
    if (a->v[1]->kind != LANG_NONE && !(aug = data_augment_of(a->v[1])))
        return lang_arg_error(cx, a, 1, "TypeError", "a transform or none");
    int64_t n, seed, epoch, cols;
    if (lang_arg_int(cx, a, 2, &n) < 0 || lang_arg_int(cx, a, 3, &seed) < 0 ||
        lang_arg_int(cx, a, 4, &epoch) < 0 || lang_arg_int(cx, a, 5, &cols) < 0)
        return NULL;
    if (n < 1 || n > 256)
        return lang_arg_error(cx, a, 2, "ValueError", "an integer from 1 to 256");
    if (seed < 0)
        return lang_arg_error(cx, a, 3, "ValueError", "an integer >= 0");
    if (epoch < 0)
        return lang_arg_error(cx, a, 4, "ValueError", "an integer >= 0");
    if (n > ds->n)
        n = ds->n;
    const lang_builtin *grid = lang_find_builtin("image_grid");
    if (!grid)
        return lang_raise(cx, "RuntimeError", "preview: image_grid is not available in this build");

    /* The first n images, each under its class name, as fit would see them
     * in the given epoch. */
    lang_value *images = lang_list_new((size_t)n), *caps = lang_list_new((size_t)n);
    lang_value *result = NULL, *colsv = NULL, *zero = NULL, *title = NULL;
    if (!images || !caps)
        goto oom;
    for (int64_t i = 0; i < n; i++) {
        lang_value *img;
        if (aug) {
            img = apply_u8(cx, "preview", aug, ember_dataset_image(ds, i), ds->width, ds->height,
                           ds->channels, (uint64_t)seed,
                           ember_augment_stream((uint64_t)epoch, (uint64_t)i));
        } else {
            ember_image im;
            char err[256];
            img = NULL;
            if (ember_image_alloc(&im, ds->width, ds->height, ds->channels, err, sizeof err) == 0) {
                memcpy(im.data, ember_dataset_image(ds, i), ember_dataset_image_bytes(ds));
                img = viz_image_value(&im);
            }
            if (!img)
                lang_raise(cx, "MemoryError", "preview: out of memory");
        }
        if (!img)
            goto out;
        lang_list_set(images, (size_t)i, img);
        lang_value *cap = lang_cstr(ds->classes[ds->labels[i] < ds->n_classes ? ds->labels[i] : 0]);
        if (!cap)
            goto oom;
        lang_list_set(caps, (size_t)i, cap);
    }
    char tbuf[160];
    snprintf(tbuf, sizeof tbuf, "%s%s", ds->name, aug ? ", augmented" : "");
    colsv = lang_int(cols);
    zero = lang_int(0);
    title = lang_cstr(tbuf);
    if (!colsv || !zero || !title)
        goto oom;
    {
        static const char *const names[] = {"images", "captions", "cols", "title", "width", "height"};
        lang_value *v[6] = {images, caps, colsv, title, zero, zero};
        lang_args ga = {.fname = "preview", .names = names, .v = v, .n = 6};
        result = grid->fn(cx, &ga);
    }
    goto out;
oom:
    lang_raise(cx, "MemoryError", "preview: out of memory");
out:
    if (images) lang_decref(images);
    if (caps) lang_decref(caps);
    if (colsv) lang_decref(colsv);
    if (zero) lang_decref(zero);
    if (title) lang_decref(title);
    return result;
}

static const lang_builtin augment_builtins[] = {
    {"random_crop(size, padding=0)",
     "Like torchvision's RandomCrop(size, padding): pad padding pixels of black on every side, "
     "then take a size x size window at a random place.",
     b_random_crop},
    {"hflip(p=0.5)", "Like RandomHorizontalFlip(p): mirror the image left to right with "
     "probability p.", b_hflip},
    {"color_jitter(brightness=0, contrast=0, saturation=0)",
     "Like ColorJitter: scale brightness, contrast and saturation by factors drawn from "
     "[1 - x, 1 + x], applied in a random order, with PIL's arithmetic.",
     b_color_jitter},
    {"random_affine(degrees, translate=0)",
     "Like RandomAffine(degrees, translate=(t, t)): rotate by an angle from [-degrees, "
     "degrees] about the centre and shift by up to translate times the width and height "
     "(nearest pixel, black outside).",
     b_random_affine},
    {"random_rotation(degrees)",
     "Like RandomRotation(degrees): rotate by an angle from [-degrees, degrees] about the "
     "centre (nearest pixel, black outside, same size).",
     b_random_rotation},
    {"normalize(mean, std)",
     "Like ToTensor + Normalize(mean, std): pixels become (x / 255 - mean) / std per channel. "
     "Must be the last step of a pipeline.",
     b_normalize},
    {"compose(*transforms)",
     "A pipeline of transforms applied in order, like torchvision's Compose; pass it to "
     "fit(augment=...) or preview(dataset, augment).",
     b_compose},
    {"preview(dataset, augment=none, n=32, seed=0, epoch=0, cols=0)",
     "A grid of the first n images of dataset, each captioned with its class, after augment "
     "when given (its normalize step left out) with the random draws fit would make in that "
     "epoch for that seed.",
     b_preview},
};

void register_data_augment_builtins(void)
{
    lang_register_builtins(augment_builtins, sizeof augment_builtins / sizeof *augment_builtins);
}
