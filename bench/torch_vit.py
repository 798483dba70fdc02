"""torch_vit.py — the PyTorch ViT of Q1_RECIPE.md that the benchmarks time
against Ember (bench/vit_step_torch.py on the GPU, bench/cpu_step_torch.py on
the CPU): patch-4 conv, learned position embedding, pre-norm blocks with
exact-erf GELU MLPs, dropout, final LayerNorm, mean over tokens, linear head.
(tests/fixtures/gen_vit_fixtures.py keeps its own copy, laid out with
Ember's parameter names for exact parity checks.)"""
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
