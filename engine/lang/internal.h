/* internal.h — declarations shared by the files of engine/lang/ only:
 * tokens, syntax tree, parser, evaluator state, the builtin context, UTF-8
 * helpers and name suggestions. Nothing outside engine/lang/ includes it
 * (tests do, to test the pieces one by one). */
#ifndef EMBER_LANG_INTERNAL_H
#define EMBER_LANG_INTERNAL_H

#include "lang.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting limits: keep every recursion (parser, evaluator, repr, free) far
 * from the end of a thread's stack, whatever the input. */
#define LANG_MAX_BRACKETS 200   /* open brackets at once */
#define LANG_MAX_PARSE_DEPTH 1000
#define LANG_MAX_NODE_DEPTH 1000
#define LANG_MAX_LIST_DEPTH 1000
#ifndef LANG_MAX_BYTES
#define LANG_MAX_BYTES ((size_t)1 << 30) /* largest string or list (bytes) built */
#endif

/* ---- UTF-8 (utf8.c) ---- */
/* Decodes one code point at s[0..n); invalid bytes decode as one U+FFFD each
 * so every byte string has a well-defined code point count. Returns bytes used. */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);
size_t utf8_encode(uint32_t cp, char out[4]);
int utf8_valid(const char *s, size_t n, size_t *bad_at);
size_t utf8_count(const char *s, size_t n);
/* Byte offset of code point index cp (clamped to n). */
size_t utf8_offset(const char *s, size_t n, size_t cp);
/* Byte offset of a front end's cursor position, given in code points; an
 * out-of-range *cursor_pos is clamped to the end of the text in place. */
size_t utf8_cursor_offset(const char *s, size_t n, int *cursor_pos);
/* A malloc'd copy of s[0, n) with a NUL after it (strndup would stop at a
 * NUL inside: source text may hold one). NULL when out of memory. */
char *bytes_dup(const char *s, size_t n);
/* After vsnprintf(buf, size, ...) returned needed: when the message did not
 * fit, ends it with "..." at a character boundary, so an error about a huge
 * name or literal stays short and valid UTF-8. */
void clip_message(char *buf, size_t size, int needed);
/* 1-based line and column (code points) of byte offset pos. */
void src_line_col(const char *src, size_t pos, int *line, int *col);

/* ---- tokens (lexer.c) ---- */
typedef enum tok_kind {
    T_EOF,
    T_NEWLINE,
    T_SEMI,
    T_NAME,
    T_INT,
    T_FLOAT,
    T_STR,
    T_OP,
} tok_kind;

enum {
    OP_LPAR = 1, OP_RPAR, OP_LSQB, OP_RSQB, OP_LBRACE, OP_RBRACE,
    OP_COMMA, OP_DOT, OP_COLON, OP_ASSIGN,
    OP_PLUS, OP_MINUS, OP_STAR, OP_SLASH, OP_DSLASH, OP_PERCENT, OP_POW,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    /* word operators, produced by the parser from names */
    OP_IN, OP_NOT_IN, OP_NOT, OP_AND, OP_OR,
};

typedef struct token {
    tok_kind kind;
    int op;            /* T_OP */
    size_t pos, end;   /* byte offsets in the source */
    int64_t ival;      /* T_INT */
    double fval;       /* T_FLOAT */
    char *sval;        /* T_STR: decoded, NUL-terminated, malloc'd */
    size_t slen;
} token;

typedef struct lex_error {
    char msg[256];
    size_t pos;
    int incomplete; /* more input could fix it (open triple string, trailing backslash) */
} lex_error;

typedef struct lex_result {
    token *toks;
    size_t n, cap;
    /* Bracket state at the end (for is_complete and completion). */
    int depth;
    int open_ops[LANG_MAX_BRACKETS];
    size_t open_pos[LANG_MAX_BRACKETS];
    int in_string;   /* tolerant mode: input ended inside a string */
    int continued;   /* input ended right after a line-continuation backslash */
} lex_result;

/* Lexes src[0..n). Returns 0, or -1 with err filled. In tolerant mode an
 * unterminated string or bracket at the end is no error (completion looks at
 * half-typed code); other errors still stop it, keeping the tokens so far.
 * The token array ends with T_EOF on success. */
int lex(const char *src, size_t n, int tolerant, lex_result *out, lex_error *err);
void lex_free(lex_result *r);
const char *op_text(int op);

/* ---- syntax tree (parser.c) ---- */
typedef enum node_kind {
    N_INT, N_FLOAT, N_STR, N_NONE, N_TRUE, N_FALSE, N_NAME,
    N_LIST, N_CALL, N_ATTR, N_INDEX, N_SLICE,
    N_UNARY, N_BINARY, N_AND, N_OR, N_NOT, N_COMPARE, N_IFEXP,
} node_kind;

typedef struct node {
    node_kind kind;
    int op;              /* N_UNARY, N_BINARY */
    size_t pos, end;     /* source span */
    int depth;
    int64_t ival;
    double fval;
    char *s;             /* N_STR value, N_NAME / N_ATTR name */
    size_t slen;
    size_t name_pos;     /* N_ATTR: where the attribute name starts */
    struct node **kids;  /* N_CALL: kids[0] callee; N_SLICE: obj, lo, hi, step (may be NULL) */
    size_t nkids;
    char **kw;           /* N_CALL: kw[i] for kids[i], NULL when positional */
    int *ops;            /* N_COMPARE: ops[i] between kids[i] and kids[i+1] */
} node;

typedef struct stmt {
    char *name;          /* assignment target, or NULL for an expression */
    size_t name_pos;
    node *expr;
    size_t pos, end;
} stmt;

typedef struct program {
    stmt *stmts;
    size_t n;
    int suppress;        /* the last statement ends with ';' */
} program;

typedef struct parse_error {
    char msg[256];
    size_t pos;
    int incomplete;      /* input ended where more could complete it */
} parse_error;

int parse_program(const char *src, size_t n, program *out, parse_error *err);
/* Parses a token array (T_EOF at the end optional). */
int parse_tokens(const char *src, const token *toks, size_t ntoks, program *out, parse_error *err);
void program_free(program *p);
/* Parses tokens [0, ntoks) (no T_EOF needed) as one expression. */
node *parse_expression_tokens(const char *src, const token *toks, size_t ntoks,
                              parse_error *err);
/* Parses a whole string as one expression (whitespace and newlines allowed
 * around it). */
node *parse_expression(const char *src, size_t n, parse_error *err);
void node_free(node *n);

/* Words that are not names. */
int is_keyword(const char *s, size_t n);
/* Python keywords Ember has no use for (for, def, import...). */
int is_python_only_keyword(const char *s, size_t n);

/* ---- evaluator (eval.c) ---- */
typedef struct lang_state {
    char **names;
    lang_value **values;
    size_t n, cap;
} lang_state;

lang_state *lang_state_new(void);
void lang_state_free(lang_state *st);
lang_value *lang_state_get(lang_state *st, const char *name);          /* borrowed */
int lang_state_set(lang_state *st, const char *name, lang_value *v);   /* increfs */

typedef struct lang_error {
    int set;
    char ename[48];
    char *msg;
    int has_pos;
    size_t pos, end;
} lang_error;

struct lang_ctx {
    lang_state *st;
    const ember_io *io;
    atomic_int *interrupt;
    json_t *payload;     /* array, may be NULL (then payloads are dropped) */
    const char *src;
    size_t srclen;
    int pure;            /* completion / inspect: no calls, nothing with effects */
    lang_error err;
};

void ctx_init(lang_ctx *cx, lang_state *st, const ember_io *io, atomic_int *interrupt,
              json_t *payload, const char *src, size_t srclen);
/* Around each builtin call (eval.c): installs a cancellation token on the
 * interrupt flag for the engine, and after the call turns an error the
 * engine's stop caused into KeyboardInterrupt (context.c). */
struct ember_cancel;
void ctx_cancel_enter(lang_ctx *cx, struct ember_cancel *tok);
void ctx_cancel_leave(lang_ctx *cx, struct ember_cancel *tok);
void ctx_clear_error(lang_ctx *cx);
/* Raises an error located at [pos, end) of the source. */
lang_value *raise_at(lang_ctx *cx, size_t pos, size_t end, const char *ename,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

lang_value *eval_node(lang_ctx *cx, const node *n);
/* Runs a parsed program. Returns the value of the last expression statement
 * (a new reference, or NULL when none / on error: check cx->err.set). */
lang_value *eval_program(lang_ctx *cx, const program *p, int *has_value);

/* Orders two values: -1, 0, 1; 2 when unordered (nan); *err = 1 when the
 * types cannot be compared. */
int value_order(const lang_value *a, const lang_value *b, int *err);
/* Calls a function value with bound args (used by eval and tests). */
lang_value *call_value(lang_ctx *cx, lang_value *fn, lang_value *const *args, size_t nargs,
                       char *const *kw);
/* Attribute lookup on any value; NULL with AttributeError raised when absent. */
lang_value *get_attr(lang_ctx *cx, lang_value *v, const char *name);
/* Calls add(acc, name) for every attribute of v (methods and dynamic ones). */
void list_attrs(const lang_value *v, void (*add)(void *acc, const char *name), void *acc);

/* ---- signatures and the registry (registry.c) ---- */
#define SIG_MAX_PARAMS 16
typedef struct sig_param {
    char name[40];
    const char *dflt;    /* default source text, or NULL when required */
    size_t dflt_len;
    int kwonly;
} sig_param;

typedef struct sig {
    char name[48];
    sig_param p[SIG_MAX_PARAMS];
    size_t np;
    int rest;            /* index in p where *rest sits (params from there are kw-only), or -1 */
    char rest_name[40];
} sig;

int sig_parse(const char *signature, sig *out);
void register_core_builtins(void);
void register_math_builtins(void);
void register_modules(void);
extern const lang_type lang_none_type, lang_bool_type, lang_int_type, lang_float_type,
    lang_str_type, lang_list_type, lang_func_type;

/* ---- completion helpers (complete.c) ---- */
/* Index of the first token of the primary expression (atom plus trailers)
 * whose last token is toks[end-1]; (size_t)-1 when there is none. */
size_t primary_start(const char *src, const token *toks, size_t end);
/* Evaluates toks[start, end) without side effects (names, attributes,
 * indexing and literals only). New reference or NULL. */
lang_value *eval_quietly(lang_state *st, const char *src, const token *toks, size_t start, size_t end);
/* Index of the innermost '(' still open at the end of toks[0, n), or -1. */
long innermost_open_paren(const token *toks, size_t n);

/* IPython's help syntax `name?` / `?name` / `name??` on a dotted name:
 * returns 1 and the name's span [*start, *end) when code has that form. */
int help_form(const char *code, size_t n, size_t *start, size_t *end);

/* ---- help text (help.c) ---- */
/* help(x): signature and docstring of a builtin, or the type's docs for any
 * other value. malloc'd. */
char *help_text(const lang_value *v);
/* help(): the list of builtins with their one-line summaries. */
char *help_index(void);

/* ---- suggestions (suggest.c) ---- */
/* Damerau-Levenshtein (optimal string alignment) distance. */
size_t edit_distance(const char *a, const char *b);
typedef struct suggester {
    const char *word;
    const char *best;
    size_t best_d;
    char buf[64];
} suggester;
void suggest_init(suggester *s, const char *word);
void suggest_add(void *s, const char *candidate);
/* The closest candidate if close enough, else NULL. */
const char *suggest_result(suggester *s);

/* ---- tracebacks (traceback.c) ---- */
json_t *make_traceback(const char *src, size_t srclen, const lang_error *e,
                       const char *where);
/* "ename: msg" with the position spelled out (tests use it). */

/* ---- formatting helpers (repr.c) ---- */
/* The language's own short names for the public text helpers (lang.h). */
typedef lang_strbuf strbuf;
#define sb_add lang_sb_add
#define sb_adds lang_sb_adds
#define sb_addf lang_sb_addf
#define sb_take lang_sb_take
#define format_float lang_format_float
void repr_into(strbuf *b, const lang_value *v, int depth);
/* A JSON string from bytes, invalid UTF-8 replaced by U+FFFD. */
json_t *json_string_lossy(const char *s, size_t n);

/* The variables of an engine, for complete.c and inspect.c (engine.c). */
lang_state *engine_state(ember_engine *e);

#endif
