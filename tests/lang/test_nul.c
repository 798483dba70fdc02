/* test_nul.c — a NUL character in a cell (JSON lets a front end send
 * U+0000): inside a string literal it is a character of the str value, in
 * every builtin that takes text with its length; anywhere else it is a
 * SyntaxError that says so; and no API that takes source text stops at it
 * or reads past the text (ASan and valgrind runs check the latter). */
#include "internal.h"
#include "lang_test.h"

static ember_engine *e;
static ember_io io;
static fake_io f;

/* Source text written with "\0": its length is the literal's, not strlen's. */
#define SRC(lit) (lit), (sizeof(lit) - 1)
#define EVN(lit, want) CHECK_STR(eval_repr_n(e, &io, SRC(lit)), want)

static void lex_nul(const char *src, size_t n, size_t want_pos)
{
    lex_result lr;
    lex_error le;
    CHECK(lex(src, n, 0, &lr, &le) < 0);
    CHECK_CONTAINS(le.msg, "NUL (U+0000) can only appear inside a string literal");
    CHECK(le.pos == want_pos);
    CHECK(!le.incomplete);
    lex_free(&lr);
}

int main(void)
{
    e = ember_engine_new();
    CHECK(e != NULL);
    fake_io_init(&f, &io);

    /* the lexer: in a string literal, the NUL is kept in the token's value */
    {
        lex_result lr;
        lex_error le;
        CHECK(lex(SRC("'a\0b'"), 0, &lr, &le) == 0);
        CHECK(lr.toks[0].kind == T_STR && lr.toks[0].slen == 3 &&
              memcmp(lr.toks[0].sval, "a\0b", 3) == 0);
        lex_free(&lr);
        CHECK(lex(SRC("'''x\0\ny'''"), 0, &lr, &le) == 0);
        CHECK(lr.toks[0].kind == T_STR && lr.toks[0].slen == 4);
        lex_free(&lr);
        CHECK(lex(SRC("r'\\\0'"), 0, &lr, &le) == 0);
        CHECK(lr.toks[0].kind == T_STR && lr.toks[0].slen == 2 && lr.toks[0].sval[1] == 0);
        lex_free(&lr);
    }
    /* ...and anywhere else it is an error at the NUL, not "invalid syntax"
     * with a message cut short at a NUL byte */
    lex_nul(SRC("x = 1\0"), 5);
    lex_nul(SRC("\0"), 0);
    lex_nul(SRC("len(\0'a')"), 4);
    lex_nul(SRC("x = 1 # a comment \0 here"), 18);
    lex_nul(SRC("x = 1\n\0"), 6);

    /* the value: len counts it, repr shows it, operations keep it */
    EVN("len('a\0b')", "3");
    EVN("'a\0b'", "'a\\x00b'");
    EVN("'a\\0b' == 'a\0b'", "true");
    EVN("len('a\0b' + '\0')", "4");
    EVN("len('\0' * 3)", "3");
    EVN("'\0' in 'a\0b'", "true");
    EVN("'a\0b'.find('b')", "2");
    EVN("'a\0b'.find('\0')", "1");
    EVN("'a\0b\0c'.count('\0')", "2");
    EVN("'a\0b'.replace('\0', '-')", "'a-b'");
    EVN("'x'.replace('x', 'y\0z')", "'y\\x00z'");
    EVN("'a\0b'.startswith('a\0')", "true");
    EVN("'a\0b'.endswith('\0b')", "true");
    EVN("'a\0b'.split('\0')", "['a', 'b']");
    EVN("'\0'.join(['a', 'b'])", "'a\\x00b'");
    EVN("'a\0b'[1]", "'\\x00'");
    EVN("'a\0b'[1:]", "'\\x00b'");
    EVN("len(str('a\0b'))", "3");
    EVN("len('{}'.format('a\0b'))", "3");
    EVN("len('{:5}'.format('a\0b'))", "5");
    EVN("repr('a\0b')", "\"'a\\\\x00b'\"");

    /* print writes every character, NUL included */
    fake_io_reset(&f);
    EVN("print('a\0b', 'c', sep='\0', end='\0\\n')", "");
    CHECK(f.out_len == 7 && memcmp(f.out, "a\0b\0c\0\n", 7) == 0);

    /* a NUL is not white space to int() and float() */
    EVN("int(' 5 ')", "5");
    EVN("int('\0 5')", "ValueError: invalid literal for int() with base 10: '\\x00 5'");
    EVN("int('5\0')", "ValueError: invalid literal for int() with base 10: '5\\x00'");
    EVN("float('1.5\0')", "ValueError: could not convert string to float: '1.5\\x00'");
    EVN("float('1.5\0x')", "ValueError: could not convert string to float: '1.5\\x00x'");

    /* a text used as a C string (a path, a name, an id) refuses the NUL
     * instead of being cut short */
    EVN("print('x', file='stdout\0')",
        "ValueError: print: file must be a string without NUL characters, got 'stdout\\x00'");
    EVN("display(1, display_id='a\0b')",
        "ValueError: display: display_id must be a string without NUL characters, got 'a\\x00b'");
    EVN("update_display(1, 'a\0b')",
        "ValueError: update_display: display_id must be a string without NUL characters, got 'a\\x00b'");

    /* a NUL outside a literal is a SyntaxError pointing at it */
    {
        cell c;
        run_cell_n(e, &io, SRC("x = 1\nlen(\0'ab')"), &c);
        CHECK(!c.r.ok);
        CHECK_STR(c.r.ename, "SyntaxError");
        CHECK_CONTAINS(c.r.evalue, "a NUL (U+0000) can only appear inside a string literal");
        /* the echoed line shows the NUL as a visible, one-column picture, so
         * the caret under it stays aligned */
        const char *tb = json_string_value(json_array_get(c.r.traceback, 1));
        CHECK_CONTAINS(tb, "----> 2\x1b[0m len(\xe2\x90\x80'ab')\n");
        CHECK_CONTAINS(tb, "\n" "        " "    " "\x1b[1;31m^\x1b[0m");
        ember_exec_result_clear(&c.r);
    }
    /* nothing was bound by a cell that failed to parse */
    EVN("x", "NameError: name 'x' is not defined");
    /* name? help syntax: a NUL is no white space around the name */
    {
        cell c;
        run_cell_n(e, &io, SRC("\0len?"), &c);
        CHECK(!c.r.ok && strcmp(c.r.ename, "SyntaxError") == 0);
        CHECK(json_array_size(c.r.payload) == 0);
        ember_exec_result_clear(&c.r);
    }

    /* user expressions, is_complete, completion and inspection take the
     * whole text too */
    {
        json_t *r = ember_user_expression(e, SRC("len('a\0b')"), &io);
        CHECK_STR(json_string_value(json_object_get(json_object_get(r, "data"), "text/plain")), "3");
        json_decref(r);
        r = ember_user_expression(e, SRC("1\0"), &io);
        CHECK_STR(json_string_value(json_object_get(r, "ename")), "SyntaxError");
        json_decref(r);
        char ind[16];
        CHECK_STR(ember_is_complete(e, SRC("len('a\0b')"), ind, sizeof ind), "complete");
        CHECK_STR(ember_is_complete(e, SRC("x = \0"), ind, sizeof ind), "invalid");
        CHECK_STR(ember_is_complete(e, SRC("f('\0',"), ind, sizeof ind), "incomplete");
        /* cursor after "'a\0b'; le" (10 code points): completion of "le" */
        r = ember_complete(e, SRC("'a\0b'; le"), 9);
        CHECK(json_integer_value(json_object_get(r, "cursor_start")) == 7);
        int has_len = 0;
        for (size_t i = 0; i < json_array_size(json_object_get(r, "matches")); i++)
            has_len |= !strcmp(json_string_value(json_array_get(json_object_get(r, "matches"), i)), "len");
        CHECK(has_len);
        json_decref(r);
        r = ember_inspect(e, SRC("'\0'; len("), 8, 0);
        CHECK(json_is_true(json_object_get(r, "found")));
        json_decref(r);
        /* the cursor past a NUL in the middle of the text */
        r = ember_complete(e, SRC("x\0y = pri"), 9);
        CHECK(r != NULL);
        json_decref(r);
        r = ember_inspect(e, SRC("\0\0\0"), 2, 1);
        CHECK(r != NULL);
        json_decref(r);
    }

    fake_io_free(&f);
    ember_engine_free(e);
    return test_finish("test_nul");
}
