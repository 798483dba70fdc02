/* bind_plot.c — plot values in the language: plot(), figure(), heatmap()
 * and image_grid(). A plot value holds its rendered PNG (2x density, with
 * the logical size in the display metadata) and what it was drawn from:
 * line plots their panels, so figure() can redraw several side by side;
 * every kind a way to draw itself again, so save() writes SVG and PDF as
 * vector documents at the logical size rather than a picture in a frame. */
#include "bind.h"
#include "viz/codec.h"
#include "viz/mime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits that keep a figure's pixels within a few hundred MB at 2x. */
#define MAX_SIDE 3000
#define MIN_SIDE 64
#define MAX_PANELS 8
#define MAX_SERIES 64
#define MAX_GRID_IMAGES 400
#define MAX_GRID_COLS 40

typedef struct vp_series {
    char *label;
    double *x; /* NULL: 0, 1, 2... */
    double *y;
    size_t n;
} vp_series;

typedef struct vp_panel {
    char *title, *xlabel, *ylabel;
    vp_series *series;
    size_t nseries;
    int logy, has_ylim, grid;
    double ymin, ymax;
} vp_panel;

typedef struct viz_plot {
    char *text;       /* the text/plain line */
    ember_png png;
    vp_panel *panels; /* line plots only: what figure() redraws */
    size_t npanels;
    char *title;      /* line plots: the figure's title and asked size */
    int w, h;
    /* every other kind: how to draw it again (NULL: a picture only) */
    viz_redraw_fn redraw;
    void *redraw_ctx;
    void (*redraw_free)(void *);
} viz_plot;

static void panel_clear(vp_panel *p)
{
    for (size_t i = 0; i < p->nseries; i++) {
        free(p->series[i].label);
        free(p->series[i].x);
        free(p->series[i].y);
    }
    free(p->series);
    free(p->title);
    free(p->xlabel);
    free(p->ylabel);
    memset(p, 0, sizeof *p);
}

static void plot_free(void *data)
{
    viz_plot *p = data;
    for (size_t i = 0; i < p->npanels; i++)
        panel_clear(&p->panels[i]);
    free(p->panels);
    free(p->title);
    if (p->redraw_free)
        p->redraw_free(p->redraw_ctx);
    ember_png_free(&p->png);
    free(p->text);
    free(p);
}

static int render_lines(const vp_panel *panels, size_t np, const char *title, int w, int h,
                        ember_figure_format fmt, ember_png *out, char *err, size_t errlen);

/* The figure in another format. */
static int plot_redraw(const viz_plot *p, ember_figure_format fmt, ember_png *out, char *err,
                       size_t errlen)
{
    if (p->npanels)
        return render_lines(p->panels, p->npanels, p->title, p->w, p->h, fmt, out, err, errlen);
    if (p->redraw)
        return p->redraw(p->redraw_ctx, fmt, out, err, errlen);
    snprintf(err, errlen, "this plot was made from a finished picture and saves as .png only");
    return -1;
}

static const viz_plot *plot_of(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &viz_plot_type)
        return NULL;
    return v->as.obj.data;
}

static char *plot_repr(const lang_value *self) { return strdup(plot_of(self)->text); }

static json_t *plot_mime(const lang_value *self)
{
    const viz_plot *p = plot_of(self);
    json_t *data = NULL, *meta = NULL;
    char err[128];
    if (ember_png_bundle(&p->png, p->text, &data, &meta, err, sizeof err) != 0)
        return NULL;
    json_decref(meta);
    return data;
}

/* The logical size, so the 2x PNG shows sharp at its intended size. */
static json_t *plot_mime_metadata(const lang_value *self)
{
    const viz_plot *p = plot_of(self);
    return json_pack("{s:{s:i, s:i}}", "image/png", "width", p->png.width, "height", p->png.height);
}

static lang_value *plot_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const viz_plot *p = plot_of(self);
    if (!strcmp(name, "width"))
        return lang_int(p->png.width);
    if (!strcmp(name, "height"))
        return lang_int(p->png.height);
    return NULL;
}

static void plot_attr_names(const lang_value *self, void (*add)(void *acc, const char *name),
                            void *acc)
{
    (void)self;
    add(acc, "width");
    add(acc, "height");
}

/* save(path): .png as shown (2x density); .svg and .pdf drawn again as
 * vector documents at the logical size. */
static lang_value *m_plot_save(lang_ctx *cx, const lang_args *a)
{
    const char *path;
    if (viz_save_path(cx, a, &path) < 0)
        return NULL;
    const viz_plot *p = plot_of(a->self);
    char ext[16];
    viz_save_ext(path, ext, sizeof ext);
    ember_figure_format fmt;
    if (!strcmp(ext, ".png"))
        return viz_write_file(cx, a->fname, path, p->png.data, p->png.size) == 0 ? lang_none()
                                                                                  : NULL;
    else if (!strcmp(ext, ".svg"))
        fmt = EMBER_FIGURE_SVG;
    else if (!strcmp(ext, ".pdf"))
        fmt = EMBER_FIGURE_PDF;
    else
        return viz_save_unsupported(cx, a->fname, path, "a plot", ".png, .svg or .pdf");
    ember_png doc;
    char err[512];
    if (plot_redraw(p, fmt, &doc, err, sizeof err) != 0)
        return lang_raise(cx, strstr(err, "out of memory") ? "MemoryError" : "ValueError",
                          "%s: %s", a->fname, err);
    int rc = viz_write_file(cx, a->fname, path, doc.data, doc.size);
    ember_png_free(&doc);
    return rc == 0 ? lang_none() : NULL;
}

/* The figure as an image value (at its 2x pixel size), e.g. to tile plots
 * with image_grid or to save them next to photos. */
static lang_value *m_plot_image(lang_ctx *cx, const lang_args *a)
{
    const viz_plot *p = plot_of(a->self);
    ember_image img;
    char err[256];
    if (ember_png_decode(p->png.data, p->png.size, &img, err, sizeof err) != 0)
        return lang_raise(cx, "ValueError", "plot.image: %s", err);
    lang_value *v = viz_image_value(&img);
    return v ? v : lang_raise(cx, "MemoryError", "plot.image: out of memory");
}

static const lang_builtin plot_methods[] = {
    {"save(path)",
     "Write the figure to path in the format its extension names: .png (as shown, at 2x pixel "
     "density), .svg or .pdf (drawn again as vectors at the display size: text and lines stay "
     "sharp at any zoom). Atomic: a failed save leaves an earlier file as it was. "
     "save(plot, path) is the same.",
     m_plot_save},
    {"image()", "The figure as an image value (its pixels at 2x density), e.g. for image_grid.",
     m_plot_image},
};

const lang_type viz_plot_type = {
    .name = "plot",
    .doc = "plot: a figure drawn by plot(), figure(), heatmap() or image_grid(), shown as a sharp "
           "PNG (drawn at twice its display size). Attributes: width, height (display size in "
           "pixels). Methods: save(path) (.png, .svg, .pdf), image().",
    .free = plot_free,
    .repr = plot_repr,
    .mime = plot_mime,
    .mime_metadata = plot_mime_metadata,
    .getattr = plot_getattr,
    .attr_names = plot_attr_names,
    .methods = plot_methods,
    .nmethods = sizeof plot_methods / sizeof *plot_methods,
};

/* Takes p (freed on failure). */
static lang_value *plot_value(lang_ctx *cx, viz_plot *p)
{
    lang_value *v = lang_object(&viz_plot_type, p);
    return v ? v : lang_raise(cx, "MemoryError", "out of memory");
}

/* Gives a rendered plot its text form ("<plot 640x400 'Loss', 2 lines>") and
 * wraps it as a value; frees p on failure. */
static lang_value *plot_finish(lang_ctx *cx, viz_plot *p, const char *kind, const char *title,
                               const char *detail)
{
    char text[256];
    snprintf(text, sizeof text, "<%s %dx%d%s%.120s%s, %s>", kind, p->png.width, p->png.height,
             title ? " '" : "", title ? title : "", title ? "'" : "", detail);
    p->text = strdup(text);
    if (!p->text) {
        plot_free(p);
        return lang_raise(cx, "MemoryError", "%s: out of memory", kind);
    }
    return plot_value(cx, p);
}

lang_value *viz_plot_from_render(lang_ctx *cx, ember_png *png, viz_redraw_fn redraw, void *ctx,
                                 void (*ctx_free)(void *), const char *kind, const char *title,
                                 const char *detail)
{
    viz_plot *p = calloc(1, sizeof *p);
    if (!p) {
        ember_png_free(png);
        if (ctx_free)
            ctx_free(ctx);
        return lang_raise(cx, "MemoryError", "%s: out of memory", kind);
    }
    p->png = *png;
    memset(png, 0, sizeof *png);
    p->redraw = redraw;
    p->redraw_ctx = ctx;
    p->redraw_free = ctx_free;
    return plot_finish(cx, p, kind, title, detail);
}

lang_value *viz_plot_from_png(lang_ctx *cx, ember_png *png, const char *kind, const char *title,
                              const char *detail)
{
    return viz_plot_from_render(cx, png, NULL, NULL, NULL, kind, title, detail);
}

/* ---- argument helpers ---- */

static int is_number(const lang_value *v) { return v->kind == LANG_INT || v->kind == LANG_FLOAT; }

static double number_of(const lang_value *v)
{
    return v->kind == LANG_INT ? (double)v->as.i : v->kind == LANG_FLOAT ? v->as.f : NAN;
}

/* A list of numbers (none counts as a gap). */
static int is_number_list(const lang_value *v)
{
    if (v->kind != LANG_LIST)
        return 0;
    for (size_t i = 0; i < v->as.list.len; i++) {
        const lang_value *x = v->as.list.items[i];
        if (!is_number(x) && x->kind != LANG_NONE)
            return 0;
    }
    return 1;
}

static double *number_array(const lang_value *v)
{
    size_t n = v->as.list.len;
    double *out = malloc((n ? n : 1) * sizeof *out);
    if (out)
        for (size_t i = 0; i < n; i++)
            out[i] = number_of(v->as.list.items[i]);
    return out;
}

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

/* An optional string argument: none gives NULL. */
static int opt_str(lang_ctx *cx, const lang_args *a, size_t i, const char **out)
{
    *out = NULL;
    if (a->v[i]->kind == LANG_NONE)
        return 0;
    return lang_arg_str(cx, a, i, out);
}

/* width / height: 0 (automatic) or MIN_SIDE..MAX_SIDE logical pixels. */
static int size_arg(lang_ctx *cx, const lang_args *a, size_t i, int *out)
{
    int64_t v;
    if (lang_arg_int(cx, a, i, &v) < 0)
        return -1;
    if (v != 0 && (v < MIN_SIDE || v > MAX_SIDE)) {
        char want[96];
        snprintf(want, sizeof want, "0 (automatic) or from %d to %d pixels", MIN_SIDE, MAX_SIDE);
        lang_arg_error(cx, a, i, "ValueError", want);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* none, or a list of n strings (none entries allowed): a malloc'd array of
 * borrowed pointers in *out (NULL for none). */
static int str_list_arg(lang_ctx *cx, const lang_args *a, size_t i, size_t n, const char ***out)
{
    *out = NULL;
    const lang_value *v = a->v[i];
    if (v->kind == LANG_NONE)
        return 0;
    char want[96];
    snprintf(want, sizeof want, "a list of %zu strings", n);
    if (v->kind != LANG_LIST || v->as.list.len != n) {
        lang_arg_error(cx, a, i, v->kind == LANG_LIST ? "ValueError" : "TypeError", want);
        return -1;
    }
    const char **arr = calloc(n ? n : 1, sizeof *arr);
    if (!arr) {
        lang_raise(cx, "MemoryError", "%s: out of memory", a->fname);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        const lang_value *s = v->as.list.items[k];
        if (s->kind == LANG_STR)
            arr[k] = s->as.str.ptr;
        else if (s->kind != LANG_NONE) {
            free(arr);
            lang_arg_error(cx, a, i, "TypeError", want);
            return -1;
        }
    }
    *out = arr;
    return 0;
}

/* ---- line plots ---- */

static int render_lines(const vp_panel *panels, size_t np, const char *title, int w, int h,
                        ember_figure_format fmt, ember_png *out, char *err, size_t errlen)
{
    ember_axes axes[MAX_PANELS];
    ember_series *all = calloc(np * MAX_SERIES, sizeof *all);
    if (!all) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < np; i++) {
        const vp_panel *p = &panels[i];
        ember_series *s = all + i * MAX_SERIES;
        for (size_t k = 0; k < p->nseries; k++)
            s[k] = (ember_series){.label = p->series[k].label, .x = p->series[k].x,
                                  .y = p->series[k].y, .n = p->series[k].n};
        axes[i] = (ember_axes){.title = p->title, .xlabel = p->xlabel, .ylabel = p->ylabel,
                               .series = s, .nseries = p->nseries, .logy = p->logy,
                               .has_ylim = p->has_ylim, .ymin = p->ymin, .ymax = p->ymax,
                               .grid = p->grid};
    }
    ember_figure_opts fig = {.title = title, .width = w, .height = h, .scale = 2, .format = fmt};
    int rc = ember_plot_lines(axes, np, &fig, out, err, errlen);
    free(all);
    return rc;
}

/* Reads plot()'s y, x and labels into one panel. */
static int read_series(lang_ctx *cx, const lang_args *a, vp_panel *p)
{
    const lang_value *y = a->v[0], *x = a->v[1], *labels = a->v[2];
    if (y->kind != LANG_LIST || y->as.list.len == 0) {
        lang_arg_error(cx, a, 0, y->kind == LANG_LIST ? "ValueError" : "TypeError",
                       "a non-empty list of numbers, or a list of such lists (one per line)");
        return -1;
    }
    int several = !is_number_list(y);
    size_t ns = several ? y->as.list.len : 1;
    if (several) {
        for (size_t i = 0; i < ns; i++)
            if (!is_number_list(y->as.list.items[i]) || y->as.list.items[i]->as.list.len == 0) {
                lang_raise(cx, "TypeError",
                           "plot: y must be a list of numbers, or a list of such lists (one per "
                           "line); item %zu is not a non-empty list of numbers",
                           i);
                return -1;
            }
    }
    if (ns > MAX_SERIES) {
        lang_raise(cx, "ValueError", "plot: at most %d lines in one plot, got %zu", MAX_SERIES, ns);
        return -1;
    }
    /* x: none, one list for every line, or one list per line */
    int x_per_series = 0;
    if (x->kind != LANG_NONE) {
        if (is_number_list(x))
            x_per_series = 0;
        else if (x->kind == LANG_LIST && x->as.list.len == ns) {
            for (size_t i = 0; i < ns; i++)
                if (!is_number_list(x->as.list.items[i])) {
                    lang_arg_error(cx, a, 1, "TypeError", "a list of numbers, or one such list per line");
                    return -1;
                }
            x_per_series = 1;
        } else {
            lang_arg_error(cx, a, 1, "TypeError", "a list of numbers, or one such list per line");
            return -1;
        }
    }
    const char **lab = NULL;
    const char *one_label = NULL;
    if (labels->kind == LANG_STR && ns == 1)
        one_label = labels->as.str.ptr;
    else if (str_list_arg(cx, a, 2, ns, &lab) < 0)
        return -1;
    p->series = calloc(ns, sizeof *p->series);
    if (!p->series) {
        free(lab);
        lang_raise(cx, "MemoryError", "plot: out of memory");
        return -1;
    }
    p->nseries = ns;
    for (size_t i = 0; i < ns; i++) {
        const lang_value *yi = several ? y->as.list.items[i] : y;
        vp_series *s = &p->series[i];
        s->n = yi->as.list.len;
        s->y = number_array(yi);
        s->label = dup_or_null(one_label ? one_label : lab ? lab[i] : NULL);
        const lang_value *xi = x->kind == LANG_NONE ? NULL : x_per_series ? x->as.list.items[i] : x;
        if (xi) {
            if (xi->as.list.len != s->n) {
                free(lab);
                lang_raise(cx, "ValueError",
                           "plot: x has %zu values but line %zu has %zu; give one x value per y value",
                           xi->as.list.len, i, s->n);
                return -1;
            }
            s->x = number_array(xi);
        }
        if (!s->y || (xi && !s->x)) {
            free(lab);
            lang_raise(cx, "MemoryError", "plot: out of memory");
            return -1;
        }
    }
    free(lab);
    return 0;
}

/* plot(run): values that know how to draw themselves (a training run...)
 * carry a plot() method taking no arguments; plot(v) calls it. */
static const lang_builtin *self_plot_method(const lang_value *v)
{
    if (v->kind != LANG_OBJECT)
        return NULL;
    const lang_type *t = v->as.obj.type;
    for (size_t i = 0; i < t->nmethods; i++)
        if (!strcmp(t->methods[i].signature, "plot()"))
            return &t->methods[i];
    return NULL;
}

static lang_value *b_plot(lang_ctx *cx, const lang_args *a)
{
    /* plot(y, x, labels, title, xlabel, ylabel, logy, ylim, grid, width, height) */
    const char *title, *xlabel, *ylabel;
    int logy, grid, w, h;
    const lang_builtin *own = self_plot_method(a->v[0]);
    if (own) {
        lang_args self = {.fname = "plot", .self = a->v[0]};
        return own->fn(cx, &self);
    }
    if (opt_str(cx, a, 3, &title) < 0 || opt_str(cx, a, 4, &xlabel) < 0 ||
        opt_str(cx, a, 5, &ylabel) < 0 || lang_arg_bool(cx, a, 6, &logy) < 0 ||
        lang_arg_bool(cx, a, 8, &grid) < 0 || size_arg(cx, a, 9, &w) < 0 ||
        size_arg(cx, a, 10, &h) < 0)
        return NULL;
    viz_plot *p = calloc(1, sizeof *p);
    if (p)
        p->panels = calloc(1, sizeof *p->panels);
    if (!p || !p->panels) {
        free(p);
        return lang_raise(cx, "MemoryError", "plot: out of memory");
    }
    p->npanels = 1;
    vp_panel *pn = &p->panels[0];
    const lang_value *ylim = a->v[7];
    if (ylim->kind != LANG_NONE) {
        if (ylim->kind != LANG_LIST || ylim->as.list.len != 2 || !is_number(ylim->as.list.items[0]) ||
            !is_number(ylim->as.list.items[1]) ||
            !(number_of(ylim->as.list.items[0]) < number_of(ylim->as.list.items[1]))) {
            plot_free(p);
            return lang_arg_error(cx, a, 7, "ValueError", "none or [low, high] with low < high");
        }
        pn->has_ylim = 1;
        pn->ymin = number_of(ylim->as.list.items[0]);
        pn->ymax = number_of(ylim->as.list.items[1]);
    }
    pn->logy = logy;
    pn->grid = grid ? 1 : -1;
    pn->title = dup_or_null(title);
    pn->xlabel = dup_or_null(xlabel);
    pn->ylabel = dup_or_null(ylabel);
    if (read_series(cx, a, pn) < 0) {
        plot_free(p);
        return NULL;
    }
    p->w = w;
    p->h = h;
    char err[512];
    if (render_lines(p->panels, 1, NULL, w, h, EMBER_FIGURE_PNG, &p->png, err, sizeof err) != 0) {
        plot_free(p);
        return lang_raise(cx, "ValueError", "plot: %s", err);
    }
    char detail[64];
    snprintf(detail, sizeof detail, "%zu line%s", pn->nseries, pn->nseries == 1 ? "" : "s");
    return plot_finish(cx, p, "plot", title, detail);
}

static int panel_copy(const vp_panel *src, vp_panel *dst)
{
    memset(dst, 0, sizeof *dst);
    *dst = (vp_panel){.logy = src->logy, .has_ylim = src->has_ylim, .ymin = src->ymin,
                      .ymax = src->ymax, .grid = src->grid};
    dst->title = dup_or_null(src->title);
    dst->xlabel = dup_or_null(src->xlabel);
    dst->ylabel = dup_or_null(src->ylabel);
    dst->series = calloc(src->nseries ? src->nseries : 1, sizeof *dst->series);
    if (!dst->series)
        return -1;
    dst->nseries = src->nseries;
    for (size_t i = 0; i < src->nseries; i++) {
        const vp_series *s = &src->series[i];
        vp_series *d = &dst->series[i];
        d->n = s->n;
        d->label = dup_or_null(s->label);
        d->y = malloc((s->n ? s->n : 1) * sizeof *d->y);
        if (!d->y)
            return -1;
        memcpy(d->y, s->y, s->n * sizeof *d->y);
        if (s->x) {
            d->x = malloc((s->n ? s->n : 1) * sizeof *d->x);
            if (!d->x)
                return -1;
            memcpy(d->x, s->x, s->n * sizeof *d->x);
        }
    }
    return 0;
}

static lang_value *b_figure(lang_ctx *cx, const lang_args *a)
{
    /* figure(*plots, title, width, height) */
    const char *title;
    int w, h;
    if (opt_str(cx, a, 0, &title) < 0 || size_arg(cx, a, 1, &w) < 0 || size_arg(cx, a, 2, &h) < 0)
        return NULL;
    if (a->nrest == 0)
        return lang_raise(cx, "TypeError", "figure: give the plots to put side by side, e.g. "
                                           "figure(plot(loss), plot(acc))");
    size_t total = 0;
    for (size_t i = 0; i < a->nrest; i++) {
        const viz_plot *q = plot_of(a->rest[i]);
        if (!q || q->npanels == 0)
            return lang_raise(cx, "TypeError",
                              "figure: argument %zu is %s%s; figure() puts line plots made by "
                              "plot() side by side",
                              i + 1, q ? "a heat map or image grid" : "of type ",
                              q ? "" : lang_type_name(a->rest[i]));
        total += q->npanels;
    }
    if (total > MAX_PANELS)
        return lang_raise(cx, "ValueError", "figure: at most %d panels side by side, got %zu",
                          MAX_PANELS, total);
    viz_plot *p = calloc(1, sizeof *p);
    if (p)
        p->panels = calloc(total, sizeof *p->panels);
    if (!p || !p->panels) {
        free(p);
        return lang_raise(cx, "MemoryError", "figure: out of memory");
    }
    for (size_t i = 0; i < a->nrest; i++) {
        const viz_plot *q = plot_of(a->rest[i]);
        for (size_t k = 0; k < q->npanels; k++) {
            int rc = panel_copy(&q->panels[k], &p->panels[p->npanels]);
            p->npanels++;
            if (rc < 0) {
                plot_free(p);
                return lang_raise(cx, "MemoryError", "figure: out of memory");
            }
        }
    }
    p->title = dup_or_null(title);
    p->w = w;
    p->h = h;
    char err[512];
    if ((title && *title && !p->title) ||
        render_lines(p->panels, p->npanels, title, w, h, EMBER_FIGURE_PNG, &p->png, err,
                     sizeof err) != 0) {
        if (title && *title && !p->title)
            snprintf(err, sizeof err, "out of memory");
        plot_free(p);
        return lang_raise(cx, "ValueError", "figure: %s", err);
    }
    char detail[64];
    snprintf(detail, sizeof detail, "%zu panels", p->npanels);
    return plot_finish(cx, p, "figure", title, detail);
}

/* ---- what heat maps and grids were drawn from, to draw them again ---- */

/* A copy of n strings (NULL entries kept); NULL for src NULL or when out
 * of memory (*oom then set). */
static char **dup_strs(const char *const *src, size_t n, int *oom)
{
    if (!src)
        return NULL;
    char **d = calloc(n ? n : 1, sizeof *d);
    if (!d) {
        *oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (src[i] && !(d[i] = strdup(src[i])))
            *oom = 1;
    return d;
}

static void free_strs(char **s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

static char *dup_opt(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = 1;
    return d;
}

typedef struct hm_spec {
    ember_heatmap hm; /* its pointers point into this struct's copies */
    double *values;
    char **row_labels, **col_labels;
    char *xlabel, *ylabel, *cblabel, *title;
    int w, h;
} hm_spec;

static void hm_spec_free(void *data)
{
    hm_spec *s = data;
    if (!s)
        return;
    free(s->values);
    free_strs(s->row_labels, (size_t)s->hm.rows);
    free_strs(s->col_labels, (size_t)s->hm.cols);
    free(s->xlabel), free(s->ylabel), free(s->cblabel), free(s->title);
    free(s);
}

static hm_spec *hm_spec_new(const ember_heatmap *hm, const char *title, int w, int h)
{
    hm_spec *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    int oom = 0;
    size_t cells = (size_t)hm->rows * hm->cols;
    s->hm = *hm; /* first: hm_spec_free reads rows and cols */
    s->values = malloc(cells * sizeof *s->values);
    if (s->values)
        memcpy(s->values, hm->values, cells * sizeof *s->values);
    s->row_labels = dup_strs(hm->row_labels, (size_t)hm->rows, &oom);
    s->col_labels = dup_strs(hm->col_labels, (size_t)hm->cols, &oom);
    s->xlabel = dup_opt(hm->xlabel, &oom);
    s->ylabel = dup_opt(hm->ylabel, &oom);
    s->cblabel = dup_opt(hm->colorbar_label, &oom);
    s->title = dup_opt(title, &oom);
    if (oom || !s->values) {
        hm_spec_free(s);
        return NULL;
    }
    s->hm.values = s->values;
    s->hm.row_labels = (const char *const *)s->row_labels;
    s->hm.col_labels = (const char *const *)s->col_labels;
    s->hm.xlabel = s->xlabel;
    s->hm.ylabel = s->ylabel;
    s->hm.colorbar_label = s->cblabel;
    s->w = w;
    s->h = h;
    return s;
}

static int hm_redraw(void *ctx, ember_figure_format fmt, ember_png *out, char *err, size_t errlen)
{
    const hm_spec *s = ctx;
    ember_figure_opts fig = {.title = s->title, .width = s->w, .height = s->h, .scale = 2,
                             .format = fmt};
    return ember_plot_heatmap(&s->hm, &fig, out, err, errlen);
}

/* Grids keep their images as values (immutable, so a reference is enough). */
typedef struct grid_spec {
    lang_value **images;
    char **captions;
    size_t n;
    int cols;
    char *title;
    int w, h;
} grid_spec;

static void grid_spec_free(void *data)
{
    grid_spec *s = data;
    if (!s)
        return;
    for (size_t i = 0; s->images && i < s->n; i++)
        if (s->images[i])
            lang_decref(s->images[i]);
    free(s->images);
    free_strs(s->captions, s->n);
    free(s->title);
    free(s);
}

static grid_spec *grid_spec_new(const lang_value *imgs, const char *const *caps, int cols,
                                const char *title, int w, int h)
{
    grid_spec *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    int oom = 0;
    size_t n = imgs->as.list.len;
    s->n = n;
    s->images = calloc(n ? n : 1, sizeof *s->images);
    s->captions = dup_strs(caps, n, &oom);
    s->title = dup_opt(title, &oom);
    if (oom || !s->images) {
        grid_spec_free(s);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        s->images[i] = lang_incref(imgs->as.list.items[i]);
    s->cols = cols;
    s->w = w;
    s->h = h;
    return s;
}

static int grid_redraw(void *ctx, ember_figure_format fmt, ember_png *out, char *err,
                       size_t errlen)
{
    const grid_spec *s = ctx;
    const ember_image **list = calloc(s->n ? s->n : 1, sizeof *list);
    if (!list) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->n; i++)
        list[i] = viz_image_of(s->images[i]);
    ember_figure_opts fig = {.title = s->title, .width = s->w, .height = s->h, .scale = 2,
                             .format = fmt};
    int rc = ember_plot_image_grid(list, (const char *const *)s->captions, s->n, s->cols, &fig,
                                   out, err, errlen);
    free(list);
    return rc;
}

/* ---- heat maps ---- */

/* The matrix argument: a list of equal-length lists of numbers, or a grey
 * image (a mask) read as values in [0, 1]. */
static double *matrix_arg(lang_ctx *cx, const lang_args *a, int *rows, int *cols)
{
    const lang_value *m = a->v[0];
    const ember_image *img = viz_image_of(m);
    if (img) {
        ember_image grey;
        char err[256];
        if (ember_image_convert(img, 1, &grey, err, sizeof err) != 0) {
            lang_raise(cx, "ValueError", "heatmap: %s", err);
            return NULL;
        }
        double *v = malloc((size_t)grey.width * grey.height * sizeof *v);
        if (v)
            for (size_t i = 0; i < (size_t)grey.width * grey.height; i++)
                v[i] = grey.data[i] / 255.0;
        *rows = grey.height;
        *cols = grey.width;
        ember_image_free(&grey);
        if (!v)
            lang_raise(cx, "MemoryError", "heatmap: out of memory");
        return v;
    }
    static const char *want = "a list of rows, each a list of numbers of the same length (or a grey image)";
    if (m->kind != LANG_LIST || m->as.list.len == 0) {
        lang_arg_error(cx, a, 0, "TypeError", want);
        return NULL;
    }
    size_t r = m->as.list.len, c = 0;
    for (size_t i = 0; i < r; i++) {
        const lang_value *row = m->as.list.items[i];
        if (!is_number_list(row) || row->as.list.len == 0 || (i && row->as.list.len != c)) {
            if (is_number_list(row) && i && row->as.list.len != c)
                lang_raise(cx, "ValueError",
                           "heatmap: row %zu has %zu values but row 0 has %zu; every row needs the same length",
                           i, row->as.list.len, c);
            else
                lang_arg_error(cx, a, 0, "TypeError", want);
            return NULL;
        }
        c = row->as.list.len;
    }
    if (r > 4096 || c > 4096) {
        lang_raise(cx, "ValueError", "heatmap: at most 4096 rows and columns, got %zux%zu", r, c);
        return NULL;
    }
    double *v = malloc(r * c * sizeof *v);
    if (!v) {
        lang_raise(cx, "MemoryError", "heatmap: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < r; i++)
        for (size_t k = 0; k < c; k++)
            v[i * c + k] = number_of(m->as.list.items[i]->as.list.items[k]);
    *rows = (int)r;
    *cols = (int)c;
    return v;
}

static int opt_number(lang_ctx *cx, const lang_args *a, size_t i, int *has, double *out)
{
    *has = 0;
    if (a->v[i]->kind == LANG_NONE)
        return 0;
    if (lang_arg_number(cx, a, i, out) < 0)
        return -1;
    if (!isfinite(*out)) {
        lang_arg_error(cx, a, i, "ValueError", "a finite number");
        return -1;
    }
    *has = 1;
    return 0;
}

static lang_value *b_heatmap(lang_ctx *cx, const lang_args *a)
{
    /* heatmap(values, labels, row_labels, col_labels, title, xlabel, ylabel,
     *         colorbar_label, annotate, vmin, vmax, width, height) */
    const char *title, *xlabel, *ylabel, *cblabel;
    int w, h, has_min, has_max;
    double vmin = 0, vmax = 0;
    if (opt_str(cx, a, 4, &title) < 0 || opt_str(cx, a, 5, &xlabel) < 0 ||
        opt_str(cx, a, 6, &ylabel) < 0 || opt_str(cx, a, 7, &cblabel) < 0 ||
        opt_number(cx, a, 9, &has_min, &vmin) < 0 || opt_number(cx, a, 10, &has_max, &vmax) < 0 ||
        size_arg(cx, a, 11, &w) < 0 || size_arg(cx, a, 12, &h) < 0)
        return NULL;
    int annotate = 0;
    if (a->v[8]->kind != LANG_NONE) {
        int on;
        if (lang_arg_bool(cx, a, 8, &on) < 0)
            return NULL;
        annotate = on ? 1 : -1;
    }
    int rows = 0, cols = 0;
    double *values = matrix_arg(cx, a, &rows, &cols);
    if (!values)
        return NULL;
    const char **lab = NULL, **rl = NULL, **cl = NULL;
    lang_value *result = NULL;
    if (a->v[1]->kind != LANG_NONE && rows != cols) {
        lang_raise(cx, "ValueError",
                   "heatmap: labels names both axes, so the matrix must be square (it is %dx%d); "
                   "use row_labels and col_labels",
                   rows, cols);
        goto out;
    }
    if (str_list_arg(cx, a, 1, (size_t)rows, &lab) < 0 ||
        str_list_arg(cx, a, 2, (size_t)rows, &rl) < 0 ||
        str_list_arg(cx, a, 3, (size_t)cols, &cl) < 0)
        goto out;
    ember_heatmap hm = {
        .values = values, .rows = rows, .cols = cols, .xlabel = xlabel, .ylabel = ylabel,
        .colorbar_label = cblabel, .row_labels = rl ? rl : lab, .col_labels = cl ? cl : lab,
        .annotate = annotate, .has_range = has_min || has_max, .vmin = vmin, .vmax = vmax,
    };
    if (hm.has_range && (!has_min || !has_max)) {
        /* one end given: the other from the data */
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < (size_t)rows * cols; i++)
            if (isfinite(values[i])) {
                lo = fmin(lo, values[i]);
                hi = fmax(hi, values[i]);
            }
        if (!has_min)
            hm.vmin = isfinite(lo) ? lo : hm.vmax - 1;
        if (!has_max)
            hm.vmax = isfinite(hi) ? hi : hm.vmin + 1;
    }
    if (hm.has_range && !(hm.vmin < hm.vmax)) {
        lang_raise(cx, "ValueError", "heatmap: vmin (%g) must be less than vmax (%g)", hm.vmin, hm.vmax);
        goto out;
    }
    hm_spec *spec = hm_spec_new(&hm, title, w, h);
    if (!spec) {
        lang_raise(cx, "MemoryError", "heatmap: out of memory");
        goto out;
    }
    ember_png png;
    char err[512];
    if (hm_redraw(spec, EMBER_FIGURE_PNG, &png, err, sizeof err) != 0) {
        hm_spec_free(spec);
        lang_raise(cx, "ValueError", "heatmap: %s", err);
        goto out;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "%dx%d values", rows, cols);
    result = viz_plot_from_render(cx, &png, hm_redraw, spec, hm_spec_free, "heatmap", title, detail);
out:
    free(values);
    free(lab);
    free(rl);
    free(cl);
    return result;
}

/* ---- image grids ---- */

static lang_value *b_image_grid(lang_ctx *cx, const lang_args *a)
{
    /* image_grid(images, captions, cols, title, width, height) */
    const lang_value *imgs = a->v[0];
    const char *title;
    int64_t cols;
    int w, h;
    if (opt_str(cx, a, 3, &title) < 0 || lang_arg_int(cx, a, 2, &cols) < 0 ||
        size_arg(cx, a, 4, &w) < 0 || size_arg(cx, a, 5, &h) < 0)
        return NULL;
    if (imgs->kind != LANG_LIST || imgs->as.list.len == 0)
        return lang_arg_error(cx, a, 0, "TypeError", "a non-empty list of images");
    size_t n = imgs->as.list.len;
    if (n > MAX_GRID_IMAGES)
        return lang_raise(cx, "ValueError", "image_grid: at most %d images, got %zu", MAX_GRID_IMAGES, n);
    if (cols < 0 || cols > MAX_GRID_COLS)
        return lang_arg_error(cx, a, 2, "ValueError", "0 (about square) or from 1 to 40");
    const ember_image **list = calloc(n, sizeof *list);
    if (!list)
        return lang_raise(cx, "MemoryError", "image_grid: out of memory");
    for (size_t i = 0; i < n; i++) {
        list[i] = viz_image_of(imgs->as.list.items[i]);
        if (!list[i]) {
            free(list);
            return lang_raise(cx, "TypeError", "image_grid: item %zu of images is %s, not an image",
                              i, lang_type_name(imgs->as.list.items[i]));
        }
    }
    const char **caps = NULL;
    if (str_list_arg(cx, a, 1, n, &caps) < 0) {
        free(list);
        return NULL;
    }
    lang_value *result = NULL;
    grid_spec *spec = grid_spec_new(imgs, caps, (int)cols, title, w, h);
    if (!spec) {
        lang_raise(cx, "MemoryError", "image_grid: out of memory");
        goto out;
    }
    ember_png png;
    char err[512];
    if (grid_redraw(spec, EMBER_FIGURE_PNG, &png, err, sizeof err) != 0) {
        grid_spec_free(spec);
        lang_raise(cx, "ValueError", "image_grid: %s", err);
        goto out;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "%zu image%s", n, n == 1 ? "" : "s");
    result = viz_plot_from_render(cx, &png, grid_redraw, spec, grid_spec_free, "image grid", title,
                                  detail);
out:
    free(list);
    free(caps);
    return result;
}

static const lang_builtin plot_builtins[] = {
    {"plot(y, x=none, labels=none, title=none, xlabel=none, ylabel=none, logy=false, ylim=none, "
     "grid=true, width=0, height=0)",
     "A line plot, like matplotlib's plt.plot. y is a list of numbers (one line) or a list of "
     "such lists (one line each, e.g. plot([train_loss, val_loss], labels=['train', "
     "'validation'])). x gives the x values (one list for every line, or one list per line; "
     "default 0, 1, 2...). labels names the lines in a legend; logy=true uses a log y axis; "
     "ylim=[low, high] fixes the y range; grid=false drops the light grid lines; none in y "
     "leaves a gap. width and height are the "
     "display size in pixels (0: automatic); the picture is drawn at twice that for sharp "
     "screens. Put plots side by side with figure(p1, p2).",
     b_plot},
    {"figure(*plots, title=none, width=0, height=0)",
     "Line plots side by side as panels of one figure, like matplotlib's plt.subplots(1, n): "
     "figure(plot(loss, title='Loss'), plot(acc, title='Accuracy'), title='Training'). Each "
     "plot's title becomes its panel's title; title= goes over the whole figure.",
     b_figure},
    {"heatmap(values, labels=none, row_labels=none, col_labels=none, title=none, xlabel=none, "
     "ylabel=none, colorbar_label=none, annotate=none, vmin=none, vmax=none, width=0, height=0)",
     "A heat map with a colour bar (viridis), like plt.imshow + plt.colorbar: for confusion "
     "matrices and masks. values is a list of rows (lists of numbers of equal length) or a grey "
     "image. labels names both axes of a square matrix (class names); row_labels / col_labels "
     "name one axis each. annotate writes each value in its cell (none: when the cells are big "
     "enough). vmin / vmax fix the colour range.",
     b_heatmap},
    {"image_grid(images, captions=none, cols=0, title=none, width=0, height=0)",
     "Images tiled in a grid, each scaled to fit its cell, with an optional caption under each "
     "(like torchvision's make_grid with labels). cols is the number of columns (0: about "
     "square).",
     b_image_grid},
};

void register_viz_plot_builtins(void)
{
    lang_register_builtins(plot_builtins, sizeof plot_builtins / sizeof *plot_builtins);
}
