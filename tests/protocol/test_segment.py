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


def said_once(msg, *parts):
    """The builtin's name leads msg once, and each part (a path, a word)
    appears once: messages once read "x: x: ..." or named a path twice."""
    head = msg.split(": ", 1)[0]
    assert not msg.startswith(f"{head}: {head}"), msg
    for p in parts:
        assert msg.count(p) == 1, (p, msg)


def test_missing_folder_says_so(kc, model_dir, tmp_path):
    """A folder that is not there is named as missing, not as a bad model
    id; a file given for the folder is named as a file."""
    ok(kc, "keep = 7")
    gone = str(tmp_path / "no-such-model")
    name, msg = err(kc, f"clipseg({gone!r})")
    assert name == "FileNotFoundError" and f"the folder '{gone}' does not exist" in msg, (name, msg)
    assert "model id" not in msg, msg
    said_once(msg, gone)
    name, msg = err(kc, "clipseg('./no-such-model')")
    assert name == "FileNotFoundError" and "does not exist" in msg and "working directory" in msg, msg
    weights = str(model_dir / "model.safetensors")
    name, msg = err(kc, f"clipseg({weights!r})")
    assert "is a file, not a model folder" in msg, msg
    assert printed(kc, "keep") == "7"


def copy_model(model_dir, dest, edit_config=None):
    import json
    import shutil
    shutil.copytree(model_dir, dest)
    if edit_config:
        cfg = json.loads((dest / "config.json").read_text())
        edit_config(cfg)
        (dest / "config.json").write_text(json.dumps(cfg))
    return str(dest)


def test_truncated_weights_name_the_file_once(kc, model_dir, tmp_path):
    d = copy_model(model_dir, tmp_path / "m")
    w = tmp_path / "m" / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100000])
    name, msg = err(kc, f"clipseg({d!r})")
    assert name == "ValueError" and "truncated" in msg, (name, msg)
    said_once(msg, str(w))


@pytest.mark.parametrize("section, key, value, words", [
    ("vision_config", "hidden_act", "gelu_new", ["vision_config.hidden_act", "'gelu_new'", "'quick_gelu'"]),
    ("text_config", "hidden_act", "silu", ["text_config.hidden_act", "'silu'", "'gelu'"]),
    ("vision_config", "num_channels", 1, ["vision_config.num_channels", "3 channels"]),
    ("text_config", "eos_token_id", 5, ["text_config.eos_token_id is 5", "49407"]),
    (None, "use_complex_transposed_convolution", False, ["use_complex_transposed_convolution", "refined"]),
])
def test_unsupported_config_is_refused(kc, model_dir, tmp_path, section, key, value, words):
    """A config.json value the engine does not implement stops clipseg()
    with a message naming the key (it once ran 'gelu' as quick_gelu)."""
    def edit(cfg):
        (cfg[section] if section else cfg)[key] = value
    d = copy_model(model_dir, tmp_path / "m", edit)
    name, msg = err(kc, f"clipseg({d!r}, device='cpu')")
    assert name == "ValueError", (name, msg)
    for w in words:
        assert w in msg, (w, msg)
    said_once(msg, str(tmp_path / "m" / "config.json"))


@pytest.mark.parametrize("key, value", [("resample", 3), ("size", {"shortest_edge": 128}),
                                        ("do_normalize", False), ("size", "x")])
def test_unsupported_preprocessing_is_refused(kc, model_dir, tmp_path, key, value):
    """preprocessor_config.json likewise: a setting the pre-processing does
    not implement is refused (a size of "x" was once silently ignored)."""
    import json
    d = copy_model(model_dir, tmp_path / "m")
    pre = tmp_path / "m" / "preprocessor_config.json"
    cfg = json.loads(pre.read_text())
    cfg[key] = value
    pre.write_text(json.dumps(cfg))
    name, msg = err(kc, f"clipseg({d!r}, device='cpu')")
    assert name == "ValueError" and key in msg, (name, msg)
    said_once(msg, str(pre))


def test_gelu_config_loads(kc, model_dir, tmp_path):
    """hidden_act 'gelu' is honoured, not refused (numbers: tests/nn)."""
    def edit(cfg):
        cfg["text_config"]["hidden_act"] = cfg["vision_config"]["hidden_act"] = "gelu"
    d = copy_model(model_dir, tmp_path / "m", edit)
    ok(kc, f"sg = clipseg({d!r}, device='cpu')")
    ok(kc, f"im = load_image({str(ROOT / 'kernelspec' / 'logo-64x64.png')!r})")
    q = ok(kc, "sg_masks = segment(sg, im, 'a cat'); sg_masks[0].max")
    quick = ok(kc, f"seg_q = clipseg({str(model_dir)!r}, device='cpu'); segment(seg_q, im, 'a cat')[0].max")
    assert result(q)["text/plain"] != result(quick)["text/plain"]


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


def test_failed_download_says_downloading_once(model_dir, tmp_path):
    """Weights the hub does not have, in either format: one "downloading
    <url>", which names the file and the repo (it once said "downloading f
    of r: downloading"), after the format tried first."""
    from protocol_util import start, stop
    folder = tmp_path / "partial"
    folder.mkdir()
    for f in ("vocab.json", "merges.txt"):
        (folder / f).write_bytes((model_dir / f).read_bytes())
    hub = Hub(folder)
    km, kc = start(env={**os.environ, "HF_ENDPOINT": hub.url, "EMBER_DATA": str(tmp_path / "ember"),
                        "HF_HUB_CACHE": str(tmp_path / "hf")})
    try:
        name, msg = err(kc, "clipseg('tiny/clipseg', device='cpu')")
        assert name == "OSError" and "404" in msg, (name, msg)
        assert msg.startswith(f"clipseg: model.safetensors is not on {hub.url} for tiny/clipseg (not found), "
                              "and downloading http://"), msg
        said_once(msg, "downloading", "model.safetensors", "tiny/clipseg/resolve/main/pytorch_model.bin")
    finally:
        stop(km, kc)
        hub.close()


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
