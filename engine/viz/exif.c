/* exif.c — reads the Orientation tag from a JPEG's APP1 Exif block and turns
 * images upright. The parser trusts nothing: every offset is bounds-checked in
 * 64-bit arithmetic, and anything malformed means "no orientation" (1). */
#include "codec.h"
#include "viz_util.h"

#include <string.h>

static unsigned rd16(const uint8_t *p, int big)
{
    return big ? (unsigned)(p[0] << 8 | p[1]) : (unsigned)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int ember_exif_orientation(const uint8_t *app1, size_t len)
{
    if (!app1 || len < 6 + 8 || memcmp(app1, "Exif\0\0", 6) != 0)
        return 1;
    const uint8_t *t = app1 + 6; /* the TIFF header; offsets count from here */
    uint64_t tlen = len - 6;
    int big;
    if (t[0] == 'I' && t[1] == 'I')
        big = 0;
    else if (t[0] == 'M' && t[1] == 'M')
        big = 1;
    else
        return 1;
    if (rd16(t + 2, big) != 42)
        return 1;
    uint64_t ifd = rd32(t + 4, big);
    if (ifd + 2 > tlen)
        return 1;
    unsigned count = rd16(t + ifd, big);
    for (unsigned i = 0; i < count; i++) {
        uint64_t off = ifd + 2 + 12ull * i;
        if (off + 12 > tlen)
            return 1;
        const uint8_t *e = t + off;
        if (rd16(e, big) != 0x0112)
            continue;
        unsigned type = rd16(e + 2, big);
        uint32_t n = rd32(e + 4, big);
        unsigned v;
        if (type == 3 && n == 1) /* SHORT, the only type the standard allows */
            v = rd16(e + 8, big);
        else if (type == 4 && n == 1) /* LONG: seen from some writers */
            v = rd32(e + 8, big);
        else
            return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

int ember_image_orient(const ember_image *src, int o, ember_image *out, char *err,
                       size_t errlen)
{
    if (o < 2 || o > 8)
        return ember_image_copy(src, out, err, errlen);
    const int W = src->width, H = src->height, c = src->channels;
    const int swap = o >= 5; /* 5-8 turn the picture a quarter */
    ember_image t;
    if (ember_image_alloc(&t, swap ? H : W, swap ? W : H, c, err, errlen))
        return -1;
    for (int y = 0; y < t.height; y++) {
        for (int x = 0; x < t.width; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = W - 1 - x; sy = y; break;          /* mirror left-right */
            case 3: sx = W - 1 - x; sy = H - 1 - y; break;  /* rotate 180 */
            case 4: sx = x; sy = H - 1 - y; break;          /* mirror top-bottom */
            case 5: sx = y; sy = x; break;                  /* transpose */
            case 6: sx = y; sy = H - 1 - x; break;          /* rotate 90 clockwise */
            case 7: sx = W - 1 - y; sy = H - 1 - x; break;  /* transverse */
            default: sx = W - 1 - y; sy = x; break;         /* 8: rotate 90 counter-clockwise */
            }
            memcpy(t.data + ((size_t)y * t.width + x) * c, src->data + ((size_t)sy * W + sx) * c,
                   (size_t)c);
        }
    }
    *out = t;
    return 0;
}
