/* vit.c — the ViT's parameters (layout, names, initialisation), activation
 * plan, forward and backward, all through the backend table; fp32 and bf16
 * mixed precision share this code (the differences: activation dtypes in
 * plan_acts, the weight views in bind_compute_views, the branch buffer and
 * the no-dropout backward in drop_bwd). */
#include "nn/vit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cancel.h"
#include "core/philox.h"

#define PARAM_ALIGN 64 /* elements: every parameter starts 256-byte aligned */

ember_vit_config ember_vit_default_config(void) {
    ember_vit_config c = {.image_size = 32, .patch = 4, .in_chans = 3, .dim = 384, .depth = 8,
                          .heads = 8, .mlp_hidden = 1536, .num_classes = 10, .dropout = 0.1f,
                          .ln_eps = 1e-5f};
    return c;
}

ember_adamw_config ember_adamw_default(void) {
    ember_adamw_config o = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.05};
    return o;
}

int ember_vit_config_check(const ember_vit_config *c, ember_err *err) {
    if (c->image_size < 1 || c->patch < 1 || c->in_chans < 1 || c->dim < 1 || c->depth < 0 ||
        c->heads < 1 || c->mlp_hidden < 1 || c->num_classes < 1)
        return ember_err_set(err, "ViT sizes must be positive (image %d, patch %d, channels %d, dim %d, "
                                  "depth %d, heads %d, mlp %d, classes %d)",
                             c->image_size, c->patch, c->in_chans, c->dim, c->depth, c->heads,
                             c->mlp_hidden, c->num_classes);
    if (c->image_size % c->patch)
        return ember_err_set(err, "ViT: the patch size %d does not divide the image size %d", c->patch,
                             c->image_size);
    if (c->dim % c->heads)
        return ember_err_set(err, "ViT: %d heads do not divide the width %d", c->heads, c->dim);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return ember_err_set(err, "ViT: dropout must be in [0, 1), got %g", (double)c->dropout);
    if (!(c->ln_eps > 0.0f)) return ember_err_set(err, "ViT: LayerNorm eps must be > 0");
    if (!ember_vit_init_name(c->init))
        return ember_err_set(err, "ViT: unknown initialisation %d (torch or timm)", (int)c->init);
    if (c->compute_dtype != EMBER_F32 && c->compute_dtype != EMBER_BF16)
        return ember_err_set(err, "ViT: the compute dtype must be f32 or bf16 (mixed precision), got %s",
                             ember_dtype_name(c->compute_dtype));
    /* The limits keep every size and product in int and int64_t range; the
     * message names the one exceeded so the caller can say it. */
    static const struct {
        const char *what;
        int limit;
    } lim[] = {{"image size", EMBER_VIT_MAX_IMAGE}, {"width (dim)", EMBER_VIT_MAX_DIM},
               {"depth", EMBER_VIT_MAX_DEPTH},       {"MLP width", EMBER_VIT_MAX_MLP},
               {"number of classes", EMBER_VIT_MAX_CLASSES}, {"number of channels", EMBER_VIT_MAX_CHANS}};
    const int have[] = {c->image_size, c->dim, c->depth, c->mlp_hidden, c->num_classes, c->in_chans};
    for (size_t i = 0; i < sizeof lim / sizeof *lim; i++)
        if (have[i] > lim[i].limit)
            return ember_err_set(err, "ViT: the %s is %d; at most %d", lim[i].what, have[i], lim[i].limit);
    return 0;
}

/* Walks the parameters in module order (vit.h). With out ==
 * NULL it only counts. */
static int build_params(const ember_vit_config *c, ember_vit_param *out, int64_t *n_elems,
                        int64_t *n_trainable) {
    int n = 0;
    int64_t off = 0, total = 0;
    int64_t C = c->dim, T = (int64_t)(c->image_size / c->patch) * (c->image_size / c->patch);
#define ADD(nm, nd, s0, s1, s2, s3)                                             \
    do {                                                                        \
        int64_t sh[4] = {s0, s1, s2, s3}, numel = 1;                            \
        for (int i_ = 0; i_ < nd; i_++) numel *= sh[i_];                        \
        if (out) {                                                              \
            ember_vit_param *p_ = &out[n];                                      \
            snprintf(p_->name, sizeof p_->name, "%s", nm);                      \
            p_->ndim = nd;                                                      \
            memcpy(p_->shape, sh, sizeof sh);                                   \
            p_->offset = off;                                                   \
            p_->numel = numel;                                                  \
        }                                                                       \
        n++;                                                                    \
        total += numel;                                                         \
        off += (numel + PARAM_ALIGN - 1) / PARAM_ALIGN * PARAM_ALIGN;           \
    } while (0)
    ADD("patch_embed.weight", 4, C, c->in_chans, c->patch, c->patch);
    ADD("patch_embed.bias", 1, C, 1, 1, 1);
    ADD("pos_embed", 3, 1, T, C, 1);
    char nm[EMBER_VIT_NAME_MAX];
    for (int l = 0; l < c->depth; l++) {
#define BLK(suffix, nd, s0, s1)                                   \
    snprintf(nm, sizeof nm, "blocks.%d.%s", l, suffix);           \
    ADD(nm, nd, s0, s1, 1, 1)
        BLK("norm1.weight", 1, C, 1);
        BLK("norm1.bias", 1, C, 1);
        BLK("attn.qkv.weight", 2, 3 * C, C);
        BLK("attn.qkv.bias", 1, 3 * C, 1);
        BLK("attn.proj.weight", 2, C, C);
        BLK("attn.proj.bias", 1, C, 1);
        BLK("norm2.weight", 1, C, 1);
        BLK("norm2.bias", 1, C, 1);
        BLK("mlp.fc1.weight", 2, c->mlp_hidden, C);
        BLK("mlp.fc1.bias", 1, c->mlp_hidden, 1);
        BLK("mlp.fc2.weight", 2, C, c->mlp_hidden);
        BLK("mlp.fc2.bias", 1, C, 1);
#undef BLK
    }
    ADD("norm.weight", 1, C, 1, 1, 1);
    ADD("norm.bias", 1, C, 1, 1, 1);
    ADD("head.weight", 2, c->num_classes, C, 1, 1);
    ADD("head.bias", 1, c->num_classes, 1, 1, 1);
#undef ADD
    if (n_elems) *n_elems = off;
    if (n_trainable) *n_trainable = total;
    return n;
}

int64_t ember_vit_param_count(const ember_vit_config *cfg) {
    int64_t total = 0;
    build_params(cfg, NULL, NULL, &total);
    return total;
}

const ember_vit_param *ember_vit_find_param(const ember_vit *vit, const char *name) {
    for (int i = 0; i < vit->n_params; i++)
        if (strcmp(vit->params[i].name, name) == 0) return &vit->params[i];
    return NULL;
}

/* Views every parameter of `buf` (the w or g buffer) by name. */
static int bind_views(ember_vit *vit, const ember_tensor *buf, ember_vit_tensors *vt, ember_err *err) {
    int idx = 0;
    float *base = buf->data;
#define BIND(dst)                                                                                 \
    do {                                                                                          \
        const ember_vit_param *p_ = &vit->params[idx++];                                          \
        if (ember_tensor_view(&(dst), base + p_->offset, EMBER_F32, buf->device, p_->ndim,        \
                              p_->shape, err))                                                    \
            return -1;                                                                            \
    } while (0)
    BIND(vt->patch_w);
    BIND(vt->patch_b);
    BIND(vt->pos);
    for (int l = 0; l < vit->cfg.depth; l++) {
        ember_vit_block_t *b = &vt->blocks[l];
        BIND(b->ln1_w);
        BIND(b->ln1_b);
        BIND(b->qkv_w);
        BIND(b->qkv_b);
        BIND(b->proj_w);
        BIND(b->proj_b);
        BIND(b->ln2_w);
        BIND(b->ln2_b);
        BIND(b->fc1_w);
        BIND(b->fc1_b);
        BIND(b->fc2_w);
        BIND(b->fc2_b);
    }
    BIND(vt->norm_w);
    BIND(vt->norm_b);
    BIND(vt->head_w);
    BIND(vt->head_b);
#undef BIND
    return 0;
}

/* The bf16 view of wb at the place of the f32 view w32 into w. */
static int bf16_view(const ember_vit *vit, const ember_tensor *w32, ember_tensor *out, ember_err *err) {
    ptrdiff_t off = (const float *)w32->data - (const float *)vit->w.data;
    return ember_tensor_view(out, (uint16_t *)vit->wb.data + off, EMBER_BF16, w32->device, w32->ndim,
                             w32->shape, err);
}

/* wc: what the forward and backward read the weights through (vit.h). In
 * mixed precision every matrix-product operand is bf16 (cuBLASLt fuses a
 * bias of the output's dtype, as autocast does); the head's bias stays f32
 * for its f32 logits; LayerNorm parameters and pos_embed stay f32. */
static int bind_compute_views(ember_vit *vit, ember_err *err) {
    ember_vit_tensors *V = &vit->wc;
    const ember_vit_tensors *W = &vit->wt;
    ember_vit_block_t *blocks = V->blocks;
    *V = *W;
    V->blocks = blocks;
    memcpy(V->blocks, W->blocks, (size_t)vit->cfg.depth * sizeof *V->blocks);
    if (!ember_vit_mixed(vit)) return 0;
    if (bf16_view(vit, &W->patch_w, &V->patch_w, err) || bf16_view(vit, &W->patch_b, &V->patch_b, err) ||
        bf16_view(vit, &W->head_w, &V->head_w, err))
        return -1;
    for (int l = 0; l < vit->cfg.depth; l++) {
        const ember_vit_block_t *b = &W->blocks[l];
        ember_vit_block_t *o = &V->blocks[l];
        if (bf16_view(vit, &b->qkv_w, &o->qkv_w, err) || bf16_view(vit, &b->qkv_b, &o->qkv_b, err) ||
            bf16_view(vit, &b->proj_w, &o->proj_w, err) || bf16_view(vit, &b->proj_b, &o->proj_b, err) ||
            bf16_view(vit, &b->fc1_w, &o->fc1_w, err) || bf16_view(vit, &b->fc1_b, &o->fc1_b, err) ||
            bf16_view(vit, &b->fc2_w, &o->fc2_w, err) || bf16_view(vit, &b->fc2_b, &o->fc2_b, err))
            return -1;
    }
    return 0;
}

int ember_vit_cast_weights(ember_vit *vit, ember_err *err) {
    if (!ember_vit_mixed(vit)) return 0;
    return vit->be->cast(vit->be, &vit->wb, &vit->w, err);
}

/* Host-side draws for initialisation: Philox keyed by the seed, stream 1
 * (dropout uses other keys' counters), one counter per pair of normals. */
static double uniform01(uint64_t seed, uint64_t i) {
    uint32_t r = ember_philox_draw(seed ^ 0x5eed1417ULL, (uint64_t)1 << 48, i);
    return ((double)r + 0.5) / 4294967296.0;
}

static double normal(uint64_t seed, uint64_t *ctr, double std) {
    double u1 = uniform01(seed, (*ctr)++), u2 = uniform01(seed, (*ctr)++);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2) * std;
}

static double trunc_normal(uint64_t seed, uint64_t *ctr, double std) {
    for (;;) {
        double z = normal(seed, ctr, std);
        if (z >= -2.0 && z <= 2.0) return z;
    }
}

const char *ember_vit_init_name(ember_vit_init init) {
    switch (init) {
    case EMBER_VIT_INIT_TORCH: return "torch";
    case EMBER_VIT_INIT_TIMM: return "timm";
    }
    return NULL;
}

int ember_vit_init_parse(const char *name, ember_vit_init *out) {
    if (!name) return -1;
    if (strcmp(name, "torch") == 0) *out = EMBER_VIT_INIT_TORCH;
    else if (strcmp(name, "timm") == 0) *out = EMBER_VIT_INIT_TIMM;
    else return -1;
    return 0;
}

/* PyTorch's fan_in of the Linear or Conv2d a parameter belongs to: the
 * weight's elements per output. A bias has no fan of its own; nn.Linear
 * and nn.Conv2d bound it by their weight's. */
static double layer_fan_in(const ember_vit *vit, const ember_vit_param *p) {
    const ember_vit_param *w = p;
    size_t ln = strlen(p->name);
    if (ln >= 5 && strcmp(p->name + ln - 5, ".bias") == 0) {
        char nm[EMBER_VIT_NAME_MAX + 8];
        snprintf(nm, sizeof nm, "%.*sweight", (int)(ln - 4), p->name);
        w = ember_vit_find_param(vit, nm);
    }
    return w && w->ndim >= 2 && w->shape[0] > 0 ? (double)(w->numel / w->shape[0]) : 1.0;
}

/* One counter sequence over the parameters in order, so adding a scheme
 * never moves another scheme's draws: EMBER_VIT_INIT_TIMM gives the same
 * bits as before the torch scheme existed. */
static void init_params(const ember_vit *vit, float *h, uint64_t seed) {
    uint64_t ctr = 0;
    const int timm = vit->cfg.init == EMBER_VIT_INIT_TIMM;
    for (int i = 0; i < vit->n_params; i++) {
        const ember_vit_param *p = &vit->params[i];
        float *d = h + p->offset;
        const char *nm = p->name;
        size_t ln = strlen(nm);
        int is_bias = ln >= 5 && strcmp(nm + ln - 5, ".bias") == 0;
        int is_norm = strstr(nm, "norm") != NULL;
        int is_patch = strncmp(nm, "patch_embed.", 12) == 0;
        int is_pos = strcmp(nm, "pos_embed") == 0;
        double bound = is_norm || is_pos ? 0.0 : 1.0 / sqrt(layer_fan_in(vit, p));
        for (int64_t j = 0; j < p->numel; j++) {
            double v;
            if (is_norm)
                v = is_bias ? 0.0 : 1.0;
            else if (is_pos)
                v = timm ? trunc_normal(seed, &ctr, 0.02) : normal(seed, &ctr, 0.02);
            else if (is_patch || !timm)
                v = (2.0 * uniform01(seed, ctr++) - 1.0) * bound;
            else if (is_bias)
                v = 0.0;
            else
                v = trunc_normal(seed, &ctr, 0.02);
            d[j] = (float)v;
        }
    }
}

int ember_vit_create(ember_vit *vit, const ember_vit_config *cfg, const ember_backend *be,
                     uint64_t seed, ember_err *err) {
    memset(vit, 0, sizeof *vit);
    if (!be) return ember_err_set(err, "ViT: no backend");
    if (ember_vit_config_check(cfg, err)) return -1;
    /* Only the CUDA backend runs the bf16 ops (the CPU one computes in f32
     * and refuses bf16 operands). */
    if (cfg->compute_dtype == EMBER_BF16 && be->device != EMBER_DEV_CUDA)
        return ember_err_set(err, "mixed precision (bf16) needs the CUDA backend; use fp32 on the %s",
                             be->device == EMBER_DEV_CPU ? "CPU" : be->name);
    vit->cfg = *cfg;
    vit->be = be;
    vit->seed = seed;
    vit->smoothing = 0.1f;
    vit->opt = ember_adamw_default();
    vit->n_params = build_params(cfg, NULL, &vit->n_elems, &vit->n_trainable);
    vit->params = calloc((size_t)vit->n_params, sizeof *vit->params);
    vit->wt.blocks = calloc((size_t)cfg->depth + 1, sizeof(ember_vit_block_t));
    vit->gt.blocks = calloc((size_t)cfg->depth + 1, sizeof(ember_vit_block_t));
    vit->wc.blocks = calloc((size_t)cfg->depth + 1, sizeof(ember_vit_block_t));
    if (!vit->params || !vit->wt.blocks || !vit->gt.blocks || !vit->wc.blocks) {
        ember_vit_destroy(vit);
        return ember_err_set(err, "out of memory");
    }
    build_params(cfg, vit->params, NULL, NULL);

    size_t bytes = (size_t)vit->n_elems * 4;
    size_t cap = 4 * (bytes + EMBER_ARENA_ALIGN) + 2 * EMBER_ARENA_ALIGN + sizeof(ember_step_scalars);
    if (ember_vit_mixed(vit)) cap += (size_t)vit->n_elems * 2 + EMBER_ARENA_ALIGN;
    if (ember_arena_init(&vit->state_arena, be, cap, err)) goto fail;
    int64_t shape[1] = {vit->n_elems}, sshape[1] = {(int64_t)sizeof(ember_step_scalars)};
    if (ember_arena_tensor(&vit->state_arena, &vit->w, EMBER_F32, 1, shape, err) ||
        ember_arena_tensor(&vit->state_arena, &vit->g, EMBER_F32, 1, shape, err) ||
        ember_arena_tensor(&vit->state_arena, &vit->m, EMBER_F32, 1, shape, err) ||
        ember_arena_tensor(&vit->state_arena, &vit->v, EMBER_F32, 1, shape, err) ||
        ember_arena_tensor(&vit->state_arena, &vit->step, EMBER_U8, 1, sshape, err))
        goto fail;
    if (ember_vit_mixed(vit) && ember_arena_tensor(&vit->state_arena, &vit->wb, EMBER_BF16, 1, shape, err))
        goto fail;
    if (bind_views(vit, &vit->w, &vit->wt, err) || bind_views(vit, &vit->g, &vit->gt, err) ||
        bind_compute_views(vit, err))
        goto fail;
    if (be->zero(be, &vit->g, err) || be->zero(be, &vit->m, err) || be->zero(be, &vit->v, err) ||
        be->zero(be, &vit->step, err))
        goto fail;

    float *host = calloc((size_t)vit->n_elems, sizeof(float));
    if (!host) {
        ember_err_set(err, "out of memory initialising %lld parameters", (long long)vit->n_elems);
        goto fail;
    }
    init_params(vit, host, seed);
    int rc = be->copy_h2d(be, vit->w.data, host, bytes, err);
    if (!rc) rc = ember_vit_cast_weights(vit, err);
    if (!rc) rc = be->sync(be, err);
    free(host);
    if (rc) goto fail;
    return 0;
fail:
    ember_err_prefix(err, "creating the ViT: ");
    ember_vit_destroy(vit);
    return -1;
}

void ember_vit_destroy(ember_vit *vit) {
    if (!vit) return;
    ember_arena_release(&vit->act_arena);
    ember_arena_release(&vit->state_arena);
    free(vit->acts.res);
    free(vit->acts.layers);
    free(vit->params);
    free(vit->wt.blocks);
    free(vit->gt.blocks);
    free(vit->wc.blocks);
    memset(vit, 0, sizeof *vit);
}

/* ---- activations ------------------------------------------------------------ */

static int mk(ember_arena *a, ember_tensor *t, ember_dtype dt, int nd, int64_t d0, int64_t d1,
              int64_t d2, int64_t d3, ember_err *err) {
    int64_t s[4] = {d0, d1, d2, d3};
    return ember_arena_tensor(a, t, dt, nd, s, err);
}

static int plan_acts(ember_vit *vit, ember_arena *a, int64_t B, ember_err *err) {
    const ember_vit_config *c = &vit->cfg;
    ember_vit_acts *A = &vit->acts;
    int64_t G = c->image_size / c->patch, T = G * G, C = c->dim, H = c->heads, Hm = c->mlp_hidden,
            K = c->num_classes, P = (int64_t)c->in_chans * c->patch * c->patch;
    /* f: always f32 (inputs, residual stream and its gradient, statistics,
     * logits, loss). h: the activation dtype, bf16 in mixed precision. */
    const ember_dtype f = EMBER_F32, h = c->compute_dtype;
    A->batch = B;
    if (mk(a, &A->images, f, 4, B, c->in_chans, c->image_size, c->image_size, err) ||
        mk(a, &A->labels, EMBER_I32, 1, B, 0, 0, 0, err) || mk(a, &A->cols, h, 3, B, T, P, 0, err) ||
        mk(a, &A->emb, h, 3, B, T, C, 0, err))
        return -1;
    for (int l = 0; l <= c->depth; l++)
        if (mk(a, &A->res[l], f, 3, B, T, C, 0, err)) return -1;
    for (int l = 0; l < c->depth; l++) {
        ember_vit_layer_acts *L = &A->layers[l];
        if (mk(a, &L->ln1, h, 3, B, T, C, 0, err) || mk(a, &L->ln1_mean, f, 1, B * T, 0, 0, 0, err) ||
            mk(a, &L->ln1_rstd, f, 1, B * T, 0, 0, 0, err) || mk(a, &L->qkv, h, 3, B, T, 3 * C, 0, err) ||
            mk(a, &L->att, h, 3, B, T, C, 0, err) || mk(a, &L->lse, f, 3, B, H, T, 0, err) ||
            mk(a, &L->mid, f, 3, B, T, C, 0, err) || mk(a, &L->ln2, h, 3, B, T, C, 0, err) ||
            mk(a, &L->ln2_mean, f, 1, B * T, 0, 0, 0, err) ||
            mk(a, &L->ln2_rstd, f, 1, B * T, 0, 0, 0, err) || mk(a, &L->fc1_pre, h, 3, B, T, Hm, 0, err) ||
            mk(a, &L->fc1_act, h, 3, B, T, Hm, 0, err))
            return -1;
    }
    if (mk(a, &A->lnf, h, 3, B, T, C, 0, err) || mk(a, &A->lnf_mean, f, 1, B * T, 0, 0, 0, err) ||
        mk(a, &A->lnf_rstd, f, 1, B * T, 0, 0, 0, err) || mk(a, &A->pooled, h, 2, B, C, 0, 0, err) ||
        mk(a, &A->logits, f, 2, B, K, 0, 0, err) || mk(a, &A->probs, f, 2, B, K, 0, 0, err) ||
        mk(a, &A->loss, f, 1, 1, 0, 0, 0, err) || mk(a, &A->correct, EMBER_I32, 1, 1, 0, 0, 0, err) ||
        mk(a, &A->dres, f, 3, B, T, C, 0, err) || mk(a, &A->dtmp, h, 3, B, T, C, 0, err) ||
        mk(a, &A->dln, h, 3, B, T, C, 0, err) || mk(a, &A->dqkv, h, 3, B, T, 3 * C, 0, err) ||
        mk(a, &A->dhid, h, 3, B, T, Hm, 0, err) || mk(a, &A->dpooled, h, 2, B, C, 0, 0, err) ||
        mk(a, &A->dlogits, h, 2, B, K, 0, 0, err))
        return -1;
    memset(&A->branch, 0, sizeof A->branch);
    return ember_vit_mixed(vit) ? mk(a, &A->branch, h, 3, B, T, C, 0, err) : 0;
}

int ember_vit_set_batch(ember_vit *vit, int64_t batch, ember_err *err) {
    if (batch < 1 || batch > (1 << 20)) return ember_err_set(err, "ViT: batch size %lld is out of range", (long long)batch);
    if (vit->acts.batch == batch && vit->act_arena.base) return 0;
    if (!vit->acts.res) {
        vit->acts.res = calloc((size_t)vit->cfg.depth + 1, sizeof(ember_tensor));
        vit->acts.layers = calloc((size_t)vit->cfg.depth + 1, sizeof(ember_vit_layer_acts));
        if (!vit->acts.res || !vit->acts.layers) return ember_err_set(err, "out of memory");
    }
    ember_arena measure;
    ember_arena_init_measure(&measure, vit->be->device);
    if (plan_acts(vit, &measure, batch, err)) return -1;
    /* A smaller batch (an epoch's last, partial one) reuses the arena: no
     * allocation, and the plan for the larger batch comes back at the same
     * addresses afterwards (so a captured graph stays valid). */
    if (!vit->act_arena.base || measure.peak > vit->act_arena.cap) {
        ember_arena_release(&vit->act_arena);
        if (ember_arena_init(&vit->act_arena, vit->be, measure.peak, err)) {
            vit->acts.batch = 0;
            return ember_err_prefix(err, "ViT activations for batch %lld: ", (long long)batch);
        }
    }
    ember_arena_reset(&vit->act_arena, 0);
    if (plan_acts(vit, &vit->act_arena, batch, err)) {
        vit->acts.batch = 0;
        return ember_err_prefix(err, "ViT activations for batch %lld: ", (long long)batch);
    }
    /* Dropout sites: embeddings, then per layer attention output, MLP
     * hidden, MLP output; each gets its own range of Philox counters. */
    int64_t T = (int64_t)(vit->cfg.image_size / vit->cfg.patch) * (vit->cfg.image_size / vit->cfg.patch);
    uint64_t c_btc = ember_philox_counters((uint64_t)(batch * T * vit->cfg.dim));
    uint64_t c_hid = ember_philox_counters((uint64_t)(batch * T * vit->cfg.mlp_hidden));
    vit->rng_per_step = c_btc + (uint64_t)vit->cfg.depth * (2 * c_btc + c_hid);
    return 0;
}

enum { SITE_ATT = 0, SITE_HID = 1, SITE_OUT = 2 };

static uint64_t site_offset(const ember_vit *vit, int layer, int site) {
    if (layer < 0) return 0;
    int64_t B = vit->acts.batch, T = vit->acts.emb.shape[1];
    uint64_t c_btc = ember_philox_counters((uint64_t)(B * T * vit->cfg.dim));
    uint64_t c_hid = ember_philox_counters((uint64_t)(B * T * vit->cfg.mlp_hidden));
    uint64_t base = c_btc + (uint64_t)layer * (2 * c_btc + c_hid);
    return site == SITE_ATT ? base : site == SITE_HID ? base + c_btc : base + c_btc + c_hid;
}

/* Every backend op of the forward and the backward is preceded by a
 * cancellation check (core/cancel.h): an interrupt stops a pass before its
 * next op, the only place a host can stop GPU work (on the CPU long ops
 * also check inside). A stopped pass leaves activations and gradients
 * half-written and nothing else: weights change only in AdamW. */
#define CK(call) (ember_cancel_check(err) || (call))

/* y = x W^T + b for x [R, in], W [out, in]; gelu: y = gelu(.), pre kept. */
static int linear_fwd(const ember_backend *be, ember_tensor *y, ember_tensor *pre, const ember_tensor *x,
                      const ember_tensor *w, const ember_tensor *b, ember_err *err) {
    int64_t out = w->shape[0], in = w->shape[1];
    ember_gemm g = ember_gemm_default(ember_tensor_numel(x) / in, out, in);
    g.trans_b = 1;
    g.gelu = pre != NULL;
    return CK(be->matmul(be, &g, x, w, b, y, pre, err));
}

/* dW += dy^T x, db += sum dy, dx (=) dy W (dx may be NULL). */
static int linear_bwd(const ember_backend *be, ember_tensor *dx, ember_tensor *dw, ember_tensor *db,
                      const ember_tensor *dy, const ember_tensor *x, const ember_tensor *w, ember_err *err) {
    int64_t out = w->shape[0], in = w->shape[1], R = ember_tensor_numel(x) / in;
    ember_gemm gw = ember_gemm_default(out, in, R);
    gw.trans_a = 1;
    gw.beta = 1.0f;
    if (CK(be->matmul(be, &gw, dy, x, NULL, dw, NULL, err))) return -1;
    if (CK(be->bias_grad(be, db, dy, 1, err))) return -1;
    if (!dx) return 0;
    ember_gemm gx = ember_gemm_default(R, in, out);
    return CK(be->matmul(be, &gx, dy, w, NULL, dx, NULL, err));
}

static int drop_fwd(ember_vit *vit, ember_tensor *t, int training, int layer, int site, ember_err *err) {
    if (!training || vit->cfg.dropout == 0.0f) return 0;
    return CK(vit->be->dropout_fwd(vit->be, t, t, vit->cfg.dropout, vit->seed, site_offset(vit, layer, site),
                                   &vit->step, err));
}

/* Without dropout, fp32 copies (or does nothing in place); mixed
 * precision still calls dropout_bwd with p = 0, which is the cast from the
 * f32 residual gradient to bf16 where the dtypes differ (and an exact
 * identity where they do not), the op sequence verified on the GPU. */
static int drop_bwd(ember_vit *vit, ember_tensor *dx, const ember_tensor *dy, int training, int layer,
                    int site, ember_err *err) {
    const ember_backend *be = vit->be;
    float p = training ? vit->cfg.dropout : 0.0f;
    if (p == 0.0f && !ember_vit_mixed(vit)) {
        if (dx->data == dy->data) return 0;
        return CK(be->copy_d2d(be, dx->data, dy->data, ember_tensor_nbytes(dy), err));
    }
    return CK(be->dropout_bwd(be, dx, dy, p, vit->seed, site_offset(vit, layer, site), &vit->step, 0, err));
}

/* Where a block's attention projection and FC2 write before joining the
 * residual stream: in fp32 the block's output res[l+1] itself (then
 * add(y, mid, y)); in mixed precision the bf16 branch buffer, since the
 * f32 stream cannot hold a bf16 product. */
static ember_tensor *branch_of(ember_vit *vit, ember_tensor *y) {
    return ember_vit_mixed(vit) ? &vit->acts.branch : y;
}

/* The Conv2d weight [C, Cin, p, p] seen as the Linear weight [C, Cin p p]
 * it is (im2col's column order is the weight's flattening). */
static int patch_w2d(const ember_tensor *w4, ember_tensor *w2, ember_err *err) {
    int64_t s[2] = {w4->shape[0], w4->shape[1] * w4->shape[2] * w4->shape[3]};
    return ember_tensor_view(w2, w4->data, w4->dtype, w4->device, 2, s, err);
}

int ember_vit_forward(ember_vit *vit, int training, ember_err *err) {
    const ember_backend *be = vit->be;
    const ember_vit_config *c = &vit->cfg;
    ember_vit_acts *A = &vit->acts;
    ember_vit_tensors *W = &vit->wc;
    if (!A->batch) return ember_err_set(err, "ViT forward: no batch size set");
    ember_tensor pw;
    if (patch_w2d(&W->patch_w, &pw, err)) return -1;
    if (CK(be->im2col_fwd(be, &A->cols, &A->images, c->patch, err)) ||
        linear_fwd(be, &A->emb, NULL, &A->cols, &pw, &W->patch_b, err) ||
        CK(be->pos_embed_fwd(be, &A->res[0], &A->emb, &W->pos, err)) ||
        drop_fwd(vit, &A->res[0], training, -1, 0, err))
        return ember_err_prefix(err, "ViT forward (embedding): ");
    for (int l = 0; l < c->depth; l++) {
        ember_vit_layer_acts *L = &A->layers[l];
        ember_vit_block_t *b = &W->blocks[l];
        ember_tensor *x = &A->res[l], *y = &A->res[l + 1], *br = branch_of(vit, y);
        if (CK(be->layernorm_fwd(be, &L->ln1, &L->ln1_mean, &L->ln1_rstd, x, &b->ln1_w, &b->ln1_b, c->ln_eps,
                                 err)) ||
            linear_fwd(be, &L->qkv, NULL, &L->ln1, &b->qkv_w, &b->qkv_b, err) ||
            CK(be->attention_fwd(be, &L->att, &L->lse, &L->qkv, c->heads, 0, err)) ||
            linear_fwd(be, br, NULL, &L->att, &b->proj_w, &b->proj_b, err) ||
            drop_fwd(vit, br, training, l, SITE_ATT, err) || CK(be->add(be, &L->mid, x, br, err)))
            return ember_err_prefix(err, "ViT forward (block %d attention): ", l);
        /* MLP branch. */
        if (CK(be->layernorm_fwd(be, &L->ln2, &L->ln2_mean, &L->ln2_rstd, &L->mid, &b->ln2_w, &b->ln2_b,
                                 c->ln_eps, err)) ||
            linear_fwd(be, &L->fc1_act, &L->fc1_pre, &L->ln2, &b->fc1_w, &b->fc1_b, err) ||
            drop_fwd(vit, &L->fc1_act, training, l, SITE_HID, err) ||
            linear_fwd(be, br, NULL, &L->fc1_act, &b->fc2_w, &b->fc2_b, err) ||
            drop_fwd(vit, br, training, l, SITE_OUT, err) || CK(be->add(be, y, &L->mid, br, err)))
            return ember_err_prefix(err, "ViT forward (block %d MLP): ", l);
    }
    if (CK(be->layernorm_fwd(be, &A->lnf, &A->lnf_mean, &A->lnf_rstd, &A->res[c->depth], &W->norm_w,
                             &W->norm_b, c->ln_eps, err)) ||
        CK(be->mean_tokens_fwd(be, &A->pooled, &A->lnf, err)) ||
        linear_fwd(be, &A->logits, NULL, &A->pooled, &W->head_w, &W->head_b, err))
        return ember_err_prefix(err, "ViT forward (head): ");
    return 0;
}

int ember_vit_loss_with(ember_vit *vit, float smoothing, ember_err *err) {
    const ember_backend *be = vit->be;
    ember_vit_acts *A = &vit->acts;
    if (!A->batch) return ember_err_set(err, "ViT loss: no batch size set");
    if (!(smoothing >= 0.0f && smoothing < 1.0f))
        return ember_err_set(err, "ViT loss: label smoothing must be in [0, 1), got %g", (double)smoothing);
    return be->ce_fwd(be, &A->loss, &A->probs, &A->logits, &A->labels, smoothing, 1.0f / (float)A->batch, 0, err);
}

int ember_vit_loss(ember_vit *vit, ember_err *err) { return ember_vit_loss_with(vit, vit->smoothing, err); }

int ember_vit_backward(ember_vit *vit, int training, ember_err *err) {
    const ember_backend *be = vit->be;
    const ember_vit_config *c = &vit->cfg;
    ember_vit_acts *A = &vit->acts;
    ember_vit_tensors *W = &vit->wc, *G = &vit->gt;
    if (!A->batch) return ember_err_set(err, "ViT backward: no batch size set");
    if (CK(be->zero(be, &vit->g, err))) return -1;
    /* Head, final norm, pooling. */
    if (CK(be->ce_bwd(be, &A->dlogits, &A->probs, &A->labels, vit->smoothing, 1.0f / (float)A->batch, err)) ||
        linear_bwd(be, &A->dpooled, &G->head_w, &G->head_b, &A->dlogits, &A->pooled, &W->head_w, err) ||
        CK(be->mean_tokens_bwd(be, &A->dln, &A->dpooled, err)) ||
        CK(be->layernorm_bwd(be, &A->dres, &G->norm_w, &G->norm_b, &A->dln, &A->res[c->depth], &A->lnf_mean,
                             &A->lnf_rstd, &W->norm_w, 0, err)))
        return ember_err_prefix(err, "ViT backward (head): ");
    /* dres holds d(loss)/d(res[l+1]) on entry to each block, d/d(res[l]) on exit. */
    for (int l = c->depth - 1; l >= 0; l--) {
        ember_vit_layer_acts *L = &A->layers[l];
        ember_vit_block_t *b = &W->blocks[l], *gb = &G->blocks[l];
        if (drop_bwd(vit, &A->dtmp, &A->dres, training, l, SITE_OUT, err) ||
            linear_bwd(be, &A->dhid, &gb->fc2_w, &gb->fc2_b, &A->dtmp, &L->fc1_act, &b->fc2_w, err) ||
            drop_bwd(vit, &A->dhid, &A->dhid, training, l, SITE_HID, err) ||
            CK(be->gelu_bwd(be, &A->dhid, &A->dhid, &L->fc1_pre, 0, err)) ||
            linear_bwd(be, &A->dln, &gb->fc1_w, &gb->fc1_b, &A->dhid, &L->ln2, &b->fc1_w, err) ||
            CK(be->layernorm_bwd(be, &A->dres, &gb->ln2_w, &gb->ln2_b, &A->dln, &L->mid, &L->ln2_mean,
                                 &L->ln2_rstd, &b->ln2_w, 1, err)))
            return ember_err_prefix(err, "ViT backward (block %d MLP): ", l);
        if (drop_bwd(vit, &A->dtmp, &A->dres, training, l, SITE_ATT, err) ||
            linear_bwd(be, &A->dln, &gb->proj_w, &gb->proj_b, &A->dtmp, &L->att, &b->proj_w, err) ||
            CK(be->attention_bwd(be, &A->dqkv, &A->dln, &L->qkv, &L->att, &L->lse, c->heads, 0, err)) ||
            linear_bwd(be, &A->dln, &gb->qkv_w, &gb->qkv_b, &A->dqkv, &L->ln1, &b->qkv_w, err) ||
            CK(be->layernorm_bwd(be, &A->dres, &gb->ln1_w, &gb->ln1_b, &A->dln, &A->res[l], &L->ln1_mean,
                                 &L->ln1_rstd, &b->ln1_w, 1, err)))
            return ember_err_prefix(err, "ViT backward (block %d attention): ", l);
    }
    ember_tensor pw, gpw;
    if (patch_w2d(&W->patch_w, &pw, err) || patch_w2d(&G->patch_w, &gpw, err)) return -1;
    if (drop_bwd(vit, &A->dtmp, &A->dres, training, -1, 0, err) ||
        CK(be->pos_embed_bwd(be, &G->pos, &A->dtmp, 1, err)) ||
        linear_bwd(be, NULL, &gpw, &G->patch_b, &A->dtmp, &A->cols, &pw, err))
        return ember_err_prefix(err, "ViT backward (embedding): ");
    return 0;
}
