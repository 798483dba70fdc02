/* text_internal.h — what the tokenizer's files share and nothing else sees:
 * the Unicode cleaning and splitting of unicode_clean.c, used by
 * clip_tokenizer.c (and by the tests, which check them directly). */
#ifndef EMBER_TEXT_INTERNAL_H
#define EMBER_TEXT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

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

#endif
