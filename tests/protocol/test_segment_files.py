"""test_segment_files.py — the files clipseg() reads, through the kernel:

- PyTorch checkpoints: a micro CLIPSeg saved by transformers 4 as
  pytorch_model.bin (tests/fixtures/clipseg_bin) gives the same masks, bit
  for bit, as its safetensors twin (written here from the .bin by a plain
  Python reader, tests/tiny_clipseg.py); model.safetensors is preferred when
  both are there; the .bin is found in the Hugging Face cache and downloaded
  after a 404 for model.safetensors, which clipseg() says; a hostile
  pytorch_model.bin is refused with the reader's message; a sharded
  checkpoint is refused, saying so.
- A processor saved by transformers 5 (tokenizer.json, processor_config.json,
  no vocab.json / merges.txt / preprocessor_config.json) loads and segments
  exactly as the classic folder of the same model; settings in
  processor_config.json are checked as preprocessor_config.json's are; a
  tokenizer.json of another kind is refused naming the stage.
- tokenize(model, text): Hugging Face's ids (tests/fixtures/clip_tokens.json)
  for every fixture string, one by one and in batches padded as segment()
  feeds them, from vocab.json + merges.txt and from tokenizer.json; its
  table; its errors."""
import json
import os
import shutil

import pytest

from ember_testenv import ROOT, SLOW
from protocol_util import result_data as result, run_error, run_ok, stdout_of
from protocol_util import printed as _printed
from test_segment import Hub, said_once
from tiny_clipseg import (make_bin_model_dir, make_bin_twin_dir, make_model_dir, make_tf5_dir,
                          tokenizer_json, tokenizer_missing)

LONG = 120 * SLOW
LOGO = str(ROOT / "kernelspec" / "logo-64x64.png")
PROMPTS = ["a cat", "a remote control", "a blanket"]
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "clip_tokens.json").read_text(encoding="utf-8"))


def ok(kc, code):
    return run_ok(kc, code, LONG)


def err(kc, code):
    return run_error(kc, code, LONG)


def printed(kc, expr):
    return _printed(kc, expr, LONG)


def stderr_of(msgs):
    return "".join(m["content"]["text"] for m in msgs
                   if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")


@pytest.fixture(scope="module", autouse=True)
def need_tokenizer():
    why = tokenizer_missing()
    if why:
        pytest.skip(why)


@pytest.fixture(scope="module")
def bin_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("clipseg-bin")
    return make_bin_model_dir(base / "bin"), make_bin_twin_dir(base / "twin")


def same_masks(kc, a, b, n):
    """Every probability of every mask equal (mask.values at the image's
    size), and their max and mean to the last bit."""
    for i in range(n):
        assert printed(kc, f"{a}[{i}].values == {b}[{i}].values, {a}[{i}].max == {b}[{i}].max, "
                           f"{a}[{i}].mean == {b}[{i}].mean") == "true true true", i


# ---- PyTorch checkpoints --------------------------------------------------

def test_bin_gives_the_masks_of_its_safetensors_twin(kc, bin_dirs):
    bin_dir, twin_dir = bin_dirs
    assert not (bin_dir / "model.safetensors").exists() and (twin_dir / "model.safetensors").exists()
    ok(kc, f"sb = clipseg({str(bin_dir)!r}, device='cpu'); st = clipseg({str(twin_dir)!r}, device='cpu'); "
           f"img = load_image({LOGO!r}).convert('RGB')")
    assert "input 48x48" in result(ok(kc, "sb"))["text/plain"]
    ok(kc, f"mb = segment(sb, img, {PROMPTS!r}); ms = segment(st, img, {PROMPTS!r})")
    same_masks(kc, "mb", "ms", len(PROMPTS))
    # the masks are not all alike, so equality means something
    assert printed(kc, "mb[0].values == mb[1].values") == "false"


def test_safetensors_is_preferred(kc, bin_dirs, tmp_path):
    """With both files, model.safetensors is read: a hostile .bin beside it
    is never opened."""
    _, twin_dir = bin_dirs
    d = tmp_path / "both"
    shutil.copytree(twin_dir, d)
    shutil.copy(ROOT / "tests" / "fixtures" / "torch" / "bad_os_system.pt", d / "pytorch_model.bin")
    ok(kc, f"both = clipseg({str(d)!r}, device='cpu')")


def test_hostile_bin_is_refused(kc, bin_dirs, tmp_path):
    bin_dir, _ = bin_dirs
    d = tmp_path / "hostile"
    shutil.copytree(bin_dir, d)
    shutil.copy(ROOT / "tests" / "fixtures" / "torch" / "bad_os_system.pt", d / "pytorch_model.bin")
    ok(kc, "keep = 7")
    name, msg = err(kc, f"h = clipseg({str(d)!r}, device='cpu')")
    assert name == "ValueError", (name, msg)
    assert msg.startswith("clipseg: loading CLIPSeg weights: refusing to load"), msg
    assert "system" in msg and "malicious" in msg, msg
    said_once(msg, str(d / "pytorch_model.bin"))
    assert printed(kc, "keep") == "7"


def test_other_files_in_the_weights_place(kc, bin_dirs, tmp_path):
    """Not a checkpoint, or a checkpoint of another model: said once, with
    the file."""
    bin_dir, _ = bin_dirs
    d = tmp_path / "junk"
    shutil.copytree(bin_dir, d)
    (d / "pytorch_model.bin").write_bytes(b"not a checkpoint at all, just text\n" * 10)
    name, msg = err(kc, f"clipseg({str(d)!r}, device='cpu')")
    assert name == "ValueError" and "neither a safetensors file nor a PyTorch checkpoint" in msg, msg
    said_once(msg, str(d / "pytorch_model.bin"))
    shutil.copy(ROOT / "tests" / "fixtures" / "torch" / "vit_tiny.pt", d / "pytorch_model.bin")
    name, msg = err(kc, f"clipseg({str(d)!r}, device='cpu')")
    assert name == "ValueError" and "not a CLIPSeg checkpoint" in msg, msg
    said_once(msg, str(d / "pytorch_model.bin"))


def test_missing_and_sharded_weights(kc, bin_dirs, tmp_path):
    bin_dir, _ = bin_dirs
    d = tmp_path / "none"
    shutil.copytree(bin_dir, d)
    (d / "pytorch_model.bin").unlink()
    name, msg = err(kc, f"clipseg({str(d)!r}, device='cpu')")
    assert name == "OSError" and "has no model.safetensors or pytorch_model.bin" in msg, msg
    (d / "pytorch_model.bin.index.json").write_text(json.dumps(
        {"metadata": {"total_size": 1}, "weight_map": {"a.weight": "pytorch_model-00001-of-00002.bin",
                                                       "b.weight": "pytorch_model-00002-of-00002.bin",
                                                       "c.weight": "pytorch_model-00002-of-00002.bin"}}))
    name, msg = err(kc, f"clipseg({str(d)!r}, device='cpu')")
    assert name == "ValueError" and "sharded checkpoint in 2 files" in msg and "one file" in msg, msg
    said_once(msg, str(d / "pytorch_model.bin.index.json"))


def test_bin_in_the_hf_cache(bin_dirs, tmp_path):
    """The huggingface_hub cache layout with only pytorch_model.bin."""
    from protocol_util import start, stop
    bin_dir, _ = bin_dirs
    snap = tmp_path / "hf" / "models--tiny--clipseg-bin" / "snapshots" / "abc123"
    shutil.copytree(bin_dir, snap)
    (tmp_path / "hf" / "models--tiny--clipseg-bin" / "refs").mkdir()
    (tmp_path / "hf" / "models--tiny--clipseg-bin" / "refs" / "main").write_text("abc123")
    km, kc = start(env={**os.environ, "HF_HUB_CACHE": str(tmp_path / "hf"), "EMBER_DATA": str(tmp_path / "e"),
                        "HF_ENDPOINT": "http://127.0.0.1:9"})
    try:
        ok(kc, "s = clipseg('tiny/clipseg-bin', device='cpu')")
        assert printed(kc, "s.input_size") == "48"
    finally:
        stop(km, kc)


def test_download_falls_back_to_bin(bin_dirs, tmp_path):
    """The hub has no model.safetensors: clipseg() says so and downloads
    pytorch_model.bin into Ember's cache; then reads the cache silently."""
    from protocol_util import start, stop
    bin_dir, _ = bin_dirs
    hub = Hub(bin_dir)
    km, kc = start(env={**os.environ, "HF_ENDPOINT": hub.url, "EMBER_DATA": str(tmp_path / "ember"),
                        "HF_HUB_CACHE": str(tmp_path / "hf")})
    try:
        msgs = ok(kc, "s1 = clipseg('tiny/clipseg', device='cpu')")
        said = stderr_of(msgs)
        assert f"clipseg: model.safetensors is not on {hub.url} for tiny/clipseg (not found); " \
               "downloading pytorch_model.bin instead" in said, said
        assert "pytorch_model.bin" in hub.hits and "model.safetensors" not in hub.hits
        assert (tmp_path / "ember" / "hf" / "tiny" / "clipseg" / "main" / "pytorch_model.bin").is_file()
        hub.close()
        msgs = ok(kc, "s2 = clipseg('tiny/clipseg', device='cpu')")
        assert stderr_of(msgs) == ""
        assert printed(kc, "s2.input_size") == "48"
    finally:
        stop(km, kc)
        try:
            hub.close()
        except Exception:
            pass


# ---- a processor saved by transformers 5 ----------------------------------

@pytest.fixture(scope="module")
def tf5_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("clipseg-tf5")
    return make_tf5_dir(base / "tf5"), make_model_dir(base / "classic")


def test_transformers5_folder_segments_as_the_classic_one(kc, tf5_dirs):
    tf5, classic = tf5_dirs
    assert not (tf5 / "vocab.json").exists() and not (tf5 / "preprocessor_config.json").exists()
    ok(kc, f"s5 = clipseg({str(tf5)!r}, device='cpu'); sc = clipseg({str(classic)!r}, device='cpu'); "
           f"img = load_image({LOGO!r}).convert('RGB')")
    # processor_config.json's image_processor.size (128) was read
    assert printed(kc, "s5.input_size") == "128"
    ok(kc, f"m5 = segment(s5, img, {PROMPTS!r}); mc = segment(sc, img, {PROMPTS!r})")
    same_masks(kc, "m5", "mc", len(PROMPTS))


def edited_copy(src, dest, name, edit):
    shutil.copytree(src, dest)
    p = dest / name
    doc = json.loads(p.read_text(encoding="utf-8"))
    edit(doc)
    p.write_text(json.dumps(doc), encoding="utf-8")
    return dest


def test_processor_config_settings_are_checked(kc, tf5_dirs, tmp_path):
    tf5, _ = tf5_dirs
    d = edited_copy(tf5, tmp_path / "r3", "processor_config.json",
                    lambda c: c["image_processor"].update(resample=3))
    name, msg = err(kc, f"clipseg({str(d)!r}, device='cpu')")
    assert name == "ValueError" and "resample must be 2" in msg, msg
    said_once(msg, str(d / "processor_config.json"))
    assert "(image_processor)" in msg and "/proc/" not in msg, msg
    # preprocessor_config.json, when there, is the one read
    (d / "preprocessor_config.json").write_text(json.dumps({"size": 64}))
    ok(kc, f"sp = clipseg({str(d)!r}, device='cpu')")
    assert printed(kc, "sp.input_size") == "64"
    # a processor_config.json without image settings leaves the defaults
    d2 = edited_copy(tf5, tmp_path / "none", "processor_config.json", lambda c: c.pop("image_processor"))
    ok(kc, f"sd = clipseg({str(d2)!r}, device='cpu')")
    assert printed(kc, "sd.input_size") == "352"


def test_tokenizer_json_of_another_kind_is_refused(kc, tf5_dirs, tmp_path):
    tf5, _ = tf5_dirs
    d = edited_copy(tf5, tmp_path / "nfkc", "tokenizer.json",
                    lambda t: t["normalizer"]["normalizers"][0].update(type="NFKC"))
    name, msg = err(kc, f"clipseg({str(d)!r}, device='cpu')")
    assert name == "ValueError" and "normalizer" in msg and "CLIP's tokenizer only" in msg, msg
    said_once(msg, str(d / "tokenizer.json"))
    d = edited_copy(tf5, tmp_path / "wp", "tokenizer.json", lambda t: t["model"].update(type="WordPiece"))
    name, msg = err(kc, f"clipseg({str(d)!r}, device='cpu')")
    assert name == "ValueError" and "WordPiece model" in msg, msg


def test_no_tokenizer_at_all(kc, tf5_dirs, tmp_path):
    tf5, _ = tf5_dirs
    d = tmp_path / "notok"
    shutil.copytree(tf5, d)
    (d / "tokenizer.json").unlink()
    name, msg = err(kc, f"clipseg({str(d)!r}, device='cpu')")
    assert name == "OSError" and "has no vocab.json or tokenizer.json" in msg, msg


# ---- tokenize() ------------------------------------------------------------

def cases():
    return FIXTURE["cases"]


def check_fixture_ids(kc, model, raw=False):
    """Every fixture string: one at a time for a few, then all in batches of
    up to 64 (padded with 49407 to the longest, as segment() feeds them)."""
    want = [c.get("ids_specials_raw", c["ids"]) if raw else c["ids"] for c in cases()]
    texts = [c["text"] for c in cases()]
    for i in (0, 1, 3):
        assert printed(kc, f"tokenize({model}, {texts[i]!r}).ids") == str(want[i]), texts[i]
    for lo in range(0, len(texts), 64):
        chunk = texts[lo:lo + 64]
        # the cell prints JSON-compatible lists
        got = json.loads(printed(kc, f"tokenize({model}, {chunk!r}).ids"))
        width = max(len(w) for w in want[lo:lo + 64])
        assert all(len(row) == width for row in got), "rows not padded to the longest"
        for k, row in enumerate(got):
            w = want[lo + k]
            assert row[:len(w)] == w and all(x == 49407 for x in row[len(w):]), (chunk[k], row, w)


def test_tokenize_equals_hugging_face(kc, bin_dirs, tmp_path):
    """With the micro model, whose text tower has CLIP's 77 positions (the
    tiny one has 16, and tokenize() cuts where segment() would)."""
    classic, _ = bin_dirs
    tf5 = tmp_path / "micro-tf5"
    shutil.copytree(classic, tf5)
    for f in ("vocab.json", "merges.txt"):
        (tf5 / f).unlink()
    (tf5 / "tokenizer.json").write_text(tokenizer_json(), encoding="utf-8")
    ok(kc, f"tc = clipseg({str(classic)!r}, device='cpu'); t5 = clipseg({str(tf5)!r}, device='cpu')")
    check_fixture_ids(kc, "tc")
    # tokenizer.json as transformers 5 writes it from vocab.json + merges.txt
    # (special tokens normalized=false): transformers 5's own ids
    assert any("ids_specials_raw" in c for c in cases())
    check_fixture_ids(kc, "t5", raw=True)


def test_tokenize_table_and_attributes(kc, tf5_dirs):
    _, classic = tf5_dirs
    ok(kc, f"tk = clipseg({str(classic)!r}, device='cpu')")
    data = result(ok(kc, "tokenize(tk, 'a cat')"))
    text = data["text/plain"]
    assert text.splitlines()[0] == "tokens of 'a cat': 4 ids, pooled at 3", text
    assert "49406  <|startoftext|>" in text and "320  a</w>" in text and "2368  cat</w>" in text, text
    assert "<table" in data["text/html"] and "cat&lt;/w&gt;" in data["text/html"], data["text/html"]
    assert printed(kc, "tokenize(tk, 'a cat').tokens") == \
        "['<|startoftext|>', 'a</w>', 'cat</w>', '<|endoftext|>']"
    assert printed(kc, "tokenize(tk, 'a cat').pieces") == "['<|startoftext|>', 'a', 'cat', '<|endoftext|>']"
    assert printed(kc, "tokenize(tk, ['a cat', 'the sofa']).text") == "['a cat', 'the sofa']"
    two = result(ok(kc, "tokenize(tk, ['a cat', 'a remote control'])"))["text/plain"]
    assert two.startswith("tokens of 2 prompts, padded with 49407 to 5 ids"), two
    # an empty prompt is the start and end tokens; a long one is cut
    assert printed(kc, "tokenize(tk, '').ids") == "[49406, 49407]"
    # (the tiny model's text tower has 16 positions: tokenize cuts there,
    # as segment() does)
    assert printed(kc, "len(tokenize(tk, 'cat ' * 100).ids), tokenize(tk, 'cat ' * 100).ids[-1]") == "16 49407"
    # a control character is shown as its picture, not written raw
    assert "\x01" not in result(ok(kc, "tokenize(tk, 'a\\x01b')"))["text/plain"]


@pytest.mark.parametrize("code, name, words", [
    ("tokenize(img, 'a cat')", "TypeError", "a segmenter from clipseg()"),
    ("tokenize(tk, 3)", "TypeError", "a string or a list of 1 to 64 strings"),
    ("tokenize(tk, [])", "TypeError", "a string or a list of 1 to 64 strings"),
    ("tokenize(tk, ['a', 2])", "TypeError", "prompt 1 is int"),
    ("tokenize(tk, 'a\\0b')", "ValueError", "NUL character"),
    ("tokenize(tk, ['a', 'b\\0'])", "ValueError", "prompt 1 holds a NUL character"),
])
def test_tokenize_errors(kc, tf5_dirs, code, name, words):
    _, classic = tf5_dirs
    ok(kc, f"tk = clipseg({str(classic)!r}, device='cpu'); img = load_image({LOGO!r}); keep = 7")
    got, msg = err(kc, code)
    assert got == name and words in msg, (got, msg)
    assert printed(kc, "keep") == "7"


def test_tokenizer_json_layout_is_transformers5s():
    """tokenizer_json() writes what transformers 5 writes (checked once by
    hand against save_pretrained's output; see tests/fixtures/README.md):
    here, that it is the JSON a tokenizers-library file has."""
    doc = json.loads(tokenizer_json())
    assert doc["model"]["merges"][0] == ["i", "n"] and doc["added_tokens"][0]["normalized"] is False
    assert list(doc) == ["version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer",
                         "post_processor", "decoder", "model"]
