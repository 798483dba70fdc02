/* test_seg.c — engine/seg: preprocessor_config.json parsing (good and bad
 * files, and the same settings from JSON text named by the caller),
 * pixel_values against a float64 recomputation from the resized picture,
 * the sigmoid, mask pictures (viridis ends, bilinear resize of a
 * map), a mask's values at the photo's size (one value equals the resized
 * map's, bit for bit), and overlays (alpha, threshold, palette order, the
 * colours asked for, the legend, errors). */
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
    /* CIDAS/clipseg-rd64-refined's own file. */
    n = ember_seg_default_norm();
    OK(ember_seg_read_norm(write_json("c.json", "{\"do_normalize\": true, \"do_resize\": true, "
                                                "\"feature_extractor_type\": \"ViTFeatureExtractor\", "
                                                "\"image_mean\": [0.485, 0.456, 0.406], "
                                                "\"image_std\": [0.229, 0.224, 0.225], "
                                                "\"processor_class\": \"CLIPSegProcessor\", "
                                                "\"resample\": 2, \"rescale_factor\": 0.00392156862745098, "
                                                "\"size\": 352}"), &n, &err_));
    CHECK(n.size == 352, "the real file");
    /* Settings the pre-processing does not implement are refused, the key
     * named (a size of "x" or a shortest_edge was once silently ignored). */
    static const struct {
        const char *json, *key;
    } bad[] = {{"not json", "JSON"}, {"[1, 2]", "object"}, {"{\"size\": 3}", "size"},
               {"{\"image_mean\": [1, 2]}", "image_mean"}, {"{\"image_std\": [0, 1, 1]}", "image_std"},
               {"{\"size\": {\"height\": 352, \"width\": 200}}", "square"},
               {"{\"size\": \"x\"}", "size"}, {"{\"size\": {\"shortest_edge\": 352}}", "shortest_edge"},
               {"{\"size\": {\"height\": 352}}", "size"}, {"{\"do_resize\": false}", "do_resize"},
               {"{\"do_rescale\": false}", "do_rescale"}, {"{\"do_normalize\": false}", "do_normalize"},
               {"{\"resample\": 3}", "resample"}, {"{\"rescale_factor\": 0.5}", "rescale_factor"},
               {"{\"do_center_crop\": true}", "do_center_crop"},
               {"{\"image_processor_type\": \"CLIPImageProcessor\"}", "image_processor_type"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ember_seg_norm m = ember_seg_default_norm();
        CHECK(ember_seg_read_norm(write_json("bad.json", bad[i].json), &m, &err) != 0, "accepted %s", bad[i].json);
        CHECK(strstr(err.msg, "bad.json") != NULL && strstr(err.msg, bad[i].key) != NULL,
              "message names the file and %s: %s", bad[i].key, err.msg);
        CHECK(m.size == 352, "a bad file changed the settings");
    }
    CHECK(ember_seg_read_norm("/nonexistent/p.json", &n, &err) != 0 && strstr(err.msg, "/nonexistent/p.json") &&
              strstr(err.msg, "cannot open"), "missing file: %s", err.msg);
    /* a folder, and a file far too large to be settings: refused, named */
    CHECK(ember_seg_read_norm(scratch, &n, &err) != 0 && strstr(err.msg, scratch), "a folder: %s", err.msg);
    size_t big = ((size_t)1 << 20) + 10;
    char *huge = malloc(big + 1);
    if (huge) {
        memset(huge, ' ', big);
        huge[0] = '{';
        huge[big - 1] = '}';
        huge[big] = '\0';
        const char *hp = write_json("huge.json", huge);
        ember_seg_norm m = ember_seg_default_norm();
        CHECK(ember_seg_read_norm(hp, &m, &err) != 0 && strstr(err.msg, "huge.json") && strstr(err.msg, "1 MiB"),
              "huge file: %s", err.msg);
        free(huge);
    }
}

/* The same settings from JSON text (the "image_processor" section of
 * transformers 5's processor_config.json): the values, and messages that
 * start with the name given, not a path of their own. */
static void test_norm_json(void)
{
    ember_err err;
    ember_seg_norm n = ember_seg_default_norm();
    /* len bounds the text: what follows it (here a second object) is not read */
    const char *two = "{\"size\": 224, \"image_std\": [0.25, 0.5, 1]}{\"size\": 1}";
    OK(ember_seg_read_norm_json(two, (size_t)(strstr(two, "}{") - two) + 1, "cfg (image_processor)", &n, &err_));
    CHECK(n.size == 224 && n.std[0] == 0.25f && n.mean[0] == 0.485f, "values from text: %d", n.size);
    static const struct {
        const char *json, *key;
    } bad[] = {{"not json", "not readable JSON"}, {"[1]", "JSON object"}, {"{\"resample\": 3}", "resample must be 2"},
               {"{\"size\": {\"shortest_edge\": 224}}", "shortest_edge"}, {"{\"image_mean\": 1}", "image_mean"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ember_seg_norm m = ember_seg_default_norm();
        CHECK(ember_seg_read_norm_json(bad[i].json, strlen(bad[i].json), "/m/processor_config.json (image_processor)",
                                       &m, &err) != 0, "accepted %s", bad[i].json);
        CHECK(!strncmp(err.msg, "/m/processor_config.json (image_processor): ", 44) && strstr(err.msg, bad[i].key) &&
                  !strstr(err.msg, "/proc/"), "message: %s", err.msg);
        CHECK(m.size == 352, "refused text changed the settings");
    }
    CHECK(ember_seg_read_norm_json("", 0, "empty", &n, &err) != 0 && !strncmp(err.msg, "empty: ", 7), "%s", err.msg);
    CHECK(ember_seg_read_norm_json(NULL, 0, NULL, &n, &err) != 0 && strstr(err.msg, "image settings"), "%s", err.msg);
    CHECK(ember_seg_read_norm_json("{}", 2, NULL, &n, &err) == 0 && n.size == 224, "{} keeps the settings");
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
    OK(ember_seg_overlay(&photo, probs, 2, 2, 2, &(ember_seg_overlay_opts){.alpha = 1.0, .threshold = -1},
                         &out, &err_));
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
    OK(ember_seg_overlay(&photo, probs, 2, 2, 2, &(ember_seg_overlay_opts){.alpha = 0.5, .threshold = 0.5},
                         &out, &err_));
    CHECK(out.data[3 * 3] == 100 && out.data[3 * 3 + 1] == 100, "0.4 is under the threshold");
    CHECK(out.data[2] == (uint8_t)lrint(100 * 0.5 + blue[2] * 0.5), "over the threshold: alpha");
    ember_image_free(&out);
    ember_err err;
    CHECK(ember_seg_overlay(&photo, probs, 2, 2, 2, &(ember_seg_overlay_opts){.alpha = 1.5, .threshold = -1},
                            &out, &err) != 0 && strstr(err.msg, "alpha"),
          "alpha 1.5");
    ember_image_free(&photo);
}

static void test_photo_values(void)
{
    /* a 5x3 map at 17x11: every single value is the whole map's */
    float map[15];
    for (int i = 0; i < 15; i++)
        map[i] = (float)((i * 7) % 15) / 14.0f;
    map[4] = 1.5f;      /* clamped */
    map[9] = NAN;       /* read as 0 */
    float *r = NULL;
    OK(ember_seg_mask_resize(map, 5, 3, 17, 11, &r, &err_));
    int same = 1, in_range = 1;
    for (int y = 0; r && y < 11; y++)
        for (int x = 0; x < 17; x++) {
            float v = ember_seg_mask_at(map, 5, 3, 17, 11, x, y);
            same &= memcmp(&v, &r[y * 17 + x], sizeof v) == 0;
            in_range &= v >= 0 && v <= 1;
        }
    CHECK(r && same, "at() equals the resized map bit for bit");
    CHECK(in_range, "values clamped to [0, 1], NaN as 0");
    /* the same size is the map itself */
    map[4] = 0.25f;
    map[9] = 0.75f;
    float *id = NULL;
    OK(ember_seg_mask_resize(map, 5, 3, 5, 3, &id, &err_));
    CHECK(id && !memcmp(id, map, sizeof map), "identity");
    free(r);
    free(id);
    ember_err err;
    CHECK(ember_seg_mask_resize(map, 5, 3, 0, 3, &r, &err) != 0, "empty size refused");
}

static size_t count_rgb(const ember_image *img, const uint8_t rgb[3])
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)img->width * img->height; i++)
        n += !memcmp(img->data + 3 * i, rgb, 3);
    return n;
}

static void test_overlay_colors_and_legend(void)
{
    char msg[256];
    ember_image photo, out;
    ember_image_alloc(&photo, 160, 120, 3, msg, sizeof msg);
    memset(photo.data, 100, photo.width * photo.height * 3);
    float on[4] = {1, 1, 1, 1}, off[4] = {0, 0, 0, 0};
    const float *probs[2] = {off, on};
    const uint8_t cols[2][3] = {{255, 136, 0}, {0, 0, 255}};
    /* colours as asked, no legend: the second mask covers all in its colour */
    OK(ember_seg_overlay(&photo, probs, 2, 2, 2,
                         &(ember_seg_overlay_opts){.alpha = 1, .threshold = -1, .colors = cols},
                         &out, &err_));
    CHECK(count_rgb(&out, cols[1]) == 160 * 120, "all blue: %zu", count_rgb(&out, cols[1]));
    ember_image_free(&out);
    /* a legend: swatches of both colours, exact, over a half-tinted photo */
    const char *labels[2] = {"orange thing", "blue thing"};
    OK(ember_seg_overlay(&photo, probs, 2, 2, 2,
                         &(ember_seg_overlay_opts){.alpha = 0.5, .threshold = -1, .colors = cols,
                                                   .labels = labels},
                         &out, &err_));
    CHECK(count_rgb(&out, cols[0]) == 64 && count_rgb(&out, cols[1]) == 64,
          "8x8 swatches: %zu orange, %zu blue", count_rgb(&out, cols[0]), count_rgb(&out, cols[1]));
    uint8_t tinted[3] = {50, 50, 178}; /* 100 * 0.5 + (0, 0, 255) * 0.5, rounded */
    CHECK(!memcmp(out.data + 3 * (119 * 160 + 159), tinted, 3), "outside the legend: %u %u %u",
          out.data[3 * (119 * 160 + 159)], out.data[3 * (119 * 160 + 159) + 1],
          out.data[3 * (119 * 160 + 159) + 2]);
    ember_image_free(&out);
    /* the palette's colours in the legend when none are asked */
    OK(ember_seg_overlay(&photo, probs, 2, 2, 2,
                         &(ember_seg_overlay_opts){.alpha = 0.5, .threshold = -1, .labels = labels},
                         &out, &err_));
    uint8_t blue[3], orange[3];
    ember_seg_color(0, blue);
    ember_seg_color(1, orange);
    CHECK(count_rgb(&out, blue) == 64 && count_rgb(&out, orange) == 64, "palette swatches");
    ember_image_free(&out);
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
    test_norm_json();
    test_preprocess();
    test_sigmoid_and_pictures();
    test_overlay();
    test_photo_values();
    test_overlay_colors_and_legend();
    return t_finish("test_seg");
}
