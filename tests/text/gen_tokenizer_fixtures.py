#!/usr/bin/env python3
"""gen_tokenizer_fixtures.py — writes tests/fixtures/clip_tokens.json, the
strings and Hugging Face's ids that tests/text/test_clip_tokenizer.c checks
engine/text's CLIP tokenizer against. Run by hand:

    python3 tests/text/gen_tokenizer_fixtures.py [shared_data_dir]

Reference: transformers 5's CLIPTokenizer (the tokenizers-backed class,
the same as transformers 4's CLIPTokenizerFast) built from
shared/data/clip-tokenizer/{vocab,merges} as the CIDAS/clipseg-rd64-refined
checkpoint configures it: model_max_length 77, pad = eos = <|endoftext|>,
special tokens with normalized=True. If a transformers 4 install is found
(env TRANSFORMERS4_PATH, a `pip install --target` folder holding
transformers 4.x, tokenizers 0.22 and huggingface_hub 0.x), each case also
records transformers 4's CLIPTokenizerFast ids (must equal "ids") and, where
it differs, the pure-Python CLIPTokenizer's ("ids_slow", without ftfy),
which the C tokenizer deliberately does not follow (see clip_tokenizer.h).
Where the tokenizer a processor saved by transformers 5 from vocab.json
and merges.txt alone (tokenizer.json with normalized=false special tokens,
read back with from_pretrained) gives other ids, a case records them as
"ids_specials_raw" ("<|ENDOFTEXT|>" is then ordinary text).

    python3 tests/text/gen_tokenizer_fixtures.py --sweep [shared_data_dir]

prints, instead, what the tokenizers library does with every code point
(normalised form and piece class), for regenerating the Unicode patch
tables in engine/text/unicode_clean.c.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "tests", "fixtures", "clip_tokens.json")


def make_tokenizer(data, normalized=True):
    from transformers import AddedToken, CLIPTokenizer

    def special(s):
        return AddedToken(s, lstrip=False, rstrip=False, normalized=normalized, single_word=False, special=True)

    d = os.path.join(data, "clip-tokenizer")
    return CLIPTokenizer(vocab=os.path.join(d, "vocab.json"), merges=os.path.join(d, "merges.txt"),
                         bos_token=special("<|startoftext|>"), eos_token=special("<|endoftext|>"),
                         unk_token=special("<|endoftext|>"), pad_token=special("<|endoftext|>"),
                         model_max_length=77)


def saved_tokenizer_raw(data):
    """The tokenizer of a processor that transformers 5 saved from a folder
    holding only vocab.json and merges.txt: its special tokens are
    normalized=false. Saved (tokenizer.json) and read back, as
    from_pretrained reads such a folder."""
    import tempfile

    from transformers import AutoTokenizer
    with tempfile.TemporaryDirectory() as tmp:
        make_tokenizer(data, normalized=False).save_pretrained(tmp)
        with open(os.path.join(tmp, "tokenizer.json"), encoding="utf-8") as f:
            doc = json.load(f)
        assert all(not t["normalized"] for t in doc["added_tokens"]), doc["added_tokens"]
        return AutoTokenizer.from_pretrained(tmp, model_max_length=77)


LONG = (
    "On a quiet morning the old harbour town woke slowly. Fishing boats rocked against the "
    "wooden piers while gulls argued over scraps near the market. A baker pulled trays of warm "
    "bread from a stone oven and set them on the window sill, where the smell drifted down the "
    "narrow street. Children ran past with a red kite, shouting to each other about the wind. "
    "Near the lighthouse, a painter set up an easel and mixed blues and greys, trying to catch the "
    "colour of the water before the sun climbed too high. The ferry to the island left at nine, "
    "carrying tourists, two bicycles, a crate of oranges and a very patient dog. By noon the cafe "
    "on the square was full: people talked about the weather, the price of fuel, a concert planned "
    "for Saturday and the new road that would, everyone agreed, change nothing at all. In the "
    "afternoon clouds gathered over the hills, and the first drops of rain darkened the cobbles. "
    "Shopkeepers pulled in their awnings; the painter packed his brushes and hurried home. Evening "
    "came early, with lamps glowing in the windows and the sound of the sea growing louder as the "
    "tide turned. Somewhere a radio played an old song, and a woman on a balcony hummed along, "
    "watching the boats return one by one, their lights swaying in the dark like slow fireflies. "
    "Later, when the rain stopped, the stars came out above the harbour, sharp and cold, and the "
    "town slept again, waiting for another ordinary and wonderful day by the sea, as it always had.")

CASES = [
    # the q2 prompts
    "a cat", "a remote", "a blanket", "a remote control", "the sofa",
    # capitals, spacing
    "A CAT", "The Sofa", "a  cat", "   a cat   ", "a\tcat", "a\ncat\r\n", "", " ", "\t\n ",
    # punctuation runs
    "hello, world!", "what?!?!", "...", "!!!!!!!!!!!!!!!!!!!!", "a--b", "(cat) [dog] {bird}",
    "e-mail: someone@example.com", "#hashtag $100 50% a&b", "~`^_|\\/<>",
    # apostrophes and contractions
    "it's", "don't", "they're", "we've", "I'm", "you'll", "he'd", "IT'S", "y'all",
    "rock'n'roll", "''s", "'s", "ma'am o'clock", "the cat's toy", "it’s (curly)",
    # numbers
    "1234567890", "3.14159", "2024-11-27", "x²", "Ⅻ", "٣٤٥", "1st 2nd 3rd",
    # accents, NFC/NFD
    "café", "cafe\u0301", "CAFÉ", "CAFE\u0301", "naïve", "über", "u\u0308ber", "Ångström",
    "crème brûlée", "ß", "İstanbul", "ΟΔΟΣ", "ſ's", "ﬁne", "ＡＢＣ",
    # scripts
    "日本語", "猫がいる", "한국어", "\u1112\u1161\u11ab\u1100\u1173\u11af", "Привет, мир",
    "مرحبا", "שלום", "नमस्ते", "สวัสดี", "\U00011935\U00011930", "\u1c89\u1c8a",
    # emoji and symbols
    "😀", "a 🐈 cat", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "1\ufe0f\u20e3", "♥☺★", "€£¥",
    # control and invisible characters, Unicode spaces
    "a\x01b", "a\x7fb", "a\x1cb", "a\x85b", "a\u00a0b", "a\u3000b", "a\u2028b", "a\u200bb",
    "soft\u00adhyphen", "\ufeffbom", "a\u2060b",
    # special tokens in text
    "<|startoftext|>", "a <|endoftext|> b", "<|ENDOFTEXT|>", "x<|endoftext|>y", "<|endoftext",
    # long merge chains
    "antidisestablishmentarianism", "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis", "hahahahahahahahahahaha",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "photosynthesis", "unbelievably",
    "internationalization", "COVID-19", "theremote", "segmentation",
    # truncation
    LONG, "cat " * 75, "cat " * 76, "1" * 80,
]

BATCH = ["a cat", "a remote", "a blanket", "a remote control", "the sofa"]
BATCH2 = ["a cat", LONG, "<|endoftext|> first"]


def tf4_ids(texts):
    path = os.environ.get("TRANSFORMERS4_PATH", "/tmp/tf4")
    if not os.path.isdir(os.path.join(path, "transformers")):
        return None, None
    code = r"""
import json, sys
from transformers import CLIPTokenizer, CLIPTokenizerFast, AddedToken
import transformers
d = sys.argv[1]
texts = json.load(sys.stdin)
def special(s):
    return AddedToken(s, lstrip=False, rstrip=False, normalized=True, single_word=False, special=True)
kw = dict(bos_token=special("<|startoftext|>"), eos_token=special("<|endoftext|>"),
          unk_token=special("<|endoftext|>"), pad_token=special("<|endoftext|>"), model_max_length=77)
fast = CLIPTokenizerFast(d + "/vocab.json", d + "/merges.txt", **kw)
slow = CLIPTokenizer(d + "/vocab.json", d + "/merges.txt", **kw)
assert slow.fix_text is None, "ftfy is installed: uninstall it for the BasicTokenizer path"
json.dump({"version": transformers.__version__,
           "fast": fast(texts, truncation=True)["input_ids"],
           "slow": slow(texts, truncation=True)["input_ids"]}, sys.stdout)
"""
    env = dict(os.environ, PYTHONPATH=path)
    r = subprocess.run([sys.executable, "-c", code, os.path.join(DATA, "clip-tokenizer")],
                       input=json.dumps(texts), capture_output=True, text=True, env=env)
    if r.returncode != 0:
        print("transformers 4 comparison failed:\n" + r.stderr[-2000:], file=sys.stderr)
        return None, None
    out = json.loads(r.stdout)
    return out["version"], out


def sweep(tok):
    bt = tok.backend_tokenizer
    pre = bt.pre_tokenizer
    for cp in range(1, 0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        n = bt.normalizer.normalize_str(c)
        k = len(pre.pre_tokenize_str("a" + c + "a"))
        if k == 3:
            k = 3 if len(pre.pre_tokenize_str("!" + c + "!")) == 3 else 4
        print("%X %s %s" % (cp, " ".join("%X" % ord(x) for x in n) or "-", {1: "L", 2: "S", 3: "N", 4: "O"}[k]))


def main():
    global DATA
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    DATA = args[0] if args else os.path.join(os.path.dirname(REPO), "shared", "data")
    tok = make_tokenizer(DATA)
    if "--sweep" in sys.argv:
        sweep(tok)
        return
    import tokenizers
    import transformers

    assert len(CASES) == len(set(CASES)), "duplicate fixture strings"
    enc = tok(CASES, truncation=True)["input_ids"]
    enc_raw = saved_tokenizer_raw(DATA)(CASES, truncation=True)["input_ids"]
    full = tok(CASES, add_special_tokens=False)["input_ids"]
    v4, ref4 = tf4_ids(CASES)
    cases = []
    slow_diff = 0
    for i, text in enumerate(CASES):
        c = {"text": text, "ids": enc[i]}
        if len(full[i]) + 2 > 77:
            c["n_untruncated"] = len(full[i])
        if ref4:
            assert ref4["fast"][i] == enc[i], ("transformers 4 fast differs", text)
            if ref4["slow"][i] != enc[i]:
                c["ids_slow"] = ref4["slow"][i]
                slow_diff += 1
        if enc_raw[i] != enc[i]:
            c["ids_specials_raw"] = enc_raw[i]
        c["decoded"] = tok.decode(enc[i], skip_special_tokens=True)
        cases.append(c)
    batches = []
    for texts in (BATCH, BATCH2):
        b = tok(texts, padding=True, truncation=True)
        m = tok(texts, padding="max_length", truncation=True, max_length=77)
        batches.append({"texts": texts, "input_ids": b["input_ids"], "attention_mask": b["attention_mask"],
                        "input_ids_77": m["input_ids"], "attention_mask_77": m["attention_mask"]})
    # decoding arbitrary ids: partial UTF-8 sequences become U+FFFD as in
    # Rust's from_utf8_lossy (sequences that decode to a NUL byte are left
    # out: a C string cannot hold one)
    import random
    rng = random.Random(0)
    decodes = []
    while len(decodes) < 40:
        ids = [rng.choice([rng.randint(0, 49407), rng.randint(0, 600), 49406, 49407])
               for _ in range(rng.randint(1, 10))]
        text = tok.decode(ids, skip_special_tokens=True)
        if "\0" not in text:
            decodes.append({"ids": ids, "text": text,
                            "with_special": tok.decode(ids, skip_special_tokens=False)})
    doc = {
        "about": "CLIP tokenizer reference ids for engine/text (tests/text/gen_tokenizer_fixtures.py)",
        "reference": "transformers %s CLIPTokenizer, tokenizers %s; truncation=True, max_length=77"
                     % (transformers.__version__, tokenizers.__version__),
        "transformers4": ("CLIPTokenizerFast of transformers %s equals 'ids' on every case; "
                          "'ids_slow' is its pure-Python CLIPTokenizer without ftfy, where it differs "
                          "(%d cases)" % (v4, slow_diff)) if v4 else "not compared",
        "cases": cases,
        "batches": batches,
        "decodes": decodes,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("{\n")
        for k in ("about", "reference", "transformers4"):
            f.write(" %s: %s,\n" % (json.dumps(k), json.dumps(doc[k], ensure_ascii=False)))
        f.write(' "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in cases))
        f.write('\n ],\n "batches": [\n')
        f.write(",\n".join("  " + json.dumps(b) for b in batches))
        f.write('\n ],\n "decodes": [\n')
        f.write(",\n".join("  " + json.dumps(d, ensure_ascii=False) for d in decodes))
        f.write("\n ]\n}\n")
    print("wrote %s: %d cases (%d where the slow tokenizer differs)" % (OUT, len(cases), slow_diff))


if __name__ == "__main__":
    main()
