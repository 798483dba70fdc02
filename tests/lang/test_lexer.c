/* test_lexer.c — tokens of every kind, string escapes, numbers, and every
 * lexer error with its position. */
#include "internal.h"
#include "lang_test.h"

static lex_result lr;
static lex_error le;

static int lex_ok(const char *src)
{
    lex_free(&lr);
    return lex(src, strlen(src), 0, &lr, &le) == 0;
}

static void lex_err(const char *src, const char *msg, int line, int col, int incomplete, int at)
{
    lex_free(&lr);
    int rc = lex(src, strlen(src), 0, &lr, &le);
    int l = 0, c = 0;
    if (rc < 0)
        src_line_col(src, le.pos, &l, &c);
    test_checks++;
    if (rc == 0 || strcmp(le.msg, msg) || l != line || c != col || le.incomplete != incomplete) {
        test_failures++;
        fprintf(stderr, "test_lexer.c:%d: lexing %s\n  got  rc=%d '%s' at %d:%d incomplete=%d\n  want '%s' at %d:%d incomplete=%d\n",
                at, src, rc, le.msg, l, c, le.incomplete, msg, line, col, incomplete);
    }
}
#define LEX_ERR(src, msg, l, c, inc) lex_err(src, msg, l, c, inc, __LINE__)

int main(void)
{
    /* kinds and positions */
    CHECK(lex_ok("x = foo(1, 2.5) # comment\n"));
    CHECK(lr.n == 10);
    CHECK(lr.toks[0].kind == T_NAME && lr.toks[0].pos == 0 && lr.toks[0].end == 1);
    CHECK(lr.toks[1].kind == T_OP && lr.toks[1].op == OP_ASSIGN);
    CHECK(lr.toks[2].kind == T_NAME && lr.toks[2].pos == 4 && lr.toks[2].end == 7);
    CHECK(lr.toks[3].op == OP_LPAR);
    CHECK(lr.toks[4].kind == T_INT && lr.toks[4].ival == 1);
    CHECK(lr.toks[5].op == OP_COMMA);
    CHECK(lr.toks[6].kind == T_FLOAT && lr.toks[6].fval == 2.5);
    CHECK(lr.toks[7].op == OP_RPAR);
    CHECK(lr.toks[8].kind == T_NEWLINE);
    CHECK(lr.toks[9].kind == T_EOF);

    /* operators, longest match first */
    CHECK(lex_ok("a**b//c==d!=e<=f>=g<h>i%j"));
    int want_ops[] = {OP_POW, OP_DSLASH, OP_EQ, OP_NE, OP_LE, OP_GE, OP_LT, OP_GT, OP_PERCENT};
    for (int k = 0; k < 9; k++)
        CHECK(lr.toks[2 * k + 1].kind == T_OP && lr.toks[2 * k + 1].op == want_ops[k]);

    /* newlines inside brackets do not end statements; ';' is its own token */
    CHECK(lex_ok("f(1,\n  2)\nx; y"));
    int nl = 0, semi = 0;
    for (size_t i = 0; i < lr.n; i++) {
        nl += lr.toks[i].kind == T_NEWLINE;
        semi += lr.toks[i].kind == T_SEMI;
    }
    CHECK(nl == 1 && semi == 1);
    /* line continuation */
    CHECK(lex_ok("1 + \\\n 2"));
    CHECK(lr.n == 4 && lr.toks[2].ival == 2);

    /* numbers */
    CHECK(lex_ok("3 3e-4 0.1 1_000 .5 1. 0x1F 0o17 0b101 0 00 1E3 9223372036854775807"));
    CHECK(lr.toks[0].kind == T_INT && lr.toks[0].ival == 3);
    CHECK(lr.toks[1].kind == T_FLOAT && lr.toks[1].fval == 3e-4);
    CHECK(lr.toks[2].kind == T_FLOAT && lr.toks[2].fval == 0.1);
    CHECK(lr.toks[3].kind == T_INT && lr.toks[3].ival == 1000);
    CHECK(lr.toks[4].kind == T_FLOAT && lr.toks[4].fval == 0.5);
    CHECK(lr.toks[5].kind == T_FLOAT && lr.toks[5].fval == 1.0);
    CHECK(lr.toks[6].ival == 31 && lr.toks[7].ival == 15 && lr.toks[8].ival == 5);
    CHECK(lr.toks[9].ival == 0 && lr.toks[10].ival == 0);
    CHECK(lr.toks[11].kind == T_FLOAT && lr.toks[11].fval == 1000.0);
    CHECK(lr.toks[12].ival == INT64_MAX);

    /* strings and escapes */
    CHECK(lex_ok("'a\\n\\t\\\\\\'' \"q\\\"\" '\\x41\\u00e9\\U0001F600' '\\101' r'\\n' 'x\\qy' '''multi\nline''' \"\""));
    CHECK_STR(lr.toks[0].sval, "a\n\t\\'");
    CHECK_STR(lr.toks[1].sval, "q\"");
    CHECK_STR(lr.toks[2].sval, "A\xc3\xa9\xf0\x9f\x98\x80");
    CHECK_STR(lr.toks[3].sval, "A");
    CHECK_STR(lr.toks[4].sval, "\\n");
    CHECK_STR(lr.toks[5].sval, "x\\qy");
    CHECK_STR(lr.toks[6].sval, "multi\nline");
    CHECK(lr.toks[7].kind == T_STR && lr.toks[7].slen == 0);
    CHECK(lex_ok("'h\xc3\xa9llo'"));
    CHECK(lr.toks[0].slen == 6);
    CHECK(lex_ok("'a\\\nb'")); /* backslash-newline inside a string joins lines */
    CHECK_STR(lr.toks[0].sval, "ab");

    /* errors, with positions */
    LEX_ERR("x = 'abc", "unterminated string literal (detected at line 1)", 1, 5, 0);
    LEX_ERR("x = 'abc\ny = 1", "unterminated string literal (detected at line 1)", 1, 5, 0);
    LEX_ERR("s = '''abc\n", "unterminated triple-quoted string literal (detected at line 2)", 1, 5, 1);
    LEX_ERR("print(1,", "'(' was never closed", 1, 6, 1);
    LEX_ERR("x = [1,\n (2", "'(' was never closed", 2, 2, 1);
    LEX_ERR("a = )", "unmatched ')'", 1, 5, 0);
    LEX_ERR("(1]", "closing parenthesis ']' does not match opening parenthesis '('", 1, 3, 0);
    LEX_ERR("(1,\n2]", "closing parenthesis ']' does not match opening parenthesis '(' on an earlier line", 2, 2, 0);
    LEX_ERR("x = 1 $ 2", "invalid syntax: '$' is not an Ember operator", 1, 7, 0);
    LEX_ERR("\xc3\xa9 = 1", "invalid character '\xc3\xa9' (U+00E9)", 1, 1, 0);
    LEX_ERR("x = \xff", "invalid UTF-8 in the source (byte 0xFF)", 1, 5, 0);
    LEX_ERR("1 + \\", "unexpected end of input after line continuation character", 1, 5, 1);
    LEX_ERR("1 + \\ 2", "unexpected character after line continuation character", 1, 5, 0);
    LEX_ERR("x = 12abc", "invalid decimal literal", 1, 5, 0);
    LEX_ERR("x = 1e", "invalid decimal literal", 1, 5, 0);
    LEX_ERR("x = 0xg", "invalid hexadecimal literal", 1, 5, 0);
    LEX_ERR("007", "leading zeros in decimal integer literals are not permitted", 1, 1, 0);
    LEX_ERR("9223372036854775808",
            "integer literal too large (ints are 64-bit; write it as a float, e.g. 9223372036854775808e0)", 1, 1, 0);
    LEX_ERR("0xFFFFFFFFFFFFFFFFF", "integer literal too large (ints are 64-bit)", 1, 1, 0);
    LEX_ERR("'\\x4'", "truncated \\x escape: it needs 2 hex digits", 1, 2, 0);
    LEX_ERR("'\\ud800'", "\\u escape: U+D800 is not a valid code point", 1, 2, 0);
    LEX_ERR("f'{x}'", "f-strings are not supported in Ember (use str.format or +)", 1, 1, 0);
    LEX_ERR("b'x'", "bytes-strings are not supported in Ember (use str.format or +)", 1, 1, 0);
    /* bracket nesting is bounded */
    char deep[600];
    memset(deep, '(', 300);
    deep[300] = 0;
    LEX_ERR(deep, "too many nested parentheses (the limit is 200)", 1, 201, 0);

    /* tolerant mode: stops quietly at an open string or bracket */
    lex_free(&lr);
    CHECK(lex("print('ab", 9, 1, &lr, &le) == 0 && lr.in_string == 1 && lr.depth == 1);
    lex_free(&lr);
    CHECK(lex("f(a, [b", 7, 1, &lr, &le) == 0 && lr.depth == 2 && lr.open_ops[1] == OP_LSQB);
    lex_free(&lr);
    return test_finish("test_lexer");
}
