/* clipseg.c — the CLIPSeg forward pass (inference) on the backend table: text
 * tower, vision tower, FiLM decoder and transposed-convolution head. Every
 * forward runs twice through the same code: once on a measuring arena to size
 * the scratch (ops skipped), then for real, so memory follows P and L.
 * Every op is preceded by a cancellation check (core/cancel.h), so an
 * interrupt stops the forward before its next op; the model's weights are
 * only read, so a stopped forward leaves nothing to undo. */
#include <stdlib.h>
#include <string.h>

#include "core/cancel.h"
#include "nn/clipseg_internal.h"

typedef struct cs_run {
    ember_clipseg *m;
    const ember_backend *be;
    ember_arena *a;
    int measuring;
    ember_err *err;
} cs_run;

/* Runs a backend call unless measuring, after a cancellation check. */
#define OP(call)                                                                  \
    do {                                                                          \
        if (!r->measuring && (ember_cancel_check(r->err) || (call))) return -1;   \
    } while (0)

static int T(cs_run *r, ember_tensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t s[4] = {d0, d1, d2, d3};
    return ember_arena_tensor(r->a, t, EMBER_F32, ndim, s, r->err);
}

/* A view of `rows` rows of `width` floats starting at row `row0` of t. */
static ember_tensor rows_of(const ember_tensor *t, int64_t row0, int64_t rows, int64_t width) {
    ember_tensor v = *t;
    v.owner = EMBER_OWNER_NONE;
    v.ndim = 2;
    for (int i = 0; i < EMBER_MAX_DIMS; i++) v.shape[i] = 1;
    v.shape[0] = rows;
    v.shape[1] = width;
    v.data = t->data ? (float *)t->data + row0 * width : NULL;
    return v;
}

/* y [rows, out] (+)= x [rows, in] W^T + b, W [out, in]. */
static int linear(cs_run *r, ember_tensor *y, const ember_tensor *x, const ember_tensor *w,
                  const ember_tensor *b, int64_t rows, int accumulate) {
    ember_gemm g = ember_gemm_default(rows, w->shape[0], w->shape[1]);
    g.trans_b = 1;
    g.beta = accumulate ? 1.0f : 0.0f;
    OP(r->be->matmul(r->be, &g, x, w, b, y, NULL, r->err));
    return 0;
}

static int layernorm(cs_run *r, ember_tensor *out, const ember_tensor *x, const ember_tensor *g,
                     const ember_tensor *b, int64_t rows, float eps) {
    size_t mark = ember_arena_mark(r->a);
    ember_tensor mean, rstd;
    if (T(r, &mean, 1, rows, 0, 0, 0) || T(r, &rstd, 1, rows, 0, 0, 0)) return -1;
    OP(r->be->layernorm_fwd(r->be, out, &mean, &rstd, x, g, b, eps, r->err));
    ember_arena_reset(r->a, mark);
    return 0;
}

/* out [B, T, C] = multi-head attention of x [B, T, C] (packed projection). */
static int attention(cs_run *r, ember_tensor *out, const ember_tensor *x, const cs_layer *L,
                     int64_t B, int64_t Tk, int64_t C, int heads, int causal) {
    size_t mark = ember_arena_mark(r->a);
    ember_tensor qkv, lse;
    if (T(r, &qkv, 3, B, Tk, 3 * C, 0) || T(r, &lse, 3, B, heads, Tk, 0)) return -1;
    if (linear(r, &qkv, x, &L->qkv_w, &L->qkv_b, B * Tk, 0)) return -1;
    OP(r->be->attention_fwd(r->be, out, &lse, &qkv, heads, causal, r->err));
    ember_arena_reset(r->a, mark);
    return 0;
}

/* CLIP's pre-norm encoder layer, in place on x [B, T, C]. */
static int prenorm_layer(cs_run *r, ember_tensor *x, const cs_layer *L, int64_t B, int64_t Tk,
                         int64_t C, int64_t M, int heads, int causal, float eps, int act) {
    size_t mark = ember_arena_mark(r->a);
    int64_t R = B * Tk;
    ember_tensor ln, att, h;
    if (T(r, &ln, 3, B, Tk, C, 0) || T(r, &att, 3, B, Tk, C, 0) || T(r, &h, 2, R, M, 0, 0)) return -1;
    if (layernorm(r, &ln, x, &L->ln1_g, &L->ln1_b, R, eps) ||
        attention(r, &att, &ln, L, B, Tk, C, heads, causal) ||
        linear(r, x, &att, &L->out_w, &L->out_b, R, 1) ||
        layernorm(r, &ln, x, &L->ln2_g, &L->ln2_b, R, eps) || linear(r, &h, &ln, &L->fc1_w, &L->fc1_b, R, 0))
        return -1;
    /* config.json's hidden_act; the erf GELU is the ViT's op, the others act_fwd's. */
    if (act == EMBER_CLIPSEG_GELU)
        OP(r->be->gelu_fwd(r->be, &h, &h, r->err));
    else
        OP(r->be->act_fwd(r->be, &h, &h, act == EMBER_CLIPSEG_RELU ? EMBER_ACT_RELU : EMBER_ACT_QUICK_GELU,
                          r->err));
    if (linear(r, x, &h, &L->fc2_w, &L->fc2_b, R, 1)) return -1;
    ember_arena_reset(r->a, mark);
    return 0;
}

/* CLIPSeg's post-norm decoder layer (ReLU MLP), in place on x [B, T, C]. */
static int postnorm_layer(cs_run *r, ember_tensor *x, const cs_layer *L, int64_t B, int64_t Tk,
                          int64_t C, int64_t M, int heads, float eps) {
    size_t mark = ember_arena_mark(r->a);
    int64_t R = B * Tk;
    ember_tensor att, h, hid;
    if (T(r, &att, 3, B, Tk, C, 0) || T(r, &h, 3, B, Tk, C, 0) || T(r, &hid, 2, R, M, 0, 0)) return -1;
    if (attention(r, &att, x, L, B, Tk, C, heads, 0) || linear(r, x, &att, &L->out_w, &L->out_b, R, 1) ||
        layernorm(r, &h, x, &L->ln1_g, &L->ln1_b, R, eps) || linear(r, &hid, &h, &L->fc1_w, &L->fc1_b, R, 0))
        return -1;
    OP(r->be->act_fwd(r->be, &hid, &hid, EMBER_ACT_RELU, r->err));
    if (linear(r, &h, &hid, &L->fc2_w, &L->fc2_b, R, 1) || layernorm(r, x, &h, &L->ln2_g, &L->ln2_b, R, eps))
        return -1;
    ember_arena_reset(r->a, mark);
    return 0;
}

/* cond [P, proj] from ids [P, L]. */
static int text_tower(cs_run *r, ember_tensor *cond, const int32_t *ids, const int32_t *eos, int P, int L) {
    ember_clipseg *m = r->m;
    const ember_clipseg_config *c = &m->cfg;
    const ember_backend *be = r->be;
    int64_t Ct = c->text_width;
    size_t mark = ember_arena_mark(r->a);
    ember_tensor x, pooled, pooled_n;
    if (T(r, &x, 3, P, L, Ct, 0) || T(r, &pooled, 2, P, Ct, 0, 0) || T(r, &pooled_n, 2, P, Ct, 0, 0))
        return -1;
    size_t rowb = (size_t)Ct * sizeof(float);
    for (int64_t i = 0; i < (int64_t)P * L; i++)
        OP(be->copy_d2d(be, (float *)x.data + i * Ct, (const float *)m->tok_emb.data + (int64_t)ids[i] * Ct,
                        rowb, r->err));
    ember_tensor pos = rows_of(&m->txt_pos, 0, L, Ct);
    OP(be->pos_embed_fwd(be, &x, &x, &pos, r->err));
    for (int l = 0; l < c->text_layers; l++)
        if (prenorm_layer(r, &x, &m->text[l], P, L, Ct, c->text_mlp, c->text_heads, 1, c->text_eps,
                          c->text_act))
            return -1;
    /* LayerNorm is per row: normalising only the pooled rows is the same. */
    for (int p = 0; p < P; p++)
        OP(be->copy_d2d(be, (float *)pooled.data + p * Ct, (const float *)x.data + ((int64_t)p * L + eos[p]) * Ct,
                        rowb, r->err));
    if (layernorm(r, &pooled_n, &pooled, &m->final_g, &m->final_b, P, c->text_eps)) return -1;
    ember_gemm g = ember_gemm_default(P, c->projection_dim, Ct);
    g.trans_b = 1;
    OP(be->matmul(be, &g, &pooled_n, &m->text_proj, NULL, cond, NULL, r->err));
    ember_arena_reset(r->a, mark);
    return 0;
}

/* states [n_extract, tokens, Cv] from pixels (already on the device in img). */
static int vision_tower(cs_run *r, ember_tensor *states, const ember_tensor *img) {
    ember_clipseg *m = r->m;
    const ember_clipseg_config *c = &m->cfg;
    const ember_backend *be = r->be;
    int64_t Cv = c->vision_width, Tk = m->tokens, G2 = (int64_t)m->grid * m->grid;
    int64_t p = c->patch;
    size_t mark = ember_arena_mark(r->a);
    ember_tensor cols, emb, x;
    if (T(r, &cols, 3, 1, G2, 3 * p * p, 0) || T(r, &emb, 3, 1, Tk, Cv, 0) || T(r, &x, 3, 1, Tk, Cv, 0))
        return -1;
    OP(be->im2col_fwd(be, &cols, img, (int)p, r->err));
    ember_tensor patches = rows_of(&emb, 1, G2, Cv);
    if (linear(r, &patches, &cols, &m->patch_w, NULL, G2, 0)) return -1;
    OP(be->copy_d2d(be, emb.data, m->cls.data, (size_t)Cv * sizeof(float), r->err));
    OP(be->pos_embed_fwd(be, &emb, &emb, &m->vis_pos, r->err));
    if (layernorm(r, &x, &emb, &m->pre_g, &m->pre_b, Tk, c->vision_eps)) return -1;
    for (int l = 0; l < m->vision_used; l++) {
        if (prenorm_layer(r, &x, &m->vision[l], 1, Tk, Cv, c->vision_mlp, c->vision_heads, 0, c->vision_eps,
                          c->vision_act))
            return -1;
        for (int k = 0; k < c->n_extract; k++)
            if (c->extract_layers[k] == l)
                OP(be->copy_d2d(be, (float *)states->data + (int64_t)k * Tk * Cv, x.data,
                                (size_t)(Tk * Cv) * sizeof(float), r->err));
    }
    ember_arena_reset(r->a, mark);
    return 0;
}

/* logits [P, O, O] from the kept states and the conditional embeddings. */
static int decoder(cs_run *r, ember_tensor *logits, const ember_tensor *states, const ember_tensor *cond, int P) {
    ember_clipseg *m = r->m;
    const ember_clipseg_config *c = &m->cfg;
    const ember_backend *be = r->be;
    int64_t Cv = c->vision_width, Tk = m->tokens, R = c->reduce_dim, G = m->grid;
    size_t mark = ember_arena_mark(r->a);
    ember_tensor fm, fa, x;
    if (T(r, &fm, 2, P, R, 0, 0) || T(r, &fa, 2, P, R, 0, 0) || T(r, &x, 3, P, Tk, R, 0)) return -1;
    if (linear(r, &fm, cond, &m->film_mul_w, &m->film_mul_b, P, 0) ||
        linear(r, &fa, cond, &m->film_add_w, &m->film_add_b, P, 0))
        return -1;
    for (int i = 0; i < c->n_extract; i++) {
        /* Deepest state first; its reduction is shared by every prompt. */
        ember_tensor s = rows_of(states, (int64_t)(c->n_extract - 1 - i) * Tk, Tk, Cv);
        ember_gemm g = ember_gemm_default(Tk, R, Cv);
        g.trans_b = 1;
        g.batch = P;
        g.stride_c = Tk * R;
        g.beta = i ? 1.0f : 0.0f;
        OP(be->matmul(be, &g, &s, &m->red_w[i], &m->red_b[i], &x, NULL, r->err));
        if (i == c->conditional_layer) OP(be->film_fwd(be, &x, &x, &fm, &fa, r->err));
        if (postnorm_layer(r, &x, &m->dec[i], P, Tk, R, c->decoder_mlp, c->decoder_heads, c->vision_eps))
            return -1;
    }
    /* Drop the class token: the grid, channels-last [P, G, G, R]. */
    ember_tensor sp;
    if (T(r, &sp, 4, P, G, G, R)) return -1;
    for (int p = 0; p < P; p++)
        OP(be->copy_d2d(be, (float *)sp.data + (int64_t)p * G * G * R, (const float *)x.data + ((int64_t)p * Tk + 1) * R,
                        (size_t)(G * G * R) * sizeof(float), r->err));
    int64_t rows = (int64_t)P * G * G;
    if (c->complex_transposed_conv) {
        int s = c->patch / 4;
        int64_t R2 = R / 2, G1 = G * s;
        ember_tensor cols, h, d1, o1, d2;
        if (T(r, &cols, 3, P, G * G, 9 * R, 0) || T(r, &h, 4, P, G, G, R) ||
            T(r, &d1, 4, P, G, G, R2 * s * s) || T(r, &o1, 4, P, G1, G1, R2) ||
            T(r, &d2, 4, P, G1, G1, (int64_t)s * s))
            return -1;
        OP(be->conv3x3_cols(be, &cols, &sp, r->err));
        if (linear(r, &h, &cols, &m->conv_w, &m->conv_b, rows, 0)) return -1;
        OP(be->act_fwd(be, &h, &h, EMBER_ACT_RELU, r->err));
        ember_gemm g = ember_gemm_default(rows, R2 * s * s, R);
        OP(be->matmul(be, &g, &h, &m->tc1_w, NULL, &d1, NULL, r->err));
        OP(be->deconv_scatter(be, &o1, &d1, &m->tc1_b, s, r->err));
        OP(be->act_fwd(be, &o1, &o1, EMBER_ACT_RELU, r->err));
        g = ember_gemm_default((int64_t)P * G1 * G1, (int64_t)s * s, R2);
        OP(be->matmul(be, &g, &o1, &m->tc2_w, NULL, &d2, NULL, r->err));
        OP(be->deconv_scatter(be, logits, &d2, &m->tc2_b, s, r->err));
    } else {
        int s = c->patch;
        ember_tensor d1;
        if (T(r, &d1, 4, P, G, G, (int64_t)s * s)) return -1;
        ember_gemm g = ember_gemm_default(rows, (int64_t)s * s, R);
        OP(be->matmul(be, &g, &sp, &m->tc1_w, NULL, &d1, NULL, r->err));
        OP(be->deconv_scatter(be, logits, &d1, &m->tc1_b, s, r->err));
    }
    ember_arena_reset(r->a, mark);
    return 0;
}

static int run(cs_run *r, const float *pixels, const int32_t *ids, const int32_t *eos, int P, int L,
               float *logits, ember_clipseg_debug *dbg) {
    ember_clipseg *m = r->m;
    const ember_clipseg_config *c = &m->cfg;
    const ember_backend *be = r->be;
    int64_t S = m->input_size, O = m->out_size, Tk = m->tokens;
    ember_tensor img, states, cond, out;
    if (T(r, &img, 4, 1, 3, S, S) || T(r, &states, 3, c->n_extract, Tk, c->vision_width, 0) ||
        T(r, &cond, 2, P, c->projection_dim, 0, 0) || T(r, &out, 4, P, O, O, 1))
        return -1;
    OP(be->copy_h2d(be, img.data, pixels, (size_t)(3 * S * S) * sizeof(float), r->err));
    if (vision_tower(r, &states, &img) || text_tower(r, &cond, ids, eos, P, L) ||
        decoder(r, &out, &states, &cond, P))
        return -1;
    OP(be->copy_d2h(be, logits, out.data, (size_t)(P * O * O) * sizeof(float), r->err));
    if (dbg && dbg->vision_states)
        OP(be->copy_d2h(be, dbg->vision_states, states.data, ember_tensor_nbytes(&states), r->err));
    if (dbg && dbg->cond) OP(be->copy_d2h(be, dbg->cond, cond.data, ember_tensor_nbytes(&cond), r->err));
    OP(be->sync(be, r->err));
    return 0;
}

int ember_clipseg_forward(ember_clipseg *m, const float *pixels, const int32_t *ids,
                          const int32_t *eos, int P, int L, float *logits,
                          ember_clipseg_debug *dbg, ember_err *err) {
    if (!m || !pixels || !ids || !eos || !logits) return ember_err_set(err, "CLIPSeg forward: a NULL argument");
    const ember_backend *be = m->be;
    const ember_clipseg_config *c = &m->cfg;
    if (be->struct_size < sizeof(ember_backend) || !be->act_fwd || !be->conv3x3_cols ||
        !be->deconv_scatter || !be->film_fwd)
        return ember_err_set(err, "CLIPSeg is not supported on the %s backend yet (its act_fwd, "
                                  "conv3x3_cols, deconv_scatter or film_fwd op is missing): use the CPU",
                             be->name);
    if (P < 1 || L < 1)
        return ember_err_set(err, "CLIPSeg forward: needs at least one prompt of at least one token (got %d x %d)", P, L);
    if (L > c->text_positions)
        return ember_err_set(err, "CLIPSeg forward: prompts of %d tokens are longer than the %d the text "
                                  "tower has positions for (shorten the prompt)", L, c->text_positions);
    for (int64_t i = 0; i < (int64_t)P * L; i++)
        if (ids[i] < 0 || ids[i] >= c->text_vocab)
            return ember_err_set(err, "CLIPSeg forward: token id %d (prompt %lld, position %lld) is outside "
                                      "the vocabulary of %d", ids[i], (long long)(i / L), (long long)(i % L), c->text_vocab);
    for (int p = 0; p < P; p++)
        if (eos[p] < 0 || eos[p] >= L)
            return ember_err_set(err, "CLIPSeg forward: end-of-text index %d of prompt %d is outside its %d tokens",
                                 eos[p], p, L);
    /* Size the scratch with a measuring pass of the same code. */
    ember_arena meas;
    ember_arena_init_measure(&meas, be->device);
    cs_run r = {m, be, &meas, 1, err};
    if (run(&r, pixels, ids, eos, P, L, logits, dbg)) return -1;
    size_t need = meas.peak + 4096;
    if (m->scratch.cap < need) {
        ember_arena_release(&m->scratch);
        memset(&m->scratch, 0, sizeof m->scratch);
        if (ember_arena_init(&m->scratch, be, need, err))
            return ember_err_prefix(err, "CLIPSeg forward: ");
    }
    ember_arena_reset(&m->scratch, 0);
    r.a = &m->scratch;
    r.measuring = 0;
    if (run(&r, pixels, ids, eos, P, L, logits, dbg)) {
        /* Stopped (an interrupt) or failed midway: wait for the ops already
         * enqueued, since the first copy may still read the caller's pixels
         * on an asynchronous backend. Its own error, if any, is the lesser. */
        ember_err ignored;
        be->sync(be, &ignored);
        return ember_err_prefix(err, "CLIPSeg forward: ");
    }
    return 0;
}
