/* bind_masks.c — segmentation results in the language: a "mask" (one
 * prompt's probability map, shown as a viridis picture at the photo's size),
 * "masks" (every prompt's mask for one photo, shown side by side with the
 * photo), and overlay() (the photo with each mask tinted in its own colour). */
#include "seg/bind.h"
#include "viz/bind.h"
#include "viz/mime.h"
#include "viz/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Masks show at most this wide (the photo may be huge). */
#define SHOW_MAX 640

typedef struct seg_masks {
    lang_value **masks; /* n mask values */
    size_t n;
    ember_image photo;
} seg_masks;

static seg_mask *mask_of(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &seg_mask_type)
        return NULL;
    return v->as.obj.data;
}

static seg_masks *masks_of(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &seg_masks_type)
        return NULL;
    return v->as.obj.data;
}

static void mask_free(void *data)
{
    seg_mask *m = data;
    free(m->prob);
    free(m);
}

static void masks_free(void *data)
{
    seg_masks *ms = data;
    for (size_t i = 0; i < ms->n; i++)
        if (ms->masks[i])
            lang_decref(ms->masks[i]);
    free(ms->masks);
    ember_image_free(&ms->photo);
    free(ms);
}

static void mask_stats(const seg_mask *m, double *max, double *mean, double *area)
{
    size_t n = (size_t)m->w * (size_t)m->h, above = 0;
    double mx = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        double p = m->prob[i];
        mx = p > mx ? p : mx;
        sum += p;
        above += p >= 0.5;
    }
    *max = mx;
    *mean = n ? sum / (double)n : 0;
    *area = n ? (double)above / (double)n : 0;
}

/* The display size: the photo's, scaled down to SHOW_MAX wide. */
static void show_size(int w, int h, int *sw, int *sh)
{
    *sw = w, *sh = h;
    if (w > SHOW_MAX) {
        *sw = SHOW_MAX;
        *sh = (int)lround((double)h * SHOW_MAX / w);
        if (*sh < 1)
            *sh = 1;
    }
}

static char *mask_repr(const lang_value *self)
{
    const seg_mask *m = mask_of(self);
    double mx, mean, area;
    mask_stats(m, &mx, &mean, &area);
    char *out = NULL;
    if (asprintf(&out, "<mask '%s' %dx%d: max %.2f, %.1f%% of the image at 0.5 or more>", m->prompt,
                 m->img_w, m->img_h, mx, 100 * area) < 0)
        return NULL;
    return out;
}

static int mask_picture(const seg_mask *m, int w, int h, ember_image *out)
{
    ember_err err;
    return ember_seg_mask_image(m->prob, m->w, m->h, w, h, out, &err);
}

static json_t *mask_mime(const lang_value *self)
{
    const seg_mask *m = mask_of(self);
    int w, h;
    show_size(m->img_w, m->img_h, &w, &h);
    ember_image pic;
    if (mask_picture(m, w, h, &pic) != 0)
        return NULL;
    ember_png png;
    char err[256];
    int rc = ember_image_to_png(&pic, &png, err, sizeof err);
    ember_image_free(&pic);
    if (rc != 0)
        return NULL;
    char *text = mask_repr(self);
    json_t *data = NULL, *meta = NULL;
    rc = ember_png_bundle(&png, text ? text : "<mask>", &data, &meta, err, sizeof err);
    free(text);
    ember_png_free(&png);
    json_decref(meta);
    return rc == 0 ? data : NULL;
}

static lang_value *mask_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const seg_mask *m = mask_of(self);
    double mx, mean, area;
    mask_stats(m, &mx, &mean, &area);
    if (!strcmp(name, "prompt"))
        return lang_cstr(m->prompt);
    if (!strcmp(name, "width"))
        return lang_int(m->img_w);
    if (!strcmp(name, "height"))
        return lang_int(m->img_h);
    if (!strcmp(name, "max"))
        return lang_float(mx);
    if (!strcmp(name, "mean"))
        return lang_float(mean);
    if (!strcmp(name, "area"))
        return lang_float(area);
    return NULL;
}

static void mask_attr_names(const lang_value *self, void (*add)(void *acc, const char *name), void *acc)
{
    (void)self;
    static const char *names[] = {"prompt", "width", "height", "max", "mean", "area"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        add(acc, names[i]);
}

static lang_value *m_mask_image(lang_ctx *cx, const lang_args *a)
{
    const seg_mask *m = mask_of(a->self);
    ember_image pic;
    if (mask_picture(m, m->img_w, m->img_h, &pic) != 0)
        return lang_raise(cx, "MemoryError", "mask.image: out of memory");
    lang_value *v = viz_image_value(&pic);
    return v ? v : lang_raise(cx, "MemoryError", "mask.image: out of memory");
}

/* binary(threshold): white where the probability reaches threshold. */
static lang_value *m_mask_binary(lang_ctx *cx, const lang_args *a)
{
    const seg_mask *m = mask_of(a->self);
    double t;
    if (lang_arg_number(cx, a, 0, &t) < 0)
        return NULL;
    if (!(t >= 0 && t <= 1))
        return lang_arg_error(cx, a, 0, "ValueError", "a number from 0 to 1");
    ember_image grey, sized;
    char err[256];
    if (ember_image_alloc(&grey, m->w, m->h, 1, err, sizeof err) != 0)
        return lang_raise(cx, "MemoryError", "mask.binary: %s", err);
    for (size_t i = 0; i < (size_t)m->w * m->h; i++)
        grey.data[i] = (uint8_t)lrintf(255.0f * (m->prob[i] < 0 ? 0 : m->prob[i] > 1 ? 1 : m->prob[i]));
    int rc = ember_image_resize(&grey, m->img_w, m->img_h, &sized, err, sizeof err);
    ember_image_free(&grey);
    if (rc != 0)
        return lang_raise(cx, "MemoryError", "mask.binary: %s", err);
    uint8_t cut = (uint8_t)lrint(255.0 * t);
    for (size_t i = 0; i < (size_t)sized.width * sized.height; i++)
        sized.data[i] = sized.data[i] >= cut && (t > 0 || sized.data[i] > 0) ? 255 : 0;
    lang_value *v = viz_image_value(&sized);
    return v ? v : lang_raise(cx, "MemoryError", "mask.binary: out of memory");
}

static const lang_builtin mask_methods[] = {
    {"image()", "The mask as a picture at the photo's size (viridis: dark is 0, yellow is 1).",
     m_mask_image},
    {"binary(threshold=0.5)",
     "A black and white picture at the photo's size: white where the probability reaches "
     "threshold.",
     m_mask_binary},
};

const lang_type seg_mask_type = {
    .name = "mask",
    .doc = "mask: where one prompt is in a photo, as probabilities from 0 to 1 (CLIPSeg's sigmoid "
           "output), shown at the photo's size with the viridis colours. Attributes: prompt, "
           "width, height, max, mean, area (the share of the image at 0.5 or more). Methods: "
           "image(), binary(threshold).",
    .free = mask_free,
    .repr = mask_repr,
    .mime = mask_mime,
    .getattr = mask_getattr,
    .attr_names = mask_attr_names,
    .methods = mask_methods,
    .nmethods = sizeof mask_methods / sizeof *mask_methods,
};

/* ---- the masks of one photo ---- */

lang_value *seg_masks_value(lang_ctx *cx, seg_mask *masks, size_t n, const ember_image *photo)
{
    seg_masks *ms = calloc(1, sizeof *ms);
    char err[256];
    if (ms)
        ms->masks = calloc(n ? n : 1, sizeof *ms->masks);
    if (!ms || !ms->masks || ember_image_copy(photo, &ms->photo, err, sizeof err) != 0) {
        for (size_t i = 0; i < n; i++)
            free(masks[i].prob);
        if (ms) {
            free(ms->masks);
            free(ms);
        }
        return lang_raise(cx, "MemoryError", "segment: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        seg_mask *m = malloc(sizeof *m);
        if (m) {
            *m = masks[i];
            masks[i].prob = NULL;
            ms->masks[i] = lang_object(&seg_mask_type, m);
        }
        if (!m || !ms->masks[i]) {
            if (!m)
                free(masks[i].prob);
            for (size_t j = i + 1; j < n; j++)
                free(masks[j].prob);
            ms->n = i;
            masks_free(ms);
            return lang_raise(cx, "MemoryError", "segment: out of memory");
        }
        ms->n = i + 1;
    }
    lang_value *v = lang_object(&seg_masks_type, ms);
    return v ? v : lang_raise(cx, "MemoryError", "segment: out of memory");
}

static char *masks_repr(const lang_value *self)
{
    const seg_masks *ms = masks_of(self);
    lang_strbuf b = {0};
    lang_sb_addf(&b, "<masks of a %dx%d image:", ms->photo.width, ms->photo.height);
    for (size_t i = 0; i < ms->n; i++) {
        const seg_mask *m = mask_of(ms->masks[i]);
        double mx, mean, area;
        mask_stats(m, &mx, &mean, &area);
        lang_sb_addf(&b, "%s '%s' (max %.2f)", i ? "," : "", m->prompt, mx);
    }
    lang_sb_adds(&b, ">");
    return lang_sb_take(&b);
}

/* The photo and each mask, side by side, captioned with the prompts. */
static int masks_grid(const seg_masks *ms, ember_png *png, char *err, size_t errlen)
{
    size_t n = ms->n + 1;
    ember_image *pics = calloc(n, sizeof *pics);
    const ember_image **list = calloc(n, sizeof *list);
    const char **caps = calloc(n, sizeof *caps);
    int rc = -1;
    if (!pics || !list || !caps) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int w, h;
    show_size(ms->photo.width, ms->photo.height, &w, &h);
    list[0] = &ms->photo;
    caps[0] = "image";
    for (size_t i = 0; i < ms->n; i++) {
        const seg_mask *m = mask_of(ms->masks[i]);
        if (mask_picture(m, w, h, &pics[i + 1]) != 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        list[i + 1] = &pics[i + 1];
        caps[i + 1] = m->prompt;
    }
    ember_figure_opts fig = {0};
    rc = ember_plot_image_grid(list, caps, n, n < 5 ? (int)n : 4, &fig, png, err, errlen);
out:
    for (size_t i = 0; pics && i < n; i++)
        ember_image_free(&pics[i]);
    free(pics);
    free(list);
    free(caps);
    return rc;
}

static json_t *masks_mime(const lang_value *self)
{
    ember_png png;
    char err[256];
    if (masks_grid(masks_of(self), &png, err, sizeof err) != 0)
        return NULL;
    char *text = masks_repr(self);
    json_t *data = NULL, *meta = NULL;
    int rc = ember_png_bundle(&png, text ? text : "<masks>", &data, &meta, err, sizeof err);
    free(text);
    ember_png_free(&png);
    json_decref(meta);
    return rc == 0 ? data : NULL;
}

static int masks_len(lang_ctx *cx, lang_value *self, int64_t *out)
{
    (void)cx;
    *out = (int64_t)masks_of(self)->n;
    return 0;
}

static lang_value *masks_index(lang_ctx *cx, lang_value *self, lang_value *key)
{
    const seg_masks *ms = masks_of(self);
    if (key->kind == LANG_STR) { /* masks['a cat'] */
        for (size_t i = 0; i < ms->n; i++)
            if (!strcmp(mask_of(ms->masks[i])->prompt, key->as.str.ptr))
                return lang_incref(ms->masks[i]);
        return lang_raise(cx, "KeyError", "masks: no prompt '%s'", key->as.str.ptr);
    }
    if (key->kind != LANG_INT)
        return lang_raise(cx, "TypeError", "masks: indices must be integers or prompts, got %s",
                          lang_type_name(key));
    int64_t i = key->as.i < 0 ? key->as.i + (int64_t)ms->n : key->as.i;
    if (i < 0 || i >= (int64_t)ms->n)
        return lang_raise(cx, "IndexError", "masks: index %lld is out of range for %zu masks",
                          (long long)key->as.i, ms->n);
    return lang_incref(ms->masks[i]);
}

static lang_value *masks_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    const seg_masks *ms = masks_of(self);
    if (!strcmp(name, "prompts")) {
        lang_value *l = lang_list_new(ms->n);
        for (size_t i = 0; l && i < ms->n; i++)
            lang_list_set(l, i, lang_cstr(mask_of(ms->masks[i])->prompt));
        return l;
    }
    if (!strcmp(name, "image")) {
        ember_image copy;
        char err[256];
        if (ember_image_copy(&ms->photo, &copy, err, sizeof err) != 0)
            return lang_raise(cx, "MemoryError", "masks.image: %s", err);
        return viz_image_value(&copy);
    }
    return NULL;
}

static void masks_attr_names(const lang_value *self, void (*add)(void *acc, const char *name), void *acc)
{
    (void)self;
    add(acc, "prompts");
    add(acc, "image");
}

static lang_value *overlay_masks(lang_ctx *cx, const char *fname, const ember_image *photo,
                                 const lang_value *const *masks, size_t n, double alpha,
                                 double threshold)
{
    const float **probs = calloc(n ? n : 1, sizeof *probs);
    if (!probs)
        return lang_raise(cx, "MemoryError", "%s: out of memory", fname);
    const seg_mask *first = mask_of(masks[0]);
    for (size_t i = 0; i < n; i++) {
        const seg_mask *m = mask_of(masks[i]);
        if (m->w != first->w || m->h != first->h) {
            free(probs);
            return lang_raise(cx, "ValueError", "%s: the masks come from different models "
                              "(%dx%d and %dx%d maps)", fname, first->w, first->h, m->w, m->h);
        }
        probs[i] = m->prob;
    }
    ember_image out;
    ember_err err;
    int rc = ember_seg_overlay(photo, probs, n, first->w, first->h, alpha, threshold, &out, &err);
    free(probs);
    if (rc != 0)
        return lang_raise(cx, "ValueError", "%s: %s", fname, err.msg);
    lang_value *v = viz_image_value(&out);
    return v ? v : lang_raise(cx, "MemoryError", "%s: out of memory", fname);
}

/* alpha and threshold arguments at positions ia, it. */
static int overlay_args(lang_ctx *cx, const lang_args *a, size_t ia, size_t it, double *alpha,
                        double *threshold)
{
    if (lang_arg_number(cx, a, ia, alpha) < 0)
        return -1;
    if (!(*alpha >= 0 && *alpha <= 1)) {
        lang_arg_error(cx, a, ia, "ValueError", "a number from 0 to 1");
        return -1;
    }
    *threshold = -1;
    if (a->v[it]->kind != LANG_NONE) {
        if (lang_arg_number(cx, a, it, threshold) < 0)
            return -1;
        if (!(*threshold >= 0 && *threshold <= 1)) {
            lang_arg_error(cx, a, it, "ValueError", "none or a number from 0 to 1");
            return -1;
        }
    }
    return 0;
}

static lang_value *m_masks_overlay(lang_ctx *cx, const lang_args *a)
{
    const seg_masks *ms = masks_of(a->self);
    double alpha, threshold;
    if (overlay_args(cx, a, 0, 1, &alpha, &threshold) < 0)
        return NULL;
    return overlay_masks(cx, "masks.overlay", &ms->photo, (const lang_value *const *)ms->masks, ms->n,
                         alpha, threshold);
}

/* table(): prompt, overlay colour, max, mean and area of each mask. */
static lang_value *m_masks_table(lang_ctx *cx, const lang_args *a)
{
    const seg_masks *ms = masks_of(a->self);
    static const char *cols[] = {"prompt", "colour", "max", "mean", "area at 0.5"};
    lang_value *rows = lang_list_new(ms->n), *header = lang_list_new(5), *result = NULL;
    if (!rows || !header)
        goto oom;
    for (size_t k = 0; k < 5; k++)
        lang_list_set(header, k, lang_cstr(cols[k]));
    for (size_t i = 0; i < ms->n; i++) {
        const seg_mask *m = mask_of(ms->masks[i]);
        double mx, mean, area;
        mask_stats(m, &mx, &mean, &area);
        char pct[32];
        snprintf(pct, sizeof pct, "%.1f%%", 100 * area);
        lang_value *row = lang_list_new(5);
        if (!row)
            goto oom;
        lang_list_set(row, 0, lang_cstr(m->prompt));
        lang_list_set(row, 1, lang_cstr(ember_seg_color_name(i)));
        lang_list_set(row, 2, lang_float(round(mx * 1000) / 1000));
        lang_list_set(row, 3, lang_float(round(mean * 1000) / 1000));
        lang_list_set(row, 4, lang_cstr(pct));
        lang_list_set(rows, i, row);
    }
    result = viz_table_value(cx, "masks.table", rows, header);
    goto out;
oom:
    lang_raise(cx, "MemoryError", "masks.table: out of memory");
out:
    if (rows)
        lang_decref(rows);
    if (header)
        lang_decref(header);
    return result;
}

static const lang_builtin masks_methods[] = {
    {"overlay(alpha=0.5, threshold=none)", "The photo with the masks tinted on it; see overlay().",
     m_masks_overlay},
    {"table()", "One row per prompt: its overlay colour, the mask's max and mean probability, "
                "and the share of the image at 0.5 or more.",
     m_masks_table},
};

const lang_type seg_masks_type = {
    .name = "masks",
    .doc = "masks: what segment() found in one photo, one mask per prompt, shown beside the "
           "photo. masks[0] or masks['a cat'] is one mask; len(masks) counts them; "
           "masks.prompts lists the prompts; masks.image is the photo; masks.overlay() tints "
           "them on it; masks.table() sums them up.",
    .free = masks_free,
    .repr = masks_repr,
    .mime = masks_mime,
    .getattr = masks_getattr,
    .attr_names = masks_attr_names,
    .methods = masks_methods,
    .nmethods = sizeof masks_methods / sizeof *masks_methods,
    .index = masks_index,
    .len = masks_len,
};

/* overlay(image, masks, alpha=0.5, threshold=none) */
static lang_value *b_overlay(lang_ctx *cx, const lang_args *a)
{
    const ember_image *photo = viz_image_of(a->v[0]);
    if (!photo)
        return lang_arg_error(cx, a, 0, "TypeError", "an image (e.g. load_image(path))");
    double alpha, threshold;
    if (overlay_args(cx, a, 2, 3, &alpha, &threshold) < 0)
        return NULL;
    const lang_value *mv = a->v[1];
    const seg_masks *ms = masks_of(mv);
    if (ms)
        return overlay_masks(cx, "overlay", photo, (const lang_value *const *)ms->masks, ms->n,
                             alpha, threshold);
    if (mask_of(mv))
        return overlay_masks(cx, "overlay", photo, &mv, 1, alpha, threshold);
    if (mv->kind == LANG_LIST && mv->as.list.len > 0) {
        for (size_t i = 0; i < mv->as.list.len; i++)
            if (!mask_of(mv->as.list.items[i]))
                return lang_raise(cx, "TypeError", "overlay: item %zu of masks is %s, not a mask",
                                  i, lang_type_name(mv->as.list.items[i]));
        return overlay_masks(cx, "overlay", photo, (const lang_value *const *)mv->as.list.items,
                             mv->as.list.len, alpha, threshold);
    }
    return lang_arg_error(cx, a, 1, "TypeError", "masks from segment(), one mask, or a list of masks");
}

static const lang_builtin mask_builtins[] = {
    {"overlay(image, masks, alpha=0.5, threshold=none)",
     "The image with each mask tinted in its own colour, in order blue, orange, green, red, "
     "purple, brown, pink, grey, olive, cyan (matplotlib's tab10): each pixel moves towards the "
     "colour by alpha times the mask's probability, or by alpha where the probability reaches "
     "threshold when one is given. masks is what segment() returned, one mask, or a list of "
     "masks.",
     b_overlay},
};

void register_seg_mask_builtins(void)
{
    lang_register_builtins(mask_builtins, sizeof mask_builtins / sizeof *mask_builtins);
}

void register_seg_builtins(void)
{
    register_seg_mask_builtins();
    register_seg_model_builtins();
}
