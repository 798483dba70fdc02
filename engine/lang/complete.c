/* complete.c — complete_request: variable and builtin names, keywords,
 * keyword arguments inside a call's parentheses and attributes after a dot.
 * Nothing with side effects is evaluated to find the object before a dot.
 * Cursor positions are Unicode code points. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int ends_primary(const char *src, const token *t)
{
    switch (t->kind) {
    case T_STR: case T_INT: case T_FLOAT: return 1;
    case T_NAME: {
        const char *s = src + t->pos;
        size_t n = t->end - t->pos;
        if (!is_keyword(s, n) && !is_python_only_keyword(s, n))
            return 1;
        return (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "none", 4) ||
                           !memcmp(s, "None", 4))) ||
               (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5)));
    }
    case T_OP: return t->op == OP_RPAR || t->op == OP_RSQB;
    default: return 0;
    }
}

size_t primary_start(const char *src, const token *toks, size_t end)
{
    size_t i = end;
    for (;;) {
        if (i == 0)
            return (size_t)-1;
        const token *t = &toks[i - 1];
        if (t->kind == T_OP && (t->op == OP_RPAR || t->op == OP_RSQB)) {
            int depth = 0;
            size_t m = i;
            while (m > 0) {
                const token *u = &toks[m - 1];
                if (u->kind == T_OP && (u->op == OP_RPAR || u->op == OP_RSQB || u->op == OP_RBRACE))
                    depth++;
                else if (u->kind == T_OP && (u->op == OP_LPAR || u->op == OP_LSQB || u->op == OP_LBRACE))
                    depth--;
                m--;
                if (depth == 0)
                    break;
            }
            if (depth != 0)
                return (size_t)-1;
            i = m;
            if (i > 0 && ends_primary(src, &toks[i - 1]))
                continue; /* a call or index trailer */
            return i;
        }
        if (!ends_primary(src, t))
            return (size_t)-1;
        i--;
        if (i > 0 && toks[i - 1].kind == T_OP && toks[i - 1].op == OP_DOT) {
            i--;
            continue;
        }
        return i;
    }
}

static int side_effect_free(const node *n)
{
    if (!n)
        return 1;
    switch (n->kind) {
    case N_INT: case N_FLOAT: case N_STR: case N_NONE: case N_TRUE: case N_FALSE: case N_NAME:
    case N_LIST: case N_ATTR: case N_INDEX: case N_SLICE: case N_UNARY:
        break;
    default:
        return 0;
    }
    for (size_t i = 0; i < n->nkids; i++)
        if (!side_effect_free(n->kids[i]))
            return 0;
    return 1;
}

lang_value *eval_quietly(lang_state *st, const char *src, const token *toks, size_t start, size_t end)
{
    if (start >= end)
        return NULL;
    parse_error pe;
    node *nd = parse_expression_tokens(src, toks + start, end - start, &pe);
    if (!nd)
        return NULL;
    lang_value *v = NULL;
    if (side_effect_free(nd)) {
        lang_ctx cx;
        ctx_init(&cx, st, NULL, NULL, NULL, src, strlen(src));
        cx.pure = 1;
        v = eval_node(&cx, nd);
        ctx_clear_error(&cx);
    }
    node_free(nd);
    return v;
}

long innermost_open_paren(const token *toks, size_t n)
{
    int depth = 0;
    for (size_t i = n; i > 0; i--) {
        const token *t = &toks[i - 1];
        if (t->kind != T_OP)
            continue;
        if (t->op == OP_RPAR || t->op == OP_RSQB || t->op == OP_RBRACE) {
            depth++;
        } else if (t->op == OP_LPAR || t->op == OP_LSQB || t->op == OP_LBRACE) {
            if (depth == 0)
                return t->op == OP_LPAR ? (long)(i - 1) : -1;
            depth--;
        }
    }
    return -1;
}

typedef struct matches {
    json_t *arr;
    const char *prefix;
    size_t plen;
    const char *suffix; /* appended to each match ("=" for keyword arguments) */
} matches;

static void add_match(void *acc, const char *name)
{
    matches *m = acc;
    if (strncmp(name, m->prefix, m->plen))
        return;
    char buf[128];
    size_t n = strlen(name);
    if (n + 2 > sizeof buf)
        return;
    memcpy(buf, name, n);
    strcpy(buf + n, m->suffix);
    size_t idx;
    json_t *v;
    json_array_foreach(m->arr, idx, v) if (!strcmp(json_string_value(v), buf)) return;
    json_array_append_new(m->arr, json_string(buf));
}

static int cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* Appends the sorted contents of from to to. */
static void append_sorted(json_t *to, json_t *from)
{
    size_t n = json_array_size(from);
    json_t **items = malloc((n ? n : 1) * sizeof *items);
    if (!items)
        return;
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(from, i);
    qsort(items, n, sizeof *items, cmp_json_str);
    for (size_t i = 0; i < n; i++)
        json_array_append(to, items[i]);
    free(items);
}

static int is_ident(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9'); }

/* Whether the cursor sits in a comment: a '#' after the last token, on the
 * cursor's line. */
static int in_comment(const char *code, const lex_result *lr, size_t ps)
{
    size_t from = 0;
    for (size_t i = lr->n; i > 0; i--)
        if (lr->toks[i - 1].kind != T_EOF) {
            from = lr->toks[i - 1].end;
            break;
        }
    for (size_t i = from; i < ps; i++)
        if (code[i] == '#') {
            int newline = 0;
            for (size_t j = i; j < ps; j++)
                if (code[j] == '\n')
                    newline = 1;
            if (!newline)
                return 1;
        }
    return 0;
}

json_t *ember_complete(ember_engine *e, const char *code, size_t n, int cursor_pos)
{
    lang_state *st = engine_state(e);
    if (!code)
        code = "", n = 0;
    size_t cur = utf8_cursor_offset(code, n, &cursor_pos);
    size_t ps = cur;
    while (ps > 0 && is_ident((unsigned char)code[ps - 1]))
        ps--;
    json_t *all = json_array();
    json_t *kwm = json_array(), *names = json_array();
    char *prefix = strndup(code + ps, cur - ps);
    lex_result lr;
    lex_error le;
    memset(&lr, 0, sizeof lr);
    if (!all || !kwm || !names || !prefix)
        goto out;
    if (prefix[0] >= '0' && prefix[0] <= '9')
        goto out;
    /* lex what precedes the word being completed */
    char *head = bytes_dup(code, ps);
    if (!head)
        goto out;
    lex(head, ps, 1, &lr, &le);
    if (lr.in_string || in_comment(head, &lr, ps)) {
        free(head);
        goto out;
    }
    size_t nt = lr.n;
    while (nt > 0 && lr.toks[nt - 1].kind == T_EOF)
        nt--;
    matches m = {.arr = names, .prefix = prefix, .plen = strlen(prefix), .suffix = ""};
    if (nt > 0 && lr.toks[nt - 1].kind == T_OP && lr.toks[nt - 1].op == OP_DOT) {
        size_t st0 = primary_start(head, lr.toks, nt - 1);
        if (st0 != (size_t)-1) {
            lang_value *v = eval_quietly(st, head, lr.toks, st0, nt - 1);
            if (v) {
                list_attrs(v, add_match, &m);
                lang_decref(v);
            }
        }
        free(head);
        append_sorted(all, names);
        goto out;
    }
    /* keyword arguments of the call whose parentheses hold the cursor */
    long open = innermost_open_paren(lr.toks, nt);
    if (open > 0 && nt > 0 && lr.toks[nt - 1].kind == T_OP &&
        (lr.toks[nt - 1].op == OP_LPAR || lr.toks[nt - 1].op == OP_COMMA)) {
        size_t st0 = primary_start(head, lr.toks, (size_t)open);
        if (st0 != (size_t)-1) {
            lang_value *f = eval_quietly(st, head, lr.toks, st0, (size_t)open);
            if (f && f->kind == LANG_FUNC) {
                sig sg;
                if (sig_parse(f->as.func.def->signature, &sg) == 0) {
                    matches km = {.arr = kwm, .prefix = prefix, .plen = strlen(prefix), .suffix = "="};
                    for (size_t i = 0; i < sg.np; i++)
                        add_match(&km, sg.p[i].name);
                }
            }
            lang_decref(f);
        }
    }
    free(head);
    for (size_t i = 0; i < st->n; i++)
        add_match(&m, st->names[i]);
    for (size_t i = 0; lang_builtin_at(i); i++) {
        char name[64];
        lang_builtin_name(lang_builtin_at(i), name, sizeof name);
        add_match(&m, name);
    }
    static const char *const words[] = {"true", "false", "none", "and", "or", "not", "in", "if", "else"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        add_match(&m, words[i]);
    append_sorted(all, kwm);
    append_sorted(all, names);
out:
    lex_free(&lr);
    json_decref(kwm);
    json_decref(names);
    size_t start_cp = utf8_count(code, ps);
    free(prefix);
    if (!all)
        return NULL;
    return json_pack("{s:o, s:i, s:i, s:{}}", "matches", all, "cursor_start", (json_int_t)start_cp,
                     "cursor_end", (json_int_t)cursor_pos, "metadata");
}
