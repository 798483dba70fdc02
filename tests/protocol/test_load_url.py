"""test_load_url.py — load_image(url) through the kernel, against a local
HTTP server on 127.0.0.1: the picture from a url is the one from the same
file on disk (PNG made here; the shared photos too when ../shared/data is
present), file:// urls, a progress bar for a big download only, and the
errors: 404 (status and url named), an HTML page instead of an image, a body
over the 64 MiB cap, an unsupported scheme, an interrupted download. Every
error leaves the earlier variables alone."""
import base64
import http.server
import os
import struct
import threading
import time
import zlib

import pytest

from ember_testenv import ROOT, SLOW
from protocol_util import (collect, drain_iopub, printed, run_error as err, run_ok as ok,
                           shell_reply)

SHARED = os.environ.get("EMBER_SHARED_DATA") or str(ROOT.parent / "shared" / "data")
IMAGES = os.path.join(SHARED, "images")


def png(width, height, pixels, level=6):
    """An 8-bit RGB PNG of pixels (bytes, row-major), written by hand."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\0" + pixels[y * width * 3:(y + 1) * width * 3] for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows, level)) + chunk(b"IEND", b""))


def pattern_png(width, height):
    px = bytes(((x * 7 + y * 3) % 256 if c == 0 else (x * y) % 251 if c == 1 else (x ^ y) & 255)
               for y in range(height) for x in range(width) for c in range(3))
    return png(width, height, px)


HTML = b"<!DOCTYPE html>\n<html><head><title>A cat</title></head><body><img src=cat.png></body></html>\n"


class Server:
    """Files by name, an HTML page, an over-cap body and a trickle; 404 elsewhere."""

    def __init__(self, files):
        outer = self
        self.stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def head(self, status, length, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()

            def do_GET(self):
                path = self.path.split("?")[0]
                try:
                    if path in files:
                        body, ctype = files[path]
                        self.head(200, len(body), ctype)
                        self.wfile.write(body)
                    elif path == "/page.html":
                        self.head(200, len(HTML), "text/html; charset=utf-8")
                        self.wfile.write(HTML)
                    elif path == "/huge.png":
                        # announces 100 MiB; the client must give up at once
                        self.head(200, 100 << 20, "image/png")
                        self.wfile.write(b"\x89PNG\r\n\x1a\n" + bytes(65536))
                    elif path == "/trickle.png":
                        self.head(200, 10 << 20, "image/png")
                        self.wfile.write(b"\x89PNG\r\n\x1a\n")
                        for _ in range(600):
                            if outer.stop.is_set():
                                break
                            self.wfile.write(bytes(2048))
                            self.wfile.flush()
                            time.sleep(0.05)
                    else:
                        self.send_error(404)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    d = tmp_path_factory.mktemp("load_url")
    small = pattern_png(37, 23)
    (d / "small.png").write_bytes(small)
    # over 2 MB and incompressible, so the download shows a bar
    big = png(1000, 800, os.urandom(1000 * 800 * 3), level=0)
    (d / "big.png").write_bytes(big)
    files = {"/small.png": (small, "image/png"), "/big.png": (big, "image/png")}
    for name in ("chelsea.png", "rocket.jpg"):
        p = os.path.join(IMAGES, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                files["/" + name] = (f.read(), "image/jpeg" if name.endswith("jpg") else "image/png")
    srv = Server(files)
    yield srv, d
    srv.close()


def picture(msgs):
    for m in msgs:
        if m["msg_type"] == "execute_result":
            data = m["content"]["data"]
            return data["text/plain"], base64.b64decode(data["image/png"])
    raise AssertionError("no execute_result")


def same_picture(kc, url, path):
    by_url = picture(ok(kc, f"u = load_image({url!r}); u", timeout=60 * SLOW))
    by_path = picture(ok(kc, f"p = load_image({path!r}); p"))
    assert by_url[0] == by_path[0]
    assert by_url[1] == by_path[1], f"{url}: the picture differs from {path}'s"
    assert printed(kc, "u.shape == p.shape, u.mode") == "true " + by_path[0].split()[-1][:-1]
    return by_url[0]


def test_url_gives_the_file_picture(kc, site):
    srv, d = site
    text = same_picture(kc, srv.url + "/small.png", str(d / "small.png"))
    assert text == "<image 37x23 RGB>"
    # query strings and upper-case schemes are fine
    same_picture(kc, srv.url.replace("http", "HTTP") + "/small.png?v=1", str(d / "small.png"))
    # file:// reads the disk
    same_picture(kc, "file://" + str(d / "small.png"), str(d / "small.png"))


@pytest.mark.parametrize("name,size", [("chelsea.png", "451x300 RGB"), ("rocket.jpg", "640x427 RGB")])
def test_shared_photos_by_url(kc, site, name, size):
    srv, _ = site
    path = os.path.join(IMAGES, name)
    if not os.path.isfile(path):
        pytest.skip(f"{path} is missing (the shared data); set EMBER_SHARED_DATA")
    assert same_picture(kc, f"{srv.url}/{name}", path) == f"<image {size}>"


def test_big_download_shows_a_bar_small_does_not(kc, site):
    srv, _ = site
    msgs = ok(kc, f"b = load_image({srv.url + '/big.png'!r}); b",
              timeout=120 * SLOW)
    bars = [m for m in msgs if m["msg_type"] in ("display_data", "update_display_data")]
    assert bars, "no progress bar for a 2.4 MB download"
    last = bars[-1]["content"]["data"]["text/plain"]
    assert last.startswith("downloading image") and "MB" in last, last
    assert picture(msgs)[0] == "<image 1000x800 RGB>"
    msgs = ok(kc, f"s = load_image({srv.url + '/small.png'!r})")
    assert not [m for m in msgs if m["msg_type"] in ("display_data", "update_display_data")]


def test_errors_name_the_url_and_keep_variables(kc, site):
    srv, d = site
    ok(kc, "keep = 41 + 1")
    url = srv.url + "/missing.png"
    name, msg = err(kc, f"load_image({url!r})")
    assert name == "OSError" and "HTTP 404" in msg and url in msg, (name, msg)

    url = srv.url + "/page.html"
    name, msg = err(kc, f"load_image({url!r})")
    assert name == "ValueError", (name, msg)
    assert url in msg and "text/html" in msg and "<!DOCTYPE html>" in msg, msg
    assert "must point at a PNG or JPEG file" in msg, msg

    url = srv.url + "/huge.png"
    t0 = time.monotonic()
    name, msg = err(kc, f"load_image({url!r})")
    assert name == "OSError" and "64 MiB" in msg and url in msg, (name, msg)
    assert time.monotonic() - t0 < 20 * SLOW

    name, msg = err(kc, "load_image('ftp://127.0.0.1/cat.png')")
    assert name == "ValueError" and "http://, https:// and file://" in msg, (name, msg)
    gone = "file://" + str(d / "gone.png")
    name, msg = err(kc, f"load_image({gone!r})")
    assert name == "FileNotFoundError" and "gone.png" in msg, (name, msg)
    assert printed(kc, "keep") == "42"


def test_messages_say_things_once(kc, site):
    """load_image's name leads its errors once, and a path appears once: an
    empty name once gave "load_image: load_image: no file name given"."""
    srv, d = site
    name, msg = err(kc, "load_image('')")
    assert msg == "load_image: no file name given", (name, msg)
    cut = d / "cut.png"
    whole = (d / "small.png").read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    for arg in (str(cut), "file://" + str(cut)):
        name, msg = err(kc, f"load_image({arg!r})")
        assert name == "ValueError" and "truncated" in msg, (name, msg)
        assert not msg.startswith("load_image: load_image") and msg.count(str(cut)) == 1, msg


def test_interrupt_stops_a_download(kernel, site):
    km, kc = kernel
    srv, _ = site
    drain_iopub(kc)
    ok(kc, "keep2 = 'still here'")
    msg_id = kc.execute(f"t = load_image({srv.url + '/trickle.png'!r})")
    time.sleep(1.0 * SLOW)
    t0 = time.monotonic()
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id, timeout=30 * SLOW)
    collect(kc, msg_id, timeout=30 * SLOW)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - t0 < 10 * SLOW
    assert printed(kc, "keep2") == "still here"
    name, _ = err(kc, "t")
    assert name == "NameError"
