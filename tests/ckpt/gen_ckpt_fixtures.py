"""gen_ckpt_fixtures.py — PyTorch checkpoints for tests/ckpt/test_torch_ckpt.c
and seeds for tests/fuzz/torch_ckpt: files written by torch.save itself,
each with a safetensors twin holding the values Ember must read from it (the
same names; float16 and float64 as float32, int16 and int8 as int32, bool as
uint8), plus hostile and damaged files, each built by hand, that must be
refused. Nothing here is run by CI; regenerate with

    python3 tests/ckpt/gen_ckpt_fixtures.py      # needs torch, safetensors, numpy

Writes tests/fixtures/torch/ and tests/fuzz/torch_ckpt/corpus/. Every file
comes out the same on each run except legacy.pt and torchscript.pt, in which
torch writes object ids and fresh names."""
import collections
import io
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zipfile

import numpy as np
import torch
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "tests", "fixtures", "torch")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "torch_ckpt", "corpus")
sys.path.insert(0, os.path.join(ROOT, "bench"))
from torch_vit import ViT  # noqa: E402  the reference model, for real state-dict names

STAMP = (1980, 1, 1, 0, 0, 0)  # zip dates, so that regenerating gives the same bytes

# The ViT of the fixture: what tests/ckpt/test_torch_ckpt.c builds with Ember.
VIT = dict(image_size=16, patch=4, in_chans=3, dim=16, depth=2, heads=2, mlp_hidden=32, num_classes=10)


def path(name):
    return os.path.join(OUT, name)


def expected(t):
    """What Ember reads for tensor t, as a contiguous numpy array."""
    t = t.detach().contiguous().clone()
    if t.dtype in (torch.float16, torch.float64):
        # numpy's IEEE conversions: f16 exact (NaN payloads kept, where torch's
        # CPU cast sets them all), f64 rounded to nearest, overflow to inf
        with np.errstate(over="ignore"):
            return t.numpy().astype(np.float32)
    if t.dtype in (torch.int16, torch.int8):
        return t.to(torch.int32).numpy()
    if t.dtype == torch.bool:
        return t.to(torch.uint8).numpy()
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: the raw bits, re-labelled BF16 below
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


def save_twin(name, flat):
    """flat: {name: tensor} -> <name>.safetensors with Ember's dtypes."""
    arrays, bf16 = {}, []
    for k, t in flat.items():
        arrays[k] = expected(t)
        if t.dtype == torch.bfloat16:
            bf16.append(k)
    save_file(arrays, path(name))
    if bf16:  # relabel the uint16 arrays as BF16 in the header (same bytes)
        raw = open(path(name), "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        hdr = raw[8:8 + n].decode()
        import json
        h = json.loads(hdr)
        for k in bf16:
            h[k]["dtype"] = "BF16"
        hdr2 = json.dumps(h, separators=(",", ":")).encode()
        hdr2 += b" " * ((8 - len(hdr2) % 8) % 8)
        open(path(name), "wb").write(struct.pack("<Q", len(hdr2)) + hdr2 + raw[8 + n:])


# ---- files torch.save writes -------------------------------------------------

def gen_vit():
    torch.manual_seed(0)
    sd = ViT(**VIT).state_dict()
    torch.save(sd, path("vit_tiny.pt"))
    save_twin("vit_tiny.safetensors", sd)


def mixed_dict():
    torch.manual_seed(1)
    base = torch.randn(12)
    sd = collections.OrderedDict()
    sd["a"] = base.view(3, 4)                       # shares base's storage ...
    sd["b"] = base.view(3, 4).t()                   # ... transposed: not contiguous
    sd["c"] = base[2:8]                             # ... with a storage offset
    sd["d"] = base.view(2, 6)[:, ::2]               # ... every other column
    sd["perm"] = torch.randn(2, 3, 4, 5).permute(3, 1, 0, 2)  # 4-d, no stride in order
    sd["x"] = torch.tensor([7.5]).expand(2, 3)      # stride 0
    sd["s"] = torch.tensor(3.25)                    # a scalar
    sd["e"] = torch.zeros(0, 3)                     # no elements
    sd["h"] = torch.tensor([1.0, -2.5, 65504.0, 6e-8, 1e-5, float("inf"), -0.0, 0.333], dtype=torch.float16)
    sd["h_nan"] = torch.tensor([float("nan")], dtype=torch.float16)
    sd["bf"] = torch.tensor([1.0, -3.140625, 1e30, 2e-39], dtype=torch.bfloat16)
    sd["f64"] = torch.tensor([0.1, -1e300, 1e300, 3.4028235677973366e38, 1e-320, 2.0 / 3.0], dtype=torch.float64)
    sd["i64"] = torch.tensor([-(2 ** 62), 0, 2 ** 40 + 3])
    sd["i32"] = torch.tensor([-7, 2 ** 31 - 1], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 32767, -1], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, -1], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["p"] = torch.nn.Parameter(torch.randn(2, 2))  # _rebuild_parameter
    sd["h_t"] = torch.randn(3, 2).to(torch.float16).t()  # converted AND strided
    return sd


def gen_mixed():
    sd = mixed_dict()
    torch.save(sd, path("mixed.pt"))
    torch.save(sd, path("mixed_p4.pt"), pickle_protocol=4)  # FRAME, MEMOIZE, STACK_GLOBAL
    # the same members, deflated (torch.load reads this too)
    src = zipfile.ZipFile(path("mixed.pt"))
    with zipfile.ZipFile(path("mixed_deflate.pt"), "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(zipfile.ZipInfo(info.filename, STAMP), src.read(info.filename),
                       compress_type=zipfile.ZIP_DEFLATED)
    assert torch.load(path("mixed_deflate.pt"))["b"].equal(sd["b"])
    save_twin("mixed.safetensors", sd)


def gen_nested():
    torch.manual_seed(2)
    lin = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(lin.parameters(), lr=1e-3)
    lin(torch.randn(4, 3)).sum().backward()
    opt.step()
    t_attr = torch.ones(2)
    t_attr.note = "kept by _rebuild_from_type_v2"
    ckpt = {
        "model": lin.state_dict(),
        "optimizer": opt.state_dict(),  # tensors under int keys: state.0.exp_avg
        "epoch": 3,
        "best": np.float64(0.5),
        "config": {"lr": 1e-3, "betas": (0.9, 0.999), "name": "vit", "none": None, "big": 2 ** 70},
        "device": torch.device("cuda", 0),
        "dtype": torch.float16,
        "size": torch.Size([2, 3]),
        "tags": {1, 2},  # ints: a set of str pickles in a per-process hash order
        "raw": b"\x00\x01",
        "history": [torch.tensor([0.9, 0.8]), {"acc": torch.tensor(0.5)}],
        "attr": t_attr,
        (1, 2): torch.zeros(1),  # a key that is not a name: left out
    }
    torch.save(ckpt, path("nested.pt"))
    flat = {}

    def walk(prefix, v):
        if isinstance(v, torch.Tensor):
            flat[prefix] = v
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, (str, int)) and not isinstance(k, bool):
                    walk(f"{prefix}.{k}" if prefix else str(k), x)
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(f"{prefix}.{i}" if prefix else str(i), x)

    walk("", ckpt)
    save_twin("nested.safetensors", flat)


def gen_refused_by_torch():
    torch.manual_seed(3)
    sd = {"w": torch.randn(2, 2)}
    torch.save(sd, path("legacy.pt"), _use_new_zipfile_serialization=False)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.l(x)

    torch.jit.save(torch.jit.script(M()), path("torchscript.pt"))
    torch.save({"z": torch.zeros(2, dtype=torch.complex64)}, path("bad_complex.pt"))
    torch.save({"w": torch.zeros(1, 1, 1, 1, 1, 1, 2)}, path("bad_7d.pt"))
    np.savez(path("bad_npz.npz"), a=np.zeros(3))
    open(path("bad_pickle.pkl"), "wb").write(pickle.dumps({"w": [1, 2]}, protocol=2))


# ---- hostile and damaged files, built by hand --------------------------------

def zip_ckpt(name, pkl, storages=None, folder="archive", byteorder=b"little", extra=None, drop=(),
             compression=zipfile.ZIP_STORED):
    """A zip laid out like torch.save's (stored members, unless deflated)."""
    with zipfile.ZipFile(path(name), "w", compression) as z:
        put = lambda n, b: z.writestr(zipfile.ZipInfo(n, STAMP), b, compress_type=compression)
        put(f"{folder}/data.pkl", pkl)
        if byteorder is not None:
            put(f"{folder}/byteorder", byteorder)
        for k, b in (storages or {}).items():
            if k not in drop:
                put(f"{folder}/data/{k}", b)
        for k, b in (extra or {}).items():
            put(f"{folder}/{k}", b)
        put(f"{folder}/version", b"3\n")


class Call:
    """Pickles as fn(*args), like a __reduce__ gadget."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def P(*parts):
    return b"".join(p if isinstance(p, bytes) else bytes(p) for p in parts)


def u(s):  # SHORT_BINUNICODE
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def glob(mod, name):  # GLOBAL
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


def binint(v):
    return b"J" + struct.pack("<i", v)


def tup(xs):
    return b"(" + b"".join(binint(x) if -2 ** 31 <= x < 2 ** 31 else b"\x8a\x08" + struct.pack("<q", x)
                           for x in xs) + b"t"


def tensor_expr(key="0", storage="FloatStorage", numel=12, offset=0, size=(3, 4), stride=(4, 1)):
    """_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()), as torch.save pickles it."""
    return P(glob("torch._utils", "_rebuild_tensor_v2"), b"(",
             b"(", u("storage"), glob("torch", storage), u(key), u("cpu"), tup([numel])[1:-1], b"tQ",
             binint(offset), tup(size), tup(stride), b"\x89", glob("collections", "OrderedDict"), b")R",
             b"tR")


def tensor_pickle(name="w", **kw):
    """{name: tensor}, protocol 2."""
    return P(b"\x80\x02}", u(name), tensor_expr(**kw), b"s.")


def f32(n):
    return np.arange(n, dtype=np.float32).tobytes()


def gen_hostile():
    p2 = lambda obj: pickle.dumps(obj, protocol=2)
    p4 = lambda obj: pickle.dumps(obj, protocol=4)
    zip_ckpt("bad_os_system.pt", p2({"w": Call(os.system, "echo pwned")}))          # posix.system
    zip_ckpt("bad_os_system_p4.pt", p4({"w": Call(os.system, "echo pwned")}))       # STACK_GLOBAL
    zip_ckpt("bad_os_system_named.pt", P(b"\x80\x02", glob("os", "system"), u("id"), b"\x85R."))
    zip_ckpt("bad_eval.pt", p4({"w": Call(eval, "__import__('os').system('echo pwned')")}))
    zip_ckpt("bad_exec.pt", p4({"w": Call(exec, "import os; os.system('echo pwned')")}))
    zip_ckpt("bad_popen.pt", p4({"w": Call(subprocess.Popen, ["touch", "/tmp/pwned"])}))
    # a gadget in the middle of a real state dict: the refusal comes before
    # anything is built
    sd = collections.OrderedDict(a=torch.ones(2), b=Call(os.system, "echo pwned"))
    buf = io.BytesIO()
    torch.save(sd, buf)
    open(path("bad_gadget_in_sd.pt"), "wb").write(buf.getvalue())
    # gadgets made of allowed globals used the wrong way
    zip_ckpt("bad_rebuild_args.pt", P(b"\x80\x02}", u("w"), glob("torch._utils", "_rebuild_tensor_v2"), b"(",
                                      u("not a storage"), binint(0), b"(K\x02t(K\x01t\x89",
                                      glob("collections", "OrderedDict"), b")RtRs."))
    zip_ckpt("bad_reduce_str.pt", P(b"\x80\x02}", u("w"), u("os.system"), u("id"), b"\x85Rs."))
    zip_ckpt("bad_inst.pt", P(b"\x80\x02(", u("id"), b"iposix\nsystem\n."))
    zip_ckpt("bad_ext.pt", P(b"\x80\x02\x82\x01."))
    zip_ckpt("bad_nostop.pt", P(b"\x80\x02}", u("w"), binint(1), b"s"))
    # storages and views that do not fit
    zip_ckpt("bad_view_oob.pt", tensor_pickle(size=(5, 4)), {"0": f32(12)})
    zip_ckpt("bad_short_storage.pt", tensor_pickle(), {"0": f32(8)})
    zip_ckpt("bad_long_storage.pt", tensor_pickle(), {"0": f32(16)})
    zip_ckpt("bad_missing_storage.pt", tensor_pickle(), {"0": f32(12)}, drop=("0",))
    zip_ckpt("bad_huge_size.pt", tensor_pickle(size=(2 ** 31, 2 ** 31), stride=(1, 1)), {"0": f32(12)})
    zip_ckpt("bad_huge_storage.pt", tensor_pickle(numel=2 ** 60), {"0": f32(12)})
    zip_ckpt("bad_bomb.pt", tensor_pickle(numel=1, size=(2 ** 20, 2 ** 10), stride=(0, 0)), {"0": f32(1)})
    zip_ckpt("bad_negative_stride.pt", tensor_pickle(size=(3,), stride=(-1,), offset=2), {"0": f32(12)})
    zip_ckpt("bad_negative_offset.pt", tensor_pickle(size=(3,), stride=(1,), offset=-1), {"0": f32(12)})
    zip_ckpt("bad_key.pt", tensor_pickle(key="../../etc/passwd"), {"0": f32(12)})
    two = P(b"\x80\x02}(", u("a"), tensor_expr(storage="FloatStorage"), u("b"), tensor_expr(storage="HalfStorage"),
            b"u.")
    zip_ckpt("bad_dtype_conflict.pt", two, {"0": f32(12)})
    zip_ckpt("bad_bigendian.pt", tensor_pickle(), {"0": f32(12)}, byteorder=b"big")
    zip_ckpt("bad_two_names.pt", P(b"\x80\x02}(", u("a.w"), tensor_expr(), u("a"), b"}", u("w"), tensor_expr(),
                                   b"su."), {"0": f32(12)})
    # the memo
    zip_ckpt("bad_memo.pt", P(b"\x80\x02}", u("w"), b"h\xc8s."))                  # BINGET 200: never stored
    zip_ckpt("bad_memo_long.pt", P(b"\x80\x02}r\xff\xff\xff\xff."))               # LONG_BINPUT 2^32-1
    # structure
    n = 100000
    zip_ckpt("bad_deep.pt", P(b"\x80\x02}", u("w"), b"]" * n, b"a" * (n - 1), b"s."),
             compression=zipfile.ZIP_DEFLATED)
    zip_ckpt("bad_marks.pt", P(b"\x80\x02", b"(" * n, b"."), compression=zipfile.ZIP_DEFLATED)
    zip_ckpt("bad_cycle.pt", P(b"\x80\x02}", u("w"), b"]q\x00h\x00as."))
    # 40 levels of {'a': d, 'b': d}: 2^40 paths to walk
    d = P(b"}q\x00")
    for i in range(1, 41):
        d += P(b"}(", u("a"), b"h", bytes([i - 1]), u("b"), b"h", bytes([i - 1]), b"uq", bytes([i]))
    zip_ckpt("bad_shared.pt", P(b"\x80\x02", d, b"."))
    zip_ckpt("bad_tensor_root.pt", P(b"\x80\x02", tensor_expr(), b"."), {"0": f32(12)})
    # damaged zips
    raw = open(path("mixed.pt"), "rb").read()
    open(path("bad_truncated.pt"), "wb").write(raw[: len(raw) // 2])
    open(path("bad_random.bin"), "wb").write(bytes((i * 37 + 11) % 256 for i in range(600)))


def check():
    """torch.load agrees with the twins (where torch itself can read the file)."""
    from safetensors.torch import load_file
    for name in ["vit_tiny", "mixed", "nested"]:
        twin = load_file(path(name + ".safetensors"))
        torch.load(path(name + ".pt"), weights_only=False)
        assert len(twin) > 0, name
    for name in ["mixed_p4", "mixed_deflate"]:
        # weights_only=False: torch's own restricted unpickler has no FRAME opcode
        assert torch.load(path(name + ".pt"), weights_only=False)["b"].equal(torch.load(path("mixed.pt"))["b"])
    for f in os.listdir(OUT):
        os.chmod(path(f), 0o644)
    total = sum(os.path.getsize(path(f)) for f in os.listdir(OUT))
    print(f"{len(os.listdir(OUT))} files, {total} bytes in {OUT}")


def seed_corpus():
    """Fuzz seeds: whole files (first byte 'Z' selects the zip mode of the
    target) and the bare data.pkl of each (unpickler mode)."""
    shutil.rmtree(CORPUS, ignore_errors=True)
    os.makedirs(CORPUS)
    for f in sorted(os.listdir(OUT)):
        raw = open(path(f), "rb").read()
        if len(raw) > 8000 or f.endswith(".safetensors"):
            continue
        base = os.path.splitext(f)[0]
        open(os.path.join(CORPUS, "z_" + base), "wb").write(b"Z" + raw)
        try:
            z = zipfile.ZipFile(path(f))
            pk = [n for n in z.namelist() if n.endswith("/data.pkl")]
            if pk and len(z.read(pk[0])) <= 8000:
                open(os.path.join(CORPUS, "p_" + base), "wb").write(b"P" + z.read(pk[0]))
        except zipfile.BadZipFile:
            pass


if __name__ == "__main__":
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    gen_vit()
    gen_mixed()
    gen_nested()
    gen_refused_by_torch()
    gen_hostile()
    check()
    seed_corpus()
