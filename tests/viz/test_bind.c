/* test_bind.c — the viz bindings driven through the language, as a notebook
 * uses them: load_image on real and broken files, the MIME bundles of plot,
 * figure, heatmap, image_grid and table values (the PNG decodes at twice the
 * logical size given in the metadata), display / update_display with them,
 * and the progress bar's update sequence (throttled, final state always
 * sent, finished on interrupt) with a test clock.
 * Usage: test_viz_bind TMPDIR [SHARED_DATA_DIR] */
#include "lang.h"
#include "lang_test.h"
#include "viz/bind.h"
#include "viz/codec.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

static ember_engine *eng;
static ember_io io;
static fake_io fio;

/* ---- helpers ---- */

static uint8_t *b64_decode(const char *s, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *out = malloc(n / 4 * 3 + 3);
    if (!out)
        return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
              : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
        if (v < 0)
            continue; /* padding */
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *len = o;
    return out;
}

/* Decodes the image/png of a bundle; 0 on success. */
static int bundle_png(json_t *data, ember_image *img)
{
    const char *b64 = json_string_value(json_object_get(data, "image/png"));
    if (!b64)
        return -1;
    size_t len;
    uint8_t *png = b64_decode(b64, &len);
    char err[256];
    int rc = png ? ember_png_decode(png, len, img, err, sizeof err) : -1;
    if (rc)
        fprintf(stderr, "PNG in bundle does not decode: %s\n", err);
    free(png);
    return rc;
}

static int has_ink(const ember_image *img)
{
    size_t dark = 0;
    for (size_t i = 0; i < (size_t)img->width * img->height * img->channels; i++)
        dark += img->data[i] < 128;
    return dark > 100;
}

/* Runs code; its result must be a picture: PNG at `scale` times the
 * metadata's logical size (scale 0: no size in the metadata). */
static void check_picture(const char *code, double scale, const char *text_prefix)
{
    cell c;
    fake_io_reset(&fio);
    run_cell(eng, &io, code, &c);
    CHECK(c.r.ok);
    if (!c.r.ok) {
        fprintf(stderr, "  %s raised %s: %s\n", code, c.r.ename, c.r.evalue);
        ember_exec_result_clear(&c.r);
        return;
    }
    CHECK(strncmp(c.text, text_prefix, strlen(text_prefix)) == 0);
    if (strncmp(c.text, text_prefix, strlen(text_prefix)))
        fprintf(stderr, "  %s: text/plain \"%s\", want prefix \"%s\"\n", code, c.text, text_prefix);
    ember_image img = {0};
    CHECK(bundle_png(c.r.data, &img) == 0);
    json_t *size = json_object_get(c.r.metadata, "image/png");
    if (scale > 0) {
        int w = (int)json_integer_value(json_object_get(size, "width"));
        int h = (int)json_integer_value(json_object_get(size, "height"));
        CHECK(w > 50 && h > 50);
        CHECK(img.width == (int)lround(w * scale) && img.height == (int)lround(h * scale));
        if (img.width != (int)lround(w * scale))
            fprintf(stderr, "  %s: PNG %dx%d, metadata %dx%d\n", code, img.width, img.height, w, h);
    } else {
        CHECK(size == NULL);
    }
    CHECK(has_ink(&img));
    ember_image_free(&img);
    ember_exec_result_clear(&c.r);
}

static void check_error(const char *code, const char *ename, const char *msg_part)
{
    cell c;
    run_cell(eng, &io, code, &c);
    CHECK(!c.r.ok);
    if (!c.r.ok) {
        CHECK_STR(c.r.ename, ename);
        CHECK_CONTAINS(c.r.evalue, msg_part);
    } else {
        fprintf(stderr, "  %s did not raise\n", code);
    }
    ember_exec_result_clear(&c.r);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    if (len)
        fwrite(data, 1, len, f);
    fclose(f);
}

/* Pixels of the grid's light grey (0xe6e6e6) in the picture code makes. */
static size_t grid_pixels(const char *code)
{
    cell c;
    run_cell(eng, &io, code, &c);
    ember_image img = {0};
    size_t n = 0;
    if (c.r.ok && bundle_png(c.r.data, &img) == 0)
        for (size_t i = 0; i < (size_t)img.width * img.height; i++) {
            const uint8_t *p = img.data + i * img.channels;
            n += p[0] == 0xe6 && p[1] == 0xe6 && p[2] == 0xe6;
        }
    ember_image_free(&img);
    ember_exec_result_clear(&c.r);
    return n;
}

/* ---- images ---- */

static void test_shared_images(const char *dir)
{
    static const struct { const char *name; int w, h; const char *mode; } imgs[] = {
        {"chelsea.png", 451, 300, "RGB"},
        {"astronaut.png", 512, 512, "RGB"},
        {"coffee.png", 600, 400, "RGB"},
    };
    char code[1024];
    for (size_t i = 0; i < sizeof imgs / sizeof *imgs; i++) {
        snprintf(code, sizeof code, "img = load_image('%s/images/%s')\nimg", dir, imgs[i].name);
        char want[64];
        snprintf(want, sizeof want, "<image %dx%d %s>", imgs[i].w, imgs[i].h, imgs[i].mode);
        check_picture(code, 0, want);
        snprintf(want, sizeof want, "[%d, %d, '%s', %d]", imgs[i].w, imgs[i].h, imgs[i].mode, 3);
        CHECK_STR(eval_repr(eng, &io, "[img.width, img.height, img.mode, img.channels]"), want);
    }
    snprintf(code, sizeof code, "jpg = load_image('%s/images/rocket.jpg')\n[jpg.mode, jpg.width > 0]", dir);
    CHECK_STR(eval_repr(eng, &io, code), "['RGB', true]");
    /* pictures in a grid, with captions; a resized copy */
    check_picture("image_grid([img, jpg, img.resize(64, 48)], captions=['coffee', 'rocket', 'small'], cols=3)",
                  2, "<image grid");
    CHECK_STR(eval_repr(eng, &io, "img.resize(64, 48)"), "<image 64x48 RGB>");
    CHECK_STR(eval_repr(eng, &io, "img.convert('grey').mode"), "'grey'");
    check_picture("heatmap(img.convert('grey').resize(40, 30), title='mask')", 2, "<heatmap");
}

static void test_broken_files(const char *tmp)
{
    char path[1024], code[2048];
    /* a good PNG to damage: a plot saved by the language */
    snprintf(path, sizeof path, "%s/good.png", tmp);
    snprintf(code, sizeof code, "plot([1, 2, 3]).save('%s')", path);
    CHECK_STR(eval_repr(eng, &io, code), "");
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    uint8_t buf[200000];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    CHECK(n > 1000);
    snprintf(code, sizeof code, "load_image('%s')", path);
    CHECK_CONTAINS(eval_repr(eng, &io, code), "<image 1280x800 RGB");

    snprintf(path, sizeof path, "%s/truncated.png", tmp);
    write_file(path, buf, n / 2);
    snprintf(code, sizeof code, "load_image('%s')", path);
    check_error(code, "ValueError", "truncated.png");

    snprintf(path, sizeof path, "%s/magic.png", tmp);
    write_file(path, "GIF89a\x01\x00\x01\x00", 10);
    snprintf(code, sizeof code, "load_image('%s')", path);
    check_error(code, "ValueError", "magic.png");
    check_error(code, "ValueError", "GIF");

    snprintf(path, sizeof path, "%s/empty.jpg", tmp);
    write_file(path, "", 0);
    snprintf(code, sizeof code, "load_image('%s')", path);
    check_error(code, "ValueError", "empty.jpg");

    snprintf(path, sizeof path, "%s/trunc.jpg", tmp);
    write_file(path, "\xff\xd8\xff\xe0\x00\x10JFIF\x00", 11);
    snprintf(code, sizeof code, "load_image('%s')", path);
    check_error(code, "ValueError", "trunc.jpg");

    snprintf(code, sizeof code, "load_image('%s/no-such-file.png')", tmp);
    check_error(code, "FileNotFoundError", "no-such-file.png");
    snprintf(code, sizeof code, "load_image('%s')", tmp);
    check_error(code, "ValueError", "is a directory");
    /* http(s) urls are tested against a local server in tests/protocol/test_load_url.py */
    check_error("load_image('gs://bucket/cat.jpg')", "ValueError", "only http://, https:// and file://");
    check_error("load_image(3)", "TypeError", "load_image: path must be");
}

/* ---- plots ---- */

static void test_plots(const char *tmp)
{
    check_picture("plot([3, 1, 2])", 2, "<plot 640x400, 1 line>");
    check_picture("plot([[2.3, 1.1, 0.7, 0.5], [2.4, 1.4, 1.0, 0.9]], x=[1, 2, 3, 4], "
                  "labels=['train', 'validation'], title='Loss', xlabel='epoch', ylabel='loss', logy=true)",
                  2, "<plot 640x400 'Loss', 2 lines>");
    check_picture("plot([1, none, 3], width=300, height=200)", 2, "<plot 300x200");
    check_picture("loss = plot([3, 2, 1], title='Loss')\nacc = plot([0.5, 0.7, 0.8], title='Accuracy', ylim=[0, 1])\n"
                  "figure(loss, acc, title='Training')",
                  2, "<figure");
    check_picture("heatmap([[50, 2, 1], [3, 45, 6], [0, 4, 48]], labels=['cat', 'dog', 'ship'], "
                  "xlabel='predicted', ylabel='true', title='Confusion matrix')",
                  2, "<heatmap");
    check_picture("heatmap([range(20)] * 10, annotate=false, vmin=0, vmax=19)", 2, "<heatmap");
    check_picture("image_grid([plot([1, 2]).image(), heatmap([[1, 2]]).image()], captions=['a', none])",
                  2, "<image grid");
    /* grid=false leaves out the light grey grid lines */
    size_t grey_on = grid_pixels("plot([1, 5, 2, 8, 3])"), grey_off = grid_pixels("plot([1, 5, 2, 8, 3], grid=false)");
    CHECK(grey_on > 2000 && grey_off < grey_on / 10);
    if (!(grey_on > 2000 && grey_off < grey_on / 10))
        fprintf(stderr, "  grid pixels: %zu with the grid, %zu without\n", grey_on, grey_off);
    CHECK_STR(eval_repr(eng, &io, "p = plot([1, 2], width=320, height=240)\n[p.width, p.height, type(p)]"),
              "[320, 240, 'plot']");
    CHECK_STR(eval_repr(eng, &io, "p.image()"), "<image 640x480 RGB>");

    /* display(), update_display() and clear_output() with plot values */
    fake_io_reset(&fio);
    cell c;
    char code[1024];
    snprintf(code, sizeof code,
             "display(p, display_id='live')\nupdate_display(plot([2, 1]), display_id='live')\n"
             "clear_output(wait=true)\ndisplay(table([[1, 'a']], header=['n', 's']))\n"
             "p.save('%s/p.png')",
             tmp);
    run_cell(eng, &io, code, &c);
    CHECK(c.r.ok);
    ember_exec_result_clear(&c.r);
    CHECK(json_array_size(fio.displays) == 3);
    CHECK(fio.clears == 1 && fio.last_wait == 1);
    json_t *d0 = json_array_get(fio.displays, 0), *d1 = json_array_get(fio.displays, 1);
    CHECK_STR(json_string_value(json_object_get(d0, "display_id")), "live");
    CHECK(json_integer_value(json_object_get(d0, "update")) == 0);
    CHECK_STR(json_string_value(json_object_get(d1, "display_id")), "live");
    CHECK(json_integer_value(json_object_get(d1, "update")) == 1);
    CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(d0, "metadata"), "image/png"),
                                             "width")) == 320);
    CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(d1, "metadata"), "image/png"),
                                             "width")) == 640);
    ember_image img = {0};
    CHECK(bundle_png(json_object_get(d1, "data"), &img) == 0 && img.width == 1280);
    ember_image_free(&img);
    json_t *tb = json_object_get(json_array_get(fio.displays, 2), "data");
    CHECK_CONTAINS(json_string_value(json_object_get(tb, "text/html")), "<th style=\"text-align:right\">n</th>");
    CHECK_STR(json_string_value(json_object_get(tb, "text/plain")), "n  s\n-  -\n1  a");
    snprintf(code, sizeof code, "%s/p.png", tmp);
    CHECK(ember_image_load(code, &img, NULL, 0) == 0 && img.width == 640 && img.height == 480);
    ember_image_free(&img);

    /* tables */
    CHECK_STR(eval_repr(eng, &io, "t = table([['cat', 0.91], ['dog', 0.845]], header=['class', 'accuracy'])\nt"),
              "class  accuracy\n-----  --------\ncat        0.91\ndog       0.845");
    CHECK_STR(eval_repr(eng, &io, "len(t)"), "2");
    CHECK_STR(eval_repr(eng, &io, "table([['<b>']], title='x & y')"), "x & y\n<b>");
    fake_io_reset(&fio);
    run_cell(eng, &io, "display(table([['<b>']], title='x & y'))", &c);
    ember_exec_result_clear(&c.r);
    const char *html = json_string_value(json_object_get(json_object_get(json_array_get(fio.displays, 0), "data"),
                                                         "text/html"));
    CHECK_CONTAINS(html, "<caption>x &amp; y</caption>");
    CHECK_CONTAINS(html, "&lt;b&gt;");

    /* mistakes give errors that say what to do */
    check_error("plot('abc')", "TypeError", "plot: y must be a non-empty list of numbers");
    check_error("plot([])", "ValueError", "plot: y must be");
    check_error("plot([[1, 2], 'x'])", "TypeError", "item 1 is not");
    check_error("plot([1, 2], x=[1, 2, 3])", "ValueError", "x has 3 values but line 0 has 2");
    check_error("plot([1, 2], labels=['a', 'b'])", "ValueError", "labels must be a list of 1 strings");
    check_error("plot([1, 2], width=10)", "ValueError", "width must be 0 (automatic) or from 64 to 3000");
    check_error("plot([1, 2], ylim=[2, 1])", "ValueError", "ylim must be none or [low, high]");
    check_error("figure()", "TypeError", "figure: give the plots");
    check_error("figure(heatmap([[1]]))", "TypeError", "argument 1 is a heat map");
    check_error("figure(3)", "TypeError", "argument 1 is of type int");
    check_error("heatmap([[1, 2], [3]])", "ValueError", "row 1 has 1 values but row 0 has 2");
    check_error("heatmap([[1, 2]], labels=['a'])", "ValueError", "must be square");
    check_error("heatmap('x')", "TypeError", "heatmap: values must be a list of rows");
    check_error("heatmap([[1, 2]], vmin=3, vmax=1)", "ValueError", "vmin (3) must be less than vmax (1)");
    check_error("image_grid([1])", "TypeError", "item 0 of images is int, not an image");
    check_error("image_grid([])", "TypeError", "a non-empty list of images");
    check_error("table(3)", "TypeError", "table: rows must be a list of rows");
    check_error("table([])", "ValueError", "no columns");
}

/* ---- progress bars ---- */

/* A test clock the builtin below advances by a fixed step per update. */
static double fake_now;
static double fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

/* bar_test(n, dt, interrupt_at=-1, fail_at=-1): a long-running builtin as
 * the engine will write them, on the test clock. */
static lang_value *b_bar_test(lang_ctx *cx, const lang_args *a)
{
    int64_t n, stop, fail;
    double dt;
    if (lang_arg_int(cx, a, 0, &n) < 0 || lang_arg_number(cx, a, 1, &dt) < 0 ||
        lang_arg_int(cx, a, 2, &stop) < 0 || lang_arg_int(cx, a, 3, &fail) < 0)
        return NULL;
    fake_now = 1000;
    progress_bar *pb = progress_bar_start(cx, &(progress_bar_opts){.desc = "train", .total = (double)n,
                                                                   .clock = fake_clock});
    for (int64_t i = 0; i < n; i++) {
        if (i == stop)
            ember_interrupt(eng);
        if (lang_check_interrupt(cx) < 0) {
            progress_bar_finish(pb, PROGRESS_INTERRUPTED);
            return NULL;
        }
        if (i == fail) {
            progress_bar_finish(pb, PROGRESS_ERROR);
            return lang_raise(cx, "ValueError", "step %lld failed", (long long)i);
        }
        fake_now += dt;
        progress_bar_update(pb, (double)(i + 1));
    }
    progress_bar_finish(pb, PROGRESS_OK);
    return lang_none();
}

static const lang_builtin test_builtins[] = {
    {"bar_test(n, dt, interrupt_at=-1, fail_at=-1)", "Test: a progress bar on a test clock.", b_bar_test},
};

static const char *disp_text(size_t i)
{
    return json_string_value(json_object_get(json_object_get(json_array_get(fio.displays, i), "data"), "text/plain"));
}

static const char *disp_html(size_t i)
{
    return json_string_value(json_object_get(json_object_get(json_array_get(fio.displays, i), "data"), "text/html"));
}

/* Every message after the first is an update of the first's display_id. */
static void check_one_display(void)
{
    size_t n = json_array_size(fio.displays);
    CHECK(n >= 2);
    const char *id = json_string_value(json_object_get(json_array_get(fio.displays, 0), "display_id"));
    CHECK(id && !strncmp(id, "ember-progress-", 15));
    CHECK(json_integer_value(json_object_get(json_array_get(fio.displays, 0), "update")) == 0);
    for (size_t i = 1; i < n; i++) {
        json_t *d = json_array_get(fio.displays, i);
        CHECK(json_integer_value(json_object_get(d, "update")) == 1);
        CHECK_STR(json_string_value(json_object_get(d, "display_id")), id ? id : "?");
    }
}

static void test_progress(void)
{
    cell c;
    /* 100 steps of 1/32 s: 3.125 s. At most one update per 0.1 s, so one
     * every 4 steps (25), plus the first display and the final state. */
    fake_io_reset(&fio);
    run_cell(eng, &io, "bar_test(100, 0.03125)", &c);
    CHECK(c.r.ok);
    ember_exec_result_clear(&c.r);
    size_t n = json_array_size(fio.displays);
    CHECK(n == 27);
    if (n != 27)
        fprintf(stderr, "  %zu progress messages for 3.125 s, want 27\n", n);
    CHECK_CONTAINS(disp_text(1), " 4/100");
    CHECK_CONTAINS(disp_text(2), " 8/100");
    check_one_display();
    CHECK_CONTAINS(disp_text(0), "train   0%|");
    CHECK_CONTAINS(disp_text(0), "0/100");
    CHECK_CONTAINS(disp_text(n - 1), "train 100%|");
    CHECK_CONTAINS(disp_text(n - 1), "100/100 [00:03<00:00, 32.0it/s]");
    CHECK_CONTAINS(disp_html(n - 1), "100/100");
    /* the display ids of two bars differ */
    const char *first_id = json_string_value(json_object_get(json_array_get(fio.displays, 0), "display_id"));
    char id1[64];
    snprintf(id1, sizeof id1, "%s", first_id ? first_id : "");

    /* fast work: only the first and the final state are sent */
    fake_io_reset(&fio);
    run_cell(eng, &io, "bar_test(1000, 0.00001)", &c);
    ember_exec_result_clear(&c.r);
    CHECK(json_array_size(fio.displays) == 2);
    check_one_display();
    CHECK_CONTAINS(disp_text(1), "1000/1000");
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(fio.displays, 0), "display_id")), id1) != 0);

    /* interrupted at step 40: the bar stops there, marked, and the cell
     * ends with KeyboardInterrupt */
    fake_io_reset(&fio);
    run_cell(eng, &io, "bar_test(100, 0.03125, interrupt_at=40)", &c);
    CHECK(!c.r.ok);
    CHECK_STR(c.r.ename, "KeyboardInterrupt");
    ember_exec_result_clear(&c.r);
    n = json_array_size(fio.displays);
    check_one_display();
    CHECK_CONTAINS(disp_text(n - 1), "train (interrupted)  40%|");
    CHECK_CONTAINS(disp_text(n - 1), "40/100");
    /* the failed colour differs from the running one */
    CHECK(disp_html(n - 1) && disp_html(n - 2) && strcmp(disp_html(n - 1), disp_html(n - 2)) != 0);

    /* an error inside the loop */
    fake_io_reset(&fio);
    run_cell(eng, &io, "bar_test(100, 0.03125, fail_at=10)", &c);
    CHECK(!c.r.ok);
    CHECK_STR(c.r.ename, "ValueError");
    ember_exec_result_clear(&c.r);
    n = json_array_size(fio.displays);
    check_one_display();
    CHECK_CONTAINS(disp_text(n - 1), "train (failed)  10%|");

    /* the user-visible builtin, on the real clock */
    fake_io_reset(&fio);
    CHECK_STR(eval_repr(eng, &io, "progress_demo(10, 0.001, desc='count')"), "10");
    n = json_array_size(fio.displays);
    check_one_display();
    CHECK_CONTAINS(disp_text(n - 1), "count 100%|");
    CHECK_CONTAINS(disp_text(n - 1), "10/10");
    check_error("progress_demo(-1)", "ValueError", "progress_demo: n must be an integer from 0");
    check_error("progress_demo(5, delay=11)", "ValueError", "delay must be a number of seconds from 0 to 10");
    /* a NULL bar (out of memory at start) is accepted everywhere */
    progress_bar_update(NULL, 3);
    progress_bar_finish(NULL, PROGRESS_OK);
    CHECK_STR(progress_bar_display_id(NULL), "");
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "all") && strcmp(argv[1], "shared"))) {
        fprintf(stderr, "usage: test_viz_bind all TMPDIR | test_viz_bind shared SHARED_DATA_DIR\n");
        return 2;
    }
    lang_register_builtins(test_builtins, 1);
    if (!strcmp(argv[1], "shared")) {
        char probe[1024];
        snprintf(probe, sizeof probe, "%s/images/chelsea.png", argv[2]);
        struct stat st;
        if (stat(probe, &st) != 0) {
            fprintf(stderr, "test_viz_bind: %s not found: skipped (set EMBER_SHARED_DATA to the "
                            "shared data folder)\n", probe);
            return 77;
        }
    } else if (mkdir(argv[2], 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    eng = ember_engine_new();
    fake_io_init(&fio, &io);
    if (!strcmp(argv[1], "shared")) {
        test_shared_images(argv[2]);
    } else {
        test_broken_files(argv[2]);
        test_plots(argv[2]);
        test_progress();
    }
    ember_engine_free(eng);
    fake_io_free(&fio);
    return test_finish("test_viz_bind");
}
