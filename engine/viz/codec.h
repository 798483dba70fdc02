/* codec.h — PNG and JPEG in and out of memory, local-file loading, EXIF
 * orientation. Formats are told apart by their magic bytes, never by a file
 * name. Errors come back as -1 with a message in err that says what was wrong;
 * corrupt or hostile input never crashes or exits. */
#ifndef EMBER_VIZ_CODEC_H
#define EMBER_VIZ_CODEC_H

#include "image.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { EMBER_FMT_UNKNOWN = 0, EMBER_FMT_PNG, EMBER_FMT_JPEG } ember_image_format;

/* Largest file image_load reads (bytes). */
#define EMBER_IMAGE_MAX_FILE (256u * 1024u * 1024u)

ember_image_format ember_image_sniff(const uint8_t *data, size_t len);

/* Encodes img (grey, RGB or RGBA) as PNG into a malloc'd buffer the caller
 * frees. level: zlib level 0-9, or -1 for the default. */
int ember_png_encode(const ember_image *img, int level, uint8_t **png, size_t *png_len,
                     char *err, size_t errlen);

/* Decodes a PNG: palette, tRNS, 1/2/4/16-bit and interlaced inputs come out as
 * 8-bit grey (1), RGB (3) or RGBA (4); grey with alpha becomes RGBA. */
int ember_png_decode(const uint8_t *data, size_t len, ember_image *out, char *err,
                     size_t errlen);

/* Decodes a JPEG (grey, YCbCr, CMYK/YCCK) to grey or RGB and applies its
 * EXIF orientation. Truncated data is an error, not a grey-filled picture. */
int ember_jpeg_decode(const uint8_t *data, size_t len, ember_image *out, char *err,
                      size_t errlen);

/* Sniffs and decodes a PNG or JPEG held in memory. */
int ember_image_decode(const uint8_t *data, size_t len, ember_image *out, char *err,
                       size_t errlen);

/* Reads and decodes a local file. Every message names the file. */
int ember_image_load(const char *path, ember_image *out, char *err, size_t errlen);

/* The Orientation (1-8) in an APP1 payload starting "Exif\0\0"; 1 when the
 * payload is absent, malformed or has no valid Orientation tag. */
int ember_exif_orientation(const uint8_t *app1, size_t len);

/* Applies an EXIF orientation (1-8) so the image shows upright; 1 or an
 * out-of-range value copies. */
int ember_image_orient(const ember_image *src, int orientation, ember_image *out, char *err,
                       size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
