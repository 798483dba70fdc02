"""test_q1_resume.py — a restarted q1 picks up where it stopped (issue 11,
item 5): notebooks/q1.ipynb run twice in the same folder with the same
parameters, through the runner `make demo` uses. The first run trains and
leaves its checkpoint (q1.ckpt, the notebook's `checkpoint` parameter); the
second continues from it, finds the run finished and trains no epoch, yet
shows the same curves, evaluation and saved weights, and leaves the
checkpoint as it was."""
import nbformat
import pytest
from safetensors import safe_open

from ember_testenv import ROOT, SLOW, notebook_runner, require_kernel
from test_q1 import data_root, outputs, texts

NOTEBOOK = ROOT / "notebooks" / "q1.ipynb"
PARAMS = [("epochs", "1"), ("train_images", "128"), ("test_images", "20"),
          ("steps_per_epoch", "1")]


def run_q1(rn, cwd, out, root):
    params = PARAMS + [("data_root", repr(root))]
    rc = rn.main([str(NOTEBOOK), str(out), "--timeout", str(int(600 * SLOW)), "--cwd", str(cwd),
                  *[f"{k}={v}" for k, v in params]])
    assert rc == 0
    nb = nbformat.read(out / "q1.executed.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in outputs(c) if o["output_type"] == "error"]
    assert errors == [], errors
    return lambda text: next(c for c in code if text in c.source)


def weights(path):
    with safe_open(str(path), "np") as f:
        return {k: f.get_tensor(k).tobytes() for k in f.keys()}


def evaluation(cell):
    return next(o["data"]["text/plain"] for o in outputs(cell) if o["output_type"] == "execute_result")


def test_q1_rerun_continues_from_its_checkpoint(tmp_path):
    if not NOTEBOOK.is_file():
        pytest.fail(f"{NOTEBOOK} is missing")
    require_kernel()
    rn = notebook_runner()
    root = data_root(tmp_path)
    ckpt = tmp_path / "q1.ckpt"

    first = run_q1(rn, tmp_path, tmp_path / "first", root)
    fit1 = texts(first("run = fit("))
    assert "fit: no checkpoint 'q1.ckpt' yet, so the run starts from the beginning" in fit1
    assert "epoch   1/1" in fit1
    assert ckpt.is_file(), "the notebook's checkpoint parameter names q1.ckpt in its folder"
    with safe_open(str(ckpt), "np") as f:
        assert f.metadata()["epoch"] == "1"
    saved_bytes = ckpt.read_bytes()
    w1 = weights(tmp_path / "vit_cifar10.safetensors")
    eval1 = evaluation(first("evaluate(model, test)"))

    second = run_q1(rn, tmp_path, tmp_path / "second", root)
    fit2 = second("run = fit(")
    text2 = texts(fit2)
    assert "has done 1 of its epochs=1; nothing left to train" in text2, text2
    assert "epoch   1/1" not in text2 and not any(
        "image/png" in o.get("data", {}) for o in outputs(fit2)), "no epoch was trained again"
    assert "<plot 760x300 'Training', 1 epoch>" in texts(second("plot(run)"))
    assert evaluation(second("evaluate(model, test)")) == eval1
    assert weights(tmp_path / "vit_cifar10.safetensors") == w1
    assert ckpt.read_bytes() == saved_bytes, "a run with nothing to train leaves the checkpoint"
