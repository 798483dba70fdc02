"""test_io_output_load.py — no output is lost under load. 100,000 display()
calls and 100,000 prints reach a client that reads while the cell runs, every
one of them and in order (the kernel used to drop thousands: ZeroMQ's PUB
socket discards what a subscriber has no room for). Stream text is coalesced
as ipykernel does, without reordering stdout, stderr and displays, and still
shows up while a cell runs. A subscriber that disconnects costs nothing; one
that never reads holds the kernel up only for the stall limit; interrupt and
shutdown work while output is held up."""
import hashlib
import hmac
import json
import os
import time

import pytest
import zmq

from ember_testenv import SLOW
from protocol_util import TIMEOUT, shell_reply, start, stop

N = 100_000
# Reading 100,000 messages takes seconds; a sanitized kernel is slower.
LONG = 300 * SLOW


class IOPubReader:
    """A SUB socket on IOPub that checks signatures and keeps, for one
    request, (msg_type, content) of every message from busy to idle."""

    def __init__(self, km, rcvhwm=None):
        info = km.get_connection_info()
        key = info["key"]
        self.key = key if isinstance(key, bytes) else key.encode()
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        if rcvhwm is not None:
            self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(f"{info['transport']}://{info['ip']}:{info['iopub_port']}")

    def recv(self, timeout):
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError(f"no IOPub message within {timeout} s")
        frames = self.sock.recv_multipart()
        d = frames.index(b"<IDS|MSG>")
        body = frames[d + 2 : d + 6]
        mac = hmac.new(self.key, digestmod=hashlib.sha256)
        for b in body:
            mac.update(b)
        assert frames[d + 1] == mac.hexdigest().encode(), "bad IOPub signature"
        header, parent, _, content = (json.loads(b) for b in body)
        return header["msg_type"], parent.get("msg_id"), content

    def wait_welcome(self):
        """Our subscription is live once its iopub_welcome arrives."""
        while self.recv(TIMEOUT)[0] != "iopub_welcome":
            pass

    def until_idle(self, msg_id, timeout=LONG):
        deadline = time.monotonic() + timeout
        got = []
        while True:
            msg_type, parent, content = self.recv(max(0.1, deadline - time.monotonic()))
            if parent != msg_id:
                continue
            got.append((msg_type, content))
            if msg_type == "status" and content["execution_state"] == "idle":
                return got

    def close(self):
        self.sock.close(0)
        self.ctx.term()


def start_without_iopub(**kw):
    """A kernel whose jupyter_client has no IOPub socket: that client would be
    a subscriber that never reads (it reads only when asked), and hold the
    kernel up; the tests read IOPub with IOPubReader, while cells run."""
    km, kc = start(**kw)
    kc.iopub_channel.stop()
    return km, kc


@pytest.fixture(scope="module")
def kernel():
    km, kc = start_without_iopub()
    yield km, kc
    stop(km, kc)


@pytest.fixture
def kc(kernel):
    return kernel[1]


@pytest.fixture
def reader(kernel):
    km, _ = kernel
    r = IOPubReader(km)
    r.wait_welcome()
    yield r
    r.close()


def displays(got):
    return [c["data"]["text/plain"] for t, c in got if t == "display_data"]


def stream_text(got, name="stdout"):
    return "".join(c["text"] for t, c in got if t == "stream" and c["name"] == name)


def lines_cell(template, n):
    return "\n".join(template.format(i=i) for i in range(n))


def test_100000_displays_arrive_all_in_order(kc, reader):
    msg_id = kc.execute(lines_cell("display({i})", N))
    got = reader.until_idle(msg_id)
    shown = displays(got)
    assert len(shown) == N, f"{N - len(shown)} of {N} displays were lost"
    assert shown == [str(i) for i in range(N)]
    assert got[0][0] == "status" and got[-1][0] == "status"
    assert shell_reply(kc, msg_id, LONG)["content"]["status"] == "ok"


def test_100000_prints_arrive_all_in_order(kc, reader):
    msg_id = kc.execute(lines_cell("print({i})", N))
    got = reader.until_idle(msg_id)
    lines = stream_text(got).splitlines()
    assert len(lines) == N, f"{N - len(lines)} of {N} lines were lost"
    assert lines == [str(i) for i in range(N)]
    # coalesced: far fewer messages than prints
    assert sum(t == "stream" for t, _ in got) < N // 10
    assert shell_reply(kc, msg_id, LONG)["content"]["status"] == "ok"


def test_stdout_stderr_and_displays_keep_their_order(kc, reader):
    m = 20_000
    msg_id = kc.execute(lines_cell("print({i}); print({i}, file='stderr'); display({i})", m))
    got = reader.until_idle(msg_id)
    events = []
    for t, c in got:
        if t == "stream":
            events += [(c["name"], line) for line in c["text"].splitlines()]
        elif t == "display_data":
            events.append(("display", c["data"]["text/plain"]))
    want = []
    for i in range(m):
        want += [("stdout", str(i)), ("stderr", str(i)), ("display", str(i))]
    assert events == want
    assert shell_reply(kc, msg_id, LONG)["content"]["status"] == "ok"


def test_writes_to_one_stream_are_coalesced(kc, reader):
    msg_id = kc.execute("print(1); print(2)\nprint(3, file='stderr')\nprint(4)\ndisplay(5)\nprint(6)\n7")
    got = reader.until_idle(msg_id)
    outputs = [(t, c.get("name"), c.get("text") or c["data"]["text/plain"])
               for t, c in got if t in ("stream", "display_data", "execute_result")]
    assert outputs == [
        ("stream", "stdout", "1\n2\n"),
        ("stream", "stderr", "3\n"),
        ("stream", "stdout", "4\n"),
        ("display_data", None, "5"),
        ("stream", "stdout", "6\n"),
        ("execute_result", None, "7"),
    ]


def test_stream_text_shows_while_the_cell_runs(kernel, kc, reader):
    """Coalescing never holds text back until the end of a cell: printed
    text arrives while the cell still sleeps (then it is interrupted)."""
    km, _ = kernel
    msg_id = kc.execute("print('tick')\nsleep(600)")
    deadline = time.monotonic() + TIMEOUT
    while True:
        msg_type, parent, content = reader.recv(max(0.1, deadline - time.monotonic()))
        if parent == msg_id and msg_type == "stream":
            assert content["text"] == "tick\n"
            break
        assert not (msg_type == "status" and content["execution_state"] == "idle")
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    reader.until_idle(msg_id)


def test_a_subscriber_that_disconnects_costs_nothing(kernel, kc, reader):
    km, _ = kernel
    leaver = IOPubReader(km, rcvhwm=10)
    leaver.wait_welcome()
    m = 30_000
    msg_id = kc.execute(lines_cell("display({i})", m))
    for _ in range(100):
        leaver.recv(TIMEOUT)
    leaver.close()  # gone mid-cell: ZeroMQ drops its pipe, nothing waits for it
    got = reader.until_idle(msg_id)
    assert displays(got) == [str(i) for i in range(m)]
    assert shell_reply(kc, msg_id, LONG)["content"]["status"] == "ok"


def test_interrupt_stops_a_cell_whose_output_is_held_up(kernel, kc, reader):
    """The reader stops reading for a while: the cell waits for it (nothing
    is dropped), and an interrupt still answers at once and stops the cell;
    what was shown before is complete and in order."""
    km, _ = kernel
    msg_id = kc.execute("display(" + ", ".join(str(i) for i in range(2000)) + ")\n"
                        + lines_cell("display({i})", 500_000))
    n = 0
    while n < 1000:
        msg_type, parent, _ = reader.recv(TIMEOUT)
        n += parent == msg_id and msg_type == "display_data"
    time.sleep(0.5)  # the kernel fills every queue and waits
    kc.control_channel.send(kc.session.msg("interrupt_request", {}))
    reply = kc.get_control_msg(timeout=TIMEOUT)
    assert reply["msg_type"] == "interrupt_reply"
    got = reader.until_idle(msg_id)
    shown = displays(got)
    want = [str(i) for i in range(1000, 2000)] + [str(i) for i in range(500_000)]
    assert 0 < len(shown) < len(want)
    assert shown == want[: len(shown)]
    assert shell_reply(kc, msg_id)["content"]["ename"] == "KeyboardInterrupt"


@pytest.fixture
def stall_kernel(tmp_path):
    """A kernel of its own whose stall limit is one second, its log in a file."""
    log = open(tmp_path / "kernel.log", "w+")
    km, kc = start_without_iopub(stderr=log, env=dict(os.environ, EMBER_IOPUB_STALL_SECONDS="1"))
    yield km, kc, log
    stop(km, kc)
    log.close()


def log_text(log):
    log.flush()
    log.seek(0)
    return log.read()


def test_a_subscriber_that_never_reads_does_not_hang_the_kernel(stall_kernel):
    km, kc, log = stall_kernel
    reader = IOPubReader(km)
    reader.wait_welcome()
    sleeper = IOPubReader(km, rcvhwm=1)
    sleeper.wait_welcome()  # ...and then never reads again
    try:
        # 40 MB of output: far more than every buffer on the way holds
        m = 20_000
        msg_id = kc.execute("s = 'x' * 2000\n" + lines_cell("display(s)", m))
        got = reader.until_idle(msg_id)
        assert shell_reply(kc, msg_id, LONG)["content"]["status"] == "ok"
        assert len(displays(got)) <= m
        assert "has taken no message for 1 s" in log_text(log)
        # once it is gone, nothing is dropped any more
        sleeper.close()
        sleeper = None
        deadline = time.monotonic() + TIMEOUT
        while "every subscriber is taking messages again" not in log_text(log):
            assert time.monotonic() < deadline, "the kernel still drops messages"
            reader.until_idle(kc.execute("1"))
        msg_id = kc.execute(lines_cell("display({i})", 20_000))
        got = reader.until_idle(msg_id)
        assert displays(got) == [str(i) for i in range(20_000)]
    finally:
        if sleeper:
            sleeper.close()
        reader.close()


def test_shutdown_while_a_subscriber_never_reads(stall_kernel):
    km, kc, _ = stall_kernel
    sleeper = IOPubReader(km, rcvhwm=1)
    sleeper.wait_welcome()
    try:
        kc.execute("s = 'y' * 5000\n" + lines_cell("display(s)", 20_000))
        time.sleep(0.5)
        kc.shutdown()
        proc = km.provisioner.process
        assert proc.wait(timeout=60 * SLOW) == 0
    finally:
        sleeper.close()
