/* dataset.h — an in-memory labelled image dataset (CIFAR-10 and friends):
 * u8 pixels in one owned block, one label per image, the class names.
 *
 * Pixels are interleaved HWC (R, G, B per pixel, rows top to bottom), the
 * layout of a PIL image and of ember_image, so augmentations and previews
 * read them without a transpose; the CHW float tensor a model eats is made
 * at the end of the augmentation pipeline (augment.h). */
#ifndef EMBER_DATA_DATASET_H
#define EMBER_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_DATASET_MAX_CLASSES 256
#define EMBER_DATASET_CLASS_NAME_MAX 64

typedef struct ember_dataset {
    char name[96];        /* "CIFAR-10 train" */
    char source[512];     /* where it was read from (archive or folder path) */
    int64_t n;            /* number of images */
    int height, width, channels;    /* 32, 32, 3 */
    uint8_t *pixels;      /* n * height * width * channels bytes, HWC per image; owned */
    uint8_t *labels;      /* n class indices, each < n_classes; owned */
    int n_classes;
    char classes[EMBER_DATASET_MAX_CLASSES][EMBER_DATASET_CLASS_NAME_MAX];
} ember_dataset;

/* Bytes of one image. */
static inline size_t ember_dataset_image_bytes(const ember_dataset *ds) {
    return (size_t)ds->height * (size_t)ds->width * (size_t)ds->channels;
}
static inline const uint8_t *ember_dataset_image(const ember_dataset *ds, int64_t i) {
    return ds->pixels + (size_t)i * ember_dataset_image_bytes(ds);
}

/* Frees pixels and labels and zeroes *ds; safe on a zeroed dataset. */
void ember_dataset_free(ember_dataset *ds);

/* Images per class into counts[n_classes]. */
void ember_dataset_class_counts(const ember_dataset *ds, int64_t *counts);

#ifdef __cplusplus
}
#endif
#endif
