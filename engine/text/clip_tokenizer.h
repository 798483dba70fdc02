/* clip_tokenizer.h — the CLIP byte-level BPE tokenizer (OpenAI CLIP, CLIPSeg),
 * id-for-id equal to Hugging Face's CLIPTokenizer as the CLIPSeg checkpoint
 * CIDAS/clipseg-rd64-refined configures it (transformers 5: the tokenizers-
 * backed class; transformers 4: CLIPTokenizerFast, which AutoProcessor and
 * CLIPSegProcessor load by default).
 *
 * Pipeline (what HF does, in this order):
 *   1. NFC;
 *   2. every run of Unicode White_Space (\s: tab, newline, U+0085, U+00A0,
 *      U+3000, ...) becomes one space;
 *   3. lower-casing, character by character (full mapping: U+0130 'İ'
 *      becomes "i" + U+0307; no final-sigma rule, so 'Σ' is always 'σ');
 *   4. the special strings "<|startoftext|>" and "<|endoftext|>", found in
 *      the normalised text (so "<|ENDOFTEXT|>" counts too: the checkpoint's
 *      added tokens are normalized=true), become ids 49406 / 49407 at once
 *      (a tokenizer.json may say normalized=false: they are then found in
 *      the text before step 1, and each stretch between them is
 *      normalised on its own);
 *   5. the rest splits into pieces with
 *        's|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
 *      (each digit is its own piece; spaces separate and are dropped);
 *   6. each piece's UTF-8 bytes map through GPT-2's bytes-to-unicode table
 *      and go through BPE with "</w>" on the last symbol (lowest merge rank
 *      first, leftmost first among equal ranks);
 *   7. the result is wrapped in 49406 ... 49407.
 *
 * Differences from the pure-Python CLIPTokenizer of transformers 4 when
 * ftfy is not installed (its BasicTokenizer path), which this does NOT
 * follow: that one deletes control and format characters (U+0000-U+001F
 * other than whitespace, U+200D zero-width joiner, U+00AD soft hyphen,
 * U+FEFF, ...), puts spaces around CJK ideographs (so "日本語" is three
 * words, not one), splits on Python's str.isspace() set (which includes
 * U+001C-U+001F) and lower-cases with Python's final-sigma rule. For
 * ordinary prompts (Latin letters, digits, punctuation, accents, emoji
 * without joiners) the two agree; the fixtures record where they do not.
 *
 * Unicode data: utf8proc (Unicode 15) patched to what tokenizers 0.23 does
 * for every single code point (its letters, digits and case pairs added in
 * Unicode 16 and 17, and its one missing composition, U+11935 U+11930 ->
 * U+11938, which it leaves decomposed); see unicode_clean.c.
 *
 * Thread safety: a loaded tokenizer is read-only; any number of threads may
 * tokenize with it at once.
 *
 * Errors follow core/error.h: 0 on success, -1 with a message in *err. */
#ifndef EMBER_TEXT_CLIP_TOKENIZER_H
#define EMBER_TEXT_CLIP_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    EMBER_CLIP_BOS = 49406,     /* <|startoftext|> */
    EMBER_CLIP_EOS = 49407,     /* <|endoftext|>, also the padding id */
    EMBER_CLIP_PAD = 49407,
    EMBER_CLIP_CONTEXT = 77     /* the text tower's positions */
};

typedef struct ember_clip_tokenizer ember_clip_tokenizer;

/* Loads vocab.json ({"token": id, ...}) and merges.txt ("#version" line, then
 * "left right" per line, best merge first) — the Hugging Face layout of
 * openai/clip-vit-base-patch32, which CLIPSeg shares. Every merge's parts and
 * result must be in the vocabulary, which must hold the 512 byte-level
 * symbols (with and without "</w>") and both special tokens. Returns NULL
 * with a message on a missing or malformed file. */
ember_clip_tokenizer *ember_clip_tokenizer_load(const char *vocab_json_path,
                                                const char *merges_txt_path, ember_err *err);
/* The same tokenizer from a tokenizers-library tokenizer.json, the one
 * tokenizer file a processor saved by transformers 5 has: vocabulary,
 * merges (as "a b" strings or ["a", "b"] pairs) and special tokens from
 * it. The pipeline it describes must be CLIP's (normalizer, split pattern,
 * byte-level BPE with "</w>", <|startoftext|> ... <|endoftext|> around a
 * prompt); a tokenizer.json of another kind is refused with a message
 * naming the stage that differs (clip_tokenizer_json.c lists what is
 * checked and what is ignored). The special tokens' "normalized" flag is
 * honoured: false (what transformers 5 writes for a tokenizer built from
 * vocab.json and merges.txt) matches "<|endoftext|>" only as typed, so
 * "<|ENDOFTEXT|>" is ordinary text; true matches it after lower-casing, as
 * ember_clip_tokenizer_load does. */
ember_clip_tokenizer *ember_clip_tokenizer_load_json(const char *tokenizer_json_path, ember_err *err);
/* The same tokenizer from OpenAI's own file, bpe_simple_vocab_16e6.txt.gz
 * (openai/CLIP): a title line, then merges, of which CLIP uses the first
 * 48,894; the vocabulary is numbered as OpenAI's simple_tokenizer.py does,
 * which gives the same ids as vocab.json. */
ember_clip_tokenizer *ember_clip_tokenizer_load_openai(const char *bpe_gz_path, ember_err *err);
void ember_clip_tokenizer_free(ember_clip_tokenizer *t);

/* Number of tokens in the vocabulary (49408 for CLIP). */
int ember_clip_vocab_size(const ember_clip_tokenizer *t);

/* Tokenizes one prompt as HF does with truncation=True, max_length=max_len:
 * ids[0] = 49406, ids[*n - 1] = 49407, and when the text has more than
 * max_len - 2 tokens only the first max_len - 2 are kept (the end token is
 * always there). max_len >= 2 (77 for CLIPSeg); ids holds max_len entries.
 * text is NUL-terminated UTF-8; invalid UTF-8 is an error naming the byte
 * offset. Stops working once max_len is reached, so a long text costs
 * only what its first tokens cost. */
int ember_clip_tokenize(const ember_clip_tokenizer *t, const char *text, int32_t *ids,
                        int max_len, int *n, ember_err *err);

/* Tokenizes all of text, without truncation and without the start and end
 * tokens: *ids_out is malloc'd (the caller frees it; NULL when *n_out == 0). */
int ember_clip_encode(const ember_clip_tokenizer *t, const char *text, int32_t **ids_out,
                      size_t *n_out, ember_err *err);

/* A padded batch, what CLIPSegProcessor(text=[...], padding=True) returns,
 * plus where the text tower pools. Row-major [k][len]. */
typedef struct ember_clip_batch {
    int k, len;
    int32_t *ids;       /* k*len, padded with 49407 */
    int32_t *mask;      /* k*len, 1 for real tokens (start, text, end), 0 for padding */
    int32_t *eos_index; /* k: the FIRST position holding 49407 in the row. CLIP's
                           pooling takes argmax(ids) (old configs, eos id 2) or
                           the first position equal to eos; both are this
                           position, because 49407 is the largest id and
                           argmax returns the first maximum. The padding is
                           also 49407, so this is not "the last 49407". A
                           prompt that itself contains "<|endoftext|>" pools
                           there, as in HF. */
} ember_clip_batch;

/* Tokenizes k prompts (each truncated to max_len as above) and pads them
 * with 49407: to the longest prompt when pad_to == 0 (padding=True), else to
 * pad_to (padding="max_length"; pad_to must be >= every prompt's length, so
 * pad_to >= max_len is always safe). k >= 1. On success *out owns its arrays
 * (ember_clip_batch_free); on failure *out is empty. */
int ember_clip_tokenize_batch(const ember_clip_tokenizer *t, const char *const *texts, int k,
                              int max_len, int pad_to, ember_clip_batch *out, ember_err *err);
void ember_clip_batch_free(ember_clip_batch *b);

/* The text back, as HF's decode does: token strings concatenated, "</w>"
 * becomes a space, bytes decoded from the byte-level alphabet (an invalid
 * UTF-8 sequence becomes U+FFFD, and so does a NUL byte, which a C string
 * cannot hold), leading and trailing whitespace trimmed as Python's strip()
 * does. The
 * special tokens are dropped when skip_special is set, else written as
 * "<|startoftext|>" / "<|endoftext|>". Returns a malloc'd string or NULL
 * with a message (an id outside the vocabulary). */
char *ember_clip_decode(const ember_clip_tokenizer *t, const int32_t *ids, size_t n,
                        int skip_special, ember_err *err);

/* The string of one token id ("cat</w>"), or NULL when out of range. The
 * pointer lives as long as the tokenizer. */
const char *ember_clip_token_str(const ember_clip_tokenizer *t, int32_t id);

#ifdef __cplusplus
}
#endif
#endif
