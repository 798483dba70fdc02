/* test_errors.c — every runtime error the evaluator raises: its ename, its
 * message and the line and column it points at; the traceback's shape
 * (header, "Cell In[N], line L", the source line, the caret line). */
#include "internal.h"
#include "lang_test.h"

int main(void)
{
    /* names */
    CHECK_ERR("pritn(1)", "NameError", "name 'pritn' is not defined. Did you mean 'print'?", 1, 1);
    CHECK_ERR("x = 1\ny = 2\nprint(x, yy + 1)", "NameError", "name 'yy' is not defined. Did you mean 'y'?", 3, 10);
    CHECK_ERR("totally_unknown", "NameError", "name 'totally_unknown' is not defined", 1, 1);
    CHECK_ERR("learning_rate = 1\nlearning_rat", "NameError",
              "name 'learning_rat' is not defined. Did you mean 'learning_rate'?", 2, 1);
    CHECK_ERR("lne([1])", "NameError", "name 'lne' is not defined. Did you mean 'len'?", 1, 1);

    /* arithmetic */
    CHECK_ERR("1 / 0", "ZeroDivisionError", "division by zero", 1, 1);
    CHECK_ERR("x = 5\nx // 0", "ZeroDivisionError", "integer division or modulo by zero", 2, 1);
    CHECK_ERR("5 % 0", "ZeroDivisionError", "integer division or modulo by zero", 1, 1);
    CHECK_ERR("1.0 / 0", "ZeroDivisionError", "float division by zero", 1, 1);
    CHECK_ERR("1.0 // 0.0", "ZeroDivisionError", "float floor division by zero", 1, 1);
    CHECK_ERR("1.0 % 0", "ZeroDivisionError", "float modulo by zero", 1, 1);
    CHECK_ERR("0 ** -1", "ZeroDivisionError", "0 cannot be raised to a negative power", 1, 1);
    CHECK_ERR("0.0 ** -1", "ZeroDivisionError", "0.0 cannot be raised to a negative power", 1, 1);
    CHECK_ERR("(-8.0) ** 0.5", "ValueError", "a negative number cannot be raised to a fractional power", 1, 1);
    CHECK_ERR("10.0 ** 400", "OverflowError", "float result of ** is too large", 1, 1);
    CHECK_ERR("1 + 9223372036854775807", "OverflowError",
              "integer overflow: 1 + 9223372036854775807 does not fit in 64 bits (use floats for large numbers)", 1, 1);
    CHECK_ERR("x = -9223372036854775807 - 1\nx - 1", "OverflowError",
              "integer overflow: -9223372036854775808 - 1 does not fit in 64 bits (use floats for large numbers)", 2, 1);
    CHECK_ERR("4611686018427387904 * 2", "OverflowError",
              "integer overflow: 4611686018427387904 * 2 does not fit in 64 bits (use floats for large numbers)", 1, 1);
    CHECK_ERR("x = -9223372036854775807 - 1\nx // -1", "OverflowError",
              "integer overflow: -9223372036854775808 // -1 does not fit in 64 bits (use floats for large numbers)", 2, 1);
    CHECK_ERR("x = -9223372036854775807 - 1\n-x", "OverflowError",
              "integer overflow: -(-9223372036854775808) does not fit in 64 bits", 2, 1);
    CHECK_ERR("2 ** 63", "OverflowError",
              "integer result of ** does not fit in 64 bits (use a float, e.g. 2.0 ** ...)", 1, 1);
    CHECK_ERR("1 + 'a'", "TypeError", "unsupported operand type(s) for +: 'int' and 'str'", 1, 1);
    CHECK_ERR("'a' + 1", "TypeError", "can only concatenate str (not \"int\") to str (use str(x))", 1, 1);
    CHECK_ERR("[1] + 'a'", "TypeError", "can only concatenate list (not \"str\") to list", 1, 1);
    CHECK_ERR("'a' * 'b'", "TypeError", "unsupported operand type(s) for *: 'str' and 'str'", 1, 1);
    CHECK_ERR("'a' * 2.0", "TypeError", "unsupported operand type(s) for *: 'str' and 'float'", 1, 1);
    CHECK_ERR("[1] - [1]", "TypeError", "unsupported operand type(s) for -: 'list' and 'list'", 1, 1);
    CHECK_ERR("none + 1", "TypeError", "unsupported operand type(s) for +: 'none' and 'int'", 1, 1);
    CHECK_ERR("-'a'", "TypeError", "bad operand type for unary -: 'str'", 1, 1);
    CHECK_ERR("+[1]", "TypeError", "bad operand type for unary +: 'list'", 1, 1);
    CHECK_ERR("'x' * 2000000000", "MemoryError", "the repeated string would be too large", 1, 1);
    CHECK_ERR("[1, 2] * 1000000000", "MemoryError", "the repeated list would be too large", 1, 1);
    CHECK_ERR("y = 2\n   y + (1 / 0)", "ZeroDivisionError", "division by zero", 2, 8);

    /* comparisons */
    CHECK_ERR("1 < 'a'", "TypeError", "'<' not supported between instances of 'int' and 'str'", 1, 1);
    CHECK_ERR("[1] >= 2", "TypeError", "'>=' not supported between instances of 'list' and 'int'", 1, 1);
    CHECK_ERR("[1, 'a'] < [1, 2]", "TypeError", "'<' not supported between instances of 'list' and 'list'", 1, 1);
    CHECK_ERR("none < none", "TypeError", "'<' not supported between instances of 'none' and 'none'", 1, 1);
    CHECK_ERR("1 in 'abc'", "TypeError", "'in <string>' requires a string as left operand, not int", 1, 1);
    CHECK_ERR("1 in 5", "TypeError", "argument of type 'int' is not a container (use a list or a string)", 1, 1);

    /* indexing */
    CHECK_ERR("l = [1, 2, 3]\nl[3]", "IndexError", "list index 3 out of range (the list has 3 items)", 2, 3);
    CHECK_ERR("[1][-2]", "IndexError", "list index -2 out of range (the list has 1 item)", 1, 5);
    CHECK_ERR("''[0]", "IndexError", "string index 0 out of range (the string has 0 characters)", 1, 4);
    CHECK_ERR("'h\xc3\xa9'[2]", "IndexError", "string index 2 out of range (the string has 2 characters)", 1, 6);
    CHECK_ERR("[1]['a']", "TypeError", "list indices must be integers, not str", 1, 5);
    CHECK_ERR("'abc'[1.0]", "TypeError", "str indices must be integers, not float", 1, 7);
    CHECK_ERR("5[0]", "TypeError", "'int' object is not subscriptable", 1, 1);
    CHECK_ERR("none[0]", "TypeError", "'none' object is not subscriptable", 1, 1);
    CHECK_ERR("5[1:2]", "TypeError", "'int' object cannot be sliced", 1, 1);
    CHECK_ERR("[1, 2][::0]", "ValueError", "slice step cannot be zero", 1, 10);
    CHECK_ERR("[1, 2]['a':]", "TypeError", "slice indices must be integers or none, not str", 1, 8);

    /* attributes */
    CHECK_ERR("'abc'.uper()", "AttributeError", "'str' object has no attribute 'uper'. Did you mean 'upper'?", 1, 7);
    CHECK_ERR("x = [1]\nx.cont", "AttributeError", "'list' object has no attribute 'cont'. Did you mean 'count'?", 2, 3);
    CHECK_ERR("(5).real", "AttributeError", "'int' object has no attribute 'real'", 1, 5);
    CHECK_ERR("print.x", "AttributeError", "'builtin' object has no attribute 'x'", 1, 7);

    /* calls */
    CHECK_ERR("x = 3\nx(1)", "TypeError", "'int' object is not callable", 2, 1);
    CHECK_ERR("'abc'()", "TypeError", "'str' object is not callable", 1, 1);
    CHECK_ERR("print(1, sepp='-')", "TypeError", "print() got an unexpected keyword argument 'sepp'. Did you mean 'sep'?", 1, 1);
    CHECK_ERR("print(1, colour='red')", "TypeError", "print() got an unexpected keyword argument 'colour'", 1, 1);
    CHECK_ERR("sleep()", "TypeError", "sleep() missing 1 required argument: 'seconds'", 1, 1);
    CHECK_ERR("update_display()", "TypeError", "update_display() missing 2 required arguments: 'value', 'display_id'", 1, 1);
    CHECK_ERR("len(1, 2)", "TypeError", "len() takes 1 positional argument but 2 were given", 1, 1);
    CHECK_ERR("type()", "TypeError", "type() missing 1 required argument: 'x'", 1, 1);
    CHECK_ERR("who(1)", "TypeError", "who() takes 0 positional arguments but 1 was given", 1, 1);
    CHECK_ERR("round(1.5, 2, 3)", "TypeError", "round() takes 2 positional arguments but 3 were given", 1, 1);
    CHECK_ERR("len(1, x=2)", "TypeError", "len() got multiple values for argument 'x'", 1, 1);
    CHECK_ERR("'a'.upper(1)", "TypeError", "str.upper() takes 0 positional arguments but 1 was given", 1, 1);
    CHECK_ERR("'a'.replace('a')", "TypeError", "str.replace() missing 1 required argument: 'new'", 1, 1);
    CHECK_ERR("  sleep('a')", "TypeError", "sleep: seconds must be a number >= 0, got 'a'", 1, 3);
    CHECK_ERR("sleep(-1)", "ValueError", "sleep: seconds must be a number >= 0, got -1", 1, 1);
    CHECK_ERR("x = 1\nprint(x,\n  len(5))", "TypeError", "object of type 'int' has no len()", 3, 3);
    /* an error inside an argument points at the argument */
    CHECK_ERR("print(1, 2 / 0)", "ZeroDivisionError", "division by zero", 1, 10);

    /* state intact after errors: the first statements ran, the failing one bound nothing */
    {
        lang_state *st = lang_state_new();
        err_info ei;
        CHECK(!run_err_on(st, "a = 1\nb = [1, 2]", &ei));
        CHECK(run_err_on(st, "a = 2\nb = b + undefined_thing\nc = 3", &ei));
        CHECK(lang_state_get(st, "a")->as.i == 2);
        CHECK(lang_state_get(st, "b")->kind == LANG_LIST && lang_state_get(st, "b")->as.list.len == 2);
        CHECK(lang_state_get(st, "c") == NULL);
        lang_state_free(st);
    }

    /* traceback shape */
    {
        ember_engine *e = ember_engine_new();
        ember_io io;
        fake_io f;
        fake_io_init(&f, &io);
        ember_exec_options opt = {.execution_count = 7};
        ember_exec_result r;
        const char *cell = "x = 1\ny = 2\nz = 'h\xc3\xa9' + pritn(x)\nw = 4";
        ember_execute(e, cell, strlen(cell), &opt, &io, &r);
        CHECK(!r.ok);
        CHECK_STR(r.ename, "NameError");
        CHECK_STR(r.evalue, "name 'pritn' is not defined. Did you mean 'print'?");
        CHECK(json_array_size(r.traceback) == 3);
        const char *where = json_string_value(json_array_get(r.traceback, 1));
        CHECK_CONTAINS(where, "Cell In[7]");
        CHECK_CONTAINS(where, ", line 3\n");
        CHECK_CONTAINS(where, "1\x1b[0m x = 1\n");
        CHECK_CONTAINS(where, "----> 3\x1b[0m z = 'h\xc3\xa9' + pritn(x)\n");
        /* the caret sits under column 12 (code points), as wide as the name */
        CHECK_CONTAINS(where, "\n" "        " "           " "\x1b[1;31m^^^^^\x1b[0m");
        CHECK_CONTAINS(json_string_value(json_array_get(r.traceback, 2)), "NameError");
        CHECK_CONTAINS(json_string_value(json_array_get(r.traceback, 2)), "Did you mean 'print'?");
        ember_exec_result_clear(&r);
        /* syntax errors have the same shape */
        ember_execute(e, "a = )", strlen("a = )"), &opt, &io, &r);
        CHECK(!r.ok);
        CHECK_STR(r.ename, "SyntaxError");
        CHECK_STR(r.evalue, "unmatched ')'");
        CHECK_CONTAINS(json_string_value(json_array_get(r.traceback, 1)), "----> 1\x1b[0m a = )\n            \x1b[1;31m^");
        ember_exec_result_clear(&r);
        /* error at the very end of the cell */
        ember_execute(e, "x = [1,\n", strlen("x = [1,\n"), &opt, &io, &r);
        CHECK_STR(r.ename, "SyntaxError");
        CHECK_STR(r.evalue, "'[' was never closed");
        ember_exec_result_clear(&r);
        fake_io_free(&f);
        ember_engine_free(e);
    }
    return test_finish("test_errors");
}
