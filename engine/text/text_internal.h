/* text_internal.h — what the tokenizer's files share and nothing else sees:
 * the Unicode cleaning and splitting of unicode_clean.c, used by
 * clip_tokenizer.c (and by the tests, which check them directly), and the
 * builders of a tokenizer that clip_tokenizer.c keeps opaque, used by the
 * loaders of its file formats (clip_tokenizer_json.c). */
#ifndef EMBER_TEXT_INTERNAL_H
#define EMBER_TEXT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"
#include "text/clip_tokenizer.h"

enum { CLIP_CLASS_SPACE, CLIP_CLASS_LETTER, CLIP_CLASS_NUMBER, CLIP_CLASS_OTHER };

/* Unicode White_Space. */
int clip_is_space(int32_t c);
/* \s, \p{L}, \p{N} or anything else. */
int clip_char_class(int32_t c);

/* One UTF-8 character of s[0..n): its length (1-4) and code point, or -1
 * when s does not start with a well-formed character. */
long clip_utf8_next(const unsigned char *s, size_t n, int32_t *c);

/* 0, or -1 naming the offset of the first byte that is not well-formed UTF-8. */
int clip_check_utf8(const char *text, size_t len, ember_err *err);

/* NFC, each whitespace run to one space, lower-case: *out is malloc'd and
 * NUL-terminated. Checks the UTF-8 first. */
int clip_normalize(const char *text, char **out, size_t *out_len, ember_err *err);

/* The next piece of normalised text s[*pos..len) under CLIP's split pattern
 * (without its special-token alternatives, which are taken out before):
 * 1 with the piece at s[*start .. *start + *plen), advancing *pos; 0 at the
 * end. */
int clip_next_piece(const char *s, size_t len, size_t *pos, size_t *start, size_t *plen);

/* ---- building a tokenizer (clip_tokenizer.c) ---- */

/* An empty tokenizer (NULL with a message when out of memory). */
ember_clip_tokenizer *clip_tok_new(ember_err *err);
/* The vocabulary from a JSON object {"token": id, ...} (borrowed), checked
 * as ember_clip_tokenizer_load checks vocab.json; messages name `path`. */
int clip_tok_set_vocab(ember_clip_tokenizer *t, json_t *vocab, const char *path, ember_err *err);
/* Room for n merges; then clip_tok_add_merge, best first, at most n times. */
int clip_tok_merges_reserve(ember_clip_tokenizer *t, size_t n, ember_err *err);
/* 0; -1 out of memory (or past the reserve); 1, 2, 3 when the left, right
 * or merged token is not in the vocabulary (clip_tok_merge_problem says
 * which, for messages). A pair given twice keeps its later rank. */
int clip_tok_add_merge(ember_clip_tokenizer *t, const char *a, size_t na, const char *b, size_t nb);
const char *clip_tok_merge_problem(int rc);
int clip_tok_merge_count(const ember_clip_tokenizer *t);
/* Whether the special strings are matched in the text as given
 * (normalized=false) rather than in the normalised text (the default). */
void clip_tok_set_specials_raw(ember_clip_tokenizer *t, int raw);

#endif
