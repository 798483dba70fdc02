/* test_complete.c — complete_request: names (variables, builtins,
 * keywords), keyword arguments inside a call's parentheses, attributes
 * after a dot, nothing inside strings and comments, no side effects, and
 * cursor offsets in code points with non-ASCII text before the cursor. */
#include "lang_test.h"
#include "complete_util.h"

static ember_engine *e;
static ember_io io;
static fake_io f;
static char got[8192];
static int got_start, got_end;

/* Completes at the '|' and renders the matches as "a b c". */
static const char *comp(const char *marked)
{
    char code[1024];
    int cur = split_cursor(marked, code, sizeof code);
    json_t *r = ember_complete(e, code, strlen(code), cur);
    got[0] = 0;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "matches"), i, m)
    {
        if (i)
            strcat(got, " ");
        strcat(got, json_string_value(m));
    }
    got_start = (int)json_integer_value(json_object_get(r, "cursor_start"));
    got_end = (int)json_integer_value(json_object_get(r, "cursor_end"));
    CHECK(json_is_object(json_object_get(r, "metadata")));
    json_decref(r);
    return got;
}

static int has(const char *list, const char *word)
{
    char pad[8300], w[128];
    snprintf(pad, sizeof pad, " %s ", list);
    snprintf(w, sizeof w, " %s ", word);
    return strstr(pad, w) != NULL;
}

int main(void)
{
    e = ember_engine_new();
    fake_io_init(&f, &io);
    CHECK_STR(eval_repr(e, &io, "s = 'h\xc3\xa9llo'; learning_rate = 0.1; nums = [1, 2]; pending = 0"), "");

    /* names: builtins, variables, keywords; sorted */
    CHECK_STR(comp("pri|"), "print");
    CHECK(got_start == 0 && got_end == 3);
    CHECK_STR(comp("le|"), "learning_rate len");
    CHECK_STR(comp("x = 1 + lea|"), "learning_rate");
    CHECK(got_start == 8 && got_end == 11);
    CHECK_STR(comp("tr|"), "true");
    /* other modules add names (normalize...): check ours, not the whole list */
    CHECK(has(comp("no|"), "none") && has(got, "not") && !has(got, "print"));
    CHECK_STR(comp("zzz|"), "");
    CHECK(got_start == 0 && got_end == 3);
    {
        const char *all = comp("|");
        CHECK(has(all, "print") && has(all, "nums") && has(all, "sleep") && has(all, "true") && has(all, "help"));
        CHECK(got_start == 0 && got_end == 0);
    }
    /* in the middle of a word: replaces up to the cursor */
    CHECK_STR(comp("pri|nt(1)"), "print");
    CHECK(got_start == 0 && got_end == 3);
    /* a multi-line cell */
    CHECK_STR(comp("a = 1\nb = [\n  nu|"), "nums");
    CHECK(got_start == 14 && got_end == 16);

    /* keyword arguments inside a call */
    CHECK_STR(comp("sleep(sec|"), "seconds=");
    CHECK(got_start == 6 && got_end == 9);
    /* keyword arguments first, then names */
    CHECK(!strncmp(comp("print(1, s|"), "sep= s ", 7) && has(got, "sleep") && has(got, "sqrt"));
    CHECK(!strncmp(comp("print(1, e|"), "end= ", 5) && has(got, "else") && has(got, "exp"));
    CHECK(has(comp("print(1, |"), "file=") && has(got, "sep=") && has(got, "end=") && has(got, "nums"));
    CHECK_STR(comp("print(len(nu|"), "nums"); /* len's parameter is x */
    CHECK_STR(comp("print(len(x|"), "x=");
    CHECK_STR(comp("'a'.split(ma|"), "maxsplit= max");
    CHECK(!strncmp(comp("s.replace('l', 'L', co|"), "count=", 6));
    /* not at an argument's start: names only (other modules add more p-names) */
    CHECK(has(comp("print(sep=1 + p|"), "pending") && has(got, "print") && !has(got, "sep="));
    CHECK_STR(comp("display(1,\n        display_i|"), "display_id=");

    /* attributes after a dot, on literals and variables */
    CHECK_STR(comp("'abc'.up|"), "upper");
    CHECK(got_start == 6 && got_end == 8);
    CHECK_STR(comp("s.up|"), "upper");
    CHECK_STR(comp("s.st|"), "startswith strip");
    CHECK_STR(comp("nums.c|"), "copy count");
    CHECK_STR(comp("nums.|"), "copy count index");
    CHECK_STR(comp("[1, 2].ind|"), "index");
    CHECK_STR(comp("print(s.lo|"), "lower");
    CHECK_STR(comp("s[1:].up|"), "upper");
    CHECK_STR(comp("('a' ).up|"), "upper");
    CHECK_STR(comp("nums[0].|"), ""); /* ints have no attributes */
    CHECK_STR(comp("unknown_var.up|"), "");
    CHECK_STR(comp("learning_rate.|"), "");
    /* non-ASCII text before the cursor: offsets count code points */
    CHECK_STR(comp("t = '\xc3\xa9\xc3\xa9\xc3\xa9'; s.up|"), "upper");
    CHECK(got_start == 13 && got_end == 15);
    CHECK_STR(comp("'\xf0\x9f\x98\x80'.low|"), "lower");
    CHECK(got_start == 4 && got_end == 7);
    CHECK_STR(comp("x = '\xe6\x97\xa5\xe6\x9c\xac' + pe|"), "pending");
    CHECK(got_start == 11 && got_end == 13);
    /* cursor before the end of the code */
    CHECK_STR(comp("s.st|rip()"), "startswith strip");
    CHECK(got_start == 2 && got_end == 4);

    /* no side effects: calls before a dot are not evaluated */
    fake_io_reset(&f);
    CHECK_STR(comp("print('side effect').up|"), "");
    CHECK_STR(comp("input('x').up|"), "");
    CHECK_STR(comp("(s + s).up|"), "");
    CHECK_STR(f.out, "");
    CHECK(json_array_size(f.displays) == 0);

    /* nothing inside strings or comments; numbers are not completed */
    CHECK_STR(comp("print('pri|"), "");
    CHECK_STR(comp("x = 1  # pri|"), "");
    CHECK_STR(comp("12|"), "");
    /* ...but on the next line after a comment, names again */
    CHECK_STR(comp("# comment\npri|"), "print");

    /* out-of-range cursors are clamped */
    CHECK_STR(comp("pri"), "print");
    {
        json_t *r = ember_complete(e, "pri", strlen("pri"), 100);
        CHECK(json_integer_value(json_object_get(r, "cursor_end")) == 3);
        json_decref(r);
        r = ember_complete(e, "pri", strlen("pri"), -5);
        CHECK(json_integer_value(json_object_get(r, "cursor_end")) == 3);
        json_decref(r);
        r = ember_complete(e, NULL, 0, 0);
        CHECK(json_is_array(json_object_get(r, "matches")));
        json_decref(r);
        /* invalid UTF-8 does not upset it */
        r = ember_complete(e, "pri\xff", strlen("pri\xff"), 4);
        CHECK(r != NULL);
        json_decref(r);
    }

    fake_io_free(&f);
    ember_engine_free(e);
    return test_finish("test_complete");
}
