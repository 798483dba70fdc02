#!/usr/bin/env python3
"""gen_clipseg_bin_fixtures.py — CLIPSeg checkpoints in PyTorch's format
(pytorch_model.bin), written by transformers' own save_pretrained(...,
safe_serialization=False), for the tests of clipseg()'s PyTorch path:

  tests/fixtures/clipseg_bin/pytorch_model.bin, config.json
      a micro CLIPSeg with CLIP's real vocabulary (49,408 ids, text width
      4, so the file stays under 1 MB), loadable by clipseg() with the
      tokenizer of ../shared/data/clip-tokenizer; random weights with O(1)
      activations (as gen_clipseg_fixtures.py makes them);
  tests/fixtures/clipseg_bin_expect.safetensors
      input.pixel_values [1, 3, 48, 48] (48: trained at 32, so the
      position embeddings are resized), input.ids i32 [3, L], input.eos i32
      [3], expect.logits [3, 48, 48] from transformers in float64 with the
      file's float32 weights;
  tests/fixtures/clipseg_bf16/pytorch_model.bin, config.json
      tests/fixtures/clipseg_plain.safetensors' model cast to bfloat16
      (model.to(torch.bfloat16)), so a bf16 checkpoint is exercised.

transformers 5 writes safetensors only, whatever safe_serialization says,
so this needs transformers 4 (e.g. `pip install --target /tmp/tf4
"transformers>=4.50,<5" "tokenizers>=0.22,<0.23" "huggingface_hub<1"
--no-deps`, then PYTHONPATH=/tmp/tf4 with a Python that has torch and
safetensors):

    PYTHONPATH=/tmp/tf4 python3 tests/nn/gen_clipseg_bin_fixtures.py

It checks that what it wrote is a zip of data.pkl plus storages (not a
safetensors file) and that torch.load gives back the weights bit for bit."""
import json
import math
import os
import shutil
import tempfile

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import CLIPSegConfig, CLIPSegForImageSegmentation

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures")
S = 48
BOS, EOS = 49406, 49407


def micro_config():
    text = dict(vocab_size=49408, hidden_size=4, intermediate_size=8, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                bos_token_id=BOS, eos_token_id=EOS, pad_token_id=EOS)
    vision = dict(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                  image_size=32, patch_size=16, hidden_act="quick_gelu")
    return CLIPSegConfig(text_config=text, vision_config=vision, projection_dim=4, extract_layers=[0, 1],
                         reduce_dim=4, decoder_num_attention_heads=2, decoder_intermediate_size=8,
                         conditional_layer=0, use_complex_transposed_convolution=True)


def o1_init(model):
    """O(1) activations (the default 0.02 init leaves the towers nearly
    linear), as gen_clipseg_fixtures.py does."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                conv_out = "transposed_convolution.2" in name or "transposed_convolution.4" in name
                fan_in = p.shape[0] if conv_out else p[0].numel()
                p.normal_(0.0, 1.0 / math.sqrt(fan_in))
            elif "norm" in name and name.endswith("weight"):
                p.normal_(1.0, 0.1)
            elif name.endswith("class_embedding"):
                p.normal_(0.0, 1.0)
            else:
                p.normal_(0.0, 0.1)
        for name, p in model.named_parameters():
            if "embedding.weight" in name and "patch" not in name:
                p.normal_(0.0, 0.5)


def save_bin(model, folder):
    """save_pretrained(safe_serialization=False) into a fresh folder, keeping
    pytorch_model.bin and config.json; checks the format."""
    tmp = tempfile.mkdtemp()
    model.save_pretrained(tmp, safe_serialization=False)
    names = sorted(os.listdir(tmp))
    assert names == ["config.json", "pytorch_model.bin"], names
    with open(os.path.join(tmp, "pytorch_model.bin"), "rb") as f:
        assert f.read(4) == b"PK\x03\x04", "not torch.save's zip format"
    back = torch.load(os.path.join(tmp, "pytorch_model.bin"), map_location="cpu", weights_only=True)
    for k, v in model.state_dict().items():
        if k in back:
            assert back[k].dtype == v.dtype and torch.equal(back[k], v), k
    os.makedirs(folder, exist_ok=True)
    for n in names:
        shutil.copy(os.path.join(tmp, n), os.path.join(folder, n))
        os.chmod(os.path.join(folder, n), 0o644)
    shutil.rmtree(tmp)
    print(folder, {n: os.path.getsize(os.path.join(folder, n)) for n in names})


def micro():
    torch.manual_seed(4321)
    cfg = micro_config()
    model = CLIPSegForImageSegmentation(cfg).eval()
    o1_init(model)
    save_bin(model, os.path.join(FIX, "clipseg_bin"))

    # The reference: the same float32 weights, run in float64.
    ref = CLIPSegForImageSegmentation(cfg).eval().double()
    ref.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    lens = [2, 6, 4]
    P, L = len(lens), max(lens) + 2
    ids = torch.full((P, L), EOS, dtype=torch.long)
    mask = torch.zeros((P, L), dtype=torch.long)
    for i, n in enumerate(lens):
        ids[i, 0] = BOS
        ids[i, 1:1 + n] = torch.randint(0, BOS, (n,))
        ids[i, 1 + n] = EOS
        mask[i, :n + 2] = 1
    eos = (ids == EOS).int().argmax(dim=-1)
    pixels = torch.randn(1, 3, S, S).float()
    # transformers 4 builds its causal mask in the default dtype.
    torch.set_default_dtype(torch.float64)
    with torch.no_grad():
        logits = ref(input_ids=ids, attention_mask=mask, pixel_values=pixels.double().expand(P, -1, -1, -1),
                     interpolate_pos_encoding=True).logits
    torch.set_default_dtype(torch.float32)
    path = os.path.join(FIX, "clipseg_bin_expect.safetensors")
    save_file({"input.pixel_values": pixels.contiguous(), "input.ids": ids.int().contiguous(),
               "input.eos": eos.int().contiguous(), "expect.logits": logits.float().contiguous()}, path,
              metadata={"generator": "tests/nn/gen_clipseg_bin_fixtures.py",
                        "transformers": transformers.__version__})
    os.chmod(path, 0o644)
    print(path, os.path.getsize(path), "logits", tuple(logits.shape))


def bf16():
    with open(os.path.join(FIX, "clipseg_plain_config.json")) as f:
        cfg = CLIPSegConfig.from_dict(json.load(f))
    model = CLIPSegForImageSegmentation(cfg).eval()
    sd = {k: v for k, v in load_file(os.path.join(FIX, "clipseg_plain.safetensors")).items()
          if not k.startswith(("input.", "expect.")) and v.dtype.is_floating_point}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing), (missing, unexpected)
    save_bin(model.to(torch.bfloat16), os.path.join(FIX, "clipseg_bf16"))


if __name__ == "__main__":
    assert transformers.__version__.startswith("4."), \
        f"transformers {transformers.__version__} writes safetensors only: run with transformers 4"
    micro()
    bf16()
