/* value.c — construction, reference counting and comparison of values. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static lang_value none_v = {.kind = LANG_NONE, .refs = -1};
static lang_value true_v = {.kind = LANG_BOOL, .refs = -1, .as.b = 1};
static lang_value false_v = {.kind = LANG_BOOL, .refs = -1, .as.b = 0};

lang_value *lang_none(void) { return &none_v; }
lang_value *lang_bool(int b) { return b ? &true_v : &false_v; }

static lang_value *alloc_value(lang_kind k)
{
    lang_value *v = calloc(1, sizeof *v);
    if (v) {
        v->kind = k;
        v->refs = 1;
    }
    return v;
}

lang_value *lang_int(int64_t i)
{
    lang_value *v = alloc_value(LANG_INT);
    if (v)
        v->as.i = i;
    return v;
}

lang_value *lang_float(double f)
{
    lang_value *v = alloc_value(LANG_FLOAT);
    if (v)
        v->as.f = f;
    return v;
}

lang_value *lang_str_take(char *s, size_t len)
{
    lang_value *v = alloc_value(LANG_STR);
    if (!v) {
        free(s);
        return NULL;
    }
    v->as.str.ptr = s;
    v->as.str.len = len;
    return v;
}

lang_value *lang_str(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = 0;
    return lang_str_take(p, len);
}

lang_value *lang_cstr(const char *s) { return lang_str(s, strlen(s)); }

lang_value *lang_list_new(size_t n)
{
    lang_value *v = alloc_value(LANG_LIST);
    if (!v)
        return NULL;
    if (n > LANG_MAX_BYTES / sizeof(lang_value *)) {
        free(v);
        return NULL;
    }
    v->as.list.items = calloc(n ? n : 1, sizeof(lang_value *));
    if (!v->as.list.items) {
        free(v);
        return NULL;
    }
    v->as.list.len = n;
    v->as.list.depth = 1;
    return v;
}

void lang_list_set(lang_value *list, size_t i, lang_value *item)
{
    lang_value *old = list->as.list.items[i];
    list->as.list.items[i] = item;
    if (item && item->kind == LANG_LIST && item->as.list.depth + 1 > list->as.list.depth)
        list->as.list.depth = item->as.list.depth + 1;
    if (old)
        lang_decref(old);
}

lang_value *lang_object(const lang_type *t, void *data)
{
    lang_value *v = alloc_value(LANG_OBJECT);
    if (!v) {
        if (t->free)
            t->free(data);
        return NULL;
    }
    v->as.obj.type = t;
    v->as.obj.data = data;
    return v;
}

lang_value *lang_func(const lang_builtin *def, lang_value *self, const lang_type *owner)
{
    lang_value *v = alloc_value(LANG_FUNC);
    if (!v)
        return NULL;
    v->as.func.def = def;
    v->as.func.self = self ? lang_incref(self) : NULL;
    v->as.func.owner = owner;
    return v;
}

lang_value *lang_incref(lang_value *v)
{
    if (v && v->refs >= 0)
        v->refs++;
    return v;
}

void lang_decref(lang_value *v)
{
    if (!v || v->refs < 0)
        return;
    if (--v->refs > 0)
        return;
    switch (v->kind) {
    case LANG_STR:
        free(v->as.str.ptr);
        break;
    case LANG_LIST:
        for (size_t i = 0; i < v->as.list.len; i++)
            lang_decref(v->as.list.items[i]);
        free(v->as.list.items);
        break;
    case LANG_FUNC:
        lang_decref(v->as.func.self);
        break;
    case LANG_OBJECT:
        if (v->as.obj.type->free)
            v->as.obj.type->free(v->as.obj.data);
        break;
    default:
        break;
    }
    free(v);
}

const lang_type *lang_type_of(const lang_value *v)
{
    switch (v->kind) {
    case LANG_NONE: return &lang_none_type;
    case LANG_BOOL: return &lang_bool_type;
    case LANG_INT: return &lang_int_type;
    case LANG_FLOAT: return &lang_float_type;
    case LANG_STR: return &lang_str_type;
    case LANG_LIST: return &lang_list_type;
    case LANG_FUNC: return &lang_func_type;
    case LANG_OBJECT: return v->as.obj.type;
    }
    return &lang_none_type;
}

const char *lang_type_name(const lang_value *v) { return lang_type_of(v)->name; }

size_t lang_str_length(const lang_value *v) { return utf8_count(v->as.str.ptr, v->as.str.len); }

int lang_truthy(const lang_value *v)
{
    switch (v->kind) {
    case LANG_NONE: return 0;
    case LANG_BOOL: return v->as.b;
    case LANG_INT: return v->as.i != 0;
    case LANG_FLOAT: return v->as.f != 0.0;
    case LANG_STR: return v->as.str.len != 0;
    case LANG_LIST: return v->as.list.len != 0;
    default: return 1;
    }
}

static int is_num(const lang_value *v) { return v->kind == LANG_INT || v->kind == LANG_FLOAT || v->kind == LANG_BOOL; }

int lang_equal(const lang_value *a, const lang_value *b)
{
    if (a == b)
        return a->kind != LANG_FLOAT || a->as.f == a->as.f;
    if (is_num(a) && is_num(b)) {
        if (a->kind == LANG_FLOAT || b->kind == LANG_FLOAT) {
            double x = a->kind == LANG_FLOAT ? a->as.f : (double)(a->kind == LANG_INT ? a->as.i : a->as.b);
            double y = b->kind == LANG_FLOAT ? b->as.f : (double)(b->kind == LANG_INT ? b->as.i : b->as.b);
            return x == y;
        }
        int64_t x = a->kind == LANG_INT ? a->as.i : a->as.b;
        int64_t y = b->kind == LANG_INT ? b->as.i : b->as.b;
        return x == y;
    }
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case LANG_NONE: return 1;
    case LANG_STR:
        return a->as.str.len == b->as.str.len && !memcmp(a->as.str.ptr, b->as.str.ptr, a->as.str.len);
    case LANG_LIST:
        if (a->as.list.len != b->as.list.len)
            return 0;
        for (size_t i = 0; i < a->as.list.len; i++)
            if (!lang_equal(a->as.list.items[i], b->as.list.items[i]))
                return 0;
        return 1;
    case LANG_FUNC:
        return a->as.func.def == b->as.func.def && a->as.func.self == b->as.func.self;
    case LANG_OBJECT:
        return a->as.obj.data == b->as.obj.data;
    default:
        return 0;
    }
}
