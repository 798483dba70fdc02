"""protocol_util.py — helpers for the protocol tests: starting Ember kernels,
running a cell and collecting its IOPub messages in order, and talking to a
kernel's sockets with raw frames (for the malformed-message tests)."""
import hashlib
import hmac
import json
import time
import uuid
from queue import Empty

import zmq
from jupyter_client.manager import KernelManager

from ember_testenv import SLOW, require_kernel

TIMEOUT = 10 * SLOW


def start(kernel_name="ember", **kw):
    """A started kernel and a ready BlockingKernelClient."""
    require_kernel()
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel(**kw)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30 * SLOW)
    except RuntimeError:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return km, kc


def stop(km, kc):
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=False)


def drain_iopub(kc, wait=0.05):
    while True:
        try:
            kc.get_iopub_msg(timeout=wait)
        except Empty:
            return


def collect(kc, msg_id, timeout=None):
    """IOPub messages whose parent is msg_id, from busy through idle."""
    timeout = TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    msgs = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no idle for {msg_id} within {timeout}s; got {msgs}")
        try:
            m = kc.get_iopub_msg(timeout=left)
        except Empty:
            continue
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        msgs.append(m)
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            return msgs


def shell_reply(kc, msg_id, timeout=None):
    timeout = TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no shell reply to {msg_id} within {timeout}s")
        m = kc.get_shell_msg(timeout=left)
        if m["parent_header"].get("msg_id") == msg_id:
            return m


def run(kc, code, timeout=None, **kw):
    """Executes code; returns (execute_reply, [iopub messages busy..idle])."""
    msg_id = kc.execute(code, **kw)
    reply = shell_reply(kc, msg_id, timeout)
    msgs = collect(kc, msg_id, timeout)
    return reply, msgs


def types(msgs):
    return [m["msg_type"] for m in msgs]


def stdout_of(msgs):
    return "".join(
        m["content"]["text"]
        for m in msgs
        if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
    )


def run_ok(kc, code, timeout=None):
    """Runs code that must succeed; returns its IOPub messages."""
    reply, msgs = run(kc, code, timeout=timeout)
    assert reply["content"]["status"] == "ok", (code, reply["content"])
    return msgs


def run_error(kc, code, timeout=None):
    """Runs code that must fail; returns (ename, evalue)."""
    reply, _ = run(kc, code, timeout=timeout)
    c = reply["content"]
    assert c["status"] == "error", code
    return c["ename"], c["evalue"]


def printed(kc, expr, timeout=None):
    """What print(expr) writes, stripped."""
    return stdout_of(run_ok(kc, f"print({expr})", timeout)).strip()


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]


def cifar_records(n, seed):
    """n CIFAR records whose colour depends on the class, so a model can learn."""
    out = bytearray()
    for i in range(n):
        lab = (i * 7 + seed) % 10
        out.append(lab)
        for ch in range(3):
            level = (lab * 25 + ch * 40) % 256
            out += bytes(((level + (j * (i + 1)) % 17) % 256) for j in range(1024))
    return bytes(out)


def write_cifar_archive(path, n_train=256, n_test=100):
    """A synthetic archive in the official CIFAR-10 binary layout, which
    cifar10(split, root=path) reads; returns path as a str."""
    import io
    import tarfile
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [("batches.meta.txt", ("\n".join(CIFAR_CLASSES) + "\n").encode()),
                           ("data_batch_1.bin", cifar_records(n_train, 1)),
                           ("test_batch.bin", cifar_records(n_test, 2))]:
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def result_data(msgs):
    """The MIME bundle of the execute_result among msgs."""
    for m in msgs:
        if m["msg_type"] == "execute_result":
            return m["content"]["data"]
    raise AssertionError("no execute_result")


def result_text(msgs):
    for m in msgs:
        if m["msg_type"] == "execute_result":
            return m["content"]["data"].get("text/plain")
    return None


class RawClient:
    """A DEALER on shell (or control) and a SUB on IOPub, speaking frames."""

    def __init__(self, km, channel="shell"):
        info = km.get_connection_info()
        self.key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        self.session = str(uuid.uuid4())
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(f"{info['transport']}://{info['ip']}:{info[channel + '_port']}")

    def sign(self, parts):
        h = hmac.new(self.key, digestmod=hashlib.sha256)
        for p in parts:
            h.update(p)
        return h.hexdigest().encode()

    def message(self, msg_type, content, signature=None, header=None):
        header = header or {
            "msg_id": str(uuid.uuid4()),
            "msg_type": msg_type,
            "session": self.session,
            "username": "test",
            "date": "2026-01-01T00:00:00.000000Z",
            "version": "5.5",
        }
        parts = [json.dumps(p).encode() for p in (header, {}, {}, content)]
        sig = self.sign(parts) if signature is None else signature
        return header["msg_id"], [b"<IDS|MSG>", sig, *parts]

    def send(self, frames):
        self.sock.send_multipart(frames)

    def recv(self, timeout=None):
        timeout = TIMEOUT if timeout is None else timeout
        if not self.sock.poll(int(timeout * 1000)):
            return None
        frames = self.sock.recv_multipart()
        d = frames.index(b"<IDS|MSG>")
        header, parent, metadata, content = (json.loads(f) for f in frames[d + 2 : d + 6])
        assert frames[d + 1] == self.sign(frames[d + 2 : d + 6]), "kernel signature wrong"
        return {"header": header, "parent_header": parent, "content": content}

    def close(self):
        self.sock.close(0)
        self.ctx.term()
