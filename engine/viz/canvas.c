/* canvas.c — cairo surface set-up (pixels for PNG, or an SVG / PDF
 * document streamed into memory), text placement, and the finished
 * figure's bytes for the plot sources. */
#include "canvas.h"
#include "codec.h"
#include "viz_util.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ember_png_free(ember_png *p)
{
    if (!p)
        return;
    free(p->data);
    memset(p, 0, sizeof *p);
}

int ember_image_to_png(const ember_image *img, ember_png *out, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (ember_png_encode(img, -1, &buf, &len, err, errlen))
        return -1;
    out->data = buf;
    out->size = len;
    out->width = out->pixel_width = img->width;
    out->height = out->pixel_height = img->height;
    return 0;
}

/* Drawing defaults every figure shares, whatever the surface. */
static void canvas_setup(viz_canvas *cv)
{
    cairo_set_source_rgb(cv->cr, 1, 1, 1);
    cairo_paint(cv->cr);
    cairo_set_antialias(cv->cr, CAIRO_ANTIALIAS_GOOD);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_set_font_options(cv->cr, fo);
    cairo_font_options_destroy(fo);
}

static void clamp_size(int *w, int *h, double *scale)
{
    if (!(*scale > 0))
        *scale = 2.0;
    *scale = fmin(fmax(*scale, 0.5), 4.0);
    *w = *w < 16 ? 16 : *w > 8192 ? 8192 : *w;
    *h = *h < 16 ? 16 : *h > 8192 ? 8192 : *h;
}

/* Checks the surface just made in cv->surf, makes its context and records
 * the logical size; on failure cv is destroyed and err says why. */
static int canvas_attach(viz_canvas *cv, int w, int h, double scale, ember_figure_format fmt, char *err,
                         size_t errlen)
{
    if (cairo_surface_status(cv->surf) != CAIRO_STATUS_SUCCESS) {
        viz_seterr(err, errlen, "cairo: %s", cairo_status_to_string(cairo_surface_status(cv->surf)));
        viz_canvas_destroy(cv);
        return -1;
    }
    cv->cr = cairo_create(cv->surf);
    if (cairo_status(cv->cr) != CAIRO_STATUS_SUCCESS) {
        viz_seterr(err, errlen, "cairo: %s", cairo_status_to_string(cairo_status(cv->cr)));
        viz_canvas_destroy(cv);
        return -1;
    }
    cv->w = w;
    cv->h = h;
    cv->scale = scale;
    cv->format = fmt;
    return 0;
}

int viz_canvas_begin(viz_canvas *cv, int w, int h, double scale, char *err, size_t errlen)
{
    memset(cv, 0, sizeof *cv);
    clamp_size(&w, &h, &scale);
    int pw = (int)lround(w * scale), ph = (int)lround(h * scale);
    if ((int64_t)pw * ph > EMBER_IMAGE_MAX_PIXELS / 2) {
        viz_seterr(err, errlen, "figure of %dx%d pixels is too large", pw, ph);
        return -1;
    }
    cv->surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, pw, ph);
    if (canvas_attach(cv, w, h, scale, EMBER_FIGURE_PNG, err, errlen))
        return -1;
    cairo_scale(cv->cr, (double)pw / w, (double)ph / h);
    canvas_setup(cv);
    return 0;
}

/* cairo's stream callback: the document grows in memory. */
static cairo_status_t stream_write(void *closure, const unsigned char *data, unsigned int len)
{
    viz_canvas *cv = closure;
    if (cv->oom)
        return CAIRO_STATUS_WRITE_ERROR;
    if (cv->len + len > cv->cap) {
        size_t cap = cv->cap ? cv->cap : 65536;
        while (cv->len + len > cap)
            cap *= 2;
        uint8_t *p = realloc(cv->buf, cap);
        if (!p) {
            cv->oom = 1;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        cv->buf = p;
        cv->cap = cap;
    }
    memcpy(cv->buf + cv->len, data, len);
    cv->len += len;
    return CAIRO_STATUS_SUCCESS;
}

int viz_canvas_begin_fig(viz_canvas *cv, int w, int h, const ember_figure_opts *fig, char *err,
                         size_t errlen)
{
    ember_figure_format fmt = fig ? fig->format : EMBER_FIGURE_PNG;
    double scale = fig ? fig->scale : 0;
    if (fmt == EMBER_FIGURE_PNG)
        return viz_canvas_begin(cv, w, h, scale, err, errlen);
    memset(cv, 0, sizeof *cv);
    clamp_size(&w, &h, &scale);
    if (fmt == EMBER_FIGURE_SVG) {
        cv->surf = cairo_svg_surface_create_for_stream(stream_write, cv, w, h);
        if (cairo_surface_status(cv->surf) == CAIRO_STATUS_SUCCESS)
            /* a figure shown at W x H CSS pixels is an SVG of W x H px */
            cairo_svg_surface_set_document_unit(cv->surf, CAIRO_SVG_UNIT_PX);
    } else if (fmt == EMBER_FIGURE_PDF) {
        cv->surf = cairo_pdf_surface_create_for_stream(stream_write, cv, w, h);
        if (cairo_surface_status(cv->surf) == CAIRO_STATUS_SUCCESS)
            cairo_pdf_surface_set_metadata(cv->surf, CAIRO_PDF_METADATA_CREATOR, "Ember");
    } else {
        viz_seterr(err, errlen, "unknown figure format %d", (int)fmt);
        return -1;
    }
    if (canvas_attach(cv, w, h, scale, fmt, err, errlen))
        return -1;
    canvas_setup(cv);
    return 0;
}

int viz_canvas_is_vector(const viz_canvas *cv)
{
    return cv->format != EMBER_FIGURE_PNG;
}

void viz_canvas_destroy(viz_canvas *cv)
{
    if (cv->cr)
        cairo_destroy(cv->cr);
    if (cv->surf)
        cairo_surface_destroy(cv->surf);
    cv->cr = NULL;
    cv->surf = NULL;
    free(cv->buf);
    cv->buf = NULL;
    cv->len = cv->cap = 0;
}

/* Ends an SVG or PDF document and hands its bytes to out. */
static int finish_vector(viz_canvas *cv, ember_png *out, char *err, size_t errlen)
{
    int rc = -1;
    cairo_status_t st = cairo_status(cv->cr);
    if (st == CAIRO_STATUS_SUCCESS) {
        cairo_destroy(cv->cr);
        cv->cr = NULL;
        cairo_surface_finish(cv->surf); /* writes the rest of the document */
        st = cairo_surface_status(cv->surf);
    }
    if (cv->oom)
        viz_seterr(err, errlen, "out of memory");
    else if (st != CAIRO_STATUS_SUCCESS)
        viz_seterr(err, errlen, "cairo: %s", cairo_status_to_string(st));
    else if (!cv->buf || cv->len == 0)
        viz_seterr(err, errlen, "cairo wrote an empty document");
    else {
        out->data = cv->buf;
        out->size = cv->len;
        out->width = out->pixel_width = cv->w;
        out->height = out->pixel_height = cv->h;
        cv->buf = NULL; /* now out's */
        rc = 0;
    }
    viz_canvas_destroy(cv);
    return rc;
}

int viz_canvas_finish(viz_canvas *cv, ember_png *out, char *err, size_t errlen)
{
    if (viz_canvas_is_vector(cv))
        return finish_vector(cv, out, err, errlen);
    int rc = -1;
    ember_image img = {0};
    if (cairo_status(cv->cr) != CAIRO_STATUS_SUCCESS) {
        viz_seterr(err, errlen, "cairo: %s", cairo_status_to_string(cairo_status(cv->cr)));
        goto done;
    }
    cairo_surface_flush(cv->surf);
    int pw = cairo_image_surface_get_width(cv->surf);
    int ph = cairo_image_surface_get_height(cv->surf);
    int stride = cairo_image_surface_get_stride(cv->surf);
    const uint8_t *px = cairo_image_surface_get_data(cv->surf);
    if (!px) {
        viz_seterr(err, errlen, "cairo: no pixel data");
        goto done;
    }
    if (ember_image_alloc(&img, pw, ph, 3, err, errlen))
        goto done;
    /* The background was painted opaque, so premultiplied equals straight. */
    for (int y = 0; y < ph; y++) {
        const uint32_t *row = (const uint32_t *)(px + (size_t)y * stride);
        uint8_t *d = img.data + (size_t)y * pw * 3;
        for (int x = 0; x < pw; x++) {
            uint32_t p = row[x];
            d[x * 3 + 0] = (uint8_t)(p >> 16);
            d[x * 3 + 1] = (uint8_t)(p >> 8);
            d[x * 3 + 2] = (uint8_t)p;
        }
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (ember_png_encode(&img, 6, &buf, &len, err, errlen))
        goto done;
    out->data = buf;
    out->size = len;
    out->width = cv->w;
    out->height = cv->h;
    out->pixel_width = pw;
    out->pixel_height = ph;
    rc = 0;
done:
    ember_image_free(&img);
    viz_canvas_destroy(cv);
    return rc;
}

void viz_use_font(cairo_t *cr, double size, int bold)
{
    cairo_set_font_face(cr, viz_font_face(bold));
    cairo_set_font_size(cr, size);
}

void viz_rgb(cairo_t *cr, uint32_t hex)
{
    viz_rgba(cr, hex, 1.0);
}

void viz_rgba(cairo_t *cr, uint32_t hex, double alpha)
{
    cairo_set_source_rgba(cr, ((hex >> 16) & 255) / 255.0, ((hex >> 8) & 255) / 255.0,
                          (hex & 255) / 255.0, alpha);
}

double viz_text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    return te.x_advance;
}

void viz_text(cairo_t *cr, double x, double y, const char *s, double ha, double va, double angle)
{
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    cairo_matrix_t fm;
    cairo_get_font_matrix(cr, &fm);
    double size = fm.yy != 0 ? fabs(fm.yy) : fe.height; /* unrotated font size */
    double w = viz_text_width(cr, s);
    /* Baseline offset: top uses the ascent, bottom the descent, middle half
     * of the digit height (about 0.73 em in DejaVu Sans). */
    double base = va <= 0.0 ? fe.ascent : va >= 1.0 ? -fe.descent : 0.36 * size;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    if (angle != 0)
        cairo_rotate(cr, angle);
    cairo_move_to(cr, -ha * w, base);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

void viz_fit_text(cairo_t *cr, const char *s, double max_w, char *buf, size_t len)
{
    snprintf(buf, len, "%s", s ? s : "");
    if (viz_text_width(cr, buf) <= max_w)
        return;
    size_t n = strlen(buf);
    while (n > 0) {
        n--;
        while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80)
            n--; /* cut on a UTF-8 character boundary */
        if (n + 4 > len)
            continue;
        memcpy(buf + n, "\u2026", 4); /* 3 bytes and the NUL */
        if (viz_text_width(cr, buf) <= max_w)
            return;
    }
    snprintf(buf, len, "\u2026");
}

uint32_t viz_series_colour(size_t i)
{
    static const uint32_t tab10[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                       0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
    return tab10[i % 10];
}
