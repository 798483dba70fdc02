/* test_traceback.c — tracebacks of errors in long lines: the echoed source
 * is a window of at most 120 code points around the caret, with "..." on
 * each side that was cut, the caret under the right code point (counted in
 * code points, multi-byte characters before it), and the whole error (ename,
 * evalue, traceback) of bounded size however long the line is (10 MB here). */
#include "internal.h"
#include "lang_test.h"

static ember_engine *e;
static ember_io io;
static fake_io f;

#define TEN_MB (10u << 20)
/* Every traceback below is far smaller than this; the line is 10 MB. */
#define MAX_ERROR_BYTES 4096

typedef struct shown {
    char line[2048];  /* the echoed error line, colours removed */
    size_t caret_col; /* code point index in line of the first '^' */
    size_t carets;    /* how many '^' */
    size_t total;     /* bytes of ename + evalue + every traceback entry */
} shown;

static size_t cp_count(const char *s, size_t n) { return utf8_count(s, n); }

/* Picks the "----> N" line and the caret line out of a traceback. */
static int parse_tb(const ember_exec_result *r, shown *out)
{
    memset(out, 0, sizeof *out);
    out->total = strlen(r->ename) + strlen(r->evalue);
    for (size_t i = 0; i < json_array_size(r->traceback); i++)
        out->total += json_string_length(json_array_get(r->traceback, i));
    const char *tb = json_string_value(json_array_get(r->traceback, 1));
    const char *arrow = tb ? strstr(tb, "----> ") : NULL;
    if (!arrow)
        return -1;
    const char *text = strstr(arrow, "\x1b[0m ");
    const char *eol = text ? strchr(text, '\n') : NULL;
    if (!eol)
        return -1;
    text += 5;
    size_t prefix = cp_count(arrow, (size_t)(text - arrow)) - 4; /* minus the colour code */
    snprintf(out->line, sizeof out->line, "%.*s", (int)(eol - text), text);
    const char *caret = strstr(eol + 1, "\x1b[1;31m");
    if (!caret)
        return -1;
    size_t before = cp_count(eol + 1, (size_t)(caret - (eol + 1)));
    out->caret_col = before - prefix;
    for (const char *p = caret + 7; *p == '^'; p++)
        out->carets++;
    return 0;
}

/* The code point at index col of s (as a UTF-8 string in buf). */
static const char *cp_at(const char *s, size_t col, char buf[8])
{
    size_t n = strlen(s), off = utf8_offset(s, n, col);
    uint32_t cp;
    size_t k = utf8_decode(s + off, n - off, &cp);
    snprintf(buf, 8, "%.*s", (int)k, s + off);
    return buf;
}

static char *repeat(const char *unit, size_t times, const char *head, const char *tail)
{
    size_t ul = strlen(unit), hl = strlen(head), tl = strlen(tail);
    char *s = malloc(hl + ul * times + tl + 1);
    if (!s)
        return NULL;
    memcpy(s, head, hl);
    for (size_t i = 0; i < times; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * times, tail, tl + 1);
    return s;
}

/* Runs code and checks the error: ename, that the caret is under want (a
 * UTF-8 character) with width carets, the window's width and ellipses, and
 * the size of the whole error. */
static void check_error(const char *code, const char *ename, const char *want, size_t width,
                        int cut_left, int cut_right, int at)
{
    cell c;
    run_cell(e, &io, code, &c);
    shown s;
    char buf[8];
    test_checks++;
    if (c.r.ok || strcmp(c.r.ename, ename) || parse_tb(&c.r, &s) != 0) {
        test_failures++;
        fprintf(stderr, "test_traceback.c:%d: no %s traceback to look at\n", at, ename);
        ember_exec_result_clear(&c.r);
        return;
    }
    size_t ncp = cp_count(s.line, strlen(s.line));
    int left = strncmp(s.line, "...", 3) == 0;
    int right = ncp >= 3 && strcmp(s.line + strlen(s.line) - 3, "...") == 0;
    size_t window = ncp - (left ? 3 : 0) - (right ? 3 : 0);
    int ok = strcmp(cp_at(s.line, s.caret_col, buf), want) == 0 && s.carets == width &&
             left == cut_left && right == cut_right && window <= 120 &&
             s.total < MAX_ERROR_BYTES;
    test_checks++;
    if (!ok) {
        test_failures++;
        fprintf(stderr,
                "test_traceback.c:%d: caret at %zu under '%s' (want '%s'), %zu carets (want %zu), "
                "cut %d/%d (want %d/%d), window %zu, error %zu bytes\n  line: %s\n",
                at, s.caret_col, cp_at(s.line, s.caret_col, buf), want, s.carets, width, left,
                right, cut_left, cut_right, window, s.total, s.line);
    }
    ember_exec_result_clear(&c.r);
}
#define CHECK_TB(code, ename, want, width, l, r) check_error(code, ename, want, width, l, r, __LINE__)

int main(void)
{
    e = ember_engine_new();
    CHECK(e != NULL);
    fake_io_init(&f, &io);

    /* a short line is shown whole, as before */
    CHECK_TB("x = 1 +* 2", "SyntaxError", "*", 1, 0, 0);
    /* 120 code points fit; 121 do not */
    char *s = repeat("a", 110, "x = '", "' + $");
    CHECK(strlen(s) == 120);
    CHECK_TB(s, "SyntaxError", "$", 1, 0, 0);
    free(s);
    s = repeat("a", 111, "x = '", "' + $");
    CHECK_TB(s, "SyntaxError", "$", 1, 1, 0);
    free(s);

    /* a SyntaxError at the end of a 10 MB line (the case) */
    s = repeat("a+", TEN_MB / 2, "x = ", "$");
    CHECK_TB(s, "SyntaxError", "$", 1, 1, 0);
    free(s);
    /* ...at its start, and in its middle */
    s = repeat("+1", TEN_MB / 2, "x = )", "");
    CHECK_TB(s, "SyntaxError", ")", 1, 0, 1);
    free(s);
    {
        size_t half = TEN_MB / 4;
        char *a = repeat("1,", half, "x = [", "");
        char *b = repeat("1,", half, ")", "]");
        char *both = malloc(strlen(a) + strlen(b) + 1);
        strcpy(both, a);
        strcat(both, b);
        CHECK_TB(both, "SyntaxError", ")", 1, 1, 1);
        free(a);
        free(b);
        free(both);
    }
    /* columns are code points: 3.3 M two-byte and three-byte characters
     * before the caret, and after it */
    {
        char *a = repeat("\xc3\xa9\xe2\x82\xac", TEN_MB / 5, "x = '", "' + $ + '");
        char *b = repeat("\xe2\x82\xac", 1000, "", "'");
        char *code = malloc(strlen(a) + strlen(b) + 1);
        strcpy(code, a);
        strcat(code, b);
        CHECK_TB(code, "SyntaxError", "$", 1, 1, 1);
        /* the same error near the end of the line: the window ends there */
        CHECK_TB(a, "SyntaxError", "$", 1, 1, 0);
        free(a);
        free(b);
        free(code);
    }
    /* a runtime error: the caret under the unknown name, in a 10 MB line */
    {
        char *a = repeat("\xc3\xa9", TEN_MB / 2, "x = '", "' + undefined_name + '");
        char *b = repeat("\xc3\xa9", 1000, "", "'");
        char *code = malloc(strlen(a) + strlen(b) + 1);
        strcpy(code, a);
        strcat(code, b);
        CHECK_TB(code, "NameError", "u", 14, 1, 1);
        free(a);
        free(b);
        free(code);
    }
    /* a 10 MB literal where a keyword argument's name should be */
    s = repeat("g", TEN_MB, "print('", "'=1)");
    CHECK_TB(s, "SyntaxError", "=", 1, 1, 0);
    free(s);
    /* a span longer than the window (a call over a 10 MB string): the
     * carets start under its start and stop at the window's edge */
    s = repeat("b", TEN_MB, "len(1, '", "')");
    {
        cell c;
        run_cell(e, &io, s, &c);
        shown sh;
        CHECK(!c.r.ok && strcmp(c.r.ename, "TypeError") == 0 && parse_tb(&c.r, &sh) == 0);
        char buf[8];
        CHECK_STR(cp_at(sh.line, sh.caret_col, buf), "l");
        CHECK(sh.caret_col == 0 && sh.carets == 120);
        CHECK(sh.total < MAX_ERROR_BYTES);
        ember_exec_result_clear(&c.r);
    }
    free(s);
    /* an unterminated 10 MB string: the error is at its start */
    s = repeat("c", TEN_MB, "x = 1\ny = 'abc", "");
    CHECK_TB(s, "SyntaxError", "'", 1, 0, 1);
    free(s);
    /* context lines above are cut to the same window, so they line up */
    {
        char *ctx = repeat("d", TEN_MB, "x = '", "'\n");
        char *tail = repeat("e", 1000, "y = '", "' + $");
        char *code = malloc(strlen(ctx) + strlen(tail) + 1);
        strcpy(code, ctx);
        strcat(code, tail);
        cell c;
        run_cell(e, &io, code, &c);
        shown sh;
        CHECK(!c.r.ok && parse_tb(&c.r, &sh) == 0);
        CHECK(sh.total < MAX_ERROR_BYTES);
        const char *tb = json_string_value(json_array_get(c.r.traceback, 1));
        const char *l1 = strstr(tb, "1\x1b[0m ");
        CHECK(l1 != NULL);
        if (l1) {
            l1 += 6;
            /* the window of line 1 is the columns of line 2's window, all 'd' */
            CHECK(strncmp(l1, "...ddd", 6) == 0);
            const char *nl = strchr(l1, '\n');
            CHECK(nl && cp_count(l1, (size_t)(nl - l1)) == 126);
        }
        ember_exec_result_clear(&c.r);
        free(ctx);
        free(tail);
        free(code);
    }
    /* user expressions use the same traceback */
    s = repeat("f", TEN_MB, "'", "' + $");
    {
        json_t *r = ember_user_expression(e, s, strlen(s), &io);
        size_t total = 0;
        json_t *tb = json_object_get(r, "traceback");
        for (size_t i = 0; i < json_array_size(tb); i++)
            total += json_string_length(json_array_get(tb, i));
        total += json_string_length(json_object_get(r, "evalue"));
        CHECK(json_array_size(tb) == 3 && total < MAX_ERROR_BYTES);
        json_decref(r);
    }
    free(s);
    /* a 1 MB name, a 1 MB value in a message: the message is cut short,
     * still valid UTF-8, ending in "..." */
    const char *long_ones[][2] = {{"n", "NameError"}, {"\xc3\xa9", "ValueError"},
                                  {"\xe2\x82\xac", "ValueError"}};
    for (int i = 0; i < 3; i++) {
        s = repeat(long_ones[i][0], 1u << 20, i ? "int('" : "x = ", i ? "')" : "");
        cell c;
        run_cell(e, &io, s, &c);
        CHECK(!c.r.ok && strcmp(c.r.ename, long_ones[i][1]) == 0);
        size_t n = strlen(c.r.evalue);
        CHECK(n < 1024 && n > 3 && strcmp(c.r.evalue + n - 3, "...") == 0);
        CHECK(utf8_valid(c.r.evalue, n, NULL));
        shown sh;
        CHECK(parse_tb(&c.r, &sh) == 0 && sh.total < MAX_ERROR_BYTES);
        ember_exec_result_clear(&c.r);
        free(s);
    }

    fake_io_free(&f);
    ember_engine_free(e);
    return test_finish("test_traceback");
}
