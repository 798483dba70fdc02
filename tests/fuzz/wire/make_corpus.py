"""make_corpus.py — writes the seed corpus of fuzz_wire (see fuzz_wire.c for
the input format: a mode byte, then frames separated by 00 ff)."""
import hashlib
import hmac
import json
import os

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
SEP = b"\x00\xff"


def msg(msg_type, content, key=b"", ids=(b"client-1",), parent=None):
    header = {"msg_id": "0f1e2d3c-aaaa-4bbb-8ccc-111122223333", "msg_type": msg_type,
              "session": "s-1", "username": "u", "date": "2026-11-26T22:00:00.000000Z",
              "version": "5.5"}
    parts = [json.dumps(p).encode() for p in (header, parent or {}, {}, content)]
    sig = b""
    if key:
        h = hmac.new(key, digestmod=hashlib.sha256)
        for p in parts:
            h.update(p)
        sig = h.hexdigest().encode()
    return [*ids, b"<IDS|MSG>", sig, *parts]


def write(name, mode, frames):
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes([mode]) + SEP.join(frames))


os.makedirs(here, exist_ok=True)
execute = {"code": "x = 1\nprint(x)", "silent": False, "store_history": True,
           "user_expressions": {"a": "x"}, "allow_stdin": True, "stop_on_error": True}
write("execute_unsigned", 0, msg("execute_request", execute))
write("execute_signed", 1, msg("execute_request", execute, key=b"fuzz-key"))
write("execute_resign", 2, msg("execute_request", execute, ids=(b"a", b"b")))
write("kernel_info", 2, msg("kernel_info_request", {}, ids=()))
write("history", 2, msg("history_request", {"output": False, "raw": True,
                                            "hist_access_type": "search", "pattern": "x*"}))
write("with_buffers", 2, msg("comm_msg", {"comm_id": "c", "data": {}}) + [b"\x00\x01\x02"])
write("bad_json", 2, [b"id", b"<IDS|MSG>", b"", b'{"msg_id": "x", "msg_type": ', b"{}", b"{}", b"{}"])
write("no_delim", 0, [b"id", b"{}", b"{}"])
# U+0000 is valid JSON: a cell holding one is parsed, to its full length
write("execute_nul", 2, msg("execute_request", dict(execute, code="len('a\x00b')")))
# signed, readable header, content cut short: a bad request, answered with an error
write("bad_content", 2, msg("execute_request", execute)[:-1] + [b'{"code": "x'])
write("wrong_sig", 1, msg("execute_request", execute, key=b"other-key"))
write("connection", 3, [json.dumps({
    "shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003, "control_port": 5004,
    "hb_port": 5005, "ip": "127.0.0.1", "key": "k", "transport": "tcp",
    "signature_scheme": "hmac-sha256", "kernel_name": "ember"}).encode()])
