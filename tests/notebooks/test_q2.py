"""test_q2.py — notebooks/q2.ipynb, CLIPSeg segmentation, runs from top to
bottom with the Ember kernel through the runner `make demo` uses, with its
parameters pointed at a tiny CLIPSeg model folder (tests/tiny_clipseg.py:
the real checkpoint is not downloadable here) and at an image served over
HTTP from 127.0.0.1, so URL loading is part of the run. Checks that every
cell shows what it should: the model line, the image, the masks beside the
image, the overlays, one mask, the table; then the later sections: an
overlay in the colours asked for (its pixels those of the saved PNG), a
mask's value at a pixel and in a box, the token ids, and the files saved
(read back with Pillow, numpy and csv, equal to what the cells showed)."""
import base64
import csv
import functools
import http.server
import io
import re
import threading

import nbformat
import numpy as np
import pytest
from PIL import Image

from ember_testenv import ROOT, SLOW, notebook_runner, require_kernel
from tiny_clipseg import make_model_dir, tokenizer_missing

NOTEBOOK = ROOT / "notebooks" / "q2.ipynb"


def outputs(cell):
    return cell.get("outputs", [])


def texts(cell):
    return "\n".join(o["text"] if o["output_type"] == "stream" else o.get("data", {}).get("text/plain", "")
                     for o in outputs(cell))


def test_q2_with_tiny_model(tmp_path):
    why = tokenizer_missing()
    if why:
        pytest.skip(why)
    require_kernel()
    (tmp_path / "model").mkdir()
    model = make_model_dir(tmp_path / "model")
    serve = tmp_path / "www"
    serve.mkdir()
    (serve / "logo.png").write_bytes((ROOT / "kernelspec" / "logo-64x64.png").read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(serve))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/logo.png"
    try:
        rc = notebook_runner().main([str(NOTEBOOK), str(tmp_path / "out"), f"model_name={str(model)!r}",
                            f"image_source={url!r}", "--timeout", str(int(300 * SLOW))])
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert rc == 0
    nb = nbformat.read(tmp_path / "out" / "q2.executed.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in outputs(c) if o["output_type"] == "error"]
    assert errors == [], errors

    def cell(text):
        return next(c for c in code if text in c.source)

    assert texts(cell("seg = clipseg(")).startswith("CLIPSeg(")
    assert "<image 64x64 RGBA>" in texts(cell("img = load_image("))
    masks = cell("masks = segment(")
    assert "<masks of a 64x64 image: 'a cat'" in texts(masks)
    assert any("image/png" in o.get("data", {}) for o in outputs(masks))
    assert "<image 64x64 RGB>" in texts(cell("overlay(img, masks, alpha=0.5)"))
    assert "<mask 'a cat' 64x64" in texts(cell("masks[0]"))
    table = next(o["data"]["text/html"] for o in outputs(cell("masks.table()")) if "data" in o)
    assert "a remote control" in table and "orange" in table
    page = (tmp_path / "out" / "q2.html").read_text()
    assert page.count("data:image/png;base64,") >= 5

    # overlays in the colours asked for, saved as shown
    colours = cell("overlay(img, masks, colors=colors")
    assert "<image 64x64 RGB>" in texts(colours)
    shown = next(o["data"]["image/png"] for o in outputs(colours) if "image/png" in o.get("data", {}))
    out = tmp_path / "out"
    saved = np.asarray(Image.open(out / "overlay.png").convert("RGB"))
    assert saved.shape == (64, 64, 3)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(shown))).convert("RGB")), saved)
    default = next(o["data"]["image/png"] for o in outputs(cell("overlay(img, masks, alpha=0.5)"))
                   if "image/png" in o.get("data", {}))
    assert not np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(default))).convert("RGB")), saved)
    assert "<image 64x64 RGB>" in texts(cell("load_image('overlay.png')"))

    # a mask's numbers: the value at the centre pixel is the saved arrays' [y, x]
    at = re.search(r"a cat: ([0-9.]+) at the centre pixel \(32, 32\)", texts(cell("m.at(x, y)")))
    assert at, texts(cell("m.at(x, y)"))
    npz = np.load(out / "masks.npz")
    assert list(npz["prompts"]) == ["a cat", "a remote control", "a blanket"]
    assert list(npz["keys"]) == ["a_cat", "a_remote_control", "a_blanket"]
    a = npz["a_cat"]
    assert a.dtype == np.float32 and a.shape == (64, 64)
    assert f"{a[32, 32]:.3f}" == at.group(1)
    assert np.array_equal(np.load(out / "mask.npy"), a)
    region = texts(cell("m.region("))
    assert "<region (0, 0)-(32, 32) of mask 'a cat'" in region
    assert f"mean {a[:32, :32].mean():.3f}, max {a[:32, :32].max():.3f}" in region

    # the token ids, as CLIPTokenizer gives them
    tokens = texts(cell("tokenize(seg, prompts)"))
    assert "49406" in tokens and "cat</w>" in tokens and "remote</w>" in tokens
    assert texts(cell("tokenize(seg, masks[0].prompt).ids")) == "[49406, 320, 2368, 49407]"

    with open(out / "masks.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "prompt" and [r[0] for r in rows[1:]] == ["a cat", "a remote control", "a blanket"]
