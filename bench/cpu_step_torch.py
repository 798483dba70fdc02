#!/usr/bin/env python3
"""cpu_step_torch.py — the PyTorch side of bench/cpu_step.c: the same fp32
ViT (Q1_RECIPE.md: patch-4 conv, learned position embedding, pre-norm blocks
with exact-erf GELU MLPs of ratio 4, dropout 0.1, final LayerNorm, mean over
tokens, linear head) and the same training step (eager fp32 forward, cross
entropy with label smoothing 0.1, backward, AdamW lr 3e-4 wd 0.05) on the
CPU, with torch.set_num_threads(nproc) so both use the same cores.

Prints: RESULT torch dim=D depth=L heads=H batch=B <ms/step> ms/step <img/s> img/s
Usage: cpu_step_torch.py [--steps N] [--warmup N] [--batch B] [--dim D]
                         [--depth L] [--heads H] [--threads N]
"""
import argparse
import os
import time

import torch
import torch.nn.functional as F

from torch_vit import ViT


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = ViT(dim=a.dim, depth=a.depth, heads=a.heads, mlp_hidden=4 * a.dim)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.05)
    x = torch.rand(a.batch, 3, 32, 32) * 2 - 1
    y = torch.arange(a.batch) % 10

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    dt = time.perf_counter() - t0
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, last loss {loss.item():.4f}")
    print(f"RESULT torch dim={a.dim} depth={a.depth} heads={a.heads} batch={a.batch} "
          f"{dt / a.steps * 1e3:.1f} ms/step {a.batch * a.steps / dt:.1f} img/s")


if __name__ == "__main__":
    main()
