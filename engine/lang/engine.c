/* engine.c — engine.h implemented on the language: the persistent state
 * (variables), execute with its result and traceback, user expressions,
 * the interrupt flag, version and banner. */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ember_interrupt() must be async-signal-safe: only a lock-free atomic is. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");

struct ember_engine {
    lang_state *st;
    atomic_int interrupt;
};

static pthread_once_t registered = PTHREAD_ONCE_INIT;

ember_engine *ember_engine_new(void)
{
    pthread_once(&registered, register_modules);
    ember_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->st = lang_state_new();
    if (!e->st) {
        free(e);
        return NULL;
    }
    atomic_init(&e->interrupt, 0);
    return e;
}

void ember_engine_free(ember_engine *e)
{
    if (!e)
        return;
    lang_state_free(e->st);
    free(e);
}

void ember_interrupt(ember_engine *e)
{
    if (e)
        atomic_store(&e->interrupt, 1);
}

int ember_interrupt_pending(const ember_engine *e)
{
    return e ? atomic_load(&((ember_engine *)e)->interrupt) : 0;
}

void ember_interrupt_clear(ember_engine *e)
{
    if (e)
        atomic_store(&e->interrupt, 0);
}

const char *ember_version(void) { return "0.1.0"; }

const char *ember_banner(void)
{
    return "Ember 0.1.0 — a Jupyter kernel in C for a small cell language driving a CPU/CUDA engine.\n"
           "help() lists the builtins; help(name) or Shift+Tab shows one.";
}

void ember_exec_result_clear(ember_exec_result *r)
{
    if (!r)
        return;
    json_decref(r->data);
    json_decref(r->metadata);
    free(r->ename);
    free(r->evalue);
    json_decref(r->traceback);
    json_decref(r->payload);
    memset(r, 0, sizeof *r);
}

static int fill_error(ember_exec_result *out, const char *src, size_t n, const lang_error *err, const char *where)
{
    out->ok = 0;
    out->ename = strdup(err->ename);
    out->evalue = strdup(err->msg ? err->msg : "");
    out->traceback = make_traceback(src, n, err, where);
    if (!out->ename || !out->evalue || !out->traceback)
        return -1;
    return 0;
}

/* Turns a parse error into the lang_error form used for tracebacks. */
static void syntax_error(lang_error *e, const parse_error *pe)
{
    memset(e, 0, sizeof *e);
    e->set = 1;
    snprintf(e->ename, sizeof e->ename, "SyntaxError");
    e->msg = strdup(pe->msg);
    e->has_pos = 1;
    e->pos = pe->pos;
    e->end = pe->pos;
}

static int is_word_char(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9'); }

/* Not strchr: it finds the terminating NUL too, and a NUL is no space. */
static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int help_form(const char *code, size_t n, size_t *start, size_t *end)
{
    size_t a = 0, b = n;
    while (a < b && is_blank(code[a]))
        a++;
    while (b > a && is_blank(code[b - 1]))
        b--;
    if (b > a && code[b - 1] == '?') {
        b--;
        if (b > a && code[b - 1] == '?')
            b--;
    } else if (b > a && code[a] == '?') {
        a++;
        if (a < b && code[a] == '?')
            a++;
    } else {
        return 0;
    }
    if (a >= b || (code[a] >= '0' && code[a] <= '9'))
        return 0;
    for (size_t i = a; i < b; i++) {
        if (code[i] == '.' && i > a && i + 1 < b && code[i - 1] != '.' && !(code[i + 1] >= '0' && code[i + 1] <= '9'))
            continue;
        if (!is_word_char((unsigned char)code[i]))
            return 0;
    }
    *start = a;
    *end = b;
    return 1;
}

/* IPython's `name?` (also `?name`, `name??`): the help page of a dotted
 * name, looked up without running anything. Returns 1 when code had that
 * form (out is then filled), 0 otherwise. */
static int help_syntax(ember_engine *e, const char *code, size_t n, const ember_io *io, ember_exec_result *out)
{
    size_t a, b;
    if (!help_form(code, n, &a, &b))
        return 0;
    char *expr = bytes_dup(code + a, b - a);
    if (!expr)
        return 0;
    lex_result lr;
    lex_error le;
    lang_value *v = NULL;
    if (lex(expr, b - a, 0, &lr, &le) == 0)
        v = eval_quietly(e->st, expr, lr.toks, 0, lr.n);
    lex_free(&lr);
    if (!v) {
        char msg[300];
        int k = snprintf(msg, sizeof msg, "Object `%s` not found.\n", expr);
        if (io && io->stream && k > 0)
            io->stream(io->ctx, "stdout", msg, strlen(msg));
    } else {
        char *text = help_text(v);
        json_t *page = text ? json_pack("{s:s, s:{s:o}, s:i}", "source", "page", "data", "text/plain",
                                        json_string_lossy(text, strlen(text)), "start", 0)
                            : NULL;
        if (page)
            json_array_append_new(out->payload, page);
        free(text);
        lang_decref(v);
    }
    free(expr);
    return 1;
}

int ember_execute(ember_engine *e, const char *code, size_t n, const ember_exec_options *opt,
                  const ember_io *io, ember_exec_result *out)
{
    memset(out, 0, sizeof *out);
    out->ok = 1;
    out->payload = json_array();
    if (!out->payload || !e)
        return -1;
    if (!code)
        code = "", n = 0;
    char where[64];
    snprintf(where, sizeof where, "Cell In[%d]", opt ? opt->execution_count : 0);

    if (help_syntax(e, code, n, io, out))
        return 0;
    program prog;
    parse_error pe;
    if (parse_program(code, n, &prog, &pe) < 0) {
        lang_error le;
        syntax_error(&le, &pe);
        int rc = fill_error(out, code, n, &le, where);
        free(le.msg);
        return rc;
    }
    lang_ctx cx;
    ctx_init(&cx, e->st, io, &e->interrupt, out->payload, code, n);
    int has_value = 0;
    lang_value *v = eval_program(&cx, &prog, &has_value);
    int rc = 0;
    if (cx.err.set) {
        rc = fill_error(out, code, n, &cx.err, where);
    } else if (v && has_value && !prog.suppress && v->kind != LANG_NONE && !(opt && opt->silent)) {
        out->data = lang_mime(v);
        out->metadata = lang_mime_metadata(v);
        if (!out->data || !out->metadata)
            rc = -1;
    }
    lang_decref(v);
    ctx_clear_error(&cx);
    program_free(&prog);
    return rc;
}

static json_t *error_dict(const char *src, size_t n, const lang_error *err)
{
    json_t *tb = make_traceback(src, n, err, "<user_expression>");
    return json_pack("{s:s, s:s, s:s, s:o}", "status", "error", "ename", err->ename, "evalue",
                     err->msg ? err->msg : "", "traceback", tb ? tb : json_array());
}

json_t *ember_user_expression(ember_engine *e, const char *expr, size_t n, const ember_io *io)
{
    if (!e)
        return NULL;
    if (!expr)
        expr = "", n = 0;
    parse_error pe;
    node *nd = parse_expression(expr, n, &pe);
    if (!nd) {
        lang_error le;
        syntax_error(&le, &pe);
        json_t *r = error_dict(expr, n, &le);
        free(le.msg);
        return r;
    }
    lang_ctx cx;
    ctx_init(&cx, e->st, io, &e->interrupt, NULL, expr, n);
    lang_value *v = eval_node(&cx, nd);
    json_t *r;
    if (!v) {
        if (!cx.err.set)
            lang_raise(&cx, "MemoryError", "out of memory");
        r = error_dict(expr, n, &cx.err);
    } else {
        json_t *data = lang_mime(v);
        json_t *meta = data ? lang_mime_metadata(v) : NULL;
        if (data && meta) { /* "o" steals both, even when packing fails */
            r = json_pack("{s:s, s:o, s:o}", "status", "ok", "data", data, "metadata", meta);
        } else {
            json_decref(data);
            r = NULL;
        }
    }
    lang_decref(v);
    ctx_clear_error(&cx);
    node_free(nd);
    return r;
}

lang_state *engine_state(ember_engine *e)
{
    static lang_state empty; /* no engine: no variables */
    return e ? e->st : &empty;
}
