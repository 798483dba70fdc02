"""test_wire_safety.py — raw frames against a live kernel: messages with a
wrong or missing signature are dropped and never executed (checked by the
variable they would have set), and malformed frames, invalid JSON and unknown
msg_types leave the kernel up and answering."""
import json

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
        [b'{"msg_id": 1, "msg_type": "execute_request"}', b"{}", b"{}", b"{}"],
        [b'{"msg_id": "1", "msg_type": "execute_request"}', b"{}", b"{}", b"[1]"],
        [b'{"msg_id": "1", "msg_type": "execute_request"}', b"null", b"{}", b"{}"],
        [b'{"msg_id": "1", "msg_type": "execute_request"}', b"{}", b"{}", b"\xc3\x28"],
        [b'{"msg_id": "1", "msg_type": "execute_request"}', b"{}", b"{}", b"{" * 5000],
    ],
)
def test_invalid_json(kernel, raw, parts):
    raw.send(signed_parts(raw, parts))
    assert raw.recv(timeout=0.3) is None
    assert_alive(kernel)


def test_wrong_field_types_in_content(kernel, raw):
    """Signed and well-formed JSON with nonsense fields gets an answer, not a crash."""
    bad_contents = [
        ("execute_request", {"code": 5}),
        ("execute_request", {"code": "1", "silent": "yes", "user_expressions": [1],
                             "allow_stdin": 3, "stop_on_error": None}),
        ("complete_request", {"code": 1, "cursor_pos": "x"}),
        ("complete_request", {"code": "pri", "cursor_pos": 10**12}),
        ("complete_request", {"code": "pri", "cursor_pos": -5}),
        ("inspect_request", {"code": None, "cursor_pos": 1.5, "detail_level": "max"}),
        ("is_complete_request", {}),
        ("history_request", {"hist_access_type": "nonsense"}),
        ("history_request", {"hist_access_type": "range", "session": "a", "start": 1e300}),
        ("history_request", {"hist_access_type": "search", "pattern": 7, "n": -1}),
        ("comm_open", {"comm_id": 5}),
    ]
    for msg_type, content in bad_contents:
        _, frames = raw.message(msg_type, content)
        raw.send(frames)
        if msg_type != "comm_open":
            assert raw.recv() is not None, f"no reply to {msg_type} {content}"
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
