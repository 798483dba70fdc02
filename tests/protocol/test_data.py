"""test_data.py — datasets and augmentations through the kernel: cifar10()
reading the shared CIFAR-10 subset and downloading an archive from a local
HTTP server (then reading it from the cache without the server), the dataset
value (len, indexing, classes, take), the transforms' torchvision-like reprs
and argument errors, apply() and preview() pictures."""
import base64
import hashlib
import http.server
import io
import os
import tarfile
import threading

import pytest

from ember_testenv import ROOT
from protocol_util import printed, run_error as err, run_ok as ok, result_data as result

SHARED = os.environ.get("EMBER_SHARED_DATA") or str(ROOT.parent / "shared" / "data")
SUBSET = os.path.join(SHARED, "cifar10-subset", "cifar-10-subset-binary.tar.gz")
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]


def need_subset():
    if not os.path.isfile(SUBSET):
        pytest.skip(f"the shared CIFAR-10 subset is missing ({SUBSET}); set EMBER_SHARED_DATA")


def records(labels, seed):
    """CIFAR records: label, then 1024 R, G, B bytes (a pattern from seed)."""
    out = bytearray()
    for i, lab in enumerate(labels):
        out.append(lab)
        out += bytes(((seed * 31 + i * 7 + j) % 256) for j in range(3072))
    return bytes(out)


def synthetic_archive(n_train=10, n_test=5):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name, data):
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("batches.meta.txt", ("\n".join(CLASSES) + "\n\n").encode())
        add("data_batch_1.bin", records([i % 10 for i in range(n_train)], 1))
        add("test_batch.bin", records([(i * 3) % 10 for i in range(n_test)], 2))
    return buf.getvalue()


class Server:
    """Serves one archive at /cifar.tar.gz on 127.0.0.1; 404 elsewhere."""

    def __init__(self, body):
        outer = self
        self.hits = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/cifar.tar.gz":
                    outer.hits += 1
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_shared_subset(kc):
    need_subset()
    msgs = ok(kc, f"train = cifar10('train', root={SUBSET!r}); train")
    data = result(msgs)
    assert data["text/plain"] == "<dataset CIFAR-10 train: 4,000 images 32x32 RGB, 10 classes>"
    html = data["text/html"]
    assert "airplane" in html and "truck" in html and "396" in html
    ok(kc, f"test = cifar10('test', root={SUBSET!r})")
    assert printed(kc, "len(train), len(test)") == "4000 1000"
    assert printed(kc, "train.labels[:5], test.labels[:5]") == "[6, 9, 9, 4, 1] [3, 8, 8, 0, 6]"
    assert printed(kc, "train.class_counts") == "[396, 366, 420, 384, 422, 393, 414, 385, 407, 413]"
    assert printed(kc, "test.class_counts") == "[103, 89, 100, 103, 90, 86, 112, 102, 106, 109]"
    assert printed(kc, "train.classes") == str(CLASSES)
    assert printed(kc, "train.shape") == "[4000, 32, 32, 3]"
    assert printed(kc, "train[0], train[-1].shape, train.label(0)") == \
        "<image 32x32 RGB> [32, 32, 3] 6"
    assert printed(kc, "train.classes[train.label(1)]") == "truck"
    small = ok(kc, "small = train.take(100, start=10); small")
    assert result(small)["text/plain"].startswith("<dataset CIFAR-10 train [10:110]: 100 images")
    assert printed(kc, "small.labels == train.labels[10:110]") == "true"
    name, msg = err(kc, "train[4000]")
    assert name == "IndexError" and "4000" in msg
    name, msg = err(kc, "train.take(0)")
    assert name == "ValueError" and "n must be a positive integer" in msg


def test_cifar10_argument_errors(kc, tmp_path):
    ok(kc, "keep = 41 + 1")
    name, msg = err(kc, "cifar10('val')")
    assert name == "ValueError" and "'train' or 'test'" in msg and "'val'" in msg
    name, msg = err(kc, f"cifar10('train', root={str(tmp_path / 'nothing')!r}, download=false)")
    assert name in ("FileNotFoundError", "OSError"), (name, msg)
    assert "nothing" in msg and "download" in msg
    name, msg = err(kc, "cifar10('train', md5='xyz')")
    assert name == "ValueError" and "md5" in msg
    bad = tmp_path / "broken.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08 this is not gzip data")
    name, msg = err(kc, f"cifar10('train', root={str(bad)!r})")
    assert name in ("OSError", "ValueError") and "broken.tar.gz" in msg, (name, msg)
    assert printed(kc, "keep") == "42"


def test_download_then_cache(kc, tmp_path):
    body = synthetic_archive()
    md5 = hashlib.md5(body).hexdigest()
    srv = Server(body)
    cache = tmp_path / "cache"
    try:
        name, msg = err(kc, f"cifar10('train', root={str(cache)!r}, url={srv.url + '/missing'!r})")
        assert "404" in msg, msg
        msgs = ok(kc, f"d = cifar10('train', root={str(cache)!r}, url={srv.url + '/cifar.tar.gz'!r},"
                      f" md5={md5!r}); d")
        assert result(msgs)["text/plain"].startswith("<dataset CIFAR-10 train: 10 images")
        assert srv.hits == 1
        assert (cache / "cifar-10-binary.tar.gz").is_file()
        assert not list(cache.glob("*.part"))
    finally:
        srv.close()
    # the server is gone: the cached archive serves the test split
    msgs = ok(kc, f"t = cifar10('test', root={str(cache)!r}, url={srv.url + '/cifar.tar.gz'!r},"
                  f" md5={md5!r}); t")
    assert result(msgs)["text/plain"].startswith("<dataset CIFAR-10 test: 5 images")
    assert printed(kc, "t.labels") == "[0, 3, 6, 9, 2]"
    # a wrong md5 for the cached file says it is corrupt and how to recover
    name, msg = err(kc, f"cifar10('test', root={str(cache)!r}, md5={'0' * 32!r})")
    assert "md5" in msg.lower() and "delete" in msg.lower(), msg


def test_messages_say_things_once(kc, tmp_path):
    """cifar10()'s errors carry its name once, and a path once: they once
    read "cifar10: cifar10: downloading ..." (the library prefixed the
    builtin's name, and the binding did too)."""
    def once(msg, *parts):
        assert msg.startswith("cifar10: ") and not msg.startswith("cifar10: cifar10"), msg
        for p in parts:
            assert msg.count(p) == 1, (p, msg)

    dead = "http://127.0.0.1:9/cifar.tar.gz"
    name, msg = err(kc, f"cifar10('train', root={str(tmp_path / 'cache')!r}, url={dead!r})")
    once(msg, "downloading", dead)
    gone = str(tmp_path / "gone.tar.gz")
    name, msg = err(kc, f"cifar10('train', root={gone!r})")
    assert "does not exist" in msg, msg
    once(msg, gone)
    cut = tmp_path / "cut.tar.gz"
    whole = synthetic_archive(n_train=40)
    cut.write_bytes(whole[: len(whole) // 2])
    name, msg = err(kc, f"cifar10('train', root={str(cut)!r})")
    once(msg, str(cut))


RECIPE = ("compose(random_crop(32, padding=4), hflip(), "
          "color_jitter(brightness=0.2, contrast=0.2, saturation=0.2), "
          "random_affine(degrees=15, translate=0.1), random_rotation(15), "
          "normalize(mean=[0.4914, 0.4822, 0.4465], std=[0.2471, 0.2435, 0.2616]))")


def test_transform_reprs(kc):
    msgs = ok(kc, f"aug = {RECIPE}; aug")
    assert result(msgs)["text/plain"] == (
        "Compose(\n"
        "    RandomCrop(size=(32, 32), padding=4)\n"
        "    RandomHorizontalFlip(p=0.5)\n"
        "    ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2)\n"
        "    RandomAffine(degrees=[-15, 15], translate=(0.1, 0.1))\n"
        "    RandomRotation(degrees=[-15, 15])\n"
        "    Normalize(mean=[0.4914, 0.4822, 0.4465], std=[0.2471, 0.2435, 0.2616])\n"
        ")")
    assert printed(kc, "len(aug), aug[1], aug[-1]") == (
        "6 RandomHorizontalFlip(p=0.5) "
        "Normalize(mean=[0.4914, 0.4822, 0.4465], std=[0.2471, 0.2435, 0.2616])")
    assert printed(kc, "type(aug)") == "transform"
    # composing pipelines flattens them
    assert printed(kc, "len(compose(aug[0], compose(hflip(), random_rotation(5))))") == "3"


@pytest.mark.parametrize("code, name, words", [
    ("hflip(p=2)", "ValueError", "hflip: p must be a probability from 0 to 1, got 2"),
    ("random_crop(0)", "ValueError", "random_crop: size must be"),
    ("random_crop(32, padding=-1)", "ValueError", "padding must be"),
    ("color_jitter(brightness=-0.5)", "ValueError", "brightness must be"),
    ("random_affine(degrees=200)", "ValueError", "degrees must be"),
    ("random_affine(15, translate=2)", "ValueError", "translate must be"),
    ("normalize([0.5, 0.5], [0.2, 0.2])", "TypeError", "1 or 3 numbers"),
    ("normalize([0.5], [0])", "ValueError", "std must be positive"),
    ("compose()", "TypeError", "at least one transform"),
    ("compose(hflip(), 3)", "TypeError", "argument 2 is int, not a transform"),
    ("compose(normalize([0.5], [0.2]), hflip())", "ValueError", "normalize must be the last"),
])
def test_transform_errors(kc, code, name, words):
    ok(kc, "kept = 'still here'")
    got_name, msg = err(kc, code)
    assert got_name == name and words in msg, (got_name, msg)
    assert printed(kc, "kept") == "still here"


def test_apply_and_preview(kc):
    need_subset()
    ok(kc, f"tr = cifar10('train', root={SUBSET!r}); aug = {RECIPE}")
    a = result(ok(kc, "aug.apply(tr[0], seed=1, index=0)"))
    b = result(ok(kc, "aug.apply(tr[0], seed=1, index=0)"))
    c = result(ok(kc, "aug.apply(tr[0], seed=1, index=5)"))
    assert a["text/plain"] == "<image 32x32 RGB>"
    assert a["image/png"] == b["image/png"], "the same seed and index must give the same picture"
    assert a["image/png"] != c["image/png"]
    base64.b64decode(a["image/png"], validate=True)
    # a crop to a smaller size changes the size
    assert printed(kc, "random_crop(24).apply(tr[3]).shape") == "[24, 24, 3]"
    msgs = ok(kc, "preview(tr, aug, n=8)")
    data = result(msgs)
    assert data["text/plain"].startswith("<image grid") and "8 images" in data["text/plain"]
    assert "CIFAR-10 train, augmented" in data["text/plain"]
    name, msg = err(kc, "preview(tr, 3)")
    assert name == "TypeError" and "augment must be a transform or none" in msg
    name, msg = err(kc, "preview([1], aug)")
    assert name == "TypeError" and "dataset must be a dataset" in msg
