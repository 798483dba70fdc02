/* test_eval.c — evaluation through ember_execute: arithmetic and its
 * precedence, strings and lists, indexing and slicing, comparisons and
 * logic, variables across cells, the execute_result rules (last
 * expression, ';', none, silent), state kept after errors, and
 * ember_user_expression. */
#include "lang_test.h"

static ember_engine *e;
static ember_io io;
static fake_io f;

#define EV(code, want) CHECK_STR(eval_repr(e, &io, code), want)

int main(void)
{
    e = ember_engine_new();
    CHECK(e != NULL);
    fake_io_init(&f, &io);

    /* arithmetic */
    EV("1 + 2", "3");
    EV("7 - 10", "-3");
    EV("6 * 7", "42");
    EV("7 / 2", "3.5");
    EV("6 / 3", "2.0");
    EV("7 // 2", "3");
    EV("-7 // 2", "-4");
    EV("7 // -2", "-4");
    EV("-7 % 3", "2");
    EV("7 % -3", "-2");
    EV("7.5 // 2", "3.0");
    EV("-7.5 % 2", "0.5");
    EV("2 ** 10", "1024");
    EV("2 ** -1", "0.5");
    EV("2.0 ** 0.5", "1.4142135623730951");
    EV("(-8) ** 2", "64");
    EV("-2 ** 2", "-4");
    EV("(-2) ** 2", "4");
    EV("2 ** 3 ** 2", "512");
    EV("1 + 2 * 3 - 4 / 2", "5.0");
    EV("(1 + 2) * 3", "9");
    EV("10 - 2 - 3", "5");
    EV("2 * 3 % 4", "2");
    EV("-3 + +2", "-1");
    EV("--3", "3");
    EV("1_000 * 3e-4", "0.3");
    EV("0.1 + 0.2", "0.30000000000000004");
    EV("1 / 3", "0.3333333333333333");
    EV("true + true", "2");
    EV("3 * false", "0");
    EV("9223372036854775807", "9223372036854775807");
    EV("-9223372036854775807 - 1", "-9223372036854775808");
    EV("2 ** 62 + (2 ** 62 - 1)", "9223372036854775807");
    EV("1e308 * 10", "inf");
    EV("-1e308 * 10", "-inf");

    /* strings and lists */
    EV("'ab' + \"cd\"", "'abcd'");
    EV("'ab' * 3", "'ababab'");
    EV("3 * 'ab'", "'ababab'");
    EV("'ab' * -1", "''");
    EV("[1, 2] + [3]", "[1, 2, 3]");
    EV("[0] * 3", "[0, 0, 0]");
    EV("[1, 'a', 2.5, none, true, [false]]", "[1, 'a', 2.5, none, true, [false]]");
    EV("'h\xc3\xa9llo'[1]", "'\xc3\xa9'");
    EV("'h\xc3\xa9llo'[-1]", "'o'");
    EV("'h\xc3\xa9llo'[1:3]", "'\xc3\xa9l'");
    EV("'abcdef'[::2]", "'ace'");
    EV("'abcdef'[::-1]", "'fedcba'");
    EV("'abcdef'[-2:]", "'ef'");
    EV("'abcdef'[10:]", "''");
    EV("[1, 2, 3][-1]", "3");
    EV("[1, 2, 3, 4][1:3]", "[2, 3]");
    EV("[1, 2, 3, 4][:-1]", "[1, 2, 3]");
    EV("[1, 2, 3, 4][::-2]", "[4, 2]");
    EV("[1, 2, 3, 4][3:0:-1]", "[4, 3, 2]");
    EV("[1, 2, 3][5:]", "[]");
    EV("[1, 2, 3][::9223372036854775807]", "[1]");
    EV("[1, 2, 3][::-9223372036854775807 - 1]", "[3]");
    EV("'abc'[-9223372036854775807 - 1:9223372036854775807]", "'abc'");
    EV("range(-9223372036854775807 - 1, 9223372036854775807, 4611686018427387904)",
       "[-9223372036854775808, -4611686018427387904, 0, 4611686018427387904]");
    EV("range(9223372036854775807, -9223372036854775807 - 1, -9223372036854775807 - 1)", "[9223372036854775807, -1]");
    EV("[[1, 2], [3]][0][1]", "2");
    EV("'''a\nb'''", "'a\\nb'");

    /* comparisons and logic */
    EV("1 < 2", "true");
    EV("1 < 2 < 3", "true");
    EV("1 < 3 < 2", "false");
    EV("1 == 1.0", "true");
    EV("1 != 2", "true");
    EV("'a' < 'b'", "true");
    EV("'abc' >= 'abd'", "false");
    EV("[1, 2] < [1, 3]", "true");
    EV("[1, 2] == [1, 2]", "true");
    EV("[1, 2] == [1, 2.0]", "true");
    EV("'a' == 1", "false");
    EV("none == none", "true");
    EV("2 in [1, 2]", "true");
    EV("3 not in [1, 2]", "true");
    EV("'ell' in 'hello'", "true");
    EV("'' in 'x'", "true");
    EV("not 0", "true");
    EV("not [1]", "false");
    EV("1 and 2", "2");
    EV("0 and 2", "0");
    EV("0 or 'x'", "'x'");
    EV("'' or []", "[]");
    EV("1 if true else 2", "1");
    EV("1 if [] else 2", "2");
    EV("1 < 2 == true", "false"); /* chained: 1 < 2 and 2 == true */
    EV("True or undefined_name", "true"); /* short-circuit */
    EV("False and undefined_name", "false");

    /* variables across cells; none / True spellings */
    EV("x = 41", "");
    EV("x + 1", "42");
    EV("y = x * 2; y", "82");
    EV("x = x + 1\nx", "42");
    EV("z = None\nz", "");
    EV("T = True; T", "true");
    EV("s = 'h\xc3\xa9'; l = [s, 1]; l", "['h\xc3\xa9', 1]");

    /* execute_result rules */
    EV("1; ", "");
    EV("1;  # comment", "");
    EV("1; 2", "2");
    EV("2\nw = 3", "");
    EV("none", "");
    EV("", "");
    EV("# nothing\n\n", "");
    {
        cell c;
        run_cell(e, &io, "40 + 2", &c);
        CHECK(c.r.ok == 1);
        CHECK(json_is_object(c.r.data) && json_object_size(c.r.data) == 1);
        CHECK(json_is_object(c.r.metadata) && json_object_size(c.r.metadata) == 0);
        CHECK(json_is_array(c.r.payload) && json_array_size(c.r.payload) == 0);
        CHECK(c.r.ename == NULL && c.r.traceback == NULL);
        ember_exec_result_clear(&c.r);
        ember_exec_options opt = {.execution_count = 5, .silent = 1};
        ember_exec_result r;
        CHECK(ember_execute(e, "silent_var = 7\nsilent_var", strlen("silent_var = 7\nsilent_var"), &opt, &io, &r) == 0);
        CHECK(r.ok && r.data == NULL && r.metadata == NULL && r.payload != NULL);
        ember_exec_result_clear(&r);
        EV("silent_var", "7"); /* silent still runs the code */
    }

    /* after an error, earlier statements have run and nothing is half-assigned */
    EV("a = 1\nb = 2", "");
    CHECK_STR(eval_repr(e, &io, "a = 10\nb = 1 / 0\nc = 3"), "ZeroDivisionError: division by zero");
    EV("a", "10");
    EV("b", "2");
    CHECK_STR(eval_repr(e, &io, "c"), "NameError: name 'c' is not defined");
    CHECK_STR(eval_repr(e, &io, "b = [1, 2, undefined]"), "NameError: name 'undefined' is not defined");
    EV("b", "2");
    /* a syntax error anywhere stops the whole cell before it runs */
    CHECK_STR(eval_repr(e, &io, "a = 99\n1 +"), "SyntaxError: invalid syntax: the expression is not finished");
    EV("a", "10");
    /* shadowing a builtin is allowed and only affects that name */
    EV("len = 3; len", "3");
    CHECK_STR(eval_repr(e, &io, "len([1])"), "TypeError: 'int' object is not callable");
    EV("type(1)", "'int'");

    /* user_expressions */
    {
        json_t *r = ember_user_expression(e, "a * 2", strlen("a * 2"), &io);
        CHECK_STR(json_string_value(json_object_get(r, "status")), "ok");
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "data"), "text/plain")), "20");
        CHECK(json_is_object(json_object_get(r, "metadata")));
        json_decref(r);
        r = ember_user_expression(e, "nope", strlen("nope"), &io);
        CHECK_STR(json_string_value(json_object_get(r, "status")), "error");
        CHECK_STR(json_string_value(json_object_get(r, "ename")), "NameError");
        CHECK_STR(json_string_value(json_object_get(r, "evalue")), "name 'nope' is not defined. Did you mean 'type'?");
        CHECK(json_array_size(json_object_get(r, "traceback")) == 3);
        json_decref(r);
        r = ember_user_expression(e, "q = 1", strlen("q = 1"), &io);
        CHECK_STR(json_string_value(json_object_get(r, "ename")), "SyntaxError");
        json_decref(r);
        r = ember_user_expression(e, "1; 2", strlen("1; 2"), &io);
        CHECK_STR(json_string_value(json_object_get(r, "ename")), "SyntaxError");
        json_decref(r);
        r = ember_user_expression(e, "", strlen(""), &io);
        CHECK_STR(json_string_value(json_object_get(r, "ename")), "SyntaxError");
        json_decref(r);
        r = ember_user_expression(e, "  'x'.upper()\n", strlen("  'x'.upper()\n"), &io);
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "data"), "text/plain")), "'X'");
        json_decref(r);
        EV("q", "NameError: name 'q' is not defined");
    }

    /* a second engine has its own variables */
    {
        ember_engine *e2 = ember_engine_new();
        CHECK_STR(eval_repr(e2, &io, "a"), "NameError: name 'a' is not defined");
        ember_engine_free(e2);
    }
    /* version and banner */
    CHECK_STR(ember_version(), "0.1.0");
    CHECK_CONTAINS(ember_banner(), "Ember");

    fake_io_free(&f);
    ember_engine_free(e);
    return test_finish("test_eval");
}
