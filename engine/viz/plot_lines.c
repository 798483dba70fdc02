/* plot_lines.c — line plots: one or more panels side by side, each with its
 * series, grid, 1-2-5 ticks (or log decades), axis labels, title and a legend
 * placed in the emptiest corner. */
#include "canvas.h"
#include "ticks.h"
#include "viz_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_PANELS 16
#define MAX_SERIES 64

typedef struct {
    double left, top, right, bottom; /* the plotting area, logical pixels */
    double xlo, xhi, ylo, yhi;       /* data limits; y in log10 units when logy */
    int logy;
} frame;

static double fx(const frame *f, double x)
{
    return f->left + (x - f->xlo) / (f->xhi - f->xlo) * (f->right - f->left);
}

static double fy(const frame *f, double y)
{
    double t = f->logy ? log10(y) : y;
    return f->bottom - (t - f->ylo) / (f->yhi - f->ylo) * (f->bottom - f->top);
}

/* Values beyond +-1e300 count as infinite: a span between two of them would
 * overflow and leave nothing sensible to draw. */
#define VIZ_HUGE 1e300

static int usable(const ember_axes *ax, double x, double y)
{
    return fabs(x) <= VIZ_HUGE && fabs(y) <= VIZ_HUGE && (!ax->logy || y > 0);
}

static double xval(const ember_series *s, size_t i)
{
    return s->x ? s->x[i] : (double)i;
}

static int draws_markers(const ember_series *s)
{
    return s->marker > 0 || (s->marker == 0 && s->n <= 30);
}

/* Data limits with margins. Returns 0 when the panel has no drawable point. */
static int data_limits(const ember_axes *ax, frame *f, int *x_integral)
{
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    *x_integral = 1;
    for (size_t s = 0; s < ax->nseries; s++) {
        const ember_series *se = &ax->series[s];
        for (size_t i = 0; i < se->n; i++) {
            double x = xval(se, i), y = se->y[i];
            if (!usable(ax, x, y))
                continue;
            xmin = fmin(xmin, x);
            xmax = fmax(xmax, x);
            double t = ax->logy ? log10(y) : y;
            ymin = fmin(ymin, t);
            ymax = fmax(ymax, t);
            if (x != floor(x))
                *x_integral = 0;
        }
    }
    int any = xmin <= xmax;
    if (!any) {
        xmin = 0, xmax = 1, ymin = 0, ymax = 1;
    }
    if (xmax - xmin <= 0) {
        xmin -= 1;
        xmax += 1;
    }
    if (ymax - ymin <= 0) {
        double d = ax->logy ? 0.5 : fmax(fabs(ymin) * 0.1, 0.5);
        ymin -= d;
        ymax += d;
    }
    double mx = (xmax - xmin) * 0.03, my = (ymax - ymin) * 0.06;
    f->xlo = xmin - mx;
    f->xhi = xmax + mx;
    f->ylo = ymin - my;
    f->yhi = ymax + my;
    if (ax->has_ylim && fabs(ax->ymin) <= VIZ_HUGE && fabs(ax->ymax) <= VIZ_HUGE && ax->ymax > ax->ymin &&
        (!ax->logy || ax->ymin > 0)) {
        f->ylo = ax->logy ? log10(ax->ymin) : ax->ymin;
        f->yhi = ax->logy ? log10(ax->ymax) : ax->ymax;
    }
    f->logy = ax->logy;
    return any;
}

typedef struct {
    int n;
    double v[VIZ_MAX_TICKS];
    char label[VIZ_MAX_TICKS][24];
} ticks;

static void y_ticks(const frame *f, double plot_h, ticks *t)
{
    if (f->logy) {
        t->n = viz_log_ticks(pow(10.0, f->ylo), pow(10.0, f->yhi), t->v, t->label, VIZ_MAX_TICKS);
        return;
    }
    int target = (int)fmax(3, fmin(8, plot_h / 50));
    double step = viz_nice_step(f->ylo, f->yhi, target);
    t->n = viz_linear_ticks(f->ylo, f->yhi, step, t->v, VIZ_MAX_TICKS);
    for (int i = 0; i < t->n; i++)
        viz_format_tick(t->v[i], step, t->label[i], sizeof t->label[i]);
}

/* x ticks whose labels do not collide: fewer ticks until they fit. */
static void x_ticks(cairo_t *cr, const frame *f, int integral, ticks *t)
{
    double w = f->right - f->left;
    for (int target = (int)fmax(2, fmin(10, w / 70)); target >= 1; target--) {
        double step = viz_nice_step(f->xlo, f->xhi, target);
        if (integral && step < 1)
            step = 1;
        t->n = viz_linear_ticks(f->xlo, f->xhi, step, t->v, VIZ_MAX_TICKS);
        double widest = 0;
        for (int i = 0; i < t->n; i++) {
            viz_format_tick(t->v[i], step, t->label[i], sizeof t->label[i]);
            widest = fmax(widest, viz_text_width(cr, t->label[i]));
        }
        double gap = t->n > 1 ? step / (f->xhi - f->xlo) * w : w;
        if (widest + 10 <= gap)
            return;
    }
}

/* Counts the series' samples that would sit under a legend box at r. */
static long legend_cover(const ember_axes *ax, const frame *f, const double r[4])
{
    long hits = 0;
    for (size_t s = 0; s < ax->nseries; s++) {
        const ember_series *se = &ax->series[s];
        double px = 0, py = 0;
        int have = 0;
        /* Long series are thinned: a few thousand samples place a legend well. */
        size_t stride = se->n / 4000 + 1;
        for (size_t i = 0; i < se->n; i += stride) {
            double x = xval(se, i), y = se->y[i];
            if (!usable(ax, x, y)) {
                have = 0;
                continue;
            }
            double X = fx(f, x), Y = fy(f, y);
            /* Sample along the segment so sparse lines count too. */
            int k = have ? (int)fmin(64, ceil(hypot(X - px, Y - py) / 4)) : 1;
            for (int j = 1; j <= k; j++) {
                double sx = have ? px + (X - px) * j / k : X;
                double sy = have ? py + (Y - py) * j / k : Y;
                if (sx >= r[0] && sx <= r[0] + r[2] && sy >= r[1] && sy <= r[1] + r[3])
                    hits++;
            }
            px = X;
            py = Y;
            have = 1;
        }
    }
    return hits;
}

static void rounded_rect(cairo_t *cr, double x, double y, double w, double h, double r)
{
    cairo_new_sub_path(cr);
    cairo_arc(cr, x + w - r, y + r, r, -M_PI / 2, 0);
    cairo_arc(cr, x + w - r, y + h - r, r, 0, M_PI / 2);
    cairo_arc(cr, x + r, y + h - r, r, M_PI / 2, M_PI);
    cairo_arc(cr, x + r, y + r, r, M_PI, 3 * M_PI / 2);
    cairo_close_path(cr);
}

static void draw_marker(cairo_t *cr, double x, double y, uint32_t colour)
{
    cairo_new_path(cr);
    cairo_arc(cr, x, y, 3.0, 0, 2 * M_PI);
    viz_rgb(cr, colour);
    cairo_fill_preserve(cr);
    cairo_set_line_width(cr, 0.9);
    viz_rgb(cr, 0xffffff);
    cairo_stroke(cr);
}

static void draw_legend(cairo_t *cr, const ember_axes *ax, const frame *f)
{
    int entries = 0;
    double widest = 0;
    viz_use_font(cr, VIZ_FS_TICK, 0);
    for (size_t s = 0; s < ax->nseries; s++) {
        const char *l = ax->series[s].label;
        if (l && *l) {
            entries++;
            widest = fmax(widest, viz_text_width(cr, l));
        }
    }
    if (entries == 0 || ax->legend < 0)
        return;
    const double pad = 8, row = 18, sample = 22;
    double maxw = (f->right - f->left) * 0.6;
    widest = fmin(widest, maxw);
    double w = pad + sample + 7 + widest + pad, h = pad * 2 + entries * row - 6;
    const double inset = 8;
    double cand[4][2] = {
        {f->right - inset - w, f->top + inset},    /* upper right */
        {f->left + inset, f->top + inset},         /* upper left */
        {f->right - inset - w, f->bottom - inset - h}, /* lower right */
        {f->left + inset, f->bottom - inset - h},  /* lower left */
    };
    int best = 0;
    long best_hits = -1;
    for (int c = 0; c < 4; c++) {
        double r[4] = {cand[c][0], cand[c][1], w, h};
        long hits = legend_cover(ax, f, r);
        if (best_hits < 0 || hits < best_hits) {
            best = c;
            best_hits = hits;
        }
    }
    double x = cand[best][0], y = cand[best][1];
    rounded_rect(cr, x, y, w, h, 4);
    viz_rgba(cr, 0xffffff, 0.9);
    cairo_fill_preserve(cr);
    cairo_set_line_width(cr, 0.8);
    viz_rgb(cr, 0xd0d0d0);
    cairo_stroke(cr);
    int k = 0;
    for (size_t s = 0; s < ax->nseries; s++) {
        const ember_series *se = &ax->series[s];
        if (!se->label || !*se->label)
            continue;
        uint32_t colour = viz_series_colour(s);
        double cy = y + pad + 6 + k * row;
        cairo_new_path(cr);
        cairo_move_to(cr, x + pad, cy);
        cairo_line_to(cr, x + pad + sample, cy);
        cairo_set_line_width(cr, 2.0);
        viz_rgb(cr, colour);
        cairo_stroke(cr);
        if (draws_markers(se))
            draw_marker(cr, x + pad + sample / 2, cy, colour);
        char buf[256];
        viz_fit_text(cr, se->label, widest, buf, sizeof buf);
        viz_rgb(cr, VIZ_INK);
        viz_text(cr, x + pad + sample + 7, cy, buf, 0, 0.5, 0);
        k++;
    }
}

/* Strokes a series' polyline (source and width already set). Long series with increasing x are
 * thinned per half logical pixel to the first, lowest, highest and last
 * points of each column: the stroke looks the same, and cairo strokes a few
 * thousand segments instead of millions. */
typedef struct {
    int open;     /* a column is being gathered */
    long col;
    double fx, fy, lx, ly, nx, ny, mx, my; /* first, last, min-y, max-y points */
    size_t fi, ni, mi, li;                 /* their indices, to keep the order */
} column;

/* Strokes every 256 segments: cairo's stroker slows down badly on one huge
 * self-crossing path, and seams between opaque strokes do not show. */
static void pen_to(cairo_t *cr, int *pen, double x, double y)
{
    if (*pen) {
        cairo_line_to(cr, x, y);
        if (++*pen > 256) {
            cairo_stroke(cr);
            cairo_move_to(cr, x, y);
            *pen = 1;
        }
    } else {
        cairo_move_to(cr, x, y);
        *pen = 1;
    }
}

static void flush_column(cairo_t *cr, column *c, int *pen)
{
    if (!c->open)
        return;
    size_t idx[4] = {c->fi, c->ni, c->mi, c->li};
    double xs[4] = {c->fx, c->nx, c->mx, c->lx}, ys[4] = {c->fy, c->ny, c->my, c->ly};
    /* emit in index order, skipping repeats */
    int order[4] = {0, 1, 2, 3};
    for (int i = 1; i < 4; i++)
        for (int j = i; j > 0 && idx[order[j]] < idx[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    size_t last = (size_t)-1;
    for (int k = 0; k < 4; k++) {
        int i = order[k];
        if (idx[i] == last)
            continue;
        pen_to(cr, pen, xs[i], ys[i]);
        last = idx[i];
    }
    c->open = 0;
}

static void trace_series(cairo_t *cr, const ember_axes *ax, const ember_series *se, const frame *f)
{
    int pen = 0;
    int thin = se->n > 4000;
    if (thin && se->x)
        for (size_t i = 1; i < se->n && thin; i++)
            if (se->x[i] < se->x[i - 1])
                thin = 0; /* x goes back: columns would scramble the line */
    column c = {0};
    for (size_t i = 0; i < se->n; i++) {
        double x = xval(se, i), y = se->y[i];
        if (!usable(ax, x, y)) {
            if (thin)
                flush_column(cr, &c, &pen);
            pen = 0;
            continue;
        }
        double X = fx(f, x), Y = fy(f, y);
        if (!thin) {
            pen_to(cr, &pen, X, Y);
            continue;
        }
        long col = (long)floor(X * 2);
        if (c.open && col != c.col)
            flush_column(cr, &c, &pen);
        if (!c.open) {
            c = (column){1, col, X, Y, X, Y, X, Y, X, Y, i, i, i, i};
            continue;
        }
        c.lx = X, c.ly = Y, c.li = i;
        if (Y < c.ny)
            c.nx = X, c.ny = Y, c.ni = i;
        if (Y > c.my)
            c.mx = X, c.my = Y, c.mi = i;
    }
    if (thin)
        flush_column(cr, &c, &pen);
}

static void draw_panel(cairo_t *cr, const ember_axes *ax, double px, double py, double pw,
                       double ph)
{
    frame f;
    int integral;
    int any = data_limits(ax, &f, &integral);

    /* Margins from the text that must fit around the plotting area. */
    double top = py + 12, bottom = py + ph - 8, left = px + 8, right = px + pw - 16;
    if (ax->title && *ax->title)
        top += VIZ_FS_AXTITLE + 10;
    if (ax->xlabel && *ax->xlabel)
        bottom -= VIZ_FS_LABEL + 8;
    bottom -= VIZ_FS_TICK + 10; /* x tick labels */
    if (ax->ylabel && *ax->ylabel)
        left += VIZ_FS_LABEL + 10;
    ticks yt;
    f.top = top;
    f.bottom = bottom;
    y_ticks(&f, bottom - top, &yt);
    viz_use_font(cr, VIZ_FS_TICK, 0);
    double ylw = 0;
    for (int i = 0; i < yt.n; i++)
        ylw = fmax(ylw, viz_text_width(cr, yt.label[i]));
    left += ylw + 8;
    f.left = left;
    f.right = right;
    if (f.right - f.left < 20 || f.bottom - f.top < 20)
        return; /* too small to draw anything legible */
    ticks xt;
    x_ticks(cr, &f, integral, &xt);

    /* Grid first, then the frame, so the data sits on top of both. */
    cairo_set_line_width(cr, 0.8);
    viz_rgb(cr, VIZ_GRID);
    for (int i = 0; ax->grid >= 0 && i < yt.n; i++) {
        double Y = fy(&f, yt.v[i]);
        cairo_move_to(cr, f.left, Y);
        cairo_line_to(cr, f.right, Y);
    }
    for (int i = 0; ax->grid >= 0 && i < xt.n; i++) {
        double X = fx(&f, xt.v[i]);
        cairo_move_to(cr, X, f.top);
        cairo_line_to(cr, X, f.bottom);
    }
    cairo_stroke(cr);
    cairo_rectangle(cr, f.left, f.top, f.right - f.left, f.bottom - f.top);
    viz_rgb(cr, VIZ_SPINE);
    cairo_stroke(cr);

    /* Tick marks and labels; a log axis also gets short minor marks. */
    if (f.logy) {
        double minor[128];
        int nm = viz_log_minor_ticks(pow(10.0, f.ylo), pow(10.0, f.yhi), minor, 128);
        viz_rgb(cr, VIZ_SPINE);
        for (int i = 0; i < nm; i++) {
            double Y = fy(&f, minor[i]);
            cairo_move_to(cr, f.left - 2.5, Y);
            cairo_line_to(cr, f.left, Y);
        }
        cairo_stroke(cr);
    }
    viz_use_font(cr, VIZ_FS_TICK, 0);
    for (int i = 0; i < yt.n; i++) {
        double Y = fy(&f, yt.v[i]);
        viz_rgb(cr, VIZ_SPINE);
        cairo_move_to(cr, f.left - 4, Y);
        cairo_line_to(cr, f.left, Y);
        cairo_stroke(cr);
        viz_rgb(cr, VIZ_TICK_INK);
        viz_text(cr, f.left - 7, Y, yt.label[i], 1, 0.5, 0);
    }
    for (int i = 0; i < xt.n; i++) {
        double X = fx(&f, xt.v[i]);
        viz_rgb(cr, VIZ_SPINE);
        cairo_move_to(cr, X, f.bottom);
        cairo_line_to(cr, X, f.bottom + 4);
        cairo_stroke(cr);
        viz_rgb(cr, VIZ_TICK_INK);
        viz_text(cr, X, f.bottom + 7, xt.label[i], 0.5, 0, 0);
    }

    /* Axis labels and title. */
    char buf[256];
    viz_rgb(cr, VIZ_INK);
    if (ax->xlabel && *ax->xlabel) {
        viz_use_font(cr, VIZ_FS_LABEL, 0);
        viz_fit_text(cr, ax->xlabel, f.right - f.left, buf, sizeof buf);
        viz_text(cr, (f.left + f.right) / 2, py + ph - 8, buf, 0.5, 1, 0);
    }
    if (ax->ylabel && *ax->ylabel) {
        viz_use_font(cr, VIZ_FS_LABEL, 0);
        viz_fit_text(cr, ax->ylabel, f.bottom - f.top, buf, sizeof buf);
        viz_text(cr, px + 8, (f.top + f.bottom) / 2, buf, 0.5, 0, -M_PI / 2);
    }
    if (ax->title && *ax->title) {
        viz_use_font(cr, VIZ_FS_AXTITLE, 1);
        viz_fit_text(cr, ax->title, pw - 16, buf, sizeof buf);
        viz_text(cr, (f.left + f.right) / 2, f.top - 10, buf, 0.5, 1, 0);
    }
    if (!any) {
        viz_use_font(cr, VIZ_FS_LABEL, 0);
        viz_rgb(cr, 0x999999);
        viz_text(cr, (f.left + f.right) / 2, (f.top + f.bottom) / 2, "no data", 0.5, 0.5, 0);
        return;
    }

    /* The series, clipped to the plotting area. */
    cairo_save(cr);
    cairo_rectangle(cr, f.left, f.top, f.right - f.left, f.bottom - f.top);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    for (size_t s = 0; s < ax->nseries; s++) {
        const ember_series *se = &ax->series[s];
        uint32_t colour = viz_series_colour(s);
        cairo_new_path(cr);
        /* Dense, noisy series (per-step losses) read better a little thinner. */
        cairo_set_line_width(cr, se->n > 600 ? 1.4 : 2.0);
        viz_rgb(cr, colour);
        trace_series(cr, ax, se, &f);
        cairo_stroke(cr);
        if (draws_markers(se))
            for (size_t i = 0; i < se->n; i++)
                if (usable(ax, xval(se, i), se->y[i]))
                    draw_marker(cr, fx(&f, xval(se, i)), fy(&f, se->y[i]), colour);
    }
    cairo_restore(cr);

    int want_legend = ax->legend > 0;
    if (ax->legend == 0)
        for (size_t s = 0; s < ax->nseries; s++)
            if (ax->series[s].label && *ax->series[s].label)
                want_legend = 1;
    if (want_legend)
        draw_legend(cr, ax, &f);
}

int ember_plot_lines(const ember_axes *panels, size_t npanels, const ember_figure_opts *fig,
                     ember_png *out, char *err, size_t errlen)
{
    static const ember_figure_opts none = {0};
    if (!fig)
        fig = &none;
    if (!panels || npanels == 0 || npanels > MAX_PANELS) {
        viz_seterr(err, errlen, "give 1 to %d panels (got %zu)", MAX_PANELS, npanels);
        return -1;
    }
    for (size_t p = 0; p < npanels; p++) {
        if (panels[p].nseries > MAX_SERIES || (panels[p].nseries && !panels[p].series)) {
            viz_seterr(err, errlen, "panel %zu has a bad series list (at most %d series)",
                       p + 1, MAX_SERIES);
            return -1;
        }
        for (size_t s = 0; s < panels[p].nseries; s++) {
            if (panels[p].series[s].n && !panels[p].series[s].y) {
                viz_seterr(err, errlen, "series %zu of panel %zu has no y values", s + 1, p + 1);
                return -1;
            }
        }
    }
    int W = fig->width > 0 ? fig->width : npanels == 1 ? 640 : (int)fmin(1500, 460 * npanels);
    int H = fig->height > 0 ? fig->height : npanels == 1 ? 400 : 360;
    int title_h = fig->title && *fig->title ? (int)(VIZ_FS_TITLE + 16) : 0;
    if (fig->height <= 0)
        H += title_h;
    viz_canvas cv;
    if (viz_canvas_begin_fig(&cv, W, H, fig, err, errlen))
        return -1;
    cairo_t *cr = cv.cr;
    if (title_h) {
        char buf[256];
        viz_use_font(cr, VIZ_FS_TITLE, 1);
        viz_fit_text(cr, fig->title, cv.w - 20, buf, sizeof buf);
        viz_rgb(cr, VIZ_INK);
        viz_text(cr, cv.w / 2.0, 12, buf, 0.5, 0, 0);
    }
    double pw = (double)cv.w / npanels;
    for (size_t p = 0; p < npanels; p++)
        draw_panel(cr, &panels[p], p * pw, title_h, pw, cv.h - title_h);
    return viz_canvas_finish(&cv, out, err, errlen);
}
