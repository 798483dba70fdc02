/* legend.c — a legend drawn onto a picture (overlays: which colour is
 * which prompt). Only the legend's box is copied to a cairo surface and
 * back, so a large photo costs no more than a small one. */
#include "canvas.h"
#include "viz_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    double fs;            /* font size */
    int margin, pad, sw, gap, row_h;
} legend_metrics;

static legend_metrics metrics_for(double fs)
{
    legend_metrics m = {.fs = fs};
    m.margin = (int)lround(fs * 0.6);
    m.pad = (int)lround(fs * 0.5);
    m.sw = (int)lround(fs);
    m.gap = (int)lround(fs * 0.5);
    m.row_h = (int)lround(fs * 1.45);
    return m;
}

int ember_image_draw_legend(ember_image *img, const char *const *labels,
                            const uint8_t (*colors)[3], size_t n, char *err, size_t errlen)
{
    if (!img || !img->data || img->channels != 3) {
        viz_seterr(err, errlen, "legend: needs an RGB picture");
        return -1;
    }
    if (n == 0)
        return 0;
    const int W = img->width, H = img->height;
    double fs = fmin(20, fmax(8, fmin(W, H) / 30.0));
    legend_metrics m = metrics_for(fs);
    /* Shrink the text rather than run off the bottom, down to a size that
     * still reads. */
    while (m.fs > 6 && 2 * m.margin + 2 * m.pad + (double)n * m.row_h > H)
        m = metrics_for(m.fs - 0.5);

    /* Measure the labels on a scratch surface. */
    cairo_surface_t *scratch = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *cr = cairo_create(scratch);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        viz_seterr(err, errlen, "cairo: %s", cairo_status_to_string(cairo_status(cr)));
        cairo_destroy(cr);
        cairo_surface_destroy(scratch);
        return -1;
    }
    viz_use_font(cr, m.fs, 0);
    double max_text = fmax(W * 0.5 - m.margin - 2 * m.pad - m.sw - m.gap, 3 * m.fs);
    double text_w = 0;
    char buf[256];
    for (size_t i = 0; i < n; i++) {
        viz_fit_text(cr, labels && labels[i] ? labels[i] : "", max_text, buf, sizeof buf);
        text_w = fmax(text_w, viz_text_width(cr, buf));
    }
    cairo_destroy(cr);
    cairo_surface_destroy(scratch);

    int bx = m.margin, by = m.margin;
    int box_w = (int)ceil(2 * m.pad + m.sw + m.gap + text_w);
    int box_h = 2 * m.pad + (int)n * m.row_h;
    int bw = box_w < W - bx ? box_w : W - bx;
    int bh = box_h < H - by ? box_h : H - by;
    if (bw < m.sw + 2 * m.pad || bh < m.sw + 2 * m.pad)
        return 0; /* no room for even one swatch: leave the picture alone */

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, bw, bh);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        viz_seterr(err, errlen, "cairo: %s", cairo_status_to_string(cairo_surface_status(surf)));
        cairo_surface_destroy(surf);
        return -1;
    }
    cairo_surface_flush(surf);
    uint8_t *px = cairo_image_surface_get_data(surf);
    int stride = cairo_image_surface_get_stride(surf);
    if (!px) {
        viz_seterr(err, errlen, "cairo: no pixel data");
        cairo_surface_destroy(surf);
        return -1;
    }
    for (int y = 0; y < bh; y++) {
        uint32_t *row = (uint32_t *)(px + (size_t)y * stride);
        const uint8_t *p = img->data + ((size_t)(by + y) * W + bx) * 3;
        for (int x = 0; x < bw; x++, p += 3)
            row[x] = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    }
    cairo_surface_mark_dirty(surf);
    cr = cairo_create(surf);
    /* the box: the photo shows through a little, the labels stay legible */
    cairo_rectangle(cr, 0, 0, bw, bh);
    viz_rgba(cr, 0xffffff, 0.8);
    cairo_fill(cr);
    cairo_set_line_width(cr, 1);
    viz_rgb(cr, VIZ_SPINE);
    cairo_rectangle(cr, 0.5, 0.5, bw - 1, bh - 1);
    cairo_stroke(cr);
    viz_use_font(cr, m.fs, 0);
    for (size_t i = 0; i < n; i++) {
        int ry = m.pad + (int)i * m.row_h;
        int sy = ry + (m.row_h - m.sw) / 2;
        /* Whole pixels without antialiasing: every swatch pixel is exactly
         * the colour the overlay used. */
        cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
        viz_rgb(cr, 0x404040);
        cairo_rectangle(cr, m.pad - 1, sy - 1, m.sw + 2, m.sw + 2);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, colors[i][0] / 255.0, colors[i][1] / 255.0, colors[i][2] / 255.0);
        cairo_rectangle(cr, m.pad, sy, m.sw, m.sw);
        cairo_fill(cr);
        cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
        viz_fit_text(cr, labels && labels[i] ? labels[i] : "", max_text, buf, sizeof buf);
        viz_rgb(cr, VIZ_INK);
        viz_text(cr, m.pad + m.sw + m.gap, ry + m.row_h / 2.0, buf, 0, 0.5, 0);
    }
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(surf);
    if (st != CAIRO_STATUS_SUCCESS) {
        viz_seterr(err, errlen, "cairo: %s", cairo_status_to_string(st));
        cairo_surface_destroy(surf);
        return -1;
    }
    for (int y = 0; y < bh; y++) {
        const uint32_t *row = (const uint32_t *)(px + (size_t)y * stride);
        uint8_t *p = img->data + ((size_t)(by + y) * W + bx) * 3;
        for (int x = 0; x < bw; x++, p += 3) {
            p[0] = (uint8_t)(row[x] >> 16);
            p[1] = (uint8_t)(row[x] >> 8);
            p[2] = (uint8_t)row[x];
        }
    }
    cairo_surface_destroy(surf);
    return 0;
}
