/* engine.h — the engine's public API: the only engine header kernel/ includes.
 *
 * The engine knows nothing of ZeroMQ or message framing. It speaks JSON values
 * (jansson) for MIME bundles and replies, because that is their natural shape,
 * and publishes output through the ember_io callback table the kernel fills in.
 *
 * Threading: every function except ember_interrupt() and
 * ember_interrupt_pending() is called from one thread at a time (the kernel's
 * execution thread). ember_interrupt() is async-signal-safe and may be called
 * from any thread or from a signal handler.
 */
#ifndef EMBER_ENGINE_H
#define EMBER_ENGINE_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ember_engine ember_engine;

/* Output sinks, called on the execution thread while ember_execute runs.
 * All strings are UTF-8. JSON arguments are borrowed (the callee increfs what
 * it keeps). Any member may be NULL: the engine then drops that output. */
typedef struct ember_io {
    void *ctx;
    /* name: "stdout" or "stderr". */
    void (*stream)(void *ctx, const char *name, const char *text, size_t len);
    /* A MIME bundle. display_id may be NULL. update != 0 sends
     * update_display_data (display_id is then required). */
    void (*display)(void *ctx, json_t *data, json_t *metadata,
                    const char *display_id, int update);
    void (*clear_output)(void *ctx, int wait);
    /* Ask the front end for one line. On success returns 0 and sets *line to a
     * malloc'd text of *len bytes (a NUL follows them; the text itself may
     * hold NULs) that the engine frees. On failure (stdin not allowed,
     * interrupted, front end gone, a reply that cannot be read) returns -1
     * and writes why into err. An interrupt during the wait must make this
     * return promptly: the kernel polls ember_interrupt_pending(). */
    int (*input)(void *ctx, const char *prompt, int password, char **line, size_t *len,
                 char *err, size_t errlen);
} ember_io;

typedef struct ember_exec_options {
    int execution_count; /* shown in tracebacks ("Cell In[3], line 2") */
    int silent;          /* no execute_result is wanted */
    int store_history;
} ember_exec_options;

/* What one execute left behind. All JSON members are owned by the result and
 * released by ember_exec_result_clear(). */
typedef struct ember_exec_result {
    int ok;             /* 1: status "ok"; 0: status "error" */
    json_t *data;       /* execute_result MIME bundle, or NULL when there is none */
    json_t *metadata;   /* its metadata (an object), or NULL */
    char *ename;        /* on error, e.g. "NameError", "KeyboardInterrupt" */
    char *evalue;
    json_t *traceback;  /* on error: array of strings (may hold ANSI colours) */
    json_t *payload;    /* array of payload objects (e.g. page), never NULL after execute */
} ember_exec_result;

ember_engine *ember_engine_new(void);
void ember_engine_free(ember_engine *e);

/* Source text everywhere below is len bytes of UTF-8 at code, not a C
 * string: JSON lets a front end send U+0000, and a NUL inside a string
 * literal must reach the str value (anywhere else it is a SyntaxError).
 * code may be NULL when len is 0. */

/* Runs a cell. Returns 0 when the cell ran (ok or with a language error
 * reported in out), -1 only when the engine itself could not run it (out of
 * memory); out is filled in either case. */
int ember_execute(ember_engine *e, const char *code, size_t len, const ember_exec_options *opt,
                  const ember_io *io, ember_exec_result *out);
void ember_exec_result_clear(ember_exec_result *r);

/* user_expressions: evaluates one expression. Returns a new reference to
 * {"status":"ok","data":{...},"metadata":{}} or
 * {"status":"error","ename":..,"evalue":..,"traceback":[..]}. */
json_t *ember_user_expression(ember_engine *e, const char *expr, size_t len, const ember_io *io);

/* is_complete: returns "complete", "incomplete", "invalid" or "unknown"
 * (a static string). For "incomplete", indent receives the suggested
 * indentation (possibly ""). */
const char *ember_is_complete(ember_engine *e, const char *code, size_t len, char *indent,
                              size_t indent_size);

/* complete_request content: {"matches":[..],"cursor_start":n,"cursor_end":n,
 * "metadata":{}}; cursor positions count Unicode code points. New reference. */
json_t *ember_complete(ember_engine *e, const char *code, size_t len, int cursor_pos);

/* inspect_request content: {"found":bool,"data":{..},"metadata":{}}. New reference. */
json_t *ember_inspect(ember_engine *e, const char *code, size_t len, int cursor_pos,
                      int detail_level);

/* Interrupt the running cell: sets a flag that long-running work polls at safe
 * points. Async-signal-safe. */
void ember_interrupt(ember_engine *e);
int ember_interrupt_pending(const ember_engine *e);
/* Forget a pending interrupt (the kernel calls this before each execute, so
 * an interrupt that arrived while idle does not hit the next cell). */
void ember_interrupt_clear(ember_engine *e);

const char *ember_version(void);
/* The banner shown by kernel_info (a static string). */
const char *ember_banner(void);

#ifdef __cplusplus
}
#endif
#endif
