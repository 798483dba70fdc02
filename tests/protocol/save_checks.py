"""save_checks.py — what the test_save_*.py modules share: reading values
back from the kernel as Python values, and structural checks of the SVG
and PDF documents plots save (an XML parse of the SVG, the PDF's header,
trailer, page count and page size)."""
import ast
import re
import xml.etree.ElementTree as ET

from protocol_util import printed

SVG = "{http://www.w3.org/2000/svg}"


def value(kc, expr, timeout=None):
    """expr evaluated in the kernel, printed, and read back as Python
    (none/true/false spelled as the language prints them)."""
    text = printed(kc, f"repr({expr})", timeout)
    text = re.sub(r"\bnone\b", "None", text)
    text = re.sub(r"\btrue\b", "True", text)
    text = re.sub(r"\bfalse\b", "False", text)
    return ast.literal_eval(text)


def check_svg(path, width, height, images):
    """An SVG of width x height CSS pixels drawn with vector shapes and
    glyphs; images: whether pictures are embedded (grids, dense maps) or
    must not be (line plots and small heat maps are vectors only)."""
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg", root.tag
    assert root.get("width") == f"{width}px" and root.get("height") == f"{height}px", root.attrib
    assert root.get("viewBox") == f"0 0 {width} {height}", root.attrib
    tags = {el.tag for el in root.iter()}
    assert SVG + "path" in tags and SVG + "use" in tags, tags  # shapes and text glyphs
    assert (SVG + "image" in tags) == images, (path, tags)


def check_pdf(path, width, height):
    """A one-page PDF of width x height points."""
    data = open(path, "rb").read()
    assert data.startswith(b"%PDF-1."), data[:16]
    assert data.rstrip().endswith(b"%%EOF"), data[-32:]
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    assert re.search(rb"/Count\s+1\b", data)
    assert re.search(rb"/MediaBox\s*\[\s*0\s+0\s+%d\s+%d\s*\]" % (width, height), data), \
        re.findall(rb"/MediaBox[^\]]*\]", data)


def no_temporaries(folder):
    """Nothing a save writes while it runs is left behind."""
    left = [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert not left, left
