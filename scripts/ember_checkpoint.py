#!/usr/bin/env python3
"""ember_checkpoint.py — an Ember training checkpoint (fit(..., checkpoint=
'run.ckpt') or save(model, 'run.ckpt'); the layout is in
engine/train/checkpoint.h) as PyTorch's dicts, to continue or inspect the
run in PyTorch with the reference model bench/torch_vit.py:

    import sys; sys.path += ['scripts', 'bench']
    from ember_checkpoint import load
    from torch_vit import ViT, config_from_metadata
    ck = load('run.ckpt')
    model = ViT(**config_from_metadata(ck['metadata']))
    model.load_state_dict(ck['model'], strict=True)
    opt = torch.optim.AdamW(model.parameters())      # any hyperparameters:
    opt.load_state_dict(ck['optimizer'])            # the file's replace them
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[])
    sched.load_state_dict(ck['scheduler'])
    start_epoch = ck['epoch']                       # epochs done

or from the command line, a torch.save file of the same dicts (read back
with torch.load(path, weights_only=True)):

    python3 scripts/ember_checkpoint.py run.ckpt run.pt

The tensors are f32 as Ember keeps them: model.<name> (the state_dict
names), optimizer.state.<i>.{exp_avg,exp_avg_sq,step} with i the index in
model.parameters() order. The metadata brings optimizer.param_groups,
scheduler (MultiStepLR's state_dict, milestones as a Counter again), epoch
and history (one dict per finished epoch); ck['ember'] holds Ember's own
stream state and settings, which PyTorch has no place for (its data order
and dropout draws differ from Ember's anyway: a run continued in PyTorch
continues the optimisation, not Ember's exact sequence of batches).
Needs torch and safetensors."""
import collections
import json
import sys


def load(path, device="cpu"):
    """{'model', 'optimizer', 'scheduler', 'epoch', 'history', 'ember',
    'metadata'} of the Ember checkpoint at path."""
    from safetensors import safe_open

    with safe_open(str(path), "pt", device=device) as f:
        meta = f.metadata() or {}
        if meta.get("ember.checkpoint") != "1":
            raise ValueError(f"{path} is not an Ember training checkpoint (no ember.checkpoint "
                             "metadata); plain weights load with safetensors.torch.load_file")
        names = list(f.keys())
        model = collections.OrderedDict()
        state = {}
        for name in names:
            if name.startswith("model."):
                model[name[len("model."):]] = f.get_tensor(name)
            elif name.startswith("optimizer.state."):
                i, key = name[len("optimizer.state."):].split(".", 1)
                state.setdefault(int(i), {})[key] = f.get_tensor(name)
            else:
                raise ValueError(f"{path}: unexpected tensor {name!r}")
    groups = json.loads(meta["optimizer.param_groups"])
    for g in groups:
        g["betas"] = tuple(g["betas"])
    sched = json.loads(meta["scheduler"])
    sched["milestones"] = collections.Counter({int(k): v for k, v in sched["milestones"].items()})
    return {
        "model": model,
        "optimizer": {"state": dict(sorted(state.items())), "param_groups": groups},
        "scheduler": sched,
        "epoch": int(meta["epoch"]),
        "history": json.loads(meta["history"]),
        "ember": {"train_state": json.loads(meta["ember.train_state"]),
                  "fit": json.loads(meta["ember.fit"]) if "ember.fit" in meta else None},
        "metadata": meta,
    }


def main(argv):
    if len(argv) != 3:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        print("usage: ember_checkpoint.py RUN.ckpt OUT.pt", file=sys.stderr)
        return 2
    import torch

    ck = load(argv[1])
    torch.save({k: ck[k] for k in ("model", "optimizer", "scheduler", "epoch", "history")}, argv[2])
    print(f"{argv[2]}: model ({len(ck['model'])} tensors), optimizer (step "
          f"{int(ck['optimizer']['state'][0]['step'])}), scheduler, epoch {ck['epoch']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
