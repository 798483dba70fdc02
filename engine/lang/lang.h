/* lang.h — the language's extension API: values, builtins, object types.
 *
 * Other engine modules (tensors, images, datasets, models, plots) include this
 * header to add builtin functions and new kinds of values without touching the
 * lexer, parser or evaluator.
 *
 * VALUES. A lang_value is reference counted and has one owner per reference.
 * Functions that return `lang_value *` return a NEW reference (or NULL with an
 * error raised); arguments are BORROWED unless a comment says "steals".
 * none/true/false are immortal singletons. Lists are immutable once built, so
 * values can never form cycles and reference counting alone frees everything.
 *
 * BUILTINS. A builtin is ONE table entry, lang_builtin: its signature text
 * (e.g. "sleep(seconds)" or "print(*values, sep=' ', end='\\n')"), its
 * docstring and its C function. The signature is the single source of truth:
 * the evaluator binds arguments from it (positional, keyword, defaults,
 * *rest, keyword-only after *rest) and reports unknown / missing / surplus
 * arguments itself; help(), inspect and completion read the same entry.
 * Defaults are literals (numbers, strings, true/false/none, lists of them).
 * Register tables with lang_register_builtins() before the first engine is
 * created (see modules.c); registering a table twice is harmless.
 *
 * OBJECT TYPES. An engine value (a tensor, an image...) is a LANG_OBJECT whose
 * lang_type vtable gives its type name and docstring, how to free its data,
 * its text/plain repr, an optional rich MIME bundle (image/png, text/html),
 * methods (lang_builtin entries, called with a->self set), optional dynamic
 * attributes (getattr + attr_names, used by completion), indexing and len.
 *
 * ERRORS. A builtin reports failure by returning lang_raise(cx, "ValueError",
 * "fmt", ...) (which returns NULL). The evaluator attaches the line and column
 * of the call. Long-running builtins call lang_check_interrupt(cx) at safe
 * points (at least every 10 ms) and return NULL when it says so: the user
 * then sees KeyboardInterrupt and every variable keeps its value.
 */
#ifndef EMBER_LANG_H
#define EMBER_LANG_H

#include <ember/engine.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lang_kind {
    LANG_NONE,
    LANG_BOOL,
    LANG_INT,
    LANG_FLOAT,
    LANG_STR,
    LANG_LIST,
    LANG_FUNC,   /* a builtin function, or a method bound to a receiver */
    LANG_OBJECT, /* an engine value described by a lang_type */
} lang_kind;

typedef struct lang_value lang_value;
typedef struct lang_ctx lang_ctx;
typedef struct lang_type lang_type;
typedef struct lang_builtin lang_builtin;

/* What a builtin receives. v[i] is the i-th declared parameter of its
 * signature (the *rest parameter excluded), defaults already filled in, so
 * n is always the number of declared parameters. All borrowed. */
typedef struct lang_args {
    const char *fname;          /* "sleep", or "str.upper" for a method */
    const char *const *names;   /* names[i]: name of v[i] */
    lang_value *self;           /* receiver of a method call, else NULL */
    lang_value *const *v;
    size_t n;
    lang_value *const *rest;    /* surplus positionals for a *name parameter */
    size_t nrest;
} lang_args;

typedef lang_value *(*lang_builtin_fn)(lang_ctx *cx, const lang_args *a);

struct lang_builtin {
    const char *signature; /* "name(a, b=2, *rest, key=none)" */
    const char *doc;       /* first line: a one-line summary */
    lang_builtin_fn fn;
};

struct lang_type {
    const char *name; /* what type(x) returns */
    const char *doc;  /* shown by help(x) */
    void (*free)(void *data);
    /* text/plain repr, malloc'd (NULL on out-of-memory). Required. */
    char *(*repr)(const lang_value *self);
    /* Optional rich MIME bundle (new reference, a JSON object). The engine
     * adds text/plain from repr when the bundle lacks it. */
    json_t *(*mime)(const lang_value *self);
    /* Optional dynamic attributes. Return NULL without raising when there is
     * no such attribute (the evaluator then says so, suggesting a close name). */
    lang_value *(*getattr)(lang_ctx *cx, lang_value *self, const char *name);
    /* Optional: the names getattr knows, for completion. */
    void (*attr_names)(const lang_value *self, void (*add)(void *acc, const char *name),
                       void *acc);
    const lang_builtin *methods; /* optional method table */
    size_t nmethods;
    /* Optional x[key]. */
    lang_value *(*index)(lang_ctx *cx, lang_value *self, lang_value *key);
    /* Optional len(x): 0 and *out, or -1 with an error raised. */
    int (*len)(lang_ctx *cx, lang_value *self, int64_t *out);
    /* Optional metadata for the MIME bundle (new reference, a JSON object),
     * e.g. {"image/png": {"width": 480, "height": 320}} so a 2x picture
     * shows at its logical size. Used by display and execute_result. */
    json_t *(*mime_metadata)(const lang_value *self);
};

struct lang_value {
    lang_kind kind;
    long refs; /* < 0: immortal */
    union {
        int b;
        int64_t i;
        double f;
        struct { char *ptr; size_t len; } str; /* UTF-8, NUL-terminated */
        struct { lang_value **items; size_t len; int depth; } list;
        struct { const lang_builtin *def; lang_value *self; const lang_type *owner; } func;
        struct { const lang_type *type; void *data; } obj;
    } as;
};

/* ---- values ------------------------------------------------------------ */
lang_value *lang_none(void);
lang_value *lang_bool(int b);
lang_value *lang_int(int64_t i);
lang_value *lang_float(double f);
lang_value *lang_str(const char *s, size_t len); /* copies */
lang_value *lang_cstr(const char *s);
lang_value *lang_str_take(char *s, size_t len); /* takes a malloc'd NUL-terminated buffer */
/* A list of n items; each slot must then be filled with lang_list_set. */
lang_value *lang_list_new(size_t n);
void lang_list_set(lang_value *list, size_t i, lang_value *item); /* steals item */
/* Takes ownership of data; on failure frees it with t->free and returns NULL. */
lang_value *lang_object(const lang_type *t, void *data);
lang_value *lang_func(const lang_builtin *def, lang_value *self, const lang_type *owner);

lang_value *lang_incref(lang_value *v);
void lang_decref(lang_value *v);

const char *lang_type_name(const lang_value *v);
/* The type descriptor of any value (also for str, list, int...). */
const lang_type *lang_type_of(const lang_value *v);
int lang_truthy(const lang_value *v);
int lang_equal(const lang_value *a, const lang_value *b);
/* Python-like repr, malloc'd; NULL on out-of-memory. */
char *lang_repr(const lang_value *v);
/* str(): strings themselves, everything else its repr. malloc'd. A str may
 * hold NUL characters, which end the C string early: lang_to_strn gives the
 * length in bytes as well. */
char *lang_to_str(const lang_value *v);
char *lang_to_strn(const lang_value *v, size_t *len);
/* The MIME bundle for display / execute_result (new reference, or NULL). */
json_t *lang_mime(const lang_value *v);
/* Its metadata: a new reference to an object (empty when the type has none),
 * or NULL on out-of-memory. */
json_t *lang_mime_metadata(const lang_value *v);
/* Number of code points of a string value. */
size_t lang_str_length(const lang_value *v);

/* ---- builtins ------------------------------------------------------------ */
/* Adds builtins to the process-wide registry. Returns 0, or -1 when a
 * signature does not parse or the registry is full (a programming error,
 * reported on stderr). A later entry with the same name replaces the earlier. */
int lang_register_builtins(const lang_builtin *defs, size_t n);
const lang_builtin *lang_find_builtin(const char *name);
/* Iterate the registry: returns NULL past the end. */
const lang_builtin *lang_builtin_at(size_t i);
/* Copies the builtin's name (the signature up to '(') into buf. */
void lang_builtin_name(const lang_builtin *def, char *buf, size_t size);

/* ---- context given to builtins ----------------------------------------- */
/* Raises an error (ename like "ValueError") and returns NULL. */
lang_value *lang_raise(lang_ctx *cx, const char *ename, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "<fname>: <param> must be <expected>, got <repr>" as ename. */
lang_value *lang_arg_error(lang_ctx *cx, const lang_args *a, size_t i, const char *ename,
                           const char *expected);
int lang_error_pending(const lang_ctx *cx);
/* 0 to go on; -1 when the user interrupted: KeyboardInterrupt is raised and
 * the interrupt is consumed (return NULL from the builtin right away). */
int lang_check_interrupt(lang_ctx *cx);
/* The output callbacks of the running cell (never NULL; members may be). */
const ember_io *lang_io(lang_ctx *cx);
/* Writes to "stdout" or "stderr". */
void lang_write(lang_ctx *cx, const char *stream, const char *text, size_t len);
/* Shows v's MIME bundle as display_data; with update != 0 (display_id then
 * required) replaces an earlier display as update_display_data. Returns 0,
 * or -1 with an error raised. */
int lang_display(lang_ctx *cx, const lang_value *v, const char *display_id, int update);
/* The same for a ready-made bundle and metadata (borrowed; metadata may be
 * NULL). For progress bars and live plots built by other modules. */
void lang_display_bundle(lang_ctx *cx, json_t *data, json_t *metadata, const char *display_id, int update);
/* Appends a payload object (e.g. a page) to the execute reply; steals it. */
void lang_add_payload(lang_ctx *cx, json_t *payload);

/* Argument helpers: return 0, or -1 with a TypeError/ValueError raised that
 * names the function, the argument and what was expected. */
int lang_arg_int(lang_ctx *cx, const lang_args *a, size_t i, int64_t *out);
int lang_arg_number(lang_ctx *cx, const lang_args *a, size_t i, double *out);
/* A str argument used as a C string (a path, a name, an id): one holding a
 * NUL character raises ValueError rather than being silently cut short. */
int lang_arg_str(lang_ctx *cx, const lang_args *a, size_t i, const char **out);
/* A str argument as bytes and length, NUL characters allowed. */
int lang_arg_strn(lang_ctx *cx, const lang_args *a, size_t i, const char **out, size_t *len);
int lang_arg_bool(lang_ctx *cx, const lang_args *a, size_t i, int *out);

/* ---- text for reprs and HTML bundles ------------------------------------ */
/* A growable string. Zero-initialise it; a failed allocation sets oom and
 * makes later additions no-ops, so callers check once, at lang_sb_take. */
typedef struct lang_strbuf {
    char *p;
    size_t len, cap;
    int oom;
} lang_strbuf;
void lang_sb_add(lang_strbuf *b, const char *s, size_t n);
void lang_sb_adds(lang_strbuf *b, const char *s);
void lang_sb_addf(lang_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with & < > " escaped, for text/html bundles. */
void lang_sb_html(lang_strbuf *b, const char *s);
/* The malloc'd string ("" when nothing was added), or NULL when out of
 * memory (the buffer is freed either way). */
char *lang_sb_take(lang_strbuf *b);
/* {"text/html": the buffer's text} (new reference), taking the buffer; NULL
 * when out of memory. For a type's mime hook. */
json_t *lang_sb_html_bundle(lang_strbuf *b);
/* A float as the language prints it (Python's repr: "0.1", "1e-08"). */
void lang_format_float(double f, char *buf, size_t size);
/* An integer with thousands separators: 14243722 -> "14,243,722". */
void lang_format_thousands(int64_t v, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
