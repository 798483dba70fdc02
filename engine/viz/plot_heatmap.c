/* plot_heatmap.c — heat maps with a colour bar: confusion matrices (class
 * labels, value annotations) and masks (large grids drawn smooth). Cells are
 * square, as imshow draws them. */
#include "canvas.h"
#include "ticks.h"
#include "viz_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE_CELLS 4096

typedef struct {
    int n;
    double pos[VIZ_MAX_TICKS]; /* cell index of each tick */
    char label[VIZ_MAX_TICKS][24];
} index_ticks;

/* Ticks for an axis of n cells: every cell when they are few (or labelled
 * and fit), else nice steps of the index. */
static void make_index_ticks(int n, int labelled, index_ticks *t)
{
    if (n <= (labelled ? VIZ_MAX_TICKS : 20)) {
        t->n = n;
        for (int i = 0; i < n; i++) {
            t->pos[i] = i;
            snprintf(t->label[i], sizeof t->label[i], "%d", i);
        }
        return;
    }
    double step = viz_nice_step(0, n - 1, 5);
    if (step < 1)
        step = 1;
    t->n = viz_linear_ticks(0, n - 1, step, t->pos, VIZ_MAX_TICKS);
    for (int i = 0; i < t->n; i++)
        viz_format_tick(t->pos[i], step, t->label[i], sizeof t->label[i]);
}

static const char *axis_label(const char *const *labels, const index_ticks *it, int k)
{
    if (!labels)
        return it->label[k];
    const char *l = labels[(int)it->pos[k]];
    return l ? l : "";
}

static int value_decimals(const ember_heatmap *hm)
{
    size_t n = (size_t)hm->rows * hm->cols;
    for (size_t i = 0; i < n; i++)
        if (isfinite(hm->values[i]) && hm->values[i] != floor(hm->values[i]))
            return 2;
    return 0;
}

/* Heat maps up to this many cells are drawn as vector squares in SVG and
 * PDF (a confusion matrix stays sharp and selectable); denser ones (masks)
 * are embedded as a picture, as they are pictures. */
#define VECTOR_CELLS 16384

/* One filled square per finite cell, at (mx, my) with side cell. Returns
 * cairo's status (0 when fine). */
static int draw_cells_vector(cairo_t *cr, const ember_heatmap *hm, double vmin, double vmax,
                             double mx, double my, double cell)
{
    for (int r = 0; r < hm->rows; r++)
        for (int c = 0; c < hm->cols; c++) {
            double v = hm->values[(size_t)r * hm->cols + c];
            if (!(fabs(v) <= 1e300))
                continue; /* blank: the white page shows */
            uint8_t rgb[3];
            ember_colormap_viridis((v - vmin) / (vmax - vmin), rgb);
            cairo_set_source_rgb(cr, rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0);
            cairo_rectangle(cr, mx + c * cell, my + r * cell, cell, cell);
            cairo_fill(cr);
        }
    return cairo_status(cr) != CAIRO_STATUS_SUCCESS;
}

/* The cells as a picture of R x C pixels scaled onto the map. */
static int draw_cells_image(cairo_t *cr, const ember_heatmap *hm, double vmin, double vmax,
                            double mx, double my, double cell, double map_w, double map_h,
                            char *err, size_t errlen)
{
    const int R = hm->rows, C = hm->cols;
    cairo_surface_t *cells = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, C, R);
    if (cairo_surface_status(cells) != CAIRO_STATUS_SUCCESS) {
        viz_seterr(err, errlen, "cairo: %s", cairo_status_to_string(cairo_surface_status(cells)));
        cairo_surface_destroy(cells);
        return -1;
    }
    cairo_surface_flush(cells);
    uint8_t *px = cairo_image_surface_get_data(cells);
    int stride = cairo_image_surface_get_stride(cells);
    for (int r = 0; r < R; r++) {
        uint32_t *row = (uint32_t *)(px + (size_t)r * stride);
        for (int c = 0; c < C; c++) {
            double v = hm->values[(size_t)r * C + c];
            if (!(fabs(v) <= 1e300)) {
                row[c] = 0; /* transparent: the white page shows */
                continue;
            }
            uint8_t rgb[3];
            ember_colormap_viridis((v - vmin) / (vmax - vmin), rgb);
            row[c] = 0xff000000u | (uint32_t)rgb[0] << 16 | (uint32_t)rgb[1] << 8 | rgb[2];
        }
    }
    cairo_surface_mark_dirty(cells);
    cairo_save(cr);
    cairo_rectangle(cr, mx, my, map_w, map_h);
    cairo_clip(cr);
    cairo_translate(cr, mx, my);
    cairo_scale(cr, cell, cell);
    cairo_set_source_surface(cr, cells, 0, 0);
    /* Big cells stay crisp squares; dense masks are smoothed. */
    cairo_pattern_set_filter(cairo_get_source(cr),
                             cell >= 3 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(cells);
    return 0;
}

/* The colour bar: a smooth strip of the map's colours, high values at the
 * top. Pixels on a PNG; a gradient in SVG and PDF. */
static void draw_colorbar(viz_canvas *cv, double bx, double my, double bw, double map_h)
{
    cairo_t *cr = cv->cr;
    if (viz_canvas_is_vector(cv)) {
        cairo_pattern_t *g = cairo_pattern_create_linear(0, my, 0, my + map_h);
        for (int i = 0; i <= 64; i++) {
            uint8_t rgb[3];
            ember_colormap_viridis(1.0 - i / 64.0, rgb);
            cairo_pattern_add_color_stop_rgb(g, i / 64.0, rgb[0] / 255.0, rgb[1] / 255.0,
                                             rgb[2] / 255.0);
        }
        if (cairo_pattern_status(g) == CAIRO_STATUS_SUCCESS) {
            cairo_rectangle(cr, bx, my, bw, map_h);
            cairo_set_source(cr, g);
            cairo_fill(cr);
        }
        cairo_pattern_destroy(g);
        return;
    }
    cairo_surface_t *strip = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 256);
    if (cairo_surface_status(strip) == CAIRO_STATUS_SUCCESS) {
        cairo_surface_flush(strip);
        uint8_t *sp = cairo_image_surface_get_data(strip);
        int ss = cairo_image_surface_get_stride(strip);
        for (int i = 0; i < 256; i++) {
            uint8_t rgb[3];
            ember_colormap_viridis(1.0 - i / 255.0, rgb); /* high values at the top */
            *(uint32_t *)(sp + (size_t)i * ss) =
                0xff000000u | (uint32_t)rgb[0] << 16 | (uint32_t)rgb[1] << 8 | rgb[2];
        }
        cairo_surface_mark_dirty(strip);
        cairo_save(cr);
        cairo_rectangle(cr, bx, my, bw, map_h);
        cairo_clip(cr);
        cairo_translate(cr, bx, my);
        cairo_scale(cr, bw, map_h / 256.0);
        cairo_set_source_surface(cr, strip, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BILINEAR);
        cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
        cairo_paint(cr);
        cairo_restore(cr);
    }
    cairo_surface_destroy(strip);
}

int ember_plot_heatmap(const ember_heatmap *hm, const ember_figure_opts *fig, ember_png *out,
                       char *err, size_t errlen)
{
    static const ember_figure_opts none = {0};
    if (!fig)
        fig = &none;
    if (!hm || !hm->values || hm->rows <= 0 || hm->cols <= 0 || hm->rows > MAX_SIDE_CELLS ||
        hm->cols > MAX_SIDE_CELLS) {
        viz_seterr(err, errlen, "heat map: need a matrix of 1 to %d rows and columns",
                   MAX_SIDE_CELLS);
        return -1;
    }
    const int R = hm->rows, C = hm->cols;
    double vmin = INFINITY, vmax = -INFINITY;
    for (size_t i = 0; i < (size_t)R * C; i++) {
        double v = hm->values[i];
        if (fabs(v) <= 1e300) { /* beyond that a span overflows: treat as missing */
            vmin = fmin(vmin, v);
            vmax = fmax(vmax, v);
        }
    }
    if (!(vmin <= vmax))
        vmin = 0, vmax = 1; /* nothing finite: an empty map */
    if (hm->has_range && fabs(hm->vmin) <= 1e300 && fabs(hm->vmax) <= 1e300 && hm->vmax > hm->vmin)
        vmin = hm->vmin, vmax = hm->vmax;
    if (vmax <= vmin) {
        vmin -= 0.5;
        vmax += 0.5;
    }

    /* Measure the text around the map with a scratch surface. */
    viz_canvas cv;
    if (viz_canvas_begin(&cv, 16, 16, 1, err, errlen))
        return -1;
    cairo_t *cr = cv.cr;
    index_ticks rt, ct;
    make_index_ticks(R, hm->row_labels != NULL, &rt);
    make_index_ticks(C, hm->col_labels != NULL, &ct);
    viz_use_font(cr, VIZ_FS_TICK, 0);
    double row_w = 0, col_w = 0;
    for (int i = 0; i < rt.n; i++)
        row_w = fmax(row_w, viz_text_width(cr, axis_label(hm->row_labels, &rt, i)));
    for (int i = 0; i < ct.n; i++)
        col_w = fmax(col_w, viz_text_width(cr, axis_label(hm->col_labels, &ct, i)));
    row_w = fmin(row_w, 160);
    col_w = fmin(col_w, 160);
    double cb_step = viz_nice_step(vmin, vmax, 5);
    double cb_ticks[VIZ_MAX_TICKS];
    char cb_label[VIZ_MAX_TICKS][24];
    int cb_n = viz_linear_ticks(vmin, vmax, cb_step, cb_ticks, VIZ_MAX_TICKS);
    double cb_w = 0;
    for (int i = 0; i < cb_n; i++) {
        viz_format_tick(cb_ticks[i], cb_step, cb_label[i], sizeof cb_label[i]);
        cb_w = fmax(cb_w, viz_text_width(cr, cb_label[i]));
    }
    viz_canvas_destroy(&cv);

    const int has_title = fig->title && *fig->title;
    const int has_xl = hm->xlabel && *hm->xlabel, has_yl = hm->ylabel && *hm->ylabel;
    const int has_cbl = hm->colorbar_label && *hm->colorbar_label;
    double left = 12 + (has_yl ? VIZ_FS_LABEL + 10 : 0) + row_w + 8;
    double top = 14 + (has_title ? VIZ_FS_TITLE + 14 : 0);
    double right = 18 + 14 + 8 + cb_w + (has_cbl ? VIZ_FS_LABEL + 12 : 0) + 14;
    double map_side = 380;
    double cell0 = map_side / fmax(R, C);
    int rotate = hm->col_labels && col_w > cell0 - 6;
    double col_h = rotate ? (col_w + VIZ_FS_TICK) * 0.7071 + 6 : VIZ_FS_TICK + 6;
    double bottom = 8 + col_h + 4 + (has_xl ? VIZ_FS_LABEL + 10 : 0) + 6;

    int W = fig->width, H = fig->height;
    double cell;
    if (W > 0 && H > 0)
        cell = fmin((W - left - right) / C, (H - top - bottom) / R);
    else if (W > 0)
        cell = (W - left - right) / C;
    else if (H > 0)
        cell = (H - top - bottom) / R;
    else
        cell = cell0;
    if (!(cell > 0)) {
        viz_seterr(err, errlen, "heat map: the figure is too small for its labels");
        return -1;
    }
    double map_w = cell * C, map_h = cell * R;
    if (W <= 0)
        W = (int)ceil(left + map_w + right);
    if (H <= 0)
        H = (int)ceil(top + map_h + bottom);
    /* Centre the map in whatever room is left. */
    double mx = left + fmax(0, (W - left - right - map_w) / 2);
    double my = top;

    if (viz_canvas_begin_fig(&cv, W, H, fig, err, errlen))
        return -1;
    cr = cv.cr;
    if (viz_canvas_is_vector(&cv) && (size_t)R * C <= VECTOR_CELLS) {
        if (draw_cells_vector(cr, hm, vmin, vmax, mx, my, cell) != 0) {
            viz_seterr(err, errlen, "cairo: %s", cairo_status_to_string(cairo_status(cr)));
            viz_canvas_destroy(&cv);
            return -1;
        }
    } else if (draw_cells_image(cr, hm, vmin, vmax, mx, my, cell, map_w, map_h, err, errlen) != 0) {
        viz_canvas_destroy(&cv);
        return -1;
    }
    cairo_set_line_width(cr, 0.8);
    viz_rgb(cr, VIZ_SPINE);
    cairo_rectangle(cr, mx, my, map_w, map_h);
    cairo_stroke(cr);

    /* Cell annotations. */
    int annotate = hm->annotate > 0 || (hm->annotate == 0 && R * C <= 400 && cell >= 18);
    if (annotate && hm->annotate >= 0) {
        int dec = value_decimals(hm);
        double fs = fmin(12, fmax(6, cell * 0.32));
        char buf[48];
        for (int r = 0; r < R; r++) {
            for (int c = 0; c < C; c++) {
                double v = hm->values[(size_t)r * C + c];
                if (!(fabs(v) <= 1e300))
                    continue;
                snprintf(buf, sizeof buf, "%.*f", dec, v);
                double f = fs;
                viz_use_font(cr, f, 0);
                while (f > 6 && viz_text_width(cr, buf) > cell - 3)
                    viz_use_font(cr, f -= 0.5, 0);
                if (viz_text_width(cr, buf) > cell - 2)
                    continue;
                uint8_t rgb[3];
                ember_colormap_viridis((v - vmin) / (vmax - vmin), rgb);
                double lum = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255;
                viz_rgb(cr, lum > 0.5 ? 0x1a1a1a : 0xffffff);
                viz_text(cr, mx + (c + 0.5) * cell, my + (r + 0.5) * cell, buf, 0.5, 0.5, 0);
            }
        }
    }

    /* Row and column ticks. */
    viz_use_font(cr, VIZ_FS_TICK, 0);
    char buf[256];
    for (int i = 0; i < rt.n; i++) {
        double Y = my + (rt.pos[i] + 0.5) * cell;
        viz_rgb(cr, VIZ_SPINE);
        cairo_move_to(cr, mx - 4, Y);
        cairo_line_to(cr, mx, Y);
        cairo_stroke(cr);
        viz_fit_text(cr, axis_label(hm->row_labels, &rt, i), row_w, buf, sizeof buf);
        viz_rgb(cr, VIZ_TICK_INK);
        viz_text(cr, mx - 7, Y, buf, 1, 0.5, 0);
    }
    for (int i = 0; i < ct.n; i++) {
        double X = mx + (ct.pos[i] + 0.5) * cell;
        viz_rgb(cr, VIZ_SPINE);
        cairo_move_to(cr, X, my + map_h);
        cairo_line_to(cr, X, my + map_h + 4);
        cairo_stroke(cr);
        viz_fit_text(cr, axis_label(hm->col_labels, &ct, i), col_w, buf, sizeof buf);
        viz_rgb(cr, VIZ_TICK_INK);
        if (rotate)
            viz_text(cr, X + 3, my + map_h + 8, buf, 1, 0.5, -M_PI / 4);
        else
            viz_text(cr, X, my + map_h + 7, buf, 0.5, 0, 0);
    }

    /* Colour bar: a smooth strip of the map's colours with value ticks. */
    double bx = mx + map_w + 18, bw = 14;
    draw_colorbar(&cv, bx, my, bw, map_h);
    viz_rgb(cr, VIZ_SPINE);
    cairo_rectangle(cr, bx, my, bw, map_h);
    cairo_stroke(cr);
    for (int i = 0; i < cb_n; i++) {
        double Y = my + map_h - (cb_ticks[i] - vmin) / (vmax - vmin) * map_h;
        viz_rgb(cr, VIZ_SPINE);
        cairo_move_to(cr, bx + bw, Y);
        cairo_line_to(cr, bx + bw + 4, Y);
        cairo_stroke(cr);
        viz_rgb(cr, VIZ_TICK_INK);
        viz_text(cr, bx + bw + 7, Y, cb_label[i], 0, 0.5, 0);
    }

    viz_rgb(cr, VIZ_INK);
    viz_use_font(cr, VIZ_FS_LABEL, 0);
    if (has_cbl) {
        viz_fit_text(cr, hm->colorbar_label, map_h, buf, sizeof buf);
        viz_text(cr, bx + bw + 8 + cb_w + 8, my + map_h / 2, buf, 0.5, 0, -M_PI / 2);
        viz_rgb(cr, VIZ_INK);
    }
    if (has_xl) {
        viz_fit_text(cr, hm->xlabel, W - 20, buf, sizeof buf);
        viz_text(cr, mx + map_w / 2, my + map_h + 8 + col_h + 4, buf, 0.5, 0, 0);
    }
    if (has_yl) {
        viz_fit_text(cr, hm->ylabel, map_h, buf, sizeof buf);
        viz_text(cr, mx - 8 - row_w - 10 - VIZ_FS_LABEL, my + map_h / 2, buf, 0.5, 0, -M_PI / 2);
    }
    if (has_title) {
        viz_use_font(cr, VIZ_FS_TITLE, 1);
        viz_fit_text(cr, fig->title, W - 20, buf, sizeof buf);
        viz_text(cr, mx + map_w / 2, 14, buf, 0.5, 0, 0);
    }
    return viz_canvas_finish(&cv, out, err, errlen);
}
