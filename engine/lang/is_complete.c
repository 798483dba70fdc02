/* is_complete.c — is_complete_request: "complete" when the cell parses,
 * "incomplete" when more lines could finish it (an open bracket, an open
 * triple-quoted string, a trailing backslash), "invalid" otherwise (as
 * Python's codeop, a trailing operator outside brackets is invalid).
 * Suggested indent: four spaces inside an open bracket, else "".
 * IPython's help syntax (`name?`) is complete. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

const char *ember_is_complete(ember_engine *e, const char *code, size_t n, char *indent,
                              size_t indent_size)
{
    (void)e;
    if (indent && indent_size)
        indent[0] = 0;
    if (!code)
        code = "", n = 0;
    size_t ha, hb;
    if (help_form(code, n, &ha, &hb))
        return "complete"; /* name? asks for help */
    lex_result lr;
    lex_error le;
    program prog;
    parse_error pe;
    if (lex(code, n, 0, &lr, &le) == 0) {
        int rc = parse_tokens(code, lr.toks, lr.n, &prog, &pe);
        lex_free(&lr);
        if (rc < 0)
            return "invalid";
        program_free(&prog);
        return "complete";
    }
    lex_free(&lr);
    if (!le.incomplete)
        return "invalid";
    /* More input could fix the lexer's complaint: the code so far must
     * still parse up to its end. */
    lex(code, n, 1, &lr, &le);
    if (le.msg[0]) {
        lex_free(&lr);
        return "invalid";
    }
    int depth = lr.depth;
    int rc = parse_tokens(code, lr.toks, lr.n, &prog, &pe);
    lex_free(&lr);
    if (rc == 0)
        program_free(&prog);
    else if (!pe.incomplete)
        return "invalid";
    if (indent && indent_size)
        snprintf(indent, indent_size, "%s", depth > 0 ? "    " : "");
    return "incomplete";
}
