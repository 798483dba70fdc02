/* fuzz_image.c — libFuzzer target: any bytes given to the image decoder
 * (PNG or JPEG by magic, EXIF orientation included) must decode or fail
 * with a message, never crash, leak or read out of bounds; what decodes
 * must also survive a PNG round trip. */
#include "viz/codec.h"
#include "viz/plot.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ember_image img;
    char err[512];
    err[0] = 0;
    if (ember_image_decode(data, size, &img, err, sizeof err) != 0) {
        if (!err[0])
            abort(); /* every failure must say why */
        return 0;
    }
    if (img.width <= 0 || img.height <= 0 || (img.channels != 1 && img.channels != 3 && img.channels != 4))
        abort();
    /* small results: re-encode and decode again, the pixels must match */
    if ((size_t)img.width * img.height <= 256 * 256) {
        ember_png png;
        ember_image back;
        if (ember_image_to_png(&img, &png, err, sizeof err) == 0) {
            if (ember_png_decode(png.data, png.size, &back, err, sizeof err) != 0)
                abort();
            size_t n = (size_t)img.width * img.height * img.channels;
            if (back.width != img.width || back.height != img.height || back.channels != img.channels ||
                memcmp(back.data, img.data, n) != 0)
                abort();
            ember_image_free(&back);
            ember_png_free(&png);
        }
    }
    ember_image_free(&img);
    return 0;
}
