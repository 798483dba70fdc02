/* test_figure_files.c — figures as files and overlay helpers: line plots,
 * heat maps and image grids drawn as SVG and PDF documents at their
 * logical size (text and lines as vectors, only pictures embedded), colour
 * names and hex codes, and the legend drawn onto a picture (swatches
 * exactly the colours asked, the rest of the picture untouched). */
#define _GNU_SOURCE
#include "viz/color.h"
#include "viz/plot.h"
#include "viz_test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* data as a C string (the documents are text, PDF mostly). */
static int has(const ember_png *doc, const char *needle)
{
    return memmem(doc->data, doc->size, needle, strlen(needle)) != NULL;
}

static void check_svg(const ember_png *doc, int w, int h, int images)
{
    char want[96];
    CHECK(doc->size > 100 && !memcmp(doc->data, "<?xml", 5));
    CHECK(has(doc, "<svg"));
    snprintf(want, sizeof want, "width=\"%dpx\" height=\"%dpx\" viewBox=\"0 0 %d %d\"", w, h, w, h);
    CHECK_MSG(has(doc, want), "no %s", want);
    CHECK(has(doc, "<path") && has(doc, "<use")); /* shapes, and glyphs placed as symbols */
    CHECK_MSG(has(doc, "<image") == images, "embedded image: %d, want %d", has(doc, "<image"), images);
    CHECK(doc->width == w && doc->height == h);
}

static void check_pdf(const ember_png *doc, int w, int h)
{
    char want[64];
    CHECK(doc->size > 100 && !memcmp(doc->data, "%PDF-", 5));
    CHECK(memmem(doc->data + doc->size - 8, 8, "%%EOF", 5) != NULL);
    CHECK(has(doc, "/Count 1"));
    snprintf(want, sizeof want, "/MediaBox [ 0 0 %d %d ]", w, h);
    CHECK_MSG(has(doc, want), "no %s", want);
}

static void test_vector_plots(void)
{
    char err[256];
    double y[5] = {3, 1, 4, 1, 5};
    ember_series s = {.label = "loss", .y = y, .n = 5};
    ember_axes ax = {.title = "Loss", .series = &s, .nseries = 1};
    ember_png doc;
    ember_figure_opts fig = {.title = "t", .width = 640, .height = 400, .format = EMBER_FIGURE_SVG};
    CHECK_MSG(ember_plot_lines(&ax, 1, &fig, &doc, err, sizeof err) == 0, "%s", err);
    check_svg(&doc, 640, 400, 0);
    ember_png_free(&doc);
    fig.format = EMBER_FIGURE_PDF;
    CHECK_MSG(ember_plot_lines(&ax, 1, &fig, &doc, err, sizeof err) == 0, "%s", err);
    check_pdf(&doc, 640, 400);
    ember_png_free(&doc);
    fig.format = EMBER_FIGURE_PNG; /* the default stays a 2x PNG */
    CHECK_MSG(ember_plot_lines(&ax, 1, &fig, &doc, err, sizeof err) == 0, "%s", err);
    CHECK(!memcmp(doc.data, "\x89PNG", 4) && doc.pixel_width == 1280 && doc.width == 640);
    ember_png_free(&doc);

    /* a confusion-sized heat map: cells are vector squares */
    double v[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const char *lab[3] = {"a", "b", "c"};
    ember_heatmap hm = {.values = v, .rows = 3, .cols = 3, .row_labels = lab, .col_labels = lab};
    ember_figure_opts hf = {.format = EMBER_FIGURE_SVG};
    CHECK_MSG(ember_plot_heatmap(&hm, &hf, &doc, err, sizeof err) == 0, "%s", err);
    check_svg(&doc, doc.width, doc.height, 0);
    CHECK(has(&doc, "<linearGradient")); /* the colour bar */
    ember_png_free(&doc);
    /* a mask-sized one is a picture: embedded */
    static double big[200 * 200];
    for (int i = 0; i < 200 * 200; i++)
        big[i] = sin(i * 0.01);
    ember_heatmap bm = {.values = big, .rows = 200, .cols = 200};
    CHECK_MSG(ember_plot_heatmap(&bm, &hf, &doc, err, sizeof err) == 0, "%s", err);
    check_svg(&doc, doc.width, doc.height, 1);
    ember_png_free(&doc);
    hf.format = EMBER_FIGURE_PDF;
    CHECK_MSG(ember_plot_heatmap(&hm, &hf, &doc, err, sizeof err) == 0, "%s", err);
    check_pdf(&doc, doc.width, doc.height);
    ember_png_free(&doc);

    /* image grids embed their pictures, captions stay text */
    ember_image img;
    CHECK(ember_image_alloc(&img, 8, 6, 3, err, sizeof err) == 0);
    memset(img.data, 90, 8 * 6 * 3);
    const ember_image *imgs[2] = {&img, &img};
    const char *caps[2] = {"one", "two"};
    ember_figure_opts gf = {.title = "grid", .format = EMBER_FIGURE_SVG};
    CHECK_MSG(ember_plot_image_grid(imgs, caps, 2, 2, &gf, &doc, err, sizeof err) == 0, "%s", err);
    check_svg(&doc, doc.width, doc.height, 1);
    ember_png_free(&doc);
    gf.format = EMBER_FIGURE_PDF;
    CHECK_MSG(ember_plot_image_grid(imgs, caps, 2, 2, &gf, &doc, err, sizeof err) == 0, "%s", err);
    check_pdf(&doc, doc.width, doc.height);
    ember_png_free(&doc);
    ember_image_free(&img);
}

static void test_colors(void)
{
    uint8_t c[3];
    char err[256];
    CHECK(ember_color_parse("red", c, err, sizeof err) == 0 && c[0] == 255 && c[1] == 0 && c[2] == 0);
    CHECK(ember_color_parse("Light Blue", c, err, sizeof err) == 0 && c[0] == 0xad && c[2] == 0xe6);
    CHECK(ember_color_parse("rebeccapurple", c, err, sizeof err) == 0 && c[0] == 0x66);
    CHECK(ember_color_parse("tab:orange", c, err, sizeof err) == 0 && c[0] == 0xff && c[1] == 0x7f);
    CHECK(ember_color_parse("#ff8800", c, err, sizeof err) == 0 && c[0] == 255 && c[1] == 0x88 && c[2] == 0);
    CHECK(ember_color_parse("#F80", c, err, sizeof err) == 0 && c[0] == 255 && c[1] == 0x88 && c[2] == 0);
    CHECK(ember_color_parse("blurple", c, err, sizeof err) != 0 && strstr(err, "'blurple'") &&
          strstr(err, "#ff8800"));
    CHECK(ember_color_parse("#ff88", c, err, sizeof err) != 0 && strstr(err, "hex"));
    CHECK(ember_color_parse("#gg8800", c, err, sizeof err) != 0);
    CHECK(ember_color_parse("", c, err, sizeof err) != 0);
}

static size_t count_rgb(const ember_image *img, const uint8_t rgb[3])
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)img->width * img->height; i++)
        n += !memcmp(img->data + 3 * i, rgb, 3);
    return n;
}

static void test_legend(void)
{
    char err[256];
    ember_image img;
    CHECK(ember_image_alloc(&img, 240, 120, 3, err, sizeof err) == 0);
    memset(img.data, 128, 240 * 120 * 3);
    const uint8_t cols[2][3] = {{255, 0, 0}, {10, 200, 30}};
    const char *labels[2] = {"a cat", "a remote control with a very long name indeed"};
    CHECK_MSG(ember_image_draw_legend(&img, labels, cols, 2, err, sizeof err) == 0, "%s", err);
    /* text size 8 for a 120-pixel side: swatches of 8 x 8, exactly the colours */
    CHECK_MSG(count_rgb(&img, cols[0]) == 64, "red pixels %zu", count_rgb(&img, cols[0]));
    CHECK_MSG(count_rgb(&img, cols[1]) == 64, "green pixels %zu", count_rgb(&img, cols[1]));
    /* the box stays in the top-left half; the rest is untouched */
    int changed_right = 0, changed_box = 0;
    for (int y = 0; y < 120; y++)
        for (int x = 0; x < 240; x++) {
            const uint8_t *p = img.data + 3 * ((size_t)y * 240 + x);
            int ch = p[0] != 128 || p[1] != 128 || p[2] != 128;
            if (x >= 120 || y >= 60)
                changed_right += ch;
            else
                changed_box += ch;
        }
    CHECK_MSG(changed_right == 0, "%d pixels changed outside the legend", changed_right);
    CHECK(changed_box > 500);
    ember_image_free(&img);

    /* a picture too small for a swatch is left alone */
    CHECK(ember_image_alloc(&img, 12, 12, 3, err, sizeof err) == 0);
    memset(img.data, 7, 12 * 12 * 3);
    CHECK(ember_image_draw_legend(&img, labels, cols, 2, err, sizeof err) == 0);
    int touched = 0;
    for (size_t i = 0; i < 12 * 12 * 3; i++)
        touched += img.data[i] != 7;
    CHECK(touched == 0);
    ember_image_free(&img);
    CHECK(ember_image_alloc(&img, 50, 50, 1, err, sizeof err) == 0);
    CHECK(ember_image_draw_legend(&img, labels, cols, 2, err, sizeof err) != 0 && strstr(err, "RGB"));
    ember_image_free(&img);
}

int main(void)
{
    test_vector_plots();
    test_colors();
    test_legend();
    TEST_END();
}
