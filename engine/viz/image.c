/* image.c — the image value and its pure pixel operations (no codecs here). */
#include "image.h"
#include "viz_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_dims(int w, int h, int c, char *err, size_t errlen)
{
    if (w <= 0 || h <= 0) {
        viz_seterr(err, errlen, "image size %dx%d is empty; width and height must be positive", w, h);
        return -1;
    }
    if (c != 1 && c != 3 && c != 4) {
        viz_seterr(err, errlen, "an image has 1 (grey), 3 (RGB) or 4 (RGBA) channels, not %d", c);
        return -1;
    }
    if (w > EMBER_IMAGE_MAX_SIDE || h > EMBER_IMAGE_MAX_SIDE ||
        (uint64_t)w * (uint64_t)h > EMBER_IMAGE_MAX_PIXELS) {
        viz_seterr(err, errlen, "image size %dx%d is too large (at most %d pixels a side, %u pixels)",
                   w, h, EMBER_IMAGE_MAX_SIDE, EMBER_IMAGE_MAX_PIXELS);
        return -1;
    }
    return 0;
}

int ember_image_alloc(ember_image *out, int width, int height, int channels, char *err,
                      size_t errlen)
{
    if (check_dims(width, height, channels, err, errlen))
        return -1;
    uint8_t *d = calloc((size_t)width * (size_t)height, (size_t)channels);
    if (!d) {
        viz_seterr(err, errlen, "out of memory for a %dx%d image", width, height);
        return -1;
    }
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->data = d;
    return 0;
}

void ember_image_free(ember_image *img)
{
    if (!img)
        return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

int ember_image_copy(const ember_image *src, ember_image *out, char *err, size_t errlen)
{
    ember_image t;
    if (ember_image_alloc(&t, src->width, src->height, src->channels, err, errlen))
        return -1;
    memcpy(t.data, src->data, (size_t)src->width * src->height * src->channels);
    *out = t;
    return 0;
}

const char *ember_image_mode(int channels)
{
    switch (channels) {
    case 1: return "grey";
    case 3: return "RGB";
    case 4: return "RGBA";
    default: return "?";
    }
}

int ember_image_describe(const ember_image *img, char *buf, size_t len)
{
    return snprintf(buf, len, "<image %dx%d %s>", img->width, img->height,
                    ember_image_mode(img->channels));
}

int ember_image_convert(const ember_image *src, int channels, ember_image *out, char *err,
                        size_t errlen)
{
    if (check_dims(src->width, src->height, src->channels, err, errlen))
        return -1;
    ember_image t;
    if (ember_image_alloc(&t, src->width, src->height, channels, err, errlen))
        return -1;
    size_t n = (size_t)src->width * src->height;
    const uint8_t *s = src->data;
    uint8_t *d = t.data;
    for (size_t i = 0; i < n; i++, s += src->channels, d += channels) {
        unsigned r, g, b, a = 255;
        if (src->channels == 1) {
            r = g = b = s[0];
        } else {
            r = s[0];
            g = s[1];
            b = s[2];
            if (src->channels == 4)
                a = s[3];
        }
        if (channels != 4 && a != 255) { /* composite over white */
            r = (r * a + 255 * (255 - a) + 127) / 255;
            g = (g * a + 255 * (255 - a) + 127) / 255;
            b = (b * a + 255 * (255 - a) + 127) / 255;
        }
        if (channels == 1) {
            /* ITU-R 601 luma, the weights PIL's "L" conversion uses. */
            d[0] = (uint8_t)((r * 299 + g * 587 + b * 114 + 500) / 1000);
        } else {
            d[0] = (uint8_t)r;
            d[1] = (uint8_t)g;
            d[2] = (uint8_t)b;
            if (channels == 4)
                d[3] = (uint8_t)a;
        }
    }
    *out = t;
    return 0;
}

/* Resizing reproduces Pillow's Image.resize(size, BILINEAR) byte for byte,
 * because models (CLIPSeg's processor) were trained on inputs made that way:
 * a triangle filter whose support widens with the scale when shrinking,
 * weights computed in double, normalised per output pixel, then turned into
 * 22-bit fixed point; one pass per axis, each rounded to 8 bits. RGBA is
 * resampled premultiplied, as Pillow does (RGBA -> RGBa -> RGBA), so
 * transparent pixels do not bleed their colour. */
#define RS_BITS 22 /* fractional bits of a weight: 8-bit samples leave room in 32 bits */

/* One axis: for each output index the first input index, the count of
 * inputs, and their fixed-point weights (ksize a row). */
typedef struct {
    int *first;
    int *count;
    int32_t *w;
    int ksize;
} axis_kernel;

static void axis_free(axis_kernel *k)
{
    free(k->first);
    free(k->count);
    free(k->w);
}

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* The arithmetic (and its order) follows Pillow's coefficient setup, so the
 * doubles, hence the rounded weights, come out identical. */
static int axis_build(axis_kernel *k, int in, int out)
{
    double scale = (double)in / out;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* the triangle reaches 1 pixel, scaled */
    double inv = 1.0 / filterscale;
    k->ksize = (int)ceil(support) * 2 + 1;
    k->first = malloc(sizeof(int) * (size_t)out);
    k->count = malloc(sizeof(int) * (size_t)out);
    k->w = malloc(sizeof(int32_t) * (size_t)out * (size_t)k->ksize);
    double *dw = malloc(sizeof(double) * (size_t)k->ksize);
    if (!k->first || !k->count || !k->w || !dw) {
        free(dw);
        axis_free(k);
        return -1;
    }
    for (int o = 0; o < out; o++) {
        double centre = (o + 0.5) * scale;
        int lo = (int)(centre - support + 0.5); /* truncation, as Pillow's cast */
        int hi = (int)(centre + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > in)
            hi = in;
        int n = hi - lo;
        if (n > k->ksize)
            n = k->ksize;
        double sum = 0.0;
        for (int j = 0; j < n; j++) {
            dw[j] = triangle(((double)(j + lo) - centre + 0.5) * inv);
            sum += dw[j];
        }
        int32_t *w = k->w + (size_t)o * k->ksize;
        for (int j = 0; j < n; j++) {
            double v = sum != 0.0 ? dw[j] / sum : dw[j];
            w[j] = (int32_t)(0.5 + v * (1 << RS_BITS)); /* weights are never negative */
        }
        k->first[o] = lo;
        k->count[o] = n;
    }
    free(dw);
    return 0;
}

/* A fixed-point sum back to 8 bits (the 0.5 for rounding is added up front). */
static inline uint8_t clip8(int64_t v)
{
    if (v >= (int64_t)256 << RS_BITS)
        return 255;
    if (v <= 0)
        return 0;
    return (uint8_t)(v >> RS_BITS);
}

/* dst (dw x rows) from src (sw x rows), c channels, along x. */
static void pass_horizontal(const uint8_t *src, int sw, uint8_t *dst, int dw, int rows, int c,
                            const axis_kernel *k)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *srow = src + (size_t)y * sw * c;
        uint8_t *drow = dst + (size_t)y * dw * c;
        for (int x = 0; x < dw; x++) {
            const int32_t *w = k->w + (size_t)x * k->ksize;
            const uint8_t *p = srow + (size_t)k->first[x] * c;
            for (int ch = 0; ch < c; ch++) {
                int64_t acc = 1 << (RS_BITS - 1);
                for (int j = 0; j < k->count[x]; j++)
                    acc += (int64_t)p[j * c + ch] * w[j];
                drow[x * c + ch] = clip8(acc);
            }
        }
    }
}

/* dst (width x dh) from src (width x sh rows), along y. */
static void pass_vertical(const uint8_t *src, uint8_t *dst, int width, int dh, int c,
                          const axis_kernel *k)
{
    size_t stride = (size_t)width * c;
    for (int y = 0; y < dh; y++) {
        const int32_t *w = k->w + (size_t)y * k->ksize;
        const uint8_t *base = src + (size_t)k->first[y] * stride;
        uint8_t *drow = dst + (size_t)y * stride;
        for (size_t i = 0; i < stride; i++) {
            int64_t acc = 1 << (RS_BITS - 1);
            for (int j = 0; j < k->count[y]; j++)
                acc += (int64_t)base[(size_t)j * stride + i] * w[j];
            drow[i] = clip8(acc);
        }
    }
}

/* Pillow's RGBA <-> RGBa conversions: a*c/255 rounded with its two-shift
 * trick, and back by truncating division (alpha 0 and 255 kept as they are). */
static void premultiply(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 4) {
        unsigned a = p[3];
        for (int ch = 0; ch < 3; ch++) {
            unsigned t = p[ch] * a + 128;
            p[ch] = (uint8_t)(((t >> 8) + t) >> 8);
        }
    }
}

static void unpremultiply(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 4) {
        unsigned a = p[3];
        if (a == 0 || a == 255)
            continue;
        for (int ch = 0; ch < 3; ch++) {
            unsigned v = 255u * p[ch] / a;
            p[ch] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

int ember_image_resize(const ember_image *src, int width, int height, ember_image *out,
                       char *err, size_t errlen)
{
    if (check_dims(src->width, src->height, src->channels, err, errlen) ||
        check_dims(width, height, src->channels, err, errlen))
        return -1;
    const int c = src->channels, sw = src->width, sh = src->height;
    axis_kernel kx = {0}, ky = {0};
    uint8_t *pre = NULL, *tmp = NULL;
    ember_image t = {0};
    if (axis_build(&kx, sw, width) || axis_build(&ky, sh, height))
        goto oom;
    if (ember_image_alloc(&t, width, height, c, err, errlen))
        goto fail;
    /* Same size is a copy (Pillow does not round-trip alpha then either). */
    int need_x = width != sw, need_y = height != sh;
    if (!need_x && !need_y) {
        memcpy(t.data, src->data, (size_t)sw * sh * c);
        goto done;
    }
    const uint8_t *in = src->data;
    if (c == 4) {
        pre = malloc((size_t)sw * sh * 4);
        if (!pre)
            goto oom;
        memcpy(pre, src->data, (size_t)sw * sh * 4);
        premultiply(pre, (size_t)sw * sh);
        in = pre;
    }
    /* An axis that keeps its size is left alone (its pass would copy). The
     * rounding between passes makes their order show, so it is Pillow's
     * (since 13.0): vertical first when the height loses more than twice
     * as many pixels as the width does. */
    if (need_x && need_y && height < sh && 2 * ((long)sw - width) < (long)sh - height) {
        tmp = malloc((size_t)sw * height * c);
        if (!tmp)
            goto oom;
        pass_vertical(in, tmp, sw, height, c, &ky);
        pass_horizontal(tmp, sw, t.data, width, height, c, &kx);
    } else if (need_x && need_y) {
        /* Only the rows the vertical pass reads go through the horizontal one. */
        int y0 = ky.first[0];
        int y1 = ky.first[height - 1] + ky.count[height - 1];
        tmp = malloc((size_t)width * (size_t)(y1 - y0) * c);
        if (!tmp)
            goto oom;
        pass_horizontal(in + (size_t)y0 * sw * c, sw, tmp, width, y1 - y0, c, &kx);
        for (int y = 0; y < height; y++)
            ky.first[y] -= y0;
        pass_vertical(tmp, t.data, width, height, c, &ky);
    } else if (need_x) {
        pass_horizontal(in, sw, t.data, width, sh, c, &kx);
    } else {
        pass_vertical(in, t.data, width, height, c, &ky);
    }
    if (c == 4)
        unpremultiply(t.data, (size_t)width * height);
done:
    free(pre);
    free(tmp);
    axis_free(&kx);
    axis_free(&ky);
    *out = t;
    return 0;
oom:
    viz_seterr(err, errlen, "out of memory resizing a %dx%d image to %dx%d", sw, sh, width, height);
fail:
    free(pre);
    free(tmp);
    axis_free(&kx);
    axis_free(&ky);
    ember_image_free(&t);
    return -1;
}

/* Fits w x h into a box keeping the aspect; at least one pixel each way. */
static void fit_box(int w, int h, int bw, int bh, int *ow, int *oh)
{
    double s = fmin((double)bw / w, (double)bh / h);
    *ow = (int)lround(w * s);
    *oh = (int)lround(h * s);
    if (*ow < 1)
        *ow = 1;
    if (*oh < 1)
        *oh = 1;
    if (*ow > bw)
        *ow = bw;
    if (*oh > bh)
        *oh = bh;
}

int ember_image_grid(const ember_image *const *images, size_t n, int cols, int cell_w,
                     int cell_h, int pad, const uint8_t bg[3], ember_image *out, char *err,
                     size_t errlen)
{
    if (n == 0) {
        viz_seterr(err, errlen, "an image grid needs at least one image");
        return -1;
    }
    if (n > 100000 || cell_w <= 0 || cell_h <= 0 || pad < 0 || pad > 4096) {
        viz_seterr(err, errlen, "bad image grid layout (%zu images, cells %dx%d, pad %d)", n,
                   cell_w, cell_h, pad);
        return -1;
    }
    if (cols <= 0)
        cols = (int)ceil(sqrt((double)n));
    if ((size_t)cols > n)
        cols = (int)n;
    int rows = (int)((n + cols - 1) / cols);
    int64_t W = (int64_t)cols * cell_w + (int64_t)(cols + 1) * pad;
    int64_t H = (int64_t)rows * cell_h + (int64_t)(rows + 1) * pad;
    if (W > EMBER_IMAGE_MAX_SIDE || H > EMBER_IMAGE_MAX_SIDE) {
        viz_seterr(err, errlen, "image grid of %lldx%lld pixels is too large", (long long)W,
                   (long long)H);
        return -1;
    }
    ember_image g;
    if (ember_image_alloc(&g, (int)W, (int)H, 3, err, errlen))
        return -1;
    for (size_t i = 0; i < (size_t)W * H; i++)
        memcpy(g.data + i * 3, bg, 3);
    for (size_t i = 0; i < n; i++) {
        const ember_image *im = images[i];
        if (!im || !im->data)
            continue;
        int tw, th;
        fit_box(im->width, im->height, cell_w, cell_h, &tw, &th);
        ember_image scaled = {0}, rgba = {0};
        if (ember_image_resize(im, tw, th, &scaled, err, errlen) ||
            ember_image_convert(&scaled, 4, &rgba, err, errlen)) {
            ember_image_free(&scaled);
            ember_image_free(&g);
            return -1;
        }
        ember_image_free(&scaled);
        int cx = (int)(i % cols), cy = (int)(i / cols);
        int x0 = pad + cx * (cell_w + pad) + (cell_w - tw) / 2;
        int y0 = pad + cy * (cell_h + pad) + (cell_h - th) / 2;
        for (int y = 0; y < th; y++) {
            for (int x = 0; x < tw; x++) {
                const uint8_t *s = rgba.data + ((size_t)y * tw + x) * 4;
                uint8_t *d = g.data + ((size_t)(y0 + y) * g.width + (x0 + x)) * 3;
                unsigned a = s[3];
                for (int ch = 0; ch < 3; ch++)
                    d[ch] = (uint8_t)((s[ch] * a + d[ch] * (255 - a) + 127) / 255);
            }
        }
        ember_image_free(&rgba);
    }
    *out = g;
    return 0;
}

int ember_image_overlay_mask(const ember_image *img, const float *mask, int mask_w, int mask_h,
                             const uint8_t rgb[3], double alpha, ember_image *out, char *err,
                             size_t errlen)
{
    if (!mask || mask_w <= 0 || mask_h <= 0) {
        viz_seterr(err, errlen, "overlay: the mask is empty");
        return -1;
    }
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
        viz_seterr(err, errlen, "overlay: alpha must be between 0 and 1");
        return -1;
    }
    /* Resize the mask as an 8-bit grey image: its precision is ample for a tint. */
    ember_image m = {0}, ms = {0}, base = {0};
    if (ember_image_alloc(&m, mask_w, mask_h, 1, err, errlen))
        return -1;
    for (size_t i = 0; i < (size_t)mask_w * mask_h; i++) {
        float v = mask[i];
        v = v != v ? 0.0f : v < 0 ? 0.0f : v > 1 ? 1.0f : v; /* NaN counts as 0 */
        m.data[i] = (uint8_t)lrintf(v * 255.0f);
    }
    if (ember_image_resize(&m, img->width, img->height, &ms, err, errlen) ||
        ember_image_convert(img, 3, &base, err, errlen)) {
        ember_image_free(&m);
        ember_image_free(&ms);
        return -1;
    }
    ember_image_free(&m);
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++) {
        double a = alpha * ms.data[i] / 255.0;
        for (int ch = 0; ch < 3; ch++) {
            double v = base.data[i * 3 + ch] * (1.0 - a) + rgb[ch] * a;
            base.data[i * 3 + ch] = (uint8_t)lrint(v);
        }
    }
    ember_image_free(&ms);
    *out = base;
    return 0;
}
