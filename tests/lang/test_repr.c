/* test_repr.c — text/plain reprs as Python's repr writes them: shortest
 * round-trip floats, quoting and escapes of strings, lists, none/bools,
 * builtins and methods; str() versus repr(); the MIME bundle. */
#include "internal.h"
#include "lang_test.h"

#include <math.h>

static char buf[256];
static const char *ff(double d)
{
    format_float(d, buf, sizeof buf);
    return buf;
}

static char *rs;
static const char *rep(lang_value *v)
{
    free(rs);
    rs = lang_repr(v);
    lang_decref(v);
    return rs;
}

int main(void)
{
    CHECK_STR(ff(0.1), "0.1");
    CHECK_STR(ff(3.0), "3.0");
    CHECK_STR(ff(-3.0), "-3.0");
    CHECK_STR(ff(0.0), "0.0");
    CHECK_STR(ff(-0.0), "-0.0");
    CHECK_STR(ff(1e-05), "1e-05");
    CHECK_STR(ff(0.0001), "0.0001");
    CHECK_STR(ff(0.00012345), "0.00012345");
    CHECK_STR(ff(1e16), "1e+16");
    CHECK_STR(ff(1e15), "1000000000000000.0");
    CHECK_STR(ff(123456789012345678.0), "1.2345678901234568e+17");
    CHECK_STR(ff(1.5e300), "1.5e+300");
    CHECK_STR(ff(2.5e-300), "2.5e-300");
    CHECK_STR(ff(5e-324), "5e-324");
    CHECK_STR(ff(1.7976931348623157e308), "1.7976931348623157e+308");
    CHECK_STR(ff(0.30000000000000004), "0.30000000000000004");
    CHECK_STR(ff(1.0 / 3.0), "0.3333333333333333");
    CHECK_STR(ff(2.0 / 3.0), "0.6666666666666666");
    CHECK_STR(ff(100.0), "100.0");
    CHECK_STR(ff(123.456), "123.456");
    CHECK_STR(ff(3e-4), "0.0003");
    CHECK_STR(ff(INFINITY), "inf");
    CHECK_STR(ff(-INFINITY), "-inf");
    CHECK_STR(ff(NAN), "nan");
    /* every float reads back exactly */
    double samples[] = {0.1, 1.0 / 7, 6.02214076e23, 1e-7, 123456.789, 9007199254740993.0, 4.35, 0.7};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++)
        CHECK(strtod(ff(samples[i]), NULL) == samples[i]);

    CHECK_STR(rep(lang_none()), "none");
    CHECK_STR(rep(lang_bool(1)), "true");
    CHECK_STR(rep(lang_bool(0)), "false");
    CHECK_STR(rep(lang_int(-42)), "-42");
    CHECK_STR(rep(lang_int(INT64_MIN)), "-9223372036854775808");
    CHECK_STR(rep(lang_cstr("abc")), "'abc'");
    CHECK_STR(rep(lang_cstr("it's")), "\"it's\"");
    CHECK_STR(rep(lang_cstr("both ' and \"")), "'both \\' and \"'");
    CHECK_STR(rep(lang_cstr("tab\there\nnl\\ \x01 \x7f")), "'tab\\there\\nnl\\\\ \\x01 \\x7f'");
    CHECK_STR(rep(lang_cstr("h\xc3\xa9 \xf0\x9f\x98\x80")), "'h\xc3\xa9 \xf0\x9f\x98\x80'");
    CHECK_STR(rep(lang_str("a\0b", 3)), "'a\\x00b'");
    {
        lang_value *l = lang_list_new(4);
        lang_list_set(l, 0, lang_int(1));
        lang_list_set(l, 1, lang_float(2.5));
        lang_list_set(l, 2, lang_cstr("x"));
        lang_value *inner = lang_list_new(0);
        lang_list_set(l, 3, inner);
        CHECK(l->as.list.depth == 2);
        CHECK_STR(rep(l), "[1, 2.5, 'x', []]");
    }
    register_modules();
    CHECK_STR(rep(lang_func(lang_find_builtin("print"), NULL, NULL)), "<builtin print>");
    {
        lang_value *s = lang_cstr("x");
        lang_value *m = lang_func(&lang_str_type.methods[0], s, &lang_str_type);
        lang_decref(s);
        CHECK_STR(rep(m), "<method str.upper>");
    }
    /* str() leaves strings bare */
    {
        lang_value *s = lang_cstr("abc");
        char *t = lang_to_str(s);
        CHECK_STR(t, "abc");
        free(t);
        json_t *mime = lang_mime(s);
        CHECK_STR(json_string_value(json_object_get(mime, "text/plain")), "'abc'");
        CHECK(json_object_size(mime) == 1);
        json_decref(mime);
        lang_decref(s);
    }
    /* type names and truthiness */
    lang_value *vals[] = {lang_none(), lang_bool(1), lang_int(0), lang_float(0.5), lang_cstr(""), lang_list_new(0)};
    const char *names[] = {"none", "bool", "int", "float", "str", "list"};
    int truth[] = {0, 1, 0, 1, 0, 0};
    for (int i = 0; i < 6; i++) {
        CHECK_STR(lang_type_name(vals[i]), names[i]);
        CHECK(lang_truthy(vals[i]) == truth[i]);
        lang_decref(vals[i]);
    }
    /* reprs through the engine */
    ember_engine *e = ember_engine_new();
    ember_io io;
    fake_io f;
    fake_io_init(&f, &io);
    CHECK_STR(eval_repr(e, &io, "[1, 2.5, 'x']"), "[1, 2.5, 'x']");
    CHECK_STR(eval_repr(e, &io, "[true, none, False]"), "[true, none, false]");
    CHECK_STR(eval_repr(e, &io, "1e-5"), "1e-05");
    CHECK_STR(eval_repr(e, &io, "10 / 4"), "2.5");
    CHECK_STR(eval_repr(e, &io, "print"), "<builtin print>");
    CHECK_STR(eval_repr(e, &io, "'a'.upper"), "<method str.upper>");
    CHECK_STR(eval_repr(e, &io, "repr('x')"), "\"'x'\"");
    fake_io_free(&f);
    ember_engine_free(e);
    free(rs);
    return test_finish("test_repr");
}
