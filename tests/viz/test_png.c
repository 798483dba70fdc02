/* test_png.c — PNG round trips through libpng for every image kind, decoding
 * of PNG variants written here with libpng itself (palette, tRNS, 16-bit,
 * low bit depths, grey+alpha, interlaced), and broken PNG data. */
#include "viz/codec.h"
#include "viz_test.h"

#include <png.h>
#include <stdint.h>
#include <string.h>

/* ---- a minimal libpng writer for test inputs -------------------------- */

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} sink;

static void sink_write(png_structp png, png_bytep d, size_t n)
{
    sink *s = png_get_io_ptr(png);
    if (s->len + n > s->cap) {
        size_t cap = (s->len + n) * 2;
        uint8_t *nb = realloc(s->buf, cap);
        if (!nb)
            png_error(png, "oom");
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, d, n);
    s->len += n;
}

static void sink_flush(png_structp png)
{
    (void)png;
}

typedef struct {
    int w, h, depth, type, interlace;
    const uint8_t *rows; /* packed rows, rowbytes each */
    size_t rowbytes;
    const png_color *palette;
    int npalette;
    const uint8_t *trns; /* palette alpha */
    int ntrns;
    const png_color_16 *trns_colour; /* grey/RGB tRNS */
} png_spec;

/* Writes a PNG per spec into a malloc'd buffer; returns its length (0 on failure). */
static size_t write_png(const png_spec *sp, uint8_t **out)
{
    sink s = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)sp->h);
    if (!png || !info || !rows) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        return 0;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        free(s.buf);
        return 0;
    }
    png_set_write_fn(png, &s, sink_write, sink_flush);
    png_set_IHDR(png, info, sp->w, sp->h, sp->depth, sp->type, sp->interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (sp->palette)
        png_set_PLTE(png, info, sp->palette, sp->npalette);
    if (sp->trns || sp->trns_colour)
        png_set_tRNS(png, info, sp->trns, sp->ntrns, sp->trns_colour);
    png_write_info(png, info);
    if (sp->depth == 16)
        png_set_swap(png); /* our test rows hold 16-bit samples little-endian */
    for (int y = 0; y < sp->h; y++)
        rows[y] = (png_bytep)(sp->rows + (size_t)y * sp->rowbytes);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    *out = s.buf;
    return s.len;
}

/* ---- round trips through our encoder ---------------------------------- */

static void fill_pattern(ember_image *img)
{
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < img->channels; c++)
                img->data[((size_t)y * img->width + x) * img->channels + c] =
                    (uint8_t)(x * 7 + y * 13 + c * 101 + (x * y) % 17);
}

static void round_trip(int channels)
{
    char err[256] = "";
    ember_image a = {0}, b = {0};
    CHECK(ember_image_alloc(&a, 37, 23, channels, err, sizeof err) == 0);
    fill_pattern(&a);
    uint8_t *png = NULL;
    size_t len = 0;
    CHECK_MSG(ember_png_encode(&a, -1, &png, &len, err, sizeof err) == 0, "%s", err);
    CHECK(len > 8 && ember_image_sniff(png, len) == EMBER_FMT_PNG);
    CHECK_MSG(ember_png_decode(png, len, &b, err, sizeof err) == 0, "%s", err);
    CHECK(b.width == 37 && b.height == 23 && b.channels == channels);
    CHECK(b.data && memcmp(a.data, b.data, (size_t)37 * 23 * channels) == 0);
    ember_image_free(&b);
    /* every compression level gives the same pixels */
    for (int level = 0; level <= 9; level += 9) {
        uint8_t *p2 = NULL;
        size_t l2 = 0;
        CHECK(ember_png_encode(&a, level, &p2, &l2, err, sizeof err) == 0);
        CHECK(ember_image_decode(p2, l2, &b, err, sizeof err) == 0);
        CHECK(b.data && memcmp(a.data, b.data, (size_t)37 * 23 * channels) == 0);
        ember_image_free(&b);
        free(p2);
    }
    free(png);
    ember_image_free(&a);
}

/* ---- decoding of PNG variants ------------------------------------------ */

static void test_palette_trns(void)
{
    png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    uint8_t alpha[4] = {255, 128, 0, 255};
    /* 4x2, 2 bits per index: row0 indices 0 1 2 3, row1 3 2 1 0 */
    uint8_t rows[2] = {0x1B, 0xE4};
    png_spec sp = {4, 2, 2, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, rows, 1, pal, 4, alpha, 4, NULL};
    uint8_t *buf = NULL;
    size_t len = write_png(&sp, &buf);
    CHECK(len > 0);
    ember_image img = {0};
    char err[256] = "";
    CHECK_MSG(ember_png_decode(buf, len, &img, err, sizeof err) == 0, "%s", err);
    CHECK(img.width == 4 && img.height == 2 && img.channels == 4);
    if (img.data && img.channels == 4) {
        const uint8_t *p = img.data;
        CHECK(p[0] == 255 && p[1] == 0 && p[2] == 0 && p[3] == 255);
        CHECK(p[4] == 0 && p[5] == 255 && p[6] == 0 && p[7] == 128);
        CHECK(p[8] == 0 && p[9] == 0 && p[10] == 255 && p[11] == 0);
        CHECK(p[12] == 10 && p[13] == 20 && p[14] == 30 && p[15] == 255);
        CHECK(p[16] == 10 && p[19] == 255); /* row 1 starts with index 3 */
    }
    ember_image_free(&img);
    free(buf);

    /* The same palette without tRNS decodes to RGB. */
    png_spec sp2 = {4, 2, 2, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, rows, 1, pal, 4, NULL, 0, NULL};
    len = write_png(&sp2, &buf);
    CHECK(ember_png_decode(buf, len, &img, err, sizeof err) == 0);
    CHECK(img.channels == 3 && img.data && img.data[3] == 0 && img.data[4] == 255);
    ember_image_free(&img);
    free(buf);
}

static void test_16bit(void)
{
    /* 3x1 RGB 16-bit: scaled to 8 bits by rounding (v*255/65535). */
    uint16_t px[9] = {65535, 0, 32896, 257, 514, 1000, 0, 65535, 65280};
    png_spec sp = {3, 1, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, (const uint8_t *)px, 18,
                   NULL, 0, NULL, 0, NULL};
    uint8_t *buf = NULL;
    size_t len = write_png(&sp, &buf);
    CHECK(len > 0);
    ember_image img = {0};
    char err[256] = "";
    CHECK_MSG(ember_png_decode(buf, len, &img, err, sizeof err) == 0, "%s", err);
    CHECK(img.width == 3 && img.height == 1 && img.channels == 3);
    if (img.data) {
        CHECK(img.data[0] == 255 && img.data[1] == 0 && img.data[2] == 128);
        CHECK(img.data[3] == 1 && img.data[4] == 2 && img.data[5] == 4);
        CHECK(img.data[6] == 0 && img.data[7] == 255 && img.data[8] == 254);
    }
    ember_image_free(&img);
    free(buf);

    /* 16-bit grey+alpha becomes RGBA. */
    uint16_t ga[4] = {65535, 32896, 0, 65535};
    png_spec sp2 = {2, 1, 16, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, (const uint8_t *)ga, 8,
                    NULL, 0, NULL, 0, NULL};
    len = write_png(&sp2, &buf);
    CHECK(ember_png_decode(buf, len, &img, err, sizeof err) == 0);
    CHECK(img.channels == 4);
    if (img.data && img.channels == 4) {
        CHECK(img.data[0] == 255 && img.data[1] == 255 && img.data[2] == 255 && img.data[3] == 128);
        CHECK(img.data[4] == 0 && img.data[7] == 255);
    }
    ember_image_free(&img);
    free(buf);
}

static void test_low_depth_grey(void)
{
    /* 1-bit grey, 10 pixels: 1010110000 -> 255 0 255 0 255 255 0 0 0 0 */
    uint8_t row1[2] = {0xAC, 0x00};
    png_spec sp = {10, 1, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, row1, 2, NULL, 0, NULL, 0, NULL};
    uint8_t *buf = NULL;
    size_t len = write_png(&sp, &buf);
    ember_image img = {0};
    char err[256] = "";
    CHECK_MSG(ember_png_decode(buf, len, &img, err, sizeof err) == 0, "%s", err);
    CHECK(img.width == 10 && img.channels == 1);
    static const uint8_t want1[10] = {255, 0, 255, 0, 255, 255, 0, 0, 0, 0};
    CHECK(img.data && memcmp(img.data, want1, 10) == 0);
    ember_image_free(&img);
    free(buf);

    /* 4-bit grey with a tRNS grey value: transparent where the value matches. */
    uint8_t row4[2] = {0x0F, 0x5A}; /* 0, 15, 5, 10 */
    png_color_16 key = {0, 0, 0, 0, 5};
    png_spec sp4 = {4, 1, 4, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, row4, 2, NULL, 0, NULL, 0, &key};
    len = write_png(&sp4, &buf);
    CHECK_MSG(ember_png_decode(buf, len, &img, err, sizeof err) == 0, "%s", err);
    CHECK(img.channels == 4);
    if (img.data && img.channels == 4) {
        CHECK(img.data[0] == 0 && img.data[3] == 255);
        CHECK(img.data[4] == 255 && img.data[5] == 255 && img.data[7] == 255);
        CHECK(img.data[8] == 85 && img.data[11] == 0); /* the keyed value: transparent */
        CHECK(img.data[12] == 170 && img.data[15] == 255);
    }
    ember_image_free(&img);
    free(buf);
}

static void test_interlaced(void)
{
    enum { W = 19, H = 13 };
    uint8_t rows[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        rows[i] = (uint8_t)(i * 31 + i / 7);
    png_spec sp = {W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rows, W * 3, NULL, 0, NULL, 0, NULL};
    uint8_t *buf = NULL;
    size_t len = write_png(&sp, &buf);
    CHECK(len > 0);
    ember_image img = {0};
    char err[256] = "";
    CHECK_MSG(ember_png_decode(buf, len, &img, err, sizeof err) == 0, "%s", err);
    CHECK(img.width == W && img.height == H && img.channels == 3);
    CHECK(img.data && memcmp(img.data, rows, sizeof rows) == 0);
    ember_image_free(&img);
    free(buf);
}

/* ---- broken data -------------------------------------------------------- */

static void test_broken(void)
{
    char err[256];
    ember_image a = {0}, b = {0};
    CHECK(ember_image_alloc(&a, 64, 48, 3, err, sizeof err) == 0);
    fill_pattern(&a);
    uint8_t *png = NULL;
    size_t len = 0;
    CHECK(ember_png_encode(&a, 9, &png, &len, err, sizeof err) == 0);
    ember_image_free(&a);

    /* Every cut: a clean error that says "truncated". */
    int truncated_msgs = 0, cuts = 0;
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 37)) {
        err[0] = '\0';
        int rc = ember_image_decode(png, cut, &b, err, sizeof err);
        CHECK_MSG(rc == -1, "cut at %zu of %zu decoded", cut, len);
        CHECK(err[0] != '\0');
        if (strstr(err, "truncated"))
            truncated_msgs++;
        cuts++;
        ember_image_free(&b);
    }
    /* Cuts inside the signature are "not a PNG" or empty; the rest truncated. */
    CHECK_MSG(truncated_msgs >= cuts - 9, "%d of %d cuts said truncated", truncated_msgs, cuts);

    /* Wrong magic. */
    uint8_t bad[64];
    memcpy(bad, png, sizeof bad);
    bad[1] = 'X';
    CHECK(ember_image_decode(bad, sizeof bad, &b, err, sizeof err) == -1);
    CHECK_MSG(strstr(err, "not a PNG or JPEG") != NULL, "%s", err);
    CHECK(ember_png_decode(bad, sizeof bad, &b, err, sizeof err) == -1);
    CHECK(ember_image_decode(png, 0, &b, err, sizeof err) == -1);

    /* A flipped bit in the image data: an error (bad CRC or zlib), no crash. */
    uint8_t *copy = malloc(len);
    memcpy(copy, png, len);
    copy[len / 2] ^= 0x10;
    CHECK(ember_image_decode(copy, len, &b, err, sizeof err) == -1);
    CHECK(err[0] != '\0');

    /* Random damage: whatever happens, no crash, and success means a sane image. */
    unsigned s = 1;
    for (int it = 0; it < 400; it++) {
        memcpy(copy, png, len);
        for (int k = 0; k < 1 + it % 4; k++) {
            s = s * 1103515245u + 12345u;
            size_t at = 8 + (s >> 8) % (len - 8);
            copy[at] = (uint8_t)(s >> 3);
        }
        if (ember_image_decode(copy, len, &b, err, sizeof err) == 0)
            CHECK(b.width > 0 && b.height > 0 && b.data);
        ember_image_free(&b);
    }
    free(copy);

    /* A header claiming an enormous image is refused before allocating. */
    uint8_t huge[64];
    memcpy(huge, png, sizeof huge);
    huge[16] = 0x7f; /* width's high byte; the IHDR CRC no longer matches either */
    CHECK(ember_image_decode(huge, len < 64 ? len : 64, &b, err, sizeof err) == -1);

    /* Encoding refuses nonsense. */
    ember_image none = {0};
    uint8_t *o = NULL;
    size_t ol = 0;
    CHECK(ember_png_encode(&none, -1, &o, &ol, err, sizeof err) == -1);
    free(png);
}

int main(void)
{
    round_trip(1);
    round_trip(3);
    round_trip(4);
    test_palette_trns();
    test_16bit();
    test_low_depth_grey();
    test_interlaced();
    test_broken();
    TEST_END();
}
