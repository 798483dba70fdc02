/* clipseg_load.c — CLIPSeg weights: the configuration (defaults, config.json,
 * shapes of a checkpoint), the list of parameters with their checkpoint
 * names, loading them from an open weights file (an ember_st_file:
 * safetensors, or a PyTorch checkpoint that engine/data converted; this
 * file is in ember_core and opens only safetensors itself) with the
 * transforms the forward wants (bf16 widened to f32, q/k/v packed, 3x3
 * kernels permuted to channels-last, position embeddings resized
 * bicubically for the input size) or filling them at random. */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "core/safetensors.h"
#include "nn/clipseg_internal.h"

void ember_clipseg_config_default(ember_clipseg_config *c) {
    memset(c, 0, sizeof *c);
    c->text_vocab = 49408;
    c->text_width = 512;
    c->text_mlp = 2048;
    c->text_layers = 12;
    c->text_positions = 77;
    c->text_heads = 8;
    c->text_eps = 1e-5f;
    c->text_act = EMBER_CLIPSEG_QUICK_GELU;
    c->text_eos_token_id = -1;
    c->vision_width = 768;
    c->vision_mlp = 3072;
    c->vision_layers = 12;
    c->patch = 16;
    c->image_size = 224;
    c->vision_heads = 12;
    c->vision_eps = 1e-5f;
    c->vision_act = EMBER_CLIPSEG_QUICK_GELU;
    c->projection_dim = 512;
    c->reduce_dim = 64;
    c->decoder_mlp = 2048;
    c->n_extract = 3;
    c->extract_layers[0] = 3;
    c->extract_layers[1] = 6;
    c->extract_layers[2] = 9;
    c->decoder_heads = 4;
    c->conditional_layer = 0;
    c->complex_transposed_conv = 1;
}

/* ---- config.json --------------------------------------------------------
 *
 * Every key transformers' CLIPSegConfig (5.x) defines, and what Ember does
 * with it:
 *
 * honoured (read into the configuration):
 *   text_config / vision_config: num_attention_heads, layer_norm_eps (the
 *     vision one is also the decoder's: transformers builds the decoder
 *     layers from a copy of vision_config), hidden_act;
 *   text_config.eos_token_id (checked by the caller against its tokenizer);
 *   extract_layers, decoder_num_attention_heads, conditional_layer.
 * checked against the checkpoint (sizes the tensors already fix; a config
 * that disagrees belongs to another model, and transformers would load it
 * with randomly initialised or mis-shaped weights):
 *   text_config: vocab_size, hidden_size, intermediate_size,
 *     num_hidden_layers, max_position_embeddings;
 *   vision_config: hidden_size, intermediate_size, num_hidden_layers,
 *     patch_size, image_size; projection_dim, reduce_dim,
 *     decoder_intermediate_size, use_complex_transposed_convolution.
 * refused unless the one value implemented: model_type ("clipseg"),
 *   vision_config.num_channels (3: the pre-processing gives RGB).
 * ignored, because inference does not depend on them:
 *   attention_dropout, dropout, decoder_attention_dropout (dropout is off
 *     in eval mode); initializer_range, initializer_factor,
 *     logit_scale_init_value (training initialisation; logit_scale only
 *     scales CLIP's image-text similarity, which segmentation never
 *     computes); decoder_hidden_act (transformers' CLIPSegDecoder overwrites
 *     it with "relu" whatever the file says); text_config bos_token_id and
 *     pad_token_id (the tokenizer's business; padding sits after the pooled
 *     end-of-text token, and the text tower is causal, so it never reaches
 *     the pooled row); and the generic PretrainedConfig keys (architectures,
 *     dtype / torch_dtype: the loader reads each tensor's dtype from the
 *     file; id2label, label2id, return_dict, output_attentions,
 *     output_hidden_states, transformers_version, _name_or_path...). */

/* A parsed config.json: the *_config_dict objects of older files override
 * their *_config, key by key, as CLIPSegConfig.__post_init__ does. */
typedef struct cs_json {
    const char *path;
    json_t *root, *text, *vision, *text_dict, *vision_dict;
} cs_json;

/* The sizes a config.json states (-1: not stated), checked at load. */
typedef struct cs_declared {
    int text_vocab, text_width, text_mlp, text_layers, text_positions;
    int vision_width, vision_mlp, vision_layers, patch, image_size;
    int projection_dim, reduce_dim, decoder_mlp, complex_transposed_conv;
} cs_declared;

/* The value of key in section (NULL: top level, else "text_config" or
 * "vision_config"), or NULL; *where gets the name to show in messages. */
static json_t *cfg_get(const cs_json *j, const char *section, const char *key, char *where,
                       size_t wlen) {
    json_t *v = NULL;
    if (!section) {
        snprintf(where, wlen, "%s", key);
        v = json_object_get(j->root, key);
    } else {
        int text = !strcmp(section, "text_config");
        json_t *dict = text ? j->text_dict : j->vision_dict, *base = text ? j->text : j->vision;
        if (dict && (v = json_object_get(dict, key))) {
            snprintf(where, wlen, "%s_dict.%s", section, key);
        } else {
            snprintf(where, wlen, "%s.%s", section, key);
            v = base ? json_object_get(base, key) : NULL;
        }
    }
    return v;
}

/* What a JSON value is, for messages. */
static const char *json_kind(const json_t *v) {
    return json_is_integer(v) ? "an integer" : json_is_real(v) ? "a fractional number"
           : json_is_string(v) ? "a string" : json_is_array(v) ? "a list"
           : json_is_object(v) ? "an object" : json_is_boolean(v) ? "a boolean" : "null";
}

/* An integer >= min (a size, a head count, a layer), when the key is there. */
static int cfg_int(const cs_json *j, const char *section, const char *key, int min, int *dst,
                   ember_err *err) {
    char where[96];
    json_t *v = cfg_get(j, section, key, where, sizeof where);
    if (!v) return 0;
    if (json_is_integer(v) && json_integer_value(v) >= min && json_integer_value(v) <= 1 << 24) {
        *dst = (int)json_integer_value(v);
        return 0;
    }
    if (json_is_integer(v))
        return ember_err_set(err, "%s: %s is %lld; it must be from %d to %d", j->path, where,
                             (long long)json_integer_value(v), min, 1 << 24);
    /* transformers' types allow [height, width] for image_size and
     * patch_size, but CLIPSeg's embeddings divide them as integers. */
    return ember_err_set(err, "%s: %s is %s; it must be one integer%s", j->path, where, json_kind(v),
                         json_is_array(v) ? " (non-square sizes are not supported)" : "");
}

static int cfg_eps(const cs_json *j, const char *section, float *dst, ember_err *err) {
    char where[96];
    json_t *v = cfg_get(j, section, "layer_norm_eps", where, sizeof where);
    if (!v) return 0;
    double x = json_is_number(v) ? json_number_value(v) : -1.0;
    if (!(x >= 0.0 && x < 1.0)) {
        if (json_is_number(v))
            return ember_err_set(err, "%s: %s is %g; it must be from 0 to 1 (CLIPSeg uses 1e-05)",
                                 j->path, where, x);
        return ember_err_set(err, "%s: %s is %s; it must be a number (CLIPSeg uses 1e-05)", j->path,
                             where, json_kind(v));
    }
    *dst = (float)x;
    return 0;
}

/* transformers' ACT2FN names, as far as the backend computes them exactly:
 * quick_gelu and relu with act_fwd, the erf GELU with gelu_fwd (the ViT's).
 * The tanh approximations (gelu_new, gelu_pytorch_tanh, gelu_fast,
 * gelu_accurate...) would need an op neither backend has, and a close
 * substitute would silently change every logit. */
static int cfg_act(const cs_json *j, const char *section, int *dst, ember_err *err) {
    char where[96];
    json_t *v = cfg_get(j, section, "hidden_act", where, sizeof where);
    if (!v) return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s && !strcmp(s, "quick_gelu"))
        *dst = EMBER_CLIPSEG_QUICK_GELU;
    else if (s && (!strcmp(s, "gelu") || !strcmp(s, "gelu_python")))
        *dst = EMBER_CLIPSEG_GELU;
    else if (s && !strcmp(s, "relu"))
        *dst = EMBER_CLIPSEG_RELU;
    else
        return ember_err_set(err, "%s: %s is %s%.40s%s, which Ember's CLIPSeg does not implement; "
                                  "supported: 'quick_gelu', 'gelu' (exact, erf), 'gelu_python' (the "
                                  "same) and 'relu'",
                             j->path, where, s ? "'" : "", s ? s : "not a string", s ? "'" : "");
    return 0;
}

/* An object, or absent / null (a *_config_dict of null is common). */
static int cfg_section(cs_json *j, const char *key, json_t **dst, ember_err *err) {
    json_t *v = json_object_get(j->root, key);
    *dst = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v))
        return ember_err_set(err, "%s: %s must be a JSON object", j->path, key);
    *dst = v;
    return 0;
}

static int config_read(ember_clipseg_config *cfg, cs_declared *decl, const char *path,
                       ember_err *err) {
    memset(decl, 0xff, sizeof *decl); /* every size -1: not stated */
    json_error_t je;
    cs_json j = {.path = path};
    j.root = json_load_file(path, 0, &je);
    if (!j.root)
        return ember_err_set(err, "%s: not a readable config.json: %s (line %d)", path, je.text, je.line);
    int rc = -1;
    ember_clipseg_config c = *cfg; /* cfg changes only when the whole file is good */
    char where[96];
    if (!json_is_object(j.root)) {
        ember_err_set(err, "%s: expected a JSON object (a transformers config.json)", path);
        goto done;
    }
    json_t *mt = json_object_get(j.root, "model_type");
    if (mt && !(json_is_string(mt) && !strcmp(json_string_value(mt), "clipseg"))) {
        ember_err_set(err, "%s: model_type is %s%.40s%s, not 'clipseg': this is not a CLIPSeg model's "
                           "configuration", path, json_is_string(mt) ? "'" : "",
                      json_is_string(mt) ? json_string_value(mt) : "not a string",
                      json_is_string(mt) ? "'" : "");
        goto done;
    }
    if (cfg_section(&j, "text_config", &j.text, err) || cfg_section(&j, "vision_config", &j.vision, err) ||
        cfg_section(&j, "text_config_dict", &j.text_dict, err) ||
        cfg_section(&j, "vision_config_dict", &j.vision_dict, err))
        goto done;

    const char *T = "text_config", *V = "vision_config";
    if (cfg_int(&j, T, "vocab_size", 1, &decl->text_vocab, err) ||
        cfg_int(&j, T, "hidden_size", 1, &decl->text_width, err) ||
        cfg_int(&j, T, "intermediate_size", 1, &decl->text_mlp, err) ||
        cfg_int(&j, T, "num_hidden_layers", 1, &decl->text_layers, err) ||
        cfg_int(&j, T, "max_position_embeddings", 2, &decl->text_positions, err) ||
        cfg_int(&j, T, "num_attention_heads", 1, &c.text_heads, err) || cfg_eps(&j, T, &c.text_eps, err) ||
        cfg_act(&j, T, &c.text_act, err) ||
        cfg_int(&j, V, "hidden_size", 1, &decl->vision_width, err) ||
        cfg_int(&j, V, "intermediate_size", 1, &decl->vision_mlp, err) ||
        cfg_int(&j, V, "num_hidden_layers", 1, &decl->vision_layers, err) ||
        cfg_int(&j, V, "patch_size", 1, &decl->patch, err) ||
        cfg_int(&j, V, "image_size", 1, &decl->image_size, err) ||
        cfg_int(&j, V, "num_attention_heads", 1, &c.vision_heads, err) ||
        cfg_eps(&j, V, &c.vision_eps, err) || cfg_act(&j, V, &c.vision_act, err) ||
        cfg_int(&j, NULL, "projection_dim", 1, &decl->projection_dim, err) ||
        cfg_int(&j, NULL, "reduce_dim", 1, &decl->reduce_dim, err) ||
        cfg_int(&j, NULL, "decoder_intermediate_size", 1, &decl->decoder_mlp, err) ||
        cfg_int(&j, NULL, "decoder_num_attention_heads", 1, &c.decoder_heads, err) ||
        cfg_int(&j, NULL, "conditional_layer", 0, &c.conditional_layer, err))
        goto done;

    int channels = 3;
    if (cfg_int(&j, V, "num_channels", 1, &channels, err)) goto done;
    if (channels != 3) {
        ember_err_set(err, "%s: vision_config.num_channels is %d; Ember's CLIPSeg takes RGB images "
                           "(3 channels) only", path, channels);
        goto done;
    }
    json_t *v = cfg_get(&j, T, "eos_token_id", where, sizeof where);
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) {
            ember_err_set(err, "%s: %s must be one integer (the end-of-text token id, 49407 for "
                               "CLIP's tokenizer)%s", path, where,
                          json_is_array(v) ? "; a list of end-of-text ids is not supported" : "");
            goto done;
        }
        c.text_eos_token_id = (int)json_integer_value(v);
    }
    v = json_object_get(j.root, "use_complex_transposed_convolution");
    if (v) {
        if (!json_is_boolean(v)) {
            ember_err_set(err, "%s: use_complex_transposed_convolution must be true or false", path);
            goto done;
        }
        decl->complex_transposed_conv = json_is_true(v);
    }
    json_t *ex = json_object_get(j.root, "extract_layers");
    if (ex) {
        if (!json_is_array(ex) || json_array_size(ex) < 1 ||
            json_array_size(ex) > EMBER_CLIPSEG_MAX_EXTRACT) {
            ember_err_set(err, "%s: extract_layers must be a list of 1 to %d layer indices", path,
                          EMBER_CLIPSEG_MAX_EXTRACT);
            goto done;
        }
        for (size_t i = 0; i < json_array_size(ex); i++) {
            json_t *e = json_array_get(ex, i);
            /* transformers indexes hidden_states[i + 1]: a negative i would
             * count from the end there; Ember takes 0-based layer numbers. */
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 1 << 24) {
                ember_err_set(err, "%s: extract_layers[%zu] must be a layer index >= 0", path, i);
                goto done;
            }
            c.extract_layers[i] = (int)json_integer_value(e);
        }
        c.n_extract = (int)json_array_size(ex);
    }
    *cfg = c;
    rc = 0;
done:
    json_decref(j.root);
    return rc;
}

int ember_clipseg_config_read_json(ember_clipseg_config *cfg, const char *path, ember_err *err) {
    cs_declared decl;
    return config_read(cfg, &decl, path, err);
}

/* The sizes config.json states against those of the checkpoint's tensors. */
static int check_declared(const ember_clipseg_config *c, const cs_declared *d, const char *config_json,
                          const char *weights, ember_err *err) {
    static const struct {
        const char *key, *what;
        size_t cfg_off, decl_off;
    } k[] = {
#define K(key, what, f) {key, what, offsetof(ember_clipseg_config, f), offsetof(cs_declared, f)}
        K("text_config.vocab_size", "tokens in the text embedding", text_vocab),
        K("text_config.hidden_size", "the text width", text_width),
        K("text_config.intermediate_size", "the text MLP width", text_mlp),
        K("text_config.num_hidden_layers", "text layers", text_layers),
        K("text_config.max_position_embeddings", "text positions", text_positions),
        K("vision_config.hidden_size", "the vision width", vision_width),
        K("vision_config.intermediate_size", "the vision MLP width", vision_mlp),
        K("vision_config.num_hidden_layers", "vision layers", vision_layers),
        K("vision_config.patch_size", "the patch embedding's kernel", patch),
        K("vision_config.image_size", "the image size its position embeddings were trained at", image_size),
        K("projection_dim", "the text projection's width", projection_dim),
        K("reduce_dim", "the decoder width", reduce_dim),
        K("decoder_intermediate_size", "the decoder MLP width", decoder_mlp),
#undef K
    };
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        int want = *(const int *)((const char *)d + k[i].decl_off);
        int have = *(const int *)((const char *)c + k[i].cfg_off);
        if (want >= 0 && want != have)
            return ember_err_set(err, "%s says %s = %d, but %s has %d (%s): the two files are not of "
                                      "the same model",
                                 config_json, k[i].key, want, weights, have, k[i].what);
    }
    if (d->complex_transposed_conv >= 0 && d->complex_transposed_conv != c->complex_transposed_conv)
        return ember_err_set(err, "%s says use_complex_transposed_convolution = %s, but %s has the %s "
                                  "head: the two files are not of the same model",
                             config_json, d->complex_transposed_conv ? "true" : "false", weights,
                             c->complex_transposed_conv ? "refined (decoder.transposed_convolution.0/2/4)"
                                                        : "plain (decoder.transposed_convolution)");
    return 0;
}

/* ---- the parameter list -------------------------------------------------- */

enum { K_PLAIN, K_QKV, K_CONV3, K_POS };         /* how the file tensor becomes ours */
enum { I_W, I_ONE, I_ZERO, I_SMALL };            /* random init */

typedef struct cs_param {
    ember_tensor *dst;
    char name[128];
    int kind, init;
    int fndim;
    int64_t fshape[4]; /* in the file (for K_QKV: of each of q, k, v) */
    int64_t dn;        /* our element count */
    int64_t dshape[2];
    int dndim;
} cs_param;

typedef struct cs_plan {
    cs_param *p;
    size_t n, cap;
    int oom;
} cs_plan;

static cs_param *add(cs_plan *pl, ember_tensor *dst, int kind, int init, const char *name, int fndim,
                     int64_t f0, int64_t f1, int64_t f2, int64_t f3) {
    if (pl->n == pl->cap) {
        size_t nc = pl->cap ? pl->cap * 2 : 256;
        cs_param *np = realloc(pl->p, nc * sizeof *np);
        if (!np) {
            pl->oom = 1;
            return NULL;
        }
        pl->p = np;
        pl->cap = nc;
    }
    cs_param *q = &pl->p[pl->n++];
    memset(q, 0, sizeof *q);
    q->dst = dst;
    snprintf(q->name, sizeof q->name, "%s", name);
    q->kind = kind;
    q->init = init;
    q->fndim = fndim;
    int64_t f[4] = {f0, f1, f2, f3};
    int64_t n = 1;
    for (int i = 0; i < fndim; i++) {
        q->fshape[i] = f[i];
        n *= f[i];
    }
    /* Ours: the file's tensor flattened to 2-D (rows = first dim), or 1-D. */
    q->dndim = fndim == 1 ? 1 : 2;
    q->dshape[0] = f0;
    q->dshape[1] = fndim == 1 ? 1 : n / f0;
    if (kind == K_QKV) q->dshape[0] *= 3;
    q->dn = q->dshape[0] * q->dshape[1];
    return q;
}

static void add_layer(cs_plan *pl, cs_layer *L, const char *pre, int64_t C, int64_t M) {
    char b[128];
#define NM(s) (snprintf(b, sizeof b, "%s.%s", pre, s), b)
    add(pl, &L->ln1_g, K_PLAIN, I_ONE, NM("layer_norm1.weight"), 1, C, 0, 0, 0);
    add(pl, &L->ln1_b, K_PLAIN, I_ZERO, NM("layer_norm1.bias"), 1, C, 0, 0, 0);
    add(pl, &L->qkv_w, K_QKV, I_W, NM("self_attn.?_proj.weight"), 2, C, C, 0, 0);
    add(pl, &L->qkv_b, K_QKV, I_SMALL, NM("self_attn.?_proj.bias"), 1, C, 0, 0, 0);
    add(pl, &L->out_w, K_PLAIN, I_W, NM("self_attn.out_proj.weight"), 2, C, C, 0, 0);
    add(pl, &L->out_b, K_PLAIN, I_SMALL, NM("self_attn.out_proj.bias"), 1, C, 0, 0, 0);
    add(pl, &L->ln2_g, K_PLAIN, I_ONE, NM("layer_norm2.weight"), 1, C, 0, 0, 0);
    add(pl, &L->ln2_b, K_PLAIN, I_ZERO, NM("layer_norm2.bias"), 1, C, 0, 0, 0);
    add(pl, &L->fc1_w, K_PLAIN, I_W, NM("mlp.fc1.weight"), 2, M, C, 0, 0);
    add(pl, &L->fc1_b, K_PLAIN, I_SMALL, NM("mlp.fc1.bias"), 1, M, 0, 0, 0);
    add(pl, &L->fc2_w, K_PLAIN, I_W, NM("mlp.fc2.weight"), 2, C, M, 0, 0);
    add(pl, &L->fc2_b, K_PLAIN, I_SMALL, NM("mlp.fc2.bias"), 1, C, 0, 0, 0);
#undef NM
}

static int make_plan(ember_clipseg *m, cs_plan *pl) {
    const ember_clipseg_config *c = &m->cfg;
    char b[128];
    int64_t Ct = c->text_width, Cv = c->vision_width, R = c->reduce_dim, p = c->patch;
    int64_t g0 = c->image_size / c->patch;
    add(pl, &m->tok_emb, K_PLAIN, I_SMALL, "clip.text_model.embeddings.token_embedding.weight", 2,
        c->text_vocab, Ct, 0, 0);
    add(pl, &m->txt_pos, K_PLAIN, I_SMALL, "clip.text_model.embeddings.position_embedding.weight",
        2, c->text_positions, Ct, 0, 0);
    for (int l = 0; l < c->text_layers; l++) {
        snprintf(b, sizeof b, "clip.text_model.encoder.layers.%d", l);
        add_layer(pl, &m->text[l], b, Ct, c->text_mlp);
    }
    add(pl, &m->final_g, K_PLAIN, I_ONE, "clip.text_model.final_layer_norm.weight", 1, Ct, 0, 0, 0);
    add(pl, &m->final_b, K_PLAIN, I_ZERO, "clip.text_model.final_layer_norm.bias", 1, Ct, 0, 0, 0);
    add(pl, &m->text_proj, K_PLAIN, I_W, "clip.text_projection.weight", 2, c->projection_dim, Ct, 0, 0);

    add(pl, &m->cls, K_PLAIN, I_SMALL, "clip.vision_model.embeddings.class_embedding", 1, Cv, 0, 0, 0);
    add(pl, &m->patch_w, K_PLAIN, I_W, "clip.vision_model.embeddings.patch_embedding.weight", 4, Cv, 3,
        p, p);
    cs_param *pos = add(pl, &m->vis_pos, K_POS, I_SMALL,
                        "clip.vision_model.embeddings.position_embedding.weight", 2, 1 + g0 * g0, Cv, 0, 0);
    if (pos) {
        pos->dshape[0] = m->tokens;
        pos->dn = pos->dshape[0] * pos->dshape[1];
    }
    add(pl, &m->pre_g, K_PLAIN, I_ONE, "clip.vision_model.pre_layrnorm.weight", 1, Cv, 0, 0, 0);
    add(pl, &m->pre_b, K_PLAIN, I_ZERO, "clip.vision_model.pre_layrnorm.bias", 1, Cv, 0, 0, 0);
    for (int l = 0; l < m->vision_used; l++) {
        snprintf(b, sizeof b, "clip.vision_model.encoder.layers.%d", l);
        add_layer(pl, &m->vision[l], b, Cv, c->vision_mlp);
    }

    add(pl, &m->film_mul_w, K_PLAIN, I_W, "decoder.film_mul.weight", 2, R, c->projection_dim, 0, 0);
    add(pl, &m->film_mul_b, K_PLAIN, I_SMALL, "decoder.film_mul.bias", 1, R, 0, 0, 0);
    add(pl, &m->film_add_w, K_PLAIN, I_W, "decoder.film_add.weight", 2, R, c->projection_dim, 0, 0);
    add(pl, &m->film_add_b, K_PLAIN, I_SMALL, "decoder.film_add.bias", 1, R, 0, 0, 0);
    for (int i = 0; i < c->n_extract; i++) {
        snprintf(b, sizeof b, "decoder.reduces.%d.weight", i);
        add(pl, &m->red_w[i], K_PLAIN, I_W, b, 2, R, Cv, 0, 0);
        snprintf(b, sizeof b, "decoder.reduces.%d.bias", i);
        add(pl, &m->red_b[i], K_PLAIN, I_SMALL, b, 1, R, 0, 0, 0);
        snprintf(b, sizeof b, "decoder.layers.%d", i);
        add_layer(pl, &m->dec[i], b, R, c->decoder_mlp);
    }
    if (c->complex_transposed_conv) {
        int64_t s = p / 4;
        add(pl, &m->conv_w, K_CONV3, I_W, "decoder.transposed_convolution.0.weight", 4, R, R, 3, 3);
        add(pl, &m->conv_b, K_PLAIN, I_SMALL, "decoder.transposed_convolution.0.bias", 1, R, 0, 0, 0);
        add(pl, &m->tc1_w, K_PLAIN, I_W, "decoder.transposed_convolution.2.weight", 4, R, R / 2, s, s);
        add(pl, &m->tc1_b, K_PLAIN, I_SMALL, "decoder.transposed_convolution.2.bias", 1, R / 2, 0, 0, 0);
        add(pl, &m->tc2_w, K_PLAIN, I_W, "decoder.transposed_convolution.4.weight", 4, R / 2, 1, s, s);
        add(pl, &m->tc2_b, K_PLAIN, I_SMALL, "decoder.transposed_convolution.4.bias", 1, 1, 0, 0, 0);
    } else {
        add(pl, &m->tc1_w, K_PLAIN, I_W, "decoder.transposed_convolution.weight", 4, R, 1, p, p);
        add(pl, &m->tc1_b, K_PLAIN, I_SMALL, "decoder.transposed_convolution.bias", 1, 1, 0, 0, 0);
    }
    return pl->oom ? -1 : 0;
}

/* ---- bicubic resize (PyTorch interpolate, bicubic, align_corners=False) -- */

static double cubic1(double x, double A) { return ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0; }
static double cubic2(double x, double A) { return ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A; }

/* Taps and weights of output index o for an in -> out resize. */
static void cubic_taps(int64_t o, int64_t in, int64_t out, int64_t idx[4], double w[4]) {
    const double A = -0.75;
    double scale = (double)in / (double)out;
    double src = scale * ((double)o + 0.5) - 0.5; /* not clamped at 0 for cubic */
    double f = floor(src), t = src - f;
    w[0] = cubic2(t + 1.0, A);
    w[1] = cubic1(t, A);
    w[2] = cubic1(1.0 - t, A);
    w[3] = cubic2(2.0 - t, A);
    for (int k = 0; k < 4; k++) {
        int64_t i = (int64_t)f - 1 + k;
        idx[k] = i < 0 ? 0 : (i >= in ? in - 1 : i);
    }
}

/* src [1 + g0*g0, C] -> dst [1 + g*g, C]: the class row kept, the grid resized. */
static void resize_pos(float *dst, const float *src, int64_t g0, int64_t g, int64_t C) {
    memcpy(dst, src, (size_t)C * sizeof(float));
    for (int64_t y = 0; y < g; y++) {
        int64_t iy[4], ix[4];
        double wy[4], wx[4];
        cubic_taps(y, g0, g, iy, wy);
        for (int64_t x = 0; x < g; x++) {
            cubic_taps(x, g0, g, ix, wx);
            float *o = dst + (1 + y * g + x) * C;
            for (int64_t c = 0; c < C; c++) {
                double acc = 0.0;
                for (int a = 0; a < 4; a++) {
                    double row = 0.0;
                    for (int bb = 0; bb < 4; bb++) row += wx[bb] * src[(1 + iy[a] * g0 + ix[bb]) * C + c];
                    acc += wy[a] * row;
                }
                o[c] = (float)acc;
            }
        }
    }
}

/* ---- filling ----------------------------------------------------------- */

static const char *shape_str(char *buf, size_t len, int ndim, const int64_t *s) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
    return buf;
}

/* Checks one file tensor against the expected shape; appends problems. f32
 * and bf16 are taken (a bf16 checkpoint, e.g. a pytorch_model.bin saved
 * after model.to(torch.bfloat16), is widened exactly to the f32 the forward
 * computes in); other element types are not weights. */
static int check_entry(const ember_st_file *f, const char *name, int ndim, const int64_t *shape,
                       char *miss, size_t *nmiss, char *bad, size_t *nbad) {
    const ember_st_entry *e = ember_st_find(f, name);
    if (!e) {
        if (*nmiss < 6) {
            size_t l = strlen(miss);
            snprintf(miss + l, 1024 - l, "%s%s", l ? ", " : "", name);
        }
        (*nmiss)++;
        return -1;
    }
    int ok = (e->dtype == EMBER_F32 || e->dtype == EMBER_BF16) && e->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = e->shape[i] == shape[i];
    if (!ok) {
        if (*nbad < 4) {
            char s1[64], s2[64];
            size_t l = strlen(bad);
            snprintf(bad + l, 1024 - l, "%s%s is %s %s, expected %s f32 (or bf16)", l ? "; " : "", name,
                     shape_str(s1, sizeof s1, e->ndim, e->shape), ember_dtype_name(e->dtype),
                     shape_str(s2, sizeof s2, ndim, shape));
        }
        (*nbad)++;
        return -1;
    }
    return 0;
}

/* The q, k or v tensor's name: the '?' of a K_QKV name replaced. */
static void qkv_name(char *dst, size_t len, const char *pattern, int s) {
    snprintf(dst, len, "%s", pattern);
    char *q = strchr(dst, '?');
    if (q) *q = s == 0 ? 'q' : s == 1 ? 'k' : 'v';
}

/* n elements of a checked (f32 or bf16) tensor as f32. The file's bytes
 * need not be aligned for either type: they are read with memcpy. */
static void copy_f32(float *dst, const ember_st_file *f, const char *name, int64_t n) {
    const ember_st_entry *e = ember_st_find(f, name);
    const uint8_t *src = f->data + e->offset;
    if (e->dtype == EMBER_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, sizeof h);
        dst[i] = ember_bf16_to_f32(h);
    }
}

static int fill_from_file(const cs_plan *pl, float *host, const size_t *offs, const ember_st_file *f,
                          const ember_clipseg *m, ember_err *err) {
    char miss[1024] = "", bad[1024] = "";
    size_t nmiss = 0, nbad = 0;
    for (size_t i = 0; i < pl->n; i++) {
        const cs_param *q = &pl->p[i];
        if (q->kind == K_QKV) {
            for (int s = 0; s < 3; s++) {
                char nm[160];
                qkv_name(nm, sizeof nm, q->name, s);
                check_entry(f, nm, q->fndim, q->fshape, miss, &nmiss, bad, &nbad);
            }
        } else {
            check_entry(f, q->name, q->fndim, q->fshape, miss, &nmiss, bad, &nbad);
        }
    }
    if (nmiss || nbad) {
        char tail1[64] = "", tail2[64] = "";
        if (nmiss > 6) snprintf(tail1, sizeof tail1, " and %zu more", nmiss - 6);
        if (nbad > 4) snprintf(tail2, sizeof tail2, " and %zu more", nbad - 4);
        if (nmiss && nbad)
            return ember_err_set(err, "not a usable CLIPSeg checkpoint: %zu tensor(s) missing (%s%s); "
                                      "%zu with the wrong shape or dtype (%s%s)",
                                 nmiss, miss, tail1, nbad, bad, tail2);
        if (nmiss)
            return ember_err_set(err, "not a usable CLIPSeg checkpoint: %zu tensor(s) missing: %s%s",
                                 nmiss, miss, tail1);
        return ember_err_set(err, "not a usable CLIPSeg checkpoint: %zu tensor(s) with the wrong "
                                  "shape or dtype: %s%s (is config.json the checkpoint's own?)",
                             nbad, bad, tail2);
    }
    for (size_t i = 0; i < pl->n; i++) {
        const cs_param *q = &pl->p[i];
        float *d = host + offs[i];
        int64_t fn = 1;
        for (int k = 0; k < q->fndim; k++) fn *= q->fshape[k];
        if (q->kind == K_PLAIN) {
            copy_f32(d, f, q->name, fn);
        } else if (q->kind == K_QKV) {
            for (int s = 0; s < 3; s++) {
                char nm[160];
                qkv_name(nm, sizeof nm, q->name, s);
                copy_f32(d + s * fn, f, nm, fn);
            }
        } else {
            /* The file's bytes need not be float-aligned: work on a copy. */
            float *src = malloc((size_t)fn * sizeof(float));
            if (!src) return ember_err_set(err, "out of host memory");
            copy_f32(src, f, q->name, fn);
            if (q->kind == K_CONV3) {
                /* [Co, Ci, 3, 3] -> [Co, 3, 3, Ci] (conv3x3_cols' column order). */
                int64_t Co = q->fshape[0], Ci = q->fshape[1];
                for (int64_t o = 0; o < Co; o++)
                    for (int64_t ci = 0; ci < Ci; ci++)
                        for (int k = 0; k < 9; k++) d[(o * 9 + k) * Ci + ci] = src[(o * Ci + ci) * 9 + k];
            } else { /* K_POS */
                resize_pos(d, src, m->cfg.image_size / m->cfg.patch, m->grid, m->cfg.vision_width);
            }
            free(src);
        }
    }
    return 0;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill_random(const cs_plan *pl, float *host, const size_t *offs, uint64_t seed) {
    uint64_t st = seed;
    for (size_t i = 0; i < pl->n; i++) {
        const cs_param *q = &pl->p[i];
        float *d = host + offs[i];
        /* Uniform with the variance of PyTorch's default Linear init scale. */
        double fan_in = q->fndim >= 2 ? (double)(q->dn / q->dshape[0]) : 1.0;
        if (q->kind == K_QKV) fan_in = (double)q->fshape[1];
        double a = q->init == I_W ? 1.0 / sqrt(fan_in) : q->init == I_SMALL ? 0.02 : 0.0;
        for (int64_t k = 0; k < q->dn; k++) {
            double u = (double)(splitmix(&st) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
            d[k] = q->init == I_ONE ? 1.0f : (float)(a * u);
        }
    }
}

/* ---- assembling a model ---------------------------------------------------- */

/* Messages name config.json's keys: that is where a user can change them. */
static int check_config(const ember_clipseg_config *c, ember_err *err) {
    if (c->text_width < 1 || c->vision_width < 1 || c->text_layers < 1 || c->vision_layers < 1 ||
        c->text_vocab < 1 || c->text_positions < 1 || c->projection_dim < 1 || c->patch < 1 ||
        c->reduce_dim < 2 || c->text_mlp < 1 || c->vision_mlp < 1 || c->decoder_mlp < 1)
        return ember_err_set(err, "the configuration has a non-positive size");
    if (c->text_heads < 1 || c->text_width % c->text_heads)
        return ember_err_set(err, "text_config.num_attention_heads = %d does not divide "
                                  "text_config.hidden_size = %d", c->text_heads, c->text_width);
    if (c->vision_heads < 1 || c->vision_width % c->vision_heads)
        return ember_err_set(err, "vision_config.num_attention_heads = %d does not divide "
                                  "vision_config.hidden_size = %d", c->vision_heads, c->vision_width);
    if (c->decoder_heads < 1 || c->reduce_dim % c->decoder_heads)
        return ember_err_set(err, "decoder_num_attention_heads = %d does not divide reduce_dim = %d",
                             c->decoder_heads, c->reduce_dim);
    if (!(c->text_eps >= 0.0f) || !(c->vision_eps >= 0.0f))
        return ember_err_set(err, "layer_norm_eps must be >= 0 (text %g, vision %g)", (double)c->text_eps,
                             (double)c->vision_eps);
    for (int t = 0; t < 2; t++) {
        int act = t ? c->vision_act : c->text_act;
        if (act != EMBER_CLIPSEG_QUICK_GELU && act != EMBER_CLIPSEG_GELU && act != EMBER_CLIPSEG_RELU)
            return ember_err_set(err, "%s_config.hidden_act: unknown activation code %d", t ? "vision" : "text", act);
    }
    if (c->n_extract < 1 || c->n_extract > EMBER_CLIPSEG_MAX_EXTRACT)
        return ember_err_set(err, "extract_layers has %d entries; 1 to %d are supported", c->n_extract,
                             EMBER_CLIPSEG_MAX_EXTRACT);
    for (int i = 0; i < c->n_extract; i++)
        if (c->extract_layers[i] < 0 || c->extract_layers[i] >= c->vision_layers)
            return ember_err_set(err, "extract_layers names layer %d, outside the %d vision layers (0 to %d)",
                                 c->extract_layers[i], c->vision_layers, c->vision_layers - 1);
    /* transformers compares each decoder index with conditional_layer, so
     * a value past the last one would silently drop the prompt (FiLM). */
    if (c->conditional_layer < 0 || c->conditional_layer >= c->n_extract)
        return ember_err_set(err, "conditional_layer = %d is not one of the %d decoder layers (0 to %d), "
                                  "so the prompt would never reach the decoder",
                             c->conditional_layer, c->n_extract, c->n_extract - 1);
    if (c->image_size < c->patch || c->image_size % c->patch)
        return ember_err_set(err, "vision_config.image_size = %d is not a multiple of patch_size = %d",
                             c->image_size, c->patch);
    if (c->complex_transposed_conv && (c->patch % 4 || c->reduce_dim % 2))
        return ember_err_set(err, "use_complex_transposed_convolution needs a patch_size divisible by 4 "
                                  "and an even reduce_dim (got %d and %d)", c->patch, c->reduce_dim);
    return 0;
}

static int check_input_size(const ember_clipseg_config *c, int input_size, ember_err *err) {
    if (input_size < c->patch || input_size % c->patch)
        return ember_err_set(err, "input size %d is not a positive multiple of the patch %d "
                                  "(352 for the released checkpoints)", input_size, c->patch);
    return 0;
}

static int assemble(ember_clipseg **out, const ember_backend *be, const ember_clipseg_config *cfg,
                    int input_size, const ember_st_file *f, uint64_t seed, ember_err *err) {
    *out = NULL;
    if (!be) return ember_err_set(err, "no backend");
    if (check_config(cfg, err) || check_input_size(cfg, input_size, err)) return -1;
    ember_clipseg *m = calloc(1, sizeof *m);
    if (!m) return ember_err_set(err, "out of host memory");
    m->be = be;
    m->cfg = *cfg;
    m->input_size = input_size;
    m->grid = input_size / cfg->patch;
    m->tokens = 1 + m->grid * m->grid;
    m->out_size = cfg->complex_transposed_conv ? m->grid * (cfg->patch / 4) * (cfg->patch / 4)
                                               : m->grid * cfg->patch;
    for (int i = 0; i < cfg->n_extract; i++)
        if (cfg->extract_layers[i] + 1 > m->vision_used) m->vision_used = cfg->extract_layers[i] + 1;
    m->text = calloc((size_t)cfg->text_layers, sizeof *m->text);
    m->vision = calloc((size_t)m->vision_used, sizeof *m->vision);
    cs_plan pl = {0};
    size_t *offs = NULL;
    float *host = NULL;
    if (!m->text || !m->vision || make_plan(m, &pl)) {
        ember_err_set(err, "out of host memory");
        goto fail;
    }
    offs = malloc(pl.n * sizeof *offs);
    if (!offs) {
        ember_err_set(err, "out of host memory");
        goto fail;
    }
    size_t total = 0; /* floats; each tensor starts 256-byte aligned */
    for (size_t i = 0; i < pl.n; i++) {
        offs[i] = total;
        total += ((size_t)pl.p[i].dn + 63) & ~(size_t)63;
    }
    host = calloc(total, sizeof(float));
    if (!host) {
        ember_err_set(err, "out of host memory for %zu MB of weights", total * 4 >> 20);
        goto fail;
    }
    if (f) {
        if (fill_from_file(&pl, host, offs, f, m, err)) goto fail;
    } else {
        fill_random(&pl, host, offs, seed);
    }
    if (be->alloc(be, total * sizeof(float), &m->params, err) ||
        be->copy_h2d(be, m->params, host, total * sizeof(float), err) || be->sync(be, err))
        goto fail;
    for (size_t i = 0; i < pl.n; i++) {
        cs_param *q = &pl.p[i];
        if (ember_tensor_view(q->dst, (float *)m->params + offs[i], EMBER_F32, be->device, q->dndim,
                              q->dshape, err))
            goto fail;
    }
    free(host);
    free(offs);
    free(pl.p);
    *out = m;
    return 0;
fail:
    free(host);
    free(offs);
    free(pl.p);
    ember_clipseg_free(m);
    return -1;
}

void ember_clipseg_free(ember_clipseg *m) {
    if (!m) return;
    ember_arena_release(&m->scratch);
    if (m->params) m->be->dealloc(m->be, m->params);
    free(m->text);
    free(m->vision);
    free(m);
}

/* dims of a file tensor (any dtype); -1 and a message when absent. */
static const ember_st_entry *need(const ember_st_file *f, const char *name, int ndim, ember_err *err) {
    const ember_st_entry *e = ember_st_find(f, name);
    if (!e) {
        ember_err_set(err, "not a CLIPSeg checkpoint: it has no tensor %s", name);
        return NULL;
    }
    if (e->ndim != ndim) {
        ember_err_set(err, "not a usable CLIPSeg checkpoint: %s has %d dims, expected %d", name, e->ndim, ndim);
        return NULL;
    }
    return e;
}

static int count_layers(const ember_st_file *f, const char *fmt) {
    char b[128];
    int n = 0;
    for (;; n++) {
        snprintf(b, sizeof b, fmt, n);
        if (!ember_st_find(f, b)) return n;
    }
}

static int infer_shapes(ember_clipseg_config *c, const ember_st_file *f, ember_err *err) {
    const ember_st_entry *e;
    if (!(e = need(f, "clip.text_model.embeddings.token_embedding.weight", 2, err))) return -1;
    c->text_vocab = (int)e->shape[0];
    c->text_width = (int)e->shape[1];
    if (!(e = need(f, "clip.text_model.embeddings.position_embedding.weight", 2, err))) return -1;
    c->text_positions = (int)e->shape[0];
    if (!(e = need(f, "clip.text_model.encoder.layers.0.mlp.fc1.weight", 2, err))) return -1;
    c->text_mlp = (int)e->shape[0];
    c->text_layers = count_layers(f, "clip.text_model.encoder.layers.%d.self_attn.q_proj.weight");
    if (!(e = need(f, "clip.vision_model.embeddings.patch_embedding.weight", 4, err))) return -1;
    c->vision_width = (int)e->shape[0];
    c->patch = (int)e->shape[2];
    if (e->shape[1] != 3 || e->shape[2] != e->shape[3])
        return ember_err_set(err, "not a usable CLIPSeg checkpoint: the patch embedding must be "
                                  "[C, 3, p, p], got [%lld, %lld, %lld, %lld]",
                             (long long)e->shape[0], (long long)e->shape[1], (long long)e->shape[2],
                             (long long)e->shape[3]);
    if (!(e = need(f, "clip.vision_model.embeddings.position_embedding.weight", 2, err))) return -1;
    int64_t g0 = (int64_t)llround(sqrt((double)(e->shape[0] - 1)));
    if (e->shape[0] < 2 || g0 * g0 + 1 != e->shape[0])
        return ember_err_set(err, "not a usable CLIPSeg checkpoint: %lld vision positions are not 1 + a square grid",
                             (long long)e->shape[0]);
    c->image_size = (int)(g0 * c->patch);
    if (!(e = need(f, "clip.vision_model.encoder.layers.0.mlp.fc1.weight", 2, err))) return -1;
    c->vision_mlp = (int)e->shape[0];
    c->vision_layers = count_layers(f, "clip.vision_model.encoder.layers.%d.self_attn.q_proj.weight");
    if (!(e = need(f, "clip.text_projection.weight", 2, err))) return -1;
    c->projection_dim = (int)e->shape[0];
    if (!(e = need(f, "decoder.reduces.0.weight", 2, err))) return -1;
    c->reduce_dim = (int)e->shape[0];
    int nred = count_layers(f, "decoder.reduces.%d.weight");
    if (nred != c->n_extract)
        return ember_err_set(err, "the checkpoint has %d decoder reduces but the configuration "
                                  "names %d extract layers (pass the checkpoint's config.json)",
                             nred, c->n_extract);
    if (!(e = need(f, "decoder.layers.0.mlp.fc1.weight", 2, err))) return -1;
    c->decoder_mlp = (int)e->shape[0];
    if (ember_st_find(f, "decoder.transposed_convolution.0.weight"))
        c->complex_transposed_conv = 1;
    else if (ember_st_find(f, "decoder.transposed_convolution.weight"))
        c->complex_transposed_conv = 0;
    else
        return ember_err_set(err, "not a CLIPSeg checkpoint: it has no decoder.transposed_convolution weights");
    return 0;
}

int ember_clipseg_load_file(ember_clipseg **out, const ember_backend *be, const ember_st_file *f,
                            const char *name, const ember_clipseg_config *cfg, const char *config_json,
                            int input_size, ember_err *err) {
    *out = NULL;
    if (!name) name = "the checkpoint";
    ember_clipseg_config c;
    cs_declared decl;
    if (cfg)
        c = *cfg;
    else
        ember_clipseg_config_default(&c);
    if (config_json && config_read(&c, &decl, config_json, err)) return -1;
    if (!f) return ember_err_set(err, "%s: no weights file", name);
    if (infer_shapes(&c, f, err)) return ember_err_prefix(err, "%s: ", name);
    if (config_json && check_declared(&c, &decl, config_json, name, err)) return -1;
    if (check_config(&c, err))
        return config_json ? ember_err_prefix(err, "%s: ", config_json)
                           : ember_err_prefix(err, "CLIPSeg configuration: ");
    if (check_input_size(&c, input_size, err)) return ember_err_prefix(err, "CLIPSeg: ");
    if (assemble(out, be, &c, input_size, f, 0, err)) return ember_err_prefix(err, "%s: ", name);
    return 0;
}

int ember_clipseg_load(ember_clipseg **out, const ember_backend *be, const char *path,
                       const ember_clipseg_config *cfg, const char *config_json, int input_size,
                       ember_err *err) {
    *out = NULL;
    ember_st_file f;
    /* ember_st_open's messages name the file already. */
    if (ember_st_open(&f, path, err)) return ember_err_prefix(err, "CLIPSeg weights: ");
    int rc = ember_clipseg_load_file(out, be, &f, path, cfg, config_json, input_size, err);
    ember_st_close(&f);
    return rc;
}

int ember_clipseg_init_random(ember_clipseg **out, const ember_backend *be,
                              const ember_clipseg_config *cfg, int input_size, uint64_t seed,
                              ember_err *err) {
    *out = NULL;
    if (!cfg) return ember_err_set(err, "CLIPSeg: no configuration");
    if (assemble(out, be, cfg, input_size, NULL, seed, err)) return ember_err_prefix(err, "CLIPSeg: ");
    return 0;
}

const ember_clipseg_config *ember_clipseg_get_config(const ember_clipseg *m) { return &m->cfg; }
int ember_clipseg_input_size(const ember_clipseg *m) { return m->input_size; }
int ember_clipseg_output_size(const ember_clipseg *m) { return m->out_size; }
int ember_clipseg_vision_tokens(const ember_clipseg *m) { return m->tokens; }
