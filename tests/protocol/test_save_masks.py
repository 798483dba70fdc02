"""test_save_masks.py — a segmentation's numbers and files through the
kernel, with the tiny CLIPSeg of tests/tiny_clipseg.py (its masks mean
nothing; the numbers only have to agree): mask.at(), mask.region() and
mask.values against the mask's .npy read by numpy.load; the black and
white .png (Pillow) against the same numbers; masks as .npz, .npy and a
folder (numpy.load, json); overlays in the colours asked, with a legend
whose swatches are those colours (pixels read by Pillow); and the errors."""
import json

import numpy as np
import pytest
from PIL import Image

from ember_testenv import ROOT, SLOW
from protocol_util import printed as _printed, run_error, run_ok
from save_checks import no_temporaries, value as _value
from tiny_clipseg import make_model_dir, tokenizer_missing

LONG = 120 * SLOW
PROMPTS = ["a cat", "a remote control", "a blanket"]


def ok(kc, code):
    return run_ok(kc, code, LONG)


def err(kc, code):
    return run_error(kc, code, LONG)


def value(kc, expr):
    return _value(kc, expr, LONG)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    why = tokenizer_missing()
    if why:
        pytest.skip(why)
    return make_model_dir(tmp_path_factory.mktemp("clipseg-tiny"))


@pytest.fixture
def seg(kc, model_dir):
    ok(kc, f"seg = clipseg({str(model_dir)!r}, device='cpu'); "
           f"img = load_image({str(ROOT / 'kernelspec' / 'logo-64x64.png')!r}).convert('RGB'); "
           f"masks = segment(seg, img, {PROMPTS!r}); m = masks[0]")
    return kc


def test_mask_numbers_equal_the_npy(seg, tmp_path):
    kc = seg
    npy = tmp_path / "m.npy"
    ok(kc, f"save(m, {str(npy)!r})")
    a = np.load(npy, allow_pickle=False)
    assert a.dtype == np.float32 and a.shape == (64, 64)
    values = np.array(value(kc, "m.values"))
    assert values.shape == (64, 64) and (values == a.astype(np.float64)).all()
    for x, y in [(0, 0), (3, 4), (63, 0), (17, 42), (63, 63)]:
        assert value(kc, f"m.at({x}, {y})") == float(a[y, x]), (x, y)
    # a box: x1 and y1 excluded, as in an image crop
    ok(kc, "r = m.region(5, 10, 30, 50, threshold=0.45)")
    mean, mx, mn, area, count, pixels, box = value(
        kc, "[r.mean, r.max, r.min, r.area, r.count, r.pixels, r.box]")
    b = a[10:50, 5:30].astype(np.float64)
    assert box == [5, 10, 30, 50] and pixels == b.size
    assert mx == b.max() and mn == b.min() and mean == pytest.approx(b.mean(), rel=1e-12)
    assert count == int((b >= 0.45).sum()) and area == count / b.size
    text = _printed(kc, "r", LONG)
    assert text.startswith("<region (5, 10)-(30, 50) of mask 'a cat': mean ") and "at 0.45 or more" in text


def test_mask_png_is_the_binary_mask(seg, tmp_path):
    kc = seg
    ok(kc, f"m.save({str(tmp_path / 'm.npy')!r}); m.save({str(tmp_path / 'm.png')!r}); "
           f"m.binary(0.3).save({str(tmp_path / 'b3.png')!r})")
    a = np.load(tmp_path / "m.npy")
    with Image.open(tmp_path / "m.png") as im:
        assert im.mode == "L" and im.size == (64, 64)
        assert (np.asarray(im) == np.where(a >= 0.5, 255, 0)).all()
    with Image.open(tmp_path / "b3.png") as im:
        assert (np.asarray(im) == np.where(a >= 0.3, 255, 0)).all()


def test_masks_npz_npy_and_folder(seg, tmp_path):
    kc = seg
    each = []
    for i in range(3):
        ok(kc, f"masks[{i}].save({str(tmp_path / f'{i}.npy')!r})")
        each.append(np.load(tmp_path / f"{i}.npy"))
    ok(kc, f"save(masks, {str(tmp_path / 'all.npz')!r}); masks.save({str(tmp_path / 'all.npy')!r})")
    with np.load(tmp_path / "all.npz", allow_pickle=False) as z:
        assert list(z["prompts"]) == PROMPTS
        keys = list(z["keys"])
        assert keys == ["a_cat", "a_remote_control", "a_blanket"]
        assert sorted(z.files) == sorted(keys + ["prompts", "keys"])
        for k, a in zip(keys, each):
            assert z[k].dtype == np.float32 and (z[k] == a).all()
    stack = np.load(tmp_path / "all.npy")
    assert stack.shape == (3, 64, 64) and all((stack[i] == each[i]).all() for i in range(3))

    folder = tmp_path / "out"
    ok(kc, f"save(masks, {str(folder)!r})")
    index = json.loads((folder / "index.json").read_text())
    assert index["format"] == "ember masks" and index["image"] == {"width": 64, "height": 64}
    assert [e["prompt"] for e in index["masks"]] == PROMPTS
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["index.json"] + [e["file"] for e in index["masks"]])
    for e, a in zip(index["masks"], each):
        assert (np.load(folder / e["file"]) == a).all() and e["shape"] == [64, 64]
    # an earlier save is replaced; someone else's folder is refused, untouched
    ok(kc, f"masks2 = segment(seg, img, ['a dog']); save(masks2, {str(folder) + '/'!r})")
    assert sorted(p.name for p in folder.iterdir()) == ["a_dog.npy", "index.json"]
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    name, msg = err(kc, f"save(masks, {str(other)!r})")
    assert name == "FileExistsError" and "holds other files" in msg, (name, msg)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    no_temporaries(tmp_path)


def test_keys_are_safe_and_unique(kc, model_dir, tmp_path):
    prompts = ["a cat", "A cat", "a/cat", "../../etc", "été", "a.cat."]
    ok(kc, f"seg = clipseg({str(model_dir)!r}, device='cpu'); "
           f"img = load_image({str(ROOT / 'kernelspec' / 'logo-64x64.png')!r}); "
           f"ms = segment(seg, img, {prompts!r}); ms.save({str(tmp_path / 'k.npz')!r}); "
           f"ms.save({str(tmp_path / 'k')!r})")
    with np.load(tmp_path / "k.npz") as z:
        keys = list(z["keys"])
        assert list(z["prompts"]) == prompts
    assert keys == ["a_cat", "A_cat_2", "a_cat_3", "etc", "t", "a.cat"], keys
    assert len({k.lower() for k in keys}) == len(keys)
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == sorted(
        ["index.json"] + [k + ".npy" for k in keys])


def count(img, rgb):
    return int((np.asarray(img)[:, :, :3] == np.array(rgb, np.uint8)).all(axis=2).sum())


def test_overlay_colors_and_legend(seg, tmp_path):
    kc = seg
    plain, keyed, solid = (str(tmp_path / f"{n}.png") for n in ("plain", "keyed", "solid"))
    colors = ["red", "lime", [0, 0, 255]]
    ok(kc, f"overlay(img, masks, alpha=0, legend=false).save({plain!r}); "
           f"overlay(img, masks, alpha=0, colors={colors!r}).save({keyed!r}); "
           f"overlay(img, masks[1], colors=['#ff8800'], alpha=1, threshold=0, "
           f"legend=false).save({solid!r})")
    with Image.open(solid) as im:  # every pixel moved all the way to the colour asked
        assert count(im, (255, 136, 0)) == 64 * 64
    with Image.open(plain) as p, Image.open(keyed) as k:
        assert (np.asarray(p) == np.asarray(img_pixels(kc, tmp_path))).all()  # alpha 0: the photo
        for rgb in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]:
            # an 8x8 swatch of each colour, exactly (the picture's side / 30, at least 8)
            assert count(k, rgb) - count(p, rgb) == 64, rgb
        changed = (np.asarray(p) != np.asarray(k)).any(axis=2)
        ys, xs = np.nonzero(changed)
        assert xs.min() >= 4 and ys.min() >= 4 and xs.max() < 52 and ys.max() < 60  # top left
    # the method takes the same arguments
    ok(kc, f"masks.overlay(alpha=0, colors=['tab:red', '#0f0', 'navy']).save({keyed!r})")
    with Image.open(keyed) as k:
        assert count(k, (0xd6, 0x27, 0x28)) >= 64 and count(k, (0, 0, 0x80)) >= 64


def img_pixels(kc, tmp_path):
    p = tmp_path / "img.png"
    run_ok(kc, f"img.save({str(p)!r})")
    return Image.open(p)


@pytest.mark.parametrize("code, name, words", [
    ("overlay(img, masks, colors=['red'])", "ValueError", ["colors has 1 colour for 3 masks"]),
    ("overlay(img, m, colors=[255, 0, 0])", "ValueError", ["colors=[[255, 0, 0]]"]),
    ("overlay(img, m, colors=['blurple'])", "ValueError", ["'blurple' is not a colour", "'#ff8800'"]),
    ("overlay(img, m, colors=['#12'])", "ValueError", ["not a hex colour"]),
    ("overlay(img, m, colors=[[300, 0, 0]])", "ValueError", ["integers from 0 to 255"]),
    ("overlay(img, m, colors=3)", "TypeError", ["one colour per mask"]),
    ("masks.overlay(colors=['red', 'red'])", "ValueError", ["2 colours for 3 masks"]),
    ("overlay(img, m, legend='yes')", "TypeError", ["legend"]),
    ("m.at(64, 0)", "IndexError", ["outside the 64x64 image", "from 0 to 63"]),
    ("m.at(-1, 3)", "IndexError", ["outside"]),
    ("m.region(10, 10, 10, 20)", "IndexError", ["x0 < x1 <= 64"]),
    ("m.region(0, 0, 65, 5)", "IndexError", ["does not fit the 64x64 image"]),
    ("m.region(0, 0, 5, 5, threshold=2)", "ValueError", ["threshold"]),
    ("m.save('m.csv')", "ValueError", [".npy (its probabilities", ".png (black and white"]),
    ("masks.save('m.png')", "ValueError", [".npz", "a folder"]),
    ("segment(seg, img.resize(300, 300), 'a cat')[0].values", "ValueError",
     ["300x300 (90,000 values)", "save(mask, 'mask.npy')"]),
])
def test_errors_keep_variables(seg, code, name, words):
    kc = seg
    ok(kc, "keep = 7")
    got, msg = err(kc, code)
    assert got == name, (code, got, msg)
    for w in words:
        assert w in msg, (code, w, msg)
    assert _printed(kc, "keep, len(masks)", LONG) == "7 3"
