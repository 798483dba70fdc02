/* list_methods.c — the list type: its descriptor and methods. Lists are
 * immutable once built (no cycles can form); + and * build new ones. */
#include "internal.h"

#include <stdlib.h>

static lang_value *m_index(lang_ctx *cx, const lang_args *a)
{
    const lang_value *l = a->self;
    for (size_t i = 0; i < l->as.list.len; i++)
        if (lang_equal(l->as.list.items[i], a->v[0])) {
            lang_value *r = lang_int((int64_t)i);
            return r ? r : lang_raise(cx, "MemoryError", "out of memory");
        }
    char *r = lang_repr(a->v[0]);
    lang_raise(cx, "ValueError", "list.index: %s is not in the list", r ? r : "the value");
    free(r);
    return NULL;
}

static lang_value *m_count(lang_ctx *cx, const lang_args *a)
{
    const lang_value *l = a->self;
    int64_t c = 0;
    for (size_t i = 0; i < l->as.list.len; i++)
        c += lang_equal(l->as.list.items[i], a->v[0]);
    lang_value *r = lang_int(c);
    return r ? r : lang_raise(cx, "MemoryError", "out of memory");
}

static lang_value *m_copy(lang_ctx *cx, const lang_args *a)
{
    const lang_value *l = a->self;
    lang_value *out = lang_list_new(l->as.list.len);
    if (!out)
        return lang_raise(cx, "MemoryError", "out of memory");
    for (size_t i = 0; i < l->as.list.len; i++)
        lang_list_set(out, i, lang_incref(l->as.list.items[i]));
    return out;
}

static const lang_builtin list_methods[] = {
    {"index(value)", "Return the index of the first item equal to value (ValueError when there is none).", m_index},
    {"count(value)", "Return the number of items equal to value.", m_count},
    {"copy()", "Return a shallow copy of the list.", m_copy},
};

static char *list_repr(const lang_value *v) { return lang_repr(v); }

const lang_type lang_list_type = {
    .name = "list",
    .doc = "list: an ordered sequence of values, written [a, b, c]. l[i] (negative i counts from the end), "
           "l[a:b], l + m, l * n, x in l, len(l).",
    .repr = list_repr,
    .methods = list_methods,
    .nmethods = sizeof list_methods / sizeof list_methods[0],
};
