/* repr.c — text forms of values, as Python's repr() writes them (shortest
 * round-trip floats, quoted strings), and the MIME bundles for display. */
#include "internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) {
            if (cap > LANG_MAX_BYTES) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sb_adds(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

void sb_addf(strbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    if ((size_t)k < sizeof tmp) {
        sb_add(b, tmp, (size_t)k);
        return;
    }
    char *big = malloc((size_t)k + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)k);
    free(big);
}

char *sb_take(strbuf *b)
{
    if (b->oom) {
        free(b->p);
        b->p = NULL;
        return NULL;
    }
    if (!b->p)
        return calloc(1, 1);
    char *p = b->p;
    b->p = NULL;
    return p;
}

void lang_sb_html(lang_strbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_adds(b, "&amp;"); break;
        case '<': sb_adds(b, "&lt;"); break;
        case '>': sb_adds(b, "&gt;"); break;
        case '"': sb_adds(b, "&quot;"); break;
        default: sb_add(b, s, 1);
        }
    }
}

json_t *lang_sb_html_bundle(lang_strbuf *b)
{
    char *html = sb_take(b);
    if (!html)
        return NULL;
    json_t *bundle = json_pack("{s:s}", "text/html", html);
    free(html);
    return bundle;
}

void lang_format_thousands(int64_t v, char *buf, size_t size)
{
    char digits[32];
    /* via unsigned, so INT64_MIN has digits too */
    snprintf(digits, sizeof digits, "%" PRIu64, v < 0 ? -(uint64_t)v : (uint64_t)v);
    size_t nd = strlen(digits), o = 0;
    if (size == 0)
        return;
    if (v < 0 && o + 1 < size)
        buf[o++] = '-';
    for (size_t i = 0; i < nd && o + 2 < size; i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

/* Python's float repr: the shortest digit string that reads back as the
 * same double, in fixed notation for exponents -4..15, else scientific. */
void format_float(double f, char *buf, size_t size)
{
    if (isnan(f)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, size, f < 0 ? "-inf" : "inf");
        return;
    }
    char tmp[64];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    if (prec == 17)
        snprintf(tmp, sizeof tmp, "%.16e", f);
    /* tmp: [-]d[.ddd]e[+-]XX */
    char digits[40];
    size_t nd = 0;
    int neg = tmp[0] == '-';
    const char *s = tmp + neg;
    for (; *s && *s != 'e'; s++)
        if (*s != '.')
            digits[nd++] = *s;
    digits[nd] = 0;
    int exp = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = 0;
    char out[64];
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int k = 0; k < -exp - 1; k++)
                out[o++] = '0';
            for (size_t k = 0; k < nd; k++)
                out[o++] = digits[k];
        } else {
            for (int k = 0; k <= exp; k++)
                out[o++] = (size_t)k < nd ? digits[k] : '0';
            out[o++] = '.';
            if ((size_t)exp + 1 < nd) {
                for (size_t k = (size_t)exp + 1; k < nd; k++)
                    out[o++] = digits[k];
            } else {
                out[o++] = '0';
            }
        }
        out[o] = 0;
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (size_t k = 1; k < nd; k++)
                out[o++] = digits[k];
        }
        out[o] = 0;
        snprintf(out + o, sizeof out - o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    snprintf(buf, size, "%s", out);
}

static void repr_str(strbuf *b, const char *s, size_t n)
{
    int has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    sb_add(b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\\': sb_add(b, "\\\\", 2); break;
        case '\n': sb_add(b, "\\n", 2); break;
        case '\r': sb_add(b, "\\r", 2); break;
        case '\t': sb_add(b, "\\t", 2); break;
        default:
            if (c == (unsigned char)q) {
                sb_add(b, "\\", 1);
                sb_add(b, &q, 1);
            } else if (c < 0x20 || c == 0x7F) {
                sb_addf(b, "\\x%02x", c);
            } else {
                sb_add(b, (const char *)&c, 1);
            }
        }
    }
    sb_add(b, &q, 1);
}

void repr_into(strbuf *b, const lang_value *v, int depth)
{
    char num[64];
    switch (v->kind) {
    case LANG_NONE: sb_adds(b, "none"); break;
    case LANG_BOOL: sb_adds(b, v->as.b ? "true" : "false"); break;
    case LANG_INT: sb_addf(b, "%lld", (long long)v->as.i); break;
    case LANG_FLOAT:
        format_float(v->as.f, num, sizeof num);
        sb_adds(b, num);
        break;
    case LANG_STR: repr_str(b, v->as.str.ptr, v->as.str.len); break;
    case LANG_LIST:
        if (depth > LANG_MAX_LIST_DEPTH + 1) {
            sb_adds(b, "[...]");
            break;
        }
        sb_add(b, "[", 1);
        for (size_t i = 0; i < v->as.list.len && !b->oom; i++) {
            if (i)
                sb_add(b, ", ", 2);
            repr_into(b, v->as.list.items[i], depth + 1);
        }
        sb_add(b, "]", 1);
        break;
    case LANG_FUNC: {
        char name[64];
        lang_builtin_name(v->as.func.def, name, sizeof name);
        if (v->as.func.self)
            sb_addf(b, "<method %s.%s>", v->as.func.owner ? v->as.func.owner->name : "?", name);
        else
            sb_addf(b, "<builtin %s>", name);
        break;
    }
    case LANG_OBJECT: {
        const lang_type *t = v->as.obj.type;
        char *s = t->repr ? t->repr(v) : NULL;
        if (s) {
            sb_adds(b, s);
            free(s);
        } else if (t->repr) {
            b->oom = 1;
        } else {
            sb_addf(b, "<%s>", t->name);
        }
        break;
    }
    }
}

char *lang_repr(const lang_value *v)
{
    strbuf b = {0};
    repr_into(&b, v, 0);
    return sb_take(&b);
}

char *lang_to_strn(const lang_value *v, size_t *len)
{
    if (v->kind == LANG_STR) {
        *len = v->as.str.len;
        return bytes_dup(v->as.str.ptr, v->as.str.len);
    }
    strbuf b = {0};
    repr_into(&b, v, 0);
    *len = b.len;
    return sb_take(&b);
}

char *lang_to_str(const lang_value *v)
{
    size_t len;
    return lang_to_strn(v, &len);
}

json_t *json_string_lossy(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    strbuf b = {0};
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (cp == 0xFFFD && k == 1)
            sb_add(&b, "\xEF\xBF\xBD", 3);
        else
            sb_add(&b, s + i, k);
        i += k;
    }
    char *p = sb_take(&b);
    if (!p)
        return NULL;
    j = json_stringn(p, strlen(p));
    free(p);
    return j;
}

json_t *lang_mime(const lang_value *v)
{
    json_t *bundle = NULL;
    if (v->kind == LANG_OBJECT && v->as.obj.type->mime) {
        bundle = v->as.obj.type->mime(v);
        if (bundle && !json_is_object(bundle)) {
            json_decref(bundle);
            bundle = NULL;
        }
    }
    if (!bundle)
        bundle = json_object();
    if (!bundle)
        return NULL;
    if (!json_object_get(bundle, "text/plain")) {
        char *s = lang_repr(v);
        json_t *js = s ? json_string_lossy(s, strlen(s)) : NULL;
        free(s);
        if (!js || json_object_set_new(bundle, "text/plain", js) < 0) {
            json_decref(bundle);
            return NULL;
        }
    }
    return bundle;
}

json_t *lang_mime_metadata(const lang_value *v)
{
    if (v->kind == LANG_OBJECT && v->as.obj.type->mime_metadata) {
        json_t *m = v->as.obj.type->mime_metadata(v);
        if (json_is_object(m))
            return m;
        json_decref(m);
    }
    return json_object();
}
