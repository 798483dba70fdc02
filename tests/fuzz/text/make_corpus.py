"""make_corpus.py — writes the seed corpus of fuzz_text (see fuzz_text.c for
the input format: a prompt, or 0x00 + merges.txt + 0x00 + prompt, or
0x01 + vocab.json)."""
import os

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

PROMPTS = {
    "plain": "a photo of a cat",
    "merges": "the cat sat on aaaa abc, thinking",
    "case_space": "  CAT\t\tAnd\u00a0DOG\u3000 ",
    "contractions": "it's we're they've i'm you'll he'd don't",
    "digits_punct": "12345 !!! ... (x) 3.14 -- ?!",
    "special": "<|startoftext|>a cat<|endoftext|> <|ENDOFTEXT|> <|end",
    "unicode": "caf\u00e9 na\u00efve \u0130stanbul \u03a3\u03c3 \u65e5\u672c\u8a9e \U0001f600 e\u0301",
    "long_word": "a" * 300,
    "many_tokens": " ".join(["cat"] * 90),
}


def write(name, data):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)


os.makedirs(here, exist_ok=True)
for name, text in PROMPTS.items():
    write(name, text.encode("utf-8"))
write("batch", b"a cat\x00the dog\x00\x00aaaa")
write("invalid_utf8", b"cat \xc3\x28 \xed\xa0\x80 \xff end")
write("merges_custom", b"\x00#version: 0.2\na b\nb c</w>\nab c</w>\nc a\nca t</w>\n\x00abc cat abcabc")
write("merges_bad", b"\x00#version: 0.2\na b c\n")
write("vocab_small", b'\x01{"a": 0, "b": 1, "<|startoftext|>": 49406, "<|endoftext|>": 49407}')


def b2u(b):
    printable = lambda i: ord("!") <= i <= ord("~") or 0xA1 <= i <= 0xAC or i >= 0xAE
    return b if printable(b) else 256 + sum(1 for i in range(b) if not printable(i))


# a vocabulary that loads with the built-in merges (the results of all of
# them), for the vocab mode to mutate
vocab = {}
for w, suffix in enumerate(("", "</w>")):
    for b in range(256):
        vocab[chr(b2u(b)) + suffix] = w * 256 + b
for i, tok in enumerate(["ca", "cat</w>", "aa", "aaa", "at</w>", "bc</w>", "ab", "abc</w>", "aa</w>",
                         "aaaa</w>", "th", "the</w>", "in", "ing</w>", "er</w>", "on</w>", "Ã©",
                         "Ã©</w>", "cÃ©</w>", "!!", "!!!</w>", "<|", "|></w>"]):
    vocab[tok] = 512 + i
vocab["<|startoftext|>"] = 49406
vocab["<|endoftext|>"] = 49407
import json
write("vocab_full", b"\x01" + json.dumps(vocab, ensure_ascii=False).encode("utf-8"))
