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
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, p):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, C)
        x = x + self.drop(self.proj(a))
        h = self.drop(F.gelu(self.fc1(self.norm2(x))))
        return x + self.drop(self.fc2(h))


class ViT(nn.Module):
    def __init__(self, image=32, patch=4, dim=384, depth=8, heads=8, hidden=1536, classes=10, p=0.1):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2, dim) * 0.02)
        self.drop = nn.Dropout(p)
        self.blocks = nn.ModuleList([Block(dim, heads, hidden, p) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = self.drop(x + self.pos_embed)
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x).mean(1))


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
    model = ViT(dim=a.dim, depth=a.depth, heads=a.heads, hidden=4 * a.dim)
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
