/* ticks.c — where axis ticks go and how their labels read. Tick values are
 * computed as integer multiples of the step (never by repeated addition), so
 * labels come out as "0.3", not "0.30000000000000004"; axes with big
 * steps use k/M/G/T suffixes ("250k", "1.5M"). */
#include "ticks.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double viz_nice_step(double lo, double hi, int target)
{
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span))
        span = fabs(lo) > 0 && isfinite(lo) ? fabs(lo) : 1.0;
    if (target < 1)
        target = 1;
    double raw = span / target;
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag;
    double m = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
    return m * mag;
}

int viz_linear_ticks(double lo, double hi, double step, double *ticks, int max)
{
    if (!(step > 0) || !isfinite(lo) || !isfinite(hi))
        return 0;
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    int n = 0;
    for (double k = k0; k <= k1 && n < max; k++) {
        double v = k * step;
        if (fabs(v) < step * 1e-9)
            v = 0.0; /* no "-0" */
        ticks[n++] = v;
    }
    return n;
}

/* Decimals that show step exactly (steps here are 1, 2 or 5 x 10^k, or
 * multiples of them), at most 12. */
static int decimals_for(double step)
{
    step = fabs(step);
    if (!(step > 0) || !isfinite(step))
        return 0;
    for (int d = 0; d < 12; d++) {
        double s = step * pow(10.0, d);
        if (fabs(s - round(s)) < 1e-6 * s)
            return d;
    }
    return 12;
}

void viz_format_tick(double v, double step, char *buf, size_t len)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    if (step > 0 && fabs(v) < fabs(step) * 1e-9)
        v = 0.0;
    int d = decimals_for(step);
    double a = fabs(v);
    if (fabs(step) >= 1e4 && a >= 1e3 && a < 1e15) {
        /* Big round numbers read best with a suffix: 200k, 1.5M. */
        static const char *suffix[4] = {"k", "M", "G", "T"};
        int k = a >= 1e12 ? 3 : a >= 1e9 ? 2 : a >= 1e6 ? 1 : 0;
        double u = pow(10.0, 3 * (k + 1));
        char num[48];
        snprintf(num, sizeof num, "%.*f", decimals_for(step / u), v / u);
        if (strchr(num, '.')) { /* "1.0" -> "1", "1.50" -> "1.5" */
            size_t n = strlen(num);
            while (n > 0 && num[n - 1] == '0')
                num[--n] = '\0';
            if (n > 0 && num[n - 1] == '.')
                num[--n] = '\0';
        }
        snprintf(buf, len, "%s%s", num, suffix[k]);
        return;
    }
    if (a >= 1e15 || (a > 0 && d > 5)) {
        int sig = (int)floor(log10(a)) - (int)floor(log10(fabs(step) > 0 ? fabs(step) : a));
        if (sig < 0)
            sig = 0;
        if (sig > 10)
            sig = 10;
        snprintf(buf, len, "%.*e", sig, v);
        return;
    }
    snprintf(buf, len, "%.*f", d, v);
    if (strcmp(buf, "-0") == 0 || (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1)))
        memmove(buf, buf + 1, strlen(buf)); /* rounding can still give "-0.00" */
}

/* "10" followed by the exponent in Unicode superscripts, e.g. 10⁻³. */
static void decade_label(int k, char *buf, size_t len)
{
    static const char *sup[10] = {"\u2070", "\u00b9", "\u00b2", "\u00b3", "\u2074",
                                  "\u2075", "\u2076", "\u2077", "\u2078", "\u2079"};
    char digits[16];
    snprintf(digits, sizeof digits, "%d", k < 0 ? -k : k);
    size_t off = (size_t)snprintf(buf, len, "10%s", k < 0 ? "\u207b" : "");
    for (const char *p = digits; *p && off < len; p++)
        off += (size_t)snprintf(buf + off, len - off, "%s", sup[*p - '0']);
}

int viz_log_ticks(double lo, double hi, double *ticks, char (*labels)[24], int max)
{
    if (!(lo > 0) || !(hi > lo) || !isfinite(hi) || max <= 0)
        return 0;
    int k0 = (int)ceil(log10(lo) - 1e-9), k1 = (int)floor(log10(hi) + 1e-9);
    int n = 0;
    if (k1 - k0 + 1 >= 3) {
        int every = (k1 - k0) / 7 + 1; /* at most about eight labelled decades */
        for (int k = k0; k <= k1 && n < max; k++) {
            if ((k - k0) % every)
                continue;
            ticks[n] = pow(10.0, k);
            decade_label(k, labels[n], sizeof labels[n]);
            n++;
        }
        return n;
    }
    /* Two decades or less in view: 1, 2, 5 times powers of ten, as plain
     * numbers, read better than two lone powers of ten. */
    static const double mult[3] = {1, 2, 5};
    for (int k = k0 - 1; k <= k1 + 1 && n < max; k++) {
        for (int m = 0; m < 3 && n < max; m++) {
            double v = mult[m] * pow(10.0, k);
            if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9))
                continue;
            ticks[n] = v;
            viz_format_tick(v, pow(10.0, k), labels[n], sizeof labels[n]);
            n++;
        }
    }
    if (n >= 2)
        return n;
    /* A narrow range: plain linear ticks read best. */
    double step = viz_nice_step(lo, hi, 4);
    n = viz_linear_ticks(lo, hi, step, ticks, max);
    for (int i = 0; i < n; i++)
        viz_format_tick(ticks[i], step, labels[i], sizeof labels[i]);
    return n;
}

int viz_log_minor_ticks(double lo, double hi, double *ticks, int max)
{
    if (!(lo > 0) || !(hi > lo) || !isfinite(hi) || max <= 0)
        return 0;
    int k0 = (int)floor(log10(lo)), k1 = (int)floor(log10(hi));
    if (k1 - k0 > 12)
        return 0; /* too dense to be worth drawing */
    int n = 0;
    for (int k = k0; k <= k1 && n < max; k++)
        for (int m = 2; m <= 9 && n < max; m++) {
            double v = m * pow(10.0, k);
            if (v >= lo && v <= hi)
                ticks[n++] = v;
        }
    return n;
}
