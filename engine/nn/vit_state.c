/* vit_state.c — the ViT's whole training state (weights, AdamW moments,
 * step count, dropout key and Philox offset) copied between the device and
 * host memory, and laid out as tensors with PyTorch's names, so that a
 * checkpoint (engine/train/checkpoint.h) continues training exactly and
 * reads in PyTorch as model and optimizer state dicts. See vit.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/vit.h"

int ember_vit_torch_param(const ember_vit *vit, int i) {
    /* torch's parameters() walks the top module's own parameters
     * (pos_embed) before its children's; Ember keeps module order, where
     * pos_embed comes third, after the patch embedding's weight and bias. */
    if (i < 0 || i >= vit->n_params) return -1;
    const ember_vit_param *pos = ember_vit_find_param(vit, "pos_embed");
    int p = pos ? (int)(pos - vit->params) : 0;
    if (i == 0) return p;
    return i <= p ? i - 1 : i;
}

void ember_vit_state_free(ember_vit_state *s) {
    if (!s) return;
    free(s->w);
    free(s->m);
    free(s->v);
    free(s->items);
    free(s->views);
    free(s->names);
    memset(s, 0, sizeof *s);
}

static int alloc_buffers(ember_vit_state *s, int64_t n, ember_err *err) {
    s->n_elems = n;
    s->w = calloc((size_t)n, sizeof(float));
    s->m = calloc((size_t)n, sizeof(float));
    s->v = calloc((size_t)n, sizeof(float));
    if (!s->w || !s->m || !s->v) {
        ember_vit_state_free(s);
        return ember_err_set(err, "out of memory for a host copy of the training state (%lld floats, 3 times)",
                             (long long)n);
    }
    return 0;
}

int ember_vit_state_get(const ember_vit *vit, ember_vit_state *s, ember_err *err) {
    memset(s, 0, sizeof *s);
    if (alloc_buffers(s, vit->n_elems, err)) return -1;
    const ember_backend *be = vit->be;
    size_t bytes = (size_t)vit->n_elems * sizeof(float);
    if (be->copy_d2h(be, s->w, vit->w.data, bytes, err) || be->copy_d2h(be, s->m, vit->m.data, bytes, err) ||
        be->copy_d2h(be, s->v, vit->v.data, bytes, err) || be->sync(be, err)) {
        ember_vit_state_free(s);
        return ember_err_prefix(err, "copying the training state off the %s: ",
                                be->device == EMBER_DEV_CUDA ? "GPU" : "CPU");
    }
    s->t = vit->t;
    s->seed = vit->seed;
    s->rng_offset = vit->rng_offset;
    return 0;
}

int ember_vit_state_items(ember_vit_state *s, const ember_vit *vit, const char *prefix, ember_err *err) {
    if (!prefix) prefix = "";
    if (strlen(prefix) > 16) return ember_err_set(err, "the weights' prefix '%s' is longer than 16 bytes", prefix);
    size_t n = (size_t)vit->n_params * 4;
    free(s->items);
    free(s->views);
    free(s->names);
    s->items = calloc(n, sizeof *s->items);
    s->views = calloc(n, sizeof *s->views);
    s->names = calloc(n, sizeof *s->names);
    s->n_items = 0;
    if (!s->items || !s->views || !s->names) return ember_err_set(err, "out of memory");
    /* torch keeps the step as a float32 scalar per parameter; t itself goes
     * into the checkpoint's metadata, exact at any size. */
    s->step_value = (float)s->t;
    size_t k = 0;
#define ITEM(data, nd, shape)                                                                  \
    do {                                                                                       \
        if (ember_tensor_view(&s->views[k], (data), EMBER_F32, EMBER_DEV_CPU, (nd), (shape), err)) \
            return -1;                                                                         \
        s->items[k].name = s->names[k];                                                        \
        s->items[k].t = &s->views[k];                                                          \
        k++;                                                                                   \
    } while (0)
    for (int i = 0; i < vit->n_params; i++) {
        const ember_vit_param *p = &vit->params[ember_vit_torch_param(vit, i)];
        snprintf(s->names[k], sizeof s->names[k], "%s%s", prefix, p->name);
        ITEM(s->w + p->offset, p->ndim, p->shape);
    }
    for (int i = 0; i < vit->n_params; i++) {
        const ember_vit_param *p = &vit->params[ember_vit_torch_param(vit, i)];
        snprintf(s->names[k], sizeof s->names[k], "optimizer.state.%d.exp_avg", i);
        ITEM(s->m + p->offset, p->ndim, p->shape);
        snprintf(s->names[k], sizeof s->names[k], "optimizer.state.%d.exp_avg_sq", i);
        ITEM(s->v + p->offset, p->ndim, p->shape);
        snprintf(s->names[k], sizeof s->names[k], "optimizer.state.%d.step", i);
        ITEM(&s->step_value, 0, NULL);
    }
#undef ITEM
    s->n_items = k;
    return 0;
}

/* Copies tensor `name` of f into dst (numel floats, shape p's). */
static int read_one(const ember_st_file *f, const char *name, const ember_vit_param *p, float *dst, ember_err *err) {
    ember_tensor t;
    if (ember_tensor_view(&t, dst, EMBER_F32, EMBER_DEV_CPU, p->ndim, p->shape, err)) return -1;
    if (!ember_st_find(f, name)) return ember_err_set(err, "it has no tensor '%s'", name);
    return ember_st_copy(f, name, &t, 0, err);
}

int ember_vit_state_read(ember_vit_state *s, const ember_vit *vit, const ember_st_file *f, const char *prefix,
                         int t_known, int64_t *t, ember_err *err) {
    memset(s, 0, sizeof *s);
    if (!prefix) prefix = "";
    if (alloc_buffers(s, vit->n_elems, err)) return -1;
    char name[EMBER_VIT_NAME_MAX + 48];
    double step = -1;
    for (int i = 0; i < vit->n_params; i++) {
        const ember_vit_param *p = &vit->params[ember_vit_torch_param(vit, i)];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        if (read_one(f, name, p, s->w + p->offset, err)) goto fail;
        snprintf(name, sizeof name, "optimizer.state.%d.exp_avg", i);
        if (read_one(f, name, p, s->m + p->offset, err)) goto fail;
        snprintf(name, sizeof name, "optimizer.state.%d.exp_avg_sq", i);
        if (read_one(f, name, p, s->v + p->offset, err)) goto fail;
        snprintf(name, sizeof name, "optimizer.state.%d.step", i);
        const ember_st_entry *e = ember_st_find(f, name);
        if (!e) {
            ember_err_set(err, "it has no tensor '%s'", name);
            goto fail;
        }
        float v;
        ember_tensor one;
        int64_t shape1[1] = {1};
        if (e->dtype != EMBER_F32 || e->nbytes != sizeof(float) ||
            ember_tensor_view(&one, &v, EMBER_F32, EMBER_DEV_CPU, 1, shape1, err) || ember_st_copy(f, name, &one, 1, err)) {
            ember_err_set(err, "'%s' should be one float32 number (the step count), it is not", name);
            goto fail;
        }
        if (!(v >= 0) || v != floorf(v) || (step >= 0 && (double)v != step)) {
            ember_err_set(err, "'%s' is %g; the step counts must be one whole number >= 0 for every parameter", name,
                          (double)v);
            goto fail;
        }
        step = v;
    }
    if (t_known) {
        if ((float)*t != (float)step) {
            ember_err_set(err, "its optimizer steps (%g) disagree with the step count in its metadata (%lld)", step,
                          (long long)*t);
            goto fail;
        }
    } else {
        *t = (int64_t)step;
    }
    s->t = *t;
    return 0;
fail:
    ember_vit_state_free(s);
    return -1;
}

int ember_vit_state_set(ember_vit *vit, const ember_vit_state *s, ember_err *err) {
    if (s->n_elems != vit->n_elems)
        return ember_err_set(err, "a training state of %lld floats for a model of %lld", (long long)s->n_elems,
                             (long long)vit->n_elems);
    const ember_backend *be = vit->be;
    size_t bytes = (size_t)vit->n_elems * sizeof(float);
    if (be->copy_h2d(be, vit->w.data, s->w, bytes, err) || be->copy_h2d(be, vit->m.data, s->m, bytes, err) ||
        be->copy_h2d(be, vit->v.data, s->v, bytes, err) || ember_vit_cast_weights(vit, err) || be->sync(be, err))
        return ember_err_prefix(err, "copying the training state to the %s: ",
                                be->device == EMBER_DEV_CUDA ? "GPU" : "CPU");
    vit->t = s->t;
    vit->seed = s->seed;
    vit->rng_offset = s->rng_offset;
    return 0;
}
