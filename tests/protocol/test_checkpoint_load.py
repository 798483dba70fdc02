"""test_checkpoint_load.py — load_model() reads what ember_weights_open
reads (issue 11, item 3): torch.save state dicts (.pt) load as their
safetensors twins do (heads= still needed without Ember's metadata), a
nested torch checkpoint that is not a ViT is named as such, a pickle that
asks to run code is refused naming what it asked for, and every message
names the path once."""
from pathlib import Path

from safetensors import safe_open

from ember_testenv import ROOT, SLOW
from protocol_util import printed, run_error, run_ok

LONG = 60 * SLOW
TORCH = ROOT / "tests" / "fixtures" / "torch"


def tensors(path):
    with safe_open(str(path), "np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def test_torch_state_dict_loads_as_its_twin(kc, tmp_path):
    pt, twin = TORCH / "vit_tiny.pt", TORCH / "vit_tiny.safetensors"
    got, msg = run_error(kc, f"load_model({str(pt)!r}, device='cpu')", LONG)
    assert got == "ValueError" and "pass heads=" in msg and "torch.save" in msg, msg
    assert msg.count(str(pt)) == 1, msg
    a, b = tmp_path / "from_pt.safetensors", tmp_path / "from_twin.safetensors"
    run_ok(kc, f"mp = load_model({str(pt)!r}, heads=2, device='cpu'); save(mp, {str(a)!r}); "
               f"mt = load_model({str(twin)!r}, heads=2, device='cpu'); save(mt, {str(b)!r})", LONG)
    assert printed(kc, "mp.config == mt.config, mp.heads, mp.steps", LONG) == "true 2 0"
    ta, tb, want = tensors(a), tensors(b), tensors(twin)
    assert sorted(ta) == sorted(want)
    for k in want:
        assert ta[k].tobytes() == tb[k].tobytes() == want[k].tobytes(), k


def test_nested_and_hostile_torch_files(kc):
    nested = TORCH / "nested.pt"
    got, msg = run_error(kc, f"load_model({str(nested)!r}, heads=2, device='cpu')", LONG)
    assert got == "ValueError" and "does not hold a ViT" in msg and "'model.weight'" in msg, msg
    assert msg.count(str(nested)) == 1, msg
    bad = TORCH / "bad_os_system.pt"
    run_ok(kc, "keep = 'intact'")
    got, msg = run_error(kc, f"bad = load_model({str(bad)!r}, heads=2, device='cpu')", LONG)
    assert got == "ValueError" and "os" in msg and "system" in msg, msg
    assert msg.count(str(bad)) == 1, msg
    assert run_error(kc, "bad")[0] == "NameError" and printed(kc, "keep") == "intact"
