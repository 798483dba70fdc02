/* augment.h — the training-time image augmentations of the q1 recipe
 * (Q1_RECIPE.md), with torchvision's semantics on PIL images, and the
 * pipeline that turns dataset images into a normalised CHW float batch.
 *
 * Two layers:
 *  1. Pure operations with fixed parameters on one u8 HWC image. Each gives
 *     the pixels torchvision.transforms.functional gives on a PIL image with
 *     the same parameters (PIL's integer greyscale, its truncating blend, its
 *     nearest-neighbour affine sampling at pixel centres); tested against
 *     fixtures made by tests/data/gen_augment_fixtures.py.
 *  2. A pipeline (compose) of random steps. The random parameters of image
 *     `stream` come from Philox4x32-10 keyed by the seed, so a batch is the
 *     same whatever the thread count or batch order, and a run is
 *     reproducible from its seed. Draws follow torchvision's distributions
 *     (not its random stream).
 *
 * Images: width x height pixels, `c` channels interleaved (c = 1 or 3),
 * rows top to bottom, no padding. dst never aliases src unless a function
 * says so. */
#ifndef EMBER_DATA_AUGMENT_H
#define EMBER_DATA_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. fixed-parameter operations -------------------------------------- */

/* Pads `pad` pixels of 0 on every side, then takes the out_w x out_h window
 * whose top-left corner is (x, y) in the padded image (0 <= x <= w + 2 pad -
 * out_w). F.crop(F.pad(img, pad), y, x, out_h, out_w). */
void ember_aug_crop(const uint8_t *src, int w, int h, int c, int pad, int x, int y,
                    int out_w, int out_h, uint8_t *dst);
/* F.hflip. */
void ember_aug_hflip(const uint8_t *src, int w, int h, int c, uint8_t *dst);
/* F.adjust_brightness / adjust_contrast / adjust_saturation (PIL
 * ImageEnhance: blend with black, with the rounded mean grey, with the
 * image's own grey). c must be 3 for contrast and saturation. src may equal
 * dst. */
void ember_aug_brightness(const uint8_t *src, int w, int h, int c, double f, uint8_t *dst);
void ember_aug_contrast(const uint8_t *src, int w, int h, int c, double f, uint8_t *dst);
void ember_aug_saturation(const uint8_t *src, int w, int h, int c, double f, uint8_t *dst);
/* F.affine(img, angle, translate=[tx, ty], scale=1, shear=[0, 0],
 * interpolation=NEAREST, fill=0): rotation by angle degrees
 * (counter-clockwise) about the centre (w/2, h/2), then a shift by (tx, ty)
 * pixels. */
void ember_aug_affine(const uint8_t *src, int w, int h, int c, double angle, int tx, int ty,
                      uint8_t *dst);
/* F.rotate(img, angle, interpolation=NEAREST, expand=False, fill=0). */
void ember_aug_rotate(const uint8_t *src, int w, int h, int c, double angle, uint8_t *dst);
/* F.to_tensor then F.normalize: dst is CHW float, (x / 255 - mean) / std. */
void ember_aug_to_tensor(const uint8_t *src, int w, int h, int c, const float *mean,
                         const float *std, float *dst);

/* ---- 2. random pipeline ------------------------------------------------- */

typedef enum ember_aug_kind {
    EMBER_AUG_RANDOM_CROP = 0, /* size, padding */
    EMBER_AUG_HFLIP,           /* p */
    EMBER_AUG_COLOR_JITTER,    /* brightness, contrast, saturation */
    EMBER_AUG_RANDOM_AFFINE,   /* degrees, translate */
    EMBER_AUG_RANDOM_ROTATION, /* degrees */
    EMBER_AUG_NORMALIZE,       /* mean, std: must be the last step */
} ember_aug_kind;

typedef struct ember_aug_step {
    ember_aug_kind kind;
    int size, padding;                       /* crop: output side; zero padding */
    double p;                                /* flip probability */
    double brightness, contrast, saturation; /* jitter: factor ~ U[max(0, 1-x), 1+x]; 0 = off */
    double degrees;                          /* affine / rotation: angle ~ U[-d, d] */
    double translate;                        /* affine: |shift| <= translate * side */
    float mean[4], std[4];                   /* normalize, one per channel */
    int n_given;                             /* normalize: numbers the user gave (1 or 3), for display */
} ember_aug_step;

#define EMBER_AUG_MAX_STEPS 16

typedef struct ember_augment {
    int n;
    ember_aug_step steps[EMBER_AUG_MAX_STEPS];
} ember_augment;

/* Checks the steps' parameters (ranges, normalize last, std != 0, crop not
 * larger than the padded image) for images of w x h x c. */
int ember_augment_check(const ember_augment *aug, int w, int h, int c, ember_err *err);
/* Output width and height for w x h input (a crop changes them). */
void ember_augment_out_size(const ember_augment *aug, int w, int h, int *out_w, int *out_h);

/* The parameters one image drew, for previews and tests. */
typedef struct ember_aug_draws {
    int crop_x, crop_y;
    int flip;
    int jitter_order[3];          /* 0 brightness, 1 contrast, 2 saturation */
    double bright_f, contrast_f, sat_f;
    double affine_angle;
    int affine_tx, affine_ty;
    double rot_angle;
} ember_aug_draws;

/* Draws step k's parameters for image `stream` (see the top). */
void ember_augment_draw(const ember_augment *aug, int k, int w, int h, uint64_t seed,
                        uint64_t stream, ember_aug_draws *out);

/* Runs every step but normalize on one image: dst holds out_w x out_h x c
 * bytes (ember_augment_out_size). scratch: 2 * max(w*h, out_w*out_h) * c
 * bytes. */
void ember_augment_apply_u8(const ember_augment *aug, const uint8_t *src, int w, int h, int c,
                            uint64_t seed, uint64_t stream, uint8_t *dst, uint8_t *scratch);
/* The whole pipeline into a CHW float image (to_tensor, then the normalize
 * step when there is one). */
void ember_augment_apply_f32(const ember_augment *aug, const uint8_t *src, int w, int h, int c,
                             uint64_t seed, uint64_t stream, float *dst, uint8_t *scratch);

/* The stream of image `index` in epoch `epoch`: every image gets fresh
 * draws each epoch, independent of the order it is visited in. */
static inline uint64_t ember_augment_stream(uint64_t epoch, uint64_t index) {
    return (epoch << 32) ^ index;
}

/* A batch: images idx[0..n) of ds through aug (NULL: to_tensor only) into
 * out [n, c, out_h, out_w] float and labels[n] (may be NULL). OpenMP over
 * the images. Returns -1 only when out of memory for scratch. */
int ember_augment_batch(const ember_augment *aug, const ember_dataset *ds, const int64_t *idx,
                        int64_t n, uint64_t seed, uint64_t epoch, float *out, int32_t *labels,
                        ember_err *err);

/* idx = a permutation of 0..n-1 for `epoch` (Fisher-Yates on Philox draws
 * keyed by seed): reproducible, fresh each epoch. */
void ember_shuffle(int64_t *idx, int64_t n, uint64_t seed, uint64_t epoch);

#ifdef __cplusplus
}
#endif
#endif
