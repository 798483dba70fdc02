"""test_checkpoint_torch.py — an Ember checkpoint continues in PyTorch
(issue 11, item 1): scripts/ember_checkpoint.py turns it into the
{'model', 'optimizer', 'scheduler'} dicts, which the reference model
(bench/torch_vit.py, strict=True), torch.optim.AdamW and MultiStepLR load;
each parameter's moments and step sit on the parameter of their index in
model.parameters() (an AdamW step runs on them), the learning rate and the
schedule's position are the run's, and the command-line form writes a file
torch.load(weights_only=True) reads.

It needs torch, which CI does not have: it runs with the current Python
when torch imports there, else with $EMBER_TORCH_PYTHON (a Python with
torch and safetensors, e.g. /tmp/tv/bin/python), and is skipped otherwise,
saying so."""
import os
import subprocess
import sys
import textwrap

import pytest

from ember_testenv import ROOT, SLOW
from protocol_util import run_ok, write_cifar_archive

LONG = 120 * SLOW


def torch_python():
    try:
        import torch  # noqa: F401
        return sys.executable
    except ImportError:
        pass
    exe = os.environ.get("EMBER_TORCH_PYTHON")
    if exe and subprocess.run([exe, "-c", "import torch, safetensors"],
                              capture_output=True).returncode == 0:
        return exe
    return None


CHECK = textwrap.dedent("""
    import json, sys
    import torch
    sys.path[:0] = [sys.argv[1] + "/scripts", sys.argv[1] + "/bench"]
    from ember_checkpoint import load, main
    from torch_vit import ViT, config_from_metadata
    ck = load(sys.argv[2])
    model = ViT(**config_from_metadata(ck["metadata"]))
    model.load_state_dict(ck["model"], strict=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1.0, weight_decay=0.0)
    opt.load_state_dict(ck["optimizer"])
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[99])
    sched.load_state_dict(ck["scheduler"])
    t = int(ck["ember"]["train_state"]["t"])
    params = list(model.parameters())
    assert len(ck["optimizer"]["state"]) == len(params)
    before = {}
    for i, p in enumerate(params):
        st = opt.state[p]
        assert st["exp_avg"].shape == p.shape and st["exp_avg_sq"].shape == p.shape, i
        assert st["step"].item() == t and st["step"].shape == torch.Size([]), st["step"]
        before[i] = st["exp_avg"].clone()
    g = opt.param_groups[0]
    assert g["lr"] == 0.001 and g["initial_lr"] == 0.002 and g["betas"] == (0.9, 0.98), g
    assert g["weight_decay"] == 0.05 and g["eps"] == 1e-08, g
    assert sched.last_epoch == ck["epoch"] == 2 and sched.milestones[1] == 1, sched.state_dict()
    assert sched.get_last_lr() == [0.001]
    # one step on the loaded state: each moment belongs to its parameter
    for p in params:
        p.grad = torch.zeros_like(p)
    opt.step(); sched.step()
    for i, p in enumerate(params):
        assert torch.allclose(opt.state[p]["exp_avg"], before[i] * 0.9, rtol=1e-6, atol=0), i
        assert opt.state[p]["step"].item() == t + 1
    assert opt.param_groups[0]["lr"] == 0.001  # no milestone at 3
    assert [h["epoch"] for h in ck["history"]] == [1, 2]
    # the command-line form
    assert main(["x", sys.argv[2], sys.argv[3]]) == 0
    back = torch.load(sys.argv[3], weights_only=True)
    assert sorted(back) == ["epoch", "history", "model", "optimizer", "scheduler"]
    assert torch.equal(back["model"]["pos_embed"], ck["model"]["pos_embed"])
    print("ok", t)
""")


def test_checkpoint_loads_into_torch(kc, tmp_path):
    exe = torch_python()
    if not exe:
        pytest.skip("torch is not importable here (CI has no torch): set EMBER_TORCH_PYTHON to a "
                    "Python with torch and safetensors to run this test")
    archive = write_cifar_archive(tmp_path / "c.tar.gz", n_train=64, n_test=16)
    ckpt = tmp_path / "run.ckpt"
    run_ok(kc, f"tr = cifar10('train', root={archive!r}); m = vit(dim=16, heads=2, layers=1, "
               "device='cpu'); fit(m, tr, epochs=2, batch_size=16, live=false, "
               "optimizer=adamw(lr=2e-3, betas=[0.9, 0.98], weight_decay=0.05), "
               "schedule=multistep(milestones=[1], gamma=0.5), "
               f"checkpoint={str(ckpt)!r})", LONG)
    r = subprocess.run([exe, "-c", CHECK, str(ROOT), str(ckpt), str(tmp_path / "run.pt")],
                       capture_output=True, text=True, timeout=LONG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == "ok 8", r.stdout
