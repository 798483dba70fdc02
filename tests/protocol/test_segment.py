"""test_segment.py — q2 through the kernel with a tiny CLIPSeg: clipseg()
loading a model folder and the same files from a local "hub" endpoint into
Ember's cache, segment() giving masks (display, indexing by number and by
prompt, attributes, table), overlay() in its three forms, and the errors
(bad model ids, missing files, bad prompts, bad arguments) leaving every
variable intact. The model is the tiny random one of
tests/fixtures/clipseg_tiny.safetensors with its token embedding widened to
CLIP's 49,408 ids, so the real tokenizer (../shared/data/clip-tokenizer)
feeds it; the masks mean nothing, the plumbing is what is tested here (the
numbers are tested against transformers in tests/nn)."""
import http.server
import os
import threading

import pytest

from ember_testenv import ROOT, SLOW
from protocol_util import printed as _printed, result_data as result, run_error, run_ok

# CLIPSeg and its downloads take longer than a plain cell.
LONG = 120 * SLOW


def ok(kc, code, timeout=LONG):
    return run_ok(kc, code, timeout)


def err(kc, code):
    return run_error(kc, code, LONG)


def printed(kc, expr):
    return _printed(kc, expr, LONG)
from tiny_clipseg import make_model_dir, tokenizer_missing


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    why = tokenizer_missing()
    if why:
        pytest.skip(why)
    return make_model_dir(tmp_path_factory.mktemp("clipseg-tiny"))


@pytest.fixture
def loaded(kc, model_dir):
    ok(kc, f"seg = clipseg({str(model_dir)!r}, device='cpu')")
    ok(kc, f"img = load_image({str(ROOT / 'kernelspec' / 'logo-64x64.png')!r}).convert('RGB')")
    return kc


def test_clipseg_and_segment(loaded):
    kc = loaded
    text = result(ok(kc, "seg"))["text/plain"]
    assert text.startswith("CLIPSeg(") and "input 128x128" in text and "cpu" in text, text
    msgs = ok(kc, "masks = segment(seg, img, ['a cat', 'a remote control', 'a blanket']); masks")
    data = result(msgs)
    assert data["text/plain"].startswith("<masks of a 64x64 image: 'a cat' (max ")
    assert "image/png" in data
    assert printed(kc, "len(masks), masks.prompts") == "3 ['a cat', 'a remote control', 'a blanket']"
    m0 = result(ok(kc, "masks[0]"))
    assert m0["text/plain"].startswith("<mask 'a cat' 64x64: max ") and "image/png" in m0
    assert printed(kc, "masks['a blanket'].prompt, masks[-1].width, masks[1].height") == \
        "a blanket 64 64"
    assert printed(kc, "0 <= masks[0].mean and masks[0].mean <= masks[0].max and masks[0].max <= 1") == "true"
    assert printed(kc, "masks[0].image().shape, masks[0].binary(0.5).shape") == "[64, 64, 3] [64, 64, 1]"
    table = result(ok(kc, "masks.table()"))
    assert "blue" in table["text/html"] and "orange" in table["text/html"] and "a blanket" in table["text/html"]
    # one prompt as a string; the same prompt gives the same mask
    assert printed(kc, "segment(seg, img, 'a cat')[0].max == masks[0].max") == "true"
    # overlays: masks, one mask, a list of masks, the method
    for code in ("overlay(img, masks)", "overlay(img, masks[1], alpha=0.8)",
                 "overlay(img, [masks[0], masks[2]], threshold=0.5)", "masks.overlay(alpha=0.3)"):
        assert result(ok(kc, code))["text/plain"] == "<image 64x64 RGB>", code


@pytest.mark.parametrize("code, name, words", [
    ("segment(seg, img, [])", "TypeError", "a string or a list of 1 to 64 strings"),
    ("segment(seg, img, ['a cat', 3])", "TypeError", "prompt 1 is int"),
    ("segment(seg, img, [''])", "ValueError", "prompt 0 is empty"),
    ("segment(img, img, 'a cat')", "TypeError", "a segmenter from clipseg()"),
    ("segment(seg, 'cat.png', 'a cat')", "TypeError", "an image"),
    ("overlay(img, masks, alpha=2)", "ValueError", "alpha must be a number from 0 to 1"),
    ("overlay(img, [1])", "TypeError", "item 0 of masks is int"),
    ("overlay(img, 3)", "TypeError", "masks from segment()"),
    ("masks['a dog']", "KeyError", "no prompt 'a dog'"),
    ("masks[5]", "IndexError", "out of range for 3 masks"),
    ("masks[0].binary(2)", "ValueError", "threshold must be a number from 0 to 1"),
    ("clipseg('not a model id', download=false)", "OSError", "not a Hugging Face model id"),
    ("clipseg('someone/nothing-here', download=false)", "OSError", "download"),
    ("clipseg(seg_dir_missing)", "OSError", "has no vocab.json"),
    ("clipseg('CIDAS/clipseg-rd64-refined', device='tpu')", "ValueError", "'auto', 'cpu' or 'cuda'"),
])
def test_errors_keep_variables(loaded, tmp_path, code, name, words):
    kc = loaded
    ok(kc, "masks = segment(seg, img, ['a cat', 'a remote control', 'a blanket']); keep = 7; "
           f"seg_dir_missing = {str(tmp_path)!r}")
    got, msg = err(kc, code)
    assert got == name and words in msg, (got, msg)
    assert printed(kc, "keep, len(masks)") == "7 3"


class Hub:
    """A local stand-in for huggingface.co: /<org>/<name>/resolve/<rev>/<file>."""

    def __init__(self, folder):
        files = {p.name: p.read_bytes() for p in folder.iterdir()}
        self.hits = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                parts = self.path.split("/")
                name = parts[-1]
                if self.path.startswith("/tiny/clipseg/resolve/main/") and name in files:
                    outer.hits.append(name)
                    body = files[name]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_into_cache(model_dir, tmp_path):
    """A kernel whose HF_ENDPOINT is a local server and whose caches are
    empty downloads the model once; a second clipseg() reads the cache."""
    from protocol_util import start, stop
    hub = Hub(model_dir)
    km, kc = start(env={**os.environ, "HF_ENDPOINT": hub.url, "EMBER_DATA": str(tmp_path / "ember"),
                        "HF_HUB_CACHE": str(tmp_path / "hf")})
    try:
        ok(kc, "s1 = clipseg('tiny/clipseg', device='cpu')")
        assert sorted(hub.hits) == sorted(["vocab.json", "merges.txt", "config.json",
                                           "preprocessor_config.json", "model.safetensors"])
        cached = tmp_path / "ember" / "hf" / "tiny" / "clipseg" / "main" / "model.safetensors"
        assert cached.is_file()
        hub.close()
        ok(kc, "s2 = clipseg('tiny/clipseg', device='cpu')")
        assert printed(kc, "s2.name, s2.input_size") == "tiny/clipseg 128"
    finally:
        stop(km, kc)
        try:
            hub.close()
        except Exception:
            pass
