"""test_q1.py — notebooks/q1.ipynb, the ViT-on-CIFAR-10 notebook, runs from
top to bottom with the Ember kernel in a short configuration (1 epoch of 2
steps on 256 images; the full default model), through the same runner
`make demo` uses (scripts/run-notebook.py, papermill-style parameters), and
every part shows what it should: the dataset table, the augmented preview,
the model summary, the progress bar and epoch line, the curves, the
evaluation with its confusion matrix, and the saved weights."""
import io
import os
import tarfile

import pytest

from ember_testenv import ROOT, SLOW, notebook_runner, require_kernel

NOTEBOOK = ROOT / "notebooks" / "q1.ipynb"
SHARED = os.environ.get("EMBER_SHARED_DATA") or str(ROOT.parent / "shared" / "data")
SUBSET = os.path.join(SHARED, "cifar10-subset", "cifar-10-subset-binary.tar.gz")


def data_root(tmp_path):
    """The real CIFAR-10 subset when ../shared/data has it, else a small
    synthetic archive in the official layout."""
    if os.path.isfile(SUBSET):
        return SUBSET
    path = tmp_path / "synthetic-cifar.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, n in [("data_batch_1.bin", 300), ("test_batch.bin", 120)]:
            data = bytearray()
            for i in range(n):
                data.append(i % 10)
                data += bytes((i * 13 + j) % 256 for j in range(3072))
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(bytes(data)))
    return str(path)


def outputs(cell):
    return cell.get("outputs", [])


def texts(cell):
    out = []
    for o in outputs(cell):
        if o["output_type"] == "stream":
            out.append(o["text"])
        elif "data" in o:
            out.append(o["data"].get("text/plain", ""))
    return "\n".join(out)


def test_q1_short_run(tmp_path):
    if not NOTEBOOK.is_file():
        pytest.fail(f"{NOTEBOOK} is missing")
    require_kernel()
    rn = notebook_runner()
    params = [("epochs", "1"), ("train_images", "256"), ("test_images", "100"),
              ("steps_per_epoch", "2"), ("data_root", repr(data_root(tmp_path)))]
    # options before the parameters, as scripts/run-demo.sh passes them
    rc = rn.main([str(NOTEBOOK), str(tmp_path), "--timeout", str(int(600 * SLOW)),
                  "--cwd", str(tmp_path), *[f"{k}={v}" for k, v in params]])
    assert rc == 0
    import nbformat
    nb = nbformat.read(tmp_path / "q1.executed.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in outputs(c) if o["output_type"] == "error"]
    assert errors == [], errors
    assert "injected-parameters" in code[1].metadata.get("tags", [])

    def cell_with(text):
        return next(c for c in code if text in c.source)

    data = cell_with('cifar10("train"')
    assert "256 images 32x32 RGB, 10 classes" in texts(data)
    assert any("text/html" in o.get("data", {}) for o in outputs(data))
    preview = cell_with("preview(")
    assert any("image/png" in o.get("data", {}) for o in outputs(preview))
    assert "32 images" in texts(preview)
    model = cell_with("model = vit(")
    assert "14,243,722 parameters" in texts(model)
    fit = cell_with("run = fit(")
    fit_text = texts(fit)
    assert "steps an epoch of batch 128" in fit_text
    assert "epoch   1/1  lr 0.0003" in fit_text
    assert any("image/png" in o.get("data", {}) for o in outputs(fit)), "no live curves"
    # the bar is a display output; nbclient keeps its final state
    assert "fit 100%|" in fit_text and "2/2" in fit_text
    assert "<plot 760x300 'Training', 1 epoch>" in texts(cell_with("plot(run)"))
    ev = cell_with("evaluate(model, test)")
    html = next(o["data"]["text/html"] for o in outputs(ev)
                if o["output_type"] == "execute_result")
    assert "accuracy" in html and html.count("<img") == 2
    assert "100 images" in html or "of 100)" in html
    saved = tmp_path / "vit_cifar10.safetensors"
    assert saved.is_file(), "save() writes beside the notebook's working folder"
    from safetensors.numpy import load_file
    weights = load_file(str(saved))
    assert weights["head.weight"].shape == (10, 384)
    assert weights["blocks.7.mlp.fc1.weight"].shape == (1536, 384)
    page = (tmp_path / "q1.html").read_text()
    assert "data:image/png;base64," in page and "Traceback" not in page
