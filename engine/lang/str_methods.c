/* str_methods.c — the str type: its descriptor and methods (upper, split,
 * join, format...). Strings are UTF-8; lengths and indices count code points. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lang_value *oom(lang_ctx *cx) { return lang_raise(cx, "MemoryError", "out of memory"); }
static lang_value *ret_str(lang_ctx *cx, char *p, size_t n) { return p ? lang_str_take(p, n) : oom(cx); }
static lang_value *ret(lang_ctx *cx, lang_value *v) { return v ? v : oom(cx); }
#define SELF(a) ((a)->self->as.str)

/* Case mapping for ASCII, Latin-1, Greek and Cyrillic: the letters a
 * notebook's labels and names are written in, without a locale. */
static uint32_t map_case(uint32_t c, int upper)
{
    if (upper) {
        if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) ||
            (c >= 0x430 && c <= 0x44F))
            return c - 0x20;
        if (c >= 0x450 && c <= 0x45F)
            return c - 0x50;
        return c;
    }
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) ||
        (c >= 0x410 && c <= 0x42F))
        return c + 0x20;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    return c;
}

static lang_value *m_case(lang_ctx *cx, const lang_args *a, int upper)
{
    strbuf b = {0};
    const char *s = SELF(a).ptr;
    size_t n = SELF(a).len, i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        char u[4];
        sb_add(&b, u, utf8_encode(map_case(cp, upper), u));
        i += k;
    }
    size_t len = b.len;
    char *p = sb_take(&b);
    return ret_str(cx, p, len);
}
static lang_value *m_upper(lang_ctx *cx, const lang_args *a) { return m_case(cx, a, 1); }
static lang_value *m_lower(lang_ctx *cx, const lang_args *a) { return m_case(cx, a, 0); }

static int in_chars(uint32_t cp, const lang_value *chars)
{
    if (!chars)
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v';
    const char *s = chars->as.str.ptr;
    size_t n = chars->as.str.len, i = 0;
    while (i < n) {
        uint32_t c;
        i += utf8_decode(s + i, n - i, &c);
        if (c == cp)
            return 1;
    }
    return 0;
}

static lang_value *m_strip_impl(lang_ctx *cx, const lang_args *a, int left, int right)
{
    const lang_value *chars = a->v[0]->kind == LANG_NONE ? NULL : a->v[0];
    if (chars && chars->kind != LANG_STR)
        return lang_arg_error(cx, a, 0, "TypeError", "a string or none");
    const char *s = SELF(a).ptr;
    size_t n = SELF(a).len, lo = 0, hi = n;
    while (left && lo < hi) {
        uint32_t cp;
        size_t k = utf8_decode(s + lo, hi - lo, &cp);
        if (!in_chars(cp, chars))
            break;
        lo += k;
    }
    while (right && hi > lo) {
        size_t st = hi - 1;
        while (st > lo && ((unsigned char)s[st] & 0xC0) == 0x80)
            st--;
        uint32_t cp;
        utf8_decode(s + st, hi - st, &cp);
        if (!in_chars(cp, chars))
            break;
        hi = st;
    }
    return ret(cx, lang_str(s + lo, hi - lo));
}
static lang_value *m_strip(lang_ctx *cx, const lang_args *a) { return m_strip_impl(cx, a, 1, 1); }
static lang_value *m_lstrip(lang_ctx *cx, const lang_args *a) { return m_strip_impl(cx, a, 1, 0); }
static lang_value *m_rstrip(lang_ctx *cx, const lang_args *a) { return m_strip_impl(cx, a, 0, 1); }

/* A growable list under construction. */
typedef struct vec {
    lang_value **v;
    size_t n, cap;
} vec;

static int vec_push(vec *x, lang_value *item)
{
    if (!item)
        return -1;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 8;
        lang_value **p = realloc(x->v, cap * sizeof *p);
        if (!p) {
            lang_decref(item);
            return -1;
        }
        x->v = p;
        x->cap = cap;
    }
    x->v[x->n++] = item;
    return 0;
}

static void vec_free(vec *x)
{
    for (size_t i = 0; i < x->n; i++)
        lang_decref(x->v[i]);
    free(x->v);
}

static lang_value *vec_to_list(lang_ctx *cx, vec *x)
{
    lang_value *l = lang_list_new(x->n);
    if (!l) {
        vec_free(x);
        return oom(cx);
    }
    for (size_t i = 0; i < x->n; i++)
        lang_list_set(l, i, x->v[i]);
    free(x->v);
    return l;
}

static lang_value *m_split(lang_ctx *cx, const lang_args *a)
{
    const lang_value *sep = a->v[0];
    int64_t maxsplit;
    if (sep->kind != LANG_NONE && sep->kind != LANG_STR)
        return lang_arg_error(cx, a, 0, "TypeError", "a string or none");
    if (lang_arg_int(cx, a, 1, &maxsplit) < 0)
        return NULL;
    if (sep->kind == LANG_STR && sep->as.str.len == 0)
        return lang_arg_error(cx, a, 0, "ValueError", "a non-empty string");
    const char *s = SELF(a).ptr;
    size_t n = SELF(a).len, i = 0;
    vec out = {0};
    int64_t splits = 0;
    if (sep->kind == LANG_NONE) {
        for (;;) {
            while (i < n && in_chars((unsigned char)s[i], NULL))
                i++;
            if (i >= n)
                break;
            size_t st = i;
            if (maxsplit >= 0 && splits >= maxsplit) {
                size_t en = n;
                while (en > st && in_chars((unsigned char)s[en - 1], NULL))
                    en--;
                if (vec_push(&out, lang_str(s + st, en - st)) < 0)
                    goto fail;
                break;
            }
            while (i < n && !in_chars((unsigned char)s[i], NULL))
                i++;
            if (vec_push(&out, lang_str(s + st, i - st)) < 0)
                goto fail;
            splits++;
        }
    } else {
        const char *p = sep->as.str.ptr;
        size_t pl = sep->as.str.len;
        for (;;) {
            const char *hit = (maxsplit >= 0 && splits >= maxsplit) ? NULL : memmem(s + i, n - i, p, pl);
            if (!hit) {
                if (vec_push(&out, lang_str(s + i, n - i)) < 0)
                    goto fail;
                break;
            }
            if (vec_push(&out, lang_str(s + i, (size_t)(hit - (s + i)))) < 0)
                goto fail;
            i = (size_t)(hit - s) + pl;
            splits++;
        }
    }
    return vec_to_list(cx, &out);
fail:
    vec_free(&out);
    return oom(cx);
}

static lang_value *m_replace(lang_ctx *cx, const lang_args *a)
{
    const char *old, *new;
    size_t ol, nl;
    int64_t count;
    if (lang_arg_strn(cx, a, 0, &old, &ol) < 0 || lang_arg_strn(cx, a, 1, &new, &nl) < 0 ||
        lang_arg_int(cx, a, 2, &count) < 0)
        return NULL;
    const char *s = SELF(a).ptr;
    size_t n = SELF(a).len, i = 0;
    strbuf b = {0};
    int64_t done = 0;
    if (ol == 0) {
        /* like Python: insert between every code point */
        while (count < 0 || done < count) {
            sb_add(&b, new, nl);
            done++;
            if (i >= n)
                break;
            uint32_t cp;
            size_t k = utf8_decode(s + i, n - i, &cp);
            sb_add(&b, s + i, k);
            i += k;
        }
        sb_add(&b, s + i, n - i);
    } else {
        while (count < 0 || done < count) {
            const char *hit = memmem(s + i, n - i, old, ol);
            if (!hit)
                break;
            sb_add(&b, s + i, (size_t)(hit - (s + i)));
            sb_add(&b, new, nl);
            i = (size_t)(hit - s) + ol;
            done++;
        }
        sb_add(&b, s + i, n - i);
    }
    size_t len = b.len;
    char *p = sb_take(&b);
    return ret_str(cx, p, len);
}

static lang_value *m_startswith(lang_ctx *cx, const lang_args *a)
{
    const char *p;
    size_t pl;
    if (lang_arg_strn(cx, a, 0, &p, &pl) < 0)
        return NULL;
    return lang_bool(pl <= SELF(a).len && !memcmp(SELF(a).ptr, p, pl));
}

static lang_value *m_endswith(lang_ctx *cx, const lang_args *a)
{
    const char *p;
    size_t pl;
    if (lang_arg_strn(cx, a, 0, &p, &pl) < 0)
        return NULL;
    return lang_bool(pl <= SELF(a).len && !memcmp(SELF(a).ptr + SELF(a).len - pl, p, pl));
}

static lang_value *m_join(lang_ctx *cx, const lang_args *a)
{
    const lang_value *items = a->v[0];
    if (items->kind != LANG_LIST)
        return lang_arg_error(cx, a, 0, "TypeError", "a list of strings");
    strbuf b = {0};
    for (size_t i = 0; i < items->as.list.len; i++) {
        const lang_value *it = items->as.list.items[i];
        if (it->kind != LANG_STR) {
            free(b.p);
            return lang_raise(cx, "TypeError", "str.join: item %zu of the list is %s, not a string (use str(x))", i,
                              lang_type_name(it));
        }
        if (i)
            sb_add(&b, SELF(a).ptr, SELF(a).len);
        sb_add(&b, it->as.str.ptr, it->as.str.len);
    }
    size_t len = b.len;
    char *p = sb_take(&b);
    return ret_str(cx, p, len);
}

static lang_value *m_find(lang_ctx *cx, const lang_args *a)
{
    const char *p;
    size_t pl;
    if (lang_arg_strn(cx, a, 0, &p, &pl) < 0)
        return NULL;
    const char *hit = memmem(SELF(a).ptr, SELF(a).len, p, pl);
    if (!hit)
        return ret(cx, lang_int(-1));
    return ret(cx, lang_int((int64_t)utf8_count(SELF(a).ptr, (size_t)(hit - SELF(a).ptr))));
}

static lang_value *m_count(lang_ctx *cx, const lang_args *a)
{
    const char *p;
    size_t pl;
    if (lang_arg_strn(cx, a, 0, &p, &pl) < 0)
        return NULL;
    size_t n = SELF(a).len, i = 0;
    if (pl == 0)
        return ret(cx, lang_int((int64_t)lang_str_length(a->self) + 1));
    int64_t c = 0;
    const char *hit;
    while ((hit = memmem(SELF(a).ptr + i, n - i, p, pl))) {
        c++;
        i = (size_t)(hit - SELF(a).ptr) + pl;
    }
    return ret(cx, lang_int(c));
}

/* One replacement field's spec: [width][.precision][type]. */
static int format_one(lang_ctx *cx, strbuf *b, const lang_value *v, const char *spec, size_t sl)
{
    char buf[512];
    int width = 0, prec = -1;
    char type = 0;
    size_t i = 0;
    while (i < sl && spec[i] >= '0' && spec[i] <= '9' && width < 400)
        width = width * 10 + (spec[i++] - '0');
    if (i < sl && spec[i] == '.') {
        i++;
        prec = 0;
        while (i < sl && spec[i] >= '0' && spec[i] <= '9' && prec < 100)
            prec = prec * 10 + (spec[i++] - '0');
    }
    if (i < sl)
        type = spec[i++];
    if (i != sl || (type && !strchr("fFeEgGd%s", type))) {
        lang_raise(cx, "ValueError", "str.format: unsupported format spec '%.*s' (use [width][.precision][f|e|g|d|%%|s])",
                   (int)sl, spec);
        return -1;
    }
    char *text = NULL;
    int isnum = v->kind == LANG_INT || v->kind == LANG_FLOAT || v->kind == LANG_BOOL;
    if (type && type != 's') {
        if (!isnum) {
            lang_raise(cx, "ValueError", "str.format: format '%c' needs a number, got %s", type, lang_type_name(v));
            return -1;
        }
        double d = v->kind == LANG_FLOAT ? v->as.f : (double)(v->kind == LANG_INT ? v->as.i : v->as.b);
        if (type == 'd') {
            if (v->kind == LANG_FLOAT) {
                lang_raise(cx, "ValueError", "str.format: format 'd' needs an int, got float");
                return -1;
            }
            snprintf(buf, sizeof buf, "%*lld", width, (long long)(v->kind == LANG_INT ? v->as.i : v->as.b));
        } else if (type == '%') {
            snprintf(buf, sizeof buf, "%*.*f%%", width > 0 ? width - 1 : 0, prec < 0 ? 6 : prec, d * 100.0);
        } else {
            char f[16];
            snprintf(f, sizeof f, "%%*.*%c", type);
            snprintf(buf, sizeof buf, f, width, prec < 0 ? 6 : prec, d);
        }
        sb_adds(b, buf);
        return 0;
    }
    if (prec >= 0 && v->kind == LANG_FLOAT) {
        snprintf(buf, sizeof buf, "%*.*g", width, prec, v->as.f);
        sb_adds(b, buf);
        return 0;
    }
    size_t bytes;
    text = lang_to_strn(v, &bytes);
    if (!text) {
        oom(cx);
        return -1;
    }
    size_t len = utf8_count(text, bytes);
    for (size_t k = len; isnum && k < (size_t)width; k++)
        sb_add(b, " ", 1);
    sb_add(b, text, bytes);
    for (size_t k = len; !isnum && k < (size_t)width; k++)
        sb_add(b, " ", 1);
    free(text);
    return 0;
}

static lang_value *m_format(lang_ctx *cx, const lang_args *a)
{
    const char *s = SELF(a).ptr;
    size_t n = SELF(a).len;
    strbuf b = {0};
    size_t auto_i = 0;
    int manual = 0, automatic = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '{' && i + 1 < n && s[i + 1] == '{') {
            sb_add(&b, "{", 1);
            i += 2;
            continue;
        }
        if (s[i] == '}' && i + 1 < n && s[i + 1] == '}') {
            sb_add(&b, "}", 1);
            i += 2;
            continue;
        }
        if (s[i] == '}') {
            free(b.p);
            return lang_raise(cx, "ValueError", "str.format: single '}' encountered in the format string");
        }
        if (s[i] != '{') {
            sb_add(&b, s + i, 1);
            i++;
            continue;
        }
        const char *close = memchr(s + i, '}', n - i);
        if (!close) {
            free(b.p);
            return lang_raise(cx, "ValueError", "str.format: single '{' encountered in the format string");
        }
        const char *field = s + i + 1;
        size_t fl = (size_t)(close - field);
        const char *colon = memchr(field, ':', fl);
        size_t namel = colon ? (size_t)(colon - field) : fl;
        size_t idx;
        if (namel == 0) {
            automatic = 1;
            idx = auto_i++;
        } else {
            idx = 0;
            for (size_t k = 0; k < namel; k++) {
                if (field[k] < '0' || field[k] > '9' || idx > 10000) {
                    free(b.p);
                    return lang_raise(cx, "ValueError",
                                      "str.format: only positional fields like {} or {0} are supported, got {%.*s}",
                                      (int)namel, field);
                }
                idx = idx * 10 + (size_t)(field[k] - '0');
            }
            manual = 1;
        }
        if (manual && automatic) {
            free(b.p);
            return lang_raise(cx, "ValueError", "str.format: cannot mix {} and {0} fields");
        }
        if (idx >= a->nrest) {
            free(b.p);
            return lang_raise(cx, "IndexError", "str.format: field %zu has no argument (%zu given)", idx, a->nrest);
        }
        if (format_one(cx, &b, a->rest[idx], colon ? colon + 1 : "", colon ? fl - namel - 1 : 0) < 0) {
            free(b.p);
            return NULL;
        }
        i = (size_t)(close - s) + 1;
    }
    size_t len = b.len;
    char *p = sb_take(&b);
    return ret_str(cx, p, len);
}

static const lang_builtin str_methods[] = {
    {"upper()", "Return a copy in upper case (ASCII, Latin-1, Greek and Cyrillic letters).", m_upper},
    {"lower()", "Return a copy in lower case (ASCII, Latin-1, Greek and Cyrillic letters).", m_lower},
    {"strip(chars=none)", "Return a copy without leading and trailing whitespace (or the characters in chars).",
     m_strip},
    {"lstrip(chars=none)", "Return a copy without leading whitespace (or the characters in chars).", m_lstrip},
    {"rstrip(chars=none)", "Return a copy without trailing whitespace (or the characters in chars).", m_rstrip},
    {"split(sep=none, maxsplit=-1)",
     "Return a list of the words in the string, split at sep (by default at runs of whitespace), at most "
     "maxsplit times when maxsplit >= 0.",
     m_split},
    {"replace(old, new, count=-1)", "Return a copy with occurrences of old replaced by new (the first count ones "
                                    "when count >= 0).",
     m_replace},
    {"startswith(prefix)", "Return true when the string starts with prefix.", m_startswith},
    {"endswith(suffix)", "Return true when the string ends with suffix.", m_endswith},
    {"join(items)", "Return the strings in the list items joined by this string: ', '.join(['a', 'b']) is 'a, b'.",
     m_join},
    {"find(sub)", "Return the index of the first occurrence of sub, or -1.", m_find},
    {"count(sub)", "Return the number of non-overlapping occurrences of sub.", m_count},
    {"format(*args)",
     "Return the string with each {} or {0} field replaced by an argument; a field may carry a spec "
     "[width][.precision][type] with type f, e, g, d, % or s: 'loss {:.3f}'.format(0.12345) is 'loss 0.123'.",
     m_format},
};

static char *str_repr(const lang_value *v) { return lang_repr(v); }

const lang_type lang_str_type = {
    .name = "str",
    .doc = "str: an immutable UTF-8 string, written '...' or \"...\" (or triple-quoted over several lines). "
           "len() and indices count characters (code points); s[i], s[a:b], s + t, s * n, x in s.",
    .repr = str_repr,
    .methods = str_methods,
    .nmethods = sizeof str_methods / sizeof str_methods[0],
};
