/* seg.h — the pure-C side of text-prompted segmentation around the CLIPSeg
 * model (engine/nn/clipseg.h): CLIPSegProcessor's image pre-processing,
 * logits to probabilities, and masks drawn as pictures (a viridis map, a
 * coloured overlay on the photo). */
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

/* Reads "size" (a number, or {"height", "width"} / {"shortest_edge"}),
 * "image_mean" and "image_std" from a preprocessor_config.json; fields it
 * lacks keep their defaults. */
int ember_seg_read_norm(const char *path, ember_seg_norm *out, ember_err *err);

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

/* The photo with each of n masks tinted in palette colour k (see
 * ember_seg_color): weight alpha * p (or alpha where p >= threshold when
 * threshold >= 0). Masks are w x h and resized to the photo. */
int ember_seg_overlay(const ember_image *img, const float *const *probs, size_t n, int w, int h,
                      double alpha, double threshold, ember_image *out, ember_err *err);

/* Colour k of the overlay palette (matplotlib's tab10, cycling) and its name
 * ("blue", "orange", ...). */
void ember_seg_color(size_t k, uint8_t rgb[3]);
const char *ember_seg_color_name(size_t k);

#ifdef __cplusplus
}
#endif
#endif
