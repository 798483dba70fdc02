/* test_image_ops.c — pixel operations: resize against a plain bilinear
 * reference (upscaling) and the triangle-filter weights (downscaling),
 * conversions, orientation transforms, grids, overlays, descriptions. */
#include "viz/codec.h"
#include "viz/image.h"
#include "viz_test.h"

#include <math.h>
#include <string.h>

/* Textbook bilinear, pixel centres at +0.5, edges clamped (what PyTorch's
 * interpolate(mode="bilinear", align_corners=False) computes). */
static double ref_bilinear(const ember_image *s, double fx, double fy, int c)
{
    double sx = fmax(0, fmin(s->width - 1, fx - 0.5));
    double sy = fmax(0, fmin(s->height - 1, fy - 0.5));
    int x0 = (int)floor(sx), y0 = (int)floor(sy);
    int x1 = x0 + 1 < s->width ? x0 + 1 : x0, y1 = y0 + 1 < s->height ? y0 + 1 : y0;
    double ax = sx - x0, ay = sy - y0;
#define P(x, y) s->data[((size_t)(y) * s->width + (x)) * s->channels + c]
    return (1 - ay) * ((1 - ax) * P(x0, y0) + ax * P(x1, y0)) + ay * ((1 - ax) * P(x0, y1) + ax * P(x1, y1));
#undef P
}

static void test_resize(void)
{
    char err[256];
    ember_image s = {0}, d = {0};
    CHECK(ember_image_alloc(&s, 7, 5, 3, err, sizeof err) == 0);
    for (size_t i = 0; i < 7 * 5 * 3; i++)
        s.data[i] = (uint8_t)((i * 53) % 256);
    /* Upscaling equals the reference within rounding. */
    CHECK(ember_image_resize(&s, 17, 12, &d, err, sizeof err) == 0);
    CHECK(d.width == 17 && d.height == 12 && d.channels == 3);
    int worst = 0;
    for (int y = 0; y < 12; y++)
        for (int x = 0; x < 17; x++)
            for (int c = 0; c < 3; c++) {
                double want = ref_bilinear(&s, (x + 0.5) * 7 / 17.0, (y + 0.5) * 5 / 12.0, c);
                int diff = abs((int)d.data[((size_t)y * 17 + x) * 3 + c] - (int)lround(want));
                worst = diff > worst ? diff : worst;
            }
    CHECK_MSG(worst <= 1, "upscale differs from the reference by %d", worst);
    ember_image_free(&d);

    /* Same size is the identity. */
    CHECK(ember_image_resize(&s, 7, 5, &d, err, sizeof err) == 0);
    CHECK(d.data && memcmp(d.data, s.data, 7 * 5 * 3) == 0);
    ember_image_free(&d);
    ember_image_free(&s);

    /* Halving: the triangle filter weighs 4 neighbours 1:3:3:1 per axis. */
    CHECK(ember_image_alloc(&s, 8, 1, 1, err, sizeof err) == 0);
    uint8_t row[8] = {0, 80, 160, 240, 16, 32, 64, 128};
    memcpy(s.data, row, 8);
    CHECK(ember_image_resize(&s, 4, 1, &d, err, sizeof err) == 0);
    if (d.data) {
        /* out[1]: inputs 1..4 weighted 1,3,3,1 */
        CHECK(d.data[1] == (uint8_t)lround((80 * 1 + 160 * 3 + 240 * 3 + 16 * 1) / 8.0));
        /* out[0]: inputs 0..2 (input -1 is outside), weights 3,3,1 renormalised */
        CHECK(d.data[0] == (uint8_t)lround((0 * 3 + 80 * 3 + 160 * 1) / 7.0));
    }
    ember_image_free(&d);
    ember_image_free(&s);

    /* A flat image stays flat at any size; big reductions too. RGBA goes
     * through Pillow's premultiplied round trip: colour 77 at alpha 77 comes
     * back as 76, as it does from Pillow. */
    CHECK(ember_image_alloc(&s, 300, 200, 4, err, sizeof err) == 0);
    memset(s.data, 77, 300 * 200 * 4);
    CHECK(ember_image_resize(&s, 7, 3, &d, err, sizeof err) == 0);
    int flat = 1;
    for (int i = 0; d.data && i < 7 * 3 * 4; i++)
        flat &= d.data[i] == (i % 4 == 3 ? 77 : 76);
    CHECK(flat);
    ember_image_free(&d);
    CHECK(ember_image_resize(&s, 0, 3, &d, err, sizeof err) == -1);
    CHECK(ember_image_resize(&s, 100000, 3, &d, err, sizeof err) == -1);
    ember_image_free(&s);
}

static void test_convert_describe(void)
{
    char err[256], buf[64];
    ember_image s = {0}, d = {0};
    CHECK(ember_image_alloc(&s, 2, 1, 4, err, sizeof err) == 0);
    uint8_t px[8] = {255, 0, 0, 255, 0, 0, 0, 0}; /* opaque red, transparent black */
    memcpy(s.data, px, 8);
    CHECK(ember_image_convert(&s, 3, &d, err, sizeof err) == 0);
    CHECK(d.data && d.data[0] == 255 && d.data[1] == 0 && d.data[3] == 255 && d.data[4] == 255);
    ember_image_free(&d);
    CHECK(ember_image_convert(&s, 1, &d, err, sizeof err) == 0);
    CHECK(d.data && d.data[0] == 76 && d.data[1] == 255); /* luma of red; white behind */
    ember_image_describe(&d, buf, sizeof buf);
    CHECK(strcmp(buf, "<image 2x1 grey>") == 0);
    ember_image_free(&d);
    ember_image_describe(&s, buf, sizeof buf);
    CHECK(strcmp(buf, "<image 2x1 RGBA>") == 0);
    CHECK(ember_image_convert(&s, 2, &d, err, sizeof err) == -1);
    ember_image_free(&s);
    CHECK(ember_image_alloc(&s, 0, 5, 3, err, sizeof err) == -1);
    CHECK(ember_image_alloc(&s, 5, 5, 2, err, sizeof err) == -1);
    CHECK(ember_image_alloc(&s, 30000, 30000, 3, err, sizeof err) == -1);
    ember_image_free(&s); /* safe on a zeroed image */
}

static void test_orient(void)
{
    char err[256];
    ember_image s = {0}, d = {0};
    CHECK(ember_image_alloc(&s, 3, 2, 1, err, sizeof err) == 0);
    uint8_t px[6] = {1, 2, 3, 4, 5, 6}; /* 1 2 3 / 4 5 6 */
    memcpy(s.data, px, 6);
    static const uint8_t want[9][6] = {
        {0}, {1, 2, 3, 4, 5, 6}, {3, 2, 1, 6, 5, 4}, {6, 5, 4, 3, 2, 1}, {4, 5, 6, 1, 2, 3},
        {1, 4, 2, 5, 3, 6},  /* transpose: 2 wide, 3 high */
        {4, 1, 5, 2, 6, 3},  /* 90 clockwise */
        {6, 3, 5, 2, 4, 1},  /* transverse */
        {3, 6, 2, 5, 1, 4},  /* 90 counter-clockwise */
    };
    for (int o = 1; o <= 8; o++) {
        CHECK(ember_image_orient(&s, o, &d, err, sizeof err) == 0);
        CHECK(d.width == (o >= 5 ? 2 : 3) && d.height == (o >= 5 ? 3 : 2));
        CHECK_MSG(d.data && memcmp(d.data, want[o], 6) == 0, "orientation %d", o);
        ember_image_free(&d);
    }
    ember_image_free(&s);
}

static void test_grid_overlay(void)
{
    char err[256];
    ember_image a = {0}, b = {0}, g = {0};
    CHECK(ember_image_alloc(&a, 20, 10, 3, err, sizeof err) == 0);
    CHECK(ember_image_alloc(&b, 10, 20, 1, err, sizeof err) == 0);
    for (int i = 0; i < 200; i++) {
        a.data[i * 3] = 255;
        b.data[i] = 0;
    }
    const ember_image *imgs[3] = {&a, &b, NULL};
    const uint8_t bg[3] = {255, 255, 255};
    CHECK(ember_image_grid(imgs, 3, 2, 20, 20, 2, bg, &g, err, sizeof err) == 0);
    CHECK(g.width == 2 * 20 + 3 * 2 && g.height == 2 * 20 + 3 * 2 && g.channels == 3);
    if (g.data) {
        const uint8_t *p = g.data + ((size_t)12 * g.width + 12) * 3; /* inside a: red */
        CHECK(p[0] == 255 && p[1] == 0 && p[2] == 0);
        p = g.data + ((size_t)3 * g.width + 12) * 3; /* a is letterboxed: white above */
        CHECK(p[0] == 255 && p[1] == 255 && p[2] == 255);
        p = g.data + ((size_t)12 * g.width + 34) * 3; /* inside b: black */
        CHECK(p[0] == 0 && p[1] == 0 && p[2] == 0);
        p = g.data + ((size_t)34 * g.width + 12) * 3; /* the empty cell */
        CHECK(p[0] == 255);
    }
    ember_image_free(&g);
    CHECK(ember_image_grid(imgs, 0, 2, 20, 20, 2, bg, &g, err, sizeof err) == -1);

    float mask[4] = {0, 0, 1, 1}; /* bottom half */
    const uint8_t blue[3] = {0, 0, 255};
    ember_image o = {0};
    memset(a.data, 200, 20 * 10 * 3);
    CHECK(ember_image_overlay_mask(&a, mask, 2, 2, blue, 0.5, &o, err, sizeof err) == 0);
    if (o.data) {
        const uint8_t *top = o.data + ((size_t)0 * 20 + 10) * 3, *bot = o.data + ((size_t)9 * 20 + 10) * 3;
        CHECK(top[0] == 200 && top[2] == 200);
        CHECK(bot[0] == 100 && bot[2] == 228);
    }
    ember_image_free(&o);
    CHECK(ember_image_overlay_mask(&a, mask, 2, 2, blue, 1.5, &o, err, sizeof err) == -1);
    ember_image_free(&a);
    ember_image_free(&b);
}

int main(void)
{
    test_resize();
    test_convert_describe();
    test_orient();
    test_grid_overlay();
    TEST_END();
}
