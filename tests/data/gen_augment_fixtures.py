#!/usr/bin/env python3
"""gen_augment_fixtures.py - writes tests/fixtures/augment_ops.safetensors,
torchvision's outputs for the fixed-parameter augmentations of the q1 recipe
(engine/data/augment.h), which tests/data/test_augment.c compares with
Ember's byte for byte.

Run by hand (CI never runs it; the output is committed):
    python3 -m pip install pillow torchvision
    python3 tests/data/gen_augment_fixtures.py

Inputs are a few synthetic 32x32 RGB images (not CIFAR): uniform noise, flat
rectangles over noise, and two images built so that the mean of their Pillow
greyscale is exactly 126.5 (Contrast's int(m + 0.5) gives 127 where Python's
round would give 126) and one step of the sum below it; a 20x12 image for the
non-square paths of rotate and affine; a 16x16 RGB image for random jitter
factors; 16x16 and 32x32 greyscale ones for many random angles and shifts and
for a few cases picked because a plausible mistake would move a sample. Every
parameter is a float32 value (the file stores f32) and torchvision is called
with exactly that value. The tensor bytes are reproducible; the header's
__metadata__ key order may vary between runs.

Tensors (n = cases of an op):
  images        u8  [4, 32, 32, 3]   the square inputs
  rect          u8  [12, 20, 3]      the non-square input (h 12, w 20)
  <op>.img      i32 [n]              input index into `images` (square ops only)
  <op>.param    f32 [n, 3]           crop: x, y, pad; jitter ops: factor;
                                     affine: angle, tx, ty; rotate: angle
  <op>.out      u8  [n, H, W, 3]     torchvision's result
  crop.size     i32 [n, 2]           crop: out_w, out_h
  small         u8  [16, 16, 3]      random factors: <jitter op>_small.param/out
  grey          u8  [16, 16]         random geometries: affine_grey / rotate_grey
                                     .param [48, 3] and .out [48, 16, 16]; and
                                     <jitter op>_grey.param/out (mode L)
  grey32        u8  [32, 32]         affine_grey32 / rotate_grey32: a few cases
                                     picked where plausible mistakes move a sample
  norm.out      f32 [1, 3, 16, 16]   to_tensor + normalize of `small`
  norm.mean / norm.std  f32 [3]      the recipe's values
"""
import json
import math
import os

import numpy as np
import PIL
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "augment_ops.safetensors")

MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2471, 0.2435, 0.2616]


def f32(x):
    return float(np.float32(x))


def pil_grey_sum(a):
    a = a.astype(np.int64)
    return int(((a[..., 0] * 19595 + a[..., 1] * 38470 + a[..., 2] * 7471 + 0x8000) >> 16).sum())


def tune_mean(a, target_sum):
    """Nudges pixels until the greyscale sum equals target_sum."""
    a = a.copy()
    rng = np.random.default_rng(7)
    for _ in range(100000):
        s = pil_grey_sum(a)
        if s == target_sum:
            return a
        y, x = rng.integers(0, a.shape[0]), rng.integers(0, a.shape[1])
        step = 1 if s < target_sum else -1
        a[y, x, 1] = np.clip(int(a[y, x, 1]) + step, 0, 255)
    raise RuntimeError("could not tune the mean")


def make_images():
    rng = np.random.default_rng(2026)
    n = 32 * 32
    noise = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    flat = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    flat[4:20, 6:26] = (200, 30, 90)
    flat[22:30, 2:14] = (10, 240, 250)
    flat[0:3, :] = (255, 255, 255)
    flat[:, 29:] = (0, 0, 0)
    base = rng.integers(60, 200, (32, 32, 3), dtype=np.uint8)
    # Mean grey exactly 126.5 (int(m + 0.5) = 127 where round-half-even
    # would give 126) and one level of the sum below it (rounds down).
    half = tune_mean(base, 126 * n + n // 2)
    below = tune_mean(base, 126 * n + n // 2 - 1)
    imgs = np.stack([noise, flat, half, below])
    rect = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    rect[3:9, 5:12] = (90, 90, 20)
    small = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    small[2:7, 3:12] = (120, 60, 200)
    grey = rng.integers(0, 256, (16, 16), dtype=np.uint8)
    return imgs, rect, small, grey


# ---- a model of Pillow's nearest affine sampling, to pick sensitive cases --
# Used only to choose angles where plausible mistakes (the float walk instead
# of Pillow's 16.16 fixed-point walk, other rounding or summation orders, no
# 15-decimal rounding in Image.rotate, no angle % 360) would move a sample;
# the fixture's outputs are torchvision's own.

def _fix(v):
    t = v * 65536.0 + 0.5
    return int(math.floor(t)) if t < 0 else int(t)


def _coord(v):
    return -1 if v < 0.0 else int(v)


def model_sample(a, w, h, variant=""):
    """Source (x, y) per output pixel, -1 outside, as Geometry.c walks."""
    out = []
    check = all(abs(x * a[0] + y * a[1] + a[2]) < 32768.0 and abs(x * a[3] + y * a[4] + a[5]) < 32768.0
                for x, y in ((0, 0), (w, h), (0, h), (w, 0)))
    if a[1] == 0 and a[3] == 0:
        variant = "float"
    if check and variant != "float":
        fx = (lambda v: int(v * 65536.0)) if variant == "fix_trunc" else _fix
        a0, a1, a3, a4 = fx(a[0]), fx(a[1]), fx(a[3]), fx(a[4])
        if variant == "fix_order":
            a2, a5 = fx(a[2] + a[1] * 0.5 + a[0] * 0.5), fx(a[5] + a[4] * 0.5 + a[3] * 0.5)
        else:
            a2, a5 = fx(a[2] + a[0] * 0.5 + a[1] * 0.5), fx(a[5] + a[3] * 0.5 + a[4] * 0.5)
        for y in range(h):
            xx, yy = a2, a5
            for x in range(w):
                xi, yi = xx >> 16, yy >> 16
                out.append((xi, yi) if 0 <= xi < w and 0 <= yi < h else (-1, -1))
                xx += a0
                yy += a3
            a2 += a1
            a5 += a4
        return out
    xo, yo = a[2] + a[1] * 0.5 + a[0] * 0.5, a[5] + a[4] * 0.5 + a[3] * 0.5
    for y in range(h):
        xx, yy = xo, yo
        for x in range(w):
            xi, yi = _coord(xx), _coord(yy)
            out.append((xi, yi) if 0 <= xi < w and 0 <= yi < h else (-1, -1))
            xx += a[0]
            yy += a[3]
        xo += a[1]
        yo += a[4]
    return out


def affine_matrix(angle, tx, ty, w, h, variant=""):
    rot = math.radians(angle)
    cx, cy = w * 0.5, h * 0.5
    m = [math.cos(rot), math.sin(rot), 0.0, -math.sin(rot), math.cos(rot), 0.0]
    if variant == "affine_order":
        m[2] = m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
        m[5] = m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    else:
        m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
        m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
        m[2] += cx
        m[5] += cy
    return m


def rotate_matrix(angle, w, h, variant=""):
    if variant != "no_mod":
        angle = angle % 360.0
    r = -math.radians(angle)
    rnd = (lambda v: v) if variant == "no_round" else (lambda v: round(v, 15))
    m = [rnd(math.cos(r)), rnd(math.sin(r)), 0.0, rnd(-math.sin(r)), rnd(math.cos(r)), 0.0]
    cx, cy = w / 2, h / 2
    m[2], m[5] = m[0] * -cx + m[1] * -cy + 0.0, m[3] * -cx + m[4] * -cy + 0.0
    m[2] += cx
    m[5] += cy
    return m


def sensitive_cases(rng, w, h):
    """A few (angle, tx, ty) for affine and angles for rotate, each moving a
    sample under at least one of the modelled mistakes."""
    aff, rot = [], []
    wanted_a = ["float", "fix_trunc", "fix_order", "affine_order"]
    wanted_r = ["float", "fix_trunc", "fix_order", "no_round", "no_mod"]
    for _ in range(4000):
        if not wanted_a and not wanted_r:
            break
        angle = f32(rng.uniform(-15, 15))
        tx, ty = (int(v) for v in rng.integers(-3, 4, 2))
        base = model_sample(affine_matrix(angle, tx, ty, w, h), w, h)
        for v in list(wanted_a):
            m = affine_matrix(angle, tx, ty, w, h, v if v == "affine_order" else "")
            if model_sample(m, w, h, v) != base:
                aff.append((angle, tx, ty))
                wanted_a.remove(v)
                break
        base = model_sample(rotate_matrix(angle, w, h), w, h)
        for v in list(wanted_r):
            m = rotate_matrix(angle, w, h, v if v in ("no_round", "no_mod") else "")
            if model_sample(m, w, h, "" if v in ("no_round", "no_mod") else v) != base:
                rot.append(angle)
                wanted_r.remove(v)
                break
    if wanted_a or wanted_r:
        # Seen with 32x32: the summation orders, the 15-decimal rounding and
        # angle % 360 move no sample (they change the matrix by ulps).
        print("note: no case moves a sample under", wanted_a + wanted_r)
    return aff, rot


def pil(a):
    return Image.fromarray(a, "RGB")


def arr(im):
    return np.asarray(im, dtype=np.uint8).copy()


def main():
    imgs, rect, small, grey = make_images()
    t = {"images": imgs, "rect": rect, "small": small, "grey": grey}
    rng = np.random.default_rng(99)

    def src(i):
        return pil(rect if i < 0 else imgs[i])

    # crop after zero padding: (x, y) over the corners and inside.
    crop = [(0, 0, 4), (8, 8, 4), (0, 8, 4), (8, 0, 4), (3, 5, 4)]
    outs, sizes, idx = [], [], []
    for i, (x, y, pad) in enumerate(crop):
        img = i % 2
        o = F.crop(F.pad(src(img), pad, fill=0), y, x, 32, 32)
        outs.append(arr(o)); sizes.append((32, 32)); idx.append(img)
    t["crop.img"] = np.array(idx, np.int32)
    t["crop.param"] = np.array(crop, np.float32)
    t["crop.size"] = np.array(sizes, np.int32)
    t["crop.out"] = np.stack(outs)

    t["hflip.img"] = np.array([1], np.int32)
    t["hflip.param"] = np.zeros((1, 3), np.float32)
    t["hflip.out"] = np.stack([arr(F.hflip(src(i))) for i in (1,)])

    factors = [0.8, 0.93, 1.0, 1.17, 1.2]
    jobs = {
        "brightness": (F.adjust_brightness, [0]),
        "contrast": (F.adjust_contrast, [0, 2, 3]),
        "saturation": (F.adjust_saturation, [1]),
    }
    for name, (fn, which) in jobs.items():
        idx, par, outs = [], [], []
        for img in which:
            for f in factors:
                if img != which[0] and f != (0.93 if img == 2 else 1.17):
                    continue  # the shortcuts and extrapolation once is enough
                f = f32(f)
                idx.append(img); par.append((f, 0, 0)); outs.append(arr(fn(src(img), f)))
        t[name + ".img"] = np.array(idx, np.int32)
        t[name + ".param"] = np.array(par, np.float32)
        t[name + ".out"] = np.stack(outs)
        # random factors of the recipe's range on the 16x16 image, and the
        # shortcut (0) and extrapolation (1.5, clipped) cases
        fs = [f32(x) for x in list(rng.uniform(0.8, 1.2, 10)) + [0.0, 1.5]]
        t[name + "_small.param"] = np.array([(f, 0, 0) for f in fs], np.float32)
        t[name + "_small.out"] = np.stack([arr(fn(pil(small), f)) for f in fs])
        # and a greyscale (L) image
        fs = [f32(x) for x in (0.8, 1.17, 1.5)]
        t[name + "_grey.param"] = np.array([(f, 0, 0) for f in fs], np.float32)
        t[name + "_grey.out"] = np.stack([arr(fn(Image.fromarray(grey, "L"), f)) for f in fs])

    affine = [(0, 0, 0), (0, 3, -3), (15, 0, 0), (-15, 0, 0), (7.3, 1, -2), (-11.77, -3, 3),
              (90, 0, 0), (-180, 1, 1)]
    idx, par, outs = [], [], []
    for i, (a, tx, ty) in enumerate(affine):
        img = 1 if i % 3 == 2 else 0
        a = f32(a)
        o = F.affine(src(img), angle=a, translate=[tx, ty], scale=1.0, shear=[0.0, 0.0],
                     interpolation=F.InterpolationMode.NEAREST, fill=0)
        idx.append(img); par.append((a, tx, ty)); outs.append(arr(o))
    t["affine.img"] = np.array(idx, np.int32)
    t["affine.param"] = np.array(par, np.float32)
    t["affine.out"] = np.stack(outs)
    rect_aff = [(0, 2, -1), (30, 0, 0), (-7.5, 1, 2)]
    t["affine_rect.param"] = np.array([(f32(a), tx, ty) for a, tx, ty in rect_aff], np.float32)
    t["affine_rect.out"] = np.stack([
        arr(F.affine(src(-1), angle=f32(a), translate=[tx, ty], scale=1.0, shear=[0.0, 0.0],
                     interpolation=F.InterpolationMode.NEAREST, fill=0))
        for a, tx, ty in rect_aff])

    rot = [0, 15, -15, 90, -90, 180, 7.3, -14.62]
    idx, par, outs = [], [], []
    for i, a in enumerate(rot):
        img = 1 if i % 4 == 3 else 0
        a = f32(a)
        o = F.rotate(src(img), a, interpolation=F.InterpolationMode.NEAREST, expand=False, fill=0)
        idx.append(img); par.append((a, 0, 0)); outs.append(arr(o))
    t["rotate.img"] = np.array(idx, np.int32)
    t["rotate.param"] = np.array(par, np.float32)
    t["rotate.out"] = np.stack(outs)
    rect_rot = [90, 30, -12.5, 180]
    t["rotate_rect.param"] = np.array([(f32(a), 0, 0) for a in rect_rot], np.float32)
    t["rotate_rect.out"] = np.stack([
        arr(F.rotate(src(-1), f32(a), interpolation=F.InterpolationMode.NEAREST, expand=False,
                     fill=0)) for a in rect_rot])

    # Many random geometries on a 16x16 greyscale image (1 byte a pixel):
    # the sampling positions are where float rounding could differ.
    nearest = F.InterpolationMode.NEAREST
    angles = [f32(a) for a in np.concatenate([rng.uniform(-15, 15, 36), rng.uniform(-180, 180, 12)])]
    shifts = rng.integers(-3, 4, (48, 2))
    g = Image.fromarray(grey, "L")
    t["affine_grey.param"] = np.array([(a, int(x), int(y)) for a, (x, y) in zip(angles, shifts)],
                                      np.float32)
    t["affine_grey.out"] = np.stack([
        arr(F.affine(g, angle=a, translate=[int(x), int(y)], scale=1.0, shear=[0.0, 0.0],
                     interpolation=nearest, fill=0)) for a, (x, y) in zip(angles, shifts)])
    t["rotate_grey.param"] = np.array([(a, 0, 0) for a in angles], np.float32)
    t["rotate_grey.out"] = np.stack([
        arr(F.rotate(g, a, interpolation=nearest, expand=False, fill=0)) for a in angles])

    # Cases picked (with the model above) where a plausible mistake would
    # move a sample, on a 32x32 greyscale image; checked against the model.
    grey32 = Image.fromarray(imgs[0][..., 0].copy(), "L")
    t["grey32"] = imgs[0][..., 0].copy()
    aff, rots = sensitive_cases(rng, 32, 32)
    t["affine_grey32.param"] = np.array(aff, np.float32)
    t["affine_grey32.out"] = np.stack([
        arr(F.affine(grey32, angle=a, translate=[tx, ty], scale=1.0, shear=[0.0, 0.0],
                     interpolation=nearest, fill=0)) for a, tx, ty in aff])
    t["rotate_grey32.param"] = np.array([(a, 0, 0) for a in rots], np.float32)
    t["rotate_grey32.out"] = np.stack([
        arr(F.rotate(grey32, a, interpolation=nearest, expand=False, fill=0)) for a in rots])
    src32 = np.asarray(grey32)
    for a, tx, ty in aff:  # the model agrees with torchvision on these
        idx = model_sample(affine_matrix(a, tx, ty, 32, 32), 32, 32)
        want = np.array([src32[y, x] if x >= 0 else 0 for x, y in idx], np.uint8).reshape(32, 32)
        got = arr(F.affine(grey32, angle=a, translate=[tx, ty], scale=1.0, shear=[0.0, 0.0],
                           interpolation=nearest, fill=0))
        assert (want == got).all(), "the sampling model disagrees with Pillow"
    for a in rots:
        idx = model_sample(rotate_matrix(a, 32, 32), 32, 32)
        want = np.array([src32[y, x] if x >= 0 else 0 for x, y in idx], np.uint8).reshape(32, 32)
        got = arr(F.rotate(grey32, a, interpolation=nearest, expand=False, fill=0))
        assert (want == got).all(), "the sampling model disagrees with Pillow"

    norm = [F.normalize(F.to_tensor(pil(small)), MEAN, STD)]
    t["norm.out"] = torch.stack(norm).numpy().astype(np.float32)
    t["norm.mean"] = np.array(MEAN, np.float32)
    t["norm.std"] = np.array(STD, np.float32)

    t = {k: np.ascontiguousarray(v) for k, v in t.items()}
    meta = {"generator": "tests/data/gen_augment_fixtures.py",
            "versions": json.dumps({"torch": torch.__version__,
                                    "torchvision": torchvision.__version__,
                                    "pillow": PIL.__version__})}
    save_file(t, OUT, metadata=meta)
    print(f"wrote {os.path.normpath(OUT)}: {os.path.getsize(OUT)} bytes, {len(t)} tensors")


if __name__ == "__main__":
    main()
