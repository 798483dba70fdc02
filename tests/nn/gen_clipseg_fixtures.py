#!/usr/bin/env python3
"""gen_clipseg_fixtures.py — builds tests/fixtures/clipseg_tiny.safetensors
(and clipseg_tiny_config.json; and clipseg_plain.*, smaller, with the plain
head, two extract layers and FiLM at layer 1; and clipseg_gelu.* and
clipseg_act.*, as small, whose towers run hidden_act 'gelu' / 'relu' /
'gelu_python' instead of quick_gelu) for tests/nn/test_clipseg.c: a tiny, randomly
initialised transformers CLIPSegForImageSegmentation with the architecture
flags of CIDAS/clipseg-rd64-refined (quick_gelu towers, extract layers,
FiLM, post-norm ReLU decoder, complex transposed convolution), run in float64
on a 128x128 input while trained at 64x64 (so the bicubic position-embedding
resize is exercised). Run by hand (needs torch, transformers, safetensors):

    python3 tests/nn/gen_clipseg_fixtures.py [clipseg_gelu ...]

(all of them when no name is given).

With --full DIR it builds instead the full-size architecture of
CIDAS/clipseg-rd64-refined (random weights, 352x352 input, about 600 MB: not
for the repository) as DIR/clipseg_full.safetensors + _config.json, which
test_clipseg checks when EMBER_CLIPSEG_FULL_FIXTURE names that file.

Stored: the model's weights under their checkpoint names (plus an int64
position_ids buffer the loader must skip), input.pixel_values [1, 3, 128,
128], input.ids i32 [P, L], input.eos i32 [P] (first end-of-text token),
expect.logits [P, 128, 128], expect.vision_states [n_extract, T, C] (the
residual stream after each extract layer), and expect.cond [P, projection_dim]. It prints how far PyTorch's own float32
run lands from the float64 reference: the noise floor the C test's tolerance
sits above."""
import argparse
import json
import math
import os

import torch
from safetensors.torch import save_file
from transformers import CLIPSegConfig, CLIPSegForImageSegmentation

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures")

EOS, BOS = 63, 62


def tiny_config():
    text = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=16, hidden_act="quick_gelu",
                layer_norm_eps=1e-5, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=EOS)
    vision = dict(hidden_size=48, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
                  image_size=64, patch_size=16, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    cfg = CLIPSegConfig(text_config=text, vision_config=vision, projection_dim=24,
                        extract_layers=[1, 2, 3], reduce_dim=16, decoder_num_attention_heads=2,
                        decoder_intermediate_size=32, conditional_layer=0,
                        use_complex_transposed_convolution=True)
    return cfg, 128, [5, 7, 3], EOS, BOS


def plain_config():
    """Smaller still, with the other head (one plain transposed convolution,
    as the non-refined checkpoints), two extract layers, FiLM at decoder
    layer 1 and a 2x2 -> 4x4 position grid."""
    text = dict(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=8, hidden_act="quick_gelu",
                bos_token_id=30, eos_token_id=31, pad_token_id=31)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                  image_size=32, patch_size=16, hidden_act="quick_gelu")
    cfg = CLIPSegConfig(text_config=text, vision_config=vision, projection_dim=12,
                        extract_layers=[0, 2], reduce_dim=8, decoder_num_attention_heads=2,
                        decoder_intermediate_size=16, conditional_layer=1,
                        use_complex_transposed_convolution=False)
    return cfg, 64, [3, 1], 31, 30


def act_config(text_act, vision_act):
    """The plain fixture's sizes with the refined head, the towers' MLPs
    running text_act and vision_act (config.json's hidden_act), and
    decoder_hidden_act set to 'gelu', which transformers ignores (its
    decoder is ReLU whatever the file says), as Ember must."""
    text = dict(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=8, hidden_act=text_act,
                bos_token_id=30, eos_token_id=31, pad_token_id=31)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                  image_size=32, patch_size=16, hidden_act=vision_act)
    cfg = CLIPSegConfig(text_config=text, vision_config=vision, projection_dim=12,
                        extract_layers=[0, 2], reduce_dim=8, decoder_num_attention_heads=2,
                        decoder_intermediate_size=16, conditional_layer=0,
                        decoder_hidden_act="gelu", use_complex_transposed_convolution=True)
    return cfg, 64, [3, 1], 31, 30


FIXTURES = {
    "clipseg_tiny": tiny_config,
    "clipseg_plain": plain_config,
    # hidden_act 'gelu' (exact erf) in both towers: it once ran as quick_gelu.
    "clipseg_gelu": lambda: act_config("gelu", "gelu"),
    # Different activations per tower ('relu', and 'gelu_python', the
    # same erf GELU written in Python), so a loader that applied one
    # tower's hidden_act to both would fail.
    "clipseg_act": lambda: act_config("relu", "gelu_python"),
}


def full_config():
    """CIDAS/clipseg-rd64-refined's architecture (the library's defaults
    differ: patch 32, plain head)."""
    vision = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                  num_attention_heads=12, image_size=224, patch_size=16, hidden_act="quick_gelu")
    cfg = CLIPSegConfig(vision_config=vision, projection_dim=512, extract_layers=[3, 6, 9],
                        reduce_dim=64, decoder_num_attention_heads=4, decoder_intermediate_size=2048,
                        conditional_layer=0, use_complex_transposed_convolution=True)
    return cfg, 352, [2, 9, 4], 49407, 49406


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", metavar="DIR", help="build the full-size fixture into DIR")
    ap.add_argument("names", nargs="*", help=f"the fixtures to (re)build: {', '.join(FIXTURES)} "
                                               "(default: all)")
    args = ap.parse_args()
    for name in args.names:
        if name not in FIXTURES:
            ap.error(f"unknown fixture {name!r}; known: {', '.join(FIXTURES)}")
    if args.full:
        build(full_config(), args.full, "clipseg_full")
    else:
        for name in args.names or FIXTURES:
            build(FIXTURES[name](), OUT, name)


def build(config, out_dir, stem):
    torch.manual_seed(1234)
    cfg, S, lens, eos_id, bos_id = config
    vocab = cfg.text_config.vocab_size
    model = CLIPSegForImageSegmentation(cfg).eval()
    # Re-initialise with O(1) activations: the default 0.02 init leaves the
    # towers nearly linear and the test would not see a wrong nonlinearity.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel() if "transposed_convolution.2" not in name and \
                    "transposed_convolution.4" not in name else p.shape[0]
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
    model = model.double()

    P = len(lens)  # lens: tokens between <bos> and <eos>
    L = max(lens) + 2
    ids = torch.full((P, L), eos_id, dtype=torch.long)
    mask = torch.zeros((P, L), dtype=torch.long)
    for i, n in enumerate(lens):
        ids[i, 0] = bos_id
        ids[i, 1:1 + n] = torch.randint(0, min(bos_id, eos_id), (n,))
        ids[i, 1 + n] = eos_id
        mask[i, :n + 2] = 1
    eos = (ids == eos_id).int().argmax(dim=-1)
    assert vocab > max(bos_id, eos_id)

    pixels = torch.randn(1, 3, S, S, dtype=torch.float64)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, pixel_values=pixels.expand(P, -1, -1, -1),
                    interpolate_pos_encoding=True)
        logits = out.logits
        vis = model.clip.vision_model(pixel_values=pixels, output_hidden_states=True,
                                      interpolate_pos_encoding=True)
        states = torch.stack([vis.hidden_states[i + 1][0] for i in cfg.extract_layers])
        cond = model.get_conditional_embeddings(batch_size=P, input_ids=ids, attention_mask=mask)
        m32 = CLIPSegForImageSegmentation(cfg).eval()
        m32.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
        logits32 = m32(input_ids=ids, attention_mask=mask,
                       pixel_values=pixels.float().expand(P, -1, -1, -1),
                       interpolate_pos_encoding=True).logits

    tensors = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()
               if v.dtype.is_floating_point}
    tensors["clip.text_model.embeddings.position_ids"] = torch.arange(
        cfg.text_config.max_position_embeddings, dtype=torch.int64)[None]
    tensors["input.pixel_values"] = pixels.float().contiguous()
    tensors["input.ids"] = ids.int().contiguous()
    tensors["input.eos"] = eos.int().contiguous()
    tensors["expect.logits"] = logits.float().contiguous()
    tensors["expect.vision_states"] = states.float().contiguous()
    tensors["expect.cond"] = cond.float().contiguous()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, stem + ".safetensors")
    save_file(tensors, path, metadata={"generator": "tests/nn/gen_clipseg_fixtures.py"})
    os.chmod(path, 0o644)  # save_file leaves its temporary file's 0600
    with open(os.path.join(out_dir, stem + "_config.json"), "w") as f:
        json.dump(cfg.to_dict(), f, indent=1, sort_keys=True, default=str)
    d = (logits32.double() - logits).abs().max().item()
    print(stem, "logits", tuple(logits.shape), "range", logits.min().item(), logits.max().item(),
          "f32 vs f64 max abs diff", d)


if __name__ == "__main__":
    main()
