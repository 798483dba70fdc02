/* test_is_complete.c — is_complete_request: complete, incomplete (with
 * its indent) and invalid, following Python's codeop where the cases
 * overlap. */
#include "lang_test.h"

static char ind[32];

static void check(const char *code, const char *want, const char *want_indent, int line)
{
    ind[0] = 'X';
    ind[1] = 0;
    const char *got = ember_is_complete(NULL, code, strlen(code), ind, sizeof ind);
    test_checks++;
    if (strcmp(got, want) || (!strcmp(want, "incomplete") && strcmp(ind, want_indent))) {
        test_failures++;
        fprintf(stderr, "test_is_complete.c:%d: %s -> %s '%s', want %s '%s'\n", line, code, got, ind, want,
                want_indent);
    }
}
#define C(code) check(code, "complete", "", __LINE__)
#define INC(code, indent) check(code, "incomplete", indent, __LINE__)
#define INV(code) check(code, "invalid", "", __LINE__)

int main(void)
{
    C("");
    C("1 + 2");
    C("x = 1\nprint(x)");
    C("print(1,\n  2)");
    C("x = '''a\nb'''");
    C("# just a comment");
    C("x = 1;");
    C("1 + \\\n 2");
    C("undefined_name(3)");
    C("f = 3 # (c");
    C("print?");
    C("?print");
    C("s.upper??");
    C("x = [1,\n     2]"); /* a runtime error is still complete */

    INC("print(1,", "    ");
    INC("print(1,\n", "    ");
    INC("x = [1, 2", "    ");
    INC("f(a, [b,\n  c", "    ");
    INC("x = (1 +", "    ");
    INC("s = '''abc", "");
    INC("s = \"\"\"abc\ndef", "");
    INC("print('''x''',", "    ");
    INC("1 + \\", "");
    INC("x = 1 + \\\n", "");
    INC("'abc\\", "");
    INC("z = max(1,\n  2,", "    ");
    INC("x = [1,\n 2", "    ");

    INV("a = )");
    INV(")");
    INV("1 +* 2");
    INV("1 +");           /* as Python: a trailing operator outside brackets */
    INV("x =");
    INV("print(1 +* 2,"); /* an error before the open bracket's end cannot be fixed */
    INV("(1]");
    INV("print('abc");    /* a one-line string cannot continue on the next line */
    INV("x = 'abc\ny = 1");
    INV("for x in y:");
    INV("f(a=1, 2,");
    INV("1 $ 2");
    INV("x = \xff");
    INV("1 \\ 2");
    INV("[1 2,");
    INV("x.(");
    INV("1?");
    INV("print(?");
    INV("]");
    INV("x = )");

    /* indent is always written, even when tiny */
    char small[1] = {'Z'};
    CHECK_STR(ember_is_complete(NULL, "f(", strlen("f("), small, sizeof small), "incomplete");
    CHECK(small[0] == 0);
    CHECK_STR(ember_is_complete(NULL, NULL, 0, NULL, 0), "complete");
    return test_finish("test_is_complete");
}
