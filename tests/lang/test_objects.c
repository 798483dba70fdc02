/* test_objects.c — the extension API of lang.h as another engine module
 * uses it: a new object type (repr, rich MIME bundle, methods, dynamic
 * attributes, indexing, len) and builtins registered from a table, then
 * driven through execute, display, help, completion and inspect. */
#include "lang.h"
#include "lang_test.h"

#include <stdlib.h>

typedef struct counter {
    int64_t n;
    int *freed; /* set when the value is freed, to check ownership */
} counter;

static void counter_free(void *data)
{
    counter *c = data;
    if (c->freed)
        (*c->freed)++;
    free(c);
}

static char *counter_repr(const lang_value *self)
{
    const counter *c = self->as.obj.data;
    char *s = malloc(64);
    if (s)
        snprintf(s, 64, "Counter(%lld)", (long long)c->n);
    return s;
}

static json_t *counter_mime(const lang_value *self)
{
    const counter *c = self->as.obj.data;
    return json_pack("{s:s+}", "text/html", "<b>counter</b> ", c->n > 0 ? "positive" : "zero");
}

static lang_value *counter_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const counter *c = self->as.obj.data;
    if (!strcmp(name, "value"))
        return lang_int(c->n);
    if (!strcmp(name, "doubled"))
        return lang_int(c->n * 2);
    return NULL;
}

static void counter_attrs(const lang_value *self, void (*add)(void *acc, const char *name), void *acc)
{
    (void)self;
    add(acc, "value");
    add(acc, "doubled");
}

static lang_value *counter_index(lang_ctx *cx, lang_value *self, lang_value *key)
{
    const counter *c = self->as.obj.data;
    if (key->kind != LANG_INT)
        return lang_raise(cx, "TypeError", "Counter indices must be integers, not %s", lang_type_name(key));
    if (key->as.i < 0 || key->as.i >= c->n)
        return lang_raise(cx, "IndexError", "Counter index %lld out of range", (long long)key->as.i);
    return lang_int(key->as.i * 10);
}

static int counter_len(lang_ctx *cx, lang_value *self, int64_t *out)
{
    (void)cx;
    *out = ((const counter *)self->as.obj.data)->n;
    return 0;
}

static int freed_count;

static lang_value *m_add(lang_ctx *cx, const lang_args *a)
{
    int64_t k;
    if (lang_arg_int(cx, a, 0, &k) < 0)
        return NULL;
    if (k < 0)
        return lang_arg_error(cx, a, 0, "ValueError", "an integer >= 0");
    counter *c = malloc(sizeof *c);
    if (!c)
        return lang_raise(cx, "MemoryError", "out of memory");
    c->n = ((const counter *)a->self->as.obj.data)->n + k;
    c->freed = &freed_count;
    return lang_object(a->self->as.obj.type, c);
}

static const lang_builtin counter_methods[] = {
    {"add(k=1)", "Return a new counter, k higher.", m_add},
};

static const lang_type counter_type = {
    .name = "Counter",
    .doc = "Counter: a test object that counts.",
    .free = counter_free,
    .repr = counter_repr,
    .mime = counter_mime,
    .getattr = counter_getattr,
    .attr_names = counter_attrs,
    .methods = counter_methods,
    .nmethods = 1,
    .index = counter_index,
    .len = counter_len,
};

static lang_value *b_counter(lang_ctx *cx, const lang_args *a)
{
    int64_t start;
    const char *label;
    double scale;
    int flag;
    if (lang_arg_int(cx, a, 0, &start) < 0 || lang_arg_str(cx, a, 1, &label) < 0 ||
        lang_arg_number(cx, a, 2, &scale) < 0 || lang_arg_bool(cx, a, 3, &flag) < 0)
        return NULL;
    if (lang_check_interrupt(cx) < 0)
        return NULL;
    counter *c = malloc(sizeof *c);
    if (!c)
        return lang_raise(cx, "MemoryError", "out of memory");
    c->n = start;
    c->freed = &freed_count;
    lang_write(cx, "stdout", label, strlen(label));
    return lang_object(&counter_type, c);
}

static lang_value *b_total(lang_ctx *cx, const lang_args *a)
{
    int64_t t = 0;
    for (size_t i = 0; i < a->nrest; i++) {
        if (a->rest[i]->kind != LANG_INT)
            return lang_raise(cx, "TypeError", "total: every value must be an int");
        t += a->rest[i]->as.i;
    }
    if (a->v[0]->kind != LANG_NONE)
        t *= a->v[0]->as.i;
    return lang_int(t);
}

static lang_value *b_progress(lang_ctx *cx, const lang_args *a)
{
    json_t *data = json_pack("{s:s, s:s}", "text/plain", "50%", "text/html", "<progress value=50>");
    json_t *meta = json_pack("{s:b}", "isolated", 1);
    lang_display_bundle(cx, data, meta, "bar", 0);
    lang_display_bundle(cx, data, NULL, "bar", 1);
    json_decref(data);
    json_decref(meta);
    if (lang_display(cx, a->v[0], NULL, 1) == 0)
        return lang_raise(cx, "SystemError", "an update without a display_id must fail");
    return lang_none();
}

static const lang_builtin module_builtins[] = {
    {"progress(x=1)", "Show a progress bar twice.", b_progress},
    {"make_counter(start=0, label='', scale=1.0, flag=false)", "Make a Counter starting at start.", b_counter},
    {"total(*values, times=none)", "Add ints, then multiply by times when given.", b_total},
};

int main(void)
{
    CHECK(lang_register_builtins(module_builtins, 3) == 0);
    CHECK(lang_register_builtins(module_builtins, 3) == 0); /* twice is harmless */
    static const lang_builtin bad[] = {{"broken(a=1, b)", "doc", b_total}, {"nope", "doc", b_total}};
    CHECK(lang_register_builtins(bad, 2) == -1);
    CHECK(lang_find_builtin("broken") == NULL);
    CHECK(lang_find_builtin("make_counter") == &module_builtins[1]);

    ember_engine *e = ember_engine_new();
    ember_io io;
    fake_io f;
    fake_io_init(&f, &io);
    CHECK(lang_find_builtin("print") != NULL); /* the core ones are there too */

    CHECK_STR(eval_repr(e, &io, "c = make_counter(3, label='made'); c"), "Counter(3)");
    CHECK_STR(f.out, "made");
    CHECK_STR(eval_repr(e, &io, "[type(c), len(c), c[2], c.value, c.doubled, c.add(2).value, c.add().value]"),
              "['Counter', 3, 20, 3, 6, 5, 4]");
    CHECK_STR(eval_repr(e, &io, "c[3]"), "IndexError: Counter index 3 out of range");
    CHECK_STR(eval_repr(e, &io, "c['a']"), "TypeError: Counter indices must be integers, not str");
    CHECK_STR(eval_repr(e, &io, "c.valeu"), "AttributeError: 'Counter' object has no attribute 'valeu'. Did you mean 'value'?");
    CHECK_STR(eval_repr(e, &io, "c.add(-1)"), "ValueError: Counter.add: k must be an integer >= 0, got -1");
    CHECK_STR(eval_repr(e, &io, "make_counter('x')"), "TypeError: make_counter: start must be an integer, got 'x'");
    CHECK_STR(eval_repr(e, &io, "make_counter(label=1)"), "TypeError: make_counter: label must be a string, got 1");
    CHECK_STR(eval_repr(e, &io, "make_counter(scale='s')"), "TypeError: make_counter: scale must be a number, got 's'");
    CHECK_STR(eval_repr(e, &io, "make_counter(flag=0)"), "TypeError: make_counter: flag must be true or false, got 0");
    CHECK_STR(eval_repr(e, &io, "make_counter(0, '', 1, false, 5)"),
              "TypeError: make_counter() takes 4 positional arguments but 5 were given");
    CHECK_STR(eval_repr(e, &io, "[total(), total(1, 2, 3), total(1, 2, times=10)]"), "[0, 6, 30]");
    CHECK_STR(eval_repr(e, &io, "total(1, tims=2)"),
              "TypeError: total() got an unexpected keyword argument 'tims'. Did you mean 'times'?");
    CHECK_STR(eval_repr(e, &io, "[c, 1]"), "[Counter(3), 1]");

    /* the execute_result and display carry the rich bundle plus text/plain */
    {
        cell cl;
        run_cell(e, &io, "c", &cl);
        CHECK_STR(json_string_value(json_object_get(cl.r.data, "text/html")), "<b>counter</b> positive");
        CHECK_STR(json_string_value(json_object_get(cl.r.data, "text/plain")), "Counter(3)");
        ember_exec_result_clear(&cl.r);
        fake_io_reset(&f);
        CHECK_STR(eval_repr(e, &io, "display(make_counter())"), "");
        json_t *d = json_object_get(json_array_get(f.displays, 0), "data");
        CHECK_STR(json_string_value(json_object_get(d, "text/html")), "<b>counter</b> zero");
        CHECK_STR(json_string_value(json_object_get(d, "text/plain")), "Counter(0)");
    }
    fake_io_reset(&f);
    CHECK_STR(eval_repr(e, &io, "progress()"), "ValueError: update_display needs a display_id");
    CHECK(json_array_size(f.displays) == 2);
    {
        json_t *d0 = json_array_get(f.displays, 0), *d1 = json_array_get(f.displays, 1);
        CHECK(json_is_true(json_object_get(json_object_get(d0, "metadata"), "isolated")));
        CHECK_STR(json_string_value(json_object_get(d0, "display_id")), "bar");
        CHECK(json_integer_value(json_object_get(d0, "update")) == 0);
        CHECK(json_integer_value(json_object_get(d1, "update")) == 1);
        CHECK(json_object_size(json_object_get(d1, "metadata")) == 0);
    }
    /* help, completion and inspect read the same entries */
    {
        cell cl;
        run_cell(e, &io, "help(c)", &cl);
        const char *page = json_string_value(
            json_object_get(json_object_get(json_array_get(cl.r.payload, 0), "data"), "text/plain"));
        CHECK_CONTAINS(page, "Counter: a test object that counts.");
        CHECK_CONTAINS(page, "Counter.add(k=1)");
        ember_exec_result_clear(&cl.r);
        json_t *r = ember_complete(e, "c.", strlen("c."), 2);
        char *s = json_dumps(json_object_get(r, "matches"), 0);
        CHECK_STR(s, "[\"add\", \"doubled\", \"value\"]");
        free(s);
        json_decref(r);
        r = ember_complete(e, "make_counter(la", strlen("make_counter(la"), 15);
        s = json_dumps(json_object_get(r, "matches"), 0);
        CHECK_STR(s, "[\"label=\"]");
        free(s);
        json_decref(r);
        r = ember_inspect(e, "c.add(", strlen("c.add("), 6, 0);
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "data"), "text/plain")),
                  "Counter.add(k=1)\n\nReturn a new counter, k higher.");
        json_decref(r);
        r = ember_inspect(e, "total(", strlen("total("), 6, 0);
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "data"), "text/plain")),
                  "total(*values, times=none)\n\nAdd ints, then multiply by times when given.");
        json_decref(r);
    }
    /* ownership: every counter made is freed once the engine lets go */
    fake_io_free(&f);
    ember_engine_free(e);
    CHECK(freed_count == 4); /* c, c.add(2), c.add(), the displayed one */
    fprintf(stderr, "counters freed: %d\n", freed_count);
    return test_finish("test_objects");
}
