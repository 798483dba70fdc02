/* image.h — Ember's in-memory picture: 8-bit grey, RGB or RGBA pixels with one
 * owner, plus the pure operations on it (describe, resize, grid, convert).
 * Codecs live in codec.h; drawing in plot.h. All functions that can fail
 * return 0 on success or -1 with a message in err (which may be NULL). */
#ifndef EMBER_VIZ_IMAGE_H
#define EMBER_VIZ_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest side and pixel count we accept, so a hostile header cannot make us
 * allocate gigabytes. */
#define EMBER_IMAGE_MAX_SIDE 32768
#define EMBER_IMAGE_MAX_PIXELS (128u * 1024u * 1024u)

typedef struct ember_image {
    int width;
    int height;
    int channels;  /* 1 grey, 3 RGB, 4 RGBA (straight, not premultiplied) */
    uint8_t *data; /* row-major, width*channels bytes a row, no padding; owned */
} ember_image;

/* Allocates a zero-filled image. out is written only on success. */
int ember_image_alloc(ember_image *out, int width, int height, int channels,
                      char *err, size_t errlen);
/* Releases the pixels and zeroes the struct; safe on a zeroed or freed image. */
void ember_image_free(ember_image *img);
int ember_image_copy(const ember_image *src, ember_image *out, char *err, size_t errlen);

/* "grey", "RGB", "RGBA" (or "?" for a bad channel count). */
const char *ember_image_mode(int channels);
/* text/plain repr, e.g. "<image 451x300 RGB>". Returns snprintf's count. */
int ember_image_describe(const ember_image *img, char *buf, size_t len);

/* Converts to another channel count (grey<->RGB<->RGBA). Alpha is dropped by
 * compositing over white, which is what a viewer would show. */
int ember_image_convert(const ember_image *src, int channels, ember_image *out,
                        char *err, size_t errlen);

/* Resize to width x height, byte for byte what Pillow's resize(...,
 * BILINEAR) gives (Pillow 13's pass order): the triangle filter widens by the
 * scale factor when shrinking (so thumbnails do not alias), weights in
 * 22-bit fixed point, each pass rounded to 8 bits, RGBA resampled
 * premultiplied. Channels are kept. */
int ember_image_resize(const ember_image *src, int width, int height, ember_image *out,
                       char *err, size_t errlen);

/* Tiles n images into an RGB image, cols per row (0: about square), each
 * scaled to fit a cell_w x cell_h cell with its aspect kept and centred, pad
 * pixels between and around cells, background bg (RGB). NULL entries leave
 * their cell empty. */
int ember_image_grid(const ember_image *const *images, size_t n, int cols, int cell_w,
                     int cell_h, int pad, const uint8_t bg[3], ember_image *out, char *err,
                     size_t errlen);

/* Tints img (any mode) where mask (mask_w x mask_h floats in [0,1], resized
 * bilinearly to the image) is high: out = img*(1-a*m) + rgb*(a*m). Output RGB. */
int ember_image_overlay_mask(const ember_image *img, const float *mask, int mask_w,
                             int mask_h, const uint8_t rgb[3], double alpha, ember_image *out,
                             char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
