"""test_save_pictures.py — save(value, path) for pictures through the
kernel, each file read by its real consumer: images as PNG (Pillow, pixel
for pixel), plots as PNG (Pillow, at twice the display size), SVG (an XML
parse: the display size, vector shapes and glyphs, no embedded picture
for line plots and small heat maps) and PDF (header, trailer, one page of
the display size); the errors (unknown extension with the formats listed,
missing folder, a folder or a file in the way, a value with no save) and
atomic replacement (no temporary file left, an earlier file replaced
whole or, on failure, kept)."""
import numpy as np
import pytest
from PIL import Image

from protocol_util import printed, run_error, run_ok
from save_checks import check_pdf, check_svg, no_temporaries, value


@pytest.fixture
def photo(kc, tmp_path):
    """A small RGB photo written by Pillow, loaded into the kernel as img."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (10, 20, 3), dtype=np.uint8)
    src = tmp_path / "photo.png"
    Image.fromarray(pixels).save(src)
    run_ok(kc, f"img = load_image({str(src)!r})")
    return pixels


def test_image_png_round_trip(kc, tmp_path, photo):
    a, b = tmp_path / "a.png", tmp_path / "b.PNG"
    run_ok(kc, f"save(img, {str(a)!r}); img.save({str(b)!r})")
    for p in (a, b):
        with Image.open(p) as im:
            assert im.format == "PNG" and im.mode == "RGB" and im.size == (20, 10)
            assert (np.asarray(im) == photo).all()
    no_temporaries(tmp_path)


def plot_size(kc, name):
    return value(kc, f"[{name}.width, {name}.height]")


@pytest.mark.parametrize("code, images", [
    ("plot([3, 1, 4, 1, 5], labels='loss', title='Loss')", False),
    ("figure(plot([1, 2, 3], title='a'), plot([3, 2, 1], logy=true, title='b'), title='two')", False),
    ("heatmap([[1, 2, 3], [4, 5, 6]], row_labels=['x', 'y'], col_labels=['a', 'b', 'c'])", False),
    ("image_grid([img, img.resize(10, 10)], captions=['one', 'two'], title='grid')", True),
])
def test_plot_formats(kc, tmp_path, photo, code, images):
    run_ok(kc, f"p = {code}")
    w, h = plot_size(kc, "p")
    png, svg, pdf = (str(tmp_path / f"p.{e}") for e in ("png", "svg", "pdf"))
    run_ok(kc, f"p.save({png!r}); save(p, {svg!r}); p.save({pdf!r})")
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (2 * w, 2 * h)  # drawn at 2x density
    check_svg(svg, w, h, images)
    check_pdf(pdf, w, h)
    no_temporaries(tmp_path)


def test_svg_keeps_text_and_is_not_a_picture(kc, tmp_path):
    """The SVG is the drawing itself: the title's glyphs are there as
    symbols, and there is no PNG inside (a picture in a frame would have
    passed a header check)."""
    svg = tmp_path / "t.svg"
    run_ok(kc, f"plot([1, 2, 3], title='Accuracy').save({str(svg)!r})")
    text = svg.read_text()
    assert "data:image/png" not in text and "<image" not in text
    assert text.count("<symbol") >= len(set("Accuracy")), text.count("<symbol")


def test_replacing_a_file(kc, tmp_path, photo):
    target = tmp_path / "out.png"
    target.write_bytes(b"an earlier file")
    run_ok(kc, f"img.save({str(target)!r})")
    with Image.open(target) as im:
        assert im.size == (20, 10)
    # a failed save (a format the value has not) leaves the earlier file
    keep = tmp_path / "keep.svg"
    keep.write_text("earlier")
    name, msg = run_error(kc, f"img.save({str(keep)!r})")
    assert name == "ValueError" and keep.read_text() == "earlier", msg
    no_temporaries(tmp_path)


def test_errors(kc, tmp_path, photo):
    run_ok(kc, "p = plot([1, 2]); keep = 7")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "folder.png").mkdir()
    cases = [
        (f"img.save({str(tmp_path / 'a.jpg')!r})", "ValueError",
         ["cannot save an image as '.jpg'", "an image saves as .png"]),
        (f"p.save({str(tmp_path / 'a.gif')!r})", "ValueError", [".png, .svg or .pdf"]),
        (f"save(p, {str(tmp_path / 'noext')!r})", "ValueError", ["has no extension", ".svg"]),
        (f"img.save({str(tmp_path / 'no' / 'such' / 'a.png')!r})", "FileNotFoundError",
         ["does not exist", "create it first"]),
        (f"p.save({str(tmp_path / 'afile' / 'a.svg')!r})", "NotADirectoryError",
         ["is a file, not a folder"]),
        (f"img.save({str(tmp_path / 'folder.png')!r})", "IsADirectoryError", ["is a folder"]),
        ("img.save('')", "ValueError", ["the path is empty"]),
        (f"save(3, {str(tmp_path / 'x.png')!r})", "TypeError", ["a value with a save method"]),
    ]
    for code, ename, words in cases:
        name, msg = run_error(kc, code)
        assert name == ename, (code, name, msg)
        for w in words:
            assert w in msg, (code, w, msg)
    assert printed(kc, "keep") == "7"
    no_temporaries(tmp_path)


def test_table_csv(kc, tmp_path):
    import csv
    p = tmp_path / "t.csv"
    run_ok(kc, "t = table([['cat', 0.91], ['a, \"b\"', none], ['two\\nlines', 3]], "
               f"header=['class', 'acc']); save(t, {str(p)!r})")
    with open(p, newline="") as f:
        assert list(csv.reader(f)) == [["class", "acc"], ["cat", "0.91"], ['a, "b"', ""],
                                       ["two\nlines", "3"]]
    name, msg = run_error(kc, f"t.save({str(tmp_path / 't.xlsx')!r})")
    assert name == "ValueError" and "a table saves as .csv" in msg, msg
