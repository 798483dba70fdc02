/* canvas.h — the drawing surface shared by the plot sources: a white cairo
 * image surface at `scale` pixels per logical pixel, text helpers that use
 * the plot font, and the step from surface to PNG. Internal to viz. */
#ifndef EMBER_VIZ_CANVAS_H
#define EMBER_VIZ_CANVAS_H

#include "plot.h"

#include <cairo.h>
#include <stddef.h>
#include <stdint.h>

typedef struct viz_canvas {
    cairo_surface_t *surf;
    cairo_t *cr;
    int w, h;     /* logical size */
    double scale; /* pixels per logical pixel; for SVG and PDF, the density
                   * at which embedded pictures keep their detail */
    ember_figure_format format;
    /* SVG / PDF: the bytes cairo streams out */
    uint8_t *buf;
    size_t len, cap;
    int oom;
} viz_canvas;

/* Logical sizes are clamped to [16, 8192]; scale to [0.5, 4]. */
int viz_canvas_begin(viz_canvas *cv, int w, int h, double scale, char *err, size_t errlen);
/* The same for a figure in any format (fig->format); a PNG canvas at
 * fig->scale. */
int viz_canvas_begin_fig(viz_canvas *cv, int w, int h, const ember_figure_opts *fig, char *err,
                         size_t errlen);
/* 1 for an SVG or PDF canvas: drawing code then prefers vector shapes to
 * pixel patterns (heat-map cells, the colour bar). */
int viz_canvas_is_vector(const viz_canvas *cv);
/* Encodes the surface (PNG) or ends the document (SVG, PDF) into out and
 * destroys the canvas either way. */
int viz_canvas_finish(viz_canvas *cv, ember_png *out, char *err, size_t errlen);
void viz_canvas_destroy(viz_canvas *cv);

/* The plot font (DejaVu Sans, regular or bold); never NULL. Defined in font.c. */
cairo_font_face_t *viz_font_face(int bold);

void viz_use_font(cairo_t *cr, double size, int bold);
void viz_rgb(cairo_t *cr, uint32_t hex);
void viz_rgba(cairo_t *cr, uint32_t hex, double alpha);
double viz_text_width(cairo_t *cr, const char *s);
/* Draws s with its anchor at (x, y): ha 0 left .. 1 right; va 0 top, 0.5
 * middle (of the digits' height), 1 bottom; turned by angle radians about
 * the anchor. Uses the current font and source. */
void viz_text(cairo_t *cr, double x, double y, const char *s, double ha, double va, double angle);
/* Copies s into buf, shortened with an ellipsis to fit max_w. */
void viz_fit_text(cairo_t *cr, const char *s, double max_w, char *buf, size_t len);

/* House style, shared so every figure looks like one family. */
#define VIZ_INK 0x262626        /* titles, axis labels */
#define VIZ_TICK_INK 0x555555   /* tick labels */
#define VIZ_GRID 0xe6e6e6
#define VIZ_SPINE 0xb3b3b3
#define VIZ_FS_TITLE 15.0       /* figure title */
#define VIZ_FS_AXTITLE 13.0     /* panel title */
#define VIZ_FS_LABEL 12.0       /* axis labels */
#define VIZ_FS_TICK 10.5        /* tick labels, legend, captions */

/* Palette for series: matplotlib's "tab10". */
uint32_t viz_series_colour(size_t i);

#endif
