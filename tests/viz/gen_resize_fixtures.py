#!/usr/bin/env python3
"""gen_resize_fixtures.py — writes tests/fixtures/resize_pil.safetensors: what
Pillow's Image.resize(size, BILINEAR) makes of synthetic images, for
tests/viz/test_resize_pil.c to compare ember_image_resize with byte for byte
(CLIPSeg's processor resizes that way, so its inputs must match).

Run by hand (needs Pillow 13 or later, whose pass order the C code follows,
numpy and safetensors); CI never runs it:

    python3 tests/viz/gen_resize_fixtures.py

The inputs are not stored: they come from an integer formula (pattern())
that the C test computes too. Small outputs are stored whole; large ones as
an FNV-1a 64 digest plus their first, middle and last rows, which keeps the
file small. For the shared photos (../shared/data/images, never copied
here) only digests of Pillow's decoded input and resized output, and the
same three rows, are stored; that part is left out when the data is missing.
"""
import os
import sys

import numpy as np
from PIL import Image, __version__ as pil_version
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.environ.get("RESIZE_FIXTURE_OUT") or os.path.join(ROOT, "tests", "fixtures",
                                                           "resize_pil.safetensors")
SHARED = os.environ.get("EMBER_SHARED_DATA") or os.path.join(os.path.dirname(ROOT), "shared", "data")
M32 = 0xFFFFFFFF
FULL_LIMIT = 40000  # outputs up to this many bytes are stored whole

# (width, height, channels, out width, out height, pattern, seed)
# pattern 0: noise; 1: gradients with a little noise (photo-like).
CASES = [
    (451, 300, 3, 352, 352, 1, 1),   # chelsea.png's shape, CLIPSeg's size
    (640, 427, 3, 352, 352, 0, 2),   # rocket.jpg's shape
    (20, 13, 3, 352, 352, 1, 3),     # a big upscale
    (20, 13, 1, 64, 48, 0, 4),       # grey upscale
    (37, 23, 3, 11, 7, 0, 5),        # odd downscale
    (101, 67, 1, 352, 352, 1, 6),    # grey to CLIPSeg's size
    (64, 48, 4, 29, 17, 0, 7),       # RGBA down (alpha 0 and 255 common)
    (33, 21, 4, 70, 45, 1, 8),       # RGBA up
    (500, 7, 3, 13, 19, 0, 9),       # down one way, up the other
    (9, 400, 1, 9, 37, 0, 10),       # vertical only
    (123, 45, 3, 123, 90, 1, 11),    # vertical only, RGB
    (77, 31, 3, 40, 31, 0, 12),      # horizontal only
    (1, 1, 3, 5, 3, 0, 13),          # one pixel
    (5, 1, 1, 1, 1, 0, 14),          # to one pixel
    (1000, 3, 1, 3, 1, 0, 15),       # a wide support
    (352, 352, 3, 352, 352, 0, 16),  # same size: a copy
    (353, 351, 3, 352, 352, 0, 17),  # nearly the same size
    (300, 451, 4, 352, 352, 1, 18),  # RGBA portrait to CLIPSeg's size
    # Pillow 13 runs the vertical pass first when the height loses more than
    # twice as many pixels as the width; the order shows in the rounding.
    (300, 451, 3, 352, 352, 1, 19),
    (40, 40, 1, 60, 20, 0, 20),
    (20, 20, 3, 21, 19, 0, 21),
    (10, 100, 4, 20, 50, 0, 22),
    (40, 40, 3, 20, 60, 0, 23),      # narrower but taller: horizontal first
    (2000, 1500, 1, 5, 3, 1, 24),    # a 400x reduction
    (115, 92, 3, 98, 47, 0, 25),     # both smaller, vertical first
    (64, 48, 1, 29, 17, 0, 26),      # both smaller, horizontal first
    (240, 240, 1, 130, 20, 0, 27),   # on the boundary: horizontal first
    (240, 240, 1, 131, 20, 0, 28),   # just past it: vertical first
]


def mix(x, y, c, seed):
    """A 32-bit integer hash, the same in C (uint32_t arithmetic)."""
    h = (x * 0x9E3779B1 + y * 0x85EBCA77 + c * 0xC2B2AE3D + seed * 0x27D4EB2F) & M32
    h ^= h >> 15
    h = (h * 0x2C1B3C6D) & M32
    h ^= h >> 12
    h = (h * 0x297A2D39) & M32
    h ^= h >> 15
    return h


def pattern(w, h, ch, kind, seed):
    y, x, c = np.meshgrid(np.arange(h, dtype=np.uint64), np.arange(w, dtype=np.uint64),
                          np.arange(ch, dtype=np.uint64), indexing="ij")
    hv = mix(x, y, c, seed)  # numpy uint64 keeps the masks exact
    noise = (hv >> np.uint64(24)).astype(np.int64)
    if kind == 0:
        v = noise
    else:
        xi, yi, ci = x.astype(np.int64), y.astype(np.int64), c.astype(np.int64)
        gx = xi * 255 // max(w - 1, 1)
        gy = yi * 255 // max(h - 1, 1)
        v = (gx * (3 - ci % 4) + gy * (ci % 4 + 1)) // 4 + (noise & 15) - 8
        v = np.clip(v, 0, 255)
    if ch == 4:  # alpha: fully transparent and fully opaque pixels are common
        a = noise[..., 3]
        a = np.where(a < 40, 0, np.where(a > 215, 255, a))
        v[..., 3] = a
    return v.astype(np.uint8)


def digest(arr):
    """FNV-1a 64 of the bytes (row-major), as 8 little-endian bytes."""
    h = 0xCBF29CE484222325
    for b in np.ascontiguousarray(arr).tobytes():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return np.frombuffer(h.to_bytes(8, "little"), dtype=np.uint8).copy()


def pil_resize(arr, W, H):
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
    im = Image.fromarray(arr[..., 0] if mode == "L" else arr, mode)
    out = np.asarray(im.resize((W, H), Image.Resampling.BILINEAR))
    return out.reshape(H, W, arr.shape[2])


def rows_of(out):
    H = out.shape[0]
    return np.stack([out[0], out[H // 2], out[H - 1]])


def main():
    t = {}
    for i, (w, h, c, W, H, kind, seed) in enumerate(CASES):
        name = f"case{i:02d}"
        inp = pattern(w, h, c, kind, seed)
        out = pil_resize(inp, W, H)
        t[name + ".spec"] = np.array([w, h, c, W, H, kind, seed], dtype=np.int32)
        t[name + ".in_hash"] = digest(inp)
        if out.size <= FULL_LIMIT:
            t[name + ".want"] = out
        else:
            t[name + ".hash"] = digest(out)
            t[name + ".rows"] = rows_of(out)
    for key, fname in (("chelsea", "chelsea.png"), ("rocket", "rocket.jpg")):
        path = os.path.join(SHARED, "images", fname)
        if not os.path.isfile(path):
            print(f"{path} is missing: {key} left out", file=sys.stderr)
            continue
        im = Image.open(path)
        im.load()
        inp = np.asarray(im.convert("RGB"))
        out = pil_resize(inp, 352, 352)
        t[key + ".spec"] = np.array([inp.shape[1], inp.shape[0], 3, 352, 352], dtype=np.int32)
        t[key + ".in_hash"] = digest(inp)
        t[key + ".hash"] = digest(out)
        t[key + ".rows"] = rows_of(out)
    # one metadata key: the writer orders several at random, and the file
    # should not change when nothing else does
    save_file(t, OUT, metadata={"made_by": f"Pillow {pil_version} Image.resize BILINEAR"})
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, Pillow {pil_version}, {len(CASES)} cases)")


if __name__ == "__main__":
    main()
