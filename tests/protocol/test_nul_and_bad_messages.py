"""test_nul_and_bad_messages.py — a NUL character in a cell (U+0000 is valid
JSON, and jupyter_client sends it as \\u0000): the cell runs, a NUL inside a
string literal is a character of the str, anywhere else a SyntaxError, and
every request is answered (the kernel used to drop the message and leave the
front end waiting forever). Also: a bad request on control and a bad
input_reply on stdin are answered or fail input(), never silence."""
import json
import uuid

import pytest

from protocol_util import (
    RawClient,
    TIMEOUT,
    collect,
    result_text,
    run,
    shell_reply,
    stdout_of,
)


def test_nul_in_a_string_literal(kc):
    reply, msgs = run(kc, "len('a\x00b')")
    assert reply["content"]["status"] == "ok", reply["content"]
    assert result_text(msgs) == "3"
    # execute_input echoes the code whole
    echoed = [m for m in msgs if m["msg_type"] == "execute_input"]
    assert echoed and echoed[0]["content"]["code"] == "len('a\x00b')"


def test_nul_reaches_the_value_and_the_output(kc):
    reply, msgs = run(kc, "s = 'a\x00b' + '\\0'\nprint(s, len(s))\ns")
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stdout_of(msgs) == "a\x00b\x00 4\n"
    assert result_text(msgs) == "'a\\x00b\\x00'"


def test_nul_outside_a_literal_is_a_syntax_error(kc):
    reply, msgs = run(kc, "x = 1\x00\nx")
    c = reply["content"]
    assert c["status"] == "error" and c["ename"] == "SyntaxError", c
    assert "NUL (U+0000) can only appear inside a string literal" in c["evalue"]
    errors = [m for m in msgs if m["msg_type"] == "error"]
    assert len(errors) == 1
    tb = "\n".join(errors[0]["content"]["traceback"])
    # the NUL is shown as a visible one-column picture, the caret under it
    assert "x = 1\u2400" in tb
    reply, _ = run(kc, "x")
    assert reply["content"]["ename"] == "NameError"


def test_nul_in_introspection_requests(kc):
    code = "'a\x00b'; le"
    msg_id = kc.complete(code, cursor_pos=len(code))
    c = shell_reply(kc, msg_id)["content"]
    assert c["status"] == "ok" and "len" in c["matches"]
    assert c["cursor_start"] == len(code) - 2
    msg_id = kc.inspect("'\x00'; len(", cursor_pos=8)
    c = shell_reply(kc, msg_id)["content"]
    assert c["status"] == "ok" and c["found"]
    msg_id = kc.is_complete("f('\x00',")
    assert shell_reply(kc, msg_id)["content"]["status"] == "incomplete"
    msg_id = kc.is_complete("x = \x00")
    assert shell_reply(kc, msg_id)["content"]["status"] == "invalid"


def test_nul_in_user_expressions_and_history(kc):
    reply, _ = run(kc, "nul_var = 'a\x00b'", user_expressions={"n": "len(nul_var\x00)", "m": "len('\x00')"})
    c = reply["content"]
    assert c["status"] == "ok"
    assert c["user_expressions"]["m"]["data"]["text/plain"] == "1"
    assert c["user_expressions"]["n"]["ename"] == "SyntaxError"
    msg_id = kc.history(hist_access_type="tail", n=5)
    hist = shell_reply(kc, msg_id)["content"]["history"]
    assert any(entry[2] == "nul_var = 'a\x00b'" for entry in hist), hist


def test_nul_in_an_input_reply(kc):
    msg_id = kc.execute("answer = input('? ')\nlen(answer)", allow_stdin=True)
    req = kc.get_stdin_msg(timeout=TIMEOUT)
    assert req["msg_type"] == "input_request"
    kc.input("a\x00b")
    reply = shell_reply(kc, msg_id)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert result_text(collect(kc, msg_id)) == "3"


@pytest.fixture
def control(kernel):
    km, _ = kernel
    r = RawClient(km, channel="control")
    yield r
    r.close()


def test_bad_request_on_control_gets_an_error_reply(kernel, control):
    msg_id = str(uuid.uuid4())
    header = {"msg_id": msg_id, "msg_type": "kernel_info_request", "session": control.session}
    parts = [json.dumps(header).encode(), b"{}", b"{}", b'{"broken":']
    control.send([b"<IDS|MSG>", control.sign(parts), *parts])
    reply = control.recv()
    assert reply is not None, "no reply to a bad kernel_info_request on control"
    assert reply["header"]["msg_type"] == "kernel_info_reply"
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "BadRequest"
    assert "content is not valid JSON" in reply["content"]["evalue"]
    # and control still answers
    msg_id, frames = control.message("kernel_info_request", {})
    control.send(frames)
    reply = control.recv()
    assert reply and reply["content"]["status"] == "ok"


def test_bad_input_reply_fails_input(kernel):
    """An input_reply the kernel cannot read ends input() with an error
    (before, it was dropped and input() waited until interrupted)."""
    km, kc = kernel
    info = km.get_connection_info()
    import zmq
    from zmq.utils.monitor import recv_monitor_message

    ctx = zmq.Context()
    stdin = ctx.socket(zmq.DEALER)
    stdin.setsockopt(zmq.LINGER, 0)
    # the same identity as the shell socket, as a front end has
    ident = str(uuid.uuid4()).encode()
    stdin.setsockopt(zmq.IDENTITY, ident)
    # The kernel's stdin ROUTER drops an input_request for an identity it
    # has not met yet, so the request must wait for the handshake (a real
    # front end connects its channels long before it executes anything).
    monitor = stdin.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    stdin.connect(f"{info['transport']}://{info['ip']}:{info['stdin_port']}")
    assert monitor.poll(int(TIMEOUT * 1000)), "the stdin socket did not connect"
    recv_monitor_message(monitor)
    stdin.disable_monitor()
    monitor.close(0)
    shell = RawClient(km)
    shell.sock.close(0)
    shell.sock = shell.ctx.socket(zmq.DEALER)
    shell.sock.setsockopt(zmq.LINGER, 0)
    shell.sock.setsockopt(zmq.IDENTITY, ident)
    shell.sock.connect(f"{info['transport']}://{info['ip']}:{info['shell_port']}")
    try:
        msg_id, frames = shell.message(
            "execute_request",
            {"code": "input('? ')", "silent": False, "store_history": False,
             "user_expressions": {}, "allow_stdin": True, "stop_on_error": True},
        )
        shell.send(frames)
        assert stdin.poll(int(TIMEOUT * 1000)), "no input_request"
        req = stdin.recv_multipart()
        d = req.index(b"<IDS|MSG>")
        req_header = req[d + 2]
        parts = [
            json.dumps({"msg_id": str(uuid.uuid4()), "msg_type": "input_reply",
                        "session": shell.session}).encode(),
            req_header, b"{}", b'{"value": "x"',  # cut short
        ]
        stdin.send_multipart([b"<IDS|MSG>", shell.sign(parts), *parts])
        reply = shell.recv()
        assert reply is not None, "input() still waits after a bad input_reply"
        assert reply["parent_header"]["msg_id"] == msg_id
        c = reply["content"]
        assert c["status"] == "error", c
        assert "input_reply cannot be read" in c["evalue"], c["evalue"]
    finally:
        stdin.close(0)
        shell.close()
        ctx.term()
    reply, msgs = run(kc, "1 + 1")
    assert result_text(msgs) == "2"
