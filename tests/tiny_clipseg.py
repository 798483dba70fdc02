"""tiny_clipseg.py — CLIPSeg model folders for the q2 tests, laid out as
Hugging Face repositories:

- make_model_dir: model.safetensors, config.json, preprocessor_config.json,
  vocab.json, merges.txt; the tiny random model of
  tests/fixtures/clipseg_tiny.safetensors with its token embedding widened
  to CLIP's 49,408 ids, so the real tokenizer (../shared/data/clip-tokenizer)
  feeds it. Its masks mean nothing; it exercises the plumbing.
- make_bin_model_dir / make_bin_twin_dir: the micro CLIPSeg that
  transformers 4 saved as pytorch_model.bin (tests/fixtures/clipseg_bin,
  tests/nn/gen_clipseg_bin_fixtures.py), and its safetensors twin, written
  here from the .bin by a reader of torch.save's format in plain Python
  (read_torch_state_dict: zipfile, a pickle that knows three globals, numpy),
  independent of Ember's C reader.
- make_tf5_dir: a folder as transformers 5's save_pretrained writes a
  CLIPSegProcessor next to the model: tokenizer.json, tokenizer_config.json
  and processor_config.json, no vocab.json, merges.txt or
  preprocessor_config.json. tokenizer.json (3.6 MB for CLIP's vocabulary,
  so not committed) is written from the shared vocab.json and merges.txt
  byte for byte as transformers 5.25 / tokenizers 0.23 write it
  (tokenizer_json(); checked once by hand, tests/fixtures/README.md)."""
import collections
import io
import json
import os
import pickle
import shutil
import zipfile

import numpy as np
from safetensors.numpy import load_file, save_file

from ember_testenv import ROOT

FIX = ROOT / "tests" / "fixtures"
SHARED = os.environ.get("EMBER_SHARED_DATA") or str(ROOT.parent / "shared" / "data")
TOKENIZER = os.path.join(SHARED, "clip-tokenizer")
INPUT_SIZE = 128


def tokenizer_missing():
    """None, or why the model folder cannot be made."""
    if not os.path.isfile(os.path.join(TOKENIZER, "vocab.json")):
        return f"the CLIP tokenizer files are missing ({TOKENIZER}); set EMBER_SHARED_DATA"
    return None


def make_model_dir(d):
    d.mkdir(parents=True, exist_ok=True)
    weights = {k: v for k, v in load_file(str(FIX / "clipseg_tiny.safetensors")).items()
               if not k.startswith(("input.", "expect."))}
    emb = "clip.text_model.embeddings.token_embedding.weight"
    rng = np.random.default_rng(7)
    weights[emb] = rng.normal(0, 0.5, (49408, weights[emb].shape[1])).astype(weights[emb].dtype)
    save_file(weights, str(d / "model.safetensors"))
    # The fixture's text tower ended prompts with id 63; with the real
    # tokenizer they end with 49407, which clipseg() checks the config for.
    config = json.loads((FIX / "clipseg_tiny_config.json").read_text())
    config["text_config"].update(vocab_size=49408, bos_token_id=49406, eos_token_id=49407,
                                 pad_token_id=49407)
    (d / "config.json").write_text(json.dumps(config, indent=1))
    (d / "preprocessor_config.json").write_text(json.dumps(
        {"size": INPUT_SIZE, "image_mean": [0.485, 0.456, 0.406],
         "image_std": [0.229, 0.224, 0.225]}))
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(TOKENIZER, f), d / f)
    return d


# ---- PyTorch checkpoints, read in plain Python --------------------------

_STORAGE_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
                   "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
                   "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?"}


def read_torch_state_dict(path):
    """{name: numpy array} of a torch.save state dict (the zip format),
    without torch and without running anything: the pickle may name only
    OrderedDict, _rebuild_tensor_v2 and the storage classes."""
    with zipfile.ZipFile(path) as z:
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        root = pkl[:-len("data.pkl")]
        storages = {}

        def rebuild(storage, offset, size, stride, *_):
            item = storage.dtype.itemsize
            view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                                   strides=tuple(st * item for st in stride))
            return view.copy()  # ascontiguousarray would make a 0-d tensor 1-d

        class Unpickler(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) == ("collections", "OrderedDict"):
                    return collections.OrderedDict
                if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                    return rebuild
                if module == "torch" and name in _STORAGE_DTYPES:
                    return name
                raise pickle.UnpicklingError(f"{module}.{name} is not part of a state dict")

            def persistent_load(self, pid):
                kind, storage_type, key, _location, _numel = pid
                assert kind == "storage", pid
                if key not in storages:
                    storages[key] = np.frombuffer(z.read(f"{root}data/{key}"),
                                                  _STORAGE_DTYPES[storage_type])
                return storages[key]

        return dict(Unpickler(io.BytesIO(z.read(pkl))).load())


BIN = FIX / "clipseg_bin"
BIN_INPUT_SIZE = 48


def _tokenizer_and_preprocessor(d, size):
    (d / "preprocessor_config.json").write_text(json.dumps(
        {"size": size, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}))
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(TOKENIZER, f), d / f)


def make_bin_model_dir(d):
    """The micro CLIPSeg as transformers 4 saved it: pytorch_model.bin and
    its config.json, plus the tokenizer and image settings."""
    d.mkdir(parents=True, exist_ok=True)
    for f in ("pytorch_model.bin", "config.json"):
        shutil.copy(BIN / f, d / f)
    _tokenizer_and_preprocessor(d, BIN_INPUT_SIZE)
    return d


def make_bin_twin_dir(d):
    """The same model with model.safetensors instead of pytorch_model.bin."""
    d.mkdir(parents=True, exist_ok=True)
    save_file(read_torch_state_dict(BIN / "pytorch_model.bin"), str(d / "model.safetensors"))
    shutil.copy(BIN / "config.json", d / "config.json")
    _tokenizer_and_preprocessor(d, BIN_INPUT_SIZE)
    return d


# ---- a processor saved by transformers 5 ---------------------------------

CLIP_SPLIT = ("<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|"
              "[^\\s\\p{L}\\p{N}]+")


def tokenizer_json(normalized=False):
    """tokenizer.json of CLIP's tokenizer, as transformers 5 saves it (from
    vocab.json and merges.txt alone its special tokens are
    normalized=false; with CIDAS's tokenizer_config.json, true)."""
    with open(os.path.join(TOKENIZER, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(TOKENIZER, "merges.txt"), encoding="utf-8") as f:
        merges = [line.split(" ") for line in f.read().split("\n")[1:] if line]

    def special(i, content):
        return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": normalized, "special": True}
    doc = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [special(49406, "<|startoftext|>"), special(49407, "<|endoftext|>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": CLIP_SPLIT}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", 49407],
                           "cls": ["<|startoftext|>", 49406], "trim_offsets": False,
                           "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>",
                  "continuing_subword_prefix": "", "end_of_word_suffix": "</w>", "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False,
                  "vocab": dict(sorted(vocab.items(), key=lambda kv: kv[1])), "merges": merges},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _sorted_json(obj):
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def make_tf5_dir(d):
    """The tiny model (make_model_dir's weights and config.json) with the
    processor files transformers 5 writes: tokenizer.json,
    tokenizer_config.json, processor_config.json (its image settings in
    an "image_processor" section); no vocab.json, merges.txt or
    preprocessor_config.json."""
    make_model_dir(d)
    for f in ("vocab.json", "merges.txt", "preprocessor_config.json"):
        (d / f).unlink()
    (d / "tokenizer.json").write_text(tokenizer_json(), encoding="utf-8")
    (d / "tokenizer_config.json").write_text(_sorted_json({
        "backend": "tokenizers", "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
        "is_local": True, "local_files_only": False,
        "model_max_length": 1000000000000000019884624838656, "pad_token": "<|endoftext|>",
        "processor_class": "CLIPSegProcessor", "tokenizer_class": "CLIPTokenizer",
        "unk_token": "<|endoftext|>"}))
    (d / "processor_config.json").write_text(_sorted_json({
        "image_processor": {
            "do_normalize": True, "do_rescale": True, "do_resize": True,
            "image_mean": [0.485, 0.456, 0.406], "image_processor_type": "ViTImageProcessor",
            "image_std": [0.229, 0.224, 0.225], "resample": 2,
            "rescale_factor": 0.00392156862745098, "size": {"height": INPUT_SIZE, "width": INPUT_SIZE}},
        "processor_class": "CLIPSegProcessor"}))
    return d
