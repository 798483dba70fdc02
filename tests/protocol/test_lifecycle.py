"""test_lifecycle.py — what runs across time: interrupts (message and signal
modes, while busy, while idle, during input()), heartbeat and control while
a cell runs, the stdin round trip, restart, shutdown (exit code 0, nothing
left behind) and history surviving a restart."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from ember_testenv import KERNEL_BIN, SLOW, kernel_env
from protocol_util import (
    TIMEOUT, collect, result_text, run, shell_reply, start, stdout_of, stop, types,
)


@pytest.fixture
def kernel():
    km, kc = start()
    yield km, kc
    stop(km, kc)


@pytest.fixture
def signal_kernel():
    km, kc = start("ember-signal")
    yield km, kc
    stop(km, kc)


def interrupt_sleep(km, kc):
    run(kc, "kept = 41")
    msg_id = kc.execute("kept = kept + 1\nsleep(60)\nkept = 0")
    msgs = []
    # wait for the cell to be running (execute_input seen)
    while "execute_input" not in types(msgs):
        msgs.append(kc.get_iopub_msg(timeout=TIMEOUT))
    time.sleep(0.2)
    t0 = time.monotonic()
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id, timeout=5 * SLOW)
    elapsed = time.monotonic() - t0
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert elapsed < 0.5 * SLOW, f"interrupt took {elapsed:.3f}s"
    collect(kc, msg_id)
    _, out = run(kc, "kept")
    assert result_text(out) == "42"  # the statement before sleep ran, the one after did not
    assert km.is_alive()


def test_interrupt_message_mode(kernel):
    km, kc = kernel
    assert km.kernel_spec.interrupt_mode == "message"
    interrupt_sleep(km, kc)


def test_interrupt_signal_mode(signal_kernel):
    km, kc = signal_kernel
    assert km.kernel_spec.interrupt_mode == "signal"
    interrupt_sleep(km, kc)


def test_sigint_while_idle_does_not_kill(signal_kernel):
    km, kc = signal_kernel
    for _ in range(3):
        km.interrupt_kernel()
        time.sleep(0.1)
    os.kill(km.provisioner.process.pid, signal.SIGINT)
    time.sleep(0.2)
    assert km.is_alive()
    # an interrupt that arrived while idle does not hit the next cell
    reply, msgs = run(kc, "sleep(0.2)\n5")
    assert reply["content"]["status"] == "ok" and result_text(msgs) == "5"


def test_interrupt_message_while_idle(kernel):
    km, kc = kernel
    km.interrupt_kernel()
    time.sleep(0.1)
    reply, msgs = run(kc, "sleep(0.1)\n6")
    assert reply["content"]["status"] == "ok" and result_text(msgs) == "6"


def test_heartbeat_and_control_during_sleep(kernel):
    km, kc = kernel
    msg_id = kc.execute("sleep(5)")
    time.sleep(0.5)
    t0 = time.monotonic()
    ctx = __import__("zmq").Context()
    try:
        import zmq

        info = km.get_connection_info()
        hb = ctx.socket(zmq.REQ)
        hb.setsockopt(zmq.LINGER, 0)
        hb.connect(f"tcp://{info['ip']}:{info['hb_port']}")
        for i in range(3):
            hb.send(b"ping %d" % i)
            assert hb.poll(int(1000 * SLOW)), "heartbeat not answered during sleep(5)"
            assert hb.recv() == b"ping %d" % i
        hb.close()
    finally:
        ctx.term()
    # control answers at once while the cell runs
    msg = kc.session.msg("kernel_info_request", {})
    kc.control_channel.send(msg)
    reply = kc.get_control_msg(timeout=1 * SLOW)
    assert reply["msg_type"] == "kernel_info_reply"
    assert time.monotonic() - t0 < 1.5 * SLOW
    assert kc.is_alive()
    km.interrupt_kernel()
    assert shell_reply(kc, msg_id)["content"]["ename"] == "KeyboardInterrupt"


def answer_input(kc, value, seen):
    def target():
        msg = kc.get_stdin_msg(timeout=TIMEOUT)
        seen.append(msg)
        kc.input(value)

    t = threading.Thread(target=target)
    t.start()
    return t


def test_stdin_round_trip(kernel):
    km, kc = kernel
    seen = []
    t = answer_input(kc, "Ada", seen)
    reply, msgs = run(kc, 'name = input("name? ")\nprint("hi " + name)\nname', allow_stdin=True)
    t.join()
    assert seen and seen[0]["msg_type"] == "input_request"
    assert seen[0]["content"]["prompt"] == "name? "
    assert seen[0]["content"]["password"] is False
    assert reply["content"]["status"] == "ok"
    assert stdout_of(msgs) == "hi Ada\n"
    assert result_text(msgs) == "'Ada'"


def test_input_without_stdin_is_a_clear_error(kernel):
    km, kc = kernel
    reply, msgs = run(kc, 'input("x")', allow_stdin=False)
    c = reply["content"]
    assert c["status"] == "error"
    assert "allow_stdin is false" in c["evalue"]
    assert "input() is not available" in c["evalue"]


def test_interrupt_during_input(kernel):
    km, kc = kernel
    run(kc, "before_input = 3")
    msg_id = kc.execute('got = input("wait: ")', allow_stdin=True)
    req = kc.get_stdin_msg(timeout=TIMEOUT)
    assert req["msg_type"] == "input_request"
    t0 = time.monotonic()
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id, timeout=5 * SLOW)
    assert time.monotonic() - t0 < 0.5 * SLOW
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    collect(kc, msg_id)
    _, msgs = run(kc, "before_input")
    assert result_text(msgs) == "3"
    # the kernel then takes input again normally
    seen = []
    t = answer_input(kc, "again", seen)
    reply, msgs = run(kc, 'input("")', allow_stdin=True)
    t.join()
    assert result_text(msgs) == "'again'"


def test_restart(kernel):
    km, kc = kernel
    run(kc, "before_restart = 1")
    old_pid = km.provisioner.process.pid
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=30 * SLOW)
    assert km.provisioner.process.pid != old_pid
    assert not pid_alive(old_pid)
    reply, _ = run(kc, "before_restart")
    assert reply["content"]["ename"] == "NameError"
    assert reply["content"]["execution_count"] == 1  # a fresh kernel counts from 1


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waiting for its parent counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("restart", [False, True])
def test_shutdown_exits_zero(restart):
    km, kc = start()
    proc = km.provisioner.process
    msg = kc.session.msg("shutdown_request", {"restart": restart})
    kc.control_channel.send(msg)
    reply = kc.get_control_msg(timeout=TIMEOUT)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"] == {"status": "ok", "restart": restart}
    assert reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]
    code = proc.wait(timeout=10 * SLOW)
    assert code == 0
    assert not pid_alive(proc.pid)
    kc.stop_channels()
    km.cleanup_resources()


def test_shutdown_while_busy(kernel):
    km, kc = kernel
    proc = km.provisioner.process
    kc.execute("sleep(60)")
    time.sleep(0.3)
    t0 = time.monotonic()
    msg = kc.session.msg("shutdown_request", {"restart": False})
    kc.control_channel.send(msg)
    assert kc.get_control_msg(timeout=TIMEOUT)["msg_type"] == "shutdown_reply"
    assert proc.wait(timeout=10 * SLOW) == 0
    assert time.monotonic() - t0 < 3 * SLOW


def test_manager_shutdown_leaves_no_process():
    km, kc = start()
    pid = km.provisioner.process.pid
    kc.stop_channels()
    km.shutdown_kernel(now=False)
    assert not km.is_alive()
    assert not pid_alive(pid)


def _orphaned_kernel(tmp_path, parent_pid_env, linger=0.0):
    """Starts ember-kernel from a short-lived parent process that exits at once
    without shutting it down (a front end killed with SIGKILL, say) and
    returns the kernel's pid. parent_pid_env is JPY_PARENT_PID ('SELF' for
    the parent's own pid, '' for none); the parent lingers that many seconds
    before it exits, so the kernel sees it alive first."""
    from jupyter_client.connect import write_connection_file

    conn, _ = write_connection_file(str(tmp_path / "conn.json"), key=b"orphan-test")
    script = (
        "import os, subprocess, sys\n"
        "env = dict(os.environ)\n"
        "v = sys.argv[3]\n"
        "if v: env['JPY_PARENT_PID'] = v.replace('SELF', str(os.getpid()))\n"
        "else: env.pop('JPY_PARENT_PID', None)\n"
        "p = subprocess.Popen([sys.argv[1], '-f', sys.argv[2]], env=env,\n"
        "                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(p.pid, flush=True)\n"
        "import time; time.sleep(float(sys.argv[4]))\n"
    )
    env = dict(os.environ, **kernel_env())
    out = subprocess.run([sys.executable, "-c", script, str(KERNEL_BIN), conn, parent_pid_env,
                          str(linger)],
                         capture_output=True, text=True, check=True, env=env)
    return int(out.stdout.strip())


@pytest.mark.parametrize("linger", [0.0, 1.5])
def test_kernel_exits_when_its_parent_dies(tmp_path, linger):
    """Like ipykernel's parent poller: a kernel whose front end died (named in
    JPY_PARENT_PID, as jupyter_client does) shuts down instead of living on
    as an orphan — whether the parent died before the kernel looked (0 s) or
    while it was watching (1.5 s)."""
    pid = _orphaned_kernel(tmp_path, "SELF", linger)
    deadline = time.monotonic() + 10 * SLOW
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = pid_alive(pid)
    if alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "the kernel outlived its parent by more than 10 s"


def test_kernel_without_parent_pid_is_not_watched(tmp_path):
    """Without JPY_PARENT_PID (a kernel started by hand) nothing is watched:
    the kernel stays up after its starter exits, until told to stop."""
    pid = _orphaned_kernel(tmp_path, "")
    try:
        time.sleep(2.5 * SLOW)
        assert pid_alive(pid)
    finally:
        os.kill(pid, signal.SIGKILL)


def test_history_survives_restart(kernel):
    km, kc = kernel
    marker = f"history_marker_{os.getpid()}_{time.monotonic_ns()}"
    run(kc, f'{marker} = 5')
    run(kc, f'{marker}')
    h = shell_reply(kc, kc.history(hist_access_type="tail", n=2, output=False, raw=True))
    old_session = h["content"]["history"][-1][0]
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=30 * SLOW)
    # a new session number after the restart
    run(kc, "1")
    h = shell_reply(kc, kc.history(hist_access_type="tail", n=1, output=False, raw=True))
    new_session = h["content"]["history"][-1][0]
    assert new_session > old_session
    # search finds the old lines
    h = shell_reply(kc, kc.history(hist_access_type="search", pattern=f"{marker}*",
                                   output=True, raw=True))
    hist = h["content"]["history"]
    assert [e[2][0] for e in hist] == [f"{marker} = 5", marker]
    assert hist[1][2][1] == "5"  # the output of the old cell was kept
    assert all(e[0] == old_session for e in hist)
    # range over the old session by its number, and relative (-1 = previous)
    lines = [e[1] for e in hist]
    h = shell_reply(kc, kc.history(hist_access_type="range", session=old_session,
                                   start=lines[0], stop=lines[1] + 1, output=False, raw=True))
    assert [e[2] for e in h["content"]["history"]] == [f"{marker} = 5", marker]
    h = shell_reply(kc, kc.history(hist_access_type="range", session=-1, start=lines[1],
                                   stop=lines[1] + 1, output=False, raw=True))
    assert [e[2] for e in h["content"]["history"]] == [marker]


def test_history_search_unique_and_n(kernel):
    km, kc = kernel
    for code in ["hs = 1", "hs = 2", "hs = 1", "hs = 3"]:
        run(kc, code)
    h = shell_reply(kc, kc.history(hist_access_type="search", pattern="hs = *", unique=True,
                                   output=False, raw=True))
    assert [e[2] for e in h["content"]["history"]] == ["hs = 2", "hs = 1", "hs = 3"]
    h = shell_reply(kc, kc.history(hist_access_type="search", pattern="hs = ?", n=2,
                                   output=False, raw=True))
    assert [e[2] for e in h["content"]["history"]] == ["hs = 1", "hs = 3"]
    # store_history=False cells are not recorded
    run(kc, "hs = 9", store_history=False)
    h = shell_reply(kc, kc.history(hist_access_type="tail", n=1, output=False, raw=True))
    assert h["content"]["history"][0][2] == "hs = 3"


def test_shutdown_request_on_shell():
    """Deprecated but still sent by some clients: answered on shell, then exit 0."""
    km, kc = start()
    proc = km.provisioner.process
    msg = kc.session.msg("shutdown_request", {"restart": False})
    kc.shell_channel.send(msg)
    reply = shell_reply(kc, msg["header"]["msg_id"])
    assert reply["content"] == {"status": "ok", "restart": False}
    assert proc.wait(timeout=10 * SLOW) == 0
    kc.stop_channels()
    km.cleanup_resources()


def test_ipc_transport(tmp_path):
    """The connection file may ask for ipc:// endpoints instead of tcp."""
    from ember_testenv import require_kernel
    from jupyter_client.manager import KernelManager

    require_kernel()
    km = KernelManager(kernel_name="ember", transport="ipc", ip=str(tmp_path / "k"))
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30 * SLOW)
        reply, msgs = run(kc, "2 * 21")
        assert result_text(msgs) == "42"
        assert km.get_connection_info()["transport"] == "ipc"
    finally:
        stop(km, kc)


def test_input_without_a_stdin_channel_fails_fast(kernel):
    """allow_stdin true, but nobody listens on stdin: an error, not a hang."""
    from protocol_util import RawClient

    km, kc = kernel
    raw = RawClient(km)
    try:
        _, frames = raw.message("execute_request", {
            "code": 'input("x")', "silent": False, "store_history": True,
            "user_expressions": {}, "allow_stdin": True, "stop_on_error": False})
        raw.send(frames)
        reply = raw.recv(timeout=5 * SLOW)
        assert reply is not None, "input() waited for a front end that has no stdin channel"
        assert reply["content"]["status"] == "error"
        assert "stdin" in reply["content"]["evalue"]
    finally:
        raw.close()
    reply, msgs = run(kc, "1")
    assert reply["content"]["status"] == "ok"
