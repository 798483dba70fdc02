/* test_jpeg.c — JPEG decoding: colour, grey and CMYK inputs written here with
 * libjpeg, EXIF orientations 1-8 (hand-built APP1 markers, both byte orders),
 * hostile EXIF blocks, and truncated or damaged streams. */
#include "viz/codec.h"
#include "viz_test.h"

#include <stdint.h>
#include <string.h>

#include <jpeglib.h>

/* Encodes w x h pixels (components per pixel, colour space cs) as JPEG,
 * adding app1 (if any) as an APP1 marker. Returns a malloc'd buffer. */
static uint8_t *encode_jpeg(const uint8_t *px, int w, int h, int comps, J_COLOR_SPACE cs,
                            const uint8_t *app1, size_t app1_len, int adobe, unsigned long *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    uint8_t *out = NULL;
    *len = 0;
    jpeg_mem_dest(&c, &out, len);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    c.write_Adobe_marker = adobe ? TRUE : FALSE;
    jpeg_start_compress(&c, TRUE);
    if (app1)
        jpeg_write_marker(&c, JPEG_APP0 + 1, app1, (unsigned)app1_len);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return out;
}

static void put16(uint8_t *p, unsigned v, int big)
{
    if (big) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
    } else {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}

static void put32(uint8_t *p, uint32_t v, int big)
{
    for (int i = 0; i < 4; i++)
        p[big ? i : 3 - i] = (uint8_t)(v >> (24 - 8 * i));
}

/* "Exif\0\0" + TIFF header + IFD0 with a Make tag and an Orientation tag. */
static size_t build_exif(uint8_t *b, int orientation, int big)
{
    memcpy(b, "Exif\0\0", 6);
    uint8_t *t = b + 6;
    t[0] = t[1] = big ? 'M' : 'I';
    put16(t + 2, 42, big);
    put32(t + 4, 8, big);
    put16(t + 8, 2, big); /* two entries */
    uint8_t *e = t + 10;
    put16(e, 0x010F, big); /* Make, ASCII, 6 bytes at offset 38 */
    put16(e + 2, 2, big);
    put32(e + 4, 6, big);
    put32(e + 8, 38, big);
    e += 12;
    put16(e, 0x0112, big); /* Orientation, SHORT, 1 */
    put16(e + 2, 3, big);
    put32(e + 4, 1, big);
    put16(e + 8, (unsigned)orientation, big);
    put16(e + 10, 0, big);
    put32(t + 34, 0, big); /* no next IFD */
    memcpy(t + 38, "Ember", 6);
    return 6 + 44;
}

enum { QW = 48, QH = 32 };
static const uint8_t RED[3] = {255, 0, 0}, GREEN[3] = {0, 255, 0}, BLUE[3] = {0, 0, 255},
                     WHITE[3] = {255, 255, 255};

static void quadrants(uint8_t *px)
{
    for (int y = 0; y < QH; y++)
        for (int x = 0; x < QW; x++) {
            const uint8_t *c = y < QH / 2 ? (x < QW / 2 ? RED : GREEN) : (x < QW / 2 ? BLUE : WHITE);
            memcpy(px + ((size_t)y * QW + x) * 3, c, 3);
        }
}

static int near(const uint8_t *p, const uint8_t *c)
{
    for (int i = 0; i < 3; i++)
        if (abs((int)p[i] - (int)c[i]) > 40)
            return 0;
    return 1;
}

/* The colour at the centre of each quadrant of img: TL, TR, BL, BR. */
static int quadrant_is(const ember_image *img, int q, const uint8_t *c)
{
    int x = (q % 2) ? img->width * 3 / 4 : img->width / 4;
    int y = (q / 2) ? img->height * 3 / 4 : img->height / 4;
    return near(img->data + ((size_t)y * img->width + x) * img->channels, c);
}

static void test_orientations(void)
{
    /* What a viewer shows for stored quadrants R G / B W, per EXIF 2.3. */
    const uint8_t *want[9][4] = {
        {0},
        {RED, GREEN, BLUE, WHITE},  /* 1 upright */
        {GREEN, RED, WHITE, BLUE},  /* 2 mirrored left-right */
        {WHITE, BLUE, GREEN, RED},  /* 3 turned 180 */
        {BLUE, WHITE, RED, GREEN},  /* 4 mirrored top-bottom */
        {RED, BLUE, GREEN, WHITE},  /* 5 transposed */
        {BLUE, RED, WHITE, GREEN},  /* 6 needs 90 clockwise */
        {WHITE, GREEN, BLUE, RED},  /* 7 transverse */
        {GREEN, WHITE, RED, BLUE},  /* 8 needs 90 counter-clockwise */
    };
    static uint8_t px[QW * QH * 3];
    quadrants(px);
    for (int big = 0; big <= 1; big++) {
        for (int o = 1; o <= 8; o++) {
            uint8_t exif[64];
            size_t el = build_exif(exif, o, big);
            CHECK(ember_exif_orientation(exif, el) == o);
            unsigned long len = 0;
            uint8_t *jpg = encode_jpeg(px, QW, QH, 3, JCS_RGB, exif, el, 0, &len);
            ember_image img = {0};
            char err[256] = "";
            CHECK_MSG(ember_image_decode(jpg, len, &img, err, sizeof err) == 0, "%s", err);
            int sw = o >= 5;
            CHECK_MSG(img.width == (sw ? QH : QW) && img.height == (sw ? QW : QH),
                      "orientation %d gave %dx%d", o, img.width, img.height);
            if (img.data)
                for (int q = 0; q < 4; q++)
                    CHECK_MSG(quadrant_is(&img, q, want[o][q]), "orientation %d (%s) quadrant %d",
                              o, big ? "MM" : "II", q);
            ember_image_free(&img);
            free(jpg);
        }
    }
}

static void test_hostile_exif(void)
{
    uint8_t exif[64];
    size_t el = build_exif(exif, 6, 0);
    /* Every prefix: never a crash, and an orientation only once the entry is whole. */
    for (size_t cut = 0; cut <= el; cut++) {
        int o = ember_exif_orientation(exif, cut);
        CHECK(o == 1 || o == 6);
        if (cut < 6 + 34)
            CHECK_MSG(o == 1, "cut %zu", cut);
    }
    uint8_t b[64];
    memcpy(b, exif, el);
    put32(b + 6 + 4, 0xFFFFFFF0u, 0); /* IFD0 far outside */
    CHECK(ember_exif_orientation(b, el) == 1);
    memcpy(b, exif, el);
    put16(b + 6 + 8, 0xFFFF, 0); /* more entries than bytes */
    CHECK(ember_exif_orientation(b, el) == 6); /* found before running off the end */
    put16(b + 6 + 10, 0x0112, 0); /* now the first entry is a bogus Orientation (ASCII) */
    CHECK(ember_exif_orientation(b, el) == 1);
    memcpy(b, exif, el);
    b[6] = 'X'; /* no byte order */
    CHECK(ember_exif_orientation(b, el) == 1);
    memcpy(b, exif, el);
    put16(b + 6 + 2, 43, 0); /* bad TIFF magic */
    CHECK(ember_exif_orientation(b, el) == 1);
    memcpy(b, exif, el);
    put16(b + 6 + 22 + 8, 9, 0); /* orientation out of range */
    CHECK(ember_exif_orientation(b, el) == 1);
    put16(b + 6 + 22 + 8, 0, 0);
    CHECK(ember_exif_orientation(b, el) == 1);
    CHECK(ember_exif_orientation(NULL, 100) == 1);
    CHECK(ember_exif_orientation((const uint8_t *)"JFIF\0\0", 6) == 1);

    /* Random damage never crashes and always yields 1..8. */
    unsigned s = 3;
    for (int it = 0; it < 5000; it++) {
        memcpy(b, exif, el);
        for (int k = 0; k < 1 + it % 5; k++) {
            s = s * 1103515245u + 12345u;
            b[6 + (s >> 8) % (el - 6)] = (uint8_t)(s >> 16);
        }
        int o = ember_exif_orientation(b, el);
        CHECK(o >= 1 && o <= 8);
    }

    /* A JPEG carrying a corrupt EXIF block still decodes, upright as stored. */
    static uint8_t px[QW * QH * 3];
    quadrants(px);
    memcpy(b, exif, el);
    put32(b + 6 + 4, 0x7FFFFFFFu, 0);
    unsigned long len = 0;
    uint8_t *jpg = encode_jpeg(px, QW, QH, 3, JCS_RGB, b, el, 0, &len);
    ember_image img = {0};
    char err[256];
    CHECK(ember_image_decode(jpg, len, &img, err, sizeof err) == 0);
    CHECK(img.width == QW && img.height == QH);
    ember_image_free(&img);
    free(jpg);
    /* A tiny APP1 that only says "Exif". */
    jpg = encode_jpeg(px, QW, QH, 3, JCS_RGB, (const uint8_t *)"Exif\0\0MM", 8, 0, &len);
    CHECK(ember_image_decode(jpg, len, &img, err, sizeof err) == 0);
    CHECK(img.width == QW && img.height == QH);
    ember_image_free(&img);
    free(jpg);
}

static void test_grey_and_cmyk(void)
{
    enum { W = 16, H = 8 };
    uint8_t grey[W * H];
    for (int i = 0; i < W * H; i++)
        grey[i] = (uint8_t)(i % W < W / 2 ? 40 : 200);
    unsigned long len = 0;
    uint8_t *jpg = encode_jpeg(grey, W, H, 1, JCS_GRAYSCALE, NULL, 0, 0, &len);
    ember_image img = {0};
    char err[256] = "";
    CHECK_MSG(ember_jpeg_decode(jpg, len, &img, err, sizeof err) == 0, "%s", err);
    CHECK(img.channels == 1 && img.width == W && img.height == H);
    if (img.data) {
        CHECK(abs(img.data[W + 2] - 40) < 8);
        CHECK(abs(img.data[W + 13] - 200) < 8);
    }
    ember_image_free(&img);
    free(jpg);

    /* CMYK as Adobe writes it (inverted): C=0 M=255 Y=255 K=0 is red. */
    uint8_t cmyk[W * H * 4];
    for (int i = 0; i < W * H; i++) {
        int left = i % W < W / 2;
        /* inverted values: 255 means no ink */
        cmyk[i * 4 + 0] = 255;
        cmyk[i * 4 + 1] = left ? 0 : 255;
        cmyk[i * 4 + 2] = left ? 0 : 255;
        cmyk[i * 4 + 3] = 255;
    }
    jpg = encode_jpeg(cmyk, W, H, 4, JCS_CMYK, NULL, 0, 1, &len);
    CHECK_MSG(ember_jpeg_decode(jpg, len, &img, err, sizeof err) == 0, "%s", err);
    CHECK(img.channels == 3 && img.width == W);
    if (img.data && img.channels == 3) {
        const uint8_t *l = img.data + (W + 2) * 3, *r = img.data + (W + 13) * 3;
        CHECK_MSG(l[0] > 200 && l[1] < 60 && l[2] < 60, "left %d %d %d", l[0], l[1], l[2]);
        CHECK_MSG(r[0] > 200 && r[1] > 200 && r[2] > 200, "right %d %d %d", r[0], r[1], r[2]);
    }
    ember_image_free(&img);
    free(jpg);
}

static void test_broken(void)
{
    static uint8_t px[QW * QH * 3];
    quadrants(px);
    for (int i = 0; i < QW * QH * 3; i++)
        px[i] = (uint8_t)(px[i] ^ (i * 37)); /* some texture so the data is not trivial */
    unsigned long len = 0;
    uint8_t *jpg = encode_jpeg(px, QW, QH, 3, JCS_RGB, NULL, 0, 0, &len);
    ember_image img = {0};
    char err[256];
    int truncated = 0, cuts = 0;
    for (unsigned long cut = 0; cut + 2 < len; cut += cut < 40 ? 1 : 23) {
        err[0] = '\0';
        int rc = ember_image_decode(jpg, cut, &img, err, sizeof err);
        CHECK_MSG(rc == -1, "cut at %lu of %lu decoded", cut, len);
        CHECK(err[0] != '\0');
        if (strstr(err, "truncated") || strstr(err, "Premature") || strstr(err, "premature"))
            truncated++;
        cuts++;
        ember_image_free(&img);
    }
    /* Cuts in the headers may give other messages; the data part says truncated. */
    CHECK_MSG(truncated > cuts / 2, "%d of %d cuts said truncated", truncated, cuts);

    /* Wrong magic after the SOI: an error, not a crash. */
    uint8_t *copy = malloc(len);
    memcpy(copy, jpg, len);
    copy[3] = 0x00;
    CHECK(ember_image_decode(copy, len, &img, err, sizeof err) == -1 || img.data);
    ember_image_free(&img);
    /* Random damage. */
    unsigned s = 9;
    for (int it = 0; it < 400; it++) {
        memcpy(copy, jpg, len);
        for (int k = 0; k < 1 + it % 6; k++) {
            s = s * 1103515245u + 12345u;
            copy[3 + (s >> 8) % (len - 3)] = (uint8_t)(s >> 16);
        }
        if (ember_image_decode(copy, len, &img, err, sizeof err) == 0)
            CHECK(img.width > 0 && img.height > 0 && img.data);
        ember_image_free(&img);
    }
    free(copy);
    free(jpg);
    CHECK(ember_jpeg_decode((const uint8_t *)"\xff\xd8", 2, &img, err, sizeof err) == -1);
    CHECK(ember_jpeg_decode((const uint8_t *)"\x89PNG", 4, &img, err, sizeof err) == -1);
}

int main(void)
{
    test_orientations();
    test_hostile_exif();
    test_grey_and_cmyk();
    test_broken();
    TEST_END();
}
