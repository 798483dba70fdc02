/* fuzz_lang.c — libFuzzer target: any bytes must lex, parse, classify,
 * complete, inspect and (when they do not wait or read input) evaluate
 * without crashing, leaking or overflowing the stack. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void drop_stream(void *ctx, const char *name, const char *text, size_t len)
{
    (void)ctx; (void)name; (void)text; (void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *src = malloc(size + 1);
    if (!src)
        return 0;
    memcpy(src, data, size);
    src[size] = 0;
    size_t n = size; /* NULs included: the API takes text with its length */

    lex_result lr;
    lex_error le;
    lex(src, n, 0, &lr, &le);
    lex_free(&lr);
    lex(src, n, 1, &lr, &le);
    lex_free(&lr);

    program p;
    parse_error pe;
    if (parse_program(src, n, &p, &pe) == 0)
        program_free(&p);
    node *x = parse_expression(src, n, &pe);
    node_free(x);

    ember_engine *e = ember_engine_new();
    char indent[16];
    ember_is_complete(e, src, n, indent, sizeof indent);
    size_t ncp = utf8_count(src, n);
    int cursors[4] = {(int)ncp, (int)(ncp / 2), size ? data[0] % (int)(ncp + 1) : 0, (int)ncp + 3};
    for (int i = 0; i < 4; i++) {
        json_decref(ember_complete(e, src, n, cursors[i]));
        json_decref(ember_inspect(e, src, n, cursors[i], i & 1));
    }
    /* the evaluator too, but nothing that waits or asks for input */
    if (!memmem(src, n, "sleep", 5) && !memmem(src, n, "input", 5)) {
        ember_io io = {.stream = drop_stream};
        ember_exec_options opt = {.execution_count = 1};
        ember_exec_result r;
        ember_execute(e, src, n, &opt, &io, &r);
        ember_exec_result_clear(&r);
        json_decref(ember_user_expression(e, src, n, &io));
        /* and completion against the variables it made */
        json_decref(ember_complete(e, src, n, (int)ncp));
        json_decref(ember_inspect(e, src, n, (int)ncp, 0));
    }
    ember_engine_free(e);
    free(src);
    return 0;
}
