/* context.c — what a builtin may do with its lang_ctx: raise errors, check
 * for interrupts, reach the output callbacks, add payloads; plus the
 * argument-checking helpers that keep error messages uniform. */
#include "internal.h"

#include "core/cancel.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ember_io null_io = {0};

void ctx_init(lang_ctx *cx, lang_state *st, const ember_io *io, atomic_int *interrupt, json_t *payload,
              const char *src, size_t srclen)
{
    memset(cx, 0, sizeof *cx);
    cx->st = st;
    cx->io = io ? io : &null_io;
    cx->interrupt = interrupt;
    cx->payload = payload;
    cx->src = src;
    cx->srclen = srclen;
}

void ctx_clear_error(lang_ctx *cx)
{
    free(cx->err.msg);
    memset(&cx->err, 0, sizeof cx->err);
}

static void vraise(lang_ctx *cx, const char *ename, const char *fmt, va_list ap)
{
    if (cx->err.set)
        return; /* the first error wins */
    cx->err.set = 1;
    snprintf(cx->err.ename, sizeof cx->err.ename, "%s", ename);
    char tmp[1024];
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    clip_message(tmp, sizeof tmp, k);
    cx->err.msg = strdup(tmp);
}

lang_value *lang_raise(lang_ctx *cx, const char *ename, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vraise(cx, ename, fmt, ap);
    va_end(ap);
    return NULL;
}

lang_value *raise_at(lang_ctx *cx, size_t pos, size_t end, const char *ename, const char *fmt, ...)
{
    if (cx->err.set)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    vraise(cx, ename, fmt, ap);
    va_end(ap);
    cx->err.has_pos = 1;
    cx->err.pos = pos;
    cx->err.end = end;
    return NULL;
}

int lang_error_pending(const lang_ctx *cx) { return cx->err.set; }

int lang_check_interrupt(lang_ctx *cx)
{
    /* The engine may have seen the interrupt first, inside an op: its
     * token stays tripped after the flag is consumed. */
    if ((cx->interrupt && atomic_load(cx->interrupt)) || ember_cancel_tripped()) {
        if (cx->interrupt)
            atomic_store(cx->interrupt, 0);
        lang_raise(cx, "KeyboardInterrupt", "interrupted by the user");
        return -1;
    }
    return 0;
}

/* Every builtin call runs under a cancellation token on the interrupt
 * flag, so engine work it starts (a training step, a forward) stops at
 * its next check (core/cancel.h) instead of at the builtin's next
 * lang_check_interrupt, which may be many seconds away. */
void ctx_cancel_enter(lang_ctx *cx, ember_cancel *tok)
{
    ember_cancel_init(tok, cx->interrupt);
    ember_cancel_push(tok);
}

void ctx_cancel_leave(lang_ctx *cx, ember_cancel *tok)
{
    ember_cancel_pop(tok);
    if (!tok->tripped || !cx->err.set)
        return;
    /* The builtin failed because the engine stopped for the interrupt:
     * whatever it made of the engine's error, the user interrupted. The
     * interrupt is consumed here, as lang_check_interrupt would. */
    if (cx->interrupt)
        atomic_store(cx->interrupt, 0);
    if (strcmp(cx->err.ename, "KeyboardInterrupt") != 0) {
        ctx_clear_error(cx);
        lang_raise(cx, "KeyboardInterrupt", "interrupted by the user");
    }
}

const ember_io *lang_io(lang_ctx *cx) { return cx->io; }

void lang_write(lang_ctx *cx, const char *stream, const char *text, size_t len)
{
    if (cx->io->stream && len > 0)
        cx->io->stream(cx->io->ctx, stream, text, len);
}

void lang_add_payload(lang_ctx *cx, json_t *payload)
{
    if (cx->payload && payload)
        json_array_append(cx->payload, payload);
    json_decref(payload);
}

void lang_display_bundle(lang_ctx *cx, json_t *data, json_t *metadata, const char *display_id, int update)
{
    if (!cx->io->display || !data)
        return;
    json_t *meta = metadata ? json_incref(metadata) : json_object();
    if (!meta)
        return;
    cx->io->display(cx->io->ctx, data, meta, display_id, update);
    json_decref(meta);
}

int lang_display(lang_ctx *cx, const lang_value *v, const char *display_id, int update)
{
    if (update && !display_id) {
        lang_raise(cx, "ValueError", "update_display needs a display_id");
        return -1;
    }
    json_t *data = lang_mime(v);
    json_t *meta = data ? lang_mime_metadata(v) : NULL;
    if (!data || !meta) {
        json_decref(data);
        lang_raise(cx, "MemoryError", "out of memory");
        return -1;
    }
    lang_display_bundle(cx, data, meta, display_id, update);
    json_decref(data);
    json_decref(meta);
    return 0;
}

/* A short repr for messages: long values are cut with "...". */
static void short_repr(const lang_value *v, char *buf, size_t size)
{
    char *r = lang_repr(v);
    if (!r) {
        snprintf(buf, size, "<%s>", lang_type_name(v));
        return;
    }
    size_t n = strlen(r);
    if (n > 60) {
        size_t cut = utf8_offset(r, n, 57);
        snprintf(buf, size, "%.*s...", (int)cut, r);
    } else {
        snprintf(buf, size, "%s", r);
    }
    free(r);
}

lang_value *lang_arg_error(lang_ctx *cx, const lang_args *a, size_t i, const char *ename, const char *expected)
{
    char r[256];
    const lang_value *v = i < a->n ? a->v[i] : NULL;
    if (v)
        short_repr(v, r, sizeof r);
    else
        snprintf(r, sizeof r, "nothing");
    return lang_raise(cx, ename, "%s: %s must be %s, got %s", a->fname, i < a->n ? a->names[i] : "argument",
                      expected, r);
}

int lang_arg_int(lang_ctx *cx, const lang_args *a, size_t i, int64_t *out)
{
    const lang_value *v = a->v[i];
    if (v->kind == LANG_INT) {
        *out = v->as.i;
        return 0;
    }
    if (v->kind == LANG_BOOL) {
        *out = v->as.b;
        return 0;
    }
    lang_arg_error(cx, a, i, "TypeError", "an integer");
    return -1;
}

int lang_arg_number(lang_ctx *cx, const lang_args *a, size_t i, double *out)
{
    const lang_value *v = a->v[i];
    if (v->kind == LANG_INT)
        *out = (double)v->as.i;
    else if (v->kind == LANG_FLOAT)
        *out = v->as.f;
    else if (v->kind == LANG_BOOL)
        *out = v->as.b;
    else {
        lang_arg_error(cx, a, i, "TypeError", "a number");
        return -1;
    }
    return 0;
}

int lang_arg_strn(lang_ctx *cx, const lang_args *a, size_t i, const char **out, size_t *len)
{
    const lang_value *v = a->v[i];
    if (v->kind != LANG_STR) {
        lang_arg_error(cx, a, i, "TypeError", "a string");
        return -1;
    }
    *out = v->as.str.ptr;
    *len = v->as.str.len;
    return 0;
}

int lang_arg_str(lang_ctx *cx, const lang_args *a, size_t i, const char **out)
{
    size_t len;
    if (lang_arg_strn(cx, a, i, out, &len) < 0)
        return -1;
    if (memchr(*out, 0, len)) {
        lang_arg_error(cx, a, i, "ValueError", "a string without NUL characters");
        return -1;
    }
    return 0;
}

int lang_arg_bool(lang_ctx *cx, const lang_args *a, size_t i, int *out)
{
    const lang_value *v = a->v[i];
    if (v->kind != LANG_BOOL) {
        lang_arg_error(cx, a, i, "TypeError", "true or false");
        return -1;
    }
    *out = v->as.b;
    return 0;
}
