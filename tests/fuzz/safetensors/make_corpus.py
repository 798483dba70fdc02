"""make_corpus.py — writes the seed corpus of fuzz_safetensors: tiny files
built by hand in the safetensors layout (8-byte little-endian header length,
JSON header, data), valid and broken."""
import json
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
SIZE = {"F32": 4, "BF16": 2, "U8": 1, "I32": 4, "I64": 8}


def st(tensors, metadata=None, pad=True):
    """tensors: (name, dtype, shape) in data order; data is a counting pattern."""
    header, data = {}, bytearray()
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape in tensors:
        n = SIZE[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + n]}
        data += bytes((len(data) + i) & 0xFF for i in range(n))
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + bytes(data)


def write(name, data):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)


os.makedirs(here, exist_ok=True)
write("f32_2x3", st([("weight", "F32", [2, 3])]))
write("mixed", st([("blocks.0.attn.qkv.weight", "BF16", [4, 2]), ("ids", "I64", [3]),
                   ("mask", "U8", [5]), ("count", "I32", [])],
                  metadata={"format": "pt", "note": "tiny"}))
write("empty_tensors", st([("zero", "F32", [0, 7]), ("none", "I32", [3, 0, 2]), ("b", "U8", [1])]))
write("unaligned", st([("x", "F32", [2]), ("y", "I64", [1])], pad=False))
write("empty_header", st([]))
write("metadata_only", st([], metadata={"k": "v"}))
bad = st([("w", "F32", [2])])
write("truncated", bad[:-3])
OVERLAP = b'{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}'
write("overlap", struct.pack("<Q", len(OVERLAP)) + OVERLAP + bytes(8))
write("bad_dtype", st([("w", "F32", [1])]).replace(b'"F32"', b'"F64"'))
