"""make_corpus.py — writes fuzz_image's tiny seed corpus: PNGs of each kind
the decoder handles (grey 1-bit, RGB, RGBA 16-bit, grey+alpha, palette with
tRNS, interlaced) and baseline JPEGs (grey, colour, with an EXIF
orientation), all a few dozen bytes, built from first principles so no
outside picture is copied in. Run it again only to change the seeds."""
import os
import struct
import zlib

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(w, h, depth, ctype, rows, extra=b"", interlace=0):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def seg(marker, body):
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body


def jpeg(ncomp, w=8, h=8, exif_orientation=None):
    """A baseline JPEG whose blocks are flat (DC only): one-code Huffman
    tables, every block coded as 'DC difference 0, end of block'."""
    out = b"\xff\xd8"
    if exif_orientation:
        # TIFF header (little endian), IFD0 with one entry: Orientation (0x0112), SHORT, 1
        tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
        tiff += struct.pack("<HHIHH", 0x0112, 3, 1, exif_orientation, 0) + struct.pack("<I", 0)
        out += seg(0xE1, b"Exif\x00\x00" + tiff)
    out += seg(0xDB, b"\x00" + bytes([1] * 64))  # quantisation table 0, all ones
    comps = b"".join(bytes([i + 1, 0x11, 0]) for i in range(ncomp))
    out += seg(0xC0, b"\x08" + struct.pack(">HH", h, w) + bytes([ncomp]) + comps)
    one_code = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1, for symbol 0
    out += seg(0xC4, b"\x00" + one_code)  # DC table 0: category 0
    out += seg(0xC4, b"\x10" + one_code)  # AC table 0: end of block
    out += seg(0xDA, bytes([ncomp]) + b"".join(bytes([i + 1, 0x00]) for i in range(ncomp)) + b"\x00\x3f\x00")
    blocks = ((w + 7) // 8) * ((h + 7) // 8) * ncomp
    bits = "00" * blocks
    bits += "1" * (-len(bits) % 8)
    data = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
    data = data.replace(b"\xff", b"\xff\x00")
    return out + data + b"\xff\xd9"


seeds = {
    "rgb_3x2.png": png(3, 2, 8, 2, [bytes([255, 0, 0, 0, 255, 0, 0, 0, 255])] * 2),
    "grey_1bit_8x2.png": png(8, 2, 1, 0, [b"\xa5", b"\x5a"]),
    "rgba16_1x1.png": png(1, 1, 16, 6, [b"\x12\x34\x56\x78\x9a\xbc\xde\xf0"]),
    "grey_alpha_2x1.png": png(2, 1, 8, 4, [b"\x80\xff\x20\x40"]),
    "palette_trns_2x2.png": png(2, 2, 8, 3, [b"\x00\x01", b"\x01\x00"],
                                extra=chunk(b"PLTE", b"\xff\x00\x00\x00\x00\xff") + chunk(b"tRNS", b"\x80")),
    "interlaced_1x1.png": png(1, 1, 8, 2, [b"\x10\x20\x30"], interlace=1),
    "grey_8x8.jpg": jpeg(1),
    "rgb_16x8.jpg": jpeg(3, w=16),
    "exif_rot90_8x16.jpg": jpeg(3, w=8, h=16, exif_orientation=6),
}

os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {here}")
