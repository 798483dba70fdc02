"""test_interrupt_step.py — an interrupt lands inside long engine work, not
after it: a fit whose one training step takes seconds (a ViT with 1x1
patches, so 1,024 tokens an image) and a segment() whose one CLIPSeg
forward takes seconds (the tiny model at a large input size, many prompts)
both end with KeyboardInterrupt long before the step or forward could have
finished, measured against an uninterrupted run of the same work in the
same test (no absolute time is asserted). The interrupted step is not
applied (model.steps and model.history unchanged), earlier values stay,
and the kernel goes on working."""
import json
import time

import pytest

from ember_testenv import ROOT, SANITIZED, SLOW
from protocol_util import (collect, printed as _printed, run_ok, shell_reply,
                           write_cifar_archive)
from tiny_clipseg import make_model_dir, tokenizer_missing

LONG = 120 * SLOW
# Less work under the sanitizers: the bounds are relative, the test's time is not.
BATCH = 16 if SANITIZED else 32
PROMPTS = 3 if SANITIZED else 5


def ok(kc, code, timeout=LONG):
    return run_ok(kc, code, timeout)


def printed(kc, expr):
    return _printed(kc, expr, LONG)


def timed(kc, code):
    t0 = time.monotonic()
    ok(kc, code)
    return time.monotonic() - t0


def interrupt_inside(km, kc, code, after):
    """Runs code, interrupts it `after` seconds after its first output (the
    work has started by then), and returns (reply, messages, seconds from
    the interrupt to the reply)."""
    msg_id = kc.execute(code)
    seen = []
    while True:
        m = kc.get_iopub_msg(timeout=LONG)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(m)
        if m["msg_type"] in ("stream", "display_data"):
            break
    time.sleep(after)
    t0 = time.monotonic()
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id, timeout=LONG)
    latency = time.monotonic() - t0
    return reply, seen + collect(kc, msg_id, timeout=LONG), latency


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return write_cifar_archive(tmp_path_factory.mktemp("intrdata") / "synthetic-cifar.tar.gz")


def test_fit_stops_inside_a_long_step(kernel, archive):
    km, kc = kernel
    ok(kc, f"tr = cifar10('train', root={archive!r}); "
           "m = vit(patch_size=1, dim=64, heads=2, layers=2, mlp_ratio=2, device='cpu')")
    fit1 = f"fit(m, tr, epochs=1, batch_size={BATCH}, steps_per_epoch=1, live=false)"
    step = timed(kc, fit1)  # one epoch of one step: the step's time, plus a little
    assert step > 1.0, f"one step took {step:.2f} s: too short for this test to mean anything"
    assert printed(kc, "m.steps, len(m.history.epochs)") == "1 1"

    # The first output is fit's header line, printed just before the step.
    reply, msgs, latency = interrupt_inside(km, kc, fit1.replace("live=false", "live=true"),
                                            after=step / 4)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    # Uninterrupted, the step had about 3/4 of its time left.
    print(f"fit: one step {step:.2f} s, interrupt answered in {latency:.3f} s")
    assert latency < step / 4, f"the interrupt took {latency:.2f} s in a step of {step:.2f} s"
    errtext = "".join(m["content"]["text"] for m in msgs
                      if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")
    assert "fit: interrupted after 0 finished epochs" in errtext, errtext
    bars = [m["content"]["data"]["text/plain"] for m in msgs
            if m["msg_type"] == "update_display_data" and "text/html" in m["content"]["data"]]
    assert bars and bars[-1].startswith("fit (interrupted)"), bars[-1:]
    # Not applied: the model is the one before the cell.
    assert printed(kc, "m.steps, len(m.history.epochs)") == "1 1"
    # The kernel and the model go on working.
    assert printed(kc, "1 + 1") == "2"
    assert printed(kc, "evaluate(m, tr.take(4), batch_size=4).n") == "4"


def test_segment_stops_inside_a_long_forward(kernel, tmp_path):
    why = tokenizer_missing()
    if why:
        pytest.skip(why)
    km, kc = kernel
    d = make_model_dir(tmp_path)
    # The tiny model at 1024x1024: 4,097 tokens, so its attention is long.
    (d / "preprocessor_config.json").write_text(json.dumps(
        {"size": 1024, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}))
    logo = ROOT / "kernelspec" / "logo-64x64.png"
    ok(kc, f"seg = clipseg({str(d)!r}, device='cpu'); "
           f"img = load_image({str(logo)!r}).convert('RGB'); "
           f"prompts = {['a cat', 'a dog', 'a remote', 'a blanket', 'a sofa'][:PROMPTS]!r}")
    step = timed(kc, "first = segment(seg, img, prompts)")
    assert step > 1.0, f"one forward took {step:.2f} s: too short for this test to mean anything"

    # segment() prints nothing before its forward: give the cell a moment.
    msg_id = kc.execute("again = segment(seg, img, prompts)")
    time.sleep(step / 4)
    t0 = time.monotonic()
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id, timeout=LONG)
    latency = time.monotonic() - t0
    collect(kc, msg_id, timeout=LONG)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    print(f"segment: one forward {step:.2f} s, interrupt answered in {latency:.3f} s")
    assert latency < step / 4, f"the interrupt took {latency:.2f} s in a forward of {step:.2f} s"
    # Nothing half-made was bound; the earlier masks and the model still work.
    assert printed(kc, "len(first)") == str(PROMPTS)
    err = run_error_text(kc, "again")
    assert "NameError" in err
    assert printed(kc, "len(segment(seg, img, 'a cat'))") == "1"


def run_error_text(kc, code):
    msg_id = kc.execute(code)
    reply = shell_reply(kc, msg_id, timeout=LONG)
    collect(kc, msg_id, timeout=LONG)
    return reply["content"].get("ename", "") + ": " + reply["content"].get("evalue", "")
