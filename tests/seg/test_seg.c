/* test_seg.c — engine/seg: preprocessor_config.json parsing (good and bad
 * files), pixel_values against a float64 recomputation from the resized
 * picture, the sigmoid, mask pictures (viridis ends, bilinear resize of a
 * map), and overlays (alpha, threshold, palette order, errors). */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "seg/seg.h"
#include "test_util.h"
#include "viz/plot.h"

static char scratch[1024];

static const char *write_json(const char *name, const char *text)
{
    static char path[1200];
    snprintf(path, sizeof path, "%s/%s", scratch, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void test_norm(void)
{
    ember_err err;
    ember_seg_norm n = ember_seg_default_norm();
    CHECK(n.size == 352 && fabsf(n.mean[0] - 0.485f) < 1e-7f && fabsf(n.std[2] - 0.225f) < 1e-7f, "defaults");
    OK(ember_seg_read_norm(write_json("a.json", "{\"size\": 224, \"image_mean\": [0.5, 0.5, 0.5], "
                                                "\"image_std\": [0.25, 0.5, 1]}"), &n, &err_));
    CHECK(n.size == 224 && n.mean[1] == 0.5f && n.std[0] == 0.25f && n.std[2] == 1.0f, "read values");
    n = ember_seg_default_norm();
    OK(ember_seg_read_norm(write_json("b.json", "{\"size\": {\"height\": 352, \"width\": 352}}"), &n, &err_));
    CHECK(n.size == 352 && n.mean[0] == 0.485f, "fields absent keep defaults");
    static const char *bad[] = {"not json", "[1, 2]", "{\"size\": 3}", "{\"image_mean\": [1, 2]}",
                                "{\"image_std\": [0, 1, 1]}",
                                "{\"size\": {\"height\": 352, \"width\": 200}}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ember_seg_norm m = ember_seg_default_norm();
        CHECK(ember_seg_read_norm(write_json("bad.json", bad[i]), &m, &err) != 0, "accepted %s", bad[i]);
        CHECK(strstr(err.msg, "bad.json") != NULL, "message names the file: %s", err.msg);
        CHECK(m.size == 352, "a bad file changed the settings");
    }
    CHECK(ember_seg_read_norm("/nonexistent/p.json", &n, &err) != 0, "missing file");
}

static void test_preprocess(void)
{
    ember_image img;
    char msg[256];
    if (ember_image_alloc(&img, 7, 5, 4, msg, sizeof msg) != 0) {
        CHECK(0, "%s", msg);
        return;
    }
    for (size_t i = 0; i < 7 * 5 * 4; i++)
        img.data[i] = (uint8_t)(i * 37 + 11);
    ember_seg_norm n = {.size = 8, .mean = {0.485f, 0.456f, 0.406f}, .std = {0.229f, 0.224f, 0.225f}};
    float out[3 * 8 * 8];
    OK(ember_seg_preprocess(&img, &n, out, &err_));
    /* the reference: alpha dropped, PIL-bilinear resize, then the formula in float64 */
    ember_image rgb, sized;
    ember_image_alloc(&rgb, 7, 5, 3, msg, sizeof msg);
    for (size_t i = 0; i < 35; i++)
        memcpy(rgb.data + 3 * i, img.data + 4 * i, 3);
    ember_image_resize(&rgb, 8, 8, &sized, msg, sizeof msg);
    double worst = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 64; i++) {
            double want = (sized.data[i * 3 + c] / 255.0 - n.mean[c]) / n.std[c];
            double d = fabs(out[c * 64 + i] - want);
            worst = d > worst ? d : worst;
        }
    CHECK(worst < 1e-5, "pixel_values off by %g", worst);
    ember_image_free(&rgb);
    ember_image_free(&sized);
    /* grey images are spread over the three channels */
    ember_image grey;
    ember_image_alloc(&grey, 8, 8, 1, msg, sizeof msg);
    memset(grey.data, 200, 64);
    OK(ember_seg_preprocess(&grey, &n, out, &err_));
    for (int c = 0; c < 3; c++)
        CHECK(fabs(out[c * 64 + 9] - (200 / 255.0 - n.mean[c]) / n.std[c]) < 1e-5, "grey channel %d", c);
    ember_image_free(&grey);
    ember_image_free(&img);
}

static void test_sigmoid_and_pictures(void)
{
    float l[5] = {-1000, -2, 0, 2, 1000}, p[5];
    ember_seg_sigmoid(l, 5, p);
    CHECK(p[0] == 0.0f && p[4] == 1.0f && p[2] == 0.5f, "sigmoid ends");
    CHECK(fabsf(p[3] - 0.880797f) < 1e-6f && fabsf(p[1] + p[3] - 1) < 1e-6f, "sigmoid(2)");

    /* a 2x1 map 0 | 1 drawn at 4x1: viridis ends at the edges, between inside */
    float map[2] = {0, 1};
    ember_image pic;
    OK(ember_seg_mask_image(map, 2, 1, 4, 1, &pic, &err_));
    uint8_t lo[3], hi[3];
    ember_colormap_viridis(0, lo);
    ember_colormap_viridis(1, hi);
    CHECK(pic.width == 4 && pic.height == 1 && pic.channels == 3, "size");
    CHECK(!memcmp(pic.data, lo, 3) && !memcmp(pic.data + 9, hi, 3), "ends are viridis 0 and 1");
    CHECK(memcmp(pic.data + 3, lo, 3) && memcmp(pic.data + 3, hi, 3), "inside is blended");
    ember_image_free(&pic);
    ember_err err;
    CHECK(ember_seg_mask_image(map, 0, 1, 4, 1, &pic, &err) != 0, "empty map refused");
}

static void test_overlay(void)
{
    char msg[256];
    ember_image photo;
    ember_image_alloc(&photo, 4, 2, 3, msg, sizeof msg);
    memset(photo.data, 100, 4 * 2 * 3);
    float m0[4] = {1, 0, 1, 0}; /* 2x2 maps: left column on */
    float m1[4] = {0, 0.4f, 0, 0.4f};
    const float *probs[2] = {m0, m1};
    ember_image out;
    OK(ember_seg_overlay(&photo, probs, 2, 2, 2, 1.0, -1, &out, &err_));
    uint8_t blue[3], orange[3];
    ember_seg_color(0, blue);
    ember_seg_color(1, orange);
    CHECK(!strcmp(ember_seg_color_name(0), "blue") && !strcmp(ember_seg_color_name(11), "orange"), "names");
    /* pixel 0: fully blue (alpha 1, p 1); pixel 3: 40% orange over grey */
    CHECK(!memcmp(out.data, blue, 3), "first pixel %u %u %u", out.data[0], out.data[1], out.data[2]);
    for (int c = 0; c < 3; c++)
        CHECK(abs(out.data[3 * 3 + c] - (int)lrint(100 * 0.6 + orange[c] * 0.4)) <= 1, "blend ch %d", c);
    ember_image_free(&out);
    /* a threshold makes it all or nothing */
    OK(ember_seg_overlay(&photo, probs, 2, 2, 2, 0.5, 0.5, &out, &err_));
    CHECK(out.data[3 * 3] == 100 && out.data[3 * 3 + 1] == 100, "0.4 is under the threshold");
    CHECK(out.data[2] == (uint8_t)lrint(100 * 0.5 + blue[2] * 0.5), "over the threshold: alpha");
    ember_image_free(&out);
    ember_err err;
    CHECK(ember_seg_overlay(&photo, probs, 2, 2, 2, 1.5, -1, &out, &err) != 0 && strstr(err.msg, "alpha"),
          "alpha 1.5");
    ember_image_free(&photo);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fixtures dir> <scratch dir>\n", argv[0]);
        return 2;
    }
    snprintf(scratch, sizeof scratch, "%s", argv[2]);
    mkdir(scratch, 0755);
    test_norm();
    test_preprocess();
    test_sigmoid_and_pictures();
    test_overlay();
    return t_finish("test_seg");
}
