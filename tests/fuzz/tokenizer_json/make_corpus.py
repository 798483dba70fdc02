"""make_corpus.py — writes the seed corpus of fuzz_tokenizer_json: small
tokenizer.json files in the layout transformers 5 writes for CLIP (a
512-symbol byte-level vocabulary plus a few merges, so each seed is a few
KB), in both merge forms ("a b" strings, ["a", "b"] pairs), both
"normalized" flags of the special tokens and both post-processors, a few
that are refused at one stage, and one followed by 0x00 and a prompt
(see fuzz_tokenizer_json.c for the input format)."""
import copy
import json
import os

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

CLIP_SPLIT = ("<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|"
              "[^\\s\\p{L}\\p{N}]+")


def b2u(b):
    printable = lambda i: ord("!") <= i <= ord("~") or 0xA1 <= i <= 0xAC or i >= 0xAE
    return b if printable(b) else 256 + sum(1 for i in range(b) if not printable(i))


MERGES = [("c", "a"), ("ca", "t</w>"), ("a", "a"), ("aa", "a</w>"), ("Ã", "©</w>"), ("!", "!</w>")]


def doc(pairs=True, normalized=False, template=False):
    vocab = {}
    for w, suffix in enumerate(("", "</w>")):
        for b in range(256):
            vocab[chr(b2u(b)) + suffix] = w * 256 + b
    for i, (a, b) in enumerate(MERGES):
        vocab[a + b] = 512 + i
    vocab["<|startoftext|>"] = 49406
    vocab["<|endoftext|>"] = 49407
    added = [{"id": 49406 + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": normalized, "special": True}
             for i, c in enumerate(("<|startoftext|>", "<|endoftext|>"))]
    if template:
        post = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<|startoftext|>", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
                "pair": [], "special_tokens": {}}
    else:
        post = {"type": "RobertaProcessing", "sep": ["<|endoftext|>", 49407],
                "cls": ["<|startoftext|>", 49406], "trim_offsets": False, "add_prefix_space": False}
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": CLIP_SPLIT}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>",
                  "continuing_subword_prefix": "", "end_of_word_suffix": "</w>", "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": [[a, b] if pairs else f"{a} {b}" for a, b in MERGES]},
    }


def write(name, d, tail=b""):
    data = json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(os.path.join(here, name), "wb") as f:
        f.write(data + tail)


os.makedirs(here, exist_ok=True)
write("pairs", doc(pairs=True))
write("strings", doc(pairs=False))
write("pairs_normalized", doc(pairs=True, normalized=True))
write("strings_template", doc(pairs=False, template=True))
write("pairs_prompt", doc(), b"\x00caT cat!! <|endoftext|>caf\xc3\xa9 aaa\xe2\x80\x83 x")
bad = doc()
bad["model"]["merges"][1] = ["ca", "t</w>", "x"]
write("bad_merge", bad)
bad = doc()
bad["model"]["merges"][0] = ["q\u00e9", "z"]
write("unknown_merge", bad)
bad = doc()
bad["normalizer"]["normalizers"][0]["type"] = "NFKC"
write("bad_normalizer", bad)
bad = doc()
del bad["model"]["vocab"]["<|endoftext|>"]
write("no_eos_vocab", bad)
bad = copy.deepcopy(doc())
bad["added_tokens"].append({"id": 49408, "content": "<mask>", "special": True})
write("extra_token", bad)
