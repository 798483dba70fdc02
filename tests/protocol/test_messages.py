"""test_messages.py — every shell/control request of the protocol against one
Ember kernel: kernel_info, execute (IOPub order, counts, silent,
store_history, errors, stop_on_error, user_expressions, displays),
is_complete, complete, inspect, comm_info/comm_open, and iopub_welcome."""
import time
from queue import Empty

import zmq

from protocol_util import (
    TIMEOUT, collect, result_text, run, shell_reply, start, stdout_of, stop, types,
)


def check_kernel_info(content):
    assert content["status"] == "ok"
    assert content["protocol_version"] == "5.5"
    assert content["implementation"] == "ember"
    assert content["implementation_version"]
    li = content["language_info"]
    assert li["name"] == "ember"
    assert li["version"]
    assert li["mimetype"] == "text/x-ember"
    assert li["file_extension"] == ".ember"
    assert li["codemirror_mode"] == "python"
    assert li["pygments_lexer"] == "python"
    assert isinstance(content["help_links"], list) and content["help_links"]
    assert all({"text", "url"} <= set(h) for h in content["help_links"])
    assert isinstance(content["banner"], str) and content["banner"]
    assert content["debugger"] is False


def test_kernel_info_on_shell(kc):
    msg_id = kc.kernel_info()
    reply = shell_reply(kc, msg_id)
    assert reply["msg_type"] == "kernel_info_reply"
    assert reply["header"]["version"] == "5.5"
    assert reply["parent_header"]["msg_id"] == msg_id
    check_kernel_info(reply["content"])
    # busy and idle for it on IOPub, with it as parent
    msgs = collect(kc, msg_id)
    assert [m["content"]["execution_state"] for m in msgs] == ["busy", "idle"]


def test_kernel_info_on_control(kernel, kc):
    msg = kc.session.msg("kernel_info_request", {})
    kc.control_channel.send(msg)
    reply = kc.get_control_msg(timeout=TIMEOUT)
    assert reply["msg_type"] == "kernel_info_reply"
    assert reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]
    check_kernel_info(reply["content"])


def test_headers_are_fresh_and_dated(kc):
    reply, msgs = run(kc, "1")
    ids = [m["header"]["msg_id"] for m in msgs] + [reply["header"]["msg_id"]]
    assert len(set(ids)) == len(ids)
    for m in msgs + [reply]:
        assert m["header"]["session"] == reply["header"]["session"]
        assert m["header"]["version"] == "5.5"
        assert m["header"]["date"] is not None  # jupyter_client parsed the ISO 8601 date


def test_iopub_order_ok(kc):
    code = 'print("a")\nprint("b")\n6*7'
    reply, msgs = run(kc, code)
    assert reply["content"]["status"] == "ok"
    t = types(msgs)
    assert t[0] == "status" and msgs[0]["content"]["execution_state"] == "busy"
    assert t[1] == "execute_input"
    assert msgs[1]["content"]["code"] == code
    assert msgs[1]["content"]["execution_count"] == reply["content"]["execution_count"]
    assert t[-2] == "execute_result"
    assert t[-1] == "status"
    assert set(t[2:-2]) == {"stream"}
    assert stdout_of(msgs) == "a\nb\n"
    assert result_text(msgs) == "42"
    res = msgs[-2]["content"]
    assert res["execution_count"] == reply["content"]["execution_count"]
    assert reply["content"]["payload"] == []
    assert reply["content"]["user_expressions"] == {}


def test_nothing_after_idle(kc):
    msg_id = kc.execute('print("x")\n1')
    collect(kc, msg_id)
    shell_reply(kc, msg_id)
    time.sleep(0.3)
    late = []
    while True:
        try:
            late.append(kc.get_iopub_msg(timeout=0.05))
        except Empty:
            break
    assert [m for m in late if m["parent_header"].get("msg_id") == msg_id] == []


def test_execution_count_rules(kc):
    r1, _ = run(kc, "1")
    n = r1["content"]["execution_count"]
    r2, m2 = run(kc, "2")
    assert r2["content"]["execution_count"] == n + 1
    # silent: no execute_input, no execute_result, count unchanged
    r3, m3 = run(kc, "3", silent=True)
    assert "execute_input" not in types(m3) and "execute_result" not in types(m3)
    r4, _ = run(kc, "4")
    assert r4["content"]["execution_count"] == n + 2
    # store_history=False: result shown, count unchanged
    r5, m5 = run(kc, "5", store_history=False)
    assert "execute_input" in types(m5) and result_text(m5) == "5"
    r6, _ = run(kc, "6")
    assert r6["content"]["execution_count"] == n + 3
    # errors count too
    r7, _ = run(kc, "no_such_name_here")
    assert r7["content"]["status"] == "error"
    r8, _ = run(kc, "8")
    assert r8["content"]["execution_count"] == n + 5


def test_silent_still_has_side_effects(kc):
    run(kc, "silent_var = 99", silent=True)
    _, msgs = run(kc, "silent_var")
    assert result_text(msgs) == "99"


def test_trailing_semicolon_suppresses_result(kc):
    reply, msgs = run(kc, "1 + 1;")
    assert reply["content"]["status"] == "ok"
    assert "execute_result" not in types(msgs)


def test_error_reply_and_iopub(kc):
    reply, msgs = run(kc, "x_undefined_123 + 1")
    c = reply["content"]
    assert c["status"] == "error"
    assert c["ename"] == "NameError"
    assert isinstance(c["evalue"], str) and isinstance(c["traceback"], list)
    t = types(msgs)
    assert t == ["status", "execute_input", "error", "status"]
    err = msgs[2]["content"]
    assert err["ename"] == "NameError" and err["traceback"] == c["traceback"]


def test_traceback_of_a_10_mb_line_is_short(kc):
    """A SyntaxError in a 10 MB line: the traceback echoes a window of the
    line around the caret (it used to echo all 10 MB, in the error message
    and again in the reply), with the caret under the right character."""
    code = "x = 1\ny = '" + "\u00e9" * (5 << 20) + "' + $ + 1"
    reply, msgs = run(kc, code, timeout=60 * TIMEOUT / 10)
    c = reply["content"]
    assert c["status"] == "error" and c["ename"] == "SyntaxError"
    err = [m["content"] for m in msgs if m["msg_type"] == "error"]
    assert len(err) == 1 and err[0]["traceback"] == c["traceback"]
    for part in (c, err[0]):
        assert sum(len(t) for t in part["traceback"]) + len(part["evalue"]) < 4096
    where = c["traceback"][1]
    line = where.split("----> 2\x1b[0m ", 1)[1].split("\n")[0]
    caret_line = where.split("\n")[-1]
    assert line.startswith("...") and "\x1b[1;31m^\x1b[0m" in caret_line
    col = len(caret_line.split("\x1b[1;31m")[0]) - len("----> 2 ")
    assert line[col] == "$"


def test_stop_on_error_aborts_queued(kc):
    ids = [kc.execute("sleep(0.3)\nundefined_thing"), kc.execute("aborted_a = 1"),
           kc.execute("aborted_b = 2")]
    replies = [shell_reply(kc, i) for i in ids]
    assert replies[0]["content"]["status"] == "error"
    assert [r["content"]["status"] for r in replies[1:]] == ["aborted", "aborted"]
    for i in ids:  # every request still gets busy ... idle
        msgs = collect(kc, i)
        assert msgs[0]["content"]["execution_state"] == "busy"
        assert msgs[-1]["content"]["execution_state"] == "idle"
    # the aborted cells did not run, and the kernel takes new work
    reply, msgs = run(kc, 'type(aborted_a)')
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "NameError"
    reply, _ = run(kc, "1")
    assert reply["content"]["status"] == "ok"


def test_request_sent_after_the_error_reply_runs(kc):
    """Only requests queued when a cell failed are aborted, not the next one a
    front end sends the moment it sees the error."""
    for _ in range(20):
        bad = kc.execute("undefined_thing")
        assert shell_reply(kc, bad)["content"]["status"] == "error"
        good = kc.execute("1")
        assert shell_reply(kc, good)["content"]["status"] == "ok"
        collect(kc, bad)
        collect(kc, good)


def test_stop_on_error_false_runs_queued(kc):
    ids = [kc.execute("sleep(0.2)\nundefined_thing", stop_on_error=False),
           kc.execute("kept_going = 7")]
    replies = [shell_reply(kc, i) for i in ids]
    assert [r["content"]["status"] for r in replies] == ["error", "ok"]
    for i in ids:
        collect(kc, i)
    _, msgs = run(kc, "kept_going")
    assert result_text(msgs) == "7"


def test_user_expressions(kc):
    run(kc, "ue = 20")
    reply, _ = run(kc, "ue = ue + 1", user_expressions={"a": "ue * 2", "bad": "nope_nope"})
    ue = reply["content"]["user_expressions"]
    assert ue["a"]["status"] == "ok"
    assert ue["a"]["data"]["text/plain"] == "42"
    assert ue["bad"]["status"] == "error" and ue["bad"]["ename"] == "NameError"


def test_stderr_and_displays(kc):
    code = (
        'print("to err", file="stderr")\n'
        'display("shown", display_id="d1")\n'
        'update_display("updated", display_id="d1")\n'
        'clear_output(wait=true)\n'
    )
    reply, msgs = run(kc, code)
    assert reply["content"]["status"] == "ok"
    t = types(msgs)
    assert t[2:-1] == ["stream", "display_data", "update_display_data", "clear_output"]
    assert msgs[2]["content"] == {"name": "stderr", "text": "to err\n"}
    assert msgs[3]["content"]["transient"] == {"display_id": "d1"}
    assert "text/plain" in msgs[3]["content"]["data"]
    assert msgs[4]["content"]["transient"] == {"display_id": "d1"}
    assert msgs[5]["content"] == {"wait": True}


def test_help_pages(kc):
    reply, _ = run(kc, "help(print)")
    payload = reply["content"]["payload"]
    assert len(payload) == 1 and payload[0]["source"] == "page"
    assert "print" in payload[0]["data"]["text/plain"]


def test_is_complete(kc):
    def status(code):
        msg_id = kc.is_complete(code)
        return shell_reply(kc, msg_id)["content"]

    assert status("x = 1")["status"] == "complete"
    inc = status("print(1,")
    assert inc["status"] == "incomplete" and isinstance(inc["indent"], str)
    assert status("x = [1,\n 2")["status"] == "incomplete"
    assert status("x = )")["status"] == "invalid"


def test_complete(kc):
    run(kc, "completion_target = 1")
    code = "completion_ta"
    reply = shell_reply(kc, kc.complete(code))
    c = reply["content"]
    assert c["status"] == "ok"
    assert "completion_target" in c["matches"]
    assert c["cursor_start"] == 0 and c["cursor_end"] == len(code)
    # cursor positions count code points, not bytes
    code = '"é" + pri'
    c = shell_reply(kc, kc.complete(code))["content"]
    assert "print" in c["matches"]
    assert c["cursor_start"] == 6 and c["cursor_end"] == 9


def test_inspect(kc):
    reply = shell_reply(kc, kc.inspect("print", cursor_pos=5))
    c = reply["content"]
    assert c["status"] == "ok" and c["found"] is True
    assert "print(" in c["data"]["text/plain"]
    c = shell_reply(kc, kc.inspect("zzz_nothing", cursor_pos=3))["content"]
    assert c["status"] == "ok" and c["found"] is False


def test_comm_info_and_comm_open(kc):
    msg = kc.session.msg("comm_info_request", {})
    kc.shell_channel.send(msg)
    reply = shell_reply(kc, msg["header"]["msg_id"])
    assert reply["content"] == {"status": "ok", "comms": {}}
    msg = kc.session.msg("comm_open", {"comm_id": "c-1", "target_name": "nobody", "data": {}})
    kc.shell_channel.send(msg)
    msgs = collect(kc, msg["header"]["msg_id"])
    closes = [m for m in msgs if m["msg_type"] == "comm_close"]
    assert len(closes) == 1 and closes[0]["content"]["comm_id"] == "c-1"


def test_unknown_msg_type_is_ignored(kc):
    msg = kc.session.msg("no_such_request", {})
    kc.shell_channel.send(msg)
    msgs = collect(kc, msg["header"]["msg_id"])
    assert [m["content"]["execution_state"] for m in msgs] == ["busy", "idle"]
    reply, _ = run(kc, "1")
    assert reply["content"]["status"] == "ok"


def test_unknown_requests_are_logged_once(tmp_path):
    """A front-end extension polling with a request Ember does not know
    (jupyter-resource-usage sends usage_request every few seconds) gets one
    line in the kernel's log, not one per request."""
    log = open(tmp_path / "kernel.log", "w+")
    km, kc = start(stderr=log)
    try:
        for _ in range(5):
            for channel in (kc.control_channel, kc.shell_channel):
                msg = kc.session.msg("usage_request", {})
                channel.send(msg)
                collect(kc, msg["header"]["msg_id"])
        reply, _ = run(kc, "1")
        assert reply["content"]["status"] == "ok"
    finally:
        stop(km, kc)
    log.seek(0)
    lines = [l for l in log.read().splitlines() if "usage_request" in l]
    log.close()
    assert len(lines) == 1, lines


def test_iopub_welcome_for_each_subscriber(kernel):
    km, _ = kernel
    info = km.get_connection_info()
    ctx = zmq.Context()
    try:
        for topic in (b"", b"kernel."):
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.SUBSCRIBE, topic)
            sub.connect(f"tcp://{info['ip']}:{info['iopub_port']}")
            assert sub.poll(int(TIMEOUT * 1000)), "no iopub_welcome"
            frames = sub.recv_multipart()
            d = frames.index(b"<IDS|MSG>")
            import json

            header = json.loads(frames[d + 2])
            content = json.loads(frames[d + 5])
            assert header["msg_type"] == "iopub_welcome"
            assert content == {"subscription": topic.decode()}
            if topic:
                assert frames[0] == topic
            sub.close()
    finally:
        ctx.term()
