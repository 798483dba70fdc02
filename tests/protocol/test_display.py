"""test_display.py — pictures and live output over the protocol: images and
plots arrive as display_data / execute_result with a PNG that decodes (at
twice the logical size in the metadata), update_display_data replaces one
display_id, clear_output(wait=true) arrives, tables carry text/html, and a
progress bar is one display updated in place that ends clean when the cell
finishes or is interrupted."""
import base64
import os
import struct
import time
import zlib

import pytest

from ember_testenv import ROOT, SLOW
from protocol_util import TIMEOUT, collect, drain_iopub, run, shell_reply, types

SHARED = os.environ.get("EMBER_SHARED_DATA") or str(ROOT.parent / "shared" / "data")


def decode_png(b64):
    """Decodes a PNG by hand (no PIL): checks the signature, every chunk's
    CRC, and that the inflated IDAT holds exactly the rows IHDR promises.
    Returns (width, height, channels, rows of raw bytes incl. filter byte)."""
    data = base64.b64decode(b64, validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert ihdr, "no IHDR"
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and interlace == 0
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    assert len(raw) == h * (1 + w * channels), "IDAT does not hold width x height pixels"
    return w, h, channels, raw


def outputs(msgs, kind):
    return [m["content"] for m in msgs if m["msg_type"] == kind]


def test_plot_result_is_sharp_png(kc):
    reply, msgs = run(kc, "plot([[3, 2, 1.5, 1.2], [3.2, 2.5, 2.2, 2.1]], labels=['train', 'val'], "
                          "title='Loss', width=500, height=300)")
    assert reply["content"]["status"] == "ok"
    (res,) = outputs(msgs, "execute_result")
    assert res["data"]["text/plain"].startswith("<plot 500x300 'Loss', 2 lines>")
    assert res["metadata"]["image/png"] == {"width": 500, "height": 300}
    w, h, _, raw = decode_png(res["data"]["image/png"])
    assert (w, h) == (1000, 600)  # drawn at 2x for high-density screens
    assert len(set(raw)) > 10  # not a blank picture


def test_display_update_and_clear(kc):
    code = (
        "display(plot([1, 2, 3]), display_id='live')\n"
        "update_display(plot([3, 2, 1], title='second'), display_id='live')\n"
        "update_display(heatmap([[1, 2], [3, 4]], labels=['a', 'b']), display_id='live')\n"
        "display(table([['cat', 0.9]], header=['class', 'acc']))\n"
        "clear_output(wait=true)\n"
        "display('after clear')"
    )
    reply, msgs = run(kc, code)
    assert reply["content"]["status"] == "ok"
    kinds = [t for t in types(msgs) if t not in ("status", "execute_input")]
    assert kinds == ["display_data", "update_display_data", "update_display_data",
                     "display_data", "clear_output", "display_data"]
    first = outputs(msgs, "display_data")[0]
    updates = outputs(msgs, "update_display_data")
    assert first["transient"]["display_id"] == "live"
    assert all(u["transient"]["display_id"] == "live" for u in updates)
    assert updates[0]["data"]["text/plain"].startswith("<plot 640x400 'second'")
    for bundle in [first] + updates:
        w, h, _, _ = decode_png(bundle["data"]["image/png"])
        meta = bundle["metadata"]["image/png"]
        assert (w, h) == (2 * meta["width"], 2 * meta["height"])
    table = outputs(msgs, "display_data")[1]
    assert "<table" in table["data"]["text/html"] and "<td" in table["data"]["text/html"]
    assert outputs(msgs, "clear_output") == [{"wait": True}]


def test_update_without_id_is_an_error(kc):
    reply, msgs = run(kc, "update_display(plot([1, 2]))")
    assert reply["content"]["status"] == "error"
    assert "display_id" in reply["content"]["evalue"]


def test_loaded_image_displays(kc):
    path = os.path.join(SHARED, "images", "chelsea.png")
    if not os.path.isfile(path):
        pytest.skip(f"{path} not found (set EMBER_SHARED_DATA to the shared data folder)")
    reply, msgs = run(kc, f"img = load_image('{path}')\ndisplay(img)\n"
                          "image_grid([img, img.resize(90, 60)], captions=['cat', 'small cat'])")
    assert reply["content"]["status"] == "ok"
    (disp,) = outputs(msgs, "display_data")
    assert disp["data"]["text/plain"] == "<image 451x300 RGB>"
    w, h, channels, _ = decode_png(disp["data"]["image/png"])
    assert (w, h, channels) == (451, 300, 3)
    (grid,) = outputs(msgs, "execute_result")
    w, h, _, _ = decode_png(grid["data"]["image/png"])
    assert (w, h) == (2 * grid["metadata"]["image/png"]["width"], 2 * grid["metadata"]["image/png"]["height"])


def test_broken_image_error_names_file(kc, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00")
    reply, msgs = run(kc, f"load_image('{bad}')")
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "ValueError"
    assert "broken.png" in reply["content"]["evalue"]


def test_progress_bar_updates_one_display(kc):
    reply, msgs = run(kc, "progress_demo(30, 0.02, desc='work')", timeout=TIMEOUT + 10)
    assert reply["content"]["status"] == "ok"
    (first,) = outputs(msgs, "display_data")
    updates = outputs(msgs, "update_display_data")
    bar_id = first["transient"]["display_id"]
    assert bar_id.startswith("ember-progress-")
    assert all(u["transient"]["display_id"] == bar_id for u in updates)
    # 0.6 s of work at most ten updates a second, plus the final state
    assert 2 <= len(updates) <= 9, [u["data"]["text/plain"] for u in updates]
    assert "0/30" in first["data"]["text/plain"]
    last = updates[-1]["data"]
    assert last["text/plain"].startswith("work 100%|") and "30/30" in last["text/plain"]
    assert "it/s" in last["text/plain"]
    assert "<div" in last["text/html"] and "30/30" in last["text/html"]


def test_progress_bar_ends_on_interrupt(kernel):
    km, kc = kernel
    drain_iopub(kc)
    msg_id = kc.execute("progress_demo(1000, 0.01, desc='long')")
    time.sleep(0.6 * SLOW)
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id)
    msgs = collect(kc, msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    updates = outputs(msgs, "update_display_data")
    assert updates, "the bar was never updated"
    last = updates[-1]["data"]["text/plain"]
    assert last.startswith("long (interrupted)"), last
    assert "/1000" in last and "1000/1000" not in last
