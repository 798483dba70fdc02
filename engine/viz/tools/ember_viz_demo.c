/* ember_viz_demo.c — writes sample figures (training curves, an image grid, a
 * confusion matrix, a mask) as PNG files so people can look at the viz
 * library's output. Usage: ember-viz-demo OUT_DIR [SHARED_DATA_DIR] */
#include "viz/codec.h"
#include "viz/plot.h"
#include "viz/progress.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int save(const char *dir, const char *name, const ember_png *png)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "ember-viz-demo: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t w = fwrite(png->data, 1, png->size, f);
    if (fclose(f) != 0 || w != png->size) {
        fprintf(stderr, "ember-viz-demo: cannot write %s\n", path);
        return -1;
    }
    printf("%s  %dx%d px, shown at %dx%d\n", path, png->pixel_width, png->pixel_height,
           png->width, png->height);
    return 0;
}

/* Fake but plausible training curves: 30 epochs, loss decaying with noise. */
static void curves(double *tl, double *vl, double *ta, double *va, int n)
{
    unsigned s = 12345;
    for (int i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        double noise = ((s >> 16) % 1000) / 1000.0 - 0.5;
        double e = i + 1;
        tl[i] = 2.3 * exp(-e / 6.0) + 0.08 + 0.02 * noise;
        vl[i] = 2.3 * exp(-e / 7.0) + 0.35 + 0.004 * e + 0.03 * noise;
        ta[i] = 0.97 - 0.85 * exp(-e / 6.0) + 0.01 * noise;
        va[i] = 0.86 - 0.75 * exp(-e / 7.0) - 0.001 * e + 0.012 * noise;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ember-viz-demo OUT_DIR [SHARED_DATA_DIR]\n");
        return 2;
    }
    const char *dir = argv[1];
    const char *shared = argc > 2 ? argv[2] : getenv("EMBER_SHARED_DATA");
    if (!shared)
        shared = "../shared/data";
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ember-viz-demo: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char err[512];
    ember_png png;
    int fails = 0;

    enum { N = 30 };
    double ep[N], tl[N], vl[N], ta[N], va[N];
    for (int i = 0; i < N; i++)
        ep[i] = i + 1;
    curves(tl, vl, ta, va, N);
    ember_series loss[2] = {{"train", ep, tl, N, 0}, {"validation", ep, vl, N, 0}};
    ember_series acc[2] = {{"train", ep, ta, N, 0}, {"validation", ep, va, N, 0}};
    ember_axes panels[2] = {
        {.title = "Loss", .xlabel = "epoch", .ylabel = "cross-entropy", .series = loss, .nseries = 2, .logy = 1},
        {.title = "Accuracy", .xlabel = "epoch", .ylabel = "accuracy", .series = acc, .nseries = 2},
    };
    ember_figure_opts fig = {.title = "ViT on CIFAR-10"};
    if (ember_plot_lines(panels, 2, &fig, &png, err, sizeof err) == 0) {
        fails += save(dir, "training.png", &png) != 0;
        ember_png_free(&png);
    } else {
        fprintf(stderr, "training plot: %s\n", err);
        fails++;
    }
    /* Per-step loss, linear axis, one long series: no markers, dense line. */
    enum { S = 1200 };
    static double steps[S], sl[S], lr[S];
    unsigned s = 99;
    for (int i = 0; i < S; i++) {
        s = s * 1103515245u + 12345u;
        steps[i] = i * 10;
        sl[i] = 2.2 * exp(-i / 300.0) + 0.3 + 0.15 * (((s >> 16) % 1000) / 1000.0 - 0.5);
        lr[i] = 1e-3 * (i < 100 ? i / 100.0 : 0.5 * (1 + cos(M_PI * (i - 100) / (S - 100))));
    }
    ember_series steploss = {"loss", steps, sl, S, 0};
    ember_series sched = {"learning rate", steps, lr, S, 0};
    ember_axes one[2] = {
        {.title = "Training loss", .xlabel = "step", .ylabel = "loss", .series = &steploss, .nseries = 1},
        {.title = "Schedule", .xlabel = "step", .ylabel = "learning rate", .series = &sched, .nseries = 1},
    };
    if (ember_plot_lines(one, 2, NULL, &png, err, sizeof err) == 0) {
        fails += save(dir, "steps.png", &png) != 0;
        ember_png_free(&png);
    } else {
        fprintf(stderr, "step plot: %s\n", err);
        fails++;
    }

    /* The shared images, in a grid with captions. */
    static const char *names[4] = {"chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"};
    ember_image imgs[4] = {{0}};
    const ember_image *ptrs[4];
    char captions[4][96];
    const char *caps[4];
    int loaded = 0;
    for (int i = 0; i < 4; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/images/%s", shared, names[i]);
        if (ember_image_load(path, &imgs[i], err, sizeof err) == 0) {
            char d[64];
            ember_image_describe(&imgs[i], d, sizeof d);
            snprintf(captions[i], sizeof captions[i], "%s %dx%d", names[i], imgs[i].width,
                     imgs[i].height);
            printf("loaded %s %s\n", path, d);
            loaded++;
        } else {
            fprintf(stderr, "%s\n", err);
            snprintf(captions[i], sizeof captions[i], "(missing) %s", names[i]);
        }
        ptrs[i] = imgs[i].data ? &imgs[i] : NULL;
        caps[i] = captions[i];
    }
    ember_figure_opts gfig = {.title = "Sample images"};
    if (ember_plot_image_grid(ptrs, caps, 4, 0, &gfig, &png, err, sizeof err) == 0) {
        fails += save(dir, "grid.png", &png) != 0;
        ember_png_free(&png);
    } else {
        fprintf(stderr, "image grid: %s\n", err);
        fails++;
    }

    /* CIFAR-sized thumbnails (32x32) blown up: they should stay crisp blocks. */
    if (loaded == 4) {
        ember_image tiny[8] = {{0}};
        const ember_image *tp[8];
        const char *tc[8] = {"cat", "cup", "astronaut", "rocket", "cat (grey)", "cup (grey)",
                             "astronaut (grey)", "rocket (grey)"};
        int ok = 1;
        for (int i = 0; i < 8 && ok; i++) {
            const ember_image *src = &imgs[i % 4];
            int side = src->width < src->height ? src->width : src->height;
            ember_image sq = {0};
            /* centre square crop, then 32x32 */
            ok = ember_image_alloc(&sq, side, side, 3, err, sizeof err) == 0;
            for (int y = 0; ok && y < side; y++)
                memcpy(sq.data + (size_t)y * side * 3,
                       src->data + ((size_t)(y + (src->height - side) / 2) * src->width +
                                    (src->width - side) / 2) * 3,
                       (size_t)side * 3);
            ember_image small = {0};
            ok = ok && ember_image_resize(&sq, 32, 32, &small, err, sizeof err) == 0;
            ember_image_free(&sq);
            if (ok && i >= 4) {
                ok = ember_image_convert(&small, 1, &tiny[i], err, sizeof err) == 0;
                ember_image_free(&small);
            } else {
                tiny[i] = small;
            }
            tp[i] = &tiny[i];
        }
        ember_figure_opts tfig = {.title = "32x32 samples"};
        if (ok && ember_plot_image_grid(tp, tc, 8, 4, &tfig, &png, err, sizeof err) == 0) {
            fails += save(dir, "samples.png", &png) != 0;
            ember_png_free(&png);
        } else {
            fprintf(stderr, "samples: %s\n", err);
            fails++;
        }
        for (int i = 0; i < 8; i++)
            ember_image_free(&tiny[i]);
    }

    /* A confusion matrix over the CIFAR-10 classes. */
    static const char *classes[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                      "dog", "frog", "horse", "ship", "truck"};
    double cm[100];
    s = 7;
    for (int r = 0; r < 10; r++) {
        int left = 100;
        for (int c = 0; c < 10; c++) {
            s = s * 1103515245u + 12345u;
            cm[r * 10 + c] = r == c ? 0 : (double)((s >> 16) % (r == 3 && c == 5 ? 22 : 6));
            left -= (int)cm[r * 10 + c];
        }
        cm[r * 11] = left;
    }
    ember_heatmap hm = {.values = cm, .rows = 10, .cols = 10, .xlabel = "predicted",
                        .ylabel = "true", .colorbar_label = "images",
                        .row_labels = classes, .col_labels = classes};
    ember_figure_opts cfig = {.title = "Confusion matrix (test set)"};
    if (ember_plot_heatmap(&hm, &cfig, &png, err, sizeof err) == 0) {
        fails += save(dir, "confusion.png", &png) != 0;
        ember_png_free(&png);
    } else {
        fprintf(stderr, "confusion matrix: %s\n", err);
        fails++;
    }

    /* A soft segmentation mask, as CLIPSeg would give at 352x352. */
    enum { M = 352 };
    static double mask[M * M];
    static float maskf[M * M];
    for (int y = 0; y < M; y++)
        for (int x = 0; x < M; x++) {
            double a = exp(-(pow(x - 150, 2) / 3000.0 + pow(y - 190, 2) / 5000.0));
            double b = exp(-(pow(x - 270, 2) / 900.0 + pow(y - 90, 2) / 700.0));
            double v = 1 / (1 + exp(-12 * (fmax(a, 0.8 * b) - 0.45)));
            mask[y * M + x] = v;
            maskf[y * M + x] = (float)v;
        }
    ember_heatmap mh = {.values = mask, .rows = M, .cols = M, .colorbar_label = "probability",
                        .has_range = 1, .vmin = 0, .vmax = 1};
    ember_figure_opts mfig = {.title = "Mask: \"a cat\""};
    if (ember_plot_heatmap(&mh, &mfig, &png, err, sizeof err) == 0) {
        fails += save(dir, "mask.png", &png) != 0;
        ember_png_free(&png);
    } else {
        fprintf(stderr, "mask: %s\n", err);
        fails++;
    }

    /* The mask tinted over the cat, next to the original. */
    if (imgs[0].data) {
        static const uint8_t red[3] = {230, 40, 40};
        ember_image over;
        if (ember_image_overlay_mask(&imgs[0], maskf, M, M, red, 0.55, &over, err, sizeof err) == 0) {
            const ember_image *pair[2] = {&imgs[0], &over};
            const char *pc[2] = {"image", "mask overlay"};
            if (ember_plot_image_grid(pair, pc, 2, 2, NULL, &png, err, sizeof err) == 0) {
                fails += save(dir, "overlay.png", &png) != 0;
                ember_png_free(&png);
            } else {
                fprintf(stderr, "overlay grid: %s\n", err);
                fails++;
            }
            ember_image_free(&over);
        } else {
            fprintf(stderr, "overlay: %s\n", err);
            fails++;
        }
    }
    for (int i = 0; i < 4; i++)
        ember_image_free(&imgs[i]);

    /* Progress lines as a loop would show them. */
    double at[4] = {0, 12.25, 29.0, 30.1};
    double ns[4] = {0, 164, 391, 391};
    for (int i = 0; i < 4; i++) {
        ember_progress_view v = {.desc = "train", .total = 391, .n = ns[i], .elapsed = at[i],
                                 .status = i == 3 ? EMBER_PROGRESS_DONE : EMBER_PROGRESS_RUNNING};
        char *t = ember_progress_text(&v);
        if (t)
            printf("%s\n", t);
        free(t);
    }
    printf("%d of 4 shared images loaded; %s\n", loaded,
           ember_viz_font_is_dejavu() ? "font DejaVu Sans" : "fallback font");
    return fails ? 1 : 0;
}
