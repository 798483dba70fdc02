/* segmenter.h — what the segmenter value of bind_clipseg.c lends to the
 * other bindings about it (bind_tokens.c: tokenize()), so the value's
 * layout stays private to the file that makes it. */
#ifndef EMBER_SEG_SEGMENTER_H
#define EMBER_SEG_SEGMENTER_H

#include "lang.h"
#include "text/clip_tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Prompts per call of segment() and tokenize(). */
#define SEG_MAX_PROMPTS 64

/* The tokenizer of a segmenter value and its text tower's positions (the
 * length prompts are truncated to), or NULL when v is not a segmenter.
 * Borrowed: it lives as long as the value. */
const ember_clip_tokenizer *seg_model_tokenizer(const lang_value *v, int *max_len);

/* Argument i of a call as prompts: a string, or a list of 1 to
 * SEG_MAX_PROMPTS strings (texts borrows them; *k gets the count). An empty
 * prompt is refused unless allow_empty. 0, or -1 with the error raised
 * (naming a->fname). */
int seg_read_prompts(lang_ctx *cx, const lang_args *a, size_t i, const char **texts, int *k, int allow_empty);

/* Registers tokenize() (bind_tokens.c); register_seg_model_builtins calls it. */
void register_seg_tokens_builtins(void);

#ifdef __cplusplus
}
#endif
#endif
