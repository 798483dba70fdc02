/* clipseg.h — CLIPSeg (transformers' CLIPSegForImageSegmentation) inference
 * written against the backend table: weights from a safetensors file or a
 * PyTorch checkpoint (CIDAS/clipseg-rd64-refined naming), the CLIP text
 * tower (causal, pooled at the end-of-text token, projected), the CLIP
 * vision tower (bicubic-resized position embeddings, states kept after the
 * extract layers) and the FiLM decoder with its transposed-convolution head. One image, P prompts: the
 * vision tower runs once and its states serve every prompt (the reference
 * repeats the image per prompt; the numbers are the same).
 * See /work/shared/design/CLIPSEG.md. */
#ifndef EMBER_NN_CLIPSEG_H
#define EMBER_NN_CLIPSEG_H

#include <stdint.h>

#include "core/backend.h"
#include "core/error.h"
#include "core/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_CLIPSEG_MAX_EXTRACT 8

/* The towers' MLP activation, config.json's hidden_act (transformers' ACT2FN
 * names): "quick_gelu" x * sigmoid(1.702 x) (CLIP's); "gelu" and
 * "gelu_python", the exact erf GELU; "relu". The decoder's MLP is always
 * ReLU (transformers hard-codes it). */
enum { EMBER_CLIPSEG_QUICK_GELU = 0, EMBER_CLIPSEG_GELU = 1, EMBER_CLIPSEG_RELU = 2 };

/* The architecture. Sizes marked (shape) are inferred from the checkpoint's
 * tensors when loading (what the caller put there is ignored; a config.json
 * that states another value is refused); the others come from the caller's
 * struct or, when given, the checkpoint's config.json.
 * ember_clipseg_config_default gives CIDAS/clipseg-rd64-refined. */
typedef struct ember_clipseg_config {
    /* text tower */
    int text_vocab, text_width, text_mlp, text_layers, text_positions; /* (shape) */
    int text_heads;
    float text_eps;
    int text_act; /* EMBER_CLIPSEG_QUICK_GELU, _GELU or _RELU */
    /* config.json's text_config.eos_token_id, -1 when not given. The model
     * pools where the caller's eos index says (ember_clipseg_forward); this
     * is for the caller to check that its tokenizer ends prompts with it. */
    int text_eos_token_id;
    /* vision tower */
    int vision_width, vision_mlp, vision_layers, patch, image_size; /* (shape); image_size: trained */
    int vision_heads;
    float vision_eps; /* also the decoder's LayerNorm eps, as in transformers */
    int vision_act;
    /* decoder */
    int projection_dim, reduce_dim, decoder_mlp, n_extract; /* (shape) */
    int extract_layers[EMBER_CLIPSEG_MAX_EXTRACT];          /* 0-based layer indices */
    int decoder_heads;
    int conditional_layer;
    int complex_transposed_conv; /* (shape) the "refined" head */
} ember_clipseg_config;

void ember_clipseg_config_default(ember_clipseg_config *cfg);

/* Overrides the non-shape fields of cfg from a transformers config.json
 * (text_config / vision_config num_attention_heads, layer_norm_eps and
 * hidden_act, text_config.eos_token_id, extract_layers,
 * decoder_num_attention_heads, conditional_layer; the *_config_dict
 * entries of older files override their *_config as in transformers). Keys
 * that are absent keep cfg's value. A value the engine does not implement
 * (an activation other than those above, num_channels other than 3, a
 * model_type other than clipseg, a wrong type) is refused with a message
 * naming the key, the value and what is supported. Keys that do not change
 * inference (dropouts, initialisers, logit_scale_init_value, the token ids
 * the tokenizer owns...) are ignored; clipseg_load.c says why for each. */
int ember_clipseg_config_read_json(ember_clipseg_config *cfg, const char *path, ember_err *err);

typedef struct ember_clipseg ember_clipseg;

/* Loads a checkpoint onto `be`. cfg: NULL for the defaults; config_json:
 * NULL or a config.json path (applied over cfg, see
 * ember_clipseg_config_read_json; its sizes must agree with the
 * checkpoint's tensors). input_size: the side of the square pixel_values the
 * forward will take (352 for the real model; a multiple of the patch): the
 * position embeddings are resized for it here. Errors list missing tensors
 * and wrong shapes. */
int ember_clipseg_load(ember_clipseg **out, const ember_backend *be, const char *path,
                       const ember_clipseg_config *cfg, const char *config_json, int input_size,
                       ember_err *err);

/* The same from weights already open: a safetensors file, or a PyTorch
 * checkpoint that data/weights.h converted (ember_weights_open; this
 * library cannot open those itself). Weights may be f32 or bf16 (widened to
 * f32); the file is only read, so one open file serves several attempts
 * (the GPU, then the CPU). name: what messages call the weights (their
 * path; NULL: "the checkpoint"). ember_clipseg_load is this after
 * ember_st_open. */
int ember_clipseg_load_file(ember_clipseg **out, const ember_backend *be, const ember_st_file *f,
                            const char *name, const ember_clipseg_config *cfg, const char *config_json,
                            int input_size, ember_err *err);

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
