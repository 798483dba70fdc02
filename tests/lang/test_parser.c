/* test_parser.c — the syntax tree's shape (precedence, associativity,
 * calls, attributes, slices), statements and ';', and every parse error
 * with its line and column. */
#include "internal.h"
#include "lang_test.h"

/* A compact rendering of a tree: (op a b), call(f a k=b) ... */
static void show(strbuf *b, const node *n)
{
    if (!n) {
        sb_adds(b, "_");
        return;
    }
    switch (n->kind) {
    case N_INT: sb_addf(b, "%lld", (long long)n->ival); break;
    case N_FLOAT: sb_addf(b, "%g", n->fval); break;
    case N_STR: sb_addf(b, "'%s'", n->s); break;
    case N_NONE: sb_adds(b, "none"); break;
    case N_TRUE: sb_adds(b, "true"); break;
    case N_FALSE: sb_adds(b, "false"); break;
    case N_NAME: sb_adds(b, n->s); break;
    case N_LIST:
        sb_adds(b, "[");
        for (size_t i = 0; i < n->nkids; i++) {
            if (i)
                sb_adds(b, " ");
            show(b, n->kids[i]);
        }
        sb_adds(b, "]");
        break;
    case N_CALL:
        sb_adds(b, "call(");
        for (size_t i = 0; i < n->nkids; i++) {
            if (i)
                sb_adds(b, " ");
            if (n->kw[i])
                sb_addf(b, "%s=", n->kw[i]);
            show(b, n->kids[i]);
        }
        sb_adds(b, ")");
        break;
    case N_ATTR:
        show(b, n->kids[0]);
        sb_addf(b, ".%s", n->s);
        break;
    case N_INDEX:
        sb_adds(b, "idx(");
        show(b, n->kids[0]);
        sb_adds(b, " ");
        show(b, n->kids[1]);
        sb_adds(b, ")");
        break;
    case N_SLICE:
        sb_adds(b, "slice(");
        for (int i = 0; i < 4; i++) {
            if (i)
                sb_adds(b, " ");
            show(b, n->kids[i]);
        }
        sb_adds(b, ")");
        break;
    case N_UNARY:
        sb_addf(b, "(u%s ", op_text(n->op));
        show(b, n->kids[0]);
        sb_adds(b, ")");
        break;
    case N_NOT:
        sb_adds(b, "(not ");
        show(b, n->kids[0]);
        sb_adds(b, ")");
        break;
    case N_BINARY: case N_AND: case N_OR:
        sb_addf(b, "(%s ", op_text(n->op));
        show(b, n->kids[0]);
        sb_adds(b, " ");
        show(b, n->kids[1]);
        sb_adds(b, ")");
        break;
    case N_COMPARE:
        sb_adds(b, "(cmp ");
        show(b, n->kids[0]);
        for (size_t i = 1; i < n->nkids; i++) {
            sb_addf(b, " %s ", op_text(n->ops[i - 1]));
            show(b, n->kids[i]);
        }
        sb_adds(b, ")");
        break;
    case N_IFEXP:
        sb_adds(b, "(if ");
        show(b, n->kids[1]);
        sb_adds(b, " ");
        show(b, n->kids[0]);
        sb_adds(b, " ");
        show(b, n->kids[2]);
        sb_adds(b, ")");
        break;
    }
}

static char shown[4096];
static const char *tree(const char *src)
{
    program p;
    parse_error pe;
    if (parse_program(src, strlen(src), &p, &pe) < 0) {
        snprintf(shown, sizeof shown, "error: %s", pe.msg);
        return shown;
    }
    strbuf b = {0};
    for (size_t i = 0; i < p.n; i++) {
        if (i)
            sb_adds(&b, " | ");
        if (p.stmts[i].name)
            sb_addf(&b, "%s = ", p.stmts[i].name);
        show(&b, p.stmts[i].expr);
    }
    if (p.suppress)
        sb_adds(&b, " ;");
    char *s = sb_take(&b);
    snprintf(shown, sizeof shown, "%s", s ? s : "");
    free(s);
    program_free(&p);
    return shown;
}

int main(void)
{
    /* precedence and associativity */
    CHECK_STR(tree("1 + 2 * 3"), "(+ 1 (* 2 3))");
    CHECK_STR(tree("(1 + 2) * 3"), "(* (+ 1 2) 3)");
    CHECK_STR(tree("1 - 2 - 3"), "(- (- 1 2) 3)");
    CHECK_STR(tree("2 ** 3 ** 2"), "(** 2 (** 3 2))");
    CHECK_STR(tree("-2 ** 2"), "(u- (** 2 2))");
    CHECK_STR(tree("2 ** -1"), "(** 2 (u- 1))");
    CHECK_STR(tree("a * b // c % d / e"), "(/ (% (// (* a b) c) d) e)");
    CHECK_STR(tree("-a + +b"), "(+ (u- a) (u+ b))");
    CHECK_STR(tree("not a == b"), "(not (cmp a == b))");
    CHECK_STR(tree("a or b and not c"), "(or a (and b (not c)))");
    CHECK_STR(tree("a < b <= c != d"), "(cmp a < b <= c != d)");
    CHECK_STR(tree("x in l and y not in l"), "(and (cmp x in l) (cmp y not in l))");
    CHECK_STR(tree("1 + 2 < 3 * 4"), "(cmp (+ 1 2) < (* 3 4))");
    CHECK_STR(tree("a if c else b"), "(if c a b)");
    CHECK_STR(tree("a if c else b if d else e"), "(if c a (if d b e))");
    /* primaries */
    CHECK_STR(tree("f(1, b=2)"), "call(f 1 b=2)");
    CHECK_STR(tree("f()"), "call(f)");
    CHECK_STR(tree("f(1,)"), "call(f 1)");
    CHECK_STR(tree("a.b.c(1)[2]"), "idx(call(a.b.c 1) 2)");
    CHECK_STR(tree("x[1:2]"), "slice(x 1 2 _)");
    CHECK_STR(tree("x[::-1]"), "slice(x _ _ (u- 1))");
    CHECK_STR(tree("x[:]"), "slice(x _ _ _)");
    CHECK_STR(tree("[1, [2, 3], 'a',]"), "[1 [2 3] 'a']");
    CHECK_STR(tree("[]"), "[]");
    CHECK_STR(tree("'a' 'b'"), "'ab'");
    CHECK_STR(tree("True, False"), "error: invalid syntax");
    CHECK_STR(tree("True; None; false"), "true | none | false");
    /* statements */
    CHECK_STR(tree("x = 1\ny = x + 1\ny"), "x = 1 | y = (+ x 1) | y");
    CHECK_STR(tree("x = 1; x"), "x = 1 | x");
    CHECK_STR(tree("x;"), "x ;");
    CHECK_STR(tree("x;  # quiet\n\n"), "x ;");
    CHECK_STR(tree("x; y"), "x | y");
    CHECK_STR(tree("# only a comment\n"), "");
    CHECK_STR(tree(""), "");
    CHECK_STR(tree("f(1,\n  2)\n"), "call(f 1 2)");
    CHECK_STR(tree("   x = 1"), "x = 1");

    /* errors and their positions */
    CHECK_ERR("1 +* 2", "SyntaxError", "invalid syntax", 1, 4);
    CHECK_ERR("a = ", "SyntaxError", "invalid syntax: the expression is not finished", 1, 5);
    CHECK_ERR("1 +", "SyntaxError", "invalid syntax: the expression is not finished", 1, 4);
    CHECK_ERR("x = 1\ny = (2 +\n)", "SyntaxError", "invalid syntax", 3, 1);
    CHECK_ERR("f(a=1, 2)", "SyntaxError", "positional argument follows keyword argument", 1, 8);
    CHECK_ERR("f(a=1, a=2)", "SyntaxError", "keyword argument repeated: a", 1, 8);
    CHECK_ERR("f(true=1)", "SyntaxError", "invalid syntax: 'true' cannot be a keyword argument", 1, 3);
    CHECK_ERR("f(*x)", "SyntaxError", "invalid syntax: '*' unpacking is not supported in calls", 1, 3);
    CHECK_ERR("f(1 2)", "SyntaxError", "invalid syntax: expected ',' or ')' (perhaps you forgot a comma?)", 1, 5);
    CHECK_ERR("[1 2]", "SyntaxError", "invalid syntax: expected ',' or ']' (perhaps you forgot a comma?)", 1, 4);
    CHECK_ERR("x[]", "SyntaxError", "invalid syntax: an index is needed between '[' and ']'", 1, 3);
    CHECK_ERR("x[1, 2]", "SyntaxError", "invalid syntax: only one index is supported (x[i], or a slice x[a:b])", 1, 4);
    CHECK_ERR("x[1:2:3:4]", "SyntaxError", "invalid syntax: too many ':' in a slice", 1, 8);
    CHECK_ERR("x.", "SyntaxError", "invalid syntax: expected an attribute name after '.'", 1, 3);
    CHECK_ERR("x.(1)", "SyntaxError", "invalid syntax: expected an attribute name after '.'", 1, 3);
    CHECK_ERR("()", "SyntaxError", "invalid syntax: '()' is empty (tuples are not supported)", 1, 1);
    CHECK_ERR("(1, 2)", "SyntaxError", "invalid syntax: tuples are not supported (use a list [a, b])", 1, 3);
    CHECK_ERR("{1: 2}", "SyntaxError", "invalid syntax: dictionaries and sets are not supported", 1, 1);
    CHECK_ERR("a if b", "SyntaxError", "invalid syntax: expected 'else' after 'if' condition", 1, 7);
    CHECK_ERR("a is b", "SyntaxError", "'is' is not supported in Ember: use == or !=", 1, 3);
    CHECK_ERR("for x in y", "SyntaxError",
              "'for' is not part of Ember's language (a statement is `name = expression` or an expression)", 1, 1);
    CHECK_ERR("import os", "SyntaxError",
              "'import' is not part of Ember's language (a statement is `name = expression` or an expression)", 1, 1);
    CHECK_ERR("true = 1", "SyntaxError", "cannot assign to 'true': it is a keyword", 1, 1);
    CHECK_ERR("def = 1", "SyntaxError", "cannot assign to 'def': it is a keyword", 1, 1);
    CHECK_ERR("a = b = 1", "SyntaxError", "invalid syntax: chained assignment (a = b = 1) is not supported", 1, 7);
    CHECK_ERR("a.b = 1", "SyntaxError", "cannot assign to an expression here: only `name = expression` is supported", 1, 5);
    CHECK_ERR("1 = 2", "SyntaxError", "cannot assign to an expression here: only `name = expression` is supported", 1, 3);
    CHECK_ERR("print 1", "SyntaxError", "invalid syntax (perhaps a missing operator or comma?)", 1, 7);
    CHECK_ERR("; x", "SyntaxError", "invalid syntax: ';' must follow a statement", 1, 1);
    CHECK_ERR("x;;", "SyntaxError", "invalid syntax: ';' must follow a statement", 1, 3);
    CHECK_ERR("x\n)", "SyntaxError", "unmatched ')'", 2, 1);
    CHECK_ERR("x = 1 2", "SyntaxError", "invalid syntax", 1, 7);
    CHECK_ERR("not", "SyntaxError", "invalid syntax: the expression is not finished", 1, 4);
    CHECK_ERR("x = (1 +\n", "SyntaxError", "'(' was never closed", 1, 5);
    /* columns count code points */
    CHECK_ERR("s = 'h\xc3\xa9' +* 1", "SyntaxError", "invalid syntax", 1, 11);

    /* nesting limits give clean errors, never a stack overflow */
    {
        size_t n = 200000;
        char *big = malloc(2 * n + 2);
        for (size_t i = 0; i < n; i++)
            big[i] = '-';
        big[n] = '1';
        big[n + 1] = 0;
        err_info ei;
        CHECK(run_err(big, &ei) && !strcmp(ei.ename, "SyntaxError"));
        CHECK_CONTAINS(ei.msg, "expression too deeply nested");
        for (size_t i = 0; i < n; i++) {
            big[2 * i] = '1';
            big[2 * i + 1] = '+';
        }
        big[2 * n - 1] = 0;
        CHECK(run_err(big, &ei) && !strcmp(ei.ename, "SyntaxError"));
        CHECK_CONTAINS(ei.msg, "expression too deeply nested");
        char *nots = malloc(5000 * 4 + 2);
        nots[0] = 0;
        for (size_t i = 0; i < 5000; i++)
            memcpy(nots + i * 4, "not ", 4);
        strcpy(nots + 5000 * 4, "x");
        CHECK(run_err(nots, &ei) && !strcmp(ei.ename, "SyntaxError"));
        CHECK_CONTAINS(ei.msg, "expression too deeply nested");
        free(nots);
        /* 900 unary minus signs, and 900 additions, are fine and evaluate */
        memset(big, '-', 900);
        strcpy(big + 900, "1");
        CHECK(!run_err(big, &ei));
        for (size_t i = 0; i < 900; i++)
            memcpy(big + 2 * i, "1+", 2);
        strcpy(big + 1800, "1");
        CHECK(!run_err(big, &ei));
        /* 150 nested brackets are fine */
        char par[400];
        memset(par, '[', 150);
        memset(par + 150, ']', 150);
        par[300] = 0;
        CHECK(!run_err(par, &ei));
        free(big);
    }
    return test_finish("test_parser");
}
