/* seg.c — CLIPSegProcessor's image pre-processing, probabilities, a map's
 * values at the photo's size, and masks drawn as pictures (viridis maps,
 * tinted overlays with a legend). See seg.h. */
#include "seg/seg.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viz/plot.h"

ember_seg_norm ember_seg_default_norm(void)
{
    return (ember_seg_norm){.size = 352,
                            .mean = {0.485f, 0.456f, 0.406f},
                            .std = {0.229f, 0.224f, 0.225f}};
}

static int read_triple(json_t *a, float out[3], const char *name, const char *path, ember_err *err)
{
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) != 3)
        return ember_err_set(err, "%s: %s must be a list of 3 numbers", path, name);
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_array_get(a, i);
        if (!json_is_number(x))
            return ember_err_set(err, "%s: %s must be a list of 3 numbers", path, name);
        out[i] = (float)json_number_value(x);
    }
    return 0;
}

/* The image processor's switches: what CLIPSegProcessor (ViTImageProcessor)
 * does is what ember_seg_preprocess implements, and a file asking for
 * anything else is refused rather than silently run the usual way. Keys
 * that only name classes (processor_class) or that the RGB conversion
 * makes moot (do_convert_rgb) are ignored. */
static int check_processor(json_t *root, const char *path, ember_err *err)
{
    static const char *const on[] = {"do_resize", "do_rescale", "do_normalize"};
    for (size_t i = 0; i < sizeof on / sizeof *on; i++) {
        json_t *v = json_object_get(root, on[i]);
        if (v && !json_is_true(v))
            return ember_err_set(err, "%s: %s must be true: Ember always resizes, rescales by 1/255 "
                                      "and normalises, as CLIPSeg's processor does", path, on[i]);
    }
    static const char *const off[] = {"do_center_crop", "do_pad", "do_reduce_labels"};
    for (size_t i = 0; i < sizeof off / sizeof *off; i++) {
        json_t *v = json_object_get(root, off[i]);
        if (v && !json_is_false(v) && !json_is_null(v))
            return ember_err_set(err, "%s: %s is not supported (CLIPSeg's processor does not "
                                      "use it)", path, off[i]);
    }
    json_t *v = json_object_get(root, "resample");
    if (v && !(json_is_integer(v) && json_integer_value(v) == 2))
        return ember_err_set(err, "%s: resample must be 2 (PIL's BILINEAR, the one resize Ember "
                                  "implements), got %s%lld", path, json_is_integer(v) ? "" : "a non-integer ",
                             json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
    v = json_object_get(root, "rescale_factor");
    if (v && !(json_is_number(v) && fabs(json_number_value(v) * 255.0 - 1.0) < 1e-9))
        return ember_err_set(err, "%s: rescale_factor must be 1/255 (0.00392156862745098), got %g",
                             path, json_is_number(v) ? json_number_value(v) : NAN);
    static const char *const kinds[] = {"image_processor_type", "feature_extractor_type"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        v = json_object_get(root, kinds[i]);
        const char *t = json_is_string(v) ? json_string_value(v) : NULL;
        if (v && !(t && !strncmp(t, "ViT", 3)))
            return ember_err_set(err, "%s: %s is '%.60s'; Ember implements CLIPSeg's own "
                                      "(ViTImageProcessor / ViTFeatureExtractor)", path, kinds[i],
                                 t ? t : "not a string");
    }
    return 0;
}

/* The settings in a parsed object; `path` names it in messages (a file,
 * or a file and the section that holds them). */
static int read_norm_root(json_t *root, const char *path, ember_seg_norm *out, ember_err *err)
{
    ember_seg_norm n = *out;
    if (!json_is_object(root))
        return ember_err_set(err, "%s: expected a JSON object", path);
    if (check_processor(root, path, err) != 0)
        return -1;
    json_t *size = json_object_get(root, "size");
    if (json_is_integer(size)) {
        n.size = json_integer_value(size) > 4096 ? 0 : (int)json_integer_value(size);
    } else if (json_is_object(size)) {
        json_t *h = json_object_get(size, "height"), *w = json_object_get(size, "width");
        /* {"shortest_edge"} keeps the aspect ratio: not the square input
         * the model takes, so it is refused rather than read as a side. */
        if (!json_is_integer(h) || !json_is_integer(w) || json_object_size(size) != 2)
            return ember_err_set(err, "%s: size must be a number or {\"height\": n, \"width\": n}; "
                                      "other forms (e.g. shortest_edge) are not supported", path);
        if (json_integer_value(h) != json_integer_value(w))
            return ember_err_set(err, "%s: only square sizes are supported, got %lldx%lld", path,
                                 (long long)json_integer_value(w), (long long)json_integer_value(h));
        n.size = json_integer_value(h) > 4096 ? 0 : (int)json_integer_value(h);
    } else if (size) {
        return ember_err_set(err, "%s: size must be a number or {\"height\": n, \"width\": n}", path);
    }
    if (n.size < 16 || n.size > 4096)
        return ember_err_set(err, "%s: size %d is out of range (16..4096)", path, n.size);
    if (read_triple(json_object_get(root, "image_mean"), n.mean, "image_mean", path, err) != 0 ||
        read_triple(json_object_get(root, "image_std"), n.std, "image_std", path, err) != 0)
        return -1;
    for (int c = 0; c < 3; c++)
        if (!(n.std[c] > 0))
            return ember_err_set(err, "%s: image_std must be positive", path);
    *out = n;
    return 0;
}

int ember_seg_read_norm_json(const char *json, size_t len, const char *where, ember_seg_norm *out,
                             ember_err *err)
{
    if (!where)
        where = "image settings";
    if (!json)
        return ember_err_set(err, "%s: no JSON text given", where);
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root)
        return ember_err_set(err, "%s: not readable JSON (%s, line %d)", where, je.text, je.line);
    int rc = read_norm_root(root, where, out, err);
    json_decref(root);
    return rc;
}

/* A preprocessor_config.json is a few hundred bytes; a file far larger is
 * not one, and is refused before it is read into memory. */
#define NORM_FILE_MAX ((size_t)1 << 20)

int ember_seg_read_norm(const char *path, ember_seg_norm *out, ember_err *err)
{
    if (!path)
        return ember_err_set(err, "image settings: no path given");
    FILE *f = fopen(path, "rb");
    if (!f)
        return ember_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    char *text = malloc(NORM_FILE_MAX + 1);
    size_t len = text ? fread(text, 1, NORM_FILE_MAX + 1, f) : 0;
    int bad = text && ferror(f), e = errno;
    fclose(f);
    int rc;
    if (!text)
        rc = ember_err_set(err, "%s: out of memory", path);
    else if (bad)
        rc = ember_err_set(err, "%s: cannot read: %s", path, strerror(e));
    else if (len > NORM_FILE_MAX)
        rc = ember_err_set(err, "%s: larger than 1 MiB, which no image processor's settings are; "
                                "is it the right file?", path);
    else
        rc = ember_seg_read_norm_json(text, len, path, out, err);
    free(text);
    return rc;
}

int ember_seg_preprocess(const ember_image *img, const ember_seg_norm *norm, float *out,
                         ember_err *err)
{
    char msg[256];
    ember_image rgb = {0}, sized = {0};
    /* PIL's convert("RGB") drops alpha; grey is spread to three channels */
    if (ember_image_alloc(&rgb, img->width, img->height, 3, msg, sizeof msg) != 0)
        return ember_err_set(err, "%s", msg);
    size_t npx = (size_t)img->width * (size_t)img->height;
    for (size_t i = 0; i < npx; i++)
        for (int c = 0; c < 3; c++)
            rgb.data[i * 3 + c] = img->data[i * (size_t)img->channels + (img->channels >= 3 ? (size_t)c : 0)];
    int s = norm->size;
    if (ember_image_resize(&rgb, s, s, &sized, msg, sizeof msg) != 0) {
        ember_image_free(&rgb);
        return ember_err_set(err, "%s", msg);
    }
    ember_image_free(&rgb);
    size_t plane = (size_t)s * (size_t)s;
    for (int c = 0; c < 3; c++) {
        /* as the processor computes it: rescale, then normalise, in float */
        float m = norm->mean[c], sd = norm->std[c];
        for (size_t i = 0; i < plane; i++)
            out[(size_t)c * plane + i] = ((float)sized.data[i * 3 + (size_t)c] * (1.0f / 255.0f) - m) / sd;
    }
    ember_image_free(&sized);
    return 0;
}

void ember_seg_sigmoid(const float *logits, size_t n, float *probs)
{
    for (size_t i = 0; i < n; i++)
        probs[i] = 1.0f / (1.0f + expf(-logits[i]));
}

/* Bilinear (pixel centres at +0.5, edges clamped) sample of a float map. */
static float sample(const float *p, int w, int h, double x, double y)
{
    x -= 0.5;
    y -= 0.5;
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x > w - 1) x = w - 1;
    if (y > h - 1) y = h - 1;
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    double fx = x - x0, fy = y - y0;
    double top = p[(size_t)y0 * w + x0] * (1 - fx) + p[(size_t)y0 * w + x1] * fx;
    double bot = p[(size_t)y1 * w + x0] * (1 - fx) + p[(size_t)y1 * w + x1] * fx;
    return (float)(top * (1 - fy) + bot * fy);
}

float ember_seg_mask_at(const float *prob, int w, int h, int out_w, int out_h, int x, int y)
{
    double sx = (double)w / out_w, sy = (double)h / out_h;
    float v = sample(prob, w, h, (x + 0.5) * sx, (y + 0.5) * sy);
    return v != v ? 0.0f : v < 0 ? 0.0f : v > 1 ? 1.0f : v;
}

/* The map at out_w x out_h; NULL when out of memory. */
static float *resized(const float *prob, int w, int h, int out_w, int out_h)
{
    float *r = malloc((size_t)out_w * (size_t)out_h * sizeof *r);
    if (!r)
        return NULL;
    for (int y = 0; y < out_h; y++)
        for (int x = 0; x < out_w; x++)
            r[(size_t)y * out_w + x] = ember_seg_mask_at(prob, w, h, out_w, out_h, x, y);
    return r;
}

int ember_seg_mask_resize(const float *prob, int w, int h, int out_w, int out_h, float **out,
                          ember_err *err)
{
    if (w <= 0 || h <= 0 || out_w <= 0 || out_h <= 0)
        return ember_err_set(err, "mask: empty size");
    *out = resized(prob, w, h, out_w, out_h);
    return *out ? 0 : ember_err_set(err, "out of memory for a %dx%d mask", out_w, out_h);
}

int ember_seg_mask_image(const float *prob, int w, int h, int out_w, int out_h, ember_image *out,
                         ember_err *err)
{
    char msg[256];
    if (w <= 0 || h <= 0 || out_w <= 0 || out_h <= 0)
        return ember_err_set(err, "mask image: empty size");
    float *r = resized(prob, w, h, out_w, out_h);
    if (!r)
        return ember_err_set(err, "mask image: out of memory");
    if (ember_image_alloc(out, out_w, out_h, 3, msg, sizeof msg) != 0) {
        free(r);
        return ember_err_set(err, "mask image: %s", msg);
    }
    for (size_t i = 0; i < (size_t)out_w * out_h; i++)
        ember_colormap_viridis(r[i], out->data + 3 * i);
    free(r);
    return 0;
}

static const uint8_t tab10[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};
static const char *const tab10_names[10] = {"blue",  "orange", "green", "red",   "purple",
                                            "brown", "pink",   "grey",  "olive", "cyan"};

void ember_seg_color(size_t k, uint8_t rgb[3])
{
    memcpy(rgb, tab10[k % 10], 3);
}

const char *ember_seg_color_name(size_t k)
{
    return tab10_names[k % 10];
}

int ember_seg_overlay(const ember_image *img, const float *const *probs, size_t n, int w, int h,
                      const ember_seg_overlay_opts *o, ember_image *out, ember_err *err)
{
    char msg[256];
    double alpha = o->alpha, threshold = o->threshold;
    if (!(alpha >= 0 && alpha <= 1))
        return ember_err_set(err, "alpha must be from 0 to 1, got %g", alpha);
    ember_image base = {0};
    if (ember_image_convert(img, 3, &base, msg, sizeof msg) != 0)
        return ember_err_set(err, "%s", msg);
    size_t npx = (size_t)img->width * (size_t)img->height;
    uint8_t (*used)[3] = calloc(n ? n : 1, sizeof *used); /* the colours, for the legend */
    if (!used) {
        ember_image_free(&base);
        return ember_err_set(err, "out of memory");
    }
    for (size_t k = 0; k < n; k++) {
        float *r = resized(probs[k], w, h, img->width, img->height);
        if (!r) {
            ember_image_free(&base);
            free(used);
            return ember_err_set(err, "out of memory");
        }
        uint8_t rgb[3];
        if (o->colors)
            memcpy(rgb, o->colors[k], 3);
        else
            ember_seg_color(k, rgb);
        memcpy(used[k], rgb, 3);
        for (size_t i = 0; i < npx; i++) {
            double p = threshold >= 0 ? (r[i] >= threshold ? 1.0 : 0.0) : r[i];
            double a = alpha * p;
            for (int c = 0; c < 3; c++) {
                double v = base.data[i * 3 + c] * (1.0 - a) + rgb[c] * a;
                base.data[i * 3 + c] = (uint8_t)lrint(v);
            }
        }
        free(r);
    }
    if (o->labels &&
        ember_image_draw_legend(&base, o->labels, (const uint8_t(*)[3])used, n, msg, sizeof msg) != 0) {
        ember_image_free(&base);
        free(used);
        return ember_err_set(err, "%s", msg);
    }
    free(used);
    *out = base;
    return 0;
}
