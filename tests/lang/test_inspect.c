/* test_inspect.c — inspect_request: the name under the cursor (builtins,
 * methods, variables), the function whose call holds the cursor, and
 * found=false elsewhere; the text comes from the builtin's one table entry. */
#include "lang_test.h"
#include "complete_util.h"

static ember_engine *e;
static char got[8192];
static int found;

static const char *insp(const char *marked)
{
    char code[1024];
    int cur = split_cursor(marked, code, sizeof code);
    json_t *r = ember_inspect(e, code, strlen(code), cur, 0);
    found = json_is_true(json_object_get(r, "found"));
    const char *t = json_string_value(json_object_get(json_object_get(r, "data"), "text/plain"));
    snprintf(got, sizeof got, "%s", t ? t : "");
    CHECK(json_is_object(json_object_get(r, "metadata")));
    CHECK(json_is_object(json_object_get(r, "data")));
    json_decref(r);
    return got;
}

int main(void)
{
    e = ember_engine_new();
    ember_io io;
    fake_io f;
    fake_io_init(&f, &io);
    CHECK_STR(eval_repr(e, &io, "s = 'h\xc3\xa9llo'; n = 3; l = [1, 2]"), "");

    const char *sleep_doc =
        "sleep(seconds)\n\nWait for the given number of seconds. Interrupting the kernel stops the wait at once.";
    CHECK_STR(insp("sleep|"), sleep_doc);
    CHECK(found);
    CHECK_STR(insp("sl|eep(1)"), sleep_doc);
    CHECK_STR(insp("|sleep"), sleep_doc);
    CHECK_STR(insp("sleep(|"), sleep_doc);
    CHECK_STR(insp("sleep(1|"), sleep_doc);
    CHECK_STR(insp("sleep(n + |"), sleep_doc);
    CHECK_STR(insp("x = 1\nsleep(\n  1,|"), sleep_doc);
    CHECK_STR(insp("print(len(|"), "len(x)\n\nReturn the number of items of a list, characters of a string, or elements of an engine value.");
    CHECK_CONTAINS(insp("print(len([1]), |"), "print(*values, sep=' ', end='\\n', file='stdout')\n\n");
    CHECK_CONTAINS(insp("print('\xc3\xa9\xc3\xa9', s|"), "Type:  str\nValue: 'h\xc3\xa9llo'\n\nstr: an immutable");
    CHECK_STR(insp("s.up|per()"), "str.upper()\n\nReturn a copy in upper case (ASCII, Latin-1, Greek and Cyrillic letters).");
    CHECK_STR(insp("s.upper(|"), "str.upper()\n\nReturn a copy in upper case (ASCII, Latin-1, Greek and Cyrillic letters).");
    CHECK_STR(insp("'x'.split(|"), "str.split(sep=none, maxsplit=-1)\n\nReturn a list of the words in the string, split at sep (by default at runs of whitespace), at most maxsplit times when maxsplit >= 0.");
    CHECK_CONTAINS(insp("n|"), "Type:  int\nValue: 3\n\nint: a 64-bit signed integer");
    CHECK_CONTAINS(insp("l|"), "Methods of list:\n  list.index(value)");
    CHECK_CONTAINS(insp("l.count|"), "list.count(value)");

    /* not found */
    insp("nothing_here|");
    CHECK(!found);
    insp("1 + 2|");
    CHECK(!found);
    insp("|");
    CHECK(!found);
    insp("n(|"); /* n is not a function */
    CHECK(!found);
    insp("'sleep|'");
    CHECK(!found);
    insp("print('x').up|per");
    CHECK(!found);
    CHECK_STR(f.out, ""); /* nothing was run */
    {
        json_t *r = ember_inspect(e, NULL, 0, 3, 0);
        CHECK(json_is_false(json_object_get(r, "found")));
        json_decref(r);
        r = ember_inspect(e, "sleep", strlen("sleep"), 99, 1);
        CHECK(json_is_true(json_object_get(r, "found")));
        json_decref(r);
    }
    fake_io_free(&f);
    ember_engine_free(e);
    return test_finish("test_inspect");
}
