/* test_mime.c — base64 (RFC 4648 test vectors) and the display bundles: the
 * PNG in an image bundle decodes back to the figure, and the metadata holds
 * the logical size. */
#include "viz/codec.h"
#include "viz/mime.h"
#include "viz_test.h"

#include <string.h>

static void expect_b64(const char *in, const char *want)
{
    char *got = ember_base64_encode((const uint8_t *)in, strlen(in));
    CHECK_MSG(got && strcmp(got, want) == 0, "\"%s\" -> \"%s\"", in, got ? got : "(null)");
    free(got);
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* A plain decoder for the round trip; returns the byte count or -1. */
static long b64_decode(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s), o = 0;
    if (n % 4)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = s[i + k] == '=' ? 0 : b64val(s[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
            return -1;
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        int bytes = s[i + 2] == '=' ? 1 : s[i + 3] == '=' ? 2 : 3;
        for (int k = 0; k < bytes; k++) {
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(w >> (16 - 8 * k));
        }
    }
    return (long)o;
}

int main(void)
{
    expect_b64("", "");
    expect_b64("f", "Zg==");
    expect_b64("fo", "Zm8=");
    expect_b64("foo", "Zm9v");
    expect_b64("foob", "Zm9vYg==");
    expect_b64("fooba", "Zm9vYmE=");
    expect_b64("foobar", "Zm9vYmFy");
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char *e = ember_base64_encode(all, 256);
    uint8_t back[300];
    CHECK(e && b64_decode(e, back, sizeof back) == 256 && memcmp(all, back, 256) == 0);
    free(e);

    double y[3] = {1, 3, 2};
    ember_series s = {"y", NULL, y, 3, 0};
    ember_axes ax = {.series = &s, .nseries = 1};
    ember_figure_opts fig = {.width = 300, .height = 200};
    ember_png png = {0};
    char err[256] = "";
    CHECK_MSG(ember_plot_lines(&ax, 1, &fig, &png, err, sizeof err) == 0, "%s", err);
    json_t *data = NULL, *meta = NULL;
    CHECK_MSG(ember_png_bundle(&png, "<plot 300x200>", &data, &meta, err, sizeof err) == 0, "%s", err);
    if (data && meta) {
        const char *b64 = json_string_value(json_object_get(data, "image/png"));
        CHECK(b64 != NULL);
        CHECK(strcmp(json_string_value(json_object_get(data, "text/plain")), "<plot 300x200>") == 0);
        json_t *sz = json_object_get(meta, "image/png");
        CHECK(json_integer_value(json_object_get(sz, "width")) == 300);
        CHECK(json_integer_value(json_object_get(sz, "height")) == 200);
        uint8_t *raw = malloc(png.size + 8);
        long n = b64 && raw ? b64_decode(b64, raw, png.size + 8) : -1;
        CHECK(n == (long)png.size);
        ember_image img = {0};
        CHECK(n > 0 && ember_png_decode(raw, (size_t)n, &img, err, sizeof err) == 0);
        CHECK(img.width == 600 && img.height == 400);
        ember_image_free(&img);
        free(raw);
    }
    json_decref(data);
    json_decref(meta);
    ember_png_free(&png);
    ember_png empty = {0};
    CHECK(ember_png_bundle(&empty, NULL, &data, &meta, err, sizeof err) == -1);

    ember_progress_view v = {.desc = "train", .total = 10, .n = 5, .elapsed = 2};
    json_t *pb = NULL;
    CHECK(ember_progress_bundle(&v, &pb, err, sizeof err) == 0);
    CHECK(pb && strstr(json_string_value(json_object_get(pb, "text/plain")), "5/10") != NULL);
    CHECK(pb && strstr(json_string_value(json_object_get(pb, "text/html")), "<div") != NULL);
    json_decref(pb);
    TEST_END();
}
