#!/usr/bin/env python3
"""vit_step_torch.py — the PyTorch side of bench/gpu_check.sh: the same ViT
(Q1_RECIPE.md: patch 4 conv, learned position embedding, 8 pre-norm blocks of
384 wide with 8 heads, MLP 1536, exact GELU, dropout 0.1, final LayerNorm,
mean over tokens, linear head), the same step (bf16 autocast forward, cross
entropy with label smoothing 0.1, backward, AdamW lr 3e-4 wd 0.05), timed
with CUDA events on the same card; plus the card's measured bf16 matmul rate.

Prints machine-readable lines for the script:
  TORCH <mode> <ms/step> <images/s> <peak bytes> <last loss>
  MATMUL <TFLOP/s>
  FLOPS <per step>
Usage: vit_step_torch.py [--steps N] [--batch B] [--modes eager,compile]
"""
import argparse
import sys
import time

import torch
import torch.nn.functional as F

from torch_vit import ViT


def step_flops(B, image=32, patch=4, dim=384, depth=8, heads=8, hidden=1536, classes=10):
    """Matrix-product FLOPs of one training step (forward x3 for backward)."""
    T = (image // patch) ** 2
    P = 3 * patch * patch
    per_tok = P * dim + depth * (dim * 3 * dim + dim * dim + 2 * dim * hidden)
    fwd = 2 * B * T * per_tok + 2 * B * dim * classes
    fwd += depth * 2 * 2 * B * T * T * dim  # q k^T and p v over all heads
    return 3 * fwd


def matmul_rate():
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(10):
        a @ b
    e.record()
    torch.cuda.synchronize()
    return 2 * n ** 3 * 10 / (s.elapsed_time(e) * 1e-3) / 1e12


def bench(mode, steps, B):
    torch.manual_seed(0)
    model = ViT().cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.05)
    x = torch.randn(B, 3, 32, 32, device="cuda")
    y = torch.randint(0, 10, (B,), device="cuda")
    fwd = torch.compile(model) if mode == "compile" else model

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(fwd(x), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    t0 = time.time()
    for _ in range(10 if mode == "compile" else 5):
        step()
    torch.cuda.synchronize()
    warm = time.time() - t0
    torch.cuda.reset_peak_memory_stats()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(steps):
        loss = step()
    e.record()
    torch.cuda.synchronize()
    ms = s.elapsed_time(e) / steps
    peak = torch.cuda.max_memory_allocated()
    print(f"TORCH {mode} {ms:.3f} {B * 1e3 / ms:.1f} {peak} {loss.item():.5f}  (warm-up {warm:.1f}s)",
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--modes", default="eager,compile")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("SKIP: torch sees no CUDA device", flush=True)
        return 0
    print(f"CARD {torch.cuda.get_device_name(0)} torch {torch.__version__}", flush=True)
    print(f"PARAMS {sum(p.numel() for p in ViT().parameters())}", flush=True)
    print(f"MATMUL {matmul_rate():.1f}", flush=True)
    print(f"FLOPS {step_flops(a.batch)}", flush=True)
    for mode in a.modes.split(","):
        if mode not in ("eager", "compile"):
            continue
        try:
            bench(mode, a.steps, a.batch)
        except Exception as ex:  # torch.compile may be unavailable there
            print(f"TORCH {mode} FAILED {type(ex).__name__}: {str(ex)[:200]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
