/* inspect.c — inspect_request (Shift+Tab): the signature and docstring of
 * the name under the cursor, or of the function whose call's parentheses
 * hold the cursor; for other values, their type, value and type docs. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int is_ident(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9'); }

static char *describe(const lang_value *v)
{
    if (v->kind == LANG_FUNC)
        return help_text(v);
    strbuf b = {0};
    char *r = lang_repr(v);
    char *doc = help_text(v);
    if (!r || !doc) {
        free(r);
        free(doc);
        return NULL;
    }
    size_t rl = strlen(r);
    size_t cut = utf8_offset(r, rl, 200);
    sb_addf(&b, "Type:  %s\nValue: %.*s%s\n\n%s", lang_type_name(v), (int)cut, r, cut < rl ? "..." : "", doc);
    free(r);
    free(doc);
    return sb_take(&b);
}

json_t *ember_inspect(ember_engine *e, const char *code, size_t n, int cursor_pos,
                      int detail_level)
{
    (void)detail_level;
    lang_state *st = engine_state(e);
    if (!code)
        code = "", n = 0;
    size_t cur = utf8_cursor_offset(code, n, &cursor_pos);
    /* the word under (or just before) the cursor */
    size_t ws = cur, we = cur;
    while (ws > 0 && is_ident((unsigned char)code[ws - 1]))
        ws--;
    while (we < n && is_ident((unsigned char)code[we]))
        we++;
    lang_value *v = NULL;
    char *head = bytes_dup(code, we);
    if (!head)
        return NULL;
    lex_result lr;
    lex_error le;
    lex(head, we, 1, &lr, &le);
    size_t nt = lr.n;
    while (nt > 0 && lr.toks[nt - 1].kind == T_EOF)
        nt--;
    if (we > ws && !(code[ws] >= '0' && code[ws] <= '9') && !lr.in_string && nt > 0 &&
        lr.toks[nt - 1].kind == T_NAME && lr.toks[nt - 1].end == we) {
        size_t st0 = primary_start(head, lr.toks, nt);
        if (st0 != (size_t)-1)
            v = eval_quietly(st, head, lr.toks, st0, nt);
    }
    lex_free(&lr);
    free(head);
    if (!v) {
        /* the innermost call around the cursor */
        head = bytes_dup(code, cur);
        if (!head)
            return NULL;
        lex(head, cur, 1, &lr, &le);
        nt = lr.n;
        while (nt > 0 && lr.toks[nt - 1].kind == T_EOF)
            nt--;
        long open = innermost_open_paren(lr.toks, nt);
        if (open > 0) {
            size_t st0 = primary_start(head, lr.toks, (size_t)open);
            if (st0 != (size_t)-1) {
                v = eval_quietly(st, head, lr.toks, st0, (size_t)open);
                if (v && v->kind != LANG_FUNC) {
                    lang_decref(v);
                    v = NULL;
                }
            }
        }
        lex_free(&lr);
        free(head);
    }
    if (!v)
        return json_pack("{s:b, s:{}, s:{}}", "found", 0, "data", "metadata");
    char *text = describe(v);
    lang_decref(v);
    if (!text)
        return NULL;
    json_t *r = json_pack("{s:b, s:{s:o}, s:{}}", "found", 1, "data", "text/plain",
                          json_string_lossy(text, strlen(text)), "metadata");
    free(text);
    return r;
}
