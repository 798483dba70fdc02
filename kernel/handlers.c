/* handlers.c — the shell requests other than execute: introspection
 * (complete, inspect, is_complete) answered by the engine, history from disk,
 * comms (Ember has none), and the rarer kernel_info/connect/shutdown/interrupt
 * on shell; and the error reply that any request the kernel cannot take gets
 * instead of silence. */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "handlers.h"
#include "kernel_info.h"
#include "iopub.h"
#include "message.h"
#include "sockets.h"

/* "x_request" -> "x_reply"; 0 when msg_type names no request, which then
 * has no reply to send. */
static int reply_type(const char *msg_type, char *out, size_t size)
{
    static const char suffix[] = "_request";
    size_t n = strlen(msg_type), sl = sizeof suffix - 1;
    if (n <= sl || strcmp(msg_type + n - sl, suffix) != 0)
        return 0;
    int k = snprintf(out, size, "%.*s_reply", (int)(n - sl), msg_type);
    return k > 0 && (size_t)k < size;
}

void ember_reply_error(ember_kernel *k, void *sock, const ember_msg *req, const char *ename,
                       const char *evalue)
{
    char type[128];
    if (!reply_type(req->msg_type, type, sizeof type)) {
        ember_log_once(req->msg_type, "%s has no reply type: nothing to answer", req->msg_type);
        return;
    }
    json_t *text = ember_json_text(evalue, strlen(evalue));
    json_t *content = text ? json_pack("{s:s, s:s, s:O, s:[O]}", "status", "error", "ename", ename,
                                       "evalue", text, "traceback", text)
                           : NULL;
    if (content && sock == k->shell && strcmp(req->msg_type, "execute_request") == 0) {
        /* A front end shows a cell's error from IOPub, not from the reply. */
        ember_publish(k, "error", req,
                      json_pack("{s:s, s:O, s:[O]}", "ename", ename, "evalue", text, "traceback",
                                text));
        json_object_set_new(content, "execution_count", json_integer(k->execution_count));
        json_object_set_new(content, "payload", json_array());
        json_object_set_new(content, "user_expressions", json_object());
    }
    json_decref(text);
    ember_reply(k, sock, req, type, content);
}

void ember_reply_bad(ember_kernel *k, void *sock, const ember_msg *req)
{
    char evalue[400];
    snprintf(evalue, sizeof evalue, "the kernel cannot read this %s: %s", req->msg_type, req->bad);
    ember_reply_error(k, sock, req, "BadRequest", evalue);
}

/* A field of the request's content that must be of one JSON type when it is
 * there (null counts as absent). why receives the complaint. */
static int field_ok(const ember_msg *req, const char *key, int type, int required, char *why,
                    size_t whylen)
{
    static const char *const names[] = {
        [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array", [JSON_STRING] = "a string",
        [JSON_INTEGER] = "an integer", [JSON_TRUE] = "true or false",
    };
    json_t *v = json_object_get(req->content, key);
    if (!v || json_is_null(v)) {
        if (!required)
            return 1;
        snprintf(why, whylen, "the kernel cannot read this %s: \"%s\" is missing", req->msg_type,
                 key);
        return 0;
    }
    int t = json_typeof(v);
    if (t == type || (type == JSON_TRUE && t == JSON_FALSE))
        return 1;
    snprintf(why, whylen, "the kernel cannot read this %s: \"%s\" must be %s", req->msg_type,
             key, names[type]);
    return 0;
}

int ember_check_fields(ember_kernel *k, void *sock, const ember_msg *req, const ember_field *f)
{
    char why[300];
    for (; f->key; f++) {
        if (!field_ok(req, f->key, f->type, f->required, why, sizeof why)) {
            ember_reply_error(k, sock, req, "BadRequest", why);
            return -1;
        }
    }
    return 0;
}

/* The code of a request that has been checked to hold a string "code";
 * its length in bytes, since it may hold a NUL. */
static const char *get_code(const ember_msg *req, size_t *len)
{
    json_t *v = json_object_get(req->content, "code");
    *len = json_string_length(v);
    return json_string_value(v);
}

/* cursor_pos in code points; absent means the end of the code. */
static int get_cursor(const ember_msg *req, const char *code, size_t len)
{
    json_t *v = json_object_get(req->content, "cursor_pos");
    size_t points = 0;
    for (size_t i = 0; i < len; i++)
        points += ((unsigned char)code[i] & 0xc0) != 0x80;
    if (points > INT_MAX)
        points = INT_MAX;
    if (!json_is_integer(v))
        return (int)points;
    json_int_t c = json_integer_value(v);
    if (c < 0)
        return 0;
    return (size_t)c > points ? (int)points : (int)c;
}

static json_t *error_content(const char *ename, const char *evalue)
{
    json_t *text = ember_json_text(evalue, strlen(evalue));
    json_t *r = text ? json_pack("{s:s, s:s, s:O, s:[O]}", "status", "error", "ename", ename,
                                 "evalue", text, "traceback", text)
                     : NULL;
    json_decref(text);
    return r;
}

static const ember_field code_and_cursor[] = {
    {"code", JSON_STRING, 1},
    {"cursor_pos", JSON_INTEGER, 0},
    {"detail_level", JSON_INTEGER, 0},
    {NULL, 0, 0},
};

void ember_handle_kernel_info(ember_kernel *k, const ember_msg *req)
{
    ember_reply(k, k->shell, req, "kernel_info_reply", ember_kernel_info(k));
}

void ember_handle_complete(ember_kernel *k, const ember_msg *req)
{
    if (ember_check_fields(k, k->shell, req, code_and_cursor) != 0)
        return;
    size_t len;
    const char *code = get_code(req, &len);
    int cursor = get_cursor(req, code, len);
    json_t *r = ember_complete(k->engine, code, len, cursor);
    if (!json_is_object(r)) {
        json_decref(r);
        r = json_pack("{s:[], s:i, s:i, s:{}}", "matches", "cursor_start", cursor, "cursor_end",
                      cursor, "metadata");
    }
    if (r)
        json_object_set_new(r, "status", json_string("ok"));
    ember_reply(k, k->shell, req, "complete_reply", r);
}

void ember_handle_inspect(ember_kernel *k, const ember_msg *req)
{
    if (ember_check_fields(k, k->shell, req, code_and_cursor) != 0)
        return;
    size_t len;
    const char *code = get_code(req, &len);
    int cursor = get_cursor(req, code, len);
    json_t *dl = json_object_get(req->content, "detail_level");
    int detail = json_is_integer(dl) && json_integer_value(dl) == 1 ? 1 : 0;
    json_t *r = ember_inspect(k->engine, code, len, cursor, detail);
    if (!json_is_object(r)) {
        json_decref(r);
        r = json_pack("{s:b, s:{}, s:{}}", "found", 0, "data", "metadata");
    }
    if (r)
        json_object_set_new(r, "status", json_string("ok"));
    ember_reply(k, k->shell, req, "inspect_reply", r);
}

void ember_handle_is_complete(ember_kernel *k, const ember_msg *req)
{
    if (ember_check_fields(k, k->shell, req, code_and_cursor) != 0)
        return;
    char indent[64] = "";
    size_t len;
    const char *code = get_code(req, &len);
    const char *status = ember_is_complete(k->engine, code, len, indent, sizeof indent);
    if (!status)
        status = "unknown";
    json_t *r = json_pack("{s:s}", "status", status);
    if (r && strcmp(status, "incomplete") == 0)
        json_object_set_new(r, "indent", json_string(indent));
    ember_reply(k, k->shell, req, "is_complete_reply", r);
}

void ember_handle_history(ember_kernel *k, const ember_msg *req)
{
    char err[256];
    json_t *h = ember_history_query(&k->history, req->content, err, sizeof err);
    json_t *r = h ? json_pack("{s:s, s:o}", "status", "ok", "history", h)
                  : error_content("HistoryError", err);
    ember_reply(k, k->shell, req, "history_reply", r);
}

void ember_handle_comm_info(ember_kernel *k, const ember_msg *req)
{
    ember_reply(k, k->shell, req, "comm_info_reply",
                json_pack("{s:s, s:{}}", "status", "ok", "comms"));
}

void ember_handle_comm_open(ember_kernel *k, const ember_msg *req)
{
    json_t *id = json_object_get(req->content, "comm_id");
    const char *target = json_string_value(json_object_get(req->content, "target_name"));
    ember_log("no comm target \"%s\" in Ember: closing the comm", target ? target : "");
    if (!json_is_string(id))
        return;
    /* Telling the front end the comm is closed stops it waiting on it. */
    ember_publish(k, "comm_close", req,
                  json_pack("{s:O, s:{}}", "comm_id", id, "data"));
}

void ember_handle_comm_ignored(ember_kernel *k, const ember_msg *req)
{
    (void)k;
    ember_debug("ignoring %s: Ember has no open comms", req->msg_type);
}

void ember_handle_connect(ember_kernel *k, const ember_msg *req)
{
    const int *p = k->conn.ports;
    ember_reply(k, k->shell, req, "connect_reply",
                json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "status", "ok", "shell_port",
                          p[EMBER_CH_SHELL], "iopub_port", p[EMBER_CH_IOPUB], "stdin_port",
                          p[EMBER_CH_STDIN], "hb_port", p[EMBER_CH_HB], "control_port",
                          p[EMBER_CH_CONTROL]));
}

void ember_handle_shell_shutdown(ember_kernel *k, const ember_msg *req)
{
    int restart = json_is_true(json_object_get(req->content, "restart"));
    ember_reply(k, k->shell, req, "shutdown_reply",
                json_pack("{s:s, s:b}", "status", "ok", "restart", restart));
    /* The main thread owns the shutdown: wake it. */
    if (zmq_send(k->wake_push, "shutdown", 8, 0) < 0)
        ember_log("cannot ask the main thread to shut down: %s", zmq_strerror(zmq_errno()));
}

void ember_handle_shell_interrupt(ember_kernel *k, const ember_msg *req)
{
    /* On shell the kernel is by definition between cells: nothing to stop. */
    ember_reply(k, k->shell, req, "interrupt_reply", json_pack("{s:s}", "status", "ok"));
}
