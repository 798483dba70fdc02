/* handlers.c — the shell requests other than execute: introspection
 * (complete, inspect, is_complete) answered by the engine, history from disk,
 * comms (Ember has none), and the rarer kernel_info/connect/shutdown/interrupt
 * on shell. */
#include <stdatomic.h>
#include <string.h>

#include <zmq.h>

#include "handlers.h"
#include "kernel_info.h"
#include "iopub.h"
#include "sockets.h"

static const char *get_code(const ember_msg *req)
{
    const char *code = json_string_value(json_object_get(req->content, "code"));
    return code ? code : "";
}

/* cursor_pos in code points; absent means the end of the code. */
static int get_cursor(const ember_msg *req, const char *code)
{
    json_t *v = json_object_get(req->content, "cursor_pos");
    int points = 0;
    for (const unsigned char *p = (const unsigned char *)code; *p; p++)
        points += (*p & 0xc0) != 0x80;
    if (!json_is_integer(v))
        return points;
    json_int_t c = json_integer_value(v);
    if (c < 0)
        return 0;
    return c > points ? points : (int)c;
}

static json_t *error_content(const char *ename, const char *evalue)
{
    return json_pack("{s:s, s:s, s:s, s:[s]}", "status", "error", "ename", ename, "evalue",
                     evalue, "traceback", evalue);
}

void ember_handle_kernel_info(ember_kernel *k, const ember_msg *req)
{
    ember_reply(k, k->shell, req, "kernel_info_reply", ember_kernel_info(k));
}

void ember_handle_complete(ember_kernel *k, const ember_msg *req)
{
    const char *code = get_code(req);
    int cursor = get_cursor(req, code);
    json_t *r = ember_complete(k->engine, code, cursor);
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
    const char *code = get_code(req);
    int cursor = get_cursor(req, code);
    json_t *dl = json_object_get(req->content, "detail_level");
    int detail = json_is_integer(dl) && json_integer_value(dl) == 1 ? 1 : 0;
    json_t *r = ember_inspect(k->engine, code, cursor, detail);
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
    char indent[64] = "";
    const char *status = ember_is_complete(k->engine, get_code(req), indent, sizeof indent);
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
