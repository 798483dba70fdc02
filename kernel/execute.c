/* execute.c — execute_request: the ember_io callbacks that turn engine output
 * into IOPub messages, execution_count and history bookkeeping, the reply,
 * and user_expressions. All on the execution thread, whose IOPub messages
 * keep their order (stream text is coalesced there, see iopub.c). */
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "message.h"
#include "iopub.h"
#include "sockets.h"

typedef struct exec_ctx {
    ember_kernel *k;
    const ember_msg *req;
    int allow_stdin;
} exec_ctx;

static void io_stream(void *ctx, const char *name, const char *text, size_t len)
{
    exec_ctx *c = ctx;
    if (!text || !len)
        return;
    const char *stream = name && strcmp(name, "stderr") == 0 ? "stderr" : "stdout";
    ember_publish_stream(c->k, c->req, stream, text, len);
}

static void io_display(void *ctx, json_t *data, json_t *metadata, const char *display_id,
                       int update)
{
    exec_ctx *c = ctx;
    if (!json_is_object(data)) {
        ember_log("dropped a display: its data is not a MIME bundle (object)");
        return;
    }
    if (update && !display_id) {
        ember_log("dropped update_display_data without a display_id");
        return;
    }
    json_t *content = json_pack("{s:O, s:o}", "data", data, "metadata",
                                json_is_object(metadata) ? json_incref(metadata) : json_object());
    if (content && display_id)
        json_object_set_new(content, "transient", json_pack("{s:s}", "display_id", display_id));
    ember_publish(c->k, update ? "update_display_data" : "display_data",
                  c->req, content);
}

static void io_clear_output(void *ctx, int wait)
{
    exec_ctx *c = ctx;
    ember_publish(c->k, "clear_output", c->req,
                  json_pack("{s:b}", "wait", wait));
}

static int io_input(void *ctx, const char *prompt, int password, char **line, size_t *len,
                    char *err, size_t errlen)
{
    exec_ctx *c = ctx;
    if (!c->allow_stdin) {
        snprintf(err, errlen,
                 "input() is not available: this front end does not accept input "
                 "(allow_stdin is false)");
        return -1;
    }
    return ember_stdin_input(c->k, c->req, prompt ? prompt : "", password, line, len, err,
                             errlen);
}

static int get_bool(json_t *obj, const char *key, int dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static json_t *user_expressions(ember_kernel *k, json_t *exprs, const ember_io *io)
{
    json_t *out = json_object();
    const char *name;
    json_t *v;
    json_object_foreach(exprs, name, v)
    {
        json_t *r;
        if (!json_is_string(v))
            r = json_pack("{s:s, s:s, s:s, s:[]}", "status", "error", "ename", "TypeError",
                          "evalue", "a user expression must be a string", "traceback");
        else if (!(r = ember_user_expression(k->engine, json_string_value(v),
                                             json_string_length(v), io)))
            r = json_pack("{s:s, s:s, s:s, s:[]}", "status", "error", "ename", "EmberError",
                          "evalue", "the engine could not evaluate this expression",
                          "traceback");
        json_object_set_new(out, name, r);
    }
    return out;
}

void ember_handle_aborted(ember_kernel *k, const ember_msg *req)
{
    /* What ipykernel sends for a request dropped after an error. */
    json_t *status = json_pack("{s:s}", "status", "aborted");
    if (!status) {
        ember_log("cannot build an aborted execute_reply: out of memory");
        return;
    }
    ember_send_msg(k, k->shell, req->ids, req->nids, "execute_reply", req, status,
                   status);
    json_decref(status);
}

int ember_handle_execute(ember_kernel *k, const ember_msg *req)
{
    static const ember_field fields[] = {
        {"code", JSON_STRING, 1},          {"silent", JSON_TRUE, 0},
        {"store_history", JSON_TRUE, 0},   {"user_expressions", JSON_OBJECT, 0},
        {"allow_stdin", JSON_TRUE, 0},     {"stop_on_error", JSON_TRUE, 0},
        {NULL, 0, 0},
    };
    if (ember_check_fields(k, k->shell, req, fields) != 0)
        return 0;
    json_t *content = req->content;
    json_t *codev = json_object_get(content, "code");
    /* With its length: the code may hold a NUL (U+0000 is valid JSON). */
    const char *code = json_string_value(codev);
    size_t code_len = json_string_length(codev);
    int silent = get_bool(content, "silent", 0);
    int store_history = silent ? 0 : get_bool(content, "store_history", 1);
    int stop_on_error = get_bool(content, "stop_on_error", 1);
    exec_ctx ctx = {k, req, get_bool(content, "allow_stdin", 0)};
    ember_io io = {&ctx, io_stream, io_display, io_clear_output, io_input};
    int count = k->execution_count;

    if (!silent)
        ember_publish(k, "execute_input", req,
                      json_pack("{s:O, s:i}", "code", codev, "execution_count", count));

    ember_exec_options opt = {count, silent, store_history};
    ember_exec_result res;
    memset(&res, 0, sizeof res);
    /* An interrupt that came while idle must not hit this cell. */
    ember_interrupt_clear(k->engine);
    int rc = ember_execute(k->engine, code, code_len, &opt, &io, &res);
    if (rc != 0 && res.ok) {
        res.ok = 0; /* the engine could not run it at all */
    }

    const char *text_out = NULL;
    json_t *reply;
    if (res.ok) {
        if (res.data && json_is_object(res.data) && !silent) {
            text_out = json_string_value(json_object_get(res.data, "text/plain"));
            ember_publish(k, "execute_result", req,
                          json_pack("{s:i, s:O, s:o}", "execution_count", count, "data",
                                    res.data, "metadata",
                                    json_is_object(res.metadata) ? json_incref(res.metadata)
                                                                 : json_object()));
        }
        json_t *exprs = json_object_get(content, "user_expressions");
        reply = json_pack("{s:s, s:i, s:o, s:o}", "status", "ok", "execution_count", count,
                          "payload",
                          json_is_array(res.payload) ? json_incref(res.payload) : json_array(),
                          "user_expressions",
                          json_is_object(exprs) ? user_expressions(k, exprs, &io) : json_object());
    } else {
        const char *ename = res.ename ? res.ename : "EmberError";
        const char *evalue = res.evalue ? res.evalue
                                        : "the engine could not run this cell (out of memory?)";
        json_t *tb = json_is_array(res.traceback) ? json_incref(res.traceback)
                                                  : json_pack("[s]", evalue);
        ember_publish(k, "error", req,
                      json_pack("{s:s, s:s, s:O}", "ename", ename, "evalue", evalue, "traceback",
                                tb));
        reply = json_pack("{s:s, s:i, s:s, s:s, s:o, s:[], s:{}}", "status", "error",
                          "execution_count", count, "ename", ename, "evalue", evalue,
                          "traceback", tb, "payload", "user_expressions");
    }
    if (!res.ok && stop_on_error)
        ember_shell_hold_queued(k);
    ember_reply(k, k->shell, req, "execute_reply", reply);
    if (store_history) {
        ember_history_append(&k->history, count, code, code_len, text_out);
        k->execution_count++;
    }
    int failed = !res.ok;
    ember_exec_result_clear(&res);
    return failed && stop_on_error;
}
