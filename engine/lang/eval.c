/* eval.c — evaluates the syntax tree against the engine's variables:
 * arithmetic with overflow checks, comparisons, indexing and slicing,
 * attribute lookup, and calls bound from a builtin's signature. An error
 * stops the cell; variables are bound only after their value is complete. */
#include "internal.h"

#include "core/cancel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- variables ---- */

lang_state *lang_state_new(void) { return calloc(1, sizeof(lang_state)); }

void lang_state_free(lang_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free(st->names[i]);
        lang_decref(st->values[i]);
    }
    free(st->names);
    free(st->values);
    free(st);
}

lang_value *lang_state_get(lang_state *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (!strcmp(st->names[i], name))
            return st->values[i];
    return NULL;
}

int lang_state_set(lang_state *st, const char *name, lang_value *v)
{
    for (size_t i = 0; i < st->n; i++) {
        if (!strcmp(st->names[i], name)) {
            lang_value *old = st->values[i];
            st->values[i] = lang_incref(v);
            lang_decref(old);
            return 0;
        }
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        char **nn = realloc(st->names, cap * sizeof *nn);
        if (!nn)
            return -1;
        st->names = nn;
        lang_value **nv = realloc(st->values, cap * sizeof *nv);
        if (!nv)
            return -1;
        st->values = nv;
        st->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -1;
    st->names[st->n] = copy;
    st->values[st->n] = lang_incref(v);
    st->n++;
    return 0;
}

/* ---- helpers ---- */

static lang_value *oom(lang_ctx *cx, const node *n)
{
    return raise_at(cx, n->pos, n->end, "MemoryError", "out of memory");
}

static lang_value *check(lang_ctx *cx, const node *n, lang_value *v)
{
    return v ? v : oom(cx, n);
}

static int is_int(const lang_value *v) { return v->kind == LANG_INT || v->kind == LANG_BOOL; }
static int is_num(const lang_value *v) { return is_int(v) || v->kind == LANG_FLOAT; }
static int64_t as_int(const lang_value *v) { return v->kind == LANG_INT ? v->as.i : v->as.b; }
static double as_double(const lang_value *v) { return v->kind == LANG_FLOAT ? v->as.f : (double)as_int(v); }

static lang_value *unsupported(lang_ctx *cx, const node *n, int op, const lang_value *a, const lang_value *b)
{
    return raise_at(cx, n->pos, n->end, "TypeError", "unsupported operand type(s) for %s: '%s' and '%s'",
                    op_text(op), lang_type_name(a), lang_type_name(b));
}

static lang_value *int_pow(lang_ctx *cx, const node *n, int64_t base, int64_t exp)
{
    int64_t result = 1;
    int64_t b = base;
    while (exp > 0) {
        if (exp & 1) {
            if (__builtin_mul_overflow(result, b, &result))
                goto overflow;
        }
        exp >>= 1;
        if (exp > 0 && __builtin_mul_overflow(b, b, &b))
            goto overflow;
    }
    return check(cx, n, lang_int(result));
overflow:
    return raise_at(cx, n->pos, n->end, "OverflowError",
                    "integer result of ** does not fit in 64 bits (use a float, e.g. %lld.0 ** ...)",
                    (long long)base);
}

static lang_value *repeat(lang_ctx *cx, const node *n, const lang_value *seq, int64_t times)
{
    if (times < 0)
        times = 0;
    if (seq->kind == LANG_STR) {
        size_t len = seq->as.str.len;
        if (len && (uint64_t)times > LANG_MAX_BYTES / len)
            return raise_at(cx, n->pos, n->end, "MemoryError", "the repeated string would be too large");
        size_t total = len * (size_t)times;
        char *p = malloc(total + 1);
        if (!p)
            return oom(cx, n);
        for (int64_t k = 0; k < times; k++)
            memcpy(p + (size_t)k * len, seq->as.str.ptr, len);
        p[total] = 0;
        return check(cx, n, lang_str_take(p, total));
    }
    size_t len = seq->as.list.len;
    if (len && (uint64_t)times > LANG_MAX_BYTES / sizeof(lang_value *) / len)
        return raise_at(cx, n->pos, n->end, "MemoryError", "the repeated list would be too large");
    lang_value *out = lang_list_new(len * (size_t)times);
    if (!out)
        return oom(cx, n);
    for (size_t k = 0; k < len * (size_t)times; k++) {
        if ((k & 0xFFFFF) == 0xFFFFF && lang_check_interrupt(cx) < 0) {
            lang_decref(out); /* the unfilled slots are NULL, which decref skips */
            return NULL;
        }
        lang_list_set(out, k, lang_incref(seq->as.list.items[k % len]));
    }
    return out;
}

static lang_value *concat(lang_ctx *cx, const node *n, const lang_value *a, const lang_value *b)
{
    if (a->kind == LANG_STR) {
        size_t total = a->as.str.len + b->as.str.len;
        if (total > LANG_MAX_BYTES)
            return raise_at(cx, n->pos, n->end, "MemoryError", "the string would be too large");
        char *p = malloc(total + 1);
        if (!p)
            return oom(cx, n);
        memcpy(p, a->as.str.ptr, a->as.str.len);
        memcpy(p + a->as.str.len, b->as.str.ptr, b->as.str.len);
        p[total] = 0;
        return check(cx, n, lang_str_take(p, total));
    }
    size_t total = a->as.list.len + b->as.list.len;
    lang_value *out = lang_list_new(total);
    if (!out)
        return oom(cx, n);
    for (size_t k = 0; k < a->as.list.len; k++)
        lang_list_set(out, k, lang_incref(a->as.list.items[k]));
    for (size_t k = 0; k < b->as.list.len; k++)
        lang_list_set(out, a->as.list.len + k, lang_incref(b->as.list.items[k]));
    if (out->as.list.depth > LANG_MAX_LIST_DEPTH) {
        lang_decref(out);
        return raise_at(cx, n->pos, n->end, "ValueError", "lists nested too deeply (more than %d levels)",
                        LANG_MAX_LIST_DEPTH);
    }
    return out;
}

static lang_value *arith(lang_ctx *cx, const node *n, int op, const lang_value *a, const lang_value *b)
{
    if (is_int(a) && is_int(b)) {
        int64_t x = as_int(a), y = as_int(b), r;
        switch (op) {
        case OP_PLUS:
            if (__builtin_add_overflow(x, y, &r))
                goto overflow;
            return check(cx, n, lang_int(r));
        case OP_MINUS:
            if (__builtin_sub_overflow(x, y, &r))
                goto overflow;
            return check(cx, n, lang_int(r));
        case OP_STAR:
            if (__builtin_mul_overflow(x, y, &r))
                goto overflow;
            return check(cx, n, lang_int(r));
        case OP_SLASH:
            if (y == 0)
                return raise_at(cx, n->pos, n->end, "ZeroDivisionError", "division by zero");
            return check(cx, n, lang_float((double)x / (double)y));
        case OP_DSLASH:
        case OP_PERCENT: {
            if (y == 0)
                return raise_at(cx, n->pos, n->end, "ZeroDivisionError", "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) {
                if (op == OP_PERCENT)
                    return check(cx, n, lang_int(0));
                goto overflow;
            }
            int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) {
                q -= 1;
                m += y;
            }
            return check(cx, n, lang_int(op == OP_DSLASH ? q : m));
        }
        case OP_POW:
            if (y < 0) {
                if (x == 0)
                    return raise_at(cx, n->pos, n->end, "ZeroDivisionError",
                                    "0 cannot be raised to a negative power");
                return check(cx, n, lang_float(pow((double)x, (double)y)));
            }
            return int_pow(cx, n, x, y);
        }
    overflow:
        return raise_at(cx, n->pos, n->end, "OverflowError",
                        "integer overflow: %lld %s %lld does not fit in 64 bits (use floats for large numbers)",
                        (long long)x, op_text(op), (long long)y);
    }
    if (is_num(a) && is_num(b)) {
        double x = as_double(a), y = as_double(b);
        switch (op) {
        case OP_PLUS: return check(cx, n, lang_float(x + y));
        case OP_MINUS: return check(cx, n, lang_float(x - y));
        case OP_STAR: return check(cx, n, lang_float(x * y));
        case OP_SLASH:
            if (y == 0.0)
                return raise_at(cx, n->pos, n->end, "ZeroDivisionError", "float division by zero");
            return check(cx, n, lang_float(x / y));
        case OP_DSLASH:
            if (y == 0.0)
                return raise_at(cx, n->pos, n->end, "ZeroDivisionError", "float floor division by zero");
            return check(cx, n, lang_float(floor(x / y)));
        case OP_PERCENT: {
            if (y == 0.0)
                return raise_at(cx, n->pos, n->end, "ZeroDivisionError", "float modulo by zero");
            double m = fmod(x, y);
            if (m != 0.0 && ((m < 0) != (y < 0)))
                m += y;
            else if (m == 0.0)
                m = copysign(0.0, y);
            return check(cx, n, lang_float(m));
        }
        case OP_POW: {
            if (x == 0.0 && y < 0)
                return raise_at(cx, n->pos, n->end, "ZeroDivisionError",
                                "0.0 cannot be raised to a negative power");
            if (x < 0 && y != floor(y) && isfinite(y))
                return raise_at(cx, n->pos, n->end, "ValueError",
                                "a negative number cannot be raised to a fractional power");
            double r = pow(x, y);
            if (isinf(r) && isfinite(x) && isfinite(y))
                return raise_at(cx, n->pos, n->end, "OverflowError", "float result of ** is too large");
            return check(cx, n, lang_float(r));
        }
        }
    }
    if (op == OP_PLUS && ((a->kind == LANG_STR && b->kind == LANG_STR) || (a->kind == LANG_LIST && b->kind == LANG_LIST)))
        return concat(cx, n, a, b);
    if (op == OP_PLUS && a->kind == LANG_STR)
        return raise_at(cx, n->pos, n->end, "TypeError", "can only concatenate str (not \"%s\") to str (use str(x))",
                        lang_type_name(b));
    if (op == OP_PLUS && a->kind == LANG_LIST)
        return raise_at(cx, n->pos, n->end, "TypeError", "can only concatenate list (not \"%s\") to list",
                        lang_type_name(b));
    if (op == OP_STAR && (a->kind == LANG_STR || a->kind == LANG_LIST) && is_int(b))
        return repeat(cx, n, a, as_int(b));
    if (op == OP_STAR && (b->kind == LANG_STR || b->kind == LANG_LIST) && is_int(a))
        return repeat(cx, n, b, as_int(a));
    return unsupported(cx, n, op, a, b);
}

/* -1, 0, 1, or 2 when the values cannot be ordered. */
int value_order(const lang_value *a, const lang_value *b, int *err)
{
    *err = 0;
    if (is_int(a) && is_int(b)) {
        int64_t x = as_int(a), y = as_int(b);
        return x < y ? -1 : x > y;
    }
    if (is_num(a) && is_num(b)) {
        double x = as_double(a), y = as_double(b);
        if (x != x || y != y)
            return 2; /* nan: every ordering is false */
        return x < y ? -1 : x > y;
    }
    if (a->kind == LANG_STR && b->kind == LANG_STR) {
        size_t m = a->as.str.len < b->as.str.len ? a->as.str.len : b->as.str.len;
        int c = memcmp(a->as.str.ptr, b->as.str.ptr, m);
        if (c)
            return c < 0 ? -1 : 1;
        return a->as.str.len < b->as.str.len ? -1 : a->as.str.len > b->as.str.len;
    }
    if (a->kind == LANG_LIST && b->kind == LANG_LIST) {
        size_t m = a->as.list.len < b->as.list.len ? a->as.list.len : b->as.list.len;
        for (size_t i = 0; i < m; i++) {
            if (lang_equal(a->as.list.items[i], b->as.list.items[i]))
                continue;
            return value_order(a->as.list.items[i], b->as.list.items[i], err);
        }
        return a->as.list.len < b->as.list.len ? -1 : a->as.list.len > b->as.list.len;
    }
    *err = 1;
    return 0;
}

static int contains(lang_ctx *cx, const node *n, const lang_value *item, const lang_value *seq)
{
    if (seq->kind == LANG_STR) {
        if (item->kind != LANG_STR) {
            raise_at(cx, n->pos, n->end, "TypeError", "'in <string>' requires a string as left operand, not %s",
                     lang_type_name(item));
            return -1;
        }
        if (item->as.str.len == 0)
            return 1;
        return memmem(seq->as.str.ptr, seq->as.str.len, item->as.str.ptr, item->as.str.len) != NULL;
    }
    if (seq->kind == LANG_LIST) {
        for (size_t i = 0; i < seq->as.list.len; i++)
            if (lang_equal(item, seq->as.list.items[i]))
                return 1;
        return 0;
    }
    raise_at(cx, n->pos, n->end, "TypeError", "argument of type '%s' is not a container (use a list or a string)",
             lang_type_name(seq));
    return -1;
}

/* Result of one comparison: 0/1, or -1 on error. */
static int compare_one(lang_ctx *cx, const node *n, int op, const lang_value *a, const lang_value *b)
{
    switch (op) {
    case OP_EQ: return lang_equal(a, b);
    case OP_NE: return !lang_equal(a, b);
    case OP_IN: return contains(cx, n, a, b);
    case OP_NOT_IN: {
        int r = contains(cx, n, a, b);
        return r < 0 ? -1 : !r;
    }
    default: break;
    }
    int err;
    int c = value_order(a, b, &err);
    if (err) {
        raise_at(cx, n->pos, n->end, "TypeError", "'%s' not supported between instances of '%s' and '%s'",
                 op_text(op), lang_type_name(a), lang_type_name(b));
        return -1;
    }
    if (c == 2)
        return 0;
    switch (op) {
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    case OP_GE: return c >= 0;
    }
    return 0;
}

/* ---- indexing ---- */

static int normalize_index(int64_t i, size_t len, int64_t *out)
{
    if (i < 0)
        i += (int64_t)len;
    if (i < 0 || (uint64_t)i >= len)
        return -1;
    *out = i;
    return 0;
}

static lang_value *index_value(lang_ctx *cx, const node *n, lang_value *obj, lang_value *key)
{
    if (obj->kind == LANG_OBJECT) {
        if (!obj->as.obj.type->index)
            return raise_at(cx, n->pos, n->end, "TypeError", "'%s' object is not subscriptable", lang_type_name(obj));
        lang_value *r = obj->as.obj.type->index(cx, obj, key);
        if (!r && !cx->err.set)
            oom(cx, n);
        return r;
    }
    if (obj->kind != LANG_LIST && obj->kind != LANG_STR)
        return raise_at(cx, n->pos, n->end, "TypeError", "'%s' object is not subscriptable", lang_type_name(obj));
    if (!is_int(key))
        return raise_at(cx, n->kids[1]->pos, n->kids[1]->end, "TypeError", "%s indices must be integers, not %s",
                        lang_type_name(obj), lang_type_name(key));
    int64_t i = as_int(key), k;
    if (obj->kind == LANG_LIST) {
        if (normalize_index(i, obj->as.list.len, &k) < 0)
            return raise_at(cx, n->kids[1]->pos, n->kids[1]->end, "IndexError",
                            "list index %lld out of range (the list has %zu item%s)", (long long)i,
                            obj->as.list.len, obj->as.list.len == 1 ? "" : "s");
        return lang_incref(obj->as.list.items[k]);
    }
    size_t len = lang_str_length(obj);
    if (normalize_index(i, len, &k) < 0)
        return raise_at(cx, n->kids[1]->pos, n->kids[1]->end, "IndexError",
                        "string index %lld out of range (the string has %zu character%s)", (long long)i, len,
                        len == 1 ? "" : "s");
    size_t off = utf8_offset(obj->as.str.ptr, obj->as.str.len, (size_t)k);
    uint32_t cp;
    size_t cl = utf8_decode(obj->as.str.ptr + off, obj->as.str.len - off, &cp);
    return check(cx, n, lang_str(obj->as.str.ptr + off, cl));
}

static lang_value *slice_value(lang_ctx *cx, const node *n, lang_value *obj, lang_value *const parts[3])
{
    if (obj->kind != LANG_LIST && obj->kind != LANG_STR)
        return raise_at(cx, n->pos, n->end, "TypeError", "'%s' object cannot be sliced", lang_type_name(obj));
    int64_t v[3];
    int given[3];
    for (int k = 0; k < 3; k++) {
        given[k] = parts[k] && parts[k]->kind != LANG_NONE;
        if (given[k] && !is_int(parts[k]))
            return raise_at(cx, n->kids[k + 1]->pos, n->kids[k + 1]->end, "TypeError",
                            "slice indices must be integers or none, not %s", lang_type_name(parts[k]));
        v[k] = given[k] ? as_int(parts[k]) : 0;
    }
    int64_t step = given[2] ? v[2] : 1;
    if (step == 0)
        return raise_at(cx, n->kids[3]->pos, n->kids[3]->end, "ValueError", "slice step cannot be zero");
    size_t len = obj->kind == LANG_LIST ? obj->as.list.len : lang_str_length(obj);
    int64_t L = (int64_t)len, lo, hi;
    /* a step beyond the length picks at most one item: clamp it so the
     * arithmetic below cannot overflow */
    if (step > L + 1)
        step = L + 1;
    if (step < -(L + 1))
        step = -(L + 1);
    if (step > 0) {
        lo = given[0] ? v[0] : 0;
        hi = given[1] ? v[1] : L;
        if (lo < 0) lo = lo + L < 0 ? 0 : lo + L;
        if (hi < 0) hi = hi + L < 0 ? 0 : hi + L;
        if (lo > L) lo = L;
        if (hi > L) hi = L;
    } else {
        lo = given[0] ? v[0] : L - 1;
        hi = given[1] ? v[1] : -1;
        if (given[0]) { if (lo < 0) lo = lo + L < 0 ? -1 : lo + L; if (lo >= L) lo = L - 1; }
        if (given[1]) { if (hi < 0) hi = hi + L < 0 ? -1 : hi + L; if (hi >= L) hi = L - 1; }
    }
    size_t count = 0;
    if (step > 0 && hi > lo)
        count = (size_t)((hi - lo + step - 1) / step);
    else if (step < 0 && lo > hi)
        count = (size_t)((lo - hi + (-step) - 1) / (-step));
    if (obj->kind == LANG_LIST) {
        lang_value *out = lang_list_new(count);
        if (!out)
            return oom(cx, n);
        for (size_t k = 0; k < count; k++)
            lang_list_set(out, k, lang_incref(obj->as.list.items[lo + (int64_t)k * step]));
        return out;
    }
    /* strings: index code points through an offset table */
    size_t *offs = malloc((len + 1) * sizeof *offs);
    if (!offs)
        return oom(cx, n);
    size_t i = 0, c = 0;
    while (i < obj->as.str.len) {
        offs[c++] = i;
        uint32_t cp;
        i += utf8_decode(obj->as.str.ptr + i, obj->as.str.len - i, &cp);
    }
    offs[c] = i;
    strbuf b = {0};
    for (size_t k = 0; k < count; k++) {
        int64_t at = lo + (int64_t)k * step;
        sb_add(&b, obj->as.str.ptr + offs[at], offs[at + 1] - offs[at]);
    }
    free(offs);
    if (b.oom) {
        free(b.p);
        return oom(cx, n);
    }
    size_t blen = b.len;
    char *p = sb_take(&b);
    if (!p)
        return oom(cx, n);
    return check(cx, n, lang_str_take(p, blen));
}

/* ---- attributes ---- */

typedef struct attr_find {
    const char *name;
    int found;
} attr_find;

void list_attrs(const lang_value *v, void (*add)(void *acc, const char *name), void *acc)
{
    const lang_type *t = lang_type_of(v);
    for (size_t i = 0; i < t->nmethods; i++) {
        char name[64];
        lang_builtin_name(&t->methods[i], name, sizeof name);
        add(acc, name);
    }
    if (v->kind == LANG_OBJECT && t->attr_names)
        t->attr_names(v, add, acc);
}

lang_value *get_attr(lang_ctx *cx, lang_value *v, const char *name)
{
    const lang_type *t = lang_type_of(v);
    for (size_t i = 0; i < t->nmethods; i++) {
        char n[64];
        lang_builtin_name(&t->methods[i], n, sizeof n);
        if (!strcmp(n, name)) {
            lang_value *f = lang_func(&t->methods[i], v, t);
            return f ? f : lang_raise(cx, "MemoryError", "out of memory");
        }
    }
    if (v->kind == LANG_OBJECT && t->getattr) {
        lang_value *r = t->getattr(cx, v, name);
        if (r || cx->err.set)
            return r;
    }
    suggester s;
    suggest_init(&s, name);
    list_attrs(v, suggest_add, &s);
    const char *best = suggest_result(&s);
    if (best)
        return lang_raise(cx, "AttributeError", "'%s' object has no attribute '%s'. Did you mean '%s'?",
                          t->name, name, best);
    return lang_raise(cx, "AttributeError", "'%s' object has no attribute '%s'", t->name, name);
}

/* ---- calls ---- */

static lang_value *eval_default(lang_ctx *cx, const char *text, size_t len)
{
    parse_error pe;
    node *d = parse_expression(text, len, &pe);
    if (!d)
        return lang_raise(cx, "SystemError", "a builtin's default value does not parse: %.*s", (int)len, text);
    int pure = cx->pure;
    cx->pure = 1;
    const char *src = cx->src;
    size_t srclen = cx->srclen;
    lang_value *v = eval_node(cx, d);
    cx->pure = pure;
    cx->src = src;
    cx->srclen = srclen;
    node_free(d);
    return v;
}

lang_value *call_value(lang_ctx *cx, lang_value *fn, lang_value *const *args, size_t nargs, char *const *kw)
{
    if (fn->kind != LANG_FUNC)
        return lang_raise(cx, "TypeError", "'%s' object is not callable", lang_type_name(fn));
    if (cx->pure)
        return lang_raise(cx, "SystemError", "calls are not evaluated here");
    if (lang_check_interrupt(cx) < 0)
        return NULL;
    const lang_builtin *def = fn->as.func.def;
    sig sg;
    if (sig_parse(def->signature, &sg) < 0)
        return lang_raise(cx, "SystemError", "bad builtin signature: %s", def->signature);
    char fname[128];
    if (fn->as.func.owner)
        snprintf(fname, sizeof fname, "%s.%s", fn->as.func.owner->name, sg.name);
    else
        snprintf(fname, sizeof fname, "%s", sg.name);

    lang_value *slots[SIG_MAX_PARAMS] = {0};
    int owned[SIG_MAX_PARAMS] = {0};
    const char *names[SIG_MAX_PARAMS];
    for (size_t k = 0; k < sg.np; k++)
        names[k] = sg.p[k].name;
    size_t npos = sg.rest >= 0 ? (size_t)sg.rest : sg.np;
    lang_value **rest = NULL;
    size_t nrest = 0;
    lang_value *result = NULL;

    size_t given_pos = 0;
    for (size_t i = 0; i < nargs; i++)
        if (!kw || !kw[i])
            given_pos++;
    if (given_pos > npos && sg.rest < 0) {
        lang_raise(cx, "TypeError", "%s() takes %zu positional argument%s but %zu %s given", fname, npos,
                   npos == 1 ? "" : "s", given_pos, given_pos == 1 ? "was" : "were");
        goto done;
    }
    if (given_pos > npos) {
        rest = malloc((given_pos - npos) * sizeof *rest);
        if (!rest) {
            lang_raise(cx, "MemoryError", "out of memory");
            goto done;
        }
    }
    size_t p = 0;
    for (size_t i = 0; i < nargs; i++) {
        if (kw && kw[i])
            continue;
        if (p < npos)
            slots[p++] = args[i];
        else
            rest[nrest++] = args[i];
    }
    for (size_t i = 0; i < nargs; i++) {
        if (!kw || !kw[i])
            continue;
        size_t k;
        for (k = 0; k < sg.np; k++)
            if (!strcmp(sg.p[k].name, kw[i]))
                break;
        if (k == sg.np) {
            suggester s;
            suggest_init(&s, kw[i]);
            for (size_t j = 0; j < sg.np; j++)
                suggest_add(&s, sg.p[j].name);
            const char *best = suggest_result(&s);
            if (best)
                lang_raise(cx, "TypeError", "%s() got an unexpected keyword argument '%s'. Did you mean '%s'?",
                           fname, kw[i], best);
            else
                lang_raise(cx, "TypeError", "%s() got an unexpected keyword argument '%s'", fname, kw[i]);
            goto done;
        }
        if (slots[k]) {
            lang_raise(cx, "TypeError", "%s() got multiple values for argument '%s'", fname, kw[i]);
            goto done;
        }
        slots[k] = args[i];
    }
    for (size_t k = 0; k < sg.np; k++) {
        if (slots[k])
            continue;
        if (!sg.p[k].dflt) {
            char missing[256] = "";
            size_t count = 0;
            for (size_t j = k; j < sg.np; j++) {
                if (slots[j] || sg.p[j].dflt)
                    continue;
                size_t ml = strlen(missing);
                snprintf(missing + ml, sizeof missing - ml, "%s'%s'", count ? ", " : "", sg.p[j].name);
                count++;
            }
            lang_raise(cx, "TypeError", "%s() missing %zu required argument%s: %s", fname, count,
                       count == 1 ? "" : "s", missing);
            goto done;
        }
        slots[k] = eval_default(cx, sg.p[k].dflt, sg.p[k].dflt_len);
        if (!slots[k])
            goto done;
        owned[k] = 1;
    }
    lang_args a = {.fname = fname, .names = names, .self = fn->as.func.self, .v = slots, .n = sg.np,
                   .rest = rest, .nrest = nrest};
    ember_cancel tok;
    ctx_cancel_enter(cx, &tok);
    result = def->fn(cx, &a);
    ctx_cancel_leave(cx, &tok);
    if (!result && !cx->err.set)
        lang_raise(cx, "SystemError", "%s() failed without saying why", fname);
    if (result && cx->err.set) {
        lang_decref(result);
        result = NULL;
    }
done:
    for (size_t k = 0; k < sg.np; k++)
        if (owned[k])
            lang_decref(slots[k]);
    free(rest);
    return result;
}

/* ---- nodes ---- */

static lang_value *eval_call(lang_ctx *cx, const node *n)
{
    lang_value *fn = eval_node(cx, n->kids[0]);
    if (!fn)
        return NULL;
    size_t nargs = n->nkids - 1;
    lang_value **args = calloc(nargs ? nargs : 1, sizeof *args);
    lang_value *r = NULL;
    if (!args) {
        lang_decref(fn);
        return oom(cx, n);
    }
    size_t got = 0;
    for (; got < nargs; got++) {
        args[got] = eval_node(cx, n->kids[got + 1]);
        if (!args[got])
            goto done;
    }
    if (fn->kind != LANG_FUNC) {
        raise_at(cx, n->kids[0]->pos, n->kids[0]->end, "TypeError", "'%s' object is not callable",
                 lang_type_name(fn));
        goto done;
    }
    r = call_value(cx, fn, args, nargs, n->kw + 1);
    if (!r && cx->err.set && !cx->err.has_pos) {
        cx->err.has_pos = 1;
        cx->err.pos = n->pos;
        cx->err.end = n->end;
    }
done:
    for (size_t k = 0; k < got; k++)
        lang_decref(args[k]);
    free(args);
    lang_decref(fn);
    return r;
}

static lang_value *eval_name(lang_ctx *cx, const node *n)
{
    lang_value *v = lang_state_get(cx->st, n->s);
    if (v)
        return lang_incref(v);
    const lang_builtin *b = lang_find_builtin(n->s);
    if (b)
        return check(cx, n, lang_func(b, NULL, NULL));
    suggester s;
    suggest_init(&s, n->s);
    for (size_t i = 0; i < cx->st->n; i++)
        suggest_add(&s, cx->st->names[i]);
    for (size_t i = 0; lang_builtin_at(i); i++) {
        char name[64];
        lang_builtin_name(lang_builtin_at(i), name, sizeof name);
        suggest_add(&s, name);
    }
    const char *best = suggest_result(&s);
    if (best)
        return raise_at(cx, n->pos, n->end, "NameError", "name '%s' is not defined. Did you mean '%s'?", n->s,
                        best);
    return raise_at(cx, n->pos, n->end, "NameError", "name '%s' is not defined", n->s);
}

lang_value *eval_node(lang_ctx *cx, const node *n)
{
    switch (n->kind) {
    case N_INT: return check(cx, n, lang_int(n->ival));
    case N_FLOAT: return check(cx, n, lang_float(n->fval));
    case N_STR: return check(cx, n, lang_str(n->s, n->slen));
    case N_NONE: return lang_none();
    case N_TRUE: return lang_bool(1);
    case N_FALSE: return lang_bool(0);
    case N_NAME: return eval_name(cx, n);
    case N_LIST: {
        lang_value *l = lang_list_new(n->nkids);
        if (!l)
            return oom(cx, n);
        for (size_t k = 0; k < n->nkids; k++) {
            lang_value *item = eval_node(cx, n->kids[k]);
            if (!item) {
                lang_decref(l);
                return NULL;
            }
            lang_list_set(l, k, item);
        }
        if (l->as.list.depth > LANG_MAX_LIST_DEPTH) {
            lang_decref(l);
            return raise_at(cx, n->pos, n->end, "ValueError", "lists nested too deeply (more than %d levels)",
                            LANG_MAX_LIST_DEPTH);
        }
        return l;
    }
    case N_CALL: return eval_call(cx, n);
    case N_ATTR: {
        lang_value *obj = eval_node(cx, n->kids[0]);
        if (!obj)
            return NULL;
        lang_value *r = get_attr(cx, obj, n->s);
        lang_decref(obj);
        if (!r && cx->err.set && !cx->err.has_pos) {
            cx->err.has_pos = 1;
            cx->err.pos = n->name_pos;
            cx->err.end = n->end;
        }
        return r;
    }
    case N_INDEX: {
        lang_value *obj = eval_node(cx, n->kids[0]);
        if (!obj)
            return NULL;
        lang_value *key = eval_node(cx, n->kids[1]);
        lang_value *r = NULL;
        if (key) {
            r = index_value(cx, n, obj, key);
            if (!r && cx->err.set && !cx->err.has_pos) {
                cx->err.has_pos = 1;
                cx->err.pos = n->pos;
                cx->err.end = n->end;
            }
        }
        lang_decref(key);
        lang_decref(obj);
        return r;
    }
    case N_SLICE: {
        lang_value *obj = eval_node(cx, n->kids[0]);
        if (!obj)
            return NULL;
        lang_value *parts[3] = {NULL, NULL, NULL};
        lang_value *r = NULL;
        int ok = 1;
        for (int k = 0; k < 3 && ok; k++) {
            if (n->kids[k + 1]) {
                parts[k] = eval_node(cx, n->kids[k + 1]);
                ok = parts[k] != NULL;
            }
        }
        if (ok)
            r = slice_value(cx, n, obj, parts);
        for (int k = 0; k < 3; k++)
            lang_decref(parts[k]);
        lang_decref(obj);
        return r;
    }
    case N_UNARY: {
        lang_value *x = eval_node(cx, n->kids[0]);
        if (!x)
            return NULL;
        lang_value *r;
        if (is_int(x)) {
            int64_t i = as_int(x);
            if (n->op == OP_MINUS && i == INT64_MIN)
                r = raise_at(cx, n->pos, n->end, "OverflowError", "integer overflow: -(%lld) does not fit in 64 bits",
                             (long long)i);
            else
                r = check(cx, n, lang_int(n->op == OP_MINUS ? -i : i));
        } else if (x->kind == LANG_FLOAT) {
            r = check(cx, n, lang_float(n->op == OP_MINUS ? -x->as.f : x->as.f));
        } else {
            r = raise_at(cx, n->pos, n->end, "TypeError", "bad operand type for unary %s: '%s'", op_text(n->op),
                         lang_type_name(x));
        }
        lang_decref(x);
        return r;
    }
    case N_NOT: {
        lang_value *x = eval_node(cx, n->kids[0]);
        if (!x)
            return NULL;
        int t = lang_truthy(x);
        lang_decref(x);
        return lang_bool(!t);
    }
    case N_AND:
    case N_OR: {
        lang_value *l = eval_node(cx, n->kids[0]);
        if (!l)
            return NULL;
        int t = lang_truthy(l);
        if ((n->kind == N_AND && !t) || (n->kind == N_OR && t))
            return l;
        lang_decref(l);
        return eval_node(cx, n->kids[1]);
    }
    case N_IFEXP: {
        lang_value *c = eval_node(cx, n->kids[1]);
        if (!c)
            return NULL;
        int t = lang_truthy(c);
        lang_decref(c);
        return eval_node(cx, n->kids[t ? 0 : 2]);
    }
    case N_BINARY: {
        lang_value *a = eval_node(cx, n->kids[0]);
        if (!a)
            return NULL;
        lang_value *b = eval_node(cx, n->kids[1]);
        if (!b) {
            lang_decref(a);
            return NULL;
        }
        lang_value *r = arith(cx, n, n->op, a, b);
        if (!r && cx->err.set && !cx->err.has_pos) {
            cx->err.has_pos = 1;
            cx->err.pos = n->pos;
            cx->err.end = n->end;
        }
        lang_decref(a);
        lang_decref(b);
        return r;
    }
    case N_COMPARE: {
        lang_value *a = eval_node(cx, n->kids[0]);
        if (!a)
            return NULL;
        int result = 1;
        for (size_t k = 1; k < n->nkids; k++) {
            lang_value *b = eval_node(cx, n->kids[k]);
            if (!b) {
                lang_decref(a);
                return NULL;
            }
            int r = compare_one(cx, n, n->ops[k - 1], a, b);
            lang_decref(a);
            a = b;
            if (r < 0) {
                lang_decref(a);
                return NULL;
            }
            if (!r) {
                result = 0;
                break;
            }
        }
        lang_decref(a);
        return lang_bool(result);
    }
    }
    return raise_at(cx, n->pos, n->end, "SystemError", "unknown syntax node");
}

lang_value *eval_program(lang_ctx *cx, const program *p, int *has_value)
{
    *has_value = 0;
    lang_value *last = NULL;
    for (size_t i = 0; i < p->n; i++) {
        const stmt *s = &p->stmts[i];
        if (last) {
            lang_decref(last);
            last = NULL;
        }
        if (lang_check_interrupt(cx) < 0) {
            cx->err.has_pos = 1;
            cx->err.pos = s->pos;
            cx->err.end = s->end;
            return NULL;
        }
        lang_value *v = eval_node(cx, s->expr);
        if (!v) {
            if (!cx->err.set)
                oom(cx, s->expr);
            return NULL;
        }
        if (s->name) {
            if (lang_state_set(cx->st, s->name, v) < 0) {
                lang_decref(v);
                raise_at(cx, s->pos, s->end, "MemoryError", "out of memory");
                return NULL;
            }
            lang_decref(v);
        } else if (i + 1 == p->n) {
            last = v;
            *has_value = 1;
        } else {
            lang_decref(v);
        }
    }
    return last;
}
