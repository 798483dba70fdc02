/* plot.h — figures drawn with cairo: line plots in side-by-side panels, heat
 * maps with a colour bar, image grids with captions. Each call renders a whole
 * figure at `scale` pixels per logical pixel (2 by default, for sharp output
 * on high-density screens) and returns the PNG bytes together with the
 * logical size a front end should display it at, i.e. the values for
 * {"image/png": {"width": W, "height": H}} in display metadata. */
#ifndef EMBER_VIZ_PLOT_H
#define EMBER_VIZ_PLOT_H

#include "image.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A rendered figure: PNG file bytes, or SVG / PDF when the figure options
 * asked for a vector format (the name stays: PNG is what a figure is for
 * display; the vector forms are for files). */
typedef struct ember_png {
    uint8_t *data; /* the file's bytes, malloc'd; release with ember_png_free */
    size_t size;
    int width, height;             /* logical (CSS) pixels for display metadata */
    int pixel_width, pixel_height; /* the PNG's own size: width*scale, height*scale
                                    * (the logical size for SVG and PDF) */
} ember_png;

void ember_png_free(ember_png *p);

/* Encodes an image for display at its own size (scale 1). */
int ember_image_to_png(const ember_image *img, ember_png *out, char *err, size_t errlen);

/* What a figure is drawn into. The vector forms are the same drawing at
 * the logical size (1 unit a CSS pixel in SVG, a point in PDF): text, lines
 * and heat-map cells stay vectors; only pictures (photos, dense maps) are
 * embedded as images, at the figure's scale. */
typedef enum ember_figure_format {
    EMBER_FIGURE_PNG = 0,
    EMBER_FIGURE_SVG,
    EMBER_FIGURE_PDF,
} ember_figure_format;

typedef struct ember_figure_opts {
    const char *title; /* over the whole figure; NULL for none */
    int width, height; /* logical pixels; 0 picks a size that suits the content */
    double scale;      /* pixel density; 0 means 2 */
    ember_figure_format format; /* PNG unless asked */
} ember_figure_opts;

typedef struct ember_series {
    const char *label; /* legend entry; NULL or "" leaves it out of the legend */
    const double *x;   /* NULL: 0, 1, 2, ... */
    const double *y;   /* NaN and +-inf values break the line */
    size_t n;
    int marker;        /* 0 auto (dots when there are few points), 1 always, -1 never */
} ember_series;

typedef struct ember_axes {
    const char *title, *xlabel, *ylabel;
    const ember_series *series;
    size_t nseries;
    int logy;           /* log10 y axis; values <= 0 are left out */
    int legend;         /* 0 auto (when any series has a label), 1 on, -1 off */
    int has_ylim;       /* use ymin/ymax instead of the data range */
    double ymin, ymax;
    int grid;           /* 0 or 1: light grid lines at the ticks (default); -1: none */
} ember_axes;

/* Line plots, one panel per ember_axes, side by side (e.g. loss | accuracy). */
int ember_plot_lines(const ember_axes *panels, size_t npanels, const ember_figure_opts *fig,
                     ember_png *out, char *err, size_t errlen);

typedef struct ember_heatmap {
    const double *values; /* rows x cols, row-major; NaN cells are left blank */
    int rows, cols;
    const char *xlabel, *ylabel, *colorbar_label;
    const char *const *row_labels; /* rows entries, or NULL for index ticks */
    const char *const *col_labels; /* cols entries, or NULL */
    int annotate;   /* 0 auto (small matrices), 1 on, -1 off */
    int has_range;  /* use vmin/vmax instead of the data range */
    double vmin, vmax;
} ember_heatmap;

/* A heat map with a viridis colour bar: confusion matrices, masks. */
int ember_plot_heatmap(const ember_heatmap *hm, const ember_figure_opts *fig, ember_png *out,
                       char *err, size_t errlen);

/* Images in a grid, cols per row (0: about square), each with an optional
 * caption (captions may be NULL, or hold NULL entries). */
int ember_plot_image_grid(const ember_image *const *images, const char *const *captions,
                          size_t n, int cols, const ember_figure_opts *fig, ember_png *out,
                          char *err, size_t errlen);

/* Draws a legend on img (RGB, changed in place) in its top-left corner:
 * one row per label with a swatch filled exactly with its colour (a thin
 * dark outline around it, so the swatch's own pixels are the colour) and
 * the label in the plot font, on a translucent white box. The text size
 * follows the picture's (8 to 20 pixels, smaller when many rows must fit);
 * long labels end in an ellipsis; a picture too small to hold any of it
 * is left as it is. */
int ember_image_draw_legend(ember_image *img, const char *const *labels,
                            const uint8_t (*colors)[3], size_t n, char *err, size_t errlen);

/* The colour map used by heat maps: t in [0,1] to RGB (viridis). */
void ember_colormap_viridis(double t, uint8_t rgb[3]);

/* 1 when plots use DejaVu Sans, 0 when it was not found and cairo's default
 * sans-serif font stands in (a warning is printed once). */
int ember_viz_font_is_dejavu(void);

#ifdef __cplusplus
}
#endif
#endif
