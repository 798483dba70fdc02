/* vit.h — the Vision Transformer of Q1_RECIPE.md, written once against the
 * backend table (so it runs on the CPU or the CUDA backend unchanged).
 *
 * Model: Conv2d patch embedding (p x p, stride p, with bias) -> + learnable
 * position embedding [1, T, C] -> dropout -> depth x pre-norm blocks
 *   x += Dropout(Proj(MHSA(LN1(x))));  x += Dropout(FC2(Dropout(GELU(FC1(LN2(x))))))
 * -> final LayerNorm -> mean over the T tokens (no class token) -> Linear head.
 * GELU is the exact (erf) one; LayerNorm eps defaults to 1e-5 (PyTorch's).
 *
 * Parameters live in ONE contiguous f32 buffer (llm.c style), in module
 * order (patch embedding, pos_embed, blocks, norm, head; PyTorch's
 * named_parameters() lists pos_embed first, as a parameter of the top
 * module), each starting on a 64-element boundary (the gaps are zero and
 * stay zero). Gradients, AdamW m and v are buffers of the same layout, so
 * the optimizer is one fused call over everything. Names and shapes are
 * exactly the state_dict() of the reference PyTorch model
 * (bench/torch_vit.py), so checkpoints load both ways with strict=True:
 * patch_embed.weight [C, in_chans, p, p], patch_embed.bias, pos_embed
 * [1, T, C], blocks.N.norm1.{weight,bias}, blocks.N.attn.qkv.{weight,bias},
 * blocks.N.attn.proj.{weight,bias}, blocks.N.norm2.{weight,bias},
 * blocks.N.mlp.fc1.{weight,bias}, blocks.N.mlp.fc2.{weight,bias},
 * norm.{weight,bias}, head.{weight,bias}.
 *
 * Initialisation (cfg.init), two schemes:
 *   EMBER_VIT_INIT_TORCH (the default): what the reference PyTorch model
 *     (bench/torch_vit.py) gets from its layers' own defaults. Every Linear
 *     (qkv, proj, fc1, fc2, head) and the Conv2d patch embedding: weight
 *     and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_features
 *     (in_chans p^2 for the patch embedding; the weights'
 *     kaiming_uniform_(a=sqrt(5)) comes to that bound); LayerNorm weight 1,
 *     bias 0; pos_embed ~ N(0, 0.02), not truncated (torch.randn * 0.02).
 *   EMBER_VIT_INIT_TIMM: timm's ViT. Linear weights and pos_embed ~
 *     N(0, 0.02) truncated to [-2, 2] (timm's trunc_normal_ bounds,
 *     absolute, so in effect untruncated); Linear biases 0; LayerNorm 1, 0;
 *     the patch embedding as above. Bit for bit what Ember's default was
 *     before the torch scheme: on the q1 recipe it learns more slowly at
 *     small sizes (docs/BENCHMARKS.md).
 * Random numbers come from Philox keyed by the model's seed, drawn on the
 * host in parameter order, so an initialisation is the same on every
 * machine and backend.
 *
 * Default size (dim 384, depth 8, heads 8, mlp 4x, patch 4, 32x32, 10
 * classes): 14,243,722 parameters, the same as the PyTorch model (checked by
 * tests/fixtures/gen_vit_fixtures.py).
 *
 * Mixed precision (cfg.compute_dtype = EMBER_BF16, CUDA backend only): the
 * autocast recipe. Matrix products take bf16 operands (fp32 accumulation);
 * the activations between them (patches, LayerNorm outputs, qkv, attention,
 * MLP hidden, pooled features) and their gradients are bf16; the residual
 * stream and its gradient, LayerNorm statistics, the attention logsumexp,
 * logits, probabilities and loss stay fp32. The master weights, gradients
 * and AdamW state are the same fp32 buffers as in fp32 mode (same layout,
 * same checkpoints, same dropout offsets); a bf16 copy of the weights (wb,
 * same layout) feeds the products, refreshed by AdamW in the same pass. The
 * forward and backward code is shared: only the activation dtypes, the
 * weight views the ops read (wc) and one branch buffer differ. */
#ifndef EMBER_NN_VIT_H
#define EMBER_NN_VIT_H

#include <stdint.h>

#include "core/arena.h"
#include "core/backend.h"
#include "core/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zero is the default so that a zero-initialised config gets it too. */
typedef enum ember_vit_init {
    EMBER_VIT_INIT_TORCH = 0,
    EMBER_VIT_INIT_TIMM = 1,
} ember_vit_init;

/* "torch" / "timm"; NULL for a value outside the enum. */
const char *ember_vit_init_name(ember_vit_init init);
/* The scheme named `name`; -1 (out untouched) for an unknown name. */
int ember_vit_init_parse(const char *name, ember_vit_init *out);

typedef struct ember_vit_config {
    int image_size;  /* 32 */
    int patch;       /* 4 */
    int in_chans;    /* 3 */
    int dim;         /* 384 */
    int depth;       /* 8 */
    int heads;       /* 8 */
    int mlp_hidden;  /* 1536 (mlp ratio 4) */
    int num_classes; /* 10 */
    float dropout;   /* 0.1: embeddings, attention output, MLP hidden and output */
    float ln_eps;    /* 1e-5 */
    /* EMBER_F32 (0, the default): fp32 throughout, on any backend.
     * EMBER_BF16: mixed precision (see the top), CUDA backend only. */
    ember_dtype compute_dtype;
    ember_vit_init init; /* EMBER_VIT_INIT_TORCH (0, the default) or _TIMM; see the top */
} ember_vit_config;

/* Largest sizes ember_vit_config_check accepts. */
#define EMBER_VIT_MAX_IMAGE 4096
#define EMBER_VIT_MAX_DIM 65536
#define EMBER_VIT_MAX_DEPTH 1024
#define EMBER_VIT_MAX_MLP (1 << 20)
#define EMBER_VIT_MAX_CLASSES (1 << 20)
#define EMBER_VIT_MAX_CHANS 64

ember_vit_config ember_vit_default_config(void);
/* Checks sizes (positive, patch divides the image, heads divide dim, at
 * most the limits above, ...) and the init scheme. */
int ember_vit_config_check(const ember_vit_config *cfg, ember_err *err);
/* Number of trainable parameters (the sum of every tensor's numel). */
int64_t ember_vit_param_count(const ember_vit_config *cfg);

#define EMBER_VIT_NAME_MAX 48

typedef struct ember_vit_param {
    char name[EMBER_VIT_NAME_MAX];
    int ndim;
    int64_t shape[4];
    int64_t offset; /* in elements from the start of the parameter buffer */
    int64_t numel;
} ember_vit_param;

/* Per-block views into the parameter (or gradient) buffer. */
typedef struct ember_vit_block_t {
    ember_tensor ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} ember_vit_block_t;

typedef struct ember_vit_tensors {
    ember_tensor patch_w, patch_b, pos;
    ember_vit_block_t *blocks; /* depth entries */
    ember_tensor norm_w, norm_b, head_w, head_b;
} ember_vit_tensors;

/* Saved activations of one layer, for backward. */
typedef struct ember_vit_layer_acts {
    ember_tensor ln1, ln1_mean, ln1_rstd, qkv, att, lse, mid, ln2, ln2_mean, ln2_rstd, fc1_pre, fc1_act;
} ember_vit_layer_acts;

typedef struct ember_vit_acts {
    int64_t batch;
    ember_tensor cols, emb;   /* patches [B, T, 3p^2]; embeddings [B, T, C] */
    ember_tensor *res;        /* depth + 1 residual streams [B, T, C]; res[0] after dropout */
    ember_vit_layer_acts *layers;
    ember_tensor lnf, lnf_mean, lnf_rstd, pooled, logits, probs, loss, correct;
    /* Scratch for backward. */
    ember_tensor dres, dtmp, dln, dqkv, dhid, dpooled, dlogits;
    ember_tensor labels;      /* [B] i32, on the device */
    ember_tensor images;      /* [B, 3, H, W] f32, on the device */
    /* Mixed precision only (NULL data in fp32): the bf16 output of the
     * attention projection and of FC2, before it joins the f32 residual
     * stream (fp32 uses res[l+1] itself as that scratch). */
    ember_tensor branch;
} ember_vit_acts;

/* Doubles, as torch's hyperparameters are Python floats (the bias
 * corrections 1 - beta^t are computed from them in double). */
typedef struct ember_adamw_config {
    double beta1, beta2, eps, weight_decay;
} ember_adamw_config;

/* torch.optim.AdamW defaults except weight decay 0.05 (the recipe's); the
 * decay applies to EVERY parameter (biases, LayerNorm, pos_embed included),
 * as plain torch.optim.AdamW(model.parameters()) does. */
ember_adamw_config ember_adamw_default(void);

typedef struct ember_vit {
    ember_vit_config cfg;
    const ember_backend *be;
    int n_params;
    ember_vit_param *params;  /* n_params entries */
    int64_t n_elems;          /* buffer length (with alignment gaps) */
    int64_t n_trainable;      /* sum of numel */

    ember_arena state_arena;  /* params, grads, m, v, step scalars */
    ember_tensor w, g, m, v;  /* flat [n_elems] f32 */
    ember_tensor step;        /* ember_step_scalars on the device */
    ember_vit_tensors wt, gt; /* views of w and g */

    ember_arena act_arena;    /* activations for `acts.batch` */
    ember_vit_acts acts;

    uint64_t seed;            /* dropout seed */
    int64_t t;                /* optimizer steps taken */
    uint64_t rng_offset;      /* Philox counter base of the next training step */
    uint64_t rng_per_step;    /* counters a training step consumes */
    float smoothing;          /* label smoothing (0.1) */
    ember_step_scalars host_step; /* host copy of `step` (kept alive for async copies) */
    int32_t host_counts[2];       /* host landing place for the eval count */
    ember_adamw_config opt;

    /* Mixed precision: wb is the bf16 copy of w ([n_elems], same layout, in
     * state_arena; NULL data in fp32). wc holds the views the forward and
     * backward read the weights through: in fp32 the same as wt; in mixed
     * precision bf16 views of wb for every matrix-product weight and bias
     * except the head's bias (the logits are f32, so it stays f32), and
     * wt's f32 views for pos_embed and the LayerNorms. */
    ember_tensor wb;
    ember_vit_tensors wc;
} ember_vit;

/* Builds the model on `be`, initialised from `seed` with the scheme
 * cfg->init (see above). A cfg->compute_dtype of EMBER_BF16 on a backend
 * other than CUDA is refused with an error saying to use fp32 there. */
int ember_vit_create(ember_vit *vit, const ember_vit_config *cfg, const ember_backend *be,
                     uint64_t seed, ember_err *err);
void ember_vit_destroy(ember_vit *vit);

/* Lays out the activations for `batch` images. Grows the activation arena
 * when needed; a smaller batch reuses it, and returning to a batch size
 * gives the same addresses as before (captured graphs stay valid). */
int ember_vit_set_batch(ember_vit *vit, int64_t batch, ember_err *err);

/* Non-zero when the model computes in bf16 mixed precision. */
static inline int ember_vit_mixed(const ember_vit *vit) { return vit->cfg.compute_dtype == EMBER_BF16; }

/* Refreshes the bf16 weight copy wb from the f32 master weights w (a
 * no-op in fp32). create, load_safetensors and the AdamW steps keep wb
 * fresh themselves; call this after writing vit->w any other way. */
int ember_vit_cast_weights(ember_vit *vit, ember_err *err);

/* Parameter lookup by PyTorch name; NULL if unknown. */
const ember_vit_param *ember_vit_find_param(const ember_vit *vit, const char *name);

/* Forward on vit->acts.images (already on the device, [B, 3, H, W] f32)
 * into acts.logits (f32 in both modes). training: dropout on. */
int ember_vit_forward(ember_vit *vit, int training, ember_err *err);
/* Loss on acts.logits and acts.labels into acts.loss (batch mean) and
 * acts.probs: the training criterion, cross-entropy with label smoothing
 * vit->smoothing (what backward differentiates). */
int ember_vit_loss(ember_vit *vit, ember_err *err);
/* The same with an explicit label smoothing in [0, 1): evaluation passes
 * its own criterion (0 = plain cross-entropy), so that what it reports
 * never depends on state a checkpoint does not carry. */
int ember_vit_loss_with(ember_vit *vit, float smoothing, ember_err *err);
/* Backward from acts.probs (after forward + loss, same `training`): zeroes
 * and fills the gradient buffer vit->g. */
int ember_vit_backward(ember_vit *vit, int training, ember_err *err);
/* Writes the step scalars of the next step (t + 1, lr, the current
 * rng_offset) to the device; train_step does this itself. For callers that
 * run forward/backward by hand with dropout on. */
int ember_vit_begin_step(ember_vit *vit, float lr, ember_err *err);
/* One AdamW update of every parameter with learning rate lr (t advances). */
int ember_vit_adamw(ember_vit *vit, float lr, ember_err *err);

/* The device work of one training step, capture-safe (no host copies, no
 * syncs, no allocation): forward with dropout, loss, backward, AdamW
 * reading lr and bias corrections from vit->step. Upload the step scalars
 * first (ember_vit_begin_step, outside any capture) and call
 * ember_vit_step_done after each launch. This is what a CUDA graph holds. */
int ember_vit_step_device(ember_vit *vit, ember_err *err);
/* Host bookkeeping after a step ran: t and the Philox offset advance. */
void ember_vit_step_done(ember_vit *vit);

/* Host-side helpers. images: host f32 [B, 3, H, W]; labels: host i32 [B]. */
int ember_vit_upload_batch(ember_vit *vit, const float *images, const int32_t *labels,
                           int64_t batch, ember_err *err);
/* forward (dropout on) + loss + backward + AdamW with learning rate lr.
 * *loss (may be NULL) receives the batch loss (this syncs). */
int ember_vit_train_step(ember_vit *vit, float lr, float *loss, ember_err *err);
/* ember_vit_train_step that also counts the batch's correct predictions
 * (argmax of the training-mode logits, dropout on, before the update) into
 * *correct (may be NULL). Syncs when loss or correct is asked for. For fit
 * loops reporting train accuracy (engine/train). */
int ember_vit_train_step_count(ember_vit *vit, float lr, float *loss, int32_t *correct, ember_err *err);
/* forward (dropout off) + cross-entropy with label smoothing `smoothing`
 * (0: plain); the batch's mean loss and number of correct predictions. */
int ember_vit_eval_batch(ember_vit *vit, float smoothing, float *loss, int32_t *correct, ember_err *err);

/* Weights from / to host memory and safetensors files (PyTorch names). */
int ember_vit_load_safetensors(ember_vit *vit, const ember_st_file *f, const char *prefix,
                               ember_err *err);
int ember_vit_save_safetensors(const ember_vit *vit, const char *path, ember_err *err);
/* Copies the named parameter (or gradient when grad) to host memory
 * (numel floats). */
int ember_vit_read_param(const ember_vit *vit, const char *name, int grad, float *out,
                         ember_err *err);

/* ---- the whole training state (vit_state.c) ------------------------------
 * What a training step reads beside the weights, so that training can stop
 * and continue (in another process, on another backend) as if it never
 * stopped: AdamW's first and second moments m and v, the step count t (the
 * bias corrections), the dropout key `seed` and the Philox offset of the
 * next step. On a file they take the layout of PyTorch's
 *     torch.save({'model': model.state_dict(), 'optimizer': opt.state_dict()})
 * flattened with '.', which is also how data/weights.h names the tensors of
 * such a torch.save file:
 *   <prefix><param>                   the weights ("model.blocks.0.attn.qkv.weight")
 *   optimizer.state.<i>.exp_avg       m of parameter i
 *   optimizer.state.<i>.exp_avg_sq    v of parameter i
 *   optimizer.state.<i>.step          t, a float32 scalar (shape []), as torch keeps it
 * where i is the parameter's index in the reference model's parameters()
 * order (bench/torch_vit.py): pos_embed first (a parameter of the top
 * module), then the others in Ember's module order. All f32. */

/* The index into vit->params of parameter i (0-based) of the reference
 * model's parameters() order; -1 when i is out of range. */
int ember_vit_torch_param(const ember_vit *vit, int i);

typedef struct ember_vit_state {
    int64_t n_elems;   /* the model's buffer length */
    float *w, *m, *v;  /* host copies of vit->w, m and v (vit's layout, gaps zero) */
    int64_t t;         /* optimizer steps taken */
    uint64_t seed;     /* dropout key */
    uint64_t rng_offset;
    /* The tensors of a file (ember_vit_state_items), views into w, m, v. */
    ember_st_item *items;
    size_t n_items;
    ember_tensor *views;
    char (*names)[EMBER_VIT_NAME_MAX + 32];
    float step_value;  /* t as the float32 the step tensors hold */
} ember_vit_state;

/* Copies the model's state to host memory (s zeroed first; free with
 * ember_vit_state_free). Syncs. */
int ember_vit_state_get(const ember_vit *vit, ember_vit_state *s, ember_err *err);
/* Fills s->items with the tensors above (names as above, model weights in
 * the reference model's state_dict() order, then each parameter's
 * exp_avg, exp_avg_sq, step), ready for ember_st_save. */
int ember_vit_state_items(ember_vit_state *s, const ember_vit *vit, const char *prefix,
                          ember_err *err);
/* Reads the state of a model of vit's sizes from f (s zeroed first): every
 * weight and moment must be there with vit's shapes, f32, and every step
 * tensor must hold the same whole number t >= 0 (when t_known is set, the
 * float32 of *t; otherwise *t receives it). Nothing of vit changes. The
 * message names the first tensor that is missing or wrong. */
int ember_vit_state_read(ember_vit_state *s, const ember_vit *vit, const ember_st_file *f,
                         const char *prefix, int t_known, int64_t *t, ember_err *err);
/* Makes s the model's state: weights, m, v (and the bf16 copy), t, seed and
 * rng_offset. */
int ember_vit_state_set(ember_vit *vit, const ember_vit_state *s, ember_err *err);
void ember_vit_state_free(ember_vit_state *s);

#ifdef __cplusplus
}
#endif
#endif
