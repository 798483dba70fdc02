"""test_checkpoint.py — long runs that survive, through the kernel (issue 11):

- a kernel SIGKILLed in the middle of an epoch (after at least one
  checkpoint), a new kernel that reruns the same cell with resume=true, and
  the final weights, AdamW state and history equal to an uninterrupted run's
  bit for bit (both files read with the safetensors package);
- an interrupt in the middle of an epoch writes a checkpoint of that point,
  and load_model() of it in a new kernel then fit() continues exactly;
- truncated, foreign and other-model files, random bytes and changed
  settings are refused with a message saying what is wrong, and the model
  is untouched; allow_changes=true continues with the new settings;
- a full disk (RLIMIT_FSIZE on the kernel process, which ignores SIGXFSZ)
  and a folder that turns into a file during training are reported on
  stderr once per epoch, training goes on, and the previous checkpoint
  stays as it was;
- a rerun of a finished run trains nothing and returns the whole run.

Kernels here wait for OpenMP passively (OMP_WAIT_POLICY): on a machine
whose 2 cores other jobs share, spinning threads make training ten times
slower, and bit-for-bit equality does not depend on it."""
import json
import os
import resource
import shutil
import signal
import time

import numpy as np
import pytest
from safetensors import safe_open

from ember_testenv import SLOW
from protocol_util import (collect, drain_iopub, printed, run, run_error, run_ok, shell_reply,
                           start, stdout_of, stop, write_cifar_archive)

LONG = 120 * SLOW
ENV = {**os.environ, "OMP_WAIT_POLICY": "passive", "OMP_NUM_THREADS": "2",
       "OPENBLAS_NUM_THREADS": "1"}
EPOCHS = 4
AUG = ("compose(random_crop(32, padding=4), hflip(), "
       "color_jitter(brightness=0.2, contrast=0.2, saturation=0.2), "
       "normalize(mean=[0.4914, 0.4822, 0.4465], std=[0.2471, 0.2435, 0.2616]))")


def fit_cell(ckpt, resume="true", epochs=EPOCHS, model="m", extra=""):
    """The cell a notebook reruns: a new model, then fit with checkpoints."""
    return (f"{model} = vit(dim=32, heads=2, layers=2, dropout=0.1, seed=1, device='cpu')\n"
            f"run = fit({model}, tr, te, augment=aug, epochs={epochs}, batch_size=32, "
            "optimizer=adamw(lr=2e-3, weight_decay=0.05), "
            "schedule=multistep(milestones=[2, 3], gamma=0.5), "
            "loss=cross_entropy(label_smoothing=0.1), seed=7, "
            f"checkpoint={str(ckpt)!r}, resume={resume}{extra})")


def kernel_start():
    return start(env=ENV)


def setup(kc, archive):
    run_ok(kc, f"tr = cifar10('train', root={archive!r}); te = cifar10('test', root={archive!r}); "
               f"aug = {AUG}", LONG)


def pid_of(km):
    return km.provisioner.pid


def meta(path):
    with safe_open(str(path), "np") as f:
        return f.metadata()


def tensors(path):
    with safe_open(str(path), "np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def assert_same_tensors(a, b):
    ta, tb = tensors(a), tensors(b)
    assert sorted(ta) == sorted(tb)
    differ = [k for k in ta if ta[k].dtype != tb[k].dtype or ta[k].shape != tb[k].shape
              or ta[k].tobytes() != tb[k].tobytes()]
    assert not differ, f"{len(differ)} tensors differ between {a} and {b}, e.g. {differ[:5]}"


def history_without_times(path):
    h = json.loads(meta(path)["history"])
    for r in h:
        for k in ("seconds", "train_seconds", "images_per_sec"):
            r.pop(k)
    return h


def train_state(path):
    return json.loads(meta(path)["ember.train_state"])


def kill_hard(km, kc):
    os.kill(pid_of(km), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while km.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not km.is_alive(), "the kernel survived SIGKILL"
    kc.stop_channels()
    try:
        km.shutdown_kernel(now=True)
    except Exception:  # already gone; only its files are cleaned up
        pass


def wait_for_epoch(kc, msg_id, ckpt, epochs_done, deadline):
    """Reads IOPub of msg_id until the checkpoint holds epochs_done epochs
    and the progress bar shows a later epoch running."""
    want = f"epoch {epochs_done + 1}/"
    seen = []
    while time.monotonic() < deadline:
        try:
            m = kc.get_iopub_msg(timeout=1)
        except Exception:
            continue
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(m)
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            raise AssertionError("the fit ended before it could be stopped: " + repr(seen[-5:]))
        text = m["content"].get("data", {}).get("text/plain", "")
        if (m["msg_type"] == "update_display_data" and want in text and os.path.exists(ckpt)
                and train_state(ckpt)["epochs_done"] >= epochs_done):
            return seen
    raise AssertionError(f"no progress in epoch {epochs_done + 1} with a checkpoint in time")


@pytest.fixture(scope="module")
def kernel():
    """This module's kernel (the kc fixture's), with the environment above."""
    km, kc = kernel_start()
    yield km, kc
    stop(km, kc)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    # 768 images: 24 steps of batch 32 an epoch, long enough to stop inside one
    return write_cifar_archive(tmp_path_factory.mktemp("ckpt") / "synthetic-cifar.tar.gz",
                               n_train=768, n_test=64)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, archive):
    """The uninterrupted run: its last checkpoint and its weights."""
    d = tmp_path_factory.mktemp("reference")
    km, kc = kernel_start()
    try:
        setup(kc, archive)
        run_ok(kc, fit_cell(d / "ref.ckpt"), LONG)
        run_ok(kc, f"save(m, {str(d / 'ref.safetensors')!r})", LONG)
    finally:
        stop(km, kc)
    return d


def test_sigkill_mid_epoch_then_resume_is_bit_exact(reference, archive, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    km, kc = kernel_start()
    try:
        setup(kc, archive)
        msg_id = kc.execute(fit_cell(ckpt))
        wait_for_epoch(kc, msg_id, str(ckpt), 1, time.monotonic() + LONG)
        kill_hard(km, kc)
    except BaseException:
        stop(km, kc)
        raise
    done = train_state(ckpt)["epochs_done"]
    assert 1 <= done < EPOCHS, f"killed after the run ended ({done} epochs)"

    km, kc = kernel_start()
    try:
        setup(kc, archive)
        out = stdout_of(run_ok(kc, fit_cell(ckpt), LONG))
        assert f"fit: continuing the run of '{ckpt}': {done} epoch" in out, out
        assert f"epochs {done + 1}-{EPOCHS}" in out
        run_ok(kc, f"save(m, {str(tmp_path / 'resumed.safetensors')!r})", LONG)
        # the run returned is the whole run
        assert printed(kc, "run.epochs, m.history.epochs", LONG) == "[1, 2, 3, 4] [1, 2, 3, 4]"
        # a rerun of the finished run trains nothing
        msgs = run_ok(kc, fit_cell(ckpt), LONG)
        assert "has done 4 of its epochs=4; nothing left to train" in stdout_of(msgs)
        assert printed(kc, "m.steps, run.epochs", LONG) == f"{EPOCHS * 24} [1, 2, 3, 4]"
    finally:
        stop(km, kc)
    assert_same_tensors(reference / "ref.safetensors", tmp_path / "resumed.safetensors")
    assert_same_tensors(reference / "ref.ckpt", ckpt)  # AdamW moments and steps too
    assert history_without_times(reference / "ref.ckpt") == history_without_times(ckpt)
    a, b = train_state(reference / "ref.ckpt"), train_state(ckpt)
    for k in ("t", "rng_offset", "dropout_key", "epochs_done", "step"):
        assert a[k] == b[k], k


def test_interrupt_mid_epoch_then_load_model_and_fit(reference, archive, tmp_path):
    ckpt = tmp_path / "int.ckpt"
    km, kc = kernel_start()
    try:
        setup(kc, archive)
        msg_id = kc.execute(fit_cell(ckpt))
        seen = wait_for_epoch(kc, msg_id, str(ckpt), 1, time.monotonic() + LONG)
        km.interrupt_kernel()
        reply = shell_reply(kc, msg_id, LONG)
        msgs = seen + collect(kc, msg_id, LONG)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        err = "".join(m["content"]["text"] for m in msgs
                      if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")
        assert "holds the run as it stopped" in err and "resume=true" in err, err
        steps_then = int(printed(kc, "m.steps", LONG))
    finally:
        stop(km, kc)
    st = train_state(ckpt)
    assert st["step"] > 0, f"the interrupt checkpoint is mid-epoch: {st}"
    assert int(st["t"]) == steps_then == st["epochs_done"] * 24 + min(st["step"], 24)
    left = EPOCHS - st["epochs_done"]

    km, kc = kernel_start()
    try:
        setup(kc, archive)
        run_ok(kc, f"m = load_model({str(ckpt)!r}, device='cpu')", LONG)
        assert printed(kc, "m.steps", LONG) == str(steps_then)
        out = stdout_of(run_ok(kc, "run = fit(m, tr, te, augment=aug, epochs=" + str(left) + ", "
                                   "batch_size=32, optimizer=adamw(lr=2e-3, weight_decay=0.05), "
                                   "schedule=multistep(milestones=[2, 3], gamma=0.5), "
                                   "loss=cross_entropy(label_smoothing=0.1), seed=7, live=false)",
                               LONG))
        assert f"and {st['step']} of the 24 steps of epoch {st['epochs_done'] + 1}" in out, out
        run_ok(kc, f"save(m, {str(tmp_path / 'continued.safetensors')!r}); "
                   f"save(m, {str(tmp_path / 'continued.ckpt')!r})", LONG)
    finally:
        stop(km, kc)
    assert_same_tensors(reference / "ref.safetensors", tmp_path / "continued.safetensors")
    # save(model, '.ckpt') by hand holds what fit's own checkpoint holds
    assert_same_tensors(reference / "ref.ckpt", tmp_path / "continued.ckpt")
    assert history_without_times(reference / "ref.ckpt") == \
        history_without_times(tmp_path / "continued.ckpt")


@pytest.fixture
def trained(kc, archive, tmp_path):
    """A model trained one epoch with a checkpoint, and how to tell it is untouched."""
    setup(kc, archive)
    run_ok(kc, fit_cell(tmp_path / "base.ckpt", resume="false", epochs=1, extra=", live=false"), LONG)
    run_ok(kc, "keep = [m.steps, len(m.history.epochs), repr(evaluate(m, te).loss)]", LONG)
    return tmp_path


def untouched(kc):
    return printed(kc, "[m.steps, len(m.history.epochs), repr(evaluate(m, te).loss)] == keep",
                   LONG) == "true"


def resume_call(path, extra=""):
    return ("fit(m, tr, te, augment=aug, epochs=4, batch_size=32, "
            "optimizer=adamw(lr=2e-3, weight_decay=0.05), "
            "schedule=multistep(milestones=[2, 3], gamma=0.5), "
            f"loss=cross_entropy(label_smoothing=0.1), seed=7, resume={str(path)!r}, live=false{extra})")


def test_bad_checkpoints_are_refused_and_leave_the_model(kc, trained):
    d = trained
    base = (d / "base.ckpt").read_bytes()
    (d / "truncated.ckpt").write_bytes(base[: len(base) // 2])
    (d / "random.ckpt").write_bytes(os.urandom(5000))
    run_ok(kc, f"save(m, {str(d / 'weights.safetensors')!r})", LONG)
    run_ok(kc, "big = vit(dim=48, heads=2, layers=2, device='cpu'); "
               f"fit(big, tr, epochs=1, batch_size=32, steps_per_epoch=2, live=false, "
               f"checkpoint={str(d / 'big.ckpt')!r})", LONG)
    cases = [
        ("truncated.ckpt", "ValueError", "truncated"),
        ("random.ckpt", "ValueError", "neither a safetensors file nor a PyTorch checkpoint"),
        ("weights.safetensors", "ValueError", "holds weights but no optimizer state"),
        ("big.ckpt", "ValueError", "a checkpoint of another model: dim 48 (checkpoint) vs 32 (this model)"),
        ("missing.ckpt", "FileNotFoundError", "no checkpoint"),
    ]
    for name, ename, words in cases:
        got, msg = run_error(kc, resume_call(d / name), LONG)
        assert got == ename and words in msg and str(d / name) in msg, (name, got, msg)
        assert msg.count(str(d / name)) <= 2, msg
        assert untouched(kc), name
    got, msg = run_error(kc, f"load_model({str(d / 'truncated.ckpt')!r})", LONG)
    assert got == "ValueError" and "truncated" in msg and msg.count(str(d / "truncated.ckpt")) == 1, msg

    # other settings: each named; allow_changes=true continues with them
    got, msg = run_error(kc, resume_call(d / "base.ckpt").replace("batch_size=32", "batch_size=64")
                         .replace("lr=2e-3", "lr=1e-3"), LONG)
    assert got == "ValueError", msg
    assert "batch_size 32 (checkpoint) vs 64 (now)" in msg and "lr 0.002 (checkpoint) vs 0.001 (now)" in msg
    assert "allow_changes=true" in msg
    assert untouched(kc)
    reply, msgs = run(kc, resume_call(d / "base.ckpt", ", allow_changes=true").replace(
        "lr=2e-3", "lr=1e-3").replace("epochs=4", "epochs=2"), LONG)
    assert reply["content"]["status"] == "ok", reply["content"]
    err = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream"
                  and m["content"]["name"] == "stderr")
    assert "continuing" in err and "lr 0.002 (checkpoint) vs 0.001 (now)" in err
    assert printed(kc, "m.history.epochs", LONG) == "[1, 2]"

    # arguments
    got, msg = run_error(kc, "fit(m, tr, resume=3)", LONG)
    assert got == "TypeError" and "resume must be true, false or a checkpoint's path" in msg, msg
    got, msg = run_error(kc, f"fit(m, tr, checkpoint={str(d / 'no' / 'run.ckpt')!r})", LONG)
    assert got == "FileNotFoundError" and "does not exist" in msg


def test_full_disk_is_reported_and_training_goes_on(kernel, archive, tmp_path):
    km, kc = kernel
    drain_iopub(kc)
    setup(kc, archive)
    ckpt = tmp_path / "disk.ckpt"
    run_ok(kc, fit_cell(ckpt, resume="false", epochs=1, extra=", live=false"), LONG)
    before = ckpt.read_bytes()
    pid = pid_of(km)
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (len(before) // 2, hard))
    try:
        reply, msgs = run(kc, f"fit(m, tr, te, augment=aug, epochs=2, batch_size=32, seed=7, "
                              f"live=false, checkpoint={str(ckpt)!r})", LONG)
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
    assert reply["content"]["status"] == "ok", reply["content"]
    err = [l for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
           for l in m["content"]["text"].splitlines()]
    assert len(err) == 2, err
    assert "checkpoint after epoch 2 not written, training goes on" in err[0]
    assert "checkpoint after epoch 3 not written" in err[1] and "disk full" in err[1], err
    assert "epoch   3/3" in stdout_of(msgs)
    assert ckpt.read_bytes() == before, "the previous checkpoint changed"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".disk.ckpt.tmp")]


def test_folder_turned_file_is_reported_and_training_goes_on(kernel, archive, tmp_path):
    km, kc = kernel
    drain_iopub(kc)
    setup(kc, archive)
    d = tmp_path / "out"
    d.mkdir()
    ckpt = d / "run.ckpt"
    msg_id = kc.execute(fit_cell(ckpt, resume="false"))
    seen = wait_for_epoch(kc, msg_id, str(ckpt), 1, time.monotonic() + LONG)
    os.kill(pid_of(km), signal.SIGSTOP)  # nothing moves while the folder is swapped
    try:
        done = train_state(ckpt)["epochs_done"]
        d.rename(tmp_path / "moved")
        d.write_text("a file where the folder was")
    finally:
        os.kill(pid_of(km), signal.SIGCONT)
    reply = shell_reply(kc, msg_id, LONG)
    msgs = seen + collect(kc, msg_id, LONG)
    assert reply["content"]["status"] == "ok", reply["content"]
    err = [l for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
           for l in m["content"]["text"].splitlines()]
    assert len(err) == EPOCHS - done, (done, err)
    assert all("not written, training goes on" in l and "is a file, not a folder" in l for l in err), err
    assert train_state(tmp_path / "moved" / "run.ckpt")["epochs_done"] == done
    assert printed(kc, "m.history.epochs", LONG) == "[1, 2, 3, 4]"
