/* parser.c — builds the syntax tree from tokens by recursive descent with
 * Python's precedence: if-else < or < and < not < comparisons < + - <
 * * / // % < unary + - < ** < calls, attributes, indexing. Nesting is bounded
 * (LANG_MAX_*) so no input can exhaust the stack. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *src;
    const token *t;
    size_t n, i;
    int depth;
    parse_error *err;
    int failed;
} parser;

static const char *const keywords[] = {"true", "false", "none", "True", "False", "None",
                                       "and", "or", "not", "in", "if", "else", "is"};
static const char *const python_only[] = {
    "def", "class", "for", "while", "import", "from", "return", "lambda", "with", "try",
    "except", "finally", "raise", "del", "pass", "break", "continue", "global", "nonlocal",
    "yield", "assert", "async", "await", "elif", "as"};

static int word_in(const char *const *list, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && !memcmp(list[i], s, len))
            return 1;
    return 0;
}

int is_keyword(const char *s, size_t n) { return word_in(keywords, sizeof keywords / sizeof *keywords, s, n); }
int is_python_only_keyword(const char *s, size_t n)
{
    return word_in(python_only, sizeof python_only / sizeof *python_only, s, n);
}

static void fail(parser *p, size_t pos, int incomplete, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(parser *p, size_t pos, int incomplete, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    va_end(ap);
    clip_message(p->err->msg, sizeof p->err->msg, k);
    p->err->pos = pos;
    p->err->incomplete = incomplete;
}

static const token eof_tok = {.kind = T_EOF};

static const token *peek(parser *p) { return p->i < p->n ? &p->t[p->i] : &eof_tok; }
static const token *peek2(parser *p) { return p->i + 1 < p->n ? &p->t[p->i + 1] : &eof_tok; }

static size_t tok_pos(parser *p, const token *t)
{
    if (t->kind == T_EOF && t->pos == 0 && p->n > 0)
        return p->t[p->n - 1].end;
    return t->pos;
}

static int is_op(const token *t, int op) { return t->kind == T_OP && t->op == op; }
static int is_word(parser *p, const token *t, const char *w)
{
    return t->kind == T_NAME && t->end - t->pos == strlen(w) && !memcmp(p->src + t->pos, w, t->end - t->pos);
}

static node *new_node(parser *p, node_kind k, size_t pos, size_t end)
{
    node *n = calloc(1, sizeof *n);
    if (!n) {
        fail(p, pos, 0, "out of memory");
        return NULL;
    }
    n->kind = k;
    n->pos = pos;
    n->end = end;
    n->depth = 1;
    return n;
}

void node_free(node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    if (n->kw)
        for (size_t i = 0; i < n->nkids; i++)
            free(n->kw[i]);
    free(n->kids);
    free(n->kw);
    free(n->ops);
    free(n->s);
    free(n);
}

/* Room for item n of an array that holds n items: grown to twice its size
 * when n is 0 or a power of two, so a cell of 100,000 statements or a call
 * with thousands of arguments is not copied once per item. */
static void *grow(void *arr, size_t n, size_t elem)
{
    if (n & (n - 1))
        return arr;
    size_t cap = n ? 2 * n : 1;
    return cap > SIZE_MAX / elem ? NULL : realloc(arr, cap * elem);
}

static int add_kid(parser *p, node *n, node *kid)
{
    node **k = grow(n->kids, n->nkids, sizeof *k);
    if (!k) {
        node_free(kid);
        fail(p, n->pos, 0, "out of memory");
        return -1;
    }
    n->kids = k;
    n->kids[n->nkids++] = kid;
    if (kid && kid->depth + 1 > n->depth)
        n->depth = kid->depth + 1;
    if (n->depth > LANG_MAX_NODE_DEPTH) {
        fail(p, n->pos, 0, "expression too deeply nested (more than %d levels)", LANG_MAX_NODE_DEPTH);
        return -1;
    }
    return 0;
}

static node *binary(parser *p, node_kind k, int op, node *l, node *r)
{
    node *n = new_node(p, k, l->pos, r->end);
    if (!n) {
        node_free(l);
        node_free(r);
        return NULL;
    }
    n->op = op;
    if (add_kid(p, n, l) < 0) {
        node_free(r);
        node_free(n);
        return NULL;
    }
    if (add_kid(p, n, r) < 0) {
        node_free(n);
        return NULL;
    }
    return n;
}

static node *parse_expr(parser *p);

static int enter(parser *p)
{
    if (++p->depth > LANG_MAX_PARSE_DEPTH) {
        fail(p, tok_pos(p, peek(p)), 0, "expression too deeply nested (more than %d levels)",
             LANG_MAX_PARSE_DEPTH);
        return -1;
    }
    return 0;
}

static void unexpected(parser *p, const token *t)
{
    size_t pos = tok_pos(p, t);
    if (t->kind == T_EOF) {
        fail(p, pos, 1, "invalid syntax: the expression is not finished");
    } else if (t->kind == T_NEWLINE) {
        fail(p, pos, 0, "invalid syntax: the line ends before the expression is finished");
    } else if (t->kind == T_SEMI) {
        fail(p, pos, 0, "invalid syntax: unexpected ';'");
    } else if (t->kind == T_NAME && is_python_only_keyword(p->src + t->pos, t->end - t->pos)) {
        fail(p, pos, 0, "'%.*s' is not part of Ember's language (a statement is `name = expression` or an expression)",
             (int)(t->end - t->pos), p->src + t->pos);
    } else {
        fail(p, pos, 0, "invalid syntax");
    }
}

static int expect_op(parser *p, int op)
{
    const token *t = peek(p);
    if (is_op(t, op)) {
        p->i++;
        return 0;
    }
    if (t->kind == T_EOF)
        fail(p, tok_pos(p, t), 1, "invalid syntax: expected '%s'", op_text(op));
    else
        fail(p, tok_pos(p, t), 0, "invalid syntax: expected '%s'", op_text(op));
    return -1;
}

/* list display or call arguments: items until `close`. */
static node *parse_call(parser *p, node *callee)
{
    node *n = new_node(p, N_CALL, callee->pos, callee->end);
    if (!n) {
        node_free(callee);
        return NULL;
    }
    n->kw = calloc(1, sizeof *n->kw);
    if (!n->kw) {
        fail(p, n->pos, 0, "out of memory");
        node_free(callee);
        node_free(n);
        return NULL;
    }
    if (add_kid(p, n, callee) < 0)
        goto bad;
    p->i++; /* ( */
    int seen_kw = 0;
    while (!is_op(peek(p), OP_RPAR)) {
        char *kw = NULL;
        const token *t = peek(p);
        if (t->kind == T_NAME && is_op(peek2(p), OP_ASSIGN)) {
            size_t len = t->end - t->pos;
            if (is_keyword(p->src + t->pos, len)) {
                fail(p, t->pos, 0, "invalid syntax: '%.*s' cannot be a keyword argument", (int)len, p->src + t->pos);
                goto bad;
            }
            for (size_t k = 1; k < n->nkids; k++) {
                if (n->kw && n->kw[k] && strlen(n->kw[k]) == len && !memcmp(n->kw[k], p->src + t->pos, len)) {
                    fail(p, t->pos, 0, "keyword argument repeated: %.*s", (int)len, p->src + t->pos);
                    goto bad;
                }
            }
            kw = strndup(p->src + t->pos, len);
            if (!kw) {
                fail(p, t->pos, 0, "out of memory");
                goto bad;
            }
            p->i += 2;
            seen_kw = 1;
        } else if (is_op(t, OP_STAR)) {
            fail(p, t->pos, 0, "invalid syntax: '*' unpacking is not supported in calls");
            goto bad;
        } else if (seen_kw) {
            fail(p, t->pos, 0, "positional argument follows keyword argument");
            goto bad;
        }
        node *arg = parse_expr(p);
        if (!arg) {
            free(kw);
            goto bad;
        }
        char **kws = grow(n->kw, n->nkids, sizeof *kws);
        if (!kws) {
            free(kw);
            node_free(arg);
            fail(p, n->pos, 0, "out of memory");
            goto bad;
        }
        n->kw = kws;
        n->kw[n->nkids] = kw;
        size_t idx = n->nkids;
        if (add_kid(p, n, arg) < 0) {
            if (n->nkids <= idx)
                free(kw); /* not adopted by n */
            goto bad;
        }
        if (is_op(peek(p), OP_COMMA)) {
            p->i++;
            continue;
        }
        if (!is_op(peek(p), OP_RPAR)) {
            const token *u = peek(p);
            if (u->kind == T_EOF)
                fail(p, tok_pos(p, u), 1, "invalid syntax: expected ',' or ')'");
            else
                fail(p, tok_pos(p, u), 0, "invalid syntax: expected ',' or ')' (perhaps you forgot a comma?)");
            goto bad;
        }
    }
    n->end = peek(p)->end;
    p->i++;
    return n;
bad:
    node_free(n);
    return NULL;
}

static node *parse_index(parser *p, node *obj)
{
    size_t open = peek(p)->pos;
    (void)open;
    p->i++; /* [ */
    node *parts[3] = {NULL, NULL, NULL};
    int nparts = 1, slice = 0;
    for (;;) {
        const token *t = peek(p);
        if (is_op(t, OP_COLON)) {
            if (nparts == 3) {
                fail(p, t->pos, 0, "invalid syntax: too many ':' in a slice");
                goto bad;
            }
            slice = 1;
            nparts++;
            p->i++;
            continue;
        }
        if (is_op(t, OP_RSQB))
            break;
        if (parts[nparts - 1]) {
            if (is_op(t, OP_COMMA))
                fail(p, t->pos, 0, "invalid syntax: only one index is supported (x[i], or a slice x[a:b])");
            else
                fail(p, tok_pos(p, t), t->kind == T_EOF, "invalid syntax: expected ']'");
            goto bad;
        }
        parts[nparts - 1] = parse_expr(p);
        if (!parts[nparts - 1])
            goto bad;
    }
    size_t end = peek(p)->end;
    p->i++;
    if (!slice && !parts[0]) {
        fail(p, end - 1, 0, "invalid syntax: an index is needed between '[' and ']'");
        goto bad;
    }
    node *n = new_node(p, slice ? N_SLICE : N_INDEX, obj->pos, end);
    if (!n)
        goto bad;
    if (add_kid(p, n, obj) < 0) {
        obj = NULL;
        node_free(n);
        goto bad;
    }
    obj = NULL;
    int count = slice ? 3 : 1;
    for (int k = 0; k < count; k++) {
        node *part = parts[k];
        parts[k] = NULL;
        if (add_kid(p, n, part) < 0) {
            node_free(n);
            goto bad;
        }
    }
    return n;
bad:
    node_free(obj);
    for (int k = 0; k < 3; k++)
        node_free(parts[k]);
    return NULL;
}

static node *parse_list(parser *p)
{
    const token *t = peek(p);
    node *n = new_node(p, N_LIST, t->pos, t->end);
    if (!n)
        return NULL;
    p->i++;
    while (!is_op(peek(p), OP_RSQB)) {
        node *item = parse_expr(p);
        if (!item || add_kid(p, n, item) < 0) {
            node_free(n);
            return NULL;
        }
        if (is_op(peek(p), OP_COMMA)) {
            p->i++;
            continue;
        }
        if (!is_op(peek(p), OP_RSQB)) {
            const token *u = peek(p);
            fail(p, tok_pos(p, u), u->kind == T_EOF,
                 u->kind == T_EOF ? "invalid syntax: expected ',' or ']'"
                                  : "invalid syntax: expected ',' or ']' (perhaps you forgot a comma?)");
            node_free(n);
            return NULL;
        }
    }
    n->end = peek(p)->end;
    p->i++;
    return n;
}

static node *parse_atom(parser *p)
{
    const token *t = peek(p);
    node *n = NULL;
    switch (t->kind) {
    case T_INT:
        n = new_node(p, N_INT, t->pos, t->end);
        if (n)
            n->ival = t->ival;
        p->i++;
        return n;
    case T_FLOAT:
        n = new_node(p, N_FLOAT, t->pos, t->end);
        if (n)
            n->fval = t->fval;
        p->i++;
        return n;
    case T_STR: {
        /* adjacent literals concatenate, as in Python */
        strbuf b = {0};
        size_t pos = t->pos, end = t->end;
        while (peek(p)->kind == T_STR) {
            const token *s = peek(p);
            sb_add(&b, s->sval, s->slen);
            end = s->end;
            p->i++;
        }
        if (b.oom) {
            free(b.p);
            fail(p, pos, 0, "out of memory");
            return NULL;
        }
        n = new_node(p, N_STR, pos, end);
        if (!n) {
            free(b.p);
            return NULL;
        }
        n->slen = b.len;
        n->s = b.p ? b.p : calloc(1, 1);
        if (!n->s) {
            node_free(n);
            fail(p, pos, 0, "out of memory");
            return NULL;
        }
        return n;
    }
    case T_NAME: {
        const char *s = p->src + t->pos;
        size_t len = t->end - t->pos;
        node_kind k = N_NAME;
        if ((len == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4))))
            k = N_TRUE;
        else if (len == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5)))
            k = N_FALSE;
        else if (len == 4 && (!memcmp(s, "none", 4) || !memcmp(s, "None", 4)))
            k = N_NONE;
        else if (is_keyword(s, len) || is_python_only_keyword(s, len)) {
            unexpected(p, t);
            return NULL;
        }
        n = new_node(p, k, t->pos, t->end);
        if (!n)
            return NULL;
        if (k == N_NAME) {
            n->s = strndup(s, len);
            n->slen = len;
            if (!n->s) {
                node_free(n);
                fail(p, t->pos, 0, "out of memory");
                return NULL;
            }
        }
        p->i++;
        return n;
    }
    case T_OP:
        if (t->op == OP_LPAR) {
            size_t pos = t->pos;
            p->i++;
            if (is_op(peek(p), OP_RPAR)) {
                fail(p, pos, 0, "invalid syntax: '()' is empty (tuples are not supported)");
                return NULL;
            }
            n = parse_expr(p);
            if (!n)
                return NULL;
            if (is_op(peek(p), OP_COMMA)) {
                fail(p, peek(p)->pos, 0, "invalid syntax: tuples are not supported (use a list [a, b])");
                node_free(n);
                return NULL;
            }
            size_t close_end = peek(p)->end;
            if (expect_op(p, OP_RPAR) < 0) {
                node_free(n);
                return NULL;
            }
            /* carets under a parenthesised operand cover its parentheses */
            n->pos = pos;
            n->end = close_end;
            return n;
        }
        if (t->op == OP_LSQB)
            return parse_list(p);
        if (t->op == OP_LBRACE) {
            fail(p, t->pos, 0, "invalid syntax: dictionaries and sets are not supported");
            return NULL;
        }
        unexpected(p, t);
        return NULL;
    default:
        unexpected(p, t);
        return NULL;
    }
}

static node *parse_primary(parser *p)
{
    node *n = parse_atom(p);
    while (n) {
        const token *t = peek(p);
        if (is_op(t, OP_LPAR)) {
            n = parse_call(p, n);
        } else if (is_op(t, OP_LSQB)) {
            n = parse_index(p, n);
        } else if (is_op(t, OP_DOT)) {
            const token *name = peek2(p);
            if (name->kind != T_NAME) {
                fail(p, tok_pos(p, name), name->kind == T_EOF, "invalid syntax: expected an attribute name after '.'");
                node_free(n);
                return NULL;
            }
            node *a = new_node(p, N_ATTR, n->pos, name->end);
            if (!a) {
                node_free(n);
                return NULL;
            }
            a->s = strndup(p->src + name->pos, name->end - name->pos);
            a->slen = name->end - name->pos;
            a->name_pos = name->pos;
            if (!a->s) {
                fail(p, name->pos, 0, "out of memory");
                node_free(a);
                node_free(n);
                return NULL;
            }
            if (add_kid(p, a, n) < 0) {
                node_free(a);
                return NULL;
            }
            n = a;
            p->i += 2;
        } else {
            break;
        }
    }
    return n;
}

static node *parse_unary(parser *p);

static node *parse_power(parser *p)
{
    node *base = parse_primary(p);
    if (!base)
        return NULL;
    if (is_op(peek(p), OP_POW)) {
        p->i++;
        node *exp = parse_unary(p); /* right-associative; 2**-1 works */
        if (!exp) {
            node_free(base);
            return NULL;
        }
        return binary(p, N_BINARY, OP_POW, base, exp);
    }
    return base;
}

static node *parse_unary(parser *p)
{
    const token *t = peek(p);
    if (is_op(t, OP_MINUS) || is_op(t, OP_PLUS)) {
        if (enter(p) < 0)
            return NULL;
        p->i++;
        node *x = parse_unary(p);
        p->depth--;
        if (!x)
            return NULL;
        node *n = new_node(p, N_UNARY, t->pos, x->end);
        if (!n) {
            node_free(x);
            return NULL;
        }
        n->op = t->op;
        if (add_kid(p, n, x) < 0) {
            node_free(n);
            return NULL;
        }
        return n;
    }
    return parse_power(p);
}

static node *parse_mul(parser *p)
{
    node *l = parse_unary(p);
    while (l) {
        const token *t = peek(p);
        if (!(is_op(t, OP_STAR) || is_op(t, OP_SLASH) || is_op(t, OP_DSLASH) || is_op(t, OP_PERCENT)))
            break;
        p->i++;
        node *r = parse_unary(p);
        if (!r) {
            node_free(l);
            return NULL;
        }
        l = binary(p, N_BINARY, t->op, l, r);
    }
    return l;
}

static node *parse_add(parser *p)
{
    node *l = parse_mul(p);
    while (l) {
        const token *t = peek(p);
        if (!(is_op(t, OP_PLUS) || is_op(t, OP_MINUS)))
            break;
        p->i++;
        node *r = parse_mul(p);
        if (!r) {
            node_free(l);
            return NULL;
        }
        l = binary(p, N_BINARY, t->op, l, r);
    }
    return l;
}

static int comparison_op(parser *p, int *op, int *ntoks)
{
    const token *t = peek(p);
    *ntoks = 1;
    if (t->kind == T_OP) {
        switch (t->op) {
        case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE:
            *op = t->op;
            return 1;
        default:
            return 0;
        }
    }
    if (is_word(p, t, "in")) {
        *op = OP_IN;
        return 1;
    }
    if (is_word(p, t, "not") && is_word(p, peek2(p), "in")) {
        *op = OP_NOT_IN;
        *ntoks = 2;
        return 1;
    }
    if (is_word(p, t, "is")) {
        fail(p, t->pos, 0, "'is' is not supported in Ember: use == or !=");
        return -1;
    }
    return 0;
}

static node *parse_compare(parser *p)
{
    node *first = parse_add(p);
    if (!first)
        return NULL;
    int op, nt;
    int rc = comparison_op(p, &op, &nt);
    if (rc <= 0) {
        if (rc < 0) {
            node_free(first);
            return NULL;
        }
        return first;
    }
    node *n = new_node(p, N_COMPARE, first->pos, first->end);
    if (!n) {
        node_free(first);
        return NULL;
    }
    if (add_kid(p, n, first) < 0) {
        node_free(n);
        return NULL;
    }
    while ((rc = comparison_op(p, &op, &nt)) > 0) {
        p->i += (size_t)nt;
        int *ops2 = realloc(n->ops, n->nkids * sizeof *ops2);
        if (!ops2) {
            fail(p, n->pos, 0, "out of memory");
            node_free(n);
            return NULL;
        }
        n->ops = ops2;
        n->ops[n->nkids - 1] = op;
        node *r = parse_add(p);
        if (!r || add_kid(p, n, r) < 0) {
            node_free(n);
            return NULL;
        }
        n->end = r->end;
    }
    if (rc < 0) {
        node_free(n);
        return NULL;
    }
    return n;
}

static node *parse_not(parser *p)
{
    const token *t = peek(p);
    if (is_word(p, t, "not")) {
        if (enter(p) < 0)
            return NULL;
        p->i++;
        node *x = parse_not(p);
        p->depth--;
        if (!x)
            return NULL;
        node *n = new_node(p, N_NOT, t->pos, x->end);
        if (!n) {
            node_free(x);
            return NULL;
        }
        if (add_kid(p, n, x) < 0) {
            node_free(n);
            return NULL;
        }
        return n;
    }
    return parse_compare(p);
}

static node *parse_and(parser *p)
{
    node *l = parse_not(p);
    while (l && is_word(p, peek(p), "and")) {
        p->i++;
        node *r = parse_not(p);
        if (!r) {
            node_free(l);
            return NULL;
        }
        l = binary(p, N_AND, OP_AND, l, r);
    }
    return l;
}

static node *parse_or(parser *p)
{
    node *l = parse_and(p);
    while (l && is_word(p, peek(p), "or")) {
        p->i++;
        node *r = parse_and(p);
        if (!r) {
            node_free(l);
            return NULL;
        }
        l = binary(p, N_OR, OP_OR, l, r);
    }
    return l;
}

static node *parse_expr(parser *p)
{
    if (enter(p) < 0)
        return NULL;
    node *body = parse_or(p);
    if (body && is_word(p, peek(p), "if")) {
        p->i++;
        node *cond = parse_or(p);
        node *other = NULL;
        if (cond) {
            const token *t = peek(p);
            if (!is_word(p, t, "else")) {
                fail(p, tok_pos(p, t), t->kind == T_EOF, "invalid syntax: expected 'else' after 'if' condition");
            } else {
                p->i++;
                other = parse_expr(p);
            }
        }
        if (!cond || !other) {
            node_free(body);
            node_free(cond);
            node_free(other);
            p->depth--;
            return NULL;
        }
        node *n = new_node(p, N_IFEXP, body->pos, other->end);
        if (!n || add_kid(p, n, body) < 0) {
            if (!n)
                node_free(body);
            node_free(n);
            node_free(cond);
            node_free(other);
            p->depth--;
            return NULL;
        }
        if (add_kid(p, n, cond) < 0) {
            node_free(n);
            node_free(other);
            p->depth--;
            return NULL;
        }
        if (add_kid(p, n, other) < 0) {
            node_free(n);
            p->depth--;
            return NULL;
        }
        body = n;
    }
    p->depth--;
    return body;
}

static int stmt_end(const token *t) { return t->kind == T_NEWLINE || t->kind == T_SEMI || t->kind == T_EOF; }

static int parse_stmt(parser *p, stmt *s)
{
    memset(s, 0, sizeof *s);
    const token *t = peek(p);
    s->pos = t->pos;
    if (t->kind == T_NAME && is_op(peek2(p), OP_ASSIGN)) {
        const char *name = p->src + t->pos;
        size_t len = t->end - t->pos;
        if (is_keyword(name, len) || is_python_only_keyword(name, len)) {
            fail(p, t->pos, 0, "cannot assign to '%.*s': it is a keyword", (int)len, name);
            return -1;
        }
        s->name = strndup(name, len);
        if (!s->name) {
            fail(p, t->pos, 0, "out of memory");
            return -1;
        }
        s->name_pos = t->pos;
        p->i += 2;
    }
    s->expr = parse_expr(p);
    if (!s->expr) {
        free(s->name);
        s->name = NULL;
        return -1;
    }
    const token *e = peek(p);
    if (!stmt_end(e)) {
        if (is_op(e, OP_ASSIGN)) {
            if (s->name)
                fail(p, e->pos, 0, "invalid syntax: chained assignment (a = b = 1) is not supported");
            else
                fail(p, e->pos, 0, "cannot assign to an expression here: only `name = expression` is supported");
        } else if (e->kind == T_OP && (e->op == OP_RPAR || e->op == OP_RSQB || e->op == OP_RBRACE)) {
            fail(p, e->pos, 0, "unmatched '%s'", op_text(e->op));
        } else if ((e->kind == T_NAME || e->kind == T_INT || e->kind == T_FLOAT || e->kind == T_STR) &&
                   s->expr->kind == N_NAME && !s->name && is_op(peek2(p), OP_ASSIGN) == 0) {
            fail(p, e->pos, 0, "invalid syntax (perhaps a missing operator or comma?)");
        } else {
            fail(p, e->pos, 0, "invalid syntax");
        }
        node_free(s->expr);
        free(s->name);
        memset(s, 0, sizeof *s);
        return -1;
    }
    s->end = s->expr->end;
    return 0;
}

void program_free(program *prog)
{
    for (size_t i = 0; i < prog->n; i++) {
        free(prog->stmts[i].name);
        node_free(prog->stmts[i].expr);
    }
    free(prog->stmts);
    memset(prog, 0, sizeof *prog);
}

int parse_tokens(const char *src, const token *toks, size_t ntoks, program *out, parse_error *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    parser p = {.src = src, .t = toks, .n = ntoks, .err = err};
    int last_semi = 0;
    for (;;) {
        const token *t = peek(&p);
        if (t->kind == T_EOF)
            break;
        if (t->kind == T_NEWLINE) {
            p.i++;
            last_semi = 0;
            continue;
        }
        if (t->kind == T_SEMI) {
            if (!last_semi) {
                fail(&p, t->pos, 0, "invalid syntax: ';' must follow a statement");
                break;
            }
            last_semi = 0;
            p.i++;
            continue;
        }
        stmt s;
        if (parse_stmt(&p, &s) < 0)
            break;
        stmt *ns = grow(out->stmts, out->n, sizeof *ns);
        if (!ns) {
            free(s.name);
            node_free(s.expr);
            fail(&p, t->pos, 0, "out of memory");
            break;
        }
        out->stmts = ns;
        out->stmts[out->n++] = s;
        out->suppress = 0;
        last_semi = 0;
        if (peek(&p)->kind == T_SEMI) {
            out->suppress = 1;
            p.i++;
            /* "a; b" and "a;" are fine, "a;;" is not */
            if (peek(&p)->kind == T_SEMI) {
                fail(&p, peek(&p)->pos, 0, "invalid syntax: ';' must follow a statement");
                break;
            }
        }
    }
    if (p.failed) {
        program_free(out);
        return -1;
    }
    return 0;
}

int parse_program(const char *src, size_t n, program *out, parse_error *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    lex_result lr;
    lex_error le;
    if (lex(src, n, 0, &lr, &le) < 0) {
        snprintf(err->msg, sizeof err->msg, "%s", le.msg);
        err->pos = le.pos;
        err->incomplete = le.incomplete;
        lex_free(&lr);
        return -1;
    }
    int rc = parse_tokens(src, lr.toks, lr.n, out, err);
    lex_free(&lr);
    return rc;
}

node *parse_expression_tokens(const char *src, const token *toks, size_t ntoks, parse_error *err)
{
    memset(err, 0, sizeof *err);
    parser p = {.src = src, .t = toks, .n = ntoks, .err = err};
    while (p.n > 0 && (p.t[p.n - 1].kind == T_EOF || p.t[p.n - 1].kind == T_NEWLINE))
        p.n--;
    while (p.i < p.n && p.t[p.i].kind == T_NEWLINE)
        p.i++;
    node *e = parse_expr(&p);
    if (e && p.i < p.n) {
        const token *t = peek(&p);
        if (t->kind == T_OP && (t->op == OP_RPAR || t->op == OP_RSQB))
            fail(&p, t->pos, 0, "unmatched '%s'", op_text(t->op));
        else if (is_op(t, OP_ASSIGN))
            fail(&p, t->pos, 0, "invalid syntax: an expression is expected here, not an assignment");
        else
            fail(&p, t->pos, 0, "invalid syntax");
        node_free(e);
        return NULL;
    }
    if (!e && !p.failed)
        fail(&p, 0, 0, "invalid syntax");
    return e;
}

node *parse_expression(const char *src, size_t n, parse_error *err)
{
    lex_result lr;
    lex_error le;
    memset(err, 0, sizeof *err);
    if (lex(src, n, 0, &lr, &le) < 0) {
        snprintf(err->msg, sizeof err->msg, "%s", le.msg);
        err->pos = le.pos;
        err->incomplete = le.incomplete;
        lex_free(&lr);
        return NULL;
    }
    size_t k = lr.n;
    while (k > 0 && (lr.toks[k - 1].kind == T_EOF || lr.toks[k - 1].kind == T_NEWLINE))
        k--;
    node *e = NULL;
    if (k == 0) {
        snprintf(err->msg, sizeof err->msg, "invalid syntax: the expression is empty");
        err->pos = 0;
    } else {
        for (size_t i = 0; i < k; i++) {
            if (lr.toks[i].kind == T_SEMI || (lr.toks[i].kind == T_NEWLINE && i > 0)) {
                int trailing = 1;
                for (size_t j = i; j < k; j++)
                    if (lr.toks[j].kind != T_NEWLINE)
                        trailing = 0;
                if (!trailing) {
                    snprintf(err->msg, sizeof err->msg, "invalid syntax: one expression is expected");
                    err->pos = lr.toks[i].pos;
                    lex_free(&lr);
                    return NULL;
                }
            }
        }
        e = parse_expression_tokens(src, lr.toks, k, err);
    }
    lex_free(&lr);
    return e;
}
