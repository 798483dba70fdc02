#!/usr/bin/env python3
"""q1_torch.py — the reference PyTorch recipe of q1, end to end, for
bench/gpu_proof.sh: the model of bench/torch_vit.py (the one reference class),
torchvision v1 augmentations on PIL images (bench/augment_torch.py's recipe())
in a DataLoader, AdamW (lr 3e-4, weight decay 0.05), MultiStepLR at epochs 50
and 75 (gamma 0.1) stepped once per epoch, cross-entropy with label smoothing
0.1, bf16 autocast, batch 128 with the last partial batch kept, and the test
set evaluated after every epoch (ToTensor + Normalize, the training criterion,
as Ember's fit reports it). One run per seed, eagerly or through
torch.compile (--mode).

What is timed is what a user waits for: each epoch from its first batch to
the end of its test evaluation (augmentation in the loader's workers, the
steps, the evaluation), with the device synchronised at both ends.

Workers: --workers auto times one pass of the augmented training set through
the loader for each count of --worker-candidates (start-up excluded) and
keeps the fastest; the choice and the rates go into the output, and
gpu_proof.sh passes it on to the compile run so both modes use one count.

In compile mode only the training forward is compiled; the test evaluation
runs the same module eagerly (compiling it would add two more compilations,
eval mode and the last batch of 1,000 = 7 x 128 + 104, to a pass over 1,000
images).

Output: JSON lines in --out, each flushed at once so that a run stopped by
its time budget keeps what it finished:
  {"type": "env", ...}, {"type": "workers", ...},
  {"type": "epoch", "seed": s, "epoch": e, ...} per epoch,
  {"type": "seed_done", ...} per seed, {"type": "stopped", ...} when the
  --deadline (a Unix time) came first."""
import argparse
import json
import math
import os
import random
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

from augment_torch import MEAN, STD, Images, recipe
from init_compare_torch import read_split
from torch_vit import ViT


def clean(v):
    """JSON has no NaN or infinity: null instead."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class Out:
    def __init__(self, path):
        self.f = open(path, "w")

    def emit(self, **rec):
        self.f.write(json.dumps({k: clean(v) for k, v in rec.items()}) + "\n")
        self.f.flush()


def loader(ds, batch, shuffle, workers, seed, pin):
    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(ds, batch_size=batch, shuffle=shuffle, drop_last=False, num_workers=workers,
                      persistent_workers=workers > 0, pin_memory=pin, generator=g)


def time_workers(ds, batch, candidates):
    """Images per second of one pass through the loader, per worker count
    (a first pass starts the workers and is not timed)."""
    rates = {}
    for w in candidates:
        ld = loader(ds, batch, True, w, 0, False)
        for _ in ld:
            pass
        a = time.perf_counter()
        n = sum(x.shape[0] for x, _ in ld)
        rates[w] = n / (time.perf_counter() - a)
        del ld
    return rates


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def run_seed(args, seed, dev, workers, train, test, out, deadline, history):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = ViT().to(dev)
    fwd = torch.compile(model) if args.mode == "compile" else model
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=args.milestones, gamma=0.1)
    pin = dev.type == "cuda"
    train_ld = loader(Images(*train, recipe()), args.batch, True, workers, seed, pin)
    norm = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    test_ld = loader(Images(*test, norm), args.batch, False, workers, seed, pin)
    amp = dict(device_type=dev.type, dtype=torch.bfloat16)
    start = time.perf_counter()
    times, last = [], None
    for epoch in range(args.epochs):
        # Stop before an epoch that would end past the deadline, so that the
        # seed's record is written instead of the run being killed mid-epoch.
        # The estimate leaves out each run's first epoch (compilation, worker
        # start-up) once there are others; history spans the seeds.
        est = statistics.median(history[1:] or history) if history else 0
        if deadline and history and time.time() + 1.5 * est > deadline:
            out.emit(type="stopped", seed=seed, epochs_done=epoch,
                     reason="time budget: the next epoch would end past the deadline")
            break
        lr = opt.param_groups[0]["lr"]
        t0 = time.perf_counter()
        model.train()
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), dtype=torch.long, device=dev)
        n = steps = 0
        for x, y in train_ld:
            x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            with torch.autocast(**amp):
                logits = fwd(x)
                loss = F.cross_entropy(logits, y, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # summed on the device: no host sync per step
            loss_sum += loss.detach().float() * y.shape[0]
            correct += (logits.detach().argmax(1) == y).sum()
            n += y.shape[0]
            steps += 1
            if args.max_steps and steps >= args.max_steps:
                break
        sync(dev)
        t1 = time.perf_counter()
        model.eval()
        tl = torch.zeros((), device=dev)
        tc = torch.zeros((), dtype=torch.long, device=dev)
        tn = 0
        with torch.no_grad(), torch.autocast(**amp):
            for x, y in test_ld:
                x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
                logits = model(x)
                tl += F.cross_entropy(logits.float(), y, label_smoothing=0.1, reduction="sum")
                tc += (logits.argmax(1) == y).sum()
                tn += y.shape[0]
        test_loss, test_acc = tl.item() / tn, tc.item() / tn
        t2 = time.perf_counter()
        sched.step()
        times.append(t2 - t0)
        history.append(t2 - t0)
        last = test_acc
        out.emit(type="epoch", seed=seed, epoch=epoch + 1, lr=lr, steps=steps, train_images=n,
                 train_loss=loss_sum.item() / n, train_acc=correct.item() / n,
                 test_loss=test_loss, test_acc=test_acc, seconds=t2 - t0,
                 train_seconds=t1 - t0, eval_seconds=t2 - t1, elapsed=t2 - start)
        print(f"seed {seed} epoch {epoch + 1}: test_acc {test_acc:.4f} {t2 - t0:.3f} s", flush=True)
    mem = {}
    if dev.type == "cuda":
        mem = dict(peak_allocated_bytes=torch.cuda.max_memory_allocated(),
                   peak_reserved_bytes=torch.cuda.max_memory_reserved())
    out.emit(type="seed_done", seed=seed, epochs_done=len(times), test_acc=last,
             seconds=time.perf_counter() - start, **mem)
    del train_ld, test_ld


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", required=True, help="CIFAR-10 binary archive (.tar.gz)")
    ap.add_argument("--out", required=True, help="JSON lines written here")
    ap.add_argument("--mode", choices=["eager", "compile"], default="eager")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--milestones", type=int, nargs="*", default=[50, 75])
    ap.add_argument("--train-images", type=int, default=4000)
    ap.add_argument("--test-images", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--max-steps", type=int, default=0, help="cap on steps an epoch (0: all)")
    ap.add_argument("--workers", default="auto", help="DataLoader workers, or auto")
    ap.add_argument("--worker-candidates", default="4,8,12")
    ap.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    ap.add_argument("--deadline", type=float, default=0, help="Unix time to stop by (0: none)")
    ap.add_argument("--seed-reserve", type=float, default=20,
                    help="seconds of the deadline kept for each later seed")
    args = ap.parse_args()

    dev = torch.device("cuda" if args.device == "cuda" or
                       (args.device == "auto" and torch.cuda.is_available()) else "cpu")
    out = Out(args.out)
    train, test = read_split(args.archive, False), read_split(args.archive, True)
    if args.train_images:
        train = tuple(a[:args.train_images] for a in train)
    if args.test_images:
        test = tuple(a[:args.test_images] for a in test)
    out.emit(type="env", torch=torch.__version__, torchvision=torchvision.__version__,
             python=sys.version.split()[0], device=str(dev),
             card=torch.cuda.get_device_name(0) if dev.type == "cuda" else None,
             cpus=os.cpu_count(), mode=args.mode, train_images=len(train[0]),
             test_images=len(test[0]), epochs=args.epochs, batch=args.batch,
             max_steps=args.max_steps, seeds=args.seeds, milestones=args.milestones,
             autocast="bf16", params=sum(p.numel() for p in ViT().parameters()))

    if args.workers == "auto":
        cands = [int(w) for w in args.worker_candidates.split(",") if w.strip()]
        rates = time_workers(Images(*train, recipe()), args.batch, cands)
        workers = max(rates, key=lambda w: (rates[w], -w))
        out.emit(type="workers", chosen=workers, measured=True,
                 images_per_s={str(w): r for w, r in rates.items()})
    else:
        workers = int(args.workers)
        out.emit(type="workers", chosen=workers, measured=False)
    print(f"{args.mode}: {dev}, {workers} loader workers", flush=True)

    history = []
    for i, seed in enumerate(args.seeds):
        # a seed may use the time left but --seed-reserve for each seed after
        # it: one complete seed and a partial one say more than two halves
        deadline = 0
        if args.deadline:
            deadline = args.deadline - args.seed_reserve * (len(args.seeds) - i - 1)
        run_seed(args, seed, dev, workers, train, test, out, deadline, history)
    return 0


if __name__ == "__main__":
    sys.exit(main())
