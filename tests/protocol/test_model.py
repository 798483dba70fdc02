"""test_model.py — models and training settings through the real kernel:
vit() and its summary (text and HTML), attributes and parameters(), every
argument check (and that an error leaves the session's variables alone), the
one-time note that models are on the CPU, both initialisation schemes as
saved, save() / load_model() round trips read back with the Python
`safetensors` package, PyTorch-style state_dicts (prefixed, no metadata)
loaded exactly and only with heads= given, compatibility with the reference
PyTorch model bench/torch_vit.py (its committed state dict and key manifest,
tests/fixtures/vit_ref_*; a real torch round trip when torch is installed),
load_model's errors, and adamw() / multistep() / cross_entropy()."""
import json
import math
import re
import sys

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from ember_testenv import ROOT
from protocol_util import run, start, stop

FIXTURES = ROOT / "tests" / "fixtures"
REF_STATE = FIXTURES / "vit_ref_state_dict.safetensors"
REF_KEYS = FIXTURES / "vit_ref_keys.json"

BLOCK_PARTS = [
    "norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
    "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
    "mlp.fc2.weight", "mlp.fc2.bias",
]


def vit_shapes(image=32, patch=4, ch=3, dim=384, layers=8, hidden=None, classes=10):
    """The parameter names and shapes of the ViT, in PyTorch's order (the
    reference the summary and the saved files are checked against)."""
    hidden = 4 * dim if hidden is None else hidden
    t = (image // patch) ** 2
    shapes = {"patch_embed.weight": (dim, ch, patch, patch), "patch_embed.bias": (dim,),
              "pos_embed": (1, t, dim)}
    for i in range(layers):
        b = f"blocks.{i}."
        shapes.update({
            b + "norm1.weight": (dim,), b + "norm1.bias": (dim,),
            b + "attn.qkv.weight": (3 * dim, dim), b + "attn.qkv.bias": (3 * dim,),
            b + "attn.proj.weight": (dim, dim), b + "attn.proj.bias": (dim,),
            b + "norm2.weight": (dim,), b + "norm2.bias": (dim,),
            b + "mlp.fc1.weight": (hidden, dim), b + "mlp.fc1.bias": (hidden,),
            b + "mlp.fc2.weight": (dim, hidden), b + "mlp.fc2.bias": (dim,),
        })
    shapes.update({"norm.weight": (dim,), "norm.bias": (dim,), "head.weight": (classes, dim),
                   "head.bias": (classes,)})
    return shapes


def count(shapes):
    return sum(math.prod(s) for s in shapes.values())


def cell(kc, code, timeout=60):
    """Runs code that must succeed: (text/plain result, text/html result,
    stdout, stderr, reply content)."""
    reply, msgs = run(kc, code, timeout=timeout)
    errs = [m["content"] for m in msgs if m["msg_type"] == "error"]
    assert reply["content"]["status"] == "ok", (code, errs)
    text = html = None
    out = err = ""
    for m in msgs:
        if m["msg_type"] == "execute_result":
            text = m["content"]["data"].get("text/plain")
            html = m["content"]["data"].get("text/html")
        elif m["msg_type"] == "stream":
            if m["content"]["name"] == "stdout":
                out += m["content"]["text"]
            else:
                err += m["content"]["text"]
    return text, html, out, err, reply["content"]


def value(kc, expr):
    return cell(kc, expr)[0]


def error(kc, code):
    """Runs code that must fail: (ename, evalue)."""
    reply, msgs = run(kc, code, timeout=60)
    assert reply["content"]["status"] == "error", code
    return reply["content"]["ename"], reply["content"]["evalue"]


def q(path):
    return repr(str(path))


TINY = "vit(dim=32, layers=2, heads=2, device='cpu')"


# ---- vit() and its summary ---------------------------------------------------

def test_default_vit_params_and_first_line(kc):
    text, html, _, _, _ = cell(kc, "m = vit(device='cpu')\nm")
    first = text.splitlines()[0]
    assert first == ("ViT(image_size=32, patch_size=4, dim=384, heads=8, layers=8, mlp_ratio=4, "
                     "classes=10, dropout=0.1)  14,243,722 parameters, cpu, fp32")
    assert count(vit_shapes()) == 14_243_722
    assert value(kc, "m.params") == "14243722"
    assert "blocks.0-7 (each)" in text and "1,774,464" in text
    assert html.startswith("<table") and "14,243,722" in html
    cell(kc, "m = none")  # free the 228 MB now


CPU_NOTE = ("No usable GPU was found, so models are on the CPU (said once per session; "
            "device='cuda' tells why).\n")


def test_auto_device_says_once_per_session_where_models_go(tmp_path):
    # a kernel of its own: the note belongs to the session's first model
    km, kc = start()
    try:
        text, _, _, err, _ = cell(kc, "a = vit(dim=16, heads=2, layers=1)\na")
        if value(kc, "a.device") == "'cuda'":
            assert err == "" and text.splitlines()[0].endswith("cuda, bf16")
            return
        assert text.splitlines()[0].endswith("cpu, fp32")
        assert err == CPU_NOTE  # plain words, no driver or loader message
        p = tmp_path / "a.safetensors"
        _, _, _, err, _ = cell(kc, f"b = vit(dim=16, heads=2, layers=1)\nsave(b, {q(p)})\n"
                                   f"c = load_model({q(p)})\nd = vit(dim=8, heads=2, layers=1)")
        assert err == "", "said again"
        assert value(kc, "[b.device, c.device, d.device]") == "['cpu', 'cpu', 'cpu']"
        # the details are for whoever asks for the GPU by name
        ename, evalue = error(kc, "vit(device='cuda')")
        assert ename == "RuntimeError"
        assert evalue.startswith("vit: device='cuda' but no GPU is usable (") and len(evalue) > 60
    finally:
        stop(km, kc)


def test_tiny_vit_summary_table(kc):
    text, html, _, _, _ = cell(kc, f"t = {TINY}\nt")
    lines = text.splitlines()
    assert lines[0] == ("ViT(image_size=32, patch_size=4, dim=32, heads=2, layers=2, mlp_ratio=4, "
                        "classes=10, dropout=0.1)  29,418 parameters, cpu, fp32")
    assert count(vit_shapes(dim=32, layers=2)) == 29_418
    rows = {re.split(r"\s{2,}", ln.strip())[0]: re.split(r"\s{2,}", ln.strip()) for ln in lines[3:]}
    assert rows["patch_embed"][1:] == ["Conv2d(3, 32, 4, stride=4)", "[B, 64, 32]", "1,568"]
    assert rows["pos_embed"][-2:] == ["[B, 64, 32]", "2,048"]
    block = 64 + 4224 + 64 + 8352
    assert rows["blocks.0-1 (each)"][-2:] == ["[B, 64, 32]", f"{block:,}"]
    assert rows["attn"][1:] == ["Attention(2 heads of 16)", "[B, 64, 32]", "4,224"]
    assert rows["mlp"][1:] == ["MLP(32 -> 128 -> 32, GELU)", "[B, 64, 32]", "8,352"]
    assert rows["norm"][-2:] == ["[B, 64, 32]", "64"]
    assert rows["pool"][-2:] == ["[B, 32]", "0"]
    assert rows["head"][1:] == ["Linear(32, 10)", "[B, 10]", "330"]
    assert rows["Total"][-1] == "29,418"
    # the parts of a block are indented under it
    assert any(ln.startswith("  norm1 ") for ln in lines)
    # the numbers of the table add up to the total
    assert 1568 + 2048 + 2 * block + 64 + 330 == 29_418
    assert lines[-1] == "B is the batch size. Not trained yet."
    # HTML: the same table, escaped
    assert html.startswith('<table class="ember-table ember-model">')
    assert "<caption" in html and "29,418 parameters, cpu, fp32</caption>" in html
    assert "<td style=\"text-align:left\">blocks.0-1 (each)</td>" in html
    assert "MLP(32 -&gt; 128 -&gt; 32, GELU)" in html
    assert html.count("<tr>") == 1 + 10 + 2  # header, rows, total and note
    assert html.endswith("</table>")


def test_single_block_and_other_sizes(kc):
    text = value(kc, "vit(image_size=28, patch_size=7, channels=1, classes=5, dim=24, heads=3, "
                     "layers=1, mlp_ratio=2.5, dropout=0, device='cpu')")
    first = text.splitlines()[0]
    n = count(vit_shapes(image=28, patch=7, ch=1, dim=24, layers=1, hidden=60, classes=5))
    assert first == ("ViT(image_size=28, patch_size=7, dim=24, heads=3, layers=1, mlp_ratio=2.5, "
                     f"classes=5, dropout=0.0, channels=1)  {n:,} parameters, cpu, fp32")
    assert "\nblocks.0 " in text and "[B, 16, 24]" in text and "Conv2d(1, 24, 7, stride=7)" in text


def test_attributes_and_parameters(kc):
    cell(kc, f"t = {TINY}")
    expect = {"params": "29418", "device": "'cpu'", "precision": "'fp32'", "steps": "0",
              "image_size": "32", "patch_size": "4", "dim": "32", "heads": "2", "layers": "2",
              "mlp_ratio": "4", "classes": "10", "dropout": "0.1", "channels": "3", "seed": "0",
              "init": "'torch'"}
    for k, v in expect.items():
        assert value(kc, f"t.{k}") == v, k
    assert value(kc, "t.config") == ("'ViT(image_size=32, patch_size=4, dim=32, heads=2, layers=2, "
                                     "mlp_ratio=4, classes=10, dropout=0.1)'")
    assert value(kc, "type(t)") == "'model'"
    _, _, out, _, _ = cell(kc, "for_p = t.parameters()\nprint(len(for_p))\nprint(for_p[0])\n"
                               "print(for_p[len(for_p) - 1])")
    shapes = vit_shapes(dim=32, layers=2)
    assert out.splitlines() == [str(len(shapes)), "['patch_embed.weight', '[32, 3, 4, 4]', 1536]",
                                "['head.bias', '[10]', 10]"]
    ename, evalue = error(kc, "t.nonsense")
    assert ename == "AttributeError"
    # the same seed gives the same model, another seed another one
    _, _, out, _, _ = cell(kc, "print(repr(vit(dim=32, layers=2, heads=2, device='cpu', seed=3)) "
                               "== repr(t))")
    assert out.strip() == "true"


@pytest.mark.parametrize("code, ename, message", [
    ("vit(dim=-3)", "ValueError", "vit: dim must be a positive integer (at most 65536), got -3"),
    ("vit(classes=10**9)", "ValueError",
     "vit: classes must be a positive integer (at most 1048576), got 1000000000"),
    ("vit(patch_size=8192)", "ValueError",
     "vit: patch_size must be a positive integer (at most 4096), got 8192"),
    ("vit(init='xavier')", "ValueError", "vit: init must be 'torch' or 'timm', got 'xavier'"),
    ("vit(init=1)", "TypeError", "vit: init must be"),
    ("vit(dim=100)", "ValueError", "vit: dim 100 is not divisible by heads 8"),
    ("vit(patch_size=5)", "ValueError", "vit: patch_size 5 does not divide image_size 32"),
    ("vit(image_size=0)", "ValueError", "vit: image_size must be a positive integer (at most 4096), got 0"),
    ("vit(image_size='32')", "TypeError", "vit: image_size must be a positive integer (at most 4096), got '32'"),
    ("vit(heads=0)", "ValueError", "vit: heads must be a positive integer (at most 65536), got 0"),
    ("vit(layers=2.5)", "TypeError", "vit: layers must be a positive integer (at most 1024), got 2.5"),
    ("vit(classes=0)", "ValueError", "vit: classes must be a positive integer (at most 1048576), got 0"),
    ("vit(dropout=1)", "ValueError", "vit: dropout must be a number in [0, 1), got 1"),
    ("vit(dropout=-0.1)", "ValueError", "vit: dropout must be a number in [0, 1), got -0.1"),
    ("vit(mlp_ratio=0)", "ValueError", "vit: mlp_ratio must be a positive number, got 0"),
    ("vit(dim=8, heads=2, mlp_ratio=0.1)", "ValueError",
     "vit: mlp_ratio 0.1 gives an MLP of 0 units for dim 8; make it larger"),
    ("vit(mlp_ratio=1e6)", "ValueError", "vit: mlp_ratio 1e+06 gives an MLP of 384000000 units"),
    ("vit(channels=0)", "ValueError", "vit: channels must be a positive integer (at most 64), got 0"),
    ("vit(seed=-1)", "ValueError", "vit: seed must be a non-negative integer, got -1"),
    ("vit(device='tpu')", "ValueError", "vit: device must be 'auto', 'cpu' or 'cuda', got 'tpu'"),
    ("vit(precision='fp16')", "ValueError", "vit: precision must be 'auto', 'fp32' or 'bf16', got 'fp16'"),
    ("vit(device='cpu', precision='bf16')", "ValueError",
     "vit: precision='bf16' (mixed precision) needs a GPU; use precision='fp32'"),
    ("vit(dim=65536, layers=1024, device='cpu')", "MemoryError", "vit: a model of "),
    ("vit(depth=3)", "TypeError", "depth"),
])
def test_vit_argument_errors(kc, code, ename, message):
    cell(kc, "keep = [1, 'two']\nsmall = vit(dim=8, heads=2, layers=1, device='cpu')")
    got_ename, evalue = error(kc, code)
    assert got_ename == ename
    assert message in evalue
    assert value(kc, "keep") == "[1, 'two']"
    assert value(kc, "small.params") == str(count(vit_shapes(dim=8, layers=1)))


def test_error_mid_cell_keeps_earlier_statements(kc):
    ename, _ = error(kc, "before = 7\nbroken = vit(heads=7)")
    assert ename == "ValueError"
    assert value(kc, "before") == "7"
    assert error(kc, "broken")[0] == "NameError"


def test_cuda_without_gpu_is_an_error(kc):
    if value(kc, "vit(dim=8, heads=2, layers=1).device") == "'cuda'":
        pytest.skip("a GPU is usable here")
    ename, evalue = error(kc, "vit(device='cuda')")
    assert ename == "RuntimeError"
    assert evalue.startswith("vit: device='cuda' but no GPU is usable (")
    ename, evalue = error(kc, "vit(dim=8, heads=2, layers=1, precision='bf16')")
    assert ename == "ValueError" and "needs a GPU" in evalue


def test_help_shows_signature_and_docstring(kc):
    _, _, _, _, reply = cell(kc, "help(vit)")
    page = "".join(p["data"]["text/plain"] for p in reply.get("payload", []))
    assert "vit(image_size=32, patch_size=4, classes=10, dim=384, heads=8, layers=8" in page
    assert "seed=0, init='torch', device='auto'" in page
    assert "A Vision Transformer for image classification" in page
    assert "init: 'torch' (the reference PyTorch model's own layer defaults" in page
    _, _, _, _, reply = cell(kc, "help(load_model)")
    page = "".join(p["data"]["text/plain"] for p in reply.get("payload", []))
    assert "load_model(path, heads=none, dropout=none, device='auto', precision='auto')" in page
    assert "needs heads=" in page and "else 0.1" in page


# ---- save / load_model ---------------------------------------------------------

def test_save_load_round_trip(kc, tmp_path):
    a, b = tmp_path / "m.safetensors", tmp_path / "m2.safetensors"
    cell(kc, f"rt = vit(dim=32, layers=2, heads=2, mlp_ratio=2.5, dropout=0.2, seed=5, "
             f"device='cpu')\nsave(rt, {q(a)})\nrt.save({q(b)})")
    shapes = vit_shapes(dim=32, layers=2, hidden=80)
    with safe_open(str(a), framework="numpy") as f:
        names = list(f.keys())
        meta = f.metadata()
        got = {k: tuple(f.get_tensor(k).shape) for k in names}
    assert got == shapes
    assert got["head.weight"] == (10, 32)
    assert meta["format"] == "pt" and meta["ember.model"] == "vit" and meta["ember.heads"] == "2"
    assert meta["ember.dropout"] == "0.2" and meta["ember.init"] == "torch"
    wa, wb = load_file(str(a)), load_file(str(b))
    assert all(v.dtype == np.float32 for v in wa.values())
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)  # the method and the builtin agree
    # PyTorch's layer defaults (tests/engine/test_vit_init.c checks them in
    # depth): LayerNorm 1/0, weights and biases uniform in +-1/sqrt(fan_in)
    assert np.all(wa["blocks.0.norm1.weight"] == 1) and np.all(wa["blocks.0.norm1.bias"] == 0)
    for name, fan_in in [("blocks.1.mlp.fc1.weight", 32), ("blocks.1.mlp.fc2.bias", 80),
                         ("head.bias", 32), ("patch_embed.weight", 48)]:
        x, bound = wa[name], 1 / math.sqrt(fan_in)
        assert np.abs(x).max() <= bound and np.all(x != 0), name
    assert abs(wa["blocks.1.mlp.fc1.weight"].std() - 1 / math.sqrt(3 * 32)) < 0.01

    text, _, _, err, _ = cell(kc, f"back = load_model({q(a)}, device='cpu')\nback")
    assert text == value(kc, "rt")
    assert err == ""
    for attr in ("params", "heads", "dropout", "mlp_ratio", "seed", "config"):
        assert value(kc, f"back.{attr}") == value(kc, f"rt.{attr}"), attr
    # saving the loaded model gives the same tensors, bit for bit
    c = tmp_path / "m3.safetensors"
    cell(kc, f"save(back, {q(c)})")
    wc = load_file(str(c))
    assert wc.keys() == wa.keys() and all(np.array_equal(wa[k], wc[k]) for k in wa)


def test_timm_init_is_kept_and_saved(kc, tmp_path):
    p = tmp_path / "timm.safetensors"
    text, _, _, _, _ = cell(kc, f"ti = vit(dim=32, layers=2, heads=2, seed=5, init='timm', "
                                f"device='cpu')\nsave(ti, {q(p)})\nti")
    assert text.splitlines()[0].startswith("ViT(image_size=32, patch_size=4, dim=32, heads=2, "
                                           "layers=2, mlp_ratio=4, classes=10, dropout=0.1, "
                                           "init='timm')  29,418 parameters")
    with safe_open(str(p), framework="numpy") as f:
        assert f.metadata()["ember.init"] == "timm"
    w = load_file(str(p))
    # timm: zero Linear biases, N(0, 0.02) Linear weights, the patch Conv2d as PyTorch's
    assert np.all(w["head.bias"] == 0) and np.all(w["blocks.0.attn.qkv.bias"] == 0)
    assert 0.018 < w["blocks.1.mlp.fc1.weight"].std() < 0.022
    assert 0 < np.abs(w["patch_embed.bias"]).max() <= 1 / math.sqrt(48)
    # the same seed with the other scheme gives other weights
    cell(kc, f"save(vit(dim=32, layers=2, heads=2, seed=5, device='cpu'), {q(tmp_path / 't.st')})")
    assert not np.array_equal(load_file(str(tmp_path / "t.st"))["head.weight"], w["head.weight"])
    # a loaded model remembers the scheme its weights started from
    assert value(kc, f"load_model({q(p)}, device='cpu').init") == "'timm'"


def torch_style(dim=32, layers=2, hidden=None, classes=10, seed=1, prefix="", drop=()):
    rng = np.random.default_rng(seed)
    return {prefix + k: rng.standard_normal(s).astype(np.float32)
            for k, s in vit_shapes(dim=dim, layers=layers, hidden=hidden, classes=classes).items()
            if k not in drop}


def test_load_pytorch_state_dict(kc, tmp_path):
    p = tmp_path / "torch.safetensors"
    w = torch_style(prefix="module.")
    w["module.cls_token"] = np.zeros((1, 1, 32), np.float32)  # not part of this ViT
    save_file(w, str(p), metadata={"format": "pt"})
    text, _, _, err, _ = cell(kc, f"tm = load_model({q(p)}, heads=4, device='cpu')\ntm")
    assert text.splitlines()[0] == ("ViT(image_size=32, patch_size=4, dim=32, heads=4, layers=2, "
                                    "mlp_ratio=4, classes=10, dropout=0.1)  29,418 parameters, cpu, fp32")
    assert "ignored 1 tensor the ViT does not use: 'module.cls_token'" in err
    out = tmp_path / "again.safetensors"
    cell(kc, f"save(tm, {q(out)})")
    back = load_file(str(out))
    assert all(np.array_equal(back[k], w["module." + k]) for k in back)
    # what started the weights is unknown: no init attribute, none in the file
    assert value(kc, "repr(tm.init)") == "'none'"
    with safe_open(str(out), framework="numpy") as f:
        assert "ember.init" not in f.metadata() and f.metadata()["ember.heads"] == "4"
    # Without metadata the heads cannot be known: every divisor of the width
    # loads and runs, only one computes what was trained. No guess.
    cell(kc, "keep = 'intact'")
    ename, evalue = error(kc, f"guess = load_model({q(p)}, device='cpu')")
    assert ename == "ValueError"
    assert "does not record the number of attention heads" in evalue
    assert "pass heads=" in evalue and "the width is 32, so one of 1, 2, 4, 8, 16 or 32" in evalue
    assert error(kc, "guess")[0] == "NameError" and value(kc, "keep") == "'intact'"
    # dropout: the argument, else 0.1
    assert value(kc, f"load_model({q(p)}, heads=2, dropout=0.3, device='cpu').dropout") == "0.3"
    assert value(kc, f"load_model({q(p)}, heads=2, device='cpu').dropout") == "0.1"


@pytest.mark.parametrize("kind, ename, message", [
    ("missing", "FileNotFoundError", "load_model: no file '"),
    ("relative", "FileNotFoundError", "(relative paths start in the kernel's working directory"),
    ("folder", "IsADirectoryError", "is a folder"),
    ("garbage", "ValueError", "x.safetensors: corrupt safetensors header"),
    ("empty", "ValueError", "x.safetensors is empty"),
    ("not_vit", "ValueError", "does not hold a ViT: missing 'patch_embed.weight', 'patch_embed.bias', "
                              "'pos_embed', 'norm.weight', 'norm.bias', 'head.weight' and 1 more (it has 1 tensor: 'foo')"),
    ("incomplete", "ValueError", "is not a complete ViT of 2 blocks: missing 'blocks.1.mlp.fc2.bias'"),
    ("bad_shape", "ValueError", "head.weight should be [classes, 32]"),
    ("bad_heads", "ValueError",
     "heads=8 does not divide the width 30 of the model in '"),
    ("no_heads", "ValueError", "does not record the number of attention heads (it has no Ember "
                               "metadata, as a PyTorch state_dict saved with safetensors); pass "
                               "heads=, the number the model was trained with: the width is 30, "
                               "so one of 1, 2, 3, 5, 6, 10, 15 or 30"),
    ("heads_conflict", "ValueError", "was saved with heads=2, not 4"),
    ("wrong_dtype", "ValueError", "dtype \"F64\" is not supported"),
    ("gap", "ValueError", "is not a complete ViT of 3 blocks: missing 'blocks.1.norm1.weight', "
                          "'blocks.1.norm1.bias', 'blocks.1.attn.qkv.weight', "
                          "'blocks.1.attn.qkv.bias', 'blocks.1.attn.proj.weight', "
                          "'blocks.1.attn.proj.bias' and 6 more"),
    ("wrong_inner_shape", "ValueError",
     "tensor 'blocks.0.attn.qkv.weight' is [96, 31] f32 cpu in the file, expected [96, 32]"),
])
def test_load_model_errors(kc, tmp_path, kind, ename, message):
    p = tmp_path / "x.safetensors"
    code = f"load_model({q(p)}, device='cpu')"
    if kind == "relative":
        code = "load_model('no_such_model.safetensors')"
    elif kind == "folder":
        code = f"load_model({q(tmp_path)})"
    elif kind == "garbage":
        p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "not_vit":
        save_file({"foo": np.zeros(3, np.float32)}, str(p))
    elif kind == "incomplete":
        save_file(torch_style(drop=("blocks.1.mlp.fc2.bias",)), str(p))
    elif kind == "bad_shape":
        w = torch_style()
        w["head.weight"] = np.zeros((10, 16), np.float32)
        save_file(w, str(p))
    elif kind == "bad_heads":
        save_file(torch_style(dim=30), str(p))
        code = f"load_model({q(p)}, heads=8, device='cpu')"
    elif kind == "no_heads":
        save_file(torch_style(dim=30), str(p))
    elif kind == "heads_conflict":
        cell(kc, f"save(vit(dim=32, layers=1, heads=2, device='cpu'), {q(p)})")
        code = f"load_model({q(p)}, heads=4, device='cpu')"
    elif kind == "wrong_dtype":
        w = torch_style()
        w["head.bias"] = w["head.bias"].astype(np.float64)
        save_file(w, str(p))
        code = f"load_model({q(p)}, heads=4, device='cpu')"
    elif kind == "gap":
        save_file(torch_style(layers=3, drop=BLOCK1), str(p))
    elif kind == "wrong_inner_shape":
        w = torch_style()
        w["blocks.0.attn.qkv.weight"] = np.zeros((96, 31), np.float32)
        save_file(w, str(p))
        code = f"load_model({q(p)}, heads=4, device='cpu')"
    cell(kc, "keep = 'intact'")
    got, evalue = error(kc, code)
    assert got == ename, evalue
    assert message in evalue
    assert value(kc, "keep") == "'intact'"


BLOCK1 = tuple("blocks.1." + part for part in BLOCK_PARTS)


def test_save_errors_and_other_values(kc, tmp_path):
    cell(kc, "s = vit(dim=8, heads=2, layers=1, device='cpu')")
    ename, evalue = error(kc, f"save(s, {q(tmp_path / 'no' / 'such' / 'm.safetensors')})")
    assert ename == "FileNotFoundError" and "the folder" in evalue and "does not exist" in evalue
    ename, evalue = error(kc, "save(s, '')")
    assert ename == "ValueError" and "path is empty" in evalue
    ename, evalue = error(kc, "save(3, 'x.safetensors')")
    assert ename == "TypeError" and evalue.startswith("save: model must be a model")
    ename, evalue = error(kc, "s.save(5)")
    assert ename == "TypeError" and "path must be a string" in evalue
    # save() of a plot writes its PNG through the plot's own method
    png = tmp_path / "p.png"
    cell(kc, f"save(plot([1, 2, 3]), {q(png)})")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- the reference PyTorch model (bench/torch_vit.py) -------------------------------

def vit_call(cfg, **extra):
    """The vit(...) call of a configuration in the reference class's names."""
    ratio = cfg["mlp_hidden"] / cfg["dim"]
    args = dict(image_size=cfg["image_size"], patch_size=cfg["patch"], channels=cfg["in_chans"],
                dim=cfg["dim"], heads=cfg["heads"], layers=cfg["depth"],
                mlp_ratio=int(ratio) if ratio == int(ratio) else ratio,
                classes=cfg["num_classes"], device="cpu", **extra)
    return "vit(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"


def test_loads_the_reference_models_own_state_dict(kc, tmp_path):
    # safetensors.torch.save_file(model.state_dict()) of bench/torch_vit.py,
    # 3 heads on a width of 24 (tests/fixtures/gen_vit_fixtures.py); the
    # logits are compared with torch's in tests/engine/test_vit_torch_ref.c
    ename, evalue = error(kc, f"load_model({q(REF_STATE)}, device='cpu')")
    assert ename == "ValueError" and "pass heads=" in evalue
    assert "the width is 24, so one of 1, 2, 3, 4, 6, 8, 12 or 24" in evalue
    text, _, _, err, _ = cell(kc, f"ref = load_model({q(REF_STATE)}, heads=3, dropout=0, "
                                  f"device='cpu')\nref")
    assert err == ""  # every tensor used, none missing
    n = count(vit_shapes(image=16, patch=4, dim=24, layers=2, hidden=48, classes=5))
    assert text.splitlines()[0] == ("ViT(image_size=16, patch_size=4, dim=24, heads=3, layers=2, "
                                    f"mlp_ratio=2, classes=5, dropout=0.0)  {n:,} parameters, "
                                    "cpu, fp32")
    out = tmp_path / "again.safetensors"
    cell(kc, f"save(ref, {q(out)})")
    a, b = load_file(str(REF_STATE)), load_file(str(out))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_save_writes_the_reference_state_dict_keys(kc, tmp_path, index):
    """Exactly the key set and shapes of the reference class's state_dict()
    (tests/fixtures/vit_ref_keys.json), which is what torch's
    load_state_dict(strict=True) checks."""
    entry = json.loads(REF_KEYS.read_text())["configs"][index]
    cfg, want = entry["config"], {k: tuple(s) for k, s in entry["state_dict"]}
    p = tmp_path / "m.safetensors"
    cell(kc, f"mm = {vit_call(cfg)}\nsave(mm, {q(p)})\nmm_names = mm.parameters()", timeout=120)
    with safe_open(str(p), framework="numpy") as f:
        got = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    assert got == want
    # parameters() lists the same names in module order (torch's
    # named_parameters() puts pos_embed, a parameter of the top module, first)
    names = [ln.split("'")[1] for ln in value(kc, "mm_names").split("], [")]
    assert set(names) == set(want) and names[2] == "pos_embed"
    assert [k for k in names if k != "pos_embed"] == [k for k in want if k != "pos_embed"]
    cell(kc, "mm = none")


def test_torch_round_trip(kc, tmp_path):
    """Ember's file into the reference PyTorch model with strict=True and
    torch's own save_file back into Ember, with real torch."""
    try:
        import torch
        from safetensors.torch import load_file as torch_load, save_file as torch_save
    except ImportError as e:
        pytest.skip(f"needs torch and safetensors.torch ({e}); CI has no torch. Run this file "
                    "with a Python that has them to check against the reference model")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from torch_vit import ViT, config_from_metadata
    finally:
        sys.path.pop(0)
    a = tmp_path / "ember.safetensors"
    cell(kc, f"e = vit(image_size=16, patch_size=4, dim=24, heads=3, layers=2, mlp_ratio=2.5, "
             f"classes=7, dropout=0.0, seed=9, device='cpu')\nsave(e, {q(a)})")
    with safe_open(str(a), framework="pt") as f:
        cfg = config_from_metadata(f.metadata())
    model = ViT(**cfg)
    model.load_state_dict(torch_load(str(a)), strict=True)  # raises on any key or shape difference
    sd = model.state_dict()
    assert all(torch.equal(sd[k], v) for k, v in torch_load(str(a)).items())
    # torch's file, written the way a PyTorch user does, back into Ember
    torch.manual_seed(3)
    other = ViT(**cfg)
    b, c = tmp_path / "torch.safetensors", tmp_path / "back.safetensors"
    torch_save(other.state_dict(), str(b))
    _, _, _, err, _ = cell(kc, f"t = load_model({q(b)}, heads={cfg['heads']}, device='cpu')\n"
                               f"save(t, {q(c)})")
    assert err == ""
    again = ViT(**cfg)
    again.load_state_dict(torch_load(str(c)), strict=True)
    ref = other.state_dict()
    assert all(torch.equal(ref[k], v) for k, v in again.state_dict().items())


# ---- optimizer, schedule, loss ------------------------------------------------------

def test_settings_reprs_and_attributes(kc):
    assert value(kc, "adamw()") == "AdamW(lr=0.0003, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.05)"
    assert value(kc, "adamw(lr=1e-3, weight_decay=0, betas=[0.8, 0.99], eps=1e-6)") == \
        "AdamW(lr=0.001, betas=(0.8, 0.99), eps=1e-06, weight_decay=0.0)"
    assert value(kc, "multistep()") == "MultiStepLR(milestones=[50, 75], gamma=0.1)"
    assert value(kc, "multistep(milestones=[], gamma=0.5)") == "MultiStepLR(milestones=[], gamma=0.5)"
    assert value(kc, "cross_entropy()") == "CrossEntropyLoss(label_smoothing=0.0)"
    assert value(kc, "cross_entropy(label_smoothing=0.1)") == "CrossEntropyLoss(label_smoothing=0.1)"
    cell(kc, "o = adamw(lr=0.01)\nsch = multistep(milestones=[3, 10, 20], gamma=0.5)\n"
             "ce = cross_entropy(0.2)")
    assert value(kc, "[o.lr, o.betas, o.eps, o.weight_decay]") == "[0.01, [0.9, 0.999], 1e-08, 0.05]"
    assert value(kc, "[sch.milestones, sch.gamma]") == "[[3, 10, 20], 0.5]"
    assert value(kc, "ce.label_smoothing") == "0.2"
    assert value(kc, "[type(o), type(sch), type(ce)]") == "['optimizer', 'schedule', 'loss']"
    _, _, _, _, reply = cell(kc, "help(adamw)")
    page = "".join(p["data"]["text/plain"] for p in reply.get("payload", []))
    assert "adamw(lr=3e-4, weight_decay=0.05, betas=[0.9, 0.999], eps=1e-8)" in page


@pytest.mark.parametrize("code, ename, message", [
    ("adamw(lr=0)", "ValueError", "adamw: lr must be a positive number, got 0"),
    ("adamw(lr=-1e-3)", "ValueError", "adamw: lr must be a positive number, got -0.001"),
    ("adamw(lr='fast')", "TypeError", "adamw: lr must be a positive number, got 'fast'"),
    ("adamw(lr=true)", "TypeError", "adamw: lr must be a positive number, got true"),
    ("adamw(weight_decay=-0.1)", "ValueError", "adamw: weight_decay must be a number >= 0, got -0.1"),
    ("adamw(betas=[0.9])", "ValueError", "adamw: betas must be a list of two numbers in [0, 1)"),
    ("adamw(betas=0.9)", "TypeError", "adamw: betas must be a list of two numbers in [0, 1)"),
    ("adamw(betas=[0.9, 1])", "ValueError", "adamw: betas[1] must be in [0, 1), got 1"),
    ("adamw(betas=[-0.1, 0.9])", "ValueError", "adamw: betas[0] must be in [0, 1), got -0.1"),
    ("adamw(eps=0)", "ValueError", "adamw: eps must be a positive number, got 0"),
    ("multistep(milestones=[75, 50])", "ValueError",
     "multistep: milestones must be strictly increasing, but 50 follows 75"),
    ("multistep(milestones=[5, 5])", "ValueError", "strictly increasing, but 5 follows 5"),
    ("multistep(milestones=[-1])", "ValueError", "multistep: milestones[0] must be an epoch number"),
    ("multistep(milestones=[1.5])", "TypeError", "multistep: milestones must be a list of at most 32"),
    ("multistep(milestones=50)", "TypeError", "multistep: milestones must be a list"),
    ("multistep(milestones=range(33))", "ValueError",
     "multistep: milestones may hold at most 32 epochs, got 33"),
    ("multistep(gamma=0)", "ValueError", "multistep: gamma must be a positive number, got 0"),
    ("cross_entropy(label_smoothing=1)", "ValueError",
     "cross_entropy: label_smoothing must be a number in [0, 1), got 1"),
    ("cross_entropy(label_smoothing=-0.1)", "ValueError", "got -0.1"),
    ("cross_entropy(smoothing=0.1)", "TypeError", "smoothing"),
])
def test_settings_errors(kc, code, ename, message):
    cell(kc, "keep = 'intact'")
    got, evalue = error(kc, code)
    assert got == ename, evalue
    assert message in evalue
    assert value(kc, "keep") == "'intact'"


def test_milestones_at_the_limit(kc):
    assert value(kc, "multistep(milestones=range(32)).milestones") == str(list(range(32)))
