"""test_q2.py — notebooks/q2.ipynb, CLIPSeg segmentation, runs from top to
bottom with the Ember kernel through the runner `make demo` uses, with its
parameters pointed at a tiny CLIPSeg model folder (tests/tiny_clipseg.py:
the real checkpoint is not downloadable here) and at an image served over
HTTP from 127.0.0.1, so URL loading is part of the run. Checks that every
cell shows what it should: the model line, the image, the masks beside the
image, the overlays, one mask, the table."""
import functools
import http.server
import threading

import nbformat
import pytest

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
