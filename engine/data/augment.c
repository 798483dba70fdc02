/* augment.c — the q1 training augmentations (augment.h): pixel-exact
 * replicas of torchvision.transforms.functional on PIL images, the random
 * pipeline that draws their parameters from Philox, the batch builder and
 * the epoch shuffle.
 *
 * Why each op is written the way it is (Pillow 13 / torchvision 0.29):
 *  - Blends (brightness, contrast, saturation) are ImageEnhance's
 *    Image.blend(degenerate, image, f): alpha is a C float, the sum
 *    in1 + alpha * (in2 - in1) is evaluated in float and truncated to u8;
 *    values are clipped only when alpha is outside [0, 1]; alpha exactly 0 or
 *    1 copies an input. Greyscale is Pillow's integer
 *    L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16; Contrast's grey is
 *    int(mean(L) + 0.5) with the mean a double.
 *  - F.affine builds torchvision's inverse matrix (centre (w/2, h/2)), F.rotate
 *    goes through Image.rotate (angle mod 360, copies and transposes for 0,
 *    90, 180, 270, the matrix entries rounded to 15 decimals as Python's
 *    round does). Both then sample as Pillow's ImagingTransformAffine with a
 *    nearest filter: a pure scale/shift matrix uses the floating pixel-centre
 *    walk, otherwise the 16.16 fixed-point walk when the corners fit, else
 *    the floating walk. The order of the floating-point operations follows
 *    Pillow's and CPython's so the sampled positions, and so the bytes, agree.
 *    This file must not be compiled with FMA contraction (see the pragmas).
 *  - to_tensor + normalize: float x / 255, then (x - mean) / std in float.
 *
 * Random draws (the mapping tests and other backends rely on):
 *   key     = {lo32(seed), hi32(seed)}
 *   step k of image `stream`, draw number d (0-based):
 *   counter = {d / 4, k, lo32(stream), hi32(stream)}, word = lane d % 4.
 *   A uniform float in [0, 1) is (word >> 8) * 2^-24 (24 bits, as torch's
 *   float uniform_);
 *   U(lo, hi) = u * (hi - lo) + lo in float; an integer in [0, m] is
 *   (word * (m + 1)) >> 32 (bias below (m + 1) / 2^32).
 *   Draw numbers per step:
 *     random crop:  d0 -> top (y), d1 -> left (x), each in 0 .. 2 pad + side - size
 *     flip:         d0 -> u, flip iff u < p
 *     color jitter: d0, d1 -> the order (Fisher-Yates on {0,1,2}: swap 2 with
 *                   int[0,2], then 1 with int[0,1]); d2, d3, d4 -> brightness,
 *                   contrast, saturation factors U[max(0, 1-x), 1+x]
 *     affine:       d0 -> angle U(-deg, deg), d1 -> tx = round(U(-t w, t w)),
 *                   d2 -> ty = round(U(-t h, t h)) (round half to even, as
 *                   Python's round)
 *     rotation:     d0 -> angle U(-deg, deg)
 *   Shuffle of epoch e, position i (Fisher-Yates from the end, j in [0, i]):
 *   counter = {lo32(i), 0x80000000 | hi32(i), lo32(e), hi32(e)}, j from the
 *   64-bit pair (lane 1 << 32 | lane 0) as (pair * (i + 1)) >> 64. The top
 *   bit of counter word 1 keeps shuffle draws apart from step draws (k < 16). */
#include "data/augment.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "core/philox.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/* ---- Pillow primitives ---------------------------------------------------- */

/* One pixel of c channels (memcpy with a variable size is a call). */
static inline void copy_px(uint8_t *d, const uint8_t *s, int c) {
    if (c == 3) {
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
    } else {
        for (int k = 0; k < c; k++) d[k] = s[k];
    }
}

static inline uint8_t pil_grey(const uint8_t *p) {
    return (uint8_t)(((uint32_t)p[0] * 19595u + (uint32_t)p[1] * 38470u + (uint32_t)p[2] * 7471u +
                      0x8000u) >> 16);
}

/* Image.blend(deg, img, alpha) for one byte: Blend.c's two loops. */
static inline uint8_t pil_blend_in(int in1, int in2, float alpha) {
    return (uint8_t)((float)in1 + alpha * (float)(in2 - in1));
}
static inline uint8_t pil_blend_out(int in1, int in2, float alpha) {
    float t = (float)in1 + alpha * (float)(in2 - in1);
    if (!(t > 0.0f)) return 0;
    if (t >= 255.0f) return 255;
    return (uint8_t)t;
}

/* ---- 1. fixed-parameter operations ---------------------------------------- */

void ember_aug_crop(const uint8_t *src, int w, int h, int c, int pad, int x, int y, int out_w,
                    int out_h, uint8_t *dst) {
    for (int oy = 0; oy < out_h; oy++) {
        int sy = oy + y - pad;
        uint8_t *row = dst + (size_t)oy * out_w * c;
        if (sy < 0 || sy >= h) {
            memset(row, 0, (size_t)out_w * c);
            continue;
        }
        for (int ox = 0; ox < out_w; ox++) {
            int sx = ox + x - pad;
            if (sx < 0 || sx >= w) {
                memset(row + (size_t)ox * c, 0, (size_t)c);
            } else {
                copy_px(row + (size_t)ox * c, src + ((size_t)sy * w + sx) * c, c);
            }
        }
    }
}

void ember_aug_hflip(const uint8_t *src, int w, int h, int c, uint8_t *dst) {
    for (int y = 0; y < h; y++) {
        const uint8_t *s = src + (size_t)y * w * c;
        uint8_t *d = dst + (size_t)y * w * c;
        for (int x = 0; x < w; x++) copy_px(d + (size_t)x * c, s + (size_t)(w - 1 - x) * c, c);
    }
}

/* Blend with a constant degenerate value v (black, or Contrast's grey). */
static void blend_const(const uint8_t *src, size_t n, int v, float alpha, uint8_t *dst) {
    if (alpha == 0.0f) {
        memset(dst, v, n);
        return;
    }
    if (alpha == 1.0f) {
        if (dst != src) memmove(dst, src, n);
        return;
    }
    if (alpha >= 0.0f && alpha <= 1.0f) {
        for (size_t i = 0; i < n; i++) dst[i] = pil_blend_in(v, src[i], alpha);
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = pil_blend_out(v, src[i], alpha);
    }
}

void ember_aug_brightness(const uint8_t *src, int w, int h, int c, double f, uint8_t *dst) {
    blend_const(src, (size_t)w * h * c, 0, (float)f, dst);
}

void ember_aug_contrast(const uint8_t *src, int w, int h, int c, double f, uint8_t *dst) {
    size_t np = (size_t)w * h;
    uint64_t sum = 0;
    if (c >= 3) {
        for (size_t i = 0; i < np; i++) sum += pil_grey(src + i * c);
    } else {
        for (size_t i = 0; i < np; i++) sum += src[i * c];
    }
    /* ImageStat's mean (an exact integer sum over a count, as a double),
     * then Contrast's int(mean + 0.5). */
    double mean = np ? (double)sum / (double)np : 0.0;
    int grey = (int)(mean + 0.5);
    blend_const(src, np * c, grey, (float)f, dst);
}

void ember_aug_saturation(const uint8_t *src, int w, int h, int c, double f, uint8_t *dst) {
    size_t np = (size_t)w * h;
    float alpha = (float)f;
    if (c < 3 || alpha == 1.0f) {
        /* ImageEnhance.Color of an L image blends the image with itself. */
        if (dst != src) memmove(dst, src, np * c);
        return;
    }
    int inside = alpha >= 0.0f && alpha <= 1.0f;
    for (size_t i = 0; i < np; i++) {
        const uint8_t *s = src + i * c;
        uint8_t *d = dst + i * c;
        int g = pil_grey(s);
        for (int k = 0; k < c; k++) {
            if (alpha == 0.0f) d[k] = (uint8_t)g;
            else if (inside) d[k] = pil_blend_in(g, s[k], alpha);
            else d[k] = pil_blend_out(g, s[k], alpha);
        }
    }
}

/* Geometry.c's COORD and FLOOR. COORD also maps NaN and values past int's
 * range (a NaN or huge angle) outside the image instead of into undefined
 * behaviour. */
static inline int pil_coord(double v) {
    if (!(v >= 0.0)) return -1;
    return v < 2147483647.0 ? (int)v : INT_MAX;
}
static inline int pil_fix(double v) {
    double t = v * 65536.0 + 0.5;
    return t < 0.0 ? (int)floor(t) : (int)t;
}
static inline int pil_check_fixed(const double a[6], int x, int y) {
    return fabs(x * a[0] + y * a[1] + a[2]) < 32768.0 && fabs(x * a[3] + y * a[4] + a[5]) < 32768.0;
}

/* ImagingTransformAffine with the nearest filter over the whole w x h output,
 * output pre-filled with 0 (torchvision passes fillcolor 0). a maps output
 * pixel coordinates to input ones. */
static void pil_affine_nearest(const uint8_t *src, int w, int h, int c, const double a[6],
                               uint8_t *dst) {
    memset(dst, 0, (size_t)w * h * c);
    if (a[1] == 0 && a[3] == 0) {
        /* ImagingScaleAffine: floating pixel-centre walk. */
        double xo0 = a[2] + a[0] * 0.5;
        double yo = a[5] + a[4] * 0.5;
        for (int y = 0; y < h; y++) {
            int yi = pil_coord(yo);
            yo += a[4];
            if (yi < 0 || yi >= h) continue;
            uint8_t *out = dst + (size_t)y * w * c;
            const uint8_t *in = src + (size_t)yi * w * c;
            /* The same accumulation as Pillow's pretabulated column table. */
            double xo = xo0;
            for (int x = 0; x < w; x++) {
                int xi = pil_coord(xo);
                xo += a[0];
                if (xi >= 0 && xi < w) copy_px(out + (size_t)x * c, in + (size_t)xi * c, c);
            }
        }
        return;
    }
    if (pil_check_fixed(a, 0, 0) && pil_check_fixed(a, w, h) && pil_check_fixed(a, 0, h) &&
        pil_check_fixed(a, w, 0)) {
        int a0 = pil_fix(a[0]), a1 = pil_fix(a[1]), a3 = pil_fix(a[3]), a4 = pil_fix(a[4]);
        int a2 = pil_fix(a[2] + a[0] * 0.5 + a[1] * 0.5);
        int a5 = pil_fix(a[5] + a[3] * 0.5 + a[4] * 0.5);
        for (int y = 0; y < h; y++) {
            int32_t xx = a2, yy = a5;
            uint8_t *out = dst + (size_t)y * w * c;
            for (int x = 0; x < w; x++) {
                /* Pillow's xx >> 16 floors; any negative lands outside. */
                int xi = xx < 0 ? -1 : (int)(xx >> 16);
                int yi = yy < 0 ? -1 : (int)(yy >> 16);
                if (xi >= 0 && xi < w && yi >= 0 && yi < h)
                    copy_px(out + (size_t)x * c, src + ((size_t)yi * w + xi) * c, c);
                xx += a0;
                yy += a3;
            }
            a2 += a1;
            a5 += a4;
        }
        return;
    }
    double xo = a[2] + a[1] * 0.5 + a[0] * 0.5;
    double yo = a[5] + a[4] * 0.5 + a[3] * 0.5;
    for (int y = 0; y < h; y++) {
        double xx = xo, yy = yo;
        uint8_t *out = dst + (size_t)y * w * c;
        for (int x = 0; x < w; x++) {
            int xi = pil_coord(xx), yi = pil_coord(yy);
            if (xi >= 0 && xi < w && yi >= 0 && yi < h)
                copy_px(out + (size_t)x * c, src + ((size_t)yi * w + xi) * c, c);
            xx += a[0];
            yy += a[3];
        }
        xo += a[1];
        yo += a[4];
    }
}

/* CPython's math.radians. */
static inline double py_radians(double deg) {
    return deg * (3.141592653589793 / 180.0);
}

void ember_aug_affine(const uint8_t *src, int w, int h, int c, double angle, int tx, int ty,
                      uint8_t *dst) {
    /* torchvision _get_inverse_affine_matrix with scale 1, shear 0: the
     * shear terms reduce exactly (x * 0 and / cos 0 = / 1) to cos / sin. */
    double rot = py_radians(angle);
    double cs = cos(rot), sn = sin(rot);
    double cx = w * 0.5, cy = h * 0.5;
    double m[6] = {cs, sn, 0.0, -sn, cs, 0.0};
    double ux = -cx - (double)tx, uy = -cy - (double)ty;
    m[2] = 0.0 + (m[0] * ux + m[1] * uy);
    m[5] = 0.0 + (m[3] * ux + m[4] * uy);
    m[2] += cx;
    m[5] += cy;
    pil_affine_nearest(src, w, h, c, m, dst);
}

/* Python's round(x, 15): correctly rounded to 15 decimals and read back
 * (glibc's printf and strtod are exact, as CPython's dtoa is). */
static double py_round15(double x) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.15f", x);
    return strtod(buf, NULL);
}

void ember_aug_rotate(const uint8_t *src, int w, int h, int c, double angle, uint8_t *dst) {
    /* Python's float %: the result takes the divisor's sign. */
    double a = fmod(angle, 360.0);
    if (a < 0.0) a += 360.0;
    size_t px = (size_t)c;
    if (a == 0.0) {
        memcpy(dst, src, (size_t)w * h * c);
        return;
    }
    if (a == 180.0) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                copy_px(dst + ((size_t)y * w + x) * px,
                        src + ((size_t)(h - 1 - y) * w + (w - 1 - x)) * px, c);
        return;
    }
    if ((a == 90.0 || a == 270.0) && w == h) {
        /* Transpose.ROTATE_90 (counter-clockwise) / ROTATE_270. */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int sx = a == 90.0 ? w - 1 - y : y;
                int sy = a == 90.0 ? x : h - 1 - x;
                copy_px(dst + ((size_t)y * w + x) * px, src + ((size_t)sy * w + sx) * px, c);
            }
        return;
    }
    double r = -py_radians(a);
    /* Rounding to decimals is symmetric, so round(-sin) = -round(sin). */
    double cs = py_round15(cos(r)), sn = py_round15(sin(r));
    double m[6] = {cs, sn, 0.0, -sn, cs, 0.0};
    double cx = w / 2.0, cy = h / 2.0;
    double ux = -cx - 0.0, uy = -cy - 0.0;
    m[2] = m[0] * ux + m[1] * uy + 0.0;
    m[5] = m[3] * ux + m[4] * uy + 0.0;
    m[2] += cx;
    m[5] += cy;
    pil_affine_nearest(src, w, h, c, m, dst);
}

void ember_aug_to_tensor(const uint8_t *src, int w, int h, int c, const float *mean,
                         const float *std, float *dst) {
    size_t np = (size_t)w * h;
    for (int k = 0; k < c; k++) {
        float *d = dst + (size_t)k * np;
        const uint8_t *s = src + k;
        if (mean && std) {
            float mu = mean[k], sd = std[k];
            for (size_t i = 0; i < np; i++) d[i] = ((float)s[i * c] / 255.0f - mu) / sd;
        } else {
            for (size_t i = 0; i < np; i++) d[i] = (float)s[i * c] / 255.0f;
        }
    }
}

/* ---- 2. random pipeline ----------------------------------------------------- */

/* Sides and paddings beyond this are refused, so that pixel counts and
 * offsets stay far from int overflow. */
#define EMBER_AUG_MAX_SIDE 16384

static inline uint32_t step_word(uint64_t seed, uint64_t stream, int k, int d) {
    ember_philox4 ctr;
    ctr.v[0] = (uint32_t)(d / 4);
    ctr.v[1] = (uint32_t)k;
    ctr.v[2] = (uint32_t)stream;
    ctr.v[3] = (uint32_t)(stream >> 32);
    ember_philox4 r = ember_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
    return r.v[d % 4];
}

static inline float u01(uint32_t word) {
    return (float)(word >> 8) * 0x1p-24f;
}
static inline float uniform_f(uint32_t word, float lo, float hi) {
    return u01(word) * (hi - lo) + lo;
}
static inline int uniform_int(uint32_t word, uint32_t m) {
    return (int)(((uint64_t)word * ((uint64_t)m + 1u)) >> 32);
}

static const char *kind_name(ember_aug_kind k) {
    switch (k) {
    case EMBER_AUG_RANDOM_CROP: return "random_crop";
    case EMBER_AUG_HFLIP: return "hflip";
    case EMBER_AUG_COLOR_JITTER: return "color_jitter";
    case EMBER_AUG_RANDOM_AFFINE: return "random_affine";
    case EMBER_AUG_RANDOM_ROTATION: return "random_rotation";
    case EMBER_AUG_NORMALIZE: return "normalize";
    }
    return "?";
}

/* Besides the header's rules: an intermediate image (after a crop) may not be
 * larger than both the input and the output, since apply's scratch is sized
 * from those two. */
int ember_augment_check(const ember_augment *aug, int w, int h, int c, ember_err *err) {
    if (w <= 0 || h <= 0)
        return ember_err_set(err, "augment: image size %dx%d is empty", w, h);
    if (w > EMBER_AUG_MAX_SIDE || h > EMBER_AUG_MAX_SIDE)
        return ember_err_set(err, "augment: images of %dx%d are too large (at most %d a side)", w, h,
                             EMBER_AUG_MAX_SIDE);
    if (c != 1 && c != 3)
        return ember_err_set(err, "augment: images have %d channels; the augmentations take 1 "
                                  "(grey) or 3 (RGB)",
                             c);
    if (!aug) return 0;
    if (aug->n < 0 || aug->n > EMBER_AUG_MAX_STEPS)
        return ember_err_set(err, "augment: %d steps; between 0 and %d are allowed", aug->n,
                             EMBER_AUG_MAX_STEPS);
    int cw = w, ch = h;
    int out_w, out_h;
    ember_augment_out_size(aug, w, h, &out_w, &out_h);
    double cap = fmax((double)w * h, (double)out_w * out_h);
    for (int k = 0; k < aug->n; k++) {
        const ember_aug_step *s = &aug->steps[k];
        const char *nm = kind_name(s->kind);
        switch (s->kind) {
        case EMBER_AUG_RANDOM_CROP:
            if (s->padding < 0)
                return ember_err_set(err, "augment step %d (%s): padding %d is negative; use 0 or more",
                                     k + 1, nm, s->padding);
            if (s->size <= 0 || s->size > EMBER_AUG_MAX_SIDE)
                return ember_err_set(err, "augment step %d (%s): size %d must be between 1 and %d", k + 1,
                                     nm, s->size, EMBER_AUG_MAX_SIDE);
            if (s->padding > EMBER_AUG_MAX_SIDE)
                return ember_err_set(err, "augment step %d (%s): padding %d is too large (at most %d)",
                                     k + 1, nm, s->padding, EMBER_AUG_MAX_SIDE);
            if ((double)s->size > (double)cw + 2.0 * s->padding ||
                (double)s->size > (double)ch + 2.0 * s->padding)
                return ember_err_set(err,
                                     "augment step %d (%s): crop size %d is larger than the padded "
                                     "image (%dx%d with padding %d); use a smaller size or more padding",
                                     k + 1, nm, s->size, cw, ch, s->padding);
            cw = ch = s->size;
            if ((double)cw * ch > cap)
                return ember_err_set(err,
                                     "augment step %d (%s): an intermediate %dx%d image larger than both "
                                     "the input and the output is not supported; crop to at most "
                                     "the larger of the two",
                                     k + 1, nm, cw, ch);
            break;
        case EMBER_AUG_HFLIP:
            if (!(s->p >= 0.0 && s->p <= 1.0))
                return ember_err_set(err, "augment step %d (%s): probability p = %g is outside [0, 1]",
                                     k + 1, nm, s->p);
            break;
        case EMBER_AUG_COLOR_JITTER: {
            const double v[3] = {s->brightness, s->contrast, s->saturation};
            const char *names[3] = {"brightness", "contrast", "saturation"};
            for (int i = 0; i < 3; i++)
                if (!(v[i] >= 0.0) || !isfinite(v[i]))
                    return ember_err_set(err,
                                         "augment step %d (%s): %s = %g must be a non-negative number "
                                         "(factors are drawn from [max(0, 1-x), 1+x]; 0 turns it off)",
                                         k + 1, nm, names[i], v[i]);
            break;
        }
        case EMBER_AUG_RANDOM_AFFINE:
            if (!(s->translate >= 0.0 && s->translate <= 1.0))
                return ember_err_set(err,
                                     "augment step %d (%s): translate = %g is outside [0, 1] (a fraction "
                                     "of the image side)",
                                     k + 1, nm, s->translate);
            if (!(s->degrees >= 0.0) || !isfinite(s->degrees))
                return ember_err_set(err,
                                     "augment step %d (%s): degrees = %g must be a non-negative number "
                                     "(angles are drawn from [-degrees, degrees])",
                                     k + 1, nm, s->degrees);
            break;
        case EMBER_AUG_RANDOM_ROTATION:
            if (!(s->degrees >= 0.0) || !isfinite(s->degrees))
                return ember_err_set(err,
                                     "augment step %d (%s): degrees = %g must be a non-negative number "
                                     "(angles are drawn from [-degrees, degrees])",
                                     k + 1, nm, s->degrees);
            break;
        case EMBER_AUG_NORMALIZE:
            if (k != aug->n - 1)
                return ember_err_set(err, "augment step %d (normalize) must be the last step (it makes "
                                          "the float tensor); move it to the end",
                                     k + 1);
            for (int i = 0; i < c; i++) {
                if (!isfinite(s->mean[i]))
                    return ember_err_set(err, "augment step %d (normalize): mean[%d] is not a number",
                                         k + 1, i);
                if (!(s->std[i] != 0.0f) || !isfinite(s->std[i]))
                    return ember_err_set(err,
                                         "augment step %d (normalize): std[%d] = %g; it must be a non-zero "
                                         "number (outputs are divided by it)",
                                         k + 1, i, (double)s->std[i]);
            }
            break;
        default:
            return ember_err_set(err, "augment step %d: unknown kind %d", k + 1, (int)s->kind);
        }
    }
    return 0;
}

void ember_augment_out_size(const ember_augment *aug, int w, int h, int *out_w, int *out_h) {
    if (aug) {
        for (int k = 0; k < aug->n && k < EMBER_AUG_MAX_STEPS; k++)
            if (aug->steps[k].kind == EMBER_AUG_RANDOM_CROP) w = h = aug->steps[k].size;
    }
    *out_w = w;
    *out_h = h;
}

void ember_augment_draw(const ember_augment *aug, int k, int w, int h, uint64_t seed,
                        uint64_t stream, ember_aug_draws *out) {
    if (!aug || k < 0 || k >= aug->n || k >= EMBER_AUG_MAX_STEPS) return;
    const ember_aug_step *s = &aug->steps[k];
    switch (s->kind) {
    case EMBER_AUG_RANDOM_CROP: {
        int my = h + 2 * s->padding - s->size, mx = w + 2 * s->padding - s->size;
        out->crop_y = my > 0 ? uniform_int(step_word(seed, stream, k, 0), (uint32_t)my) : 0;
        out->crop_x = mx > 0 ? uniform_int(step_word(seed, stream, k, 1), (uint32_t)mx) : 0;
        break;
    }
    case EMBER_AUG_HFLIP:
        out->flip = (double)u01(step_word(seed, stream, k, 0)) < s->p;
        break;
    case EMBER_AUG_COLOR_JITTER: {
        int o[3] = {0, 1, 2};
        int j = uniform_int(step_word(seed, stream, k, 0), 2);
        int t = o[2]; o[2] = o[j]; o[j] = t;
        j = uniform_int(step_word(seed, stream, k, 1), 1);
        t = o[1]; o[1] = o[j]; o[j] = t;
        for (int i = 0; i < 3; i++) out->jitter_order[i] = o[i];
        const double x[3] = {s->brightness, s->contrast, s->saturation};
        double f[3];
        for (int i = 0; i < 3; i++) {
            if (x[i] > 0.0) {
                float lo = (float)fmax(0.0, 1.0 - x[i]), hi = (float)(1.0 + x[i]);
                f[i] = uniform_f(step_word(seed, stream, k, 2 + i), lo, hi);
            } else {
                f[i] = 1.0;
            }
        }
        out->bright_f = f[0];
        out->contrast_f = f[1];
        out->sat_f = f[2];
        break;
    }
    case EMBER_AUG_RANDOM_AFFINE: {
        float d = (float)s->degrees;
        out->affine_angle = uniform_f(step_word(seed, stream, k, 0), -d, d);
        double mx = s->translate * w, my = s->translate * h;
        float ux = uniform_f(step_word(seed, stream, k, 1), (float)-mx, (float)mx);
        float uy = uniform_f(step_word(seed, stream, k, 2), (float)-my, (float)my);
        out->affine_tx = (int)nearbyint((double)ux);
        out->affine_ty = (int)nearbyint((double)uy);
        break;
    }
    case EMBER_AUG_RANDOM_ROTATION: {
        float d = (float)s->degrees;
        out->rot_angle = uniform_f(step_word(seed, stream, k, 0), -d, d);
        break;
    }
    case EMBER_AUG_NORMALIZE:
        break;
    }
}

/* Runs the u8 steps, ping-ponging between scratch halves a and b; returns
 * the buffer holding the result (src itself when no step touched it). */
static const uint8_t *run_steps(const ember_augment *aug, const uint8_t *src, int w, int h, int c,
                                uint64_t seed, uint64_t stream, uint8_t *a, uint8_t *b, int *ow,
                                int *oh) {
    const uint8_t *cur = src;
    int n = aug ? aug->n : 0;
    for (int k = 0; k < n; k++) {
        const ember_aug_step *s = &aug->steps[k];
        if (s->kind == EMBER_AUG_NORMALIZE) continue;
        ember_aug_draws d;
        memset(&d, 0, sizeof d);
        ember_augment_draw(aug, k, w, h, seed, stream, &d);
        uint8_t *next = cur == a ? b : a;
        switch (s->kind) {
        case EMBER_AUG_RANDOM_CROP:
            ember_aug_crop(cur, w, h, c, s->padding, d.crop_x, d.crop_y, s->size, s->size, next);
            w = h = s->size;
            break;
        case EMBER_AUG_HFLIP:
            if (!d.flip) continue;
            ember_aug_hflip(cur, w, h, c, next);
            break;
        case EMBER_AUG_COLOR_JITTER:
            for (int i = 0; i < 3; i++) {
                const uint8_t *in = cur;
                switch (d.jitter_order[i]) {
                case 0:
                    if (s->brightness > 0.0) ember_aug_brightness(in, w, h, c, d.bright_f, next), cur = next;
                    break;
                case 1:
                    if (s->contrast > 0.0) ember_aug_contrast(in, w, h, c, d.contrast_f, next), cur = next;
                    break;
                default:
                    if (s->saturation > 0.0) ember_aug_saturation(in, w, h, c, d.sat_f, next), cur = next;
                    break;
                }
            }
            continue;
        case EMBER_AUG_RANDOM_AFFINE:
            ember_aug_affine(cur, w, h, c, d.affine_angle, d.affine_tx, d.affine_ty, next);
            break;
        case EMBER_AUG_RANDOM_ROTATION:
            ember_aug_rotate(cur, w, h, c, d.rot_angle, next);
            break;
        case EMBER_AUG_NORMALIZE:
            break;
        }
        cur = next;
    }
    *ow = w;
    *oh = h;
    return cur;
}

void ember_augment_apply_u8(const ember_augment *aug, const uint8_t *src, int w, int h, int c,
                            uint64_t seed, uint64_t stream, uint8_t *dst, uint8_t *scratch) {
    int ow, oh;
    ember_augment_out_size(aug, w, h, &ow, &oh);
    size_t half = (size_t)(w * h > ow * oh ? w * h : ow * oh) * c;
    const uint8_t *r = run_steps(aug, src, w, h, c, seed, stream, scratch, scratch + half, &ow, &oh);
    memcpy(dst, r, (size_t)ow * oh * c);
}

void ember_augment_apply_f32(const ember_augment *aug, const uint8_t *src, int w, int h, int c,
                             uint64_t seed, uint64_t stream, float *dst, uint8_t *scratch) {
    int ow, oh;
    ember_augment_out_size(aug, w, h, &ow, &oh);
    size_t half = (size_t)(w * h > ow * oh ? w * h : ow * oh) * c;
    const uint8_t *r = run_steps(aug, src, w, h, c, seed, stream, scratch, scratch + half, &ow, &oh);
    const float *mean = NULL, *std = NULL;
    if (aug && aug->n > 0 && aug->steps[aug->n - 1].kind == EMBER_AUG_NORMALIZE) {
        mean = aug->steps[aug->n - 1].mean;
        std = aug->steps[aug->n - 1].std;
    }
    ember_aug_to_tensor(r, ow, oh, c, mean, std, dst);
}

int ember_augment_batch(const ember_augment *aug, const ember_dataset *ds, const int64_t *idx,
                        int64_t n, uint64_t seed, uint64_t epoch, float *out, int32_t *labels,
                        ember_err *err) {
    int w = ds->width, h = ds->height, c = ds->channels;
    if (ember_augment_check(aug, w, h, c, err) != 0) return -1;
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= ds->n)
            return ember_err_set(err, "augment batch: image index %lld is outside the dataset (0..%lld)",
                                 (long long)idx[i], (long long)ds->n - 1);
    int ow, oh;
    ember_augment_out_size(aug, w, h, &ow, &oh);
    size_t half = (size_t)(w * h > ow * oh ? w * h : ow * oh) * c;
    size_t per = (size_t)ow * oh * c;
    int failed = 0;
#pragma omp parallel
    {
        uint8_t *scratch = malloc(2 * half);
        if (!scratch) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            if (!scratch) continue;
            const uint8_t *img = ember_dataset_image(ds, idx[i]);
            ember_augment_apply_f32(aug, img, w, h, c, seed, ember_augment_stream(epoch, (uint64_t)idx[i]),
                                    out + (size_t)i * per, scratch);
            if (labels) labels[i] = ds->labels[idx[i]];
        }
        free(scratch);
    }
    if (failed)
        return ember_err_set(err, "augment batch: out of memory for %zu bytes of scratch per thread",
                             2 * half);
    return 0;
}

void ember_shuffle(int64_t *idx, int64_t n, uint64_t seed, uint64_t epoch) {
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        ember_philox4 ctr;
        ctr.v[0] = (uint32_t)(uint64_t)i;
        ctr.v[1] = 0x80000000u | (uint32_t)((uint64_t)i >> 32);
        ctr.v[2] = (uint32_t)epoch;
        ctr.v[3] = (uint32_t)(epoch >> 32);
        ember_philox4 r = ember_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
        uint64_t pair = ((uint64_t)r.v[1] << 32) | r.v[0];
        int64_t j = (int64_t)(((unsigned __int128)pair * (unsigned __int128)(uint64_t)(i + 1)) >> 64);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
