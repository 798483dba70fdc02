"""torch_vit.py — THE reference PyTorch model of Ember's ViT (Q1_RECIPE.md),
the one class the benchmarks (vit_step_torch.py, cpu_step_torch.py,
init_compare_torch.py) and the fixture generator
(tests/fixtures/gen_vit_fixtures.py) use; there is no second copy.

Patch-p Conv2d embedding, learned position embedding, pre-norm blocks
(multi-head self-attention with packed qkv, exact-erf GELU MLP), dropout
after the embedding, the attention projection, the MLP hidden layer and the
MLP output, final LayerNorm, mean over tokens (no class token), linear head.

Its state_dict() keys and shapes are exactly the names Ember's save() writes
(patch_embed.weight, pos_embed, blocks.N.norm1.weight,
blocks.N.attn.qkv.weight, blocks.N.attn.proj.weight,
blocks.N.mlp.fc1.weight, blocks.N.mlp.fc2.weight, norm.weight, head.weight,
...), so

    model.load_state_dict(safetensors.torch.load_file(ember_file), strict=True)

loads a model Ember saved, and Ember's load_model(path, heads=...) loads
safetensors.torch.save_file(model.state_dict(), path). The constructor's
arguments are Ember's configuration names (engine/nn/vit.h); config_from_metadata
turns the metadata of a file Ember saved into them.

Initialisation is every layer's own PyTorch default plus pos_embed ~
randn * 0.02: what Ember's vit(init='torch') (the default) draws from the
same distributions."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        if dim % heads:
            raise ValueError(f"{heads} heads do not divide the width {dim}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(C / heads)) v
        return self.proj(a.transpose(1, 2).reshape(B, T, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden, p):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(F.gelu(self.fc1(x)))))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, p, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, hidden, p)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, image_size=32, patch=4, in_chans=3, dim=384, depth=8, heads=8,
                 mlp_hidden=1536, num_classes=10, dropout=0.1, ln_eps=1e-5):
        super().__init__()
        if image_size % patch:
            raise ValueError(f"the patch size {patch} does not divide the image size {image_size}")
        tokens = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(in_chans, dim, patch, stride=patch)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.pos_drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            [Block(dim, heads, mlp_hidden, dropout, ln_eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=ln_eps)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, img):
        x = self.patch_embed(img).flatten(2).transpose(1, 2)
        x = self.pos_drop(x + self.pos_embed)
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x).mean(dim=1))


def config_from_metadata(meta):
    """ViT(**config_from_metadata(meta)) for the __metadata__ dict of a file
    Ember's save() wrote (safetensors.safe_open(path, "pt").metadata())."""
    if not meta or meta.get("ember.model") != "vit":
        raise ValueError("not a file written by Ember's save(): no ember.model = vit metadata")
    i = lambda k: int(meta["ember." + k])
    return dict(image_size=i("image_size"), patch=i("patch_size"), in_chans=i("channels"),
                dim=i("dim"), depth=i("layers"), heads=i("heads"), mlp_hidden=i("mlp_hidden"),
                num_classes=i("classes"), dropout=float(meta["ember.dropout"]),
                ln_eps=float(meta.get("ember.ln_eps", "1e-5")))


def key_manifest(model):
    """[[name, [shape...]], ...] of model.state_dict() in its order: what
    load_state_dict(strict=True) checks (the exact key set and shapes)."""
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]

