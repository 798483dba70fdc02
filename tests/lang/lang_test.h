/* lang_test.h — a tiny test harness for the language tests: CHECK macros
 * that count failures, and a fake ember_io that records what a cell
 * published (stdout, stderr, displays, clears) and answers input(). */
#ifndef EMBER_LANG_TEST_H
#define EMBER_LANG_TEST_H

#include <ember/engine.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        test_checks++;                                                                        \
        if (!(cond)) {                                                                        \
            test_failures++;                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                                     \
    } while (0)

#define CHECK_STR(got, want)                                                                  \
    do {                                                                                      \
        const char *g_ = (got), *w_ = (want);                                                 \
        test_checks++;                                                                        \
        if (!g_ || strcmp(g_, w_)) {                                                          \
            test_failures++;                                                                  \
            fprintf(stderr, "%s:%d: got \"%s\"\n%*swant \"%s\"\n", __FILE__, __LINE__,         \
                    g_ ? g_ : "(null)", (int)strlen(__FILE__) + 8, "", w_);                   \
        }                                                                                     \
    } while (0)

#define CHECK_CONTAINS(got, want)                                                             \
    do {                                                                                      \
        const char *g_ = (got), *w_ = (want);                                                 \
        test_checks++;                                                                        \
        if (!g_ || !strstr(g_, w_)) {                                                         \
            test_failures++;                                                                  \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,    \
                    g_ ? g_ : "(null)", w_);                                                  \
        }                                                                                     \
    } while (0)

static inline int test_finish(const char *name)
{
    fprintf(stderr, "%s: %d checks, %d failed\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

/* ---- fake io ---- */
typedef struct fake_io {
    char out[65536];
    size_t out_len;
    char err[65536];
    size_t err_len;
    json_t *displays; /* [{data, metadata, display_id, update}] */
    int clears, last_wait;
    const char *input_reply; /* NULL: input fails with input_error */
    const char *input_error;
    char last_prompt[256];
    int last_password;
} fake_io;

static void fake_stream(void *ctx, const char *name, const char *text, size_t len)
{
    fake_io *f = ctx;
    char *buf = strcmp(name, "stderr") ? f->out : f->err;
    size_t *bl = strcmp(name, "stderr") ? &f->out_len : &f->err_len;
    if (*bl + len >= sizeof f->out)
        len = sizeof f->out - 1 - *bl;
    memcpy(buf + *bl, text, len);
    *bl += len;
    buf[*bl] = 0;
}

static void fake_display(void *ctx, json_t *data, json_t *metadata, const char *display_id, int update)
{
    fake_io *f = ctx;
    json_array_append_new(f->displays, json_pack("{s:O, s:O, s:s?, s:i}", "data", data, "metadata", metadata,
                                                 "display_id", display_id, "update", update));
}

static void fake_clear(void *ctx, int wait)
{
    fake_io *f = ctx;
    f->clears++;
    f->last_wait = wait;
}

static int fake_input(void *ctx, const char *prompt, int password, char **line, size_t *len, char *err,
                      size_t errlen)
{
    fake_io *f = ctx;
    snprintf(f->last_prompt, sizeof f->last_prompt, "%s", prompt);
    f->last_password = password;
    if (!f->input_reply) {
        snprintf(err, errlen, "%s", f->input_error ? f->input_error : "stdin is not allowed");
        return -1;
    }
    *line = strdup(f->input_reply);
    *len = strlen(f->input_reply);
    return 0;
}

static inline void fake_io_init(fake_io *f, ember_io *io)
{
    memset(f, 0, sizeof *f);
    f->displays = json_array();
    io->ctx = f;
    io->stream = fake_stream;
    io->display = fake_display;
    io->clear_output = fake_clear;
    io->input = fake_input;
}

static inline void fake_io_reset(fake_io *f)
{
    f->out_len = f->err_len = 0;
    f->out[0] = f->err[0] = 0;
    json_array_clear(f->displays);
    f->clears = 0;
}

static inline void fake_io_free(fake_io *f) { json_decref(f->displays); }

/* ---- running cells ---- */
typedef struct cell {
    ember_exec_result r;
    char text[4096];  /* execute_result text/plain, or "" */
} cell;

/* Runs len bytes of code (which may hold NULs). */
static inline void run_cell_n(ember_engine *e, const ember_io *io, const char *code, size_t len,
                              cell *c)
{
    static int count = 0;
    ember_exec_options opt = {.execution_count = ++count, .silent = 0, .store_history = 1};
    memset(c, 0, sizeof *c);
    ember_execute(e, code, len, &opt, io, &c->r);
    if (c->r.data) {
        const char *t = json_string_value(json_object_get(c->r.data, "text/plain"));
        snprintf(c->text, sizeof c->text, "%s", t ? t : "");
    }
}

static inline void run_cell(ember_engine *e, const ember_io *io, const char *code, cell *c)
{
    run_cell_n(e, io, code, strlen(code), c);
}

/* Runs len bytes of code and returns the repr of its result ("" when none,
 * "Ename: msg" on error). */
static inline const char *eval_repr_n(ember_engine *e, const ember_io *io, const char *code,
                                      size_t len)
{
    static char buf[4096];
    cell c;
    run_cell_n(e, io, code, len, &c);
    if (c.r.ok)
        snprintf(buf, sizeof buf, "%s", c.text);
    else
        snprintf(buf, sizeof buf, "%s: %s", c.r.ename, c.r.evalue);
    ember_exec_result_clear(&c.r);
    return buf;
}

static inline const char *eval_repr(ember_engine *e, const ember_io *io, const char *code)
{
    return eval_repr_n(e, io, code, strlen(code));
}

#endif

#ifdef EMBER_LANG_INTERNAL_H
/* Runs code on a fresh state with the internal API and reports the error:
 * its ename, message and 1-based line and column. Returns 1 when the code
 * raised, 0 when it ran cleanly. */
typedef struct err_info {
    char ename[48];
    char msg[512];
    int line, col;
} err_info;

static inline int run_err_on(lang_state *st, const char *code, err_info *out)
{
    memset(out, 0, sizeof *out);
    register_modules(); /* idempotent: the builtins, as ember_engine_new does */
    program p;
    parse_error pe;
    size_t n = strlen(code);
    if (parse_program(code, n, &p, &pe) < 0) {
        snprintf(out->ename, sizeof out->ename, "SyntaxError");
        snprintf(out->msg, sizeof out->msg, "%s", pe.msg);
        src_line_col(code, pe.pos, &out->line, &out->col);
        return 1;
    }
    lang_ctx cx;
    ctx_init(&cx, st, NULL, NULL, NULL, code, n);
    int hv;
    lang_value *v = eval_program(&cx, &p, &hv);
    lang_decref(v);
    int raised = cx.err.set;
    if (raised) {
        snprintf(out->ename, sizeof out->ename, "%s", cx.err.ename);
        snprintf(out->msg, sizeof out->msg, "%s", cx.err.msg ? cx.err.msg : "");
        if (cx.err.has_pos)
            src_line_col(code, cx.err.pos, &out->line, &out->col);
    }
    ctx_clear_error(&cx);
    program_free(&p);
    return raised;
}

static inline int run_err(const char *code, err_info *out)
{
    lang_state *st = lang_state_new();
    int r = run_err_on(st, code, out);
    lang_state_free(st);
    return r;
}

#define CHECK_ERR(code, en, message, ln, cl)                                                  \
    do {                                                                                      \
        err_info ei_;                                                                         \
        test_checks++;                                                                        \
        if (!run_err((code), &ei_) || strcmp(ei_.ename, (en)) || strcmp(ei_.msg, (message)) || \
            ei_.line != (ln) || ei_.col != (cl)) {                                            \
            test_failures++;                                                                  \
            fprintf(stderr, "%s:%d: for %s\n  got  %s: %s at %d:%d\n  want %s: %s at %d:%d\n", \
                    __FILE__, __LINE__, (code), ei_.ename, ei_.msg, ei_.line, ei_.col, (en),  \
                    (message), (ln), (cl));                                                   \
        }                                                                                     \
    } while (0)
#endif
