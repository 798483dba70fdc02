/* tabular.c — CSV and JSON files; see tabular.h. */
#include "tabular.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add(ember_csv *c, const char *s, size_t n)
{
    if (c->oom)
        return;
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        while (c->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(c->p, cap);
        if (!p) {
            c->oom = 1;
            return;
        }
        c->p = p;
        c->cap = cap;
    }
    memcpy(c->p + c->len, s, n);
    c->len += n;
    c->p[c->len] = '\0';
}

static void sep(ember_csv *c)
{
    if (c->fields++)
        add(c, ",", 1);
}

void ember_csv_str(ember_csv *c, const char *s)
{
    sep(c);
    if (!s)
        return;
    size_t n = strlen(s);
    /* RFC 4180: a field with a comma, quote or line break is quoted, quotes
     * doubled; leading or trailing spaces are kept by quoting too. */
    int quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        add(c, s, n);
        return;
    }
    add(c, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        add(c, s, (size_t)(q - s) + 1);
        add(c, "\"", 1);
    }
    add(c, s, strlen(s));
    add(c, "\"", 1);
}

void ember_format_double(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "inf" : "-inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void ember_csv_num(ember_csv *c, double v)
{
    sep(c);
    if (isnan(v))
        return;
    char buf[40];
    ember_format_double(v, buf, sizeof buf);
    add(c, buf, strlen(buf));
}

void ember_csv_int(ember_csv *c, int64_t v)
{
    sep(c);
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%" PRId64, v);
    add(c, buf, (size_t)n);
}

void ember_csv_end_row(ember_csv *c)
{
    add(c, "\n", 1);
    c->fields = 0;
}

void ember_csv_free(ember_csv *c)
{
    free(c->p);
    memset(c, 0, sizeof *c);
}

int ember_csv_save(ember_csv *c, const char *path, ember_ferr *err)
{
    int rc = c->oom ? ember_ferr_set(err, ENOMEM, "out of memory")
                    : ember_write_atomic(path, c->p ? c->p : "", c->len, err);
    ember_csv_free(c);
    return rc;
}

json_t *ember_json_number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Appends v as JSON text: objects one member a line, arrays of plain
 * values on one line (a row of a matrix stays a row), reals in their
 * shortest round-trip form (jansson's fixed 17 digits would write 3e-4 as
 * 0.00029999999999999997). depth < 0: all on one line, no spaces (the
 * compact form of ember_json_compact). */
static void dump(ember_csv *b /* used as a plain growable text */, json_t *v, int depth)
{
    const int compact = depth < 0;
    char buf[48];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (json_object_size(v) == 0) {
            add(b, "{}", 2);
            return;
        }
        add(b, "{", 1);
        const char *key;
        json_t *item;
        int first = 1;
        json_object_foreach(v, key, item) {
            if (compact)
                add(b, ",", first ? 0 : 1);
            else
                add(b, first ? "\n" : ",\n", first ? 1 : 2);
            first = 0;
            for (int i = 0; i <= depth; i++)
                add(b, "  ", 2);
            json_t *k = json_string(key);
            char *ks = k ? json_dumps(k, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
            json_decref(k);
            if (!ks) {
                b->oom = 1;
                return;
            }
            add(b, ks, strlen(ks));
            free(ks);
            add(b, ": ", compact ? 1 : 2);
            dump(b, item, compact ? depth : depth + 1);
        }
        if (compact) {
            add(b, "}", 1);
            return;
        }
        add(b, "\n", 1);
        for (int i = 0; i < depth; i++)
            add(b, "  ", 2);
        add(b, "}", 1);
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        int flat = 1;
        for (size_t i = 0; i < n && flat; i++)
            flat = !json_is_object(json_array_get(v, i)) && !json_is_array(json_array_get(v, i));
        add(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (compact) {
                add(b, ",", i ? 1 : 0);
            } else if (flat) {
                if (i)
                    add(b, ", ", 2);
            } else {
                add(b, i ? ",\n" : "\n", i ? 2 : 1);
                for (int k = 0; k <= depth; k++)
                    add(b, "  ", 2);
            }
            dump(b, json_array_get(v, i), compact ? depth : depth + 1);
        }
        if (!compact && !flat && n) {
            add(b, "\n", 1);
            for (int k = 0; k < depth; k++)
                add(b, "  ", 2);
        }
        add(b, "]", 1);
        return;
    }
    case JSON_REAL:
        if (!isfinite(json_real_value(v))) {
            add(b, "null", 4);
            return;
        }
        ember_format_double(json_real_value(v), buf, sizeof buf);
        /* "1" would read back as an int; keep it a float as Python writes it */
        if (!strpbrk(buf, ".e"))
            strcat(buf, ".0");
        add(b, buf, strlen(buf));
        return;
    case JSON_INTEGER: {
        int n = snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        add(b, buf, (size_t)n);
        return;
    }
    case JSON_STRING: {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        if (!s) {
            b->oom = 1;
            return;
        }
        add(b, s, strlen(s));
        free(s);
        return;
    }
    case JSON_TRUE:
        add(b, "true", 4);
        return;
    case JSON_FALSE:
        add(b, "false", 5);
        return;
    case JSON_NULL:
        add(b, "null", 4);
        return;
    }
}

char *ember_json_compact(json_t *v)
{
    ember_csv b = {0};
    dump(&b, v, -1);
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int ember_json_save(json_t *root, const char *path, ember_ferr *err)
{
    ember_csv b = {0};
    dump(&b, root, 0);
    add(&b, "\n", 1); /* a text file ends with a line break */
    return ember_csv_save(&b, path, err);
}
