/* plot_grid.c — image grids with captions (sample images, predictions).
 * Downscaled images go through ember_image_resize at the exact device size;
 * small images blown up (CIFAR's 32x32) stay crisp pixel blocks. */
#include "canvas.h"
#include "viz_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* An ARGB32 (premultiplied) cairo surface holding img. */
static cairo_surface_t *to_surface(const ember_image *img, char *err, size_t errlen)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, img->width, img->height);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        viz_seterr(err, errlen, "cairo: %s", cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        return NULL;
    }
    cairo_surface_flush(s);
    uint8_t *px = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    const int c = img->channels;
    for (int y = 0; y < img->height; y++) {
        uint32_t *row = (uint32_t *)(px + (size_t)y * stride);
        const uint8_t *p = img->data + (size_t)y * img->width * c;
        for (int x = 0; x < img->width; x++, p += c) {
            unsigned r = p[0], g = c >= 3 ? p[1] : p[0], b = c >= 3 ? p[2] : p[0];
            unsigned a = c == 4 ? p[3] : 255;
            r = (r * a + 127) / 255;
            g = (g * a + 127) / 255;
            b = (b * a + 127) / 255;
            row[x] = a << 24 | r << 16 | g << 8 | b;
        }
    }
    cairo_surface_mark_dirty(s);
    return s;
}

/* Draws img fitted into the logical box (bx, by, bw, bh). */
static int draw_fitted(viz_canvas *cv, const ember_image *img, double bx, double by, double bw,
                       double bh, char *err, size_t errlen)
{
    cairo_t *cr = cv->cr;
    double fit = fmin(bw / img->width, bh / img->height);
    double dw = img->width * fit, dh = img->height * fit;
    /* Bottom-aligned, so a caption sits right under its picture. */
    double x = bx + (bw - dw) / 2, y = by + (bh - dh);
    double px_fit = fit * cv->scale; /* device pixels per image pixel */
    ember_image small = {0};
    const ember_image *src = img;
    if (px_fit < 1.0) {
        int tw = (int)fmax(1, lround(dw * cv->scale)), th = (int)fmax(1, lround(dh * cv->scale));
        if (ember_image_resize(img, tw, th, &small, err, errlen))
            return -1;
        src = &small;
    }
    cairo_surface_t *s = to_surface(src, err, errlen);
    if (!s) {
        ember_image_free(&small);
        return -1;
    }
    cairo_save(cr);
    cairo_rectangle(cr, x, y, dw, dh);
    cairo_clip(cr);
    cairo_translate(cr, x, y);
    cairo_scale(cr, dw / src->width, dh / src->height);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr),
                             px_fit >= 2.0 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(s);
    ember_image_free(&small);
    cairo_set_line_width(cr, 0.6);
    viz_rgb(cr, 0xd9d9d9);
    cairo_rectangle(cr, x, y, dw, dh);
    cairo_stroke(cr);
    return 0;
}

/* Width over height of image i (1 for an empty cell). */
static double aspect_of(const ember_image *im)
{
    return im ? (double)im->width / im->height : 1.0;
}

int ember_plot_image_grid(const ember_image *const *images, const char *const *captions,
                          size_t n, int cols, const ember_figure_opts *fig, ember_png *out,
                          char *err, size_t errlen)
{
    static const ember_figure_opts none = {0};
    if (!fig)
        fig = &none;
    if (!images || n == 0 || n > 4096) {
        viz_seterr(err, errlen, "image grid: give 1 to 4096 images (got %zu)", n);
        return -1;
    }
    int any_caption = 0;
    for (size_t i = 0; i < n; i++) {
        const ember_image *im = images[i];
        if (im && (!im->data || im->width <= 0 || im->height <= 0 ||
                   (im->channels != 1 && im->channels != 3 && im->channels != 4))) {
            viz_seterr(err, errlen, "image grid: image %zu is not a valid image", i + 1);
            return -1;
        }
        if (captions && captions[i] && *captions[i])
            any_caption = 1;
    }
    if (cols <= 0)
        cols = n <= 6 ? (int)n : (int)ceil(sqrt((double)n));
    if ((size_t)cols > n)
        cols = (int)n;
    int rows = (int)((n + cols - 1) / cols);
    const double pad = 12;
    const int has_title = fig->title && *fig->title;
    double title_h = has_title ? VIZ_FS_TITLE + 18 : 0;
    double cap_h = any_caption ? VIZ_FS_TICK + 10 : 0;
    double cell_w = fig->width > 0 ? (fig->width - pad * (cols + 1)) / cols
                                   : fmin(220, fmax(64, 900.0 / cols));
    if (!(cell_w >= 8)) {
        viz_seterr(err, errlen, "image grid: the figure is too small for %d columns", cols);
        return -1;
    }
    /* Justified rows: each row's pictures share one height and together fill
     * the content width, so mixed shapes leave no letterbox gaps. Images of
     * one shape (a batch of samples) come out as a plain aligned grid. */
    double content_w = cols * cell_w + (cols - 1) * pad;
    double row_h[4096];
    double total_h = 0;
    for (int r = 0; r < rows; r++) {
        double sum = 0;
        int k = 0;
        for (size_t i = (size_t)r * cols; i < n && i < (size_t)(r + 1) * cols; i++, k++)
            sum += aspect_of(images[i]);
        /* A short last row keeps the height a full row of its shapes would get. */
        double h = (content_w - (cols - 1) * pad) / (sum * cols / k);
        row_h[r] = fmin(h, cell_w * 1.5);
        total_h += row_h[r];
    }
    double shrink = 1.0;
    if (fig->height > 0) {
        double room = fig->height - title_h - pad - rows * (pad + cap_h);
        if (!(room >= 8 * rows)) {
            viz_seterr(err, errlen, "image grid: the figure is too small for %zu images", n);
            return -1;
        }
        shrink = fmin(1.0, room / total_h);
    }
    int W = fig->width > 0 ? fig->width : (int)ceil(content_w + 2 * pad);
    int H = fig->height > 0 ? fig->height
                            : (int)ceil(title_h + pad + total_h + rows * (cap_h + pad));
    viz_canvas cv;
    if (viz_canvas_begin_fig(&cv, W, H, fig, err, errlen))
        return -1;
    cairo_t *cr = cv.cr;
    char buf[256];
    if (has_title) {
        viz_use_font(cr, VIZ_FS_TITLE, 1);
        viz_fit_text(cr, fig->title, W - 20, buf, sizeof buf);
        viz_rgb(cr, VIZ_INK);
        viz_text(cr, W / 2.0, 14, buf, 0.5, 0, 0);
    }
    double y = title_h + pad;
    for (int r = 0; r < rows; r++) {
        double h = row_h[r] * shrink;
        size_t first = (size_t)r * cols, last = first + cols < n ? first + cols : n;
        double row_w = 0;
        for (size_t i = first; i < last; i++)
            row_w += aspect_of(images[i]) * h + (i > first ? pad : 0);
        double x = (W - row_w) / 2;
        for (size_t i = first; i < last; i++) {
            double w = aspect_of(images[i]) * h;
            if (images[i] && draw_fitted(&cv, images[i], x, y, w, h, err, errlen)) {
                viz_canvas_destroy(&cv);
                return -1;
            }
            if (captions && captions[i] && *captions[i]) {
                viz_use_font(cr, VIZ_FS_TICK + 0.5, 0);
                /* Narrow pictures may lend their caption some of the gap. */
                viz_fit_text(cr, captions[i], w + pad * 0.8, buf, sizeof buf);
                viz_rgb(cr, VIZ_INK);
                viz_text(cr, x + w / 2, y + h + 6, buf, 0.5, 0, 0);
            }
            x += w + pad;
        }
        y += h + cap_h + pad;
    }
    return viz_canvas_finish(&cv, out, err, errlen);
}
