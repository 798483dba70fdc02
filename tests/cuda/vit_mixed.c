/* vit_mixed.c — the bf16 mixed-precision ViT step (see vit_mixed.h): the
 * frozen, GPU-verified reference for engine/nn's mixed path. The structure
 * follows engine/nn/vit.c op for op; only dtypes and the separate bf16
 * branch buffer (the f32 residual stream cannot hold a bf16 matmul output)
 * differ from the fp32 path. */
#include "vit_mixed.h"

#include <stdlib.h>

#include "core/philox.h"
#include <string.h>

#define BF EMBER_BF16
#define F32 EMBER_F32

static int mk(ember_arena *a, ember_tensor *t, ember_dtype dt, int nd, int64_t d0, int64_t d1,
              int64_t d2, int64_t d3, ember_err *err)
{
    int64_t s[4] = {d0, d1, d2, d3};
    return ember_arena_tensor(a, t, dt, nd, s, err);
}

/* The bf16 view of wb matching an f32 view into vit->w. */
static int bview(const vit_mixed *m, const ember_tensor *w32, ember_tensor *out, ember_err *err)
{
    ptrdiff_t off = (const float *)w32->data - (const float *)m->vit->w.data;
    return ember_tensor_view(out, (uint16_t *)m->wb.data + off, BF, w32->device, w32->ndim,
                             w32->shape, err);
}

static int plan(vit_mixed *m, ember_arena *a, ember_err *err)
{
    const ember_vit_config *c = &m->vit->cfg;
    int64_t B = m->batch, G = c->image_size / c->patch, T = G * G, C = c->dim, H = c->heads,
            Hm = c->mlp_hidden, K = c->num_classes,
            P = (int64_t)c->in_chans * c->patch * c->patch;
    if (mk(a, &m->wb, BF, 1, m->vit->n_elems, 0, 0, 0, err) ||
        mk(a, &m->images, F32, 4, B, c->in_chans, c->image_size, c->image_size, err) ||
        mk(a, &m->labels, EMBER_I32, 1, B, 0, 0, 0, err) || mk(a, &m->cols, BF, 3, B, T, P, 0, err) ||
        mk(a, &m->emb, BF, 3, B, T, C, 0, err) || mk(a, &m->branch, BF, 3, B, T, C, 0, err))
        return -1;
    for (int l = 0; l <= c->depth; l++)
        if (mk(a, &m->res[l], F32, 3, B, T, C, 0, err)) return -1;
    for (int l = 0; l < c->depth; l++) {
        vit_mixed_layer *L = &m->layers[l];
        if (mk(a, &L->ln1, BF, 3, B, T, C, 0, err) || mk(a, &L->ln1_mean, F32, 1, B * T, 0, 0, 0, err) ||
            mk(a, &L->ln1_rstd, F32, 1, B * T, 0, 0, 0, err) ||
            mk(a, &L->qkv, BF, 3, B, T, 3 * C, 0, err) || mk(a, &L->att, BF, 3, B, T, C, 0, err) ||
            mk(a, &L->lse, F32, 3, B, H, T, 0, err) || mk(a, &L->mid, F32, 3, B, T, C, 0, err) ||
            mk(a, &L->ln2, BF, 3, B, T, C, 0, err) || mk(a, &L->ln2_mean, F32, 1, B * T, 0, 0, 0, err) ||
            mk(a, &L->ln2_rstd, F32, 1, B * T, 0, 0, 0, err) ||
            mk(a, &L->fc1_pre, BF, 3, B, T, Hm, 0, err) || mk(a, &L->fc1_act, BF, 3, B, T, Hm, 0, err))
            return -1;
    }
    if (mk(a, &m->lnf, BF, 3, B, T, C, 0, err) || mk(a, &m->lnf_mean, F32, 1, B * T, 0, 0, 0, err) ||
        mk(a, &m->lnf_rstd, F32, 1, B * T, 0, 0, 0, err) || mk(a, &m->pooled, BF, 2, B, C, 0, 0, err) ||
        mk(a, &m->logits, F32, 2, B, K, 0, 0, err) || mk(a, &m->probs, F32, 2, B, K, 0, 0, err) ||
        mk(a, &m->loss, F32, 1, 1, 0, 0, 0, err) || mk(a, &m->dres, F32, 3, B, T, C, 0, err) ||
        mk(a, &m->dtmp, BF, 3, B, T, C, 0, err) || mk(a, &m->dln, BF, 3, B, T, C, 0, err) ||
        mk(a, &m->dqkv, BF, 3, B, T, 3 * C, 0, err) || mk(a, &m->dhid, BF, 3, B, T, Hm, 0, err) ||
        mk(a, &m->dpooled, BF, 2, B, C, 0, 0, err) || mk(a, &m->dlogits, BF, 2, B, K, 0, 0, err))
        return -1;
    return 0;
}

static int views(vit_mixed *m, ember_err *err)
{
    const ember_vit_tensors *W = &m->vit->wt;
    ember_vit_tensors *V = &m->wbt;
    /* biases too: a bf16 bias on a bf16 output is what cuBLASLt's BIAS
     * epilogue fuses (and what autocast uses); the head keeps its f32 bias
     * because its output (the logits) is f32 */
    if (bview(m, &W->patch_w, &V->patch_w, err) || bview(m, &W->patch_b, &V->patch_b, err) ||
        bview(m, &W->head_w, &V->head_w, err))
        return -1;
    for (int l = 0; l < m->vit->cfg.depth; l++) {
        const ember_vit_block_t *b = &W->blocks[l];
        ember_vit_block_t *o = &V->blocks[l];
        if (bview(m, &b->qkv_w, &o->qkv_w, err) || bview(m, &b->proj_w, &o->proj_w, err) ||
            bview(m, &b->fc1_w, &o->fc1_w, err) || bview(m, &b->fc2_w, &o->fc2_w, err) ||
            bview(m, &b->qkv_b, &o->qkv_b, err) || bview(m, &b->proj_b, &o->proj_b, err) ||
            bview(m, &b->fc1_b, &o->fc1_b, err) || bview(m, &b->fc2_b, &o->fc2_b, err))
            return -1;
    }
    return 0;
}

int vit_mixed_init(vit_mixed *m, ember_vit *vit, int64_t batch, ember_err *err)
{
    memset(m, 0, sizeof *m);
    m->vit = vit;
    m->batch = batch;
    int depth = vit->cfg.depth;
    m->res = calloc((size_t)depth + 1, sizeof *m->res);
    m->layers = calloc((size_t)depth, sizeof *m->layers);
    m->wbt.blocks = calloc((size_t)depth, sizeof *m->wbt.blocks);
    if (!m->res || !m->layers || !m->wbt.blocks) return ember_err_set(err, "out of host memory");
    ember_arena meas;
    ember_arena_init_measure(&meas, vit->be->device);
    if (plan(m, &meas, err)) return -1;
    if (ember_arena_init(&m->arena, vit->be, meas.peak, err) || plan(m, &m->arena, err) ||
        views(m, err))
        return ember_err_prefix(err, "mixed-precision ViT (batch %lld): ", (long long)batch);
    int64_t T = (int64_t)(vit->cfg.image_size / vit->cfg.patch) * (vit->cfg.image_size / vit->cfg.patch);
    uint64_t c_btc = ember_philox_counters((uint64_t)(batch * T * vit->cfg.dim));
    uint64_t c_hid = ember_philox_counters((uint64_t)(batch * T * vit->cfg.mlp_hidden));
    m->rng_per_step = c_btc + (uint64_t)depth * (2 * c_btc + c_hid);
    return vit_mixed_cast_weights(m, err);
}

void vit_mixed_free(vit_mixed *m)
{
    ember_arena_release(&m->arena);
    free(m->res);
    free(m->layers);
    free(m->wbt.blocks);
    memset(m, 0, sizeof *m);
}

int vit_mixed_cast_weights(vit_mixed *m, ember_err *err)
{
    return m->vit->be->cast(m->vit->be, &m->wb, &m->vit->w, err);
}

int vit_mixed_upload(vit_mixed *m, const float *images, const int32_t *labels, ember_err *err)
{
    const ember_backend *be = m->vit->be;
    if (be->copy_h2d(be, m->images.data, images, ember_tensor_nbytes(&m->images), err) ||
        be->copy_h2d(be, m->labels.data, labels, (size_t)m->batch * 4, err))
        return -1;
    return be->sync(be, err);
}

enum { SITE_ATT = 0, SITE_HID = 1, SITE_OUT = 2 };

/* The same Philox ranges as engine/nn/vit.c's site_offset. */
static uint64_t site_offset(const vit_mixed *m, int layer, int site)
{
    if (layer < 0) return 0;
    const ember_vit_config *c = &m->vit->cfg;
    int64_t T = (int64_t)(c->image_size / c->patch) * (c->image_size / c->patch);
    uint64_t c_btc = ember_philox_counters((uint64_t)(m->batch * T * c->dim));
    uint64_t c_hid = ember_philox_counters((uint64_t)(m->batch * T * c->mlp_hidden));
    uint64_t base = c_btc + (uint64_t)layer * (2 * c_btc + c_hid);
    return site == SITE_ATT ? base : site == SITE_HID ? base + c_btc : base + c_btc + c_hid;
}

static int linear_fwd(const ember_backend *be, ember_tensor *y, ember_tensor *pre,
                      const ember_tensor *x, const ember_tensor *w, const ember_tensor *b,
                      ember_err *err)
{
    int64_t out = w->shape[0], in = w->ndim == 4 ? w->shape[1] * w->shape[2] * w->shape[3] : w->shape[1];
    ember_gemm g = ember_gemm_default(ember_tensor_numel(x) / in, out, in);
    g.trans_b = 1;
    g.gelu = pre != NULL;
    return be->matmul(be, &g, x, w, b, y, pre, err);
}

static int linear_bwd(const ember_backend *be, ember_tensor *dx, ember_tensor *dw, ember_tensor *db,
                      const ember_tensor *dy, const ember_tensor *x, const ember_tensor *w,
                      ember_err *err)
{
    int64_t out = w->shape[0], in = w->ndim == 4 ? w->shape[1] * w->shape[2] * w->shape[3] : w->shape[1];
    int64_t R = ember_tensor_numel(x) / in;
    ember_gemm gw = ember_gemm_default(out, in, R);
    gw.trans_a = 1;
    gw.beta = 1.0f;
    if (be->matmul(be, &gw, dy, x, NULL, dw, NULL, err)) return -1;
    if (be->bias_grad(be, db, dy, 1, err)) return -1;
    if (!dx) return 0;
    ember_gemm gx = ember_gemm_default(R, in, out);
    return be->matmul(be, &gx, dy, w, NULL, dx, NULL, err);
}

static float drop_p(const vit_mixed *m, int training)
{
    return training ? m->vit->cfg.dropout : 0.0f;
}

static int drop_fwd(vit_mixed *m, ember_tensor *t, int training, int layer, int site, ember_err *err)
{
    float p = drop_p(m, training);
    if (p == 0.0f) return 0;
    return m->vit->be->dropout_fwd(m->vit->be, t, t, p, m->vit->seed, site_offset(m, layer, site),
                                   &m->vit->step, err);
}

/* dx = dropout'(dy); with dropout off a cast (dy may be f32, dx bf16). */
static int drop_bwd(vit_mixed *m, ember_tensor *dx, const ember_tensor *dy, int training, int layer,
                    int site, ember_err *err)
{
    return m->vit->be->dropout_bwd(m->vit->be, dx, dy, drop_p(m, training), m->vit->seed,
                                   site_offset(m, layer, site), &m->vit->step, 0, err);
}

int vit_mixed_forward(vit_mixed *m, int training, ember_err *err)
{
    const ember_backend *be = m->vit->be;
    const ember_vit_config *c = &m->vit->cfg;
    const ember_vit_tensors *W = &m->vit->wt, *V = &m->wbt;
    if (be->im2col_fwd(be, &m->cols, &m->images, c->patch, err) ||
        linear_fwd(be, &m->emb, NULL, &m->cols, &V->patch_w, &V->patch_b, err) ||
        be->pos_embed_fwd(be, &m->res[0], &m->emb, &W->pos, err) ||
        drop_fwd(m, &m->res[0], training, -1, 0, err))
        return ember_err_prefix(err, "mixed ViT forward (embedding): ");
    for (int l = 0; l < c->depth; l++) {
        vit_mixed_layer *L = &m->layers[l];
        const ember_vit_block_t *b = &W->blocks[l], *bb = &V->blocks[l];
        ember_tensor *x = &m->res[l], *y = &m->res[l + 1];
        if (be->layernorm_fwd(be, &L->ln1, &L->ln1_mean, &L->ln1_rstd, x, &b->ln1_w, &b->ln1_b,
                              c->ln_eps, err) ||
            linear_fwd(be, &L->qkv, NULL, &L->ln1, &bb->qkv_w, &bb->qkv_b, err) ||
            be->attention_fwd(be, &L->att, &L->lse, &L->qkv, c->heads, 0, err) ||
            linear_fwd(be, &m->branch, NULL, &L->att, &bb->proj_w, &bb->proj_b, err) ||
            drop_fwd(m, &m->branch, training, l, SITE_ATT, err) ||
            be->add(be, &L->mid, x, &m->branch, err))
            return ember_err_prefix(err, "mixed ViT forward (block %d attention): ", l);
        if (be->layernorm_fwd(be, &L->ln2, &L->ln2_mean, &L->ln2_rstd, &L->mid, &b->ln2_w,
                              &b->ln2_b, c->ln_eps, err) ||
            linear_fwd(be, &L->fc1_act, &L->fc1_pre, &L->ln2, &bb->fc1_w, &bb->fc1_b, err) ||
            drop_fwd(m, &L->fc1_act, training, l, SITE_HID, err) ||
            linear_fwd(be, &m->branch, NULL, &L->fc1_act, &bb->fc2_w, &bb->fc2_b, err) ||
            drop_fwd(m, &m->branch, training, l, SITE_OUT, err) ||
            be->add(be, y, &L->mid, &m->branch, err))
            return ember_err_prefix(err, "mixed ViT forward (block %d MLP): ", l);
    }
    if (be->layernorm_fwd(be, &m->lnf, &m->lnf_mean, &m->lnf_rstd, &m->res[c->depth], &W->norm_w,
                          &W->norm_b, c->ln_eps, err) ||
        be->mean_tokens_fwd(be, &m->pooled, &m->lnf, err) ||
        linear_fwd(be, &m->logits, NULL, &m->pooled, &V->head_w, &W->head_b, err))
        return ember_err_prefix(err, "mixed ViT forward (head): ");
    return 0;
}

int vit_mixed_loss(vit_mixed *m, ember_err *err)
{
    const ember_backend *be = m->vit->be;
    return be->ce_fwd(be, &m->loss, &m->probs, &m->logits, &m->labels, m->vit->smoothing,
                      1.0f / (float)m->batch, 0, err);
}

int vit_mixed_backward(vit_mixed *m, int training, ember_err *err)
{
    const ember_backend *be = m->vit->be;
    const ember_vit_config *c = &m->vit->cfg;
    const ember_vit_tensors *W = &m->vit->wt, *V = &m->wbt;
    ember_vit_tensors *G = &m->vit->gt;
    if (be->zero(be, &m->vit->g, err)) return -1;
    if (be->ce_bwd(be, &m->dlogits, &m->probs, &m->labels, m->vit->smoothing,
                   1.0f / (float)m->batch, err) ||
        linear_bwd(be, &m->dpooled, &G->head_w, &G->head_b, &m->dlogits, &m->pooled, &V->head_w, err) ||
        be->mean_tokens_bwd(be, &m->dln, &m->dpooled, err) ||
        be->layernorm_bwd(be, &m->dres, &G->norm_w, &G->norm_b, &m->dln, &m->res[c->depth],
                          &m->lnf_mean, &m->lnf_rstd, &W->norm_w, 0, err))
        return ember_err_prefix(err, "mixed ViT backward (head): ");
    for (int l = c->depth - 1; l >= 0; l--) {
        vit_mixed_layer *L = &m->layers[l];
        const ember_vit_block_t *b = &W->blocks[l], *bb = &V->blocks[l];
        ember_vit_block_t *gb = &G->blocks[l];
        if (drop_bwd(m, &m->dtmp, &m->dres, training, l, SITE_OUT, err) ||
            linear_bwd(be, &m->dhid, &gb->fc2_w, &gb->fc2_b, &m->dtmp, &L->fc1_act, &bb->fc2_w, err) ||
            drop_bwd(m, &m->dhid, &m->dhid, training, l, SITE_HID, err) ||
            be->gelu_bwd(be, &m->dhid, &m->dhid, &L->fc1_pre, 0, err) ||
            linear_bwd(be, &m->dln, &gb->fc1_w, &gb->fc1_b, &m->dhid, &L->ln2, &bb->fc1_w, err) ||
            be->layernorm_bwd(be, &m->dres, &gb->ln2_w, &gb->ln2_b, &m->dln, &L->mid, &L->ln2_mean,
                              &L->ln2_rstd, &b->ln2_w, 1, err))
            return ember_err_prefix(err, "mixed ViT backward (block %d MLP): ", l);
        if (drop_bwd(m, &m->dtmp, &m->dres, training, l, SITE_ATT, err) ||
            linear_bwd(be, &m->dln, &gb->proj_w, &gb->proj_b, &m->dtmp, &L->att, &bb->proj_w, err) ||
            be->attention_bwd(be, &m->dqkv, &m->dln, &L->qkv, &L->att, &L->lse, c->heads, 0, err) ||
            linear_bwd(be, &m->dln, &gb->qkv_w, &gb->qkv_b, &m->dqkv, &L->ln1, &bb->qkv_w, err) ||
            be->layernorm_bwd(be, &m->dres, &gb->ln1_w, &gb->ln1_b, &m->dln, &m->res[l],
                              &L->ln1_mean, &L->ln1_rstd, &b->ln1_w, 1, err))
            return ember_err_prefix(err, "mixed ViT backward (block %d attention): ", l);
    }
    if (drop_bwd(m, &m->dtmp, &m->dres, training, -1, 0, err) ||
        be->pos_embed_bwd(be, &G->pos, &m->dtmp, 1, err) ||
        linear_bwd(be, NULL, &G->patch_w, &G->patch_b, &m->dtmp, &m->cols, &V->patch_w, err))
        return ember_err_prefix(err, "mixed ViT backward (embedding): ");
    return 0;
}

int vit_mixed_adamw(vit_mixed *m, ember_err *err)
{
    ember_vit *v = m->vit;
    return v->be->adamw(v->be, &v->w, &v->g, &v->m, &v->v, &m->wb, &v->step, v->opt.beta1,
                        v->opt.beta2, v->opt.eps, v->opt.weight_decay, NULL, err);
}

int vit_mixed_step(vit_mixed *m, ember_err *err)
{
    return vit_mixed_forward(m, 1, err) || vit_mixed_loss(m, err) ||
                   vit_mixed_backward(m, 1, err) || vit_mixed_adamw(m, err)
               ? -1
               : 0;
}

void vit_mixed_step_done(vit_mixed *m)
{
    m->vit->t++;
    m->vit->rng_offset += m->rng_per_step;
}
