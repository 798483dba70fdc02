/* vit_train.c — the ViT's training step (forward, loss, backward, AdamW with
 * per-step values in the device step-scalar tensor), evaluation, and
 * weights in and out as safetensors with PyTorch names. In mixed precision
 * the AdamW pass also refreshes the bf16 weight copy, and loading weights
 * refreshes it too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/vit.h"

#include "core/cancel.h"

/* Writes the step scalars for optimizer step t (1-based) to the device.
 * The sync first is what the copy contract asks for: the previous step's
 * copy may still be reading host_step. It waits for the previous step to
 * finish, one short bubble per step, outside any captured graph. */
static int upload_step(ember_vit *vit, float lr, int64_t t, ember_err *err) {
    if (vit->be->sync(vit->be, err)) return -1;
    ember_step_scalars_set(&vit->host_step, lr, vit->opt.beta1, vit->opt.beta2, t, vit->rng_offset);
    return vit->be->copy_h2d(vit->be, vit->step.data, &vit->host_step, sizeof vit->host_step, err);
}

int ember_vit_begin_step(ember_vit *vit, float lr, ember_err *err) {
    return upload_step(vit, lr, vit->t + 1, err);
}

/* The one AdamW call over the whole parameter buffer, reading lr and the
 * bias corrections from vit->step; in mixed precision it writes the bf16
 * copy of the updated weights in the same pass. */
static int adamw_all(ember_vit *vit, ember_err *err) {
    const ember_backend *be = vit->be;
    return be->adamw(be, &vit->w, &vit->g, &vit->m, &vit->v, ember_vit_mixed(vit) ? &vit->wb : NULL, &vit->step,
                     (float)vit->opt.beta1, (float)vit->opt.beta2, (float)vit->opt.eps,
                     (float)vit->opt.weight_decay, NULL, err);
}

int ember_vit_adamw(ember_vit *vit, float lr, ember_err *err) {
    if (!(lr >= 0.0f)) return ember_err_set(err, "AdamW: the learning rate must be >= 0, got %g", (double)lr);
    if (upload_step(vit, lr, vit->t + 1, err) || adamw_all(vit, err))
        return ember_err_prefix(err, "AdamW step %lld: ", (long long)(vit->t + 1));
    vit->t++;
    return 0;
}

int ember_vit_upload_batch(ember_vit *vit, const float *images, const int32_t *labels, int64_t batch,
                           ember_err *err) {
    const ember_backend *be = vit->be;
    if (ember_vit_set_batch(vit, batch, err)) return -1;
    if (be->copy_h2d(be, vit->acts.images.data, images, ember_tensor_nbytes(&vit->acts.images), err)) return -1;
    if (labels) {
        for (int64_t i = 0; i < batch; i++)
            if (labels[i] < 0 || labels[i] >= vit->cfg.num_classes)
                return ember_err_set(err, "label %d of image %lld is outside [0, %d)", labels[i], (long long)i,
                                     vit->cfg.num_classes);
        if (be->copy_h2d(be, vit->acts.labels.data, labels, (size_t)batch * sizeof(int32_t), err)) return -1;
    }
    /* The host buffers belong to the caller: make the copies complete. */
    return be->sync(be, err);
}

/* The last op of a step. A step is applied whole or not at all: the last
 * cancellation check (core/cancel.h) comes before the update, none inside
 * it, so an interrupted step leaves weights, AdamW state, t and the Philox
 * offset as they were (the caller's step_done runs only on success). */
static int step_commit(ember_vit *vit, ember_err *err) {
    return ember_cancel_check(err) || adamw_all(vit, err) ? -1 : 0;
}

int ember_vit_step_device(ember_vit *vit, ember_err *err) {
    if (!vit->acts.batch) return ember_err_set(err, "ViT train step: upload a batch first");
    if (ember_vit_forward(vit, 1, err) || ember_vit_loss(vit, err) || ember_vit_backward(vit, 1, err) ||
        step_commit(vit, err))
        return -1;
    return 0;
}

void ember_vit_step_done(ember_vit *vit) {
    vit->t++;
    vit->rng_offset += vit->rng_per_step;
}

int ember_vit_train_step(ember_vit *vit, float lr, float *loss, ember_err *err) {
    const ember_backend *be = vit->be;
    if (!vit->acts.batch) return ember_err_set(err, "ViT train step: upload a batch first");
    if (!(lr >= 0.0f)) return ember_err_set(err, "the learning rate must be >= 0, got %g", (double)lr);
    /* One upload serves the whole step: dropout reads rng_offset, AdamW lr/bc. */
    if (upload_step(vit, lr, vit->t + 1, err) || ember_vit_step_device(vit, err)) return -1;
    ember_vit_step_done(vit);
    if (loss) {
        if (be->copy_d2h(be, loss, vit->acts.loss.data, sizeof(float), err) || be->sync(be, err)) return -1;
    }
    return 0;
}

int ember_vit_train_step_count(ember_vit *vit, float lr, float *loss, int32_t *correct, ember_err *err) {
    const ember_backend *be = vit->be;
    if (!vit->acts.batch) return ember_err_set(err, "ViT train step: upload a batch first");
    if (!(lr >= 0.0f)) return ember_err_set(err, "the learning rate must be >= 0, got %g", (double)lr);
    /* The step_device sequence with the count between loss and backward,
     * where acts.logits are this step's training-mode logits. */
    if (upload_step(vit, lr, vit->t + 1, err) || ember_vit_forward(vit, 1, err) || ember_vit_loss(vit, err) ||
        be->accuracy_count(be, &vit->acts.correct, &vit->acts.logits, &vit->acts.labels, 0, err) ||
        ember_vit_backward(vit, 1, err) || step_commit(vit, err))
        return -1;
    ember_vit_step_done(vit);
    if (!loss && !correct) return 0;
    float l = 0.0f;
    if (be->copy_d2h(be, &l, vit->acts.loss.data, sizeof l, err) ||
        be->copy_d2h(be, &vit->host_counts[0], vit->acts.correct.data, sizeof(int32_t), err) || be->sync(be, err))
        return -1;
    if (loss) *loss = l;
    if (correct) *correct = vit->host_counts[0];
    return 0;
}

int ember_vit_eval_batch(ember_vit *vit, float smoothing, float *loss, int32_t *correct, ember_err *err) {
    const ember_backend *be = vit->be;
    if (!vit->acts.batch) return ember_err_set(err, "ViT eval: upload a batch first");
    if (ember_vit_forward(vit, 0, err) || ember_vit_loss_with(vit, smoothing, err) ||
        be->accuracy_count(be, &vit->acts.correct, &vit->acts.logits, &vit->acts.labels, 0, err))
        return -1;
    float l = 0.0f;
    if (be->copy_d2h(be, &l, vit->acts.loss.data, sizeof l, err) ||
        be->copy_d2h(be, &vit->host_counts[0], vit->acts.correct.data, sizeof(int32_t), err) || be->sync(be, err))
        return -1;
    if (loss) *loss = l;
    if (correct) *correct = vit->host_counts[0];
    return 0;
}

int ember_vit_read_param(const ember_vit *vit, const char *name, int grad, float *out, ember_err *err) {
    const ember_vit_param *p = ember_vit_find_param(vit, name);
    if (!p) return ember_err_set(err, "the ViT has no parameter named '%s'", name);
    const ember_tensor *buf = grad ? &vit->g : &vit->w;
    const ember_backend *be = vit->be;
    if (be->copy_d2h(be, out, (const float *)buf->data + p->offset, (size_t)p->numel * sizeof(float), err))
        return -1;
    return be->sync(be, err);
}

int ember_vit_load_safetensors(ember_vit *vit, const ember_st_file *f, const char *prefix, ember_err *err) {
    const ember_backend *be = vit->be;
    if (!prefix) prefix = "";
    float *host = malloc((size_t)vit->n_elems * sizeof(float));
    if (!host) return ember_err_set(err, "out of memory");
    if (be->copy_d2h(be, host, vit->w.data, (size_t)vit->n_elems * sizeof(float), err) || be->sync(be, err)) {
        free(host);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < vit->n_params && !rc; i++) {
        const ember_vit_param *p = &vit->params[i];
        char full[160];
        snprintf(full, sizeof full, "%s%s", prefix, p->name);
        ember_tensor dst;
        if (ember_tensor_view(&dst, host + p->offset, EMBER_F32, EMBER_DEV_CPU, p->ndim, p->shape, err) ||
            ember_st_copy(f, full, &dst, 0, err))
            rc = ember_err_prefix(err, "loading ViT weights: ");
    }
    if (!rc) rc = be->copy_h2d(be, vit->w.data, host, (size_t)vit->n_elems * sizeof(float), err);
    if (!rc) rc = ember_vit_cast_weights(vit, err);
    if (!rc) rc = be->sync(be, err);
    free(host);
    return rc;
}

int ember_vit_save_safetensors(const ember_vit *vit, const char *path, ember_err *err) {
    const ember_backend *be = vit->be;
    float *host = malloc((size_t)vit->n_elems * sizeof(float));
    ember_tensor *views = calloc((size_t)vit->n_params, sizeof *views);
    ember_st_item *items = calloc((size_t)vit->n_params, sizeof *items);
    int rc = 0;
    if (!host || !views || !items) rc = ember_err_set(err, "out of memory");
    if (!rc && (be->copy_d2h(be, host, vit->w.data, (size_t)vit->n_elems * sizeof(float), err) || be->sync(be, err)))
        rc = -1;
    for (int i = 0; i < vit->n_params && !rc; i++) {
        const ember_vit_param *p = &vit->params[i];
        rc = ember_tensor_view(&views[i], host + p->offset, EMBER_F32, EMBER_DEV_CPU, p->ndim, p->shape, err);
        items[i].name = p->name;
        items[i].t = &views[i];
    }
    if (!rc) rc = ember_st_write(path, items, (size_t)vit->n_params, "{\"format\":\"pt\"}", err);
    free(host);
    free(views);
    free(items);
    return rc;
}
