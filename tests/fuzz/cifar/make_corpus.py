"""make_corpus.py — writes the seed corpus of fuzz_cifar: tiny archives laid
out as the official cifar-10-binary.tar.gz (a few records per batch, smooth
pixels so they compress) and raw records. Deterministic: fixed mtimes."""
import gzip
import io
import os
import tarfile

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
DIR = "cifar-10-batches-bin/"
META = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"


def records(labels, seed):
    out = bytearray()
    for i, label in enumerate(labels):
        out.append(label)
        for c in range(3):
            out += bytes(((x + y) * (c + 1) + seed + i) & 0xFF for y in range(32) for x in range(32))
    return bytes(out)


def tar(files, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tgz(files, **kw):
    return gzip.compress(tar(files, **kw), compresslevel=9, mtime=0)


def write(name, data):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)


os.makedirs(here, exist_ok=True)
official = [(DIR + "batches.meta.txt", META),
            (DIR + "data_batch_1.bin", records([6, 9], 0)),
            (DIR + "data_batch_2.bin", records([1], 7)),
            (DIR + "test_batch.bin", records([3], 11))]
write("official.tar.gz", tgz(official))
write("no_meta.tar.gz", tgz(official[1:], fmt=tarfile.PAX_FORMAT))
write("bad_label.tar.gz", tgz([(DIR + "data_batch_1.bin", records([12], 1))]))
write("truncated.tar.gz", tgz([(DIR + "test_batch.bin", records([0], 0)[:3000])]))
write("test_only.tar", tar([(DIR + "test_batch.bin", records([2], 5))]))
write("raw_records.bin", records([0, 4], 3))

# structured mode (fuzz_cifar.c, build_tar): 0xC1, then per entry flags and
# what they ask for
NAME = {"data_batch_1.bin": 0, "data_batch_2.bin": 1, "data_batch_10.bin": 2, "test_batch.bin": 3,
        "batches.meta.txt": 4, "data_batch_0.bin": 5}


def named(name, content=None, labels=None, in_dir=True, truncate=False):
    flags = 2 | (1 if in_dir else 0) | (16 if truncate else 0)
    if labels is not None:
        return bytes([flags | 8, NAME[name], len(labels)]) + bytes(labels)
    return bytes([flags, NAME[name]]) + len(content).to_bytes(2, "little") + content


def folder(path):
    return bytes([4, len(path)]) + path.encode()


S = b"\xc1"
write("s_official", S + folder("cifar-10-batches-bin/") + named("batches.meta.txt", b"\r\n  zero \n" + b"\n".join(b"class %d" % i for i in range(1, 10)) + b"\n\n")
      + named("data_batch_10.bin", labels=[1]) + named("data_batch_2.bin", labels=[6, 9])
      + named("data_batch_1.bin", labels=[0]) + named("test_batch.bin", labels=[3, 3]))
write("s_duplicate", S + named("data_batch_1.bin", labels=[1]) + named("data_batch_1.bin", labels=[2], in_dir=False))
write("s_bad_meta", S + named("batches.meta.txt", META + b"eleventh\n") + named("test_batch.bin", labels=[1])
      + named("data_batch_1.bin", labels=[5]))
write("s_truncated", S + named("test_batch.bin", labels=[4]) + named("data_batch_1.bin", labels=[1, 2], truncate=True))
