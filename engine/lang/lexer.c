/* lexer.c — turns cell source into tokens: numbers, strings (with escapes,
 * triple quotes), names, operators, statement separators. Newlines inside
 * brackets are not statement ends; brackets are matched here so that errors
 * like "unmatched ')'" point at the right character. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *text;
    int op;
} ops[] = {
    /* longest first */
    {"**", OP_POW}, {"//", OP_DSLASH}, {"==", OP_EQ}, {"!=", OP_NE},
    {"<=", OP_LE},  {">=", OP_GE},     {"(", OP_LPAR}, {")", OP_RPAR},
    {"[", OP_LSQB}, {"]", OP_RSQB},    {"{", OP_LBRACE}, {"}", OP_RBRACE},
    {",", OP_COMMA}, {".", OP_DOT},    {":", OP_COLON}, {"=", OP_ASSIGN},
    {"+", OP_PLUS}, {"-", OP_MINUS},   {"*", OP_STAR}, {"/", OP_SLASH},
    {"%", OP_PERCENT}, {"<", OP_LT},   {">", OP_GT},
};

const char *op_text(int op)
{
    switch (op) {
    case OP_IN: return "in";
    case OP_NOT_IN: return "not in";
    case OP_NOT: return "not";
    case OP_AND: return "and";
    case OP_OR: return "or";
    default: break;
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ops[i].op == op)
            return ops[i].text;
    return "?";
}

static int set_err(lex_error *err, size_t pos, int incomplete, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int set_err(lex_error *err, size_t pos, int incomplete, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    clip_message(err->msg, sizeof err->msg, k);
    err->pos = pos;
    err->incomplete = incomplete;
    return -1;
}

static token *push(lex_result *r, tok_kind kind, size_t pos, size_t end)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        token *t = realloc(r->toks, cap * sizeof *t);
        if (!t)
            return NULL;
        r->toks = t;
        r->cap = cap;
    }
    token *t = &r->toks[r->n++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->pos = pos;
    t->end = end;
    return t;
}

void lex_free(lex_result *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->toks[i].sval);
    free(r->toks);
    memset(r, 0, sizeof *r);
}

static int is_name_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_name_char(int c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int line_of(const char *src, size_t pos)
{
    int l, c;
    src_line_col(src, pos, &l, &c);
    return l;
}

/* Decodes a string literal starting at src[i] (the opening quote). */
static int lex_string(const char *src, size_t n, size_t start, size_t *ip, int raw,
                      int tolerant, lex_result *r, lex_error *err)
{
    size_t i = *ip;
    char q = src[i];
    int triple = i + 2 < n && src[i + 1] == q && src[i + 2] == q;
    i += triple ? 3 : 1;
    strbuf b = {0};
    for (;;) {
        if (i >= n) {
            free(b.p);
            if (tolerant) {
                r->in_string = 1;
                *ip = n;
                return 1;
            }
            if (triple)
                return set_err(err, start, 1, "unterminated triple-quoted string literal (detected at line %d)",
                               line_of(src, n));
            return set_err(err, start, 0, "unterminated string literal (detected at line %d)",
                           line_of(src, start));
        }
        char c = src[i];
        if (c == q && (!triple || (i + 2 < n && src[i + 1] == q && src[i + 2] == q))) {
            i += triple ? 3 : 1;
            break;
        }
        if (c == '\n' && !triple) {
            free(b.p);
            if (tolerant) {
                /* half-typed line: carry on with the next one */
                r->in_string = 0;
                *ip = i;
                return 2;
            }
            return set_err(err, start, 0, "unterminated string literal (detected at line %d)",
                           line_of(src, start));
        }
        if (c == '\\' && i + 1 >= n) {
            free(b.p);
            if (tolerant) {
                r->in_string = 1;
                *ip = n;
                return 1;
            }
            return set_err(err, start, 1, "unterminated string literal (detected at line %d)",
                           line_of(src, start));
        }
        if (c == '\\' && raw) {
            /* raw: the backslash stays, and the next character is taken as is */
            sb_add(&b, src + i, 2);
            i += 2;
            continue;
        }
        if (c == '\\') {
            char e = src[i + 1];
            size_t at = i;
            i += 2;
            switch (e) {
            case '\n': break;
            case '\\': sb_add(&b, "\\", 1); break;
            case '\'': sb_add(&b, "'", 1); break;
            case '"': sb_add(&b, "\"", 1); break;
            case 'n': sb_add(&b, "\n", 1); break;
            case 't': sb_add(&b, "\t", 1); break;
            case 'r': sb_add(&b, "\r", 1); break;
            case 'a': sb_add(&b, "\a", 1); break;
            case 'b': sb_add(&b, "\b", 1); break;
            case 'f': sb_add(&b, "\f", 1); break;
            case 'v': sb_add(&b, "\v", 1); break;
            case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
                uint32_t v = (uint32_t)(e - '0');
                for (int k = 0; k < 2 && i < n && src[i] >= '0' && src[i] <= '7'; k++)
                    v = v * 8 + (uint32_t)(src[i++] - '0');
                char u[4];
                sb_add(&b, u, utf8_encode(v, u));
                break;
            }
            case 'x': case 'u': case 'U': {
                int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                uint32_t v = 0;
                for (int k = 0; k < digits; k++) {
                    int h = i < n ? hexval((unsigned char)src[i]) : -1;
                    if (h < 0) {
                        free(b.p);
                        return set_err(err, at, 0, "truncated \\%c escape: it needs %d hex digits",
                                       e, digits);
                    }
                    v = v * 16 + (uint32_t)h;
                    i++;
                }
                if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
                    free(b.p);
                    return set_err(err, at, 0, "\\%c escape: U+%04X is not a valid code point", e,
                                   (unsigned)v);
                }
                char u[4];
                sb_add(&b, u, utf8_encode(v, u));
                break;
            }
            default:
                /* like Python: an unknown escape keeps its backslash */
                sb_add(&b, src + at, 2);
                break;
            }
            continue;
        }
        sb_add(&b, &src[i], 1);
        i++;
    }
    if (b.oom || !b.p) {
        if (b.oom) {
            free(b.p);
            return set_err(err, start, 0, "out of memory reading a string literal");
        }
        b.p = calloc(1, 1);
        if (!b.p)
            return set_err(err, start, 0, "out of memory reading a string literal");
    }
    token *t = push(r, T_STR, start, i);
    if (!t) {
        free(b.p);
        return set_err(err, start, 0, "out of memory");
    }
    t->slen = b.len;
    t->sval = b.p;
    *ip = i;
    return 0;
}

static int lex_number(const char *src, size_t n, size_t *ip, lex_result *r, lex_error *err)
{
    size_t i = *ip, start = i;
    char buf[128];
    size_t bl = 0;
    int is_float = 0;
    /* 0x, 0o, 0b */
    if (src[i] == '0' && i + 1 < n && strchr("xXoObB", src[i + 1]) && src[i + 1]) {
        int base = (src[i + 1] == 'x' || src[i + 1] == 'X') ? 16 : (src[i + 1] == 'o' || src[i + 1] == 'O') ? 8 : 2;
        i += 2;
        uint64_t v = 0;
        int nd = 0;
        for (; i < n; i++) {
            int c = (unsigned char)src[i];
            if (c == '_' && nd > 0 && i + 1 < n && hexval((unsigned char)src[i + 1]) >= 0)
                continue;
            int h = hexval(c);
            if (h < 0 || h >= base)
                break;
            if (v > (UINT64_MAX - (uint64_t)h) / (uint64_t)base || v * (uint64_t)base + (uint64_t)h > INT64_MAX)
                return set_err(err, start, 0, "integer literal too large (ints are 64-bit)");
            v = v * (uint64_t)base + (uint64_t)h;
            nd++;
        }
        if (nd == 0 || (i < n && is_name_char((unsigned char)src[i])))
            return set_err(err, start, 0, "invalid %s literal",
                           base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary");
        token *t = push(r, T_INT, start, i);
        if (!t)
            return set_err(err, start, 0, "out of memory");
        t->ival = (int64_t)v;
        *ip = i;
        return 0;
    }
#define TAKE_DIGITS()                                                                   \
    do {                                                                                \
        while (i < n && ((src[i] >= '0' && src[i] <= '9') ||                            \
                         (src[i] == '_' && i > start && src[i - 1] >= '0' &&            \
                          src[i - 1] <= '9' && i + 1 < n && src[i + 1] >= '0' &&        \
                          src[i + 1] <= '9'))) {                                        \
            if (src[i] != '_' && bl < sizeof buf - 1)                                   \
                buf[bl++] = src[i];                                                     \
            i++;                                                                        \
        }                                                                               \
    } while (0)
    TAKE_DIGITS();
    if (i < n && src[i] == '.') {
        is_float = 1;
        buf[bl++] = '.';
        i++;
        if (i < n && src[i] >= '0' && src[i] <= '9')
            TAKE_DIGITS();
    }
    if (i < n && (src[i] == 'e' || src[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (src[j] == '+' || src[j] == '-'))
            j++;
        if (j < n && src[j] >= '0' && src[j] <= '9') {
            is_float = 1;
            if (bl < sizeof buf - 1)
                buf[bl++] = 'e';
            if ((src[i + 1] == '+' || src[i + 1] == '-') && bl < sizeof buf - 1)
                buf[bl++] = src[i + 1];
            i = j;
            TAKE_DIGITS();
        } else {
            return set_err(err, start, 0, "invalid decimal literal");
        }
    }
#undef TAKE_DIGITS
    if (i < n && is_name_char((unsigned char)src[i]))
        return set_err(err, start, 0, "invalid decimal literal");
    if (bl >= sizeof buf - 1)
        return set_err(err, start, 0, "numeric literal too long");
    buf[bl] = 0;
    if (is_float) {
        token *t = push(r, T_FLOAT, start, i);
        if (!t)
            return set_err(err, start, 0, "out of memory");
        t->fval = strtod(buf, NULL);
    } else {
        if (bl > 1 && buf[0] == '0') {
            for (size_t k = 0; k < bl; k++)
                if (buf[k] != '0')
                    return set_err(err, start, 0,
                                   "leading zeros in decimal integer literals are not permitted");
        }
        errno = 0;
        char *endp;
        unsigned long long v = strtoull(buf, &endp, 10);
        if (errno == ERANGE || v > (unsigned long long)INT64_MAX)
            return set_err(err, start, 0, "integer literal too large (ints are 64-bit; write it as a float, e.g. %se0)",
                           bl < 40 ? buf : "1");
        token *t = push(r, T_INT, start, i);
        if (!t)
            return set_err(err, start, 0, "out of memory");
        t->ival = (int64_t)v;
    }
    *ip = i;
    return 0;
}

/* A NUL can come from a front end (JSON allows U+0000). Inside a string
 * literal it is a character like any other; anywhere else it is surely a
 * mistake, and has to be named, since it is invisible in the cell. */
static int nul_error(lex_error *err, size_t pos)
{
    return set_err(err, pos, 0,
                   "invalid character: a NUL (U+0000) can only appear inside a string literal "
                   "(write it there as '\\0')");
}

static int closing_of(int op) { return op == OP_LPAR ? OP_RPAR : op == OP_LSQB ? OP_RSQB : OP_RBRACE; }

int lex(const char *src, size_t n, int tolerant, lex_result *r, lex_error *err)
{
    memset(r, 0, sizeof *r);
    memset(err, 0, sizeof *err);
    size_t bad;
    if (!utf8_valid(src, n, &bad)) {
        set_err(err, bad, 0, "invalid UTF-8 in the source (byte 0x%02X)", (unsigned char)src[bad]);
        if (!tolerant)
            return -1;
        n = bad; /* tolerant: look only at the valid part */
    }
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)src[i];
        r->continued = 0;
        if (c == ' ' || c == '\t' || c == '\f' || c == '\r') {
            i++;
            continue;
        }
        if (c == '#') {
            while (i < n && src[i] != '\n') {
                if (!src[i])
                    return nul_error(err, i);
                i++;
            }
            continue;
        }
        if (c == 0)
            return nul_error(err, i);
        if (c == '\\') {
            size_t j = i + 1;
            if (j < n && src[j] == '\r')
                j++;
            if (j >= n) {
                r->continued = 1;
                if (tolerant) {
                    i = n;
                    break;
                }
                return set_err(err, i, 1, "unexpected end of input after line continuation character");
            }
            if (src[j] != '\n')
                return set_err(err, i, 0, "unexpected character after line continuation character");
            i = j + 1;
            if (i >= n) {
                r->continued = 1;
                if (tolerant)
                    break;
                return set_err(err, j, 1, "unexpected end of input after line continuation character");
            }
            continue;
        }
        if (c == '\n') {
            if (r->depth == 0 && !push(r, T_NEWLINE, i, i + 1))
                return set_err(err, i, 0, "out of memory");
            i++;
            continue;
        }
        if (c == ';') {
            if (!push(r, T_SEMI, i, i + 1))
                return set_err(err, i, 0, "out of memory");
            i++;
            continue;
        }
        if (c == '\'' || c == '"') {
            int rc = lex_string(src, n, i, &i, 0, tolerant, r, err);
            if (rc < 0)
                return -1;
            if (rc == 1)
                break;
            continue;
        }
        if (is_name_start(c)) {
            size_t start = i;
            while (i < n && is_name_char((unsigned char)src[i]))
                i++;
            size_t len = i - start;
            if (i < n && (src[i] == '\'' || src[i] == '"') && len <= 2) {
                /* a string prefix */
                char p[3] = {0};
                for (size_t k = 0; k < len; k++)
                    p[k] = (char)(src[start + k] | 0x20);
                if (!strcmp(p, "r") || !strcmp(p, "u")) {
                    int rc = lex_string(src, n, start, &i, p[0] == 'r', tolerant, r, err);
                    if (rc < 0)
                        return -1;
                    if (rc == 1)
                        break;
                    continue;
                }
                if (strchr(p, 'f') || strchr(p, 'b'))
                    return set_err(err, start, 0, "%s-strings are not supported in Ember (use str.format or +)",
                                   strchr(p, 'f') ? "f" : "bytes");
            }
            if (!push(r, T_NAME, start, i))
                return set_err(err, start, 0, "out of memory");
            continue;
        }
        if ((c >= '0' && c <= '9') || (c == '.' && i + 1 < n && src[i + 1] >= '0' && src[i + 1] <= '9')) {
            if (lex_number(src, n, &i, r, err) < 0)
                return -1;
            continue;
        }
        int op = 0;
        size_t oplen = 0;
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
            size_t l = strlen(ops[k].text);
            if (i + l <= n && !memcmp(src + i, ops[k].text, l)) {
                op = ops[k].op;
                oplen = l;
                break;
            }
        }
        if (!op) {
            uint32_t cp;
            size_t k = utf8_decode(src + i, n - i, &cp);
            if (c < 0x80 && strchr("!@&|^~$?`", c))
                return set_err(err, i, 0, "invalid syntax: '%c' is not an Ember operator", c);
            return set_err(err, i, 0, "invalid character '%.*s' (U+%04X)", (int)k, src + i, (unsigned)cp);
        }
        if (op == OP_LPAR || op == OP_LSQB || op == OP_LBRACE) {
            if (r->depth >= LANG_MAX_BRACKETS)
                return set_err(err, i, 0, "too many nested parentheses (the limit is %d)", LANG_MAX_BRACKETS);
            r->open_ops[r->depth] = op;
            r->open_pos[r->depth] = i;
            r->depth++;
        } else if (op == OP_RPAR || op == OP_RSQB || op == OP_RBRACE) {
            if (r->depth == 0)
                return set_err(err, i, 0, "unmatched '%s'", op_text(op));
            int open = r->open_ops[r->depth - 1];
            if (closing_of(open) != op) {
                int l, col;
                src_line_col(src, r->open_pos[r->depth - 1], &l, &col);
                return set_err(err, i, 0, "closing parenthesis '%s' does not match opening parenthesis '%s'%s",
                               op_text(op), op_text(open), l == line_of(src, i) ? "" : " on an earlier line");
            }
            r->depth--;
        }
        token *t = push(r, T_OP, i, i + oplen);
        if (!t)
            return set_err(err, i, 0, "out of memory");
        t->op = op;
        i += oplen;
    }
    if (r->depth > 0 && !tolerant)
        return set_err(err, r->open_pos[r->depth - 1], 1, "'%s' was never closed",
                       op_text(r->open_ops[r->depth - 1]));
    if (!push(r, T_EOF, n, n))
        return set_err(err, n, 0, "out of memory");
    return err->msg[0] ? -1 : 0;
}
