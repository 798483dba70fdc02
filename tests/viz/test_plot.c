/* test_plot.c — plot output: PNG size at 2x, and drawn pixels where the
 * axes, the lines, the legend and a heat map's colour bar must be. No
 * whole-image goldens: the checks look for structure, so style tweaks do not
 * break them but a missing axis or line does. Also tick placement and labels.
 * argv[1], if given, is a folder where the figures are written for a look. */
#include "viz/codec.h"
#include "viz/plot.h"
#include "viz_test.h"

#include "../../engine/viz/ticks.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

static const char *outdir;

static void keep(const ember_png *p, const char *name)
{
    if (!outdir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p->data, 1, p->size, f);
        fclose(f);
    }
}

static int decode(const ember_png *p, ember_image *img)
{
    char err[256] = "";
    int rc = ember_png_decode(p->data, p->size, img, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    return rc;
}

static const uint8_t *px(const ember_image *im, int x, int y)
{
    return im->data + ((size_t)y * im->width + x) * im->channels;
}

static int close_to(const uint8_t *p, uint32_t hex, int tol)
{
    return abs(p[0] - (int)(hex >> 16 & 255)) <= tol && abs(p[1] - (int)(hex >> 8 & 255)) <= tol &&
           abs(p[2] - (int)(hex & 255)) <= tol;
}

static int is_white(const uint8_t *p)
{
    return p[0] > 250 && p[1] > 250 && p[2] > 250;
}

/* Darker than the grid: spines, text, data. */
static int is_ink(const uint8_t *p)
{
    return p[0] < 200 || p[1] < 200 || p[2] < 200;
}

typedef struct {
    long n;
    int x0, y0, x1, y1;
    double cx, cy;
} blob;

/* Where pixels of one colour are, within a rectangle. */
static blob find_colour(const ember_image *im, uint32_t hex, int tol, int rx0, int ry0, int rx1,
                        int ry1)
{
    blob b = {0, im->width, im->height, -1, -1, 0, 0};
    for (int y = ry0; y < ry1; y++)
        for (int x = rx0; x < rx1; x++)
            if (close_to(px(im, x, y), hex, tol)) {
                b.n++;
                b.x0 = x < b.x0 ? x : b.x0;
                b.y0 = y < b.y0 ? y : b.y0;
                b.x1 = x > b.x1 ? x : b.x1;
                b.y1 = y > b.y1 ? y : b.y1;
                b.cx += x;
                b.cy += y;
            }
    if (b.n) {
        b.cx /= b.n;
        b.cy /= b.n;
    }
    return b;
}

static void test_line_plot(void)
{
    enum { N = 50 };
    double x[N], up[N], down[N];
    for (int i = 0; i < N; i++) {
        x[i] = i;
        up[i] = i * 0.1;          /* rises from lower left to upper right */
        down[i] = 4.9 - i * 0.02; /* falls gently across the top */
    }
    ember_series s[2] = {{"rising", x, up, N, 0}, {"falling", x, down, N, 0}};
    ember_axes ax = {.title = "T", .xlabel = "step", .ylabel = "value", .series = s, .nseries = 2};
    ember_figure_opts fig = {.width = 640, .height = 400};
    ember_png p = {0}, q = {0};
    char err[256] = "";
    CHECK_MSG(ember_plot_lines(&ax, 1, &fig, &p, err, sizeof err) == 0, "%s", err);
    CHECK(p.width == 640 && p.height == 400 && p.pixel_width == 1280 && p.pixel_height == 800);
    keep(&p, "lines.png");
    ember_image im = {0};
    if (decode(&p, &im))
        return;
    CHECK(im.width == 1280 && im.height == 800 && im.channels == 3);

    /* Axes: at least two long horizontal and two long vertical ink runs
     * (the frame), well apart. */
    int rows[8], nr = 0, cols[8], nc = 0;
    for (int y = 0; y < im.height && nr < 8; y++) {
        int run = 0, best = 0;
        for (int x = 0; x < im.width; x++) {
            run = is_ink(px(&im, x, y)) ? run + 1 : 0;
            best = run > best ? run : best;
        }
        if (best > im.width * 0.6 && (nr == 0 || y - rows[nr - 1] > 50))
            rows[nr++] = y;
    }
    for (int x = 0; x < im.width && nc < 8; x++) {
        int run = 0, best = 0;
        for (int y = 0; y < im.height; y++) {
            run = is_ink(px(&im, x, y)) ? run + 1 : 0;
            best = run > best ? run : best;
        }
        if (best > im.height * 0.6 && (nc == 0 || x - cols[nc - 1] > 50))
            cols[nc++] = x;
    }
    CHECK_MSG(nr >= 2, "found %d horizontal axis lines", nr);
    CHECK_MSG(nc >= 2, "found %d vertical axis lines", nc);
    if (nr < 2 || nc < 2) {
        ember_image_free(&im);
        ember_png_free(&p);
        return;
    }
    int L = cols[0], R = cols[nc - 1], T = rows[0], B = rows[nr - 1];
    CHECK(L > 30 && R < im.width - 10 && T > 30 && B < im.height - 30); /* room for labels */

    /* The rising line: blue, spanning the plot, lower on the left. */
    blob blue = find_colour(&im, 0x1f77b4, 30, L + 2, T + 2, R - 1, B - 1);
    CHECK_MSG(blue.n > 1000, "%ld blue pixels", blue.n);
    CHECK(blue.x0 < L + (R - L) / 10 && blue.x1 > R - (R - L) / 10);
    blob left = find_colour(&im, 0x1f77b4, 30, L + 2, T + 2, (L + R) / 2, B - 1);
    blob right = find_colour(&im, 0x1f77b4, 30, (L + R) / 2, T + 2, R - 1, B - 1);
    CHECK(left.n > 100 && right.n > 100 && left.cy > right.cy + 100);
    blob orange = find_colour(&im, 0xff7f0e, 30, L + 2, T + 2, R - 1, B - 1);
    CHECK_MSG(orange.n > 500, "%ld orange pixels", orange.n);

    /* Tick labels and axis labels: ink left of the frame and below it. */
    long left_ink = 0, below_ink = 0, title_ink = 0;
    for (int y = T; y < B; y++)
        for (int x = 0; x < L - 3; x++)
            left_ink += is_ink(px(&im, x, y));
    for (int y = B + 3; y < im.height; y++)
        for (int x = L; x < R; x++)
            below_ink += is_ink(px(&im, x, y));
    for (int y = 0; y < T - 3; y++)
        for (int x = L; x < R; x++)
            title_ink += is_ink(px(&im, x, y));
    CHECK(left_ink > 300 && below_ink > 300 && title_ink > 50);
    /* Nothing clipped at the image border: the outermost 2 pixels are white. */
    int border_clean = 1;
    for (int x = 0; x < im.width; x++)
        border_clean &= is_white(px(&im, x, 0)) && is_white(px(&im, x, im.height - 1));
    for (int y = 0; y < im.height; y++)
        border_clean &= is_white(px(&im, 0, y)) && is_white(px(&im, im.width - 1, y));
    CHECK(border_clean);

    /* The legend: the same figure without it differs only in one corner
     * region that holds both series colours. The rising line leaves the
     * lower right empty, the falling one the top: expect lower right. */
    ax.legend = -1;
    CHECK(ember_plot_lines(&ax, 1, &fig, &q, err, sizeof err) == 0);
    ember_image nl = {0};
    if (decode(&q, &nl) == 0) {
        int dx0 = im.width, dy0 = im.height, dx1 = -1, dy1 = -1;
        for (int y = 0; y < im.height; y++)
            for (int x = 0; x < im.width; x++)
                if (memcmp(px(&im, x, y), px(&nl, x, y), 3) != 0) {
                    dx0 = x < dx0 ? x : dx0;
                    dy0 = y < dy0 ? y : dy0;
                    dx1 = x > dx1 ? x : dx1;
                    dy1 = y > dy1 ? y : dy1;
                }
        CHECK_MSG(dx1 >= 0, "legend changed nothing");
        CHECK_MSG(dx1 - dx0 < (R - L) / 2 && dy1 - dy0 < (B - T) / 2, "legend box %d,%d-%d,%d",
                  dx0, dy0, dx1, dy1);
        CHECK_MSG(dx0 > (L + R) / 2 && dy0 > (T + B) / 2, "legend not lower right: %d,%d", dx0, dy0);
        blob lb = find_colour(&im, 0x1f77b4, 30, dx0, dy0, dx1 + 1, dy1 + 1);
        blob lo = find_colour(&im, 0xff7f0e, 30, dx0, dy0, dx1 + 1, dy1 + 1);
        CHECK(lb.n > 20 && lo.n > 20);
        long text = 0;
        for (int y = dy0; y <= dy1; y++)
            for (int x = dx0; x <= dx1; x++)
                text += close_to(px(&im, x, y), 0x262626, 60);
        CHECK_MSG(text > 50, "legend text pixels %ld", text);
        ember_image_free(&nl);
    }
    ember_png_free(&q);
    ember_image_free(&im);
    ember_png_free(&p);
}

static void test_panels_and_logy(void)
{
    double y1[5] = {1000, 100, 10, 1, 0.1}, y2[5] = {0.1, 0.5, 0.7, 0.8, 0.85};
    double bad[5] = {NAN, -1, 0, INFINITY, 3};
    ember_series a = {"loss", NULL, y1, 5, 0}, b = {"acc", NULL, y2, 5, 0}, c = {"odd", NULL, bad, 5, 0};
    ember_series both[2] = {a, c};
    ember_axes ax[2] = {{.title = "loss", .series = both, .nseries = 2, .logy = 1},
                        {.title = "accuracy", .series = &b, .nseries = 1}};
    ember_png p = {0};
    char err[256] = "";
    CHECK_MSG(ember_plot_lines(ax, 2, NULL, &p, err, sizeof err) == 0, "%s", err);
    CHECK(p.pixel_width == 2 * p.width && p.pixel_height == 2 * p.height && p.width > p.height);
    keep(&p, "panels.png");
    ember_image im = {0};
    if (decode(&p, &im) == 0) {
        /* Blue in both halves: panel 1's loss and panel 2's accuracy. */
        blob l = find_colour(&im, 0x1f77b4, 30, 0, 0, im.width / 2, im.height);
        blob r = find_colour(&im, 0x1f77b4, 30, im.width / 2, 0, im.width, im.height);
        CHECK(l.n > 300 && r.n > 300);
        /* Log axis: five decades fall evenly, so the line's points lie on
         * a straight diagonal: its middle is near the middle. */
        CHECK(fabs((l.y0 + l.y1) / 2.0 - l.cy) < 40);
        ember_image_free(&im);
    }
    ember_png_free(&p);

    /* Degenerate inputs still draw (or fail cleanly). */
    ember_axes empty = {.title = "nothing"};
    CHECK(ember_plot_lines(&empty, 1, NULL, &p, err, sizeof err) == 0);
    ember_png_free(&p);
    double one = 5;
    ember_series single = {"one", NULL, &one, 1, 0};
    ember_axes ones = {.series = &single, .nseries = 1, .logy = 1};
    CHECK(ember_plot_lines(&ones, 1, NULL, &p, err, sizeof err) == 0);
    ember_png_free(&p);
    /* Extreme values: a figure or a clean error, never a crash or a hang. */
    double huge[3] = {1e308, -1e308, 0}, tinyv[3] = {1e-300, 1e-310, 5e-324}, same[3] = {7, 7, 7};
    double xs[3] = {-1e300, 0, 1e300};
    ember_series ext[4] = {{"huge", NULL, huge, 3, 0}, {"tiny", NULL, tinyv, 3, 0},
                           {"same", NULL, same, 3, 0}, {"wide x", xs, same, 3, 0}};
    for (int lg = 0; lg <= 1; lg++)
        for (int k = 0; k < 4; k++) {
            ember_axes e1 = {.series = &ext[k], .nseries = 1, .logy = lg};
            err[0] = '\0';
            int rc = ember_plot_lines(&e1, 1, NULL, &p, err, sizeof err);
            CHECK_MSG(rc == 0 || err[0], "series %d log %d", k, lg);
            if (rc)
                printf("  extreme series %d (log %d): %s\n", k, lg, err);
            ember_png_free(&p);
        }
    ember_series noy = {"x", NULL, NULL, 3, 0};
    ember_axes bad_ax = {.series = &noy, .nseries = 1};
    CHECK(ember_plot_lines(&bad_ax, 1, NULL, &p, err, sizeof err) == -1 && strstr(err, "no y"));
    CHECK(ember_plot_lines(ax, 0, NULL, &p, err, sizeof err) == -1);
    ember_figure_opts tiny = {.width = 20, .height = 20, .scale = 1};
    CHECK(ember_plot_lines(ax, 2, &tiny, &p, err, sizeof err) == 0 && p.pixel_width == 20);
    ember_png_free(&p);
}

/* A million points draw quickly (they are thinned per pixel column) and the
 * thinning keeps extremes: a one-sample spike still reaches the top. */
static void test_long_series(void)
{
    enum { N = 1000000 };
    double *y = calloc(N, sizeof *y);
    if (!y)
        return;
    for (int i = 0; i < N; i++)
        y[i] = 0.1 * sin(i * 1e-4);
    y[N / 2] = 10;
    ember_series s = {"long", NULL, y, N, 0};
    ember_axes ax = {.series = &s, .nseries = 1, .legend = -1};
    ember_figure_opts fig = {.width = 640, .height = 400};
    ember_png p = {0};
    char err[256] = "";
    CHECK_MSG(ember_plot_lines(&ax, 1, &fig, &p, err, sizeof err) == 0, "%s", err);
    keep(&p, "long.png");
    ember_image im = {0};
    if (p.data && decode(&p, &im) == 0) {
        blob b = find_colour(&im, 0x1f77b4, 40, 0, 0, im.width, im.height);
        blob top = find_colour(&im, 0x1f77b4, 40, 0, 0, im.width, b.y0 + 40);
        CHECK(b.n > 1000);
        /* the spike is the topmost blue, near the middle, far above the band */
        CHECK_MSG(top.n > 10 && fabs(top.cx - im.width / 2.0) < im.width / 10.0, "spike at %.0f", top.cx);
        CHECK(b.y1 - b.y0 > im.height / 2);
        ember_image_free(&im);
    }
    ember_png_free(&p);
    free(y);
}

static void test_heatmap(void)
{
    double m[16];
    for (int i = 0; i < 16; i++)
        m[i] = i;
    const char *labels[4] = {"cat", "dog", "frog", "a very long class name"};
    ember_heatmap hm = {.values = m, .rows = 4, .cols = 4, .row_labels = labels, .col_labels = labels,
                        .xlabel = "predicted", .ylabel = "true", .colorbar_label = "count"};
    ember_figure_opts fig = {.title = "Confusion"};
    ember_png p = {0};
    char err[256] = "";
    CHECK_MSG(ember_plot_heatmap(&hm, &fig, &p, err, sizeof err) == 0, "%s", err);
    CHECK(p.pixel_width == 2 * p.width && p.pixel_height == 2 * p.height);
    keep(&p, "heatmap.png");
    ember_image im = {0};
    if (decode(&p, &im))
        return;
    /* The map: top-left cell is the low (purple) end, bottom-right the high
     * (yellow) end. Find the colour bar: a column in the right part whose
     * top is yellow and bottom purple. */
    blob purple = find_colour(&im, 0x440154, 12, 0, 0, im.width, im.height);
    blob yellow = find_colour(&im, 0xfde725, 12, 0, 0, im.width, im.height);
    CHECK(purple.n > 500 && yellow.n > 500);
    CHECK(purple.cx < yellow.cx && purple.cy < yellow.cy);
    int bar_found = 0;
    for (int x = im.width * 2 / 3; x < im.width && !bar_found; x++) {
        int top = -1, bottom = -1;
        for (int y = 0; y < im.height; y++)
            if (!is_white(px(&im, x, y)) && close_to(px(&im, x, y), 0xfde725, 30)) {
                top = y;
                break;
            }
        for (int y = im.height - 1; y >= 0; y--)
            if (close_to(px(&im, x, y), 0x440154, 30)) {
                bottom = y;
                break;
            }
        if (top >= 0 && bottom > top + 100) {
            /* and in between, viridis' teal middle */
            bar_found = close_to(px(&im, x, (top + bottom) / 2), 0x21918c, 40);
        }
    }
    CHECK_MSG(bar_found, "no colour bar");
    /* Annotations: white digits on the dark cells. */
    long white_in_purple = 0;
    for (int y = purple.y0; y <= purple.y1 && purple.n; y++)
        for (int x = purple.x0; x <= purple.x1 && x < im.width / 2; x++)
            white_in_purple += close_to(px(&im, x, y), 0xffffff, 30);
    CHECK_MSG(white_in_purple > 20, "%ld annotation pixels", white_in_purple);
    ember_image_free(&im);
    ember_png_free(&p);

    /* A large mask renders smoothly and to a sane size; NaNs are tolerated. */
    static double mask[300 * 200];
    for (int i = 0; i < 300 * 200; i++)
        mask[i] = i % 300 < 150 ? 0.1 : 0.9;
    mask[5] = NAN;
    ember_heatmap mh = {.values = mask, .rows = 200, .cols = 300, .has_range = 1, .vmin = 0, .vmax = 1};
    CHECK_MSG(ember_plot_heatmap(&mh, NULL, &p, err, sizeof err) == 0, "%s", err);
    CHECK(p.width > 300 && p.width < 900 && p.height < 700);
    keep(&p, "mask.png");
    ember_png_free(&p);
    ember_heatmap none = {.values = NULL, .rows = 3, .cols = 3};
    CHECK(ember_plot_heatmap(&none, NULL, &p, err, sizeof err) == -1);
}

static void test_image_grid(void)
{
    char err[256] = "";
    ember_image red = {0}, blue = {0};
    CHECK(ember_image_alloc(&red, 40, 30, 3, err, sizeof err) == 0);
    CHECK(ember_image_alloc(&blue, 32, 32, 1, err, sizeof err) == 0);
    for (int i = 0; i < 40 * 30; i++)
        red.data[i * 3] = 230;
    const ember_image *imgs[2] = {&red, &blue};
    const char *caps[2] = {"red one", "dark one"};
    ember_png p = {0};
    CHECK_MSG(ember_plot_image_grid(imgs, caps, 2, 0, NULL, &p, err, sizeof err) == 0, "%s", err);
    keep(&p, "grid.png");
    ember_image im = {0};
    if (decode(&p, &im) == 0) {
        blob r = find_colour(&im, 0xe60000, 10, 0, 0, im.width, im.height);
        blob k = find_colour(&im, 0x000000, 10, 0, 0, im.width, im.height);
        CHECK(r.n > 1000 && k.n > 1000 && r.cx < k.cx);
        long cap = 0;
        for (int y = r.y1 + 4; y < im.height; y++)
            for (int x = r.x0; x <= r.x1; x++)
                cap += is_ink(px(&im, x, y));
        CHECK_MSG(cap > 30, "caption ink %ld", cap);
        ember_image_free(&im);
    }
    ember_png_free(&p);
    ember_image_free(&red);
    ember_image_free(&blue);
    ember_image broken = {5, 5, 3, NULL};
    const ember_image *b1[1] = {&broken};
    CHECK(ember_plot_image_grid(b1, NULL, 1, 0, NULL, &p, err, sizeof err) == -1);
}

static void test_ticks(void)
{
    char buf[32];
    double t[VIZ_MAX_TICKS];
    double step = viz_nice_step(0, 1, 5);
    CHECK(step == 0.2);
    int n = viz_linear_ticks(0, 1, step, t, VIZ_MAX_TICKS);
    CHECK(n == 6);
    viz_format_tick(t[3], step, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "0.6") == 0, "%s", buf);
    step = viz_nice_step(0, 0.9, 9);
    CHECK(fabs(step - 0.1) < 1e-15);
    n = viz_linear_ticks(0, 0.9, step, t, VIZ_MAX_TICKS);
    viz_format_tick(t[3], step, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "0.3") == 0, "%s", buf); /* never 0.30000000000000004 */
    viz_format_tick(-1e-17, 0.1, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "0.0") == 0, "%s", buf); /* no "-0.0" */
    step = viz_nice_step(0, 12000, 6);
    CHECK(step == 2000);
    viz_format_tick(10000, step, buf, sizeof buf);
    CHECK(strcmp(buf, "10000") == 0);
    viz_format_tick(3e6, 1e6, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "3M") == 0, "%s", buf);
    viz_format_tick(1.5e6, 5e5, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "1.5M") == 0, "%s", buf);
    viz_format_tick(250000, 50000, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "250k") == 0, "%s", buf);
    viz_format_tick(0, 50000, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "0") == 0, "%s", buf);
    viz_format_tick(-2e9, 1e9, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "-2G") == 0, "%s", buf);
    viz_format_tick(3e15, 1e15, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "3e+15") == 0, "%s", buf);
    viz_format_tick(1.5e-5, 5e-6, buf, sizeof buf);
    CHECK_MSG(strcmp(buf, "1.5e-05") == 0, "%s", buf);
    viz_format_tick(0.25, 0.05, buf, sizeof buf);
    CHECK(strcmp(buf, "0.25") == 0);
    /* Steps are 1, 2 or 5 times a power of ten for any range. */
    for (double span = 1e-6; span < 1e9; span *= 1.37) {
        double s = viz_nice_step(3, 3 + span, 5);
        double m = s / pow(10, floor(log10(s) + 1e-9));
        CHECK_MSG(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9 || fabs(m - 10) < 1e-9,
                  "span %g step %g", span, s);
        int k = viz_linear_ticks(3, 3 + span, s, t, VIZ_MAX_TICKS);
        CHECK(k >= 2 && k <= 12);
    }
    char labels[VIZ_MAX_TICKS][24];
    n = viz_log_ticks(1e-3, 1e3, t, labels, VIZ_MAX_TICKS);
    CHECK(n == 7 && strcmp(labels[0], "10\u207b\u00b3") == 0 && strcmp(labels[3], "10\u2070") == 0);
    n = viz_log_ticks(0.08, 3, t, labels, VIZ_MAX_TICKS);
    CHECK(n >= 4 && strcmp(labels[0], "0.1") == 0 && strcmp(labels[1], "0.2") == 0);
    n = viz_log_ticks(1.1, 1.9, t, labels, VIZ_MAX_TICKS);
    CHECK(n >= 2);
    uint8_t rgb[3];
    ember_colormap_viridis(0, rgb);
    CHECK(rgb[0] == 68 && rgb[1] == 1 && rgb[2] == 84);
    ember_colormap_viridis(1, rgb);
    CHECK(rgb[0] == 253 && rgb[1] == 231 && rgb[2] == 37);
    ember_colormap_viridis(NAN, rgb);
    CHECK(rgb[0] == 68);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        outdir = argv[1];
        if (mkdir(outdir, 0777) != 0 && errno != EEXIST)
            outdir = NULL;
    }
    CHECK(ember_viz_font_is_dejavu() == 1 || ember_viz_font_is_dejavu() == 0);
    if (!ember_viz_font_is_dejavu())
        printf("note: DejaVu Sans is not installed; plots used the fallback font\n");
    test_ticks();
    test_line_plot();
    test_panels_and_logy();
    test_long_series();
    test_heatmap();
    test_image_grid();
    TEST_END();
}
