/* test_builtins.c — every builtin and method through ember_execute with a
 * fake ember_io: what it publishes (stdout, stderr, display_data, updates,
 * clear_output, help's page payload), what it returns, and how it checks
 * its arguments. */
#include "lang_test.h"

static ember_engine *e;
static ember_io io;
static fake_io f;

#define EV(code, want) CHECK_STR(eval_repr(e, &io, code), want)

static const char *page_text(const char *code)
{
    static char buf[16384];
    cell c;
    run_cell(e, &io, code, &c);
    buf[0] = 0;
    json_t *p = json_array_get(c.r.payload, 0);
    if (c.r.ok && json_array_size(c.r.payload) == 1 &&
        !strcmp(json_string_value(json_object_get(p, "source")) ?: "", "page") &&
        json_integer_value(json_object_get(p, "start")) == 0)
        snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(json_object_get(p, "data"), "text/plain")));
    ember_exec_result_clear(&c.r);
    return buf;
}

int main(void)
{
    e = ember_engine_new();
    fake_io_init(&f, &io);

    /* print */
    EV("print('a', 1, 2.5, [1, 'b'], none, true)", "");
    CHECK_STR(f.out, "a 1 2.5 [1, 'b'] none true\n");
    fake_io_reset(&f);
    EV("print(1, 2, sep='-', end='!')", "");
    CHECK_STR(f.out, "1-2!");
    fake_io_reset(&f);
    EV("print()", "");
    CHECK_STR(f.out, "\n");
    fake_io_reset(&f);
    EV("print('oops', file='stderr')", "");
    CHECK_STR(f.err, "oops\n");
    CHECK_STR(f.out, "");
    fake_io_reset(&f);
    EV("print(1, sep=none, end=none)", "");
    CHECK_STR(f.out, "1\n");
    fake_io_reset(&f);
    EV("print('x', file='log')", "ValueError: print: file must be 'stdout' or 'stderr', got 'log'");
    EV("print('x', sep=1)", "TypeError: print: sep must be a string or none, got 1");
    EV("print('x', end=[])", "TypeError: print: end must be a string or none, got []");
    EV("print('x', file=2)", "TypeError: print: file must be a string, got 2");
    CHECK_STR(f.out, "");

    /* display / update_display / clear_output */
    EV("display(1, 'a')", "");
    CHECK(json_array_size(f.displays) == 2);
    {
        json_t *d0 = json_array_get(f.displays, 0), *d1 = json_array_get(f.displays, 1);
        CHECK_STR(json_string_value(json_object_get(json_object_get(d0, "data"), "text/plain")), "1");
        CHECK_STR(json_string_value(json_object_get(json_object_get(d1, "data"), "text/plain")), "'a'");
        CHECK(!json_is_string(json_object_get(d0, "display_id")));
        CHECK(json_integer_value(json_object_get(d0, "update")) == 0);
        CHECK(json_is_object(json_object_get(d0, "metadata")));
    }
    fake_io_reset(&f);
    EV("display('v1', display_id='progress')", "");
    EV("update_display('v2', 'progress')", "");
    CHECK(json_array_size(f.displays) == 2);
    {
        json_t *d0 = json_array_get(f.displays, 0), *d1 = json_array_get(f.displays, 1);
        CHECK_STR(json_string_value(json_object_get(d0, "display_id")), "progress");
        CHECK(json_integer_value(json_object_get(d0, "update")) == 0);
        CHECK_STR(json_string_value(json_object_get(d1, "display_id")), "progress");
        CHECK(json_integer_value(json_object_get(d1, "update")) == 1);
        CHECK_STR(json_string_value(json_object_get(json_object_get(d1, "data"), "text/plain")), "'v2'");
    }
    fake_io_reset(&f);
    EV("display(1, display_id=3)", "TypeError: display: display_id must be a string or none, got 3");
    EV("display(1, display_id='')", "ValueError: display: display_id must be a non-empty string, got ''");
    EV("update_display(1, none)", "TypeError: update_display: display_id must be a string, got none");
    EV("update_display(1)", "TypeError: update_display() missing 1 required argument: 'display_id'");
    CHECK(json_array_size(f.displays) == 0);
    EV("clear_output()", "");
    CHECK(f.clears == 1 && f.last_wait == 0);
    EV("clear_output(wait=true)", "");
    CHECK(f.clears == 2 && f.last_wait == 1);
    EV("clear_output(wait=1)", "TypeError: clear_output: wait must be true or false, got 1");
    fake_io_reset(&f);

    /* help: a page payload, read from the one table entry */
    CHECK_STR(page_text("help(print)"),
              "print(*values, sep=' ', end='\\n', file='stdout')\n\nPrint the values, converted with str() and "
              "separated by sep, followed by end. file='stderr' writes to the error stream.");
    CHECK_STR(page_text("help('sleep')"),
              "sleep(seconds)\n\nWait for the given number of seconds. Interrupting the kernel stops the wait at once.");
    CHECK_CONTAINS(page_text("help()"), "  print(*values, sep=' ', end='\\n', file='stdout')\n      Print the values");
    CHECK_CONTAINS(page_text("help()"), "  sleep(seconds)\n");
    CHECK_CONTAINS(page_text("help()"), "  input(prompt='', password=false)\n");
    CHECK_CONTAINS(page_text("help('abc')"), "str: an immutable UTF-8 string");
    CHECK_CONTAINS(page_text("help('abc')"), "  str.upper()\n");
    CHECK_CONTAINS(page_text("help('x'.split)"), "str.split(sep=none, maxsplit=-1)\n\nReturn a list");
    CHECK_CONTAINS(page_text("help([])"), "list.index(value)");
    CHECK_CONTAINS(page_text("help(3)"), "int: a 64-bit signed integer");
    CHECK_CONTAINS(page_text("help(none)"), "Ember builtins");
    CHECK_STR(f.out, "");
    /* user expressions have no payload: help prints instead */
    {
        json_t *r = ember_user_expression(e, "help(len)", strlen("help(len)"), &io);
        CHECK_STR(json_string_value(json_object_get(r, "status")), "ok");
        CHECK_CONTAINS(f.out, "len(x)\n\nReturn the number of items");
        json_decref(r);
        fake_io_reset(&f);
    }
    /* IPython's name? and ?name */
    CHECK_STR(page_text("print?"), page_text("help(print)"));
    CHECK_STR(page_text("?sleep"), page_text("help(sleep)"));
    CHECK_STR(page_text("  'x'.upper??\n") , "");  /* only dotted names */
    CHECK_STR(eval_repr(e, &io, "s_help = 'abc'"), "");
    CHECK_CONTAINS(page_text("s_help.split?"), "str.split(sep=none, maxsplit=-1)");
    fake_io_reset(&f);
    CHECK_STR(page_text("pritn?"), "");
    CHECK_STR(f.out, "Object `pritn` not found.\n");
    fake_io_reset(&f);
    CHECK_STR(eval_repr(e, &io, "1 ?"), "SyntaxError: invalid syntax: '?' is not an Ember operator");
    EV("help(1, 2)", "TypeError: help() takes 1 positional argument but 2 were given");

    /* len, type, conversions */
    EV("len('h\xc3\xa9llo')", "5");
    EV("len([1, [2, 3]])", "2");
    EV("len('')", "0");
    EV("len(3.5)", "TypeError: object of type 'float' has no len()");
    EV("[type(none), type(true), type(1), type(1.5), type('s'), type([]), type(print), type('a'.upper)]",
       "['none', 'bool', 'int', 'float', 'str', 'list', 'builtin', 'builtin']");
    EV("str(1.5) + str([1]) + str('x') + str(none)", "'1.5[1]xnone'");
    EV("repr('a') + repr(1)", "\"'a'1\"");
    EV("[bool(0), bool(''), bool([0]), bool('x'), bool(none)]", "[false, false, true, true, false]");
    EV("[int(3.9), int(-3.9), int('  42 '), int('-7'), int('1_000'), int(true)]", "[3, -3, 42, -7, 1000, 1]");
    EV("int('4.5')", "ValueError: invalid literal for int() with base 10: '4.5'");
    EV("int('')", "ValueError: invalid literal for int() with base 10: ''");
    EV("int('99999999999999999999')", "OverflowError: int: 99999999999999999999 does not fit in 64 bits");
    EV("int(1e30)", "OverflowError: int: 1e+30 does not fit in 64 bits");
    EV("int(float('nan'))", "ValueError: int: cannot convert float nan to integer");
    EV("int(float('inf'))", "OverflowError: int: cannot convert float infinity to integer");
    EV("int([1])", "TypeError: int: x must be a number or a string, got [1]");
    EV("[float(2), float(' 2.5 '), float('1e-3'), float('-inf'), float(true)]", "[2.0, 2.5, 0.001, -inf, 1.0]");
    EV("float('abc')", "ValueError: could not convert string to float: 'abc'");
    EV("float('0x10')", "ValueError: could not convert string to float: '0x10'");
    EV("float(none)", "TypeError: float: x must be a number or a string, got none");
    EV("[abs(-3), abs(2.5), abs(-0.0)]", "[3, 2.5, 0.0]");
    EV("abs('x')", "TypeError: abs: x must be a number, got 'x'");
    EV("abs(-9223372036854775807 - 1)",
       "OverflowError: abs: -9223372036854775808 does not fit in 64 bits once positive");

    /* min, max, sum, range, round, sorted */
    EV("[min(3, 1, 2), max(3, 1, 2), min([4, 2.5]), max(['b', 'a'])]", "[1, 3, 2.5, 'b']");
    EV("min([])", "ValueError: min: no values given (pass several values or a non-empty list)");
    EV("max()", "ValueError: max: no values given (pass several values or a non-empty list)");
    EV("max(1, 'a')", "TypeError: max: cannot compare str with int");
    EV("[sum([1, 2, 3]), sum([1, 2.5]), sum([], 10), sum([1], start=0.5)]", "[6, 3.5, 10, 1.5]");
    EV("sum([1, 'a'])", "TypeError: sum: item 1 of the list is str, not a number");
    EV("sum(3)", "TypeError: sum: items must be a list of numbers, got 3");
    EV("sum([9223372036854775807, 1])", "OverflowError: sum: the total does not fit in 64 bits (use floats)");
    EV("range(4)", "[0, 1, 2, 3]");
    EV("range(2, 5)", "[2, 3, 4]");
    EV("range(10, 0, -3)", "[10, 7, 4, 1]");
    EV("range(0)", "[]");
    EV("range(5, 1)", "[]");
    EV("range(1, 10, 0)", "ValueError: range: step must be a non-zero integer, got 0");
    EV("range(1.5)", "TypeError: range: start must be an integer, got 1.5");
    EV("range(100000000)", "ValueError: range: 100000000 items is too many for a list (the limit is 10000000)");
    EV("[round(2.5), round(3.5), round(-2.5), round(2.675, 2), round(1234.5, -2), round(7)]",
       "[2, 4, -2, 2.67, 1200.0, 7]");
    EV("round('x')", "TypeError: round: x must be a number, got 'x'");
    EV("round(1.5, 'a')", "TypeError: round: ndigits must be an integer, got 'a'");
    EV("sorted([3, 1, 2])", "[1, 2, 3]");
    EV("sorted(['b', 'c', 'a'], reverse=true)", "['c', 'b', 'a']");
    EV("sorted([1, 'a'])", "TypeError: sorted: the items cannot be compared with each other");
    EV("sorted(5)", "TypeError: sorted: items must be a list, got 5");

    /* math */
    EV("[sqrt(16), exp(0), log(1), log(8, 2), floor(-2.5), ceil(2.1), floor(3)]", "[4.0, 1.0, 0.0, 3.0, -3, 3, 3]");
    EV("sqrt(-1)", "ValueError: sqrt: x must be a number >= 0, got -1");
    EV("log(0)", "ValueError: log: x must be a number > 0, got 0");
    EV("log(2, 1)", "ValueError: log: base must be a number > 0 other than 1, got 1");
    EV("exp(1000)", "OverflowError: exp: the result is too large for a float");
    EV("floor(1e300)", "OverflowError: floor: 1e+300 does not fit in a 64-bit int");
    EV("ceil('a')", "TypeError: ceil: x must be a number, got 'a'");

    /* who / whos / vars */
    {
        ember_engine *e2 = ember_engine_new();
        CHECK_STR(eval_repr(e2, &io, "who()"), "");
        CHECK_STR(f.out, "No variables are defined.\n");
        fake_io_reset(&f);
        CHECK_STR(eval_repr(e2, &io, "alpha = 1; beta = 'two'; who()"), "");
        CHECK_STR(f.out, "alpha   beta\n");
        fake_io_reset(&f);
        CHECK_STR(eval_repr(e2, &io, "vars()"), "['alpha', 'beta']");
        CHECK_STR(eval_repr(e2, &io, "whos()"), "");
        CHECK_CONTAINS(f.out, "Variable   Type       Value\n");
        CHECK_CONTAINS(f.out, "alpha      int        1\n");
        CHECK_CONTAINS(f.out, "beta       str        'two'\n");
        fake_io_reset(&f);
        ember_engine_free(e2);
    }

    /* input */
    f.input_reply = "Ada";
    EV("name = input('Your name? '); 'hi ' + name", "'hi Ada'");
    CHECK_STR(f.last_prompt, "Your name? ");
    CHECK(f.last_password == 0);
    EV("input(password=true)", "'Ada'");
    CHECK(f.last_password == 1);
    f.input_reply = NULL;
    f.input_error = "input() is not available: allow_stdin is false for this request";
    EV("input('x')", "StdinNotImplementedError: input() is not available: allow_stdin is false for this request");
    EV("input(3)", "TypeError: input: prompt must be a string, got 3");
    {
        ember_io no_input = io;
        no_input.input = NULL;
        CHECK_STR(eval_repr(e, &no_input, "input()"),
                  "StdinNotImplementedError: input: this front end does not support input");
    }

    /* str methods */
    EV("'Hello \xc3\xa9 \xce\xb1 \xd0\xb6 \xc3\xb7'.upper()", "'HELLO \xc3\x89 \xce\x91 \xd0\x96 \xc3\xb7'");
    EV("'\xc3\x89" "COLE \xd0\x81'.lower()", "'\xc3\xa9" "cole \xd1\x91'");
    EV("'Hello'.lower()", "'hello'");
    EV("['  a b \\n'.strip(), 'xxaxx'.strip('x'), '  a '.lstrip(), '  a '.rstrip(), '\xc3\xa9" "a\xc3\xa9'.strip('\xc3\xa9')]",
       "['a b', 'a', 'a ', '  a', 'a']");
    EV("'a b  c'.split()", "['a', 'b', 'c']");
    EV("'a,b,,c'.split(',')", "['a', 'b', '', 'c']");
    EV("'a b c'.split(maxsplit=1)", "['a', 'b c']");
    EV("'a,b,c'.split(',', 1)", "['a', 'b,c']");
    EV("''.split()", "[]");
    EV("'a'.split('')", "ValueError: str.split: sep must be a non-empty string, got ''");
    EV("'aaa'.replace('a', 'b')", "'bbb'");
    EV("'aaa'.replace('a', 'b', 2)", "'bba'");
    EV("'ab'.replace('', '-')", "'-a-b-'");
    EV("'a'.replace(1, 'b')", "TypeError: str.replace: old must be a string, got 1");
    EV("['abc'.startswith('ab'), 'abc'.endswith('bc'), 'abc'.startswith('c'), 'a'.endswith('abc')]",
       "[true, true, false, false]");
    EV("', '.join(['a', 'b', 'c'])", "'a, b, c'");
    EV("''.join([])", "''");
    EV("'-'.join(['a', 1])", "TypeError: str.join: item 1 of the list is int, not a string (use str(x))");
    EV("'-'.join('ab')", "TypeError: str.join: items must be a list of strings, got 'ab'");
    EV("['h\xc3\xa9llo'.find('l'), 'abc'.find('z'), 'aaaa'.count('aa'), 'ab'.count('')]", "[2, -1, 2, 3]");
    EV("'{} + {} = {}'.format(1, 2.5, 'x')", "'1 + 2.5 = x'");
    EV("'{1}{0}{1}'.format('a', 'b')", "'bab'");
    EV("'loss {:.3f} acc {:.1%} n {:5d}|{:4}|{:<4}'.format(0.12345, 0.5, 42, 7, 'ab')",
       "ValueError: str.format: unsupported format spec '<4' (use [width][.precision][f|e|g|d|%|s])");
    EV("'loss {:.3f} acc {:.1%} n {:5d}|{:4}|{:4}|{:.2e}'.format(0.12345, 0.5, 42, 7, 'ab', 12345.0)",
       "'loss 0.123 acc 50.0% n    42|   7|ab  |1.23e+04'");
    EV("'{{}} {}'.format(1)", "'{} 1'");
    EV("'{}'.format()", "IndexError: str.format: field 0 has no argument (0 given)");
    EV("'{name}'.format(1)", "ValueError: str.format: only positional fields like {} or {0} are supported, got {name}");
    EV("'{'.format(1)", "ValueError: str.format: single '{' encountered in the format string");
    EV("'}'.format(1)", "ValueError: str.format: single '}' encountered in the format string");
    EV("'{} {0}'.format(1)", "ValueError: str.format: cannot mix {} and {0} fields");
    EV("'{:d}'.format(1.5)", "ValueError: str.format: format 'd' needs an int, got float");
    EV("'{:f}'.format('x')", "ValueError: str.format: format 'f' needs a number, got str");

    /* list methods */
    EV("[[1, 2, 3, 2].index(2), [1, 2, 2].count(2), [1, [2]].copy()]", "[1, 2, [1, [2]]]");
    EV("[1].index(5)", "ValueError: list.index: 5 is not in the list");
    EV("l = [1, 2]; m = l.copy(); m == l", "true");

    fake_io_free(&f);
    ember_engine_free(e);
    return test_finish("test_builtins");
}
