/* progress.c — formatting and throttling of progress bars (see progress.h). */
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ember_progress_format_time(double s, char *buf, size_t len)
{
    if (!(s >= 0) || s > 1e9) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)s; /* whole seconds, as tqdm shows them */
    long h = t / 3600, m = t / 60 % 60, sec = t % 60;
    if (h)
        snprintf(buf, len, "%ld:%02ld:%02ld", h, m, sec);
    else
        snprintf(buf, len, "%02ld:%02ld", m, sec);
}

static const char *unit_or_it(const char *unit)
{
    return unit && *unit ? unit : "it";
}

void ember_progress_format_rate(double n, double elapsed, const char *unit, char *buf, size_t len)
{
    unit = unit_or_it(unit);
    if (!(elapsed > 0) || !(n > 0) || !isfinite(n / elapsed)) {
        snprintf(buf, len, "?%s/s", unit);
        return;
    }
    double rate = n / elapsed;
    if (rate < 1.0) { /* slow work reads better as seconds per item */
        snprintf(buf, len, "%.2fs/%s", 1.0 / rate, unit);
        return;
    }
    int dec = rate < 10 ? 2 : rate < 100 ? 1 : 0; /* about three significant digits */
    snprintf(buf, len, "%.*f%s/s", dec, rate, unit);
}

static void format_count(double v, char *buf, size_t len)
{
    if (!isfinite(v))
        snprintf(buf, len, "?");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.2f", v);
}

static int known_total(const ember_progress_view *v)
{
    return v->total > 0 && isfinite(v->total);
}

static double fraction(const ember_progress_view *v)
{
    double f = v->n / v->total;
    return !(f > 0) ? 0.0 : f > 1 ? 1.0 : f;
}

/* Everything after the bar: " 164/391 [00:12<00:16, 13.4it/s]" (or the
 * unknown-total form without a bar). Shared by the text and HTML forms. */
static void stats_text(const ember_progress_view *v, char *buf, size_t len)
{
    char n[32], tot[32], el[32], rem[32], rate[48 + 96];
    format_count(v->n, n, sizeof n);
    ember_progress_format_time(v->elapsed, el, sizeof el);
    ember_progress_format_rate(v->n, v->elapsed, v->unit, rate, sizeof rate);
    if (v->postfix && v->postfix[0]) { /* tqdm puts it after the rate, inside the brackets */
        size_t used = strlen(rate);
        snprintf(rate + used, sizeof rate - used, ", %.90s", v->postfix);
    }
    if (!known_total(v)) {
        snprintf(buf, len, "%s%s [%s, %s]", n, unit_or_it(v->unit), el, rate);
        return;
    }
    format_count(v->total, tot, sizeof tot);
    if (v->status == EMBER_PROGRESS_DONE || v->n >= v->total)
        snprintf(rem, sizeof rem, "00:00");
    else if (v->n > 0 && v->elapsed > 0)
        ember_progress_format_time((v->total - v->n) * v->elapsed / v->n, rem, sizeof rem);
    else
        snprintf(rem, sizeof rem, "?");
    snprintf(buf, len, "%s/%s [%s<%s, %s]", n, tot, el, rem, rate);
}

char *ember_progress_text(const ember_progress_view *v)
{
    static const char *eighths[8] = {"", "\u258f", "\u258e", "\u258d",
                                     "\u258c", "\u258b", "\u258a", "\u2589"};
    const char *desc = v->desc ? v->desc : "";
    int width = v->bar_width > 0 ? v->bar_width : 10;
    if (width > 200)
        width = 200;
    char stats[320];
    stats_text(v, stats, sizeof stats);
    size_t cap = strlen(desc) + sizeof stats + (size_t)width * 3 + 32;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t off = 0;
    if (*desc)
        off += (size_t)snprintf(out + off, cap - off, "%s ", desc);
    if (!known_total(v)) {
        snprintf(out + off, cap - off, "%s", stats);
        return out;
    }
    double f = fraction(v);
    off += (size_t)snprintf(out + off, cap - off, "%3.0f%%|", f * 100);
    int parts = (int)(f * width * 8);
    int full = parts / 8, rest = parts % 8, cells = 0;
    for (; cells < full && cells < width; cells++)
        off += (size_t)snprintf(out + off, cap - off, "\u2588");
    if (rest && cells < width) {
        off += (size_t)snprintf(out + off, cap - off, "%s", eighths[rest]);
        cells++;
    }
    for (; cells < width; cells++)
        out[off++] = ' ';
    snprintf(out + off, cap - off, "| %s", stats);
    return out;
}

/* Appends s HTML-escaped; returns the new offset (cap is large enough). */
static size_t put_escaped(char *out, size_t off, const char *s)
{
    for (; *s; s++) {
        const char *e = NULL;
        switch (*s) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        default: out[off++] = *s; continue;
        }
        size_t l = strlen(e);
        memcpy(out + off, e, l);
        off += l;
    }
    out[off] = '\0';
    return off;
}

char *ember_progress_html(const ember_progress_view *v)
{
    const char *desc = v->desc ? v->desc : "";
    char stats[320], pct[16] = "";
    stats_text(v, stats, sizeof stats);
    if (known_total(v))
        snprintf(pct, sizeof pct, "%.0f%% ", fraction(v) * 100);
    const char *colour = v->status == EMBER_PROGRESS_DONE     ? "#22a06b"
                         : v->status == EMBER_PROGRESS_FAILED ? "#d9534f"
                                                              : "#3b82f6";
    /* Escaping at most sextuples a character ("&quot;"). */
    size_t cap = 6 * (strlen(desc) + strlen(stats) + strlen(pct)) + 1024;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t off = (size_t)snprintf(out, cap,
                                  "<div class=\"ember-progress\" style=\"display:flex;"
                                  "align-items:center;gap:0.6em;font-family:var(--jp-code-font-family,"
                                  "monospace);font-size:var(--jp-code-font-size,13px);line-height:1.5\">");
    if (*desc) {
        off += (size_t)snprintf(out + off, cap - off, "<span>");
        off = put_escaped(out, off, desc);
        off += (size_t)snprintf(out + off, cap - off, "</span>");
    }
    if (known_total(v)) {
        off += (size_t)snprintf(out + off, cap - off,
                                "<div role=\"progressbar\" aria-valuemin=\"0\" aria-valuemax=\"100\" "
                                "aria-valuenow=\"%.0f\" style=\"flex:0 0 18em;height:0.85em;"
                                "background:#e5e7eb;border-radius:4px;overflow:hidden\">"
                                "<div style=\"width:%.1f%%;height:100%%;background:%s\"></div></div>",
                                fraction(v) * 100, fraction(v) * 100, colour);
    }
    off += (size_t)snprintf(out + off, cap - off, "<span>");
    off = put_escaped(out, off, pct);
    off = put_escaped(out, off, stats);
    snprintf(out + off, cap - off, "</span></div>");
    return out;
}

void ember_progress_throttle_init(ember_progress_throttle *t, double interval)
{
    memset(t, 0, sizeof *t);
    t->interval = interval > 0 ? interval : 0.1;
}

int ember_progress_throttle_ready(ember_progress_throttle *t, double now, int final)
{
    if (t->finished)
        return 0;
    if (t->interval <= 0)
        t->interval = 0.1;
    if (final || !t->started) {
        t->finished = final != 0;
        t->started = 1;
        t->last = now;
        return 1;
    }
    if (now < t->last) { /* a clock that stepped back: restart the interval */
        t->last = now;
        return 0;
    }
    if (now - t->last >= t->interval) {
        t->last = now;
        return 1;
    }
    return 0;
}
