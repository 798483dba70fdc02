/* clipseg.h — CLIPSeg (transformers' CLIPSegForImageSegmentation) inference
 * written against the backend table: weights from a safetensors checkpoint
 * (CIDAS/clipseg-rd64-refined naming), the CLIP text tower (causal, pooled
 * at the end-of-text token, projected), the CLIP vision tower (bicubic-resized
 * position embeddings, states kept after the extract layers) and the FiLM
 * decoder with its transposed-convolution head. One image, P prompts: the
 * vision tower runs once and its states serve every prompt (the reference
 * repeats the image per prompt; the numbers are the same).
 * See /work/shared/design/CLIPSEG.md. */
#ifndef EMBER_NN_CLIPSEG_H
#define EMBER_NN_CLIPSEG_H

#include <stdint.h>

#include "core/backend.h"
#include "core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_CLIPSEG_MAX_EXTRACT 8

/* The architecture. Sizes marked (shape) are inferred from the checkpoint's
 * tensors when loading (what the caller put there is ignored); the others
 * come from the caller's struct or, when given, the checkpoint's
 * config.json. ember_clipseg_config_default gives CIDAS/clipseg-rd64-refined. */
typedef struct ember_clipseg_config {
    /* text tower */
    int text_vocab, text_width, text_mlp, text_layers, text_positions; /* (shape) */
    int text_heads;
    float text_eps;
    /* vision tower */
    int vision_width, vision_mlp, vision_layers, patch, image_size; /* (shape); image_size: trained */
    int vision_heads;
    float vision_eps;
    /* decoder */
    int projection_dim, reduce_dim, decoder_mlp, n_extract; /* (shape) */
    int extract_layers[EMBER_CLIPSEG_MAX_EXTRACT];          /* 0-based layer indices */
    int decoder_heads;
    int conditional_layer;
    int complex_transposed_conv; /* (shape) the "refined" head */
} ember_clipseg_config;

void ember_clipseg_config_default(ember_clipseg_config *cfg);

/* Overrides the non-shape fields of cfg from a transformers config.json
 * (text_config / vision_config num_attention_heads and layer_norm_eps,
 * extract_layers, decoder_num_attention_heads, conditional_layer). Keys that
 * are absent keep cfg's value. */
int ember_clipseg_config_read_json(ember_clipseg_config *cfg, const char *path, ember_err *err);

typedef struct ember_clipseg ember_clipseg;

/* Loads a checkpoint onto `be`. cfg: NULL for the defaults; config_json:
 * NULL or a config.json path (applied over cfg). input_size: the side of the
 * square pixel_values the forward will take (352 for the real model; a
 * multiple of the patch): the position embeddings are resized for it here.
 * Errors list missing tensors and wrong shapes. */
int ember_clipseg_load(ember_clipseg **out, const ember_backend *be, const char *path,
                       const ember_clipseg_config *cfg, const char *config_json, int input_size,
                       ember_err *err);

/* A model of the full architecture in cfg (all sizes taken from cfg) with
 * random weights (seeded, deterministic): for smoke tests and timing. */
int ember_clipseg_init_random(ember_clipseg **out, const ember_backend *be,
                              const ember_clipseg_config *cfg, int input_size, uint64_t seed,
                              ember_err *err);

void ember_clipseg_free(ember_clipseg *m);

const ember_clipseg_config *ember_clipseg_get_config(const ember_clipseg *m);
/* Side of the square input and of the logits (input_size for patch 16). */
int ember_clipseg_input_size(const ember_clipseg *m);
int ember_clipseg_output_size(const ember_clipseg *m);
/* Tokens of the vision tower: 1 + (input_size / patch)^2. */
int ember_clipseg_vision_tokens(const ember_clipseg *m);

/* Optional intermediate results (host buffers the caller owns; NULL to skip). */
typedef struct ember_clipseg_debug {
    float *vision_states; /* [n_extract, tokens, vision_width], in extract order */
    float *cond;          /* [P, projection_dim], the conditional embeddings */
} ember_clipseg_debug;

/* One image, P prompts. pixels: host f32 [3, S, S] (S = input size, already
 * resized and normalised); ids: host i32 [P, L] (L <= text positions, each in
 * [0, vocab)); eos: host i32 [P], the index of each prompt's end-of-text
 * token (where the text tower is pooled). logits: host f32 [P, O, O], O =
 * ember_clipseg_output_size. */
int ember_clipseg_forward(ember_clipseg *m, const float *pixels, const int32_t *ids,
                          const int32_t *eos, int P, int L, float *logits,
                          ember_clipseg_debug *dbg, ember_err *err);

#ifdef __cplusplus
}
#endif
#endif
