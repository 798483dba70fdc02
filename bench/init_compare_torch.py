#!/usr/bin/env python3
"""init_compare_torch.py — the PyTorch side of bench/init_compare.sh: the
reference model (bench/torch_vit.py) at the bench's size trained with the q1
recipe on the same CIFAR-10 images as Ember, once per seed, and one line per
run:

    RESULT torch init=torch seed=0 test_acc=0.3190 train_loss=1.8954 seconds=52.0

The recipe (notebooks/q1.ipynb, Q1_RECIPE.md): torchvision v1 augmentations on
PIL images (bench/augment_torch.py's recipe()) through a shuffled DataLoader,
batch 128 (last partial batch kept), AdamW lr 3e-4 weight decay 0.05,
cross-entropy with label smoothing 0.1, MultiStepLR gamma 0.1 at the given
milestones stepped once per epoch, dropout 0.1; test images ToTensor +
Normalize, accuracy after the last epoch. init=torch is the layers' own
defaults (what the class does); init=timm re-initialises the model the way
Ember's vit(init='timm') does (Linear weights and pos_embed trunc_normal_
std 0.02, Linear biases 0, the patch Conv2d left at its default), as a cross
check that the scheme, not the engine, makes the difference."""
import argparse
import random
import tarfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from augment_torch import MEAN, STD, Images, recipe
from torch_vit import ViT
from torchvision import transforms


def read_split(archive, test):
    with tarfile.open(archive) as tar:
        names = sorted(m.name for m in tar.getmembers()
                       if ("test_batch" in m.name) == test and
                       ("data_batch_" in m.name or "test_batch" in m.name))
        raw = b"".join(tar.extractfile(name).read() for name in names)
    rec = np.frombuffer(raw, np.uint8).reshape(-1, 3073)
    pixels = np.ascontiguousarray(rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return pixels, rec[:, 0].astype(np.int64)


def timm_init(model):
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(model.pos_embed, std=0.02)


def train_one(args, seed, init, train, test):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = ViT(image_size=32, patch=args.patch, dim=args.dim, depth=args.depth, heads=args.heads,
                mlp_hidden=int(args.dim * args.mlp_ratio), num_classes=10, dropout=0.1)
    if init == "timm":
        timm_init(model)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=args.milestones, gamma=0.1)
    loader = DataLoader(Images(*train, recipe()), batch_size=128, shuffle=True,
                        num_workers=args.workers, persistent_workers=args.workers > 0)
    start = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        total, n = 0.0, 0
        for x, y in loader:
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            n += len(y)
        sched.step()
    model.eval()
    norm = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    tx = torch.stack([norm(p) for p in test[0]])
    with torch.no_grad():
        pred = torch.cat([model(tx[i:i + 256]).argmax(1) for i in range(0, len(tx), 256)])
    acc = (pred == torch.from_numpy(test[1])).float().mean().item()
    return acc, total / n, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive")
    ap.add_argument("--inits", nargs="+", default=["torch"], choices=["torch", "timm"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--milestones", type=int, nargs="*", default=[8, 11])
    ap.add_argument("--dim", type=int, default=96)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--mlp-ratio", type=float, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train, test = read_split(args.archive, False), read_split(args.archive, True)
    print(f"RESULT versions torch {torch.__version__} images {len(train[0])} test {len(test[0])}",
          flush=True)
    for init in args.inits:
        for seed in args.seeds:
            acc, loss, secs = train_one(args, seed, init, train, test)
            print(f"RESULT torch init={init} seed={seed} test_acc={acc:.4f} train_loss={loss:.4f} "
                  f"seconds={secs:.1f}", flush=True)


if __name__ == "__main__":
    main()
