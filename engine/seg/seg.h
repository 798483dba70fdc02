/* seg.h — the pure-C side of text-prompted segmentation around the CLIPSeg
 * model (engine/nn/clipseg.h): CLIPSegProcessor's image pre-processing,
 * logits to probabilities, a map's values at the photo's size, and masks
 * drawn as pictures (a viridis map, a coloured overlay on the photo with a
 * legend of the prompts). */
#ifndef EMBER_SEG_SEG_H
#define EMBER_SEG_SEG_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "viz/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What CLIPSegProcessor does to an image: the square side and the
 * normalisation (from the checkpoint's preprocessor_config.json). */
typedef struct ember_seg_norm {
    int size;        /* 352 */
    float mean[3];   /* 0.485, 0.456, 0.406 */
    float std[3];    /* 0.229, 0.224, 0.225 */
} ember_seg_norm;

/* The values of CIDAS/clipseg-rd64-refined's preprocessor_config.json. */
ember_seg_norm ember_seg_default_norm(void);

/* Reads "size" (a number, or {"height": n, "width": n}), "image_mean" and
 * "image_std" from a preprocessor_config.json; fields it lacks keep their
 * defaults. A setting ember_seg_preprocess does not implement is refused
 * with the key named: do_resize / do_rescale / do_normalize false, resample
 * other than 2 (BILINEAR), rescale_factor other than 1/255, a centre crop,
 * a non-square or shortest_edge size, a processor other than ViT's. Every
 * message starts with the path; a file over 1 MiB (no such settings are)
 * is refused unread. out changes only on success. */
int ember_seg_read_norm(const char *path, ember_seg_norm *out, ember_err *err);

/* The same from JSON text (len bytes, no NUL needed): the settings object
 * itself, e.g. the "image_processor" section of transformers 5's
 * processor_config.json. `where` starts every message, so it names what
 * the text came from ("<path> (image_processor)"); NULL: "image settings".
 * ember_seg_read_norm is this on the file's contents, named by its path. */
int ember_seg_read_norm_json(const char *json, size_t len, const char *where, ember_seg_norm *out,
                             ember_err *err);

/* pixel_values for one image: RGB (grey is spread, alpha dropped as PIL's
 * convert("RGB") drops it), resized to size x size with PIL's BILINEAR
 * (ember_image_resize), then (x / 255 - mean) / std, channels first:
 * out holds 3 * size * size floats. */
int ember_seg_preprocess(const ember_image *img, const ember_seg_norm *norm, float *out,
                         ember_err *err);

/* probs[i] = 1 / (1 + exp(-logits[i])). */
void ember_seg_sigmoid(const float *logits, size_t n, float *probs);

/* A probability map (w x h floats in [0, 1]) resized bilinearly to out_w x
 * out_h and drawn with the viridis colour map, as an RGB image. */
int ember_seg_mask_image(const float *prob, int w, int h, int out_w, int out_h, ember_image *out,
                         ember_err *err);

/* The map at the photo's size: out_w x out_h floats (malloc'd, the
 * caller frees), bilinear with pixel centres aligned, clamped to [0, 1]
 * (NaN as 0). Every number a mask gives at the photo's size (at(),
 * region(), values, the .npy file) and every picture of it comes from
 * this one resampling. */
int ember_seg_mask_resize(const float *prob, int w, int h, int out_w, int out_h, float **out,
                          ember_err *err);
/* One value of that map, at photo pixel (x, y) (0 <= x < out_w, 0 <= y <
 * out_h): bit for bit the same as ember_seg_mask_resize's. */
float ember_seg_mask_at(const float *prob, int w, int h, int out_w, int out_h, int x, int y);

/* How ember_seg_overlay tints and labels. */
typedef struct ember_seg_overlay_opts {
    double alpha;     /* 0..1: how far a pixel moves towards its colour */
    double threshold; /* < 0: weight by the probability; else alpha where p >= threshold */
    const uint8_t (*colors)[3];  /* one per mask, or NULL for the palette (ember_seg_color) */
    const char *const *labels;   /* one per mask for a legend, or NULL for none */
} ember_seg_overlay_opts;

/* The photo with each of n masks tinted in its colour: weight alpha * p
 * (or alpha where p >= threshold), masks (w x h) resized to the photo;
 * then the legend, when labels are given (ember_image_draw_legend). */
int ember_seg_overlay(const ember_image *img, const float *const *probs, size_t n, int w, int h,
                      const ember_seg_overlay_opts *opts, ember_image *out, ember_err *err);

/* Colour k of the overlay palette (matplotlib's tab10, cycling) and its name
 * ("blue", "orange", ...). */
void ember_seg_color(size_t k, uint8_t rgb[3]);
const char *ember_seg_color_name(size_t k);

#ifdef __cplusplus
}
#endif
#endif
