/* builtins_core.c — the builtins every cell has: output (print, display,
 * update_display, clear_output, help), conversions and small utilities
 * (len, type, str, int, float, range...), sleep and input. Each is one table
 * entry: signature, docstring, function. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static lang_value *oom(lang_ctx *cx) { return lang_raise(cx, "MemoryError", "out of memory"); }
static lang_value *ret(lang_ctx *cx, lang_value *v) { return v ? v : oom(cx); }

/* Writes a built-up text to a stream and frees it; the builtin's result is none. */
static lang_value *write_buffer(lang_ctx *cx, const char *stream, strbuf *b)
{
    size_t len = b->len;
    char *text = sb_take(b);
    if (!text)
        return oom(cx);
    lang_write(cx, stream, text, len);
    free(text);
    return lang_none();
}

static lang_value *b_print(lang_ctx *cx, const lang_args *a)
{
    const lang_value *sep = a->v[0], *end = a->v[1];
    const char *file;
    if (sep->kind != LANG_STR && sep->kind != LANG_NONE)
        return lang_arg_error(cx, a, 0, "TypeError", "a string or none");
    if (end->kind != LANG_STR && end->kind != LANG_NONE)
        return lang_arg_error(cx, a, 1, "TypeError", "a string or none");
    if (lang_arg_str(cx, a, 2, &file) < 0)
        return NULL;
    if (strcmp(file, "stdout") && strcmp(file, "stderr"))
        return lang_arg_error(cx, a, 2, "ValueError", "'stdout' or 'stderr'");
    strbuf b = {0};
    for (size_t i = 0; i < a->nrest; i++) {
        if (i) {
            if (sep->kind == LANG_STR)
                sb_add(&b, sep->as.str.ptr, sep->as.str.len);
            else
                sb_add(&b, " ", 1);
        }
        size_t len;
        char *s = lang_to_strn(a->rest[i], &len);
        if (!s) {
            free(b.p);
            return oom(cx);
        }
        sb_add(&b, s, len);
        free(s);
    }
    if (end->kind == LANG_STR)
        sb_add(&b, end->as.str.ptr, end->as.str.len);
    else
        sb_add(&b, "\n", 1);
    return write_buffer(cx, file, &b);
}

static int display_one(lang_ctx *cx, const lang_value *v, const char *id, int update)
{
    return lang_display(cx, v, id, update);
}

static lang_value *b_display(lang_ctx *cx, const lang_args *a)
{
    const lang_value *id = a->v[0];
    if (id->kind != LANG_STR && id->kind != LANG_NONE)
        return lang_arg_error(cx, a, 0, "TypeError", "a string or none");
    if (id->kind == LANG_STR && id->as.str.len == 0)
        return lang_arg_error(cx, a, 0, "ValueError", "a non-empty string");
    if (id->kind == LANG_STR && memchr(id->as.str.ptr, 0, id->as.str.len))
        return lang_arg_error(cx, a, 0, "ValueError", "a string without NUL characters");
    for (size_t i = 0; i < a->nrest; i++) {
        /* display(*range(10**6)) can take a while (and waits for a slow
         * front end): the stop button must stop it */
        if (lang_check_interrupt(cx) < 0 ||
            display_one(cx, a->rest[i], id->kind == LANG_STR ? id->as.str.ptr : NULL, 0) < 0)
            return NULL;
    }
    return lang_none();
}

static lang_value *b_update_display(lang_ctx *cx, const lang_args *a)
{
    const char *id;
    if (lang_arg_str(cx, a, 1, &id) < 0)
        return NULL;
    if (!*id)
        return lang_arg_error(cx, a, 1, "ValueError", "a non-empty string");
    if (display_one(cx, a->v[0], id, 1) < 0)
        return NULL;
    return lang_none();
}

static lang_value *b_clear_output(lang_ctx *cx, const lang_args *a)
{
    int wait;
    if (lang_arg_bool(cx, a, 0, &wait) < 0)
        return NULL;
    const ember_io *io = lang_io(cx);
    if (io->clear_output)
        io->clear_output(io->ctx, wait);
    return lang_none();
}

static lang_value *b_help(lang_ctx *cx, const lang_args *a)
{
    const lang_value *x = a->v[0];
    char *text;
    if (x->kind == LANG_NONE) {
        text = help_index();
    } else if (x->kind == LANG_STR && lang_find_builtin(x->as.str.ptr)) {
        lang_value *f = lang_func(lang_find_builtin(x->as.str.ptr), NULL, NULL);
        if (!f)
            return oom(cx);
        text = help_text(f);
        lang_decref(f);
    } else {
        text = help_text(x);
    }
    if (!text)
        return oom(cx);
    if (!cx->payload) {
        lang_write(cx, "stdout", text, strlen(text));
        lang_write(cx, "stdout", "\n", 1);
        free(text);
        return lang_none();
    }
    json_t *page = json_pack("{s:s, s:{s:o}, s:i}", "source", "page", "data", "text/plain",
                             json_string_lossy(text, strlen(text)), "start", 0);
    free(text);
    if (!page)
        return oom(cx);
    lang_add_payload(cx, page);
    return lang_none();
}

static lang_value *b_len(lang_ctx *cx, const lang_args *a)
{
    lang_value *x = a->v[0];
    switch (x->kind) {
    case LANG_STR: return ret(cx, lang_int((int64_t)lang_str_length(x)));
    case LANG_LIST: return ret(cx, lang_int((int64_t)x->as.list.len));
    case LANG_OBJECT:
        if (x->as.obj.type->len) {
            int64_t n;
            if (x->as.obj.type->len(cx, x, &n) < 0)
                return NULL;
            return ret(cx, lang_int(n));
        }
        break;
    default:
        break;
    }
    return lang_raise(cx, "TypeError", "object of type '%s' has no len()", lang_type_name(x));
}

static lang_value *b_type(lang_ctx *cx, const lang_args *a) { return ret(cx, lang_cstr(lang_type_name(a->v[0]))); }

static lang_value *b_str(lang_ctx *cx, const lang_args *a)
{
    size_t len;
    char *s = lang_to_strn(a->v[0], &len);
    return s ? ret(cx, lang_str_take(s, len)) : oom(cx);
}

static lang_value *b_repr(lang_ctx *cx, const lang_args *a)
{
    char *s = lang_repr(a->v[0]);
    return s ? ret(cx, lang_str_take(s, strlen(s))) : oom(cx);
}

static lang_value *b_bool(lang_ctx *cx, const lang_args *a)
{
    (void)cx;
    return lang_bool(lang_truthy(a->v[0]));
}

/* Python's str.isspace for ASCII; not strchr, which also matches a NUL. */
static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static lang_value *b_int(lang_ctx *cx, const lang_args *a)
{
    const lang_value *x = a->v[0];
    switch (x->kind) {
    case LANG_INT: return lang_incref(a->v[0]);
    case LANG_BOOL: return ret(cx, lang_int(x->as.b));
    case LANG_FLOAT: {
        double f = x->as.f;
        if (isnan(f))
            return lang_raise(cx, "ValueError", "int: cannot convert float nan to integer");
        if (isinf(f))
            return lang_raise(cx, "OverflowError", "int: cannot convert float infinity to integer");
        double t = trunc(f);
        if (t >= 9223372036854775808.0 || t < -9223372036854775808.0)
            return lang_raise(cx, "OverflowError", "int: %g does not fit in 64 bits", f);
        return ret(cx, lang_int((int64_t)t));
    }
    case LANG_STR: {
        const char *s = x->as.str.ptr;
        char buf[64];
        size_t bl = 0, i = 0, n = x->as.str.len;
        while (i < n && is_space(s[i]))
            i++;
        while (n > i && is_space(s[n - 1]))
            n--;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            buf[bl++] = s[i++];
        int digits = 0, ok = i < n;
        for (; i < n && ok; i++) {
            if (s[i] >= '0' && s[i] <= '9' && bl < sizeof buf - 1) {
                buf[bl++] = s[i];
                digits++;
            } else if (!(s[i] == '_' && digits && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')) {
                ok = 0;
            }
        }
        buf[bl] = 0;
        if (!ok || !digits) {
            char *r = lang_repr(x);
            lang_raise(cx, "ValueError", "invalid literal for int() with base 10: %s", r ? r : "?");
            free(r);
            return NULL;
        }
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            return lang_raise(cx, "OverflowError", "int: %s does not fit in 64 bits", buf);
        return ret(cx, lang_int(v));
    }
    default:
        return lang_arg_error(cx, a, 0, "TypeError", "a number or a string");
    }
}

static lang_value *b_float(lang_ctx *cx, const lang_args *a)
{
    const lang_value *x = a->v[0];
    switch (x->kind) {
    case LANG_FLOAT: return lang_incref(a->v[0]);
    case LANG_INT: return ret(cx, lang_float((double)x->as.i));
    case LANG_BOOL: return ret(cx, lang_float(x->as.b));
    case LANG_STR: {
        char buf[128];
        const char *s = x->as.str.ptr;
        size_t i = 0, n = x->as.str.len, bl = 0;
        while (i < n && is_space(s[i]))
            i++;
        while (n > i && is_space(s[n - 1]))
            n--;
        for (; i < n && bl < sizeof buf - 1 && s[i]; i++) /* strtod would stop at a NUL */
            if (s[i] != '_')
                buf[bl++] = s[i];
        buf[bl] = 0;
        char *end;
        double v = bl ? strtod(buf, &end) : 0;
        int hex = strchr(buf, 'x') || strchr(buf, 'X');
        if (!bl || *end || i < n || hex) {
            char *r = lang_repr(x);
            lang_raise(cx, "ValueError", "could not convert string to float: %s", r ? r : "?");
            free(r);
            return NULL;
        }
        return ret(cx, lang_float(v));
    }
    default:
        return lang_arg_error(cx, a, 0, "TypeError", "a number or a string");
    }
}

static lang_value *b_abs(lang_ctx *cx, const lang_args *a)
{
    const lang_value *x = a->v[0];
    if (x->kind == LANG_INT || x->kind == LANG_BOOL) {
        int64_t i = x->kind == LANG_INT ? x->as.i : x->as.b;
        if (i == INT64_MIN)
            return lang_raise(cx, "OverflowError", "abs: %lld does not fit in 64 bits once positive", (long long)i);
        return ret(cx, lang_int(i < 0 ? -i : i));
    }
    if (x->kind == LANG_FLOAT)
        return ret(cx, lang_float(fabs(x->as.f)));
    return lang_arg_error(cx, a, 0, "TypeError", "a number");
}

static lang_value *min_max(lang_ctx *cx, const lang_args *a, int want)
{
    lang_value *const *items = a->rest;
    size_t n = a->nrest;
    if (n == 1 && a->rest[0]->kind == LANG_LIST) {
        items = a->rest[0]->as.list.items;
        n = a->rest[0]->as.list.len;
    }
    if (n == 0)
        return lang_raise(cx, "ValueError", "%s: no values given (pass several values or a non-empty list)",
                          a->fname);
    lang_value *best = items[0];
    for (size_t i = 1; i < n; i++) {
        int err;
        int c = value_order(items[i], best, &err);
        if (err)
            return lang_raise(cx, "TypeError", "%s: cannot compare %s with %s", a->fname, lang_type_name(items[i]),
                              lang_type_name(best));
        if (c == want)
            best = items[i];
    }
    return lang_incref(best);
}
static lang_value *b_min(lang_ctx *cx, const lang_args *a) { return min_max(cx, a, -1); }
static lang_value *b_max(lang_ctx *cx, const lang_args *a) { return min_max(cx, a, 1); }

#ifndef RANGE_MAX
#define RANGE_MAX 10000000
#endif

static lang_value *b_range(lang_ctx *cx, const lang_args *a)
{
    int64_t start, stop, step;
    if (lang_arg_int(cx, a, 0, &start) < 0)
        return NULL;
    if (a->v[1]->kind == LANG_NONE) {
        stop = start;
        start = 0;
    } else if (lang_arg_int(cx, a, 1, &stop) < 0) {
        return NULL;
    }
    if (lang_arg_int(cx, a, 2, &step) < 0)
        return NULL;
    if (step == 0)
        return lang_arg_error(cx, a, 2, "ValueError", "a non-zero integer");
    __int128 count = 0;
    if (step > 0 && stop > start)
        count = ((__int128)stop - start + step - 1) / step;
    else if (step < 0 && start > stop)
        count = ((__int128)start - stop - step - 1) / -(__int128)step;
    if (count > RANGE_MAX)
        return lang_raise(cx, "ValueError", "range: %lld items is too many for a list (the limit is %d)",
                          (long long)count, RANGE_MAX);
    lang_value *l = lang_list_new((size_t)count);
    if (!l)
        return oom(cx);
    for (size_t i = 0; i < (size_t)count; i++) {
        if ((i & 0xFFFF) == 0xFFFF && lang_check_interrupt(cx) < 0) {
            lang_decref(l);
            return NULL;
        }
        lang_value *v = lang_int((int64_t)((__int128)start + (__int128)i * step));
        if (!v) {
            lang_decref(l);
            return oom(cx);
        }
        lang_list_set(l, i, v);
    }
    return l;
}

static lang_value *b_round(lang_ctx *cx, const lang_args *a)
{
    double x;
    if (lang_arg_number(cx, a, 0, &x) < 0)
        return NULL;
    if (a->v[1]->kind == LANG_NONE) {
        if (a->v[0]->kind != LANG_FLOAT)
            return ret(cx, lang_int(a->v[0]->kind == LANG_INT ? a->v[0]->as.i : a->v[0]->as.b));
        if (isnan(x))
            return lang_raise(cx, "ValueError", "round: cannot convert float nan to integer");
        double r = nearbyint(x); /* half to even, as Python */
        if (!(r < 9223372036854775808.0 && r >= -9223372036854775808.0))
            return lang_raise(cx, "OverflowError", "round: %g does not fit in a 64-bit int", x);
        return ret(cx, lang_int((int64_t)r));
    }
    int64_t nd;
    if (lang_arg_int(cx, a, 1, &nd) < 0)
        return NULL;
    if (a->v[0]->kind != LANG_FLOAT)
        return lang_incref(a->v[0]);
    if (!isfinite(x) || nd > 300)
        return ret(cx, lang_float(x));
    if (nd < -300)
        return ret(cx, lang_float(0.0 * x));
    if (nd < 0) {
        double p = pow(10.0, (double)-nd);
        return ret(cx, lang_float(nearbyint(x / p) * p));
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%.*f", (int)nd, x);
    return ret(cx, lang_float(strtod(buf, NULL)));
}

static lang_value *b_sum(lang_ctx *cx, const lang_args *a)
{
    const lang_value *items = a->v[0];
    if (items->kind != LANG_LIST)
        return lang_arg_error(cx, a, 0, "TypeError", "a list of numbers");
    const lang_value *st = a->v[1];
    if (st->kind != LANG_INT && st->kind != LANG_FLOAT && st->kind != LANG_BOOL)
        return lang_arg_error(cx, a, 1, "TypeError", "a number");
    int isf = st->kind == LANG_FLOAT;
    int64_t si = st->kind == LANG_INT ? st->as.i : st->kind == LANG_BOOL ? st->as.b : 0;
    double sf = isf ? st->as.f : 0.0;
    for (size_t i = 0; i < items->as.list.len; i++) {
        const lang_value *x = items->as.list.items[i];
        if (x->kind == LANG_FLOAT) {
            if (!isf) {
                sf = (double)si;
                isf = 1;
            }
            sf += x->as.f;
        } else if (x->kind == LANG_INT || x->kind == LANG_BOOL) {
            int64_t v = x->kind == LANG_INT ? x->as.i : x->as.b;
            if (isf)
                sf += (double)v;
            else if (__builtin_add_overflow(si, v, &si))
                return lang_raise(cx, "OverflowError", "sum: the total does not fit in 64 bits (use floats)");
        } else {
            return lang_raise(cx, "TypeError", "sum: item %zu of the list is %s, not a number", i,
                              lang_type_name(x));
        }
    }
    return ret(cx, isf ? lang_float(sf) : lang_int(si));
}

static int sort_err;
static int sort_cmp(const void *x, const void *y)
{
    const lang_value *a = *(lang_value *const *)x, *b = *(lang_value *const *)y;
    int err;
    int c = value_order(a, b, &err);
    if (err)
        sort_err = 1;
    return c == 2 ? 0 : c;
}

static lang_value *b_sorted(lang_ctx *cx, const lang_args *a)
{
    const lang_value *items = a->v[0];
    int rev;
    if (items->kind != LANG_LIST)
        return lang_arg_error(cx, a, 0, "TypeError", "a list");
    if (lang_arg_bool(cx, a, 1, &rev) < 0)
        return NULL;
    size_t n = items->as.list.len;
    lang_value **tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp)
        return oom(cx);
    memcpy(tmp, items->as.list.items, n * sizeof *tmp);
    /* stable enough for equal keys of plain values; mergesort is overkill here */
    sort_err = 0;
    qsort(tmp, n, sizeof *tmp, sort_cmp);
    if (sort_err) {
        free(tmp);
        return lang_raise(cx, "TypeError", "sorted: the items cannot be compared with each other");
    }
    lang_value *l = lang_list_new(n);
    if (!l) {
        free(tmp);
        return oom(cx);
    }
    for (size_t i = 0; i < n; i++)
        lang_list_set(l, i, lang_incref(tmp[rev ? n - 1 - i : i]));
    free(tmp);
    return l;
}

static lang_value *b_who(lang_ctx *cx, const lang_args *a)
{
    (void)a;
    lang_state *st = cx->st;
    strbuf b = {0};
    if (st->n == 0)
        sb_adds(&b, "No variables are defined.\n");
    for (size_t i = 0; i < st->n; i++) {
        sb_adds(&b, st->names[i]);
        sb_adds(&b, i + 1 < st->n ? "   " : "\n");
    }
    return write_buffer(cx, "stdout", &b);
}

static lang_value *b_whos(lang_ctx *cx, const lang_args *a)
{
    (void)a;
    lang_state *st = cx->st;
    strbuf b = {0};
    if (st->n == 0) {
        sb_adds(&b, "No variables are defined.\n");
    } else {
        size_t w = 8;
        for (size_t i = 0; i < st->n; i++)
            if (strlen(st->names[i]) > w)
                w = strlen(st->names[i]);
        sb_addf(&b, "%-*s   %-8s   %s\n", (int)w, "Variable", "Type", "Value");
        for (size_t i = 0; i < w + 30; i++)
            sb_add(&b, "-", 1);
        sb_add(&b, "\n", 1);
        for (size_t i = 0; i < st->n; i++) {
            char *r = lang_repr(st->values[i]);
            if (!r) {
                free(b.p);
                return oom(cx);
            }
            size_t rl = strlen(r);
            size_t cut = utf8_offset(r, rl, 60);
            sb_addf(&b, "%-*s   %-8s   %.*s%s\n", (int)w, st->names[i], lang_type_name(st->values[i]), (int)cut, r,
                    cut < rl ? "..." : "");
            free(r);
        }
    }
    return write_buffer(cx, "stdout", &b);
}

static lang_value *b_vars(lang_ctx *cx, const lang_args *a)
{
    (void)a;
    lang_state *st = cx->st;
    lang_value *l = lang_list_new(st->n);
    if (!l)
        return oom(cx);
    for (size_t i = 0; i < st->n; i++) {
        lang_value *s = lang_cstr(st->names[i]);
        if (!s) {
            lang_decref(l);
            return oom(cx);
        }
        lang_list_set(l, i, s);
    }
    return l;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static lang_value *b_sleep(lang_ctx *cx, const lang_args *a)
{
    double secs;
    const lang_value *x = a->v[0];
    if (x->kind != LANG_INT && x->kind != LANG_FLOAT)
        return lang_arg_error(cx, a, 0, "TypeError", "a number >= 0");
    secs = x->kind == LANG_INT ? (double)x->as.i : x->as.f;
    if (!(secs >= 0) || isinf(secs))
        return lang_arg_error(cx, a, 0, "ValueError", "a number >= 0");
    double end = now_s() + secs;
    for (;;) {
        if (lang_check_interrupt(cx) < 0)
            return NULL;
        double left = end - now_s();
        if (left <= 0)
            break;
        double step = left < 0.005 ? left : 0.005;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(step * 1e9)};
        nanosleep(&ts, NULL);
    }
    return lang_none();
}

static lang_value *b_input(lang_ctx *cx, const lang_args *a)
{
    const char *prompt;
    int password;
    if (lang_arg_str(cx, a, 0, &prompt) < 0 || lang_arg_bool(cx, a, 1, &password) < 0)
        return NULL;
    const ember_io *io = lang_io(cx);
    if (!io->input)
        return lang_raise(cx, "StdinNotImplementedError", "input: this front end does not support input");
    char *line = NULL;
    size_t n = 0;
    char err[256] = "";
    if (io->input(io->ctx, prompt, password, &line, &n, err, sizeof err) < 0) {
        free(line);
        if (lang_check_interrupt(cx) < 0)
            return NULL;
        /* the front end's message already names input() */
        return lang_raise(cx, "StdinNotImplementedError", "%s", err[0] ? err : "input(): no input available");
    }
    if (!line)
        return ret(cx, lang_cstr(""));
    if (!utf8_valid(line, n, NULL)) {
        free(line);
        return lang_raise(cx, "ValueError", "input: the reply is not valid UTF-8");
    }
    return ret(cx, lang_str_take(line, n));
}

static const lang_builtin core[] = {
    {"print(*values, sep=' ', end='\\n', file='stdout')",
     "Print the values, converted with str() and separated by sep, followed by end. file='stderr' writes to "
     "the error stream.",
     b_print},
    {"display(*values, display_id=none)",
     "Show each value in its richest form (an image, a table, or its text) as display output. With a "
     "display_id, the output can be replaced later with update_display(value, display_id).",
     b_display},
    {"update_display(value, display_id)", "Replace the output shown earlier by display(..., display_id=...) "
                                          "with the given value.",
     b_update_display},
    {"clear_output(wait=false)",
     "Clear the output of the running cell. With wait=true, the output is cleared only when new output "
     "arrives (no flicker in loops of updates).",
     b_clear_output},
    {"help(x=none)", "Show the documentation of x (a builtin, a method, or any value's type) in the pager; help() "
                     "lists every builtin.",
     b_help},
    {"len(x)", "Return the number of items of a list, characters of a string, or elements of an engine value.",
     b_len},
    {"type(x)", "Return the name of x's type as a string: 'int', 'float', 'str', 'list', ...", b_type},
    {"str(x)", "Return x as a string: strings unchanged, other values as they are shown.", b_str},
    {"repr(x)", "Return the text form of x as a cell shows it ('abc' with quotes, [1, 2.5]).", b_repr},
    {"bool(x)", "Return true or false: none, false, 0, 0.0, '' and [] are false, everything else true.", b_bool},
    {"int(x)", "Convert a number (truncating towards zero) or a decimal string to a 64-bit int.", b_int},
    {"float(x)", "Convert a number or a string such as '3.5', '1e-3', 'inf' to a float.", b_float},
    {"abs(x)", "Return the absolute value of a number.", b_abs},
    {"min(*values)", "Return the smallest of the values, or of the items of a single list argument.", b_min},
    {"max(*values)", "Return the largest of the values, or of the items of a single list argument.", b_max},
    {"range(start, stop=none, step=1)",
     "Return the list of ints from start up to (not including) stop, by step; range(n) is [0, 1, ..., n-1].",
     b_range},
    {"round(x, ndigits=none)",
     "Round a number to ndigits decimals (a float), or to the nearest int when ndigits is none (halves go to "
     "the even neighbour, as in Python).",
     b_round},
    {"sum(items, start=0)", "Return start plus the sum of a list of numbers.", b_sum},
    {"sorted(items, reverse=false)", "Return a new list with the items in ascending (or descending) order.",
     b_sorted},
    {"who()", "Print the names of the variables defined so far.", b_who},
    {"vars()", "Return the list of the names of the variables defined so far.", b_vars},
    {"whos()", "Print a table of the variables defined so far: name, type and value.", b_whos},
    {"sleep(seconds)", "Wait for the given number of seconds. Interrupting the kernel stops the wait at once.",
     b_sleep},
    {"input(prompt='', password=false)",
     "Ask the user for one line of text in the notebook and return it (without the newline). password=true "
     "hides what is typed. Fails when the front end does not allow input (e.g. nbconvert).",
     b_input},
};

void register_core_builtins(void) { lang_register_builtins(core, sizeof core / sizeof core[0]); }
