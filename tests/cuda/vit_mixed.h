/* vit_mixed.h — a bf16 mixed-precision training step of the engine's ViT
 * (engine/nn/vit.h), written against the backend table: the same model,
 * parameters, gradient buffer, AdamW state, dropout sites and Philox
 * offsets as ember_vit, but with bf16 matrix operands and activations, an
 * fp32 residual stream, fp32 LayerNorm statistics, fp32 logits and loss, and
 * a bf16 copy of the weights that AdamW refreshes in the same pass (the
 * autocast recipe). Everything in vit_mixed_step is capture-safe.
 *
 * It is now a FROZEN REFERENCE: the mixed path lives in engine/nn
 * (ember_vit_config.compute_dtype = EMBER_BF16). This is the code that was
 * verified on an H200 against the CPU backend and timed at 4.45 ms/step;
 * tests/engine/test_vit_mixed.c checks (without a GPU) that engine/nn issues
 * the very same ops with the same arguments, and tests/cuda/test_cuda_vit.c
 * part D compares the numbers on a GPU. Do not change it to follow engine/nn;
 * if engine/nn's mixed step must change on purpose, update or retire both
 * checks together. */
#ifndef EMBER_TESTS_VIT_MIXED_H
#define EMBER_TESTS_VIT_MIXED_H

#include "core/arena.h"
#include "nn/vit.h"

typedef struct vit_mixed_layer {
    ember_tensor ln1, ln1_mean, ln1_rstd, qkv, att, lse, mid, ln2, ln2_mean, ln2_rstd, fc1_pre,
        fc1_act;
} vit_mixed_layer;

typedef struct vit_mixed {
    ember_vit *vit;          /* owns params (f32), grads, m, v, step scalars */
    ember_arena arena;       /* everything below */
    int64_t batch;
    ember_tensor wb;         /* bf16 copy of vit->w, same layout */
    ember_vit_tensors wbt;   /* views of wb */
    ember_tensor images, labels, cols, emb, branch, lnf, lnf_mean, lnf_rstd, pooled, logits,
        probs, loss;
    ember_tensor *res;       /* depth + 1, f32 */
    vit_mixed_layer *layers;
    ember_tensor dres, dtmp, dln, dqkv, dhid, dpooled, dlogits;
    uint64_t rng_per_step;
} vit_mixed;

/* Sizes everything for `batch` on vit->be; copies the weights to bf16. */
int vit_mixed_init(vit_mixed *m, ember_vit *vit, int64_t batch, ember_err *err);
void vit_mixed_free(vit_mixed *m);
/* Refreshes the bf16 copy from the f32 weights (after loading weights). */
int vit_mixed_cast_weights(vit_mixed *m, ember_err *err);
/* Host images [B, 3, H, W] f32 and labels [B] i32 to the device (syncs). */
int vit_mixed_upload(vit_mixed *m, const float *images, const int32_t *labels, ember_err *err);
int vit_mixed_forward(vit_mixed *m, int training, ember_err *err);
int vit_mixed_loss(vit_mixed *m, ember_err *err);
int vit_mixed_backward(vit_mixed *m, int training, ember_err *err);
/* AdamW over the whole buffer, writing the bf16 copy too (reads lr etc.
 * from vit->step). */
int vit_mixed_adamw(vit_mixed *m, ember_err *err);
/* forward (dropout on) + loss + backward + AdamW: what a graph captures.
 * The host must have uploaded the step scalars (ember_vit_begin_step). */
int vit_mixed_step(vit_mixed *m, ember_err *err);
/* After a step ran: t and the Philox offset advance as ember_vit's do. */
void vit_mixed_step_done(vit_mixed *m);

#endif
