"""test_wire_safety.py — raw frames against a live kernel: messages with a
wrong or missing signature are dropped and never executed (checked by the
variable they would have set); a signed request the kernel cannot take
(invalid JSON, a part that is not an object, a field of the wrong type) gets
an error reply, never silence; malformed frames, unreadable headers and
unknown msg_types leave the kernel up and answering."""
import json
import uuid

import pytest

from protocol_util import RawClient, result_text, run


@pytest.fixture
def raw(kernel):
    km, _ = kernel
    r = RawClient(km)
    yield r
    r.close()


def assert_alive(kernel):
    km, kc = kernel
    assert km.is_alive()
    reply, msgs = run(kc, "1 + 1")
    assert reply["content"]["status"] == "ok" and result_text(msgs) == "2"


def assert_unset(kc, name):
    reply, _ = run(kc, name)
    assert reply["content"]["status"] == "error", f"{name} was set: a dropped message ran"
    assert reply["content"]["ename"] == "NameError"


def execute_content(code):
    return {"code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True}


def test_signed_raw_message_runs(kernel, raw):
    """The control case: the same path with a good signature does run."""
    msg_id, frames = raw.message("execute_request", execute_content("raw_good = 1"))
    raw.send(frames)
    reply = raw.recv()
    assert reply and reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "ok"
    _, msgs = run(kernel[1], "raw_good")
    assert result_text(msgs) == "1"


@pytest.mark.parametrize("signature", [b"", b"0" * 64, b"deadbeef", b"A" * 64])
def test_bad_signature_is_dropped(kernel, raw, signature):
    _, frames = raw.message("execute_request", execute_content("hacked = 1"), signature=signature)
    raw.send(frames)
    assert raw.recv(timeout=0.5) is None, "the kernel answered a mis-signed message"
    assert_unset(kernel[1], "hacked")
    assert_alive(kernel)


def test_tampered_content_is_dropped(kernel, raw):
    _, frames = raw.message("execute_request", execute_content("harmless = 1"))
    frames[-1] = json.dumps(execute_content("tampered = 1")).encode()
    raw.send(frames)
    assert raw.recv(timeout=0.5) is None
    assert_unset(kernel[1], "tampered")
    assert_alive(kernel)


def test_signature_from_another_key_is_dropped(kernel, raw):
    real = raw.key
    raw.key = b"not-the-key"
    _, frames = raw.message("execute_request", execute_content("other_key = 1"))
    raw.key = real
    raw.send(frames)
    assert raw.recv(timeout=0.5) is None
    assert_unset(kernel[1], "other_key")


MALFORMED = [
    [b"just one frame"],
    [b"<IDS|MSG>"],
    [b"<IDS|MSG>", b"sig"],
    [b"no", b"delimiter", b"{}", b"{}", b"{}", b"{}"],
    [b""] * 10,
    [b"<IDS|MSG>"] * 7,
    [b"\xff" * 1000, b"<IDS|MSG>", b"x", b"{", b"}", b"[", b"]"],
]


@pytest.mark.parametrize("frames", MALFORMED)
def test_malformed_frames(kernel, raw, frames):
    raw.send(frames)
    assert raw.recv(timeout=0.3) is None
    assert_alive(kernel)


def signed_parts(raw, parts):
    return [b"<IDS|MSG>", raw.sign(parts), *parts]


@pytest.mark.parametrize(
    "parts",
    [
        [b"{not json", b"{}", b"{}", b"{}"],
        [b"[]", b"{}", b"{}", b"{}"],
        [b'{"msg_id": "1"}', b"{}", b"{}", b"{}"],
        [b'{"msg_id": "1", "msg_type": 5}', b"{}", b"{}", b"{}"],
        [b'{"msg_id": "1", "msg_type": ""}', b"{}", b"{}", b"{}"],
    ],
)
def test_unreadable_header(kernel, raw, parts):
    """Signed, but the header names neither a request nor a reply type:
    nothing can be answered; the kernel stays up."""
    raw.send(signed_parts(raw, parts))
    assert raw.recv(timeout=0.3) is None
    assert_alive(kernel)


def bad_request(msg_id, header_extra=b"", parent=b"{}", metadata=b"{}", content=b"{}"):
    header = b'{"msg_id": ' + msg_id + b', "msg_type": "execute_request"' + header_extra + b"}"
    return [header, parent, metadata, content]


def iopub_for(kc, parent_header, timeout=10):
    """IOPub messages (busy..idle) whose parent_header is parent_header."""
    msgs = []
    while True:
        m = kc.get_iopub_msg(timeout=timeout)
        if m["parent_header"] != parent_header:
            continue
        msgs.append(m)
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            return msgs


BAD_REQUESTS = [
    # (name, header msg_id JSON, keyword parts, what the evalue names)
    ("content not JSON", None, {"content": b"{" * 5000}, "content is not valid JSON"),
    ("content an array", None, {"content": b"[1]"}, "content must be a JSON object"),
    ("parent null", None, {"parent": b"null"}, "parent_header must be a JSON object"),
    ("metadata not JSON", None, {"metadata": b"{"}, "metadata is not valid JSON"),
    ("invalid UTF-8", None, {"content": b'{"code": "\xc3\x28"}'}, "content is not valid JSON"),
    ("msg_id a number", b"1234", {}, "header.msg_id"),
    ("session a list", None, {"header_extra": b', "session": []'}, "header.session"),
    ("code missing", None, {"content": b'{"silent": false}'}, '"code" is missing'),
    ("code a number", None, {"content": b'{"code": 5}'}, '"code" must be a string'),
    ("silent a string", None, {"content": b'{"code": "1", "silent": "yes"}'}, '"silent" must be true or false'),
    ("user_expressions a list", None, {"content": b'{"code": "1", "user_expressions": [1]}'},
     '"user_expressions" must be an object'),
]


@pytest.mark.parametrize("name,msg_id,kw,why", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_execute_request_gets_an_error_reply(kernel, raw, name, msg_id, kw, why):
    """A signed execute_request the kernel cannot take is answered, never
    dropped: execute_reply with status error, ename and evalue, and busy /
    error / idle on IOPub, all with the request's header as parent."""
    _, kc = kernel
    msg_id = msg_id or json.dumps(str(uuid.uuid4())).encode()
    parts = bad_request(msg_id, **kw)
    raw.send(signed_parts(raw, parts))
    reply = raw.recv()
    assert reply is not None, f"no reply to a bad execute_request ({name})"
    parent = json.loads(parts[0])
    assert reply["parent_header"] == parent
    assert reply["header"]["msg_type"] == "execute_reply"
    c = reply["content"]
    assert c["status"] == "error" and c["ename"] == "BadRequest", c
    assert why in c["evalue"], c["evalue"]
    assert isinstance(c["execution_count"], int) and c["traceback"]
    msgs = iopub_for(kc, parent)
    assert [m["msg_type"] for m in msgs] == ["status", "error", "status"]
    assert msgs[0]["content"]["execution_state"] == "busy"
    assert msgs[1]["content"]["ename"] == "BadRequest" and why in msgs[1]["content"]["evalue"]
    assert_alive(kernel)


def test_wrong_field_types_in_content(kernel, raw):
    """Signed and well-formed JSON with nonsense fields gets an answer, not a
    crash: an error reply where a field has the wrong type."""
    bad_contents = [
        ("execute_request", {"code": 5}, "error"),
        ("execute_request", {"code": "1", "silent": "yes", "user_expressions": [1],
                             "allow_stdin": 3, "stop_on_error": None}, "error"),
        ("execute_request", {"code": "1", "stop_on_error": None, "silent": None}, "ok"),
        ("complete_request", {"code": 1, "cursor_pos": "x"}, "error"),
        ("complete_request", {"code": "pri", "cursor_pos": "x"}, "error"),
        ("complete_request", {"code": "pri", "cursor_pos": 10**12}, "ok"),
        ("complete_request", {"code": "pri", "cursor_pos": -5}, "ok"),
        ("inspect_request", {"code": None, "cursor_pos": 1.5, "detail_level": "max"}, "error"),
        ("inspect_request", {"code": "len", "cursor_pos": 3, "detail_level": "max"}, "error"),
        ("is_complete_request", {}, "error"),
        ("history_request", {"hist_access_type": "nonsense"}, "error"),
        ("history_request", {"hist_access_type": "range", "session": "a", "start": 1e300}, None),
        ("history_request", {"hist_access_type": "search", "pattern": 7, "n": -1}, None),
        ("comm_open", {"comm_id": 5}, None),
    ]
    for msg_type, content, status in bad_contents:
        msg_id, frames = raw.message(msg_type, content)
        raw.send(frames)
        if msg_type == "comm_open":
            continue
        reply = raw.recv()
        assert reply is not None, f"no reply to {msg_type} {content}"
        assert reply["parent_header"]["msg_id"] == msg_id
        if status:
            assert reply["content"]["status"] == status, (msg_type, content, reply["content"])
        if status == "error" and msg_type != "history_request":
            assert reply["content"]["ename"] == "BadRequest" and reply["content"]["evalue"]
    assert_alive(kernel)


def test_unknown_msg_type_raw(kernel, raw):
    _, frames = raw.message("made_up_request", {"x": 1})
    raw.send(frames)
    assert raw.recv(timeout=0.3) is None
    assert_alive(kernel)


def test_junk_on_control(kernel):
    km, _ = kernel
    r = RawClient(km, channel="control")
    try:
        r.send([b"junk"])
        _, frames = r.message("kernel_info_request", {}, signature=b"bad")
        r.send(frames)
        assert r.recv(timeout=0.3) is None
        msg_id, frames = r.message("kernel_info_request", {})
        r.send(frames)
        reply = r.recv()
        assert reply and reply["parent_header"]["msg_id"] == msg_id
    finally:
        r.close()
    assert_alive(kernel)
