#!/usr/bin/env python3
"""kernel_latency.py — round-trip latency and start-up time of Ember's kernel
against ipykernel, on the same machine in the same run.

For each kernel: the time from process start to the first kernel_info_reply
(median of several starts), then 2,000 execute_requests of a trivial cell
(`1`), one at a time, each timed from sending the request to its
execute_reply (the round trip) and to the moment both the reply and its
`idle` status have arrived (to idle). The client is raw pyzmq with HMAC signing, the
same for both kernels, so the numbers compare the kernels and not client
libraries. Prints a markdown table.

Usage: python3 bench/kernel_latency.py [--n 2000] [--starts 5]
       (EMBER_BUILD_DIR selects the build; default ./build)
"""
import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import zmq
from jupyter_client.connect import write_connection_file

ROOT = Path(__file__).resolve().parent.parent


class Client:
    def __init__(self, info):
        self.key = info["key"].encode() if isinstance(info["key"], str) else info["key"]
        self.session = str(uuid.uuid4())
        self.ctx = zmq.Context()
        addr = f"tcp://{info['ip']}:"

        def sock(kind, port):
            s = self.ctx.socket(kind)
            s.setsockopt(zmq.LINGER, 0)
            # Connect attempts before the kernel has bound its ports retry
            # every millisecond, so start-up is measured, not the back-off.
            s.setsockopt(zmq.RECONNECT_IVL, 1)
            if kind == zmq.SUB:
                s.setsockopt(zmq.SUBSCRIBE, b"")
            s.connect(addr + str(info[port]))
            return s

        self.shell = sock(zmq.DEALER, "shell_port")
        self.control = sock(zmq.DEALER, "control_port")
        self.iopub = sock(zmq.SUB, "iopub_port")
        self.poller = zmq.Poller()
        self.poller.register(self.shell, zmq.POLLIN)
        self.poller.register(self.iopub, zmq.POLLIN)

    def send(self, sock, msg_type, content):
        msg_id = str(uuid.uuid4())
        header = {"msg_id": msg_id, "msg_type": msg_type, "session": self.session,
                  "username": "bench", "date": "2026-01-01T00:00:00Z", "version": "5.3"}
        parts = [json.dumps(p).encode() for p in (header, {}, {}, content)]
        h = hmac.new(self.key, digestmod=hashlib.sha256)
        for p in parts:
            h.update(p)
        sock.send_multipart([b"<IDS|MSG>", h.hexdigest().encode(), *parts])
        return msg_id

    @staticmethod
    def parse(frames):
        d = frames.index(b"<IDS|MSG>")
        return json.loads(frames[d + 2]), json.loads(frames[d + 3]), json.loads(frames[d + 5])

    def wait_reply(self, msg_id, timeout):
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0 or not self.shell.poll(int(left * 1000) + 1):
                raise TimeoutError(f"no shell reply to {msg_id}")
            header, parent, content = self.parse(self.shell.recv_multipart())
            if parent.get("msg_id") == msg_id:
                return header, content

    def execute(self, code):
        """Sends one execute_request; returns when reply and idle are both in,
        with the seconds from sending to the reply and to the idle status.

        Only the frames needed to recognise the two are decoded (parent
        msg_id, and the status content), so the client's own cost stays small
        next to the kernels'."""
        msg_id = self.send(self.shell, "execute_request",
                           {"code": code, "silent": False, "store_history": False,
                            "user_expressions": {}, "allow_stdin": False,
                            "stop_on_error": True})
        t0 = time.perf_counter()
        got_reply = got_idle = False
        while not (got_reply and got_idle):
            events = dict(self.poller.poll(10000))
            if not events:
                raise TimeoutError("execute_request timed out")
            if self.shell in events:
                frames = self.shell.recv_multipart()
                d = frames.index(b"<IDS|MSG>")
                if json.loads(frames[d + 3]).get("msg_id") == msg_id:
                    content = json.loads(frames[d + 5])
                    if content.get("status") != "ok":
                        raise RuntimeError(f"cell failed: {content}")
                    got_reply = True
                    t_reply = time.perf_counter() - t0
            if self.iopub in events:
                frames = self.iopub.recv_multipart()
                d = frames.index(b"<IDS|MSG>")
                content = frames[d + 5]
                if (b"execution_state" in content
                        and json.loads(content)["execution_state"] == "idle"
                        and json.loads(frames[d + 3]).get("msg_id") == msg_id):
                    got_idle = True
                    t_idle = time.perf_counter() - t0
        return t_reply, t_idle

    def close(self):
        for s in (self.shell, self.control, self.iopub):
            s.close(0)
        self.ctx.term()


def launch(argv_for, tmp):
    cf = os.path.join(tmp, f"kernel-{uuid.uuid4()}.json")
    _, info = write_connection_file(cf, ip="127.0.0.1", key=str(uuid.uuid4()).encode())
    info = json.loads(Path(cf).read_text())
    client = Client(info)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv_for(cf), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    msg_id = client.send(client.shell, "kernel_info_request", {})
    client.wait_reply(msg_id, 60)
    startup = time.perf_counter() - t0
    return proc, client, startup


def shutdown(proc, client):
    try:
        msg_id = client.send(client.control, "shutdown_request", {"restart": False})
        if client.control.poll(5000):
            client.control.recv_multipart()
        proc.wait(timeout=10)
    except (subprocess.TimeoutExpired, zmq.ZMQError):
        proc.kill()
        proc.wait()
    finally:
        client.close()
    return msg_id


def wait_iopub_ready(client):
    """IOPub subscriptions take a moment: ping until a status message arrives."""
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        msg_id = client.send(client.shell, "kernel_info_request", {})
        client.wait_reply(msg_id, 30)
        if client.iopub.poll(200):
            while client.iopub.poll(50):
                client.iopub.recv_multipart()
            return
    raise TimeoutError("IOPub never delivered a message")


def bench(name, argv_for, n, starts, tmp):
    startups = []
    for _ in range(starts):
        proc, client, st = launch(argv_for, tmp)
        startups.append(st)
        shutdown(proc, client)
    proc, client, _ = launch(argv_for, tmp)
    try:
        wait_iopub_ready(client)
        for _ in range(50):  # warm-up, not timed
            client.execute("1")
        replies, idles = [], []
        for _ in range(n):
            r, i = client.execute("1")
            replies.append(r)
            idles.append(i)
    finally:
        shutdown(proc, client)

    def p99(xs):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(0.99 * len(xs)))]

    return {
        "name": name,
        "median_us": statistics.median(replies) * 1e6,
        "p99_us": p99(replies) * 1e6,
        "idle_median_us": statistics.median(idles) * 1e6,
        "idle_p99_us": p99(idles) * 1e6,
        "startup_ms": statistics.median(startups) * 1e3,
        "startup_max_ms": max(startups) * 1e3,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="execute_requests per kernel")
    ap.add_argument("--starts", type=int, default=5, help="start-ups timed per kernel")
    args = ap.parse_args()
    build = Path(os.environ.get("EMBER_BUILD_DIR") or ROOT / "build")
    ember = build / "kernel" / "ember-kernel"
    if not ember.is_file():
        sys.exit(f"kernel_latency: {ember} is not built (run `make build` or set EMBER_BUILD_DIR)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ember-bench-") as tmp:
        os.environ["JUPYTER_DATA_DIR"] = os.path.join(tmp, "data")  # Ember's history goes here
        rows.append(bench("Ember (ember-kernel)", lambda cf: [str(ember), "-f", cf],
                          args.n, args.starts, tmp))
        rows.append(bench("ipykernel", lambda cf: [sys.executable, "-m", "ipykernel_launcher",
                                                   "-f", cf], args.n, args.starts, tmp))
    e, p = rows
    print(f"{args.n} execute_requests of `1` each, one at a time. Round trip: send -> "
          f"execute_reply received; to idle: send -> reply and `idle` both received. "
          f"Start-up: process start -> first kernel_info_reply, median of {args.starts}.\n")
    print("| kernel | round trip median | round trip p99 | to idle median | to idle p99 "
          "| start-up median (max) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['median_us']:.0f} µs | {r['p99_us']:.0f} µs "
              f"| {r['idle_median_us']:.0f} µs | {r['idle_p99_us']:.0f} µs "
              f"| {r['startup_ms']:.1f} ms ({r['startup_max_ms']:.1f} ms) |")
    print(f"\nipykernel / Ember: round trip {p['median_us'] / e['median_us']:.1f}x, "
          f"to idle {p['idle_median_us'] / e['idle_median_us']:.1f}x, "
          f"start-up {p['startup_ms'] / e['startup_ms']:.1f}x.")


if __name__ == "__main__":
    main()
