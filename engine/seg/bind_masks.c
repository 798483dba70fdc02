/* bind_masks.c — segmentation results in the language: a "mask" (one
 * prompt's probability map, shown as a viridis picture at the photo's size;
 * its numbers at a point, over a box and as a list; saved as .npy or a
 * black and white .png), "masks" (every prompt's mask for one photo, shown
 * side by side with the photo; saved as .npz, .npy or a folder), and
 * overlay() (the photo with each mask tinted in its own colour, with a
 * legend). Every number at the photo's size comes from
 * ember_seg_mask_at / ember_seg_mask_resize, so at(), region(), values and
 * the saved arrays agree to the bit. */
#include "seg/bind.h"
#include "fileio/npy.h"
#include "fileio/tabular.h"
#include "viz/bind.h"
#include "viz/color.h"
#include "viz/mime.h"
#include "viz/plot.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Masks show at most this wide (the photo may be huge). */
#define SHOW_MAX 640
/* mask.values lists at most this many numbers (256 x 256); past it a
 * list is slow to build and useless to print, and save(mask, 'm.npy') is
 * the way out. */
#define VALUES_MAX 65536

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

static lang_value *mask_values(lang_ctx *cx, const seg_mask *m);

static lang_value *mask_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
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
    if (!strcmp(name, "values"))
        return mask_values(cx, m);
    return NULL;
}

static void mask_attr_names(const lang_value *self, void (*add)(void *acc, const char *name), void *acc)
{
    (void)self;
    static const char *names[] = {"prompt", "width", "height", "max", "mean", "area", "values"};
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

/* The map at the photo's size (malloc'd), or NULL with MemoryError raised. */
static float *photo_map(lang_ctx *cx, const char *fname, const seg_mask *m)
{
    float *r = NULL;
    ember_err err;
    if (ember_seg_mask_resize(m->prob, m->w, m->h, m->img_w, m->img_h, &r, &err) != 0) {
        lang_raise(cx, "MemoryError", "%s: %s", fname, err.msg);
        return NULL;
    }
    return r;
}

/* White where the probability at the photo's size reaches t (above 0 for
 * t = 0, so a threshold of 0 does not paint everything). */
static int binary_image(lang_ctx *cx, const char *fname, const seg_mask *m, double t,
                        ember_image *out)
{
    float *r = photo_map(cx, fname, m);
    if (!r)
        return -1;
    char err[256];
    if (ember_image_alloc(out, m->img_w, m->img_h, 1, err, sizeof err) != 0) {
        free(r);
        lang_raise(cx, "MemoryError", "%s: %s", fname, err);
        return -1;
    }
    for (size_t i = 0; i < (size_t)m->img_w * m->img_h; i++)
        out->data[i] = (t > 0 ? r[i] >= t : r[i] > 0) ? 255 : 0;
    free(r);
    return 0;
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
    ember_image img;
    if (binary_image(cx, "mask.binary", m, t, &img) != 0)
        return NULL;
    lang_value *v = viz_image_value(&img);
    return v ? v : lang_raise(cx, "MemoryError", "mask.binary: out of memory");
}

/* An (x, y) pixel of the photo: 0 and the coordinates, or -1 with
 * IndexError raised naming the size. */
static int pixel_args(lang_ctx *cx, const lang_args *a, const seg_mask *m, int64_t *x, int64_t *y)
{
    if (lang_arg_int(cx, a, 0, x) < 0 || lang_arg_int(cx, a, 1, y) < 0)
        return -1;
    if (*x < 0 || *x >= m->img_w || *y < 0 || *y >= m->img_h) {
        lang_raise(cx, "IndexError",
                   "%s: (%lld, %lld) is outside the %dx%d image: x goes from 0 to %d and y from 0 "
                   "to %d (pixel coordinates of the photo, (0, 0) at the top left)",
                   a->fname, (long long)*x, (long long)*y, m->img_w, m->img_h, m->img_w - 1,
                   m->img_h - 1);
        return -1;
    }
    return 0;
}

static lang_value *m_mask_at(lang_ctx *cx, const lang_args *a)
{
    const seg_mask *m = mask_of(a->self);
    int64_t x, y;
    if (pixel_args(cx, a, m, &x, &y) < 0)
        return NULL;
    return lang_float(ember_seg_mask_at(m->prob, m->w, m->h, m->img_w, m->img_h, (int)x, (int)y));
}

/* ---- a box of a mask: region(x0, y0, x1, y1) ---- */

typedef struct seg_region {
    char prompt[256];
    int box[4]; /* x0, y0, x1, y1 (x1, y1 excluded) */
    double threshold;
    double mean, max, min;
    int64_t pixels, count; /* pixels in the box; of them at or above threshold */
} seg_region;

static const lang_type seg_region_type;

static const seg_region *region_of(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &seg_region_type)
        return NULL;
    return v->as.obj.data;
}

static char *region_repr(const lang_value *self)
{
    const seg_region *r = region_of(self);
    char t[32], *out = NULL;
    lang_format_float(r->threshold, t, sizeof t);
    if (asprintf(&out,
                 "<region (%d, %d)-(%d, %d) of mask '%s': mean %.3f, max %.3f, min %.3f; %.1f%% "
                 "(%lld of %lld pixels) at %s or more>",
                 r->box[0], r->box[1], r->box[2], r->box[3], r->prompt, r->mean, r->max, r->min,
                 100.0 * (double)r->count / (double)r->pixels, (long long)r->count,
                 (long long)r->pixels, t) < 0)
        return NULL;
    return out;
}

static lang_value *region_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const seg_region *r = region_of(self);
    if (!strcmp(name, "mean"))
        return lang_float(r->mean);
    if (!strcmp(name, "max"))
        return lang_float(r->max);
    if (!strcmp(name, "min"))
        return lang_float(r->min);
    if (!strcmp(name, "area"))
        return lang_float((double)r->count / (double)r->pixels);
    if (!strcmp(name, "count"))
        return lang_int(r->count);
    if (!strcmp(name, "pixels"))
        return lang_int(r->pixels);
    if (!strcmp(name, "threshold"))
        return lang_float(r->threshold);
    if (!strcmp(name, "prompt"))
        return lang_cstr(r->prompt);
    if (!strcmp(name, "box")) {
        lang_value *l = lang_list_new(4);
        for (size_t i = 0; l && i < 4; i++)
            lang_list_set(l, i, lang_int(r->box[i]));
        return l;
    }
    return NULL;
}

static void region_attr_names(const lang_value *self, void (*add)(void *acc, const char *name),
                              void *acc)
{
    (void)self;
    static const char *names[] = {"mean", "max",       "min",    "area", "count",
                                  "pixels", "threshold", "prompt", "box"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        add(acc, names[i]);
}

static const lang_type seg_region_type = {
    .name = "region",
    .doc = "region: one mask's numbers over a box of the photo, from mask.region(x0, y0, x1, y1). "
           "Attributes: mean, max, min (probabilities at the photo's size), area (the share of "
           "the box at threshold or more), count (those pixels), pixels (all pixels in the "
           "box), threshold, box ([x0, y0, x1, y1]), prompt.",
    .free = free,
    .repr = region_repr,
    .getattr = region_getattr,
    .attr_names = region_attr_names,
};

static lang_value *m_mask_region(lang_ctx *cx, const lang_args *a)
{
    const seg_mask *m = mask_of(a->self);
    int64_t b[4];
    double t;
    for (size_t i = 0; i < 4; i++)
        if (lang_arg_int(cx, a, i, &b[i]) < 0)
            return NULL;
    if (lang_arg_number(cx, a, 4, &t) < 0)
        return NULL;
    if (!(t >= 0 && t <= 1))
        return lang_arg_error(cx, a, 4, "ValueError", "a number from 0 to 1");
    if (!(b[0] >= 0 && b[0] < b[2] && b[2] <= m->img_w && b[1] >= 0 && b[1] < b[3] &&
          b[3] <= m->img_h))
        return lang_raise(cx, "IndexError",
                          "mask.region: the box (%lld, %lld)-(%lld, %lld) does not fit the %dx%d "
                          "image: give 0 <= x0 < x1 <= %d and 0 <= y0 < y1 <= %d (x1 and y1 are "
                          "excluded, as in an image crop)",
                          (long long)b[0], (long long)b[1], (long long)b[2], (long long)b[3],
                          m->img_w, m->img_h, m->img_w, m->img_h);
    seg_region *r = calloc(1, sizeof *r);
    if (!r)
        return lang_raise(cx, "MemoryError", "mask.region: out of memory");
    snprintf(r->prompt, sizeof r->prompt, "%s", m->prompt);
    for (int i = 0; i < 4; i++)
        r->box[i] = (int)b[i];
    r->threshold = t;
    double sum = 0, mx = -INFINITY, mn = INFINITY;
    for (int y = r->box[1]; y < r->box[3]; y++) {
        if (lang_check_interrupt(cx) < 0) { /* a big photo: a row at a time */
            free(r);
            return NULL;
        }
        for (int x = r->box[0]; x < r->box[2]; x++) {
            double p = ember_seg_mask_at(m->prob, m->w, m->h, m->img_w, m->img_h, x, y);
            sum += p;
            mx = fmax(mx, p);
            mn = fmin(mn, p);
            r->count += (t > 0 ? p >= t : p > 0);
        }
    }
    r->pixels = (b[2] - b[0]) * (b[3] - b[1]);
    r->mean = sum / (double)r->pixels;
    r->max = mx;
    r->min = mn;
    lang_value *v = lang_object(&seg_region_type, r);
    return v ? v : lang_raise(cx, "MemoryError", "mask.region: out of memory");
}

/* mask.values: rows of the map at the photo's size, for small photos. */
static lang_value *mask_values(lang_ctx *cx, const seg_mask *m)
{
    size_t n = (size_t)m->img_w * (size_t)m->img_h;
    if (n > VALUES_MAX) {
        char count[32];
        lang_format_thousands((int64_t)n, count, sizeof count);
        return lang_raise(cx, "ValueError",
                          "mask.values: the mask is %dx%d (%s values), more than the 65,536 a "
                          "list holds here; save(mask, 'mask.npy') writes them all for "
                          "numpy.load, and mask.at(x, y) or mask.region(x0, y0, x1, y1) give one "
                          "value or a box's summary",
                          m->img_w, m->img_h, count);
    }
    float *r = photo_map(cx, "mask.values", m);
    if (!r)
        return NULL;
    lang_value *rows = lang_list_new((size_t)m->img_h);
    for (int y = 0; rows && y < m->img_h; y++) {
        lang_value *row = lang_list_new((size_t)m->img_w);
        if (!row) {
            lang_decref(rows);
            rows = NULL;
            break;
        }
        for (int x = 0; x < m->img_w; x++)
            lang_list_set(row, (size_t)x, lang_float(r[(size_t)y * m->img_w + x]));
        lang_list_set(rows, (size_t)y, row);
    }
    free(r);
    return rows ? rows : lang_raise(cx, "MemoryError", "mask.values: out of memory");
}

/* save(path): .npy (the probabilities at the photo's size, float32,
 * shape [height, width]) or .png (black and white at 0.5). */
static lang_value *m_mask_save(lang_ctx *cx, const lang_args *a)
{
    const seg_mask *m = mask_of(a->self);
    const char *path;
    if (viz_save_path(cx, a, &path) < 0)
        return NULL;
    char ext[16];
    viz_save_ext(path, ext, sizeof ext);
    if (!strcmp(ext, ".png")) {
        ember_image img;
        if (binary_image(cx, a->fname, m, 0.5, &img) != 0)
            return NULL;
        int rc = viz_save_png(cx, a->fname, &img, path);
        ember_image_free(&img);
        return rc == 0 ? lang_none() : NULL;
    }
    if (strcmp(ext, ".npy"))
        return viz_save_unsupported(cx, a->fname, path, "a mask",
                                    ".npy (its probabilities, float32, at the image's size) or "
                                    ".png (black and white at 0.5; mask.binary(t) for another "
                                    "threshold, mask.image() for the colour picture)");
    float *r = photo_map(cx, a->fname, m);
    if (!r)
        return NULL;
    int64_t shape[2] = {m->img_h, m->img_w};
    ember_ferr err;
    int rc = ember_npy_save_f32(path, r, shape, 2, &err);
    free(r);
    if (rc != 0)
        return viz_save_error(cx, a->fname, &err);
    return lang_none();
}

static const lang_builtin mask_methods[] = {
    {"image()", "The mask as a picture at the photo's size (viridis: dark is 0, yellow is 1).",
     m_mask_image},
    {"binary(threshold=0.5)",
     "A black and white picture at the photo's size: white where the probability (as "
     "mask.at(x, y) gives it) reaches threshold.",
     m_mask_binary},
    {"at(x, y)",
     "The probability at pixel (x, y) of the photo ((0, 0) is the top left; the model's map "
     "resized bilinearly to the photo, as the saved .npy holds it). IndexError outside the "
     "photo.",
     m_mask_at},
    {"region(x0, y0, x1, y1, threshold=0.5)",
     "The mask over the box from (x0, y0) to (x1, y1) of the photo, x1 and y1 excluded as in an "
     "image crop: a region with mean, max, min, area (the share at threshold or more), count "
     "and pixels.",
     m_mask_region},
    {"save(path)",
     "Write the mask to path by its extension: .npy, the probabilities at the photo's size "
     "(float32, shape [height, width], numpy.load reads it), or .png, black and white at 0.5. "
     "save(mask, path) is the same.",
     m_mask_save},
};

const lang_type seg_mask_type = {
    .name = "mask",
    .doc = "mask: where one prompt is in a photo, as probabilities from 0 to 1 (CLIPSeg's sigmoid "
           "output), shown at the photo's size with the viridis colours. Attributes: prompt, "
           "width, height, max, mean, area (the share of the image at 0.5 or more; these three "
           "of the model's own map), values (the probabilities at the photo's size as a list of "
           "rows, for photos of at most 65,536 pixels). Methods: at(x, y), region(x0, y0, x1, "
           "y1), image(), binary(threshold), save(path) (.npy or .png).",
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

/* ---- overlays ---- */

/* How overlay() and masks.overlay() were asked to draw. */
typedef struct overlay_req {
    double alpha, threshold;
    const lang_value *colors; /* none, or what the user gave (checked against the masks) */
    int legend;
} overlay_req;

/* One colour: a name or '#hex' string, or [r, g, b] of integers 0-255. */
static int color_of(lang_ctx *cx, const char *fname, size_t i, const lang_value *c, uint8_t rgb[3])
{
    char err[320];
    if (c->kind == LANG_STR) {
        if (ember_color_parse(c->as.str.ptr, rgb, err, sizeof err) != 0) {
            lang_raise(cx, "ValueError", "%s: colors[%zu]: %s", fname, i, err);
            return -1;
        }
        return 0;
    }
    int ok = c->kind == LANG_LIST && c->as.list.len == 3;
    for (size_t k = 0; ok && k < 3; k++) {
        const lang_value *x = c->as.list.items[k];
        ok = x->kind == LANG_INT && x->as.i >= 0 && x->as.i <= 255;
        if (ok)
            rgb[k] = (uint8_t)x->as.i;
    }
    if (!ok) {
        char *r = lang_repr(c);
        lang_raise(cx, c->kind == LANG_LIST ? "ValueError" : "TypeError",
                   "%s: colors[%zu] must be a colour name such as 'red', a hex code such as "
                   "'#ff8800', or [r, g, b] with integers from 0 to 255; got %.60s",
                   fname, i, r ? r : lang_type_name(c));
        free(r);
        return -1;
    }
    return 0;
}

/* The colours for n masks in out (n entries): 0 with *given set when the
 * user named them, 0 with *given clear for the palette, -1 raised. A
 * single string is a list of one. */
static int overlay_colors(lang_ctx *cx, const char *fname, const lang_value *colors, size_t n,
                          uint8_t (*out)[3], int *given)
{
    *given = 0;
    if (colors->kind == LANG_NONE)
        return 0;
    if (colors->kind != LANG_LIST && colors->kind != LANG_STR) {
        lang_raise(cx, "TypeError",
                   "%s: colors must be a list with one colour per mask (a name, '#rrggbb' or "
                   "[r, g, b]), got %s", fname, lang_type_name(colors));
        return -1;
    }
    size_t have = colors->kind == LANG_STR ? 1 : colors->as.list.len;
    if (have != n) {
        int rgb_like = colors->kind == LANG_LIST && have == 3;
        for (size_t k = 0; rgb_like && k < 3; k++)
            rgb_like = colors->as.list.items[k]->kind == LANG_INT;
        lang_raise(cx, "ValueError",
                   "%s: colors has %zu colour%s for %zu mask%s; give one per mask, in the order "
                   "of the prompts%s", fname, have, have == 1 ? "" : "s", n, n == 1 ? "" : "s",
                   rgb_like ? " (one colour as [r, g, b] goes inside the list: colors=[[255, 0, "
                              "0]])"
                            : "");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (color_of(cx, fname, i, colors->kind == LANG_STR ? colors : colors->as.list.items[i],
                     out[i]) < 0)
            return -1;
    *given = 1;
    return 0;
}

static lang_value *overlay_masks(lang_ctx *cx, const char *fname, const ember_image *photo,
                                 const lang_value *const *masks, size_t n, const overlay_req *rq)
{
    const float **probs = calloc(n ? n : 1, sizeof *probs);
    const char **labels = calloc(n ? n : 1, sizeof *labels);
    uint8_t (*rgb)[3] = calloc(n ? n : 1, sizeof *rgb);
    lang_value *result = NULL;
    if (!probs || !labels || !rgb) {
        lang_raise(cx, "MemoryError", "%s: out of memory", fname);
        goto out;
    }
    const seg_mask *first = mask_of(masks[0]);
    for (size_t i = 0; i < n; i++) {
        const seg_mask *m = mask_of(masks[i]);
        if (m->w != first->w || m->h != first->h) {
            lang_raise(cx, "ValueError", "%s: the masks come from different models "
                       "(%dx%d and %dx%d maps)", fname, first->w, first->h, m->w, m->h);
            goto out;
        }
        probs[i] = m->prob;
        labels[i] = m->prompt;
    }
    int given = 0;
    if (overlay_colors(cx, fname, rq->colors, n, rgb, &given) < 0)
        goto out;
    ember_seg_overlay_opts o = {.alpha = rq->alpha, .threshold = rq->threshold,
                                .colors = given ? (const uint8_t(*)[3])rgb : NULL,
                                .labels = rq->legend ? labels : NULL};
    ember_image img;
    ember_err err;
    if (ember_seg_overlay(photo, probs, n, first->w, first->h, &o, &img, &err) != 0) {
        lang_raise(cx, strstr(err.msg, "out of memory") ? "MemoryError" : "ValueError", "%s: %s",
                   fname, err.msg);
        goto out;
    }
    result = viz_image_value(&img);
    if (!result)
        lang_raise(cx, "MemoryError", "%s: out of memory", fname);
out:
    free(probs);
    free(labels);
    free(rgb);
    return result;
}

/* alpha, threshold, colors and legend arguments from position i on. */
static int overlay_args(lang_ctx *cx, const lang_args *a, size_t i, overlay_req *rq)
{
    size_t ia = i, it = i + 1;
    if (lang_arg_number(cx, a, ia, &rq->alpha) < 0)
        return -1;
    if (!(rq->alpha >= 0 && rq->alpha <= 1)) {
        lang_arg_error(cx, a, ia, "ValueError", "a number from 0 to 1");
        return -1;
    }
    rq->threshold = -1;
    if (a->v[it]->kind != LANG_NONE) {
        if (lang_arg_number(cx, a, it, &rq->threshold) < 0)
            return -1;
        if (!(rq->threshold >= 0 && rq->threshold <= 1)) {
            lang_arg_error(cx, a, it, "ValueError", "none or a number from 0 to 1");
            return -1;
        }
    }
    rq->colors = a->v[i + 2];
    return lang_arg_bool(cx, a, i + 3, &rq->legend);
}

static lang_value *m_masks_overlay(lang_ctx *cx, const lang_args *a)
{
    const seg_masks *ms = masks_of(a->self);
    overlay_req rq;
    if (overlay_args(cx, a, 0, &rq) < 0)
        return NULL;
    return overlay_masks(cx, "masks.overlay", &ms->photo, (const lang_value *const *)ms->masks,
                         ms->n, &rq);
}

/* ---- saving every prompt's mask ---- */

/* A file-name-safe key for a prompt: ASCII letters, digits, '-' and '.'
 * kept, every other run of characters one '_' ("a cat" -> "a_cat"), at
 * most 60 bytes, "mask" when nothing is left. Unique among keys[0..n)
 * and the names the archive uses itself, ignoring case (a case-blind file
 * system would merge "Cat" and "cat"): "_2", "_3"... */
static void prompt_key(const char *prompt, char (*keys)[80], size_t n, char *out)
{
    char base[64];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)prompt; *p && o < 60; p++) {
        int keep = isalnum(*p) || *p == '-' || (*p == '.' && o > 0);
        if (keep)
            base[o++] = (char)*p;
        else if (o > 0 && base[o - 1] != '_')
            base[o++] = '_';
    }
    while (o > 0 && (base[o - 1] == '_' || base[o - 1] == '.'))
        o--;
    base[o] = '\0';
    if (!o)
        snprintf(base, sizeof base, "mask");
    static const char *const reserved[] = {"prompts", "keys", "index"};
    for (int k = 1;; k++) {
        if (k == 1)
            snprintf(out, 80, "%.60s", base);
        else
            snprintf(out, 80, "%.60s_%d", base, k);
        int taken = 0;
        for (size_t i = 0; i < n && !taken; i++)
            taken = !strcasecmp(keys[i], out);
        for (size_t i = 0; i < sizeof reserved / sizeof *reserved && !taken; i++)
            taken = !strcasecmp(reserved[i], out);
        if (!taken)
            return;
    }
}

/* Every mask's map at the photo's size and its key; NULL raised. */
typedef struct masks_maps {
    float **maps;
    char (*keys)[80];
    size_t n;
} masks_maps;

static void maps_free(masks_maps *mm)
{
    for (size_t i = 0; mm->maps && i < mm->n; i++)
        free(mm->maps[i]);
    free(mm->maps);
    free(mm->keys);
}

static int maps_of(lang_ctx *cx, const char *fname, const seg_masks *ms, masks_maps *mm)
{
    mm->n = ms->n;
    mm->maps = calloc(ms->n ? ms->n : 1, sizeof *mm->maps);
    mm->keys = calloc(ms->n ? ms->n : 1, sizeof *mm->keys);
    if (!mm->maps || !mm->keys) {
        maps_free(mm);
        lang_raise(cx, "MemoryError", "%s: out of memory", fname);
        return -1;
    }
    for (size_t i = 0; i < ms->n; i++) {
        const seg_mask *m = mask_of(ms->masks[i]);
        prompt_key(m->prompt, mm->keys, i, mm->keys[i]);
        if (!(mm->maps[i] = photo_map(cx, fname, m))) {
            maps_free(mm);
            return -1;
        }
    }
    return 0;
}

static int save_npz(lang_ctx *cx, const char *fname, const seg_masks *ms, const masks_maps *mm,
                    const char *path)
{
    ember_npz z;
    ember_ferr err;
    int64_t shape[2] = {ms->photo.height, ms->photo.width};
    const char **prompts = calloc(ms->n ? ms->n : 1, sizeof *prompts);
    const char **keys = calloc(ms->n ? ms->n : 1, sizeof *keys);
    if (!prompts || !keys) {
        free(prompts), free(keys);
        lang_raise(cx, "MemoryError", "%s: out of memory", fname);
        return -1;
    }
    for (size_t i = 0; i < ms->n; i++) {
        prompts[i] = mask_of(ms->masks[i])->prompt;
        keys[i] = mm->keys[i];
    }
    int rc = ember_npz_open(&z, path, &err);
    for (size_t i = 0; rc == 0 && i < ms->n; i++)
        rc = ember_npz_add_f32(&z, keys[i], mm->maps[i], shape, 2, &err);
    if (rc == 0)
        rc = ember_npz_add_strings(&z, "prompts", prompts, ms->n, &err);
    if (rc == 0)
        rc = ember_npz_add_strings(&z, "keys", keys, ms->n, &err);
    if (rc == 0)
        rc = ember_npz_commit(&z, &err);
    else
        ember_npz_abort(&z);
    free(prompts), free(keys);
    if (rc != 0)
        viz_save_error(cx, fname, &err);
    return rc;
}

/* All masks as one array [prompts, height, width]. */
static int save_stack(lang_ctx *cx, const char *fname, const seg_masks *ms, const masks_maps *mm,
                      const char *path)
{
    size_t plane = (size_t)ms->photo.width * (size_t)ms->photo.height;
    float *all = malloc((ms->n ? ms->n : 1) * plane * sizeof *all);
    if (!all) {
        lang_raise(cx, "MemoryError", "%s: out of memory", fname);
        return -1;
    }
    for (size_t i = 0; i < ms->n; i++)
        memcpy(all + i * plane, mm->maps[i], plane * sizeof *all);
    int64_t shape[3] = {(int64_t)ms->n, ms->photo.height, ms->photo.width};
    ember_ferr err;
    int rc = ember_npy_save_f32(path, all, shape, 3, &err);
    free(all);
    if (rc != 0)
        viz_save_error(cx, fname, &err);
    return rc;
}

#define INDEX_FORMAT "ember masks"

/* An earlier masks folder, holding index.json and the files it lists and
 * nothing else, may be replaced; anything else is the user's. */
static int is_masks_folder(const char *path, void *ctx)
{
    (void)ctx;
    char *ipath = NULL;
    if (asprintf(&ipath, "%s/index.json", path) < 0)
        return 0;
    json_t *root = json_load_file(ipath, 0, NULL);
    free(ipath);
    json_t *fmt = json_object_get(root, "format"), *list = json_object_get(root, "masks");
    int ok = json_is_string(fmt) && !strcmp(json_string_value(fmt), INDEX_FORMAT) &&
             json_is_array(list);
    DIR *d = ok ? opendir(path) : NULL;
    ok = d != NULL;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "index.json"))
            continue;
        int listed = 0;
        size_t i;
        json_t *item;
        json_array_foreach(list, i, item) {
            json_t *f = json_object_get(item, "file");
            listed |= json_is_string(f) && !strcmp(json_string_value(f), e->d_name);
        }
        ok = listed;
    }
    if (d)
        closedir(d);
    json_decref(root);
    return ok;
}

static int save_folder(lang_ctx *cx, const char *fname, const seg_masks *ms, const masks_maps *mm,
                       const char *path)
{
    ember_adir ad;
    ember_ferr err;
    if (ember_adir_open(&ad, path, &err) != 0) {
        viz_save_error(cx, fname, &err);
        return -1;
    }
    int64_t shape[2] = {ms->photo.height, ms->photo.width};
    json_t *list = json_array();
    json_t *root = json_pack("{s:s, s:i, s:{s:i, s:i}, s:o}", "format", INDEX_FORMAT, "version", 1,
                             "image", "width", ms->photo.width, "height", ms->photo.height,
                             "masks", list);
    int rc = root ? 0 : ember_ferr_set(&err, ENOMEM, "out of memory");
    char file[96], fpath[4096];
    for (size_t i = 0; rc == 0 && i < ms->n; i++) {
        const seg_mask *m = mask_of(ms->masks[i]);
        snprintf(file, sizeof file, "%s.npy", mm->keys[i]);
        if (ember_adir_file(&ad, file, fpath, sizeof fpath) != 0) {
            rc = ember_ferr_set(&err, ENAMETOOLONG, "cannot save '%s': the path is too long", path);
            break;
        }
        rc = ember_npy_save_f32(fpath, mm->maps[i], shape, 2, &err);
        json_t *item = json_pack("{s:s, s:s, s:s, s:[i, i], s:s}", "prompt", m->prompt, "key",
                                 mm->keys[i], "file", file, "shape", ms->photo.height,
                                 ms->photo.width, "overlay_colour", ember_seg_color_name(i));
        if (rc == 0 && (!item || json_array_append_new(list, item) != 0))
            rc = ember_ferr_set(&err, ENOMEM, "out of memory");
    }
    if (rc == 0) {
        if (ember_adir_file(&ad, "index.json", fpath, sizeof fpath) != 0)
            rc = ember_ferr_set(&err, ENAMETOOLONG, "cannot save '%s': the path is too long", path);
        else
            rc = ember_json_save(root, fpath, &err);
    }
    json_decref(root);
    if (rc == 0)
        rc = ember_adir_commit(&ad, is_masks_folder, NULL, &err);
    else
        ember_adir_abort(&ad);
    if (rc != 0)
        viz_save_error(cx, fname, &err);
    return rc;
}

/* save(path): .npz, .npy, or a folder (no extension). */
static lang_value *m_masks_save(lang_ctx *cx, const lang_args *a)
{
    const seg_masks *ms = masks_of(a->self);
    const char *path;
    if (viz_save_path(cx, a, &path) < 0)
        return NULL;
    char ext[16];
    viz_save_ext(path, ext, sizeof ext);
    size_t plen = strlen(path);
    int folder = !ext[0] || path[plen - 1] == '/';
    if (!folder && strcmp(ext, ".npz") && strcmp(ext, ".npy"))
        return viz_save_unsupported(cx, a->fname, path, "masks",
                                    ".npz (one array per prompt, with the prompts), .npy (one "
                                    "array [prompts, height, width]) or a folder (a path without "
                                    "an extension: one .npy per prompt and index.json)");
    masks_maps mm = {0};
    if (maps_of(cx, a->fname, ms, &mm) < 0)
        return NULL;
    int rc = folder                  ? save_folder(cx, a->fname, ms, &mm, path)
             : !strcmp(ext, ".npz") ? save_npz(cx, a->fname, ms, &mm, path)
                                    : save_stack(cx, a->fname, ms, &mm, path);
    maps_free(&mm);
    return rc == 0 ? lang_none() : NULL;
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
    {"overlay(alpha=0.5, threshold=none, colors=none, legend=true)",
     "The photo with the masks tinted on it and a legend of the prompts; see overlay().",
     m_masks_overlay},
    {"table()", "One row per prompt: its overlay colour, the mask's max and mean probability, "
                "and the share of the image at 0.5 or more.",
     m_masks_table},
    {"save(path)",
     "Write every mask to path by its extension: .npz (numpy.load(path)[key], one float32 "
     "array [height, width] per prompt, keys made safe from the prompts: 'a cat' is 'a_cat'; "
     "arrays 'prompts' and 'keys' list them in order), .npy (one array [prompts, height, "
     "width]), or a folder for a path without an extension (one <key>.npy per prompt and "
     "index.json naming each prompt's file; an earlier such folder is replaced, any other "
     "existing folder is refused). save(masks, path) is the same.",
     m_masks_save},
};

const lang_type seg_masks_type = {
    .name = "masks",
    .doc = "masks: what segment() found in one photo, one mask per prompt, shown beside the "
           "photo. masks[0] or masks['a cat'] is one mask; len(masks) counts them; "
           "masks.prompts lists the prompts; masks.image is the photo; masks.overlay() tints "
           "them on it; masks.table() sums them up; masks.save(path) writes them (.npz, .npy "
           "or a folder).",
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

/* overlay(image, masks, alpha=0.5, threshold=none, colors=none, legend=true) */
static lang_value *b_overlay(lang_ctx *cx, const lang_args *a)
{
    const ember_image *photo = viz_image_of(a->v[0]);
    if (!photo)
        return lang_arg_error(cx, a, 0, "TypeError", "an image (e.g. load_image(path))");
    overlay_req rq;
    if (overlay_args(cx, a, 2, &rq) < 0)
        return NULL;
    const lang_value *mv = a->v[1];
    const seg_masks *ms = masks_of(mv);
    if (ms)
        return overlay_masks(cx, "overlay", photo, (const lang_value *const *)ms->masks, ms->n, &rq);
    if (mask_of(mv))
        return overlay_masks(cx, "overlay", photo, &mv, 1, &rq);
    if (mv->kind == LANG_LIST && mv->as.list.len > 0) {
        for (size_t i = 0; i < mv->as.list.len; i++)
            if (!mask_of(mv->as.list.items[i]))
                return lang_raise(cx, "TypeError", "overlay: item %zu of masks is %s, not a mask",
                                  i, lang_type_name(mv->as.list.items[i]));
        return overlay_masks(cx, "overlay", photo, (const lang_value *const *)mv->as.list.items,
                             mv->as.list.len, &rq);
    }
    return lang_arg_error(cx, a, 1, "TypeError", "masks from segment(), one mask, or a list of masks");
}

static const lang_builtin mask_builtins[] = {
    {"overlay(image, masks, alpha=0.5, threshold=none, colors=none, legend=true)",
     "The image with each mask tinted in its own colour, by default in order blue, orange, "
     "green, red, purple, brown, pink, grey, olive, cyan (matplotlib's tab10): each pixel moves "
     "towards the colour by alpha times the mask's probability, or by alpha where the "
     "probability reaches threshold when one is given. masks is what segment() returned, one "
     "mask, or a list of masks. colors gives one colour per mask, in order: a CSS name "
     "('red'), 'tab:blue', a hex code ('#ff8800') or [r, g, b] (0-255). legend=true draws a "
     "key of each prompt's colour in the top left corner; legend=false leaves it out.",
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
