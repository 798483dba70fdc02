"""tiny_clipseg.py — a CLIPSeg model folder for the q2 tests, laid out as
a Hugging Face repository (model.safetensors, config.json,
preprocessor_config.json, vocab.json, merges.txt): the tiny random model of
tests/fixtures/clipseg_tiny.safetensors with its token embedding widened to
CLIP's 49,408 ids, so the real tokenizer (../shared/data/clip-tokenizer)
feeds it. Its masks mean nothing; it exercises the plumbing."""
import json
import os
import shutil

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
    weights = {k: v for k, v in load_file(str(FIX / "clipseg_tiny.safetensors")).items()
               if not k.startswith(("input.", "expect."))}
    emb = "clip.text_model.embeddings.token_embedding.weight"
    rng = np.random.default_rng(7)
    weights[emb] = rng.normal(0, 0.5, (49408, weights[emb].shape[1])).astype(weights[emb].dtype)
    save_file(weights, str(d / "model.safetensors"))
    shutil.copy(FIX / "clipseg_tiny_config.json", d / "config.json")
    (d / "preprocessor_config.json").write_text(json.dumps(
        {"size": INPUT_SIZE, "image_mean": [0.485, 0.456, 0.406],
         "image_std": [0.229, 0.224, 0.225]}))
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(TOKENIZER, f), d / f)
    return d
