/* bind_model.c — model values in the language: vit() builds the ViT of
 * engine/nn on the CPU or the GPU, the "model" type shows a PyTorch-style
 * summary (text and HTML) that follows the model as fit() trains it, and
 * save() / load_model() move its weights through safetensors files, with the
 * configuration the tensor shapes cannot tell (heads, dropout) kept in the
 * file's __metadata__; load_model() also reads torch.save files, and a
 * training checkpoint (save(model, 'x.ckpt'), train/checkpoint.h) carries
 * the whole run, which a model takes over (train_model_apply_checkpoint).
 * Also registers every engine/train builtin. */
#include "train/bind.h"
#include "viz/bind.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void register_train_builtins(void)
{
    register_train_model_builtins();
    register_train_optim_builtins();
    register_train_fit_builtins();
}

/* ---- the value ------------------------------------------------------------ */

typedef struct train_model {
    ember_vit vit;
    /* As the user wrote them: the config keeps the dropout as a float and the
     * MLP width as an int, which would print as 0.10000000149 and 1536. */
    double dropout;
    double mlp_ratio;
    /* The initialisation scheme the weights started from ("torch" or
     * "timm"); NULL when unknown (loaded from a file that does not say). */
    const char *init;
    train_model_state state; /* what fit() remembers (train/bind.h) */
} train_model;

static void model_free(void *data)
{
    train_model *m = data;
    ember_fit_history_free(&m->state.history);
    ember_vit_destroy(&m->vit);
    free(m);
}

static train_model *model_data(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &train_model_type)
        return NULL;
    return v->as.obj.data;
}

ember_vit *train_model_of(const lang_value *v)
{
    train_model *m = model_data(v);
    return m ? &m->vit : NULL;
}

train_model_state *train_model_state_of(const lang_value *v)
{
    train_model *m = model_data(v);
    return m ? &m->state : NULL;
}

const char *train_model_device(const lang_value *v)
{
    const ember_vit *vit = train_model_of(v);
    if (!vit)
        return NULL;
    return vit->be->device == EMBER_DEV_CUDA ? "cuda" : "cpu";
}

static const char *precision_name(const ember_vit *vit)
{
    return ember_vit_mixed(vit) ? "bf16" : "fp32";
}

/* ---- text helpers --------------------------------------------------------- */

static void sb_pad(lang_strbuf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lang_sb_add(b, " ", 1);
}

/* A ratio as the user would write it: 4, not 4.0. */
static void ratio_text(double r, char *buf, size_t len)
{
    if (r == floor(r) && fabs(r) < 1e9)
        snprintf(buf, len, "%lld", (long long)r);
    else
        lang_format_float(r, buf, len);
}

/* "ViT(image_size=32, ..., dropout=0.1)" */
static void config_line(const train_model *m, char *buf, size_t len)
{
    const ember_vit_config *c = &m->vit.cfg;
    char ratio[32], drop[32], ch[32] = "", init[32] = "";
    ratio_text(m->mlp_ratio, ratio, sizeof ratio);
    lang_format_float(m->dropout, drop, sizeof drop);
    if (c->in_chans != 3)
        snprintf(ch, sizeof ch, ", channels=%d", c->in_chans);
    /* like channels, shown only when it differs from vit()'s default */
    if (m->init && strcmp(m->init, "torch"))
        snprintf(init, sizeof init, ", init='%s'", m->init);
    snprintf(buf, len,
             "ViT(image_size=%d, patch_size=%d, dim=%d, heads=%d, layers=%d, mlp_ratio=%s, "
             "classes=%d, dropout=%s%s%s)",
             c->image_size, c->patch, c->dim, c->heads, c->depth, ratio, c->num_classes, drop, ch,
             init);
}

/* "<config line>  14,243,722 parameters, cpu, fp32" */
static void headline(const lang_value *self, char *buf, size_t len)
{
    const train_model *m = model_data(self);
    char cfg[256], n[32];
    config_line(m, cfg, sizeof cfg);
    lang_format_thousands(m->vit.n_trainable, n, sizeof n);
    snprintf(buf, len, "%s  %s parameters, %s, %s", cfg, n, train_model_device(self),
             precision_name(&m->vit));
}

/* ---- the summary table ----------------------------------------------------- */

enum { SUM_COLS = 4, SUM_MAX_ROWS = 16 };

typedef struct summary {
    int rows;
    int sub[SUM_MAX_ROWS]; /* a part of the block above it (indented) */
    char cell[SUM_MAX_ROWS][SUM_COLS][96];
    char total[32];
    char footer[128];
} summary;

static const char *const sum_header[SUM_COLS] = {"Layer", "Type", "Output shape", "Param #"};

static void sum_row(summary *s, int sub, const char *name, const char *type, const char *shape,
                    int64_t params)
{
    if (s->rows >= SUM_MAX_ROWS)
        return;
    int r = s->rows++;
    s->sub[r] = sub;
    snprintf(s->cell[r][0], sizeof s->cell[r][0], "%s", name);
    snprintf(s->cell[r][1], sizeof s->cell[r][1], "%s", type);
    snprintf(s->cell[r][2], sizeof s->cell[r][2], "%s", shape);
    lang_format_thousands(params, s->cell[r][3], sizeof s->cell[r][3]);
}

/* The modules in PyTorch's order with their output shapes for a batch of B
 * and their parameter counts; the blocks are identical by construction, so
 * one row stands for all of them. */
static void build_summary(const train_model *m, summary *s)
{
    const ember_vit *vit = &m->vit;
    const ember_vit_config *c = &vit->cfg;
    memset(s, 0, sizeof *s);
    int64_t C = c->dim, G = c->image_size / c->patch, T = G * G, Hm = c->mlp_hidden;
    int64_t P = (int64_t)c->in_chans * c->patch * c->patch, K = c->num_classes;
    char tok[64], type[96], name[64];
    snprintf(tok, sizeof tok, "[B, %" PRId64 ", %" PRId64 "]", T, C);

    snprintf(type, sizeof type, "Conv2d(%d, %d, %d, stride=%d)", c->in_chans, c->dim, c->patch,
             c->patch);
    sum_row(s, 0, "patch_embed", type, tok, C * P + C);
    snprintf(type, sizeof type, "Parameter [1, %" PRId64 ", %" PRId64 "]", T, C);
    sum_row(s, 0, "pos_embed", type, tok, T * C);
    if (c->depth > 0) {
        int64_t norm = 2 * C, attn = C * 3 * C + 3 * C + C * C + C, mlp = C * Hm + Hm + Hm * C + C;
        if (c->depth == 1)
            snprintf(name, sizeof name, "blocks.0");
        else
            snprintf(name, sizeof name, "blocks.0-%d (each)", c->depth - 1);
        sum_row(s, 0, name, "Block (pre-norm)", tok, 2 * norm + attn + mlp);
        char ln[48];
        snprintf(ln, sizeof ln, "LayerNorm(%" PRId64 ")", C);
        sum_row(s, 1, "norm1", ln, tok, norm);
        snprintf(type, sizeof type, "Attention(%d heads of %" PRId64 ")", c->heads, C / c->heads);
        sum_row(s, 1, "attn", type, tok, attn);
        sum_row(s, 1, "norm2", ln, tok, norm);
        snprintf(type, sizeof type, "MLP(%" PRId64 " -> %" PRId64 " -> %" PRId64 ", GELU)", C, Hm, C);
        sum_row(s, 1, "mlp", type, tok, mlp);
    }
    snprintf(type, sizeof type, "LayerNorm(%" PRId64 ")", C);
    sum_row(s, 0, "norm", type, tok, 2 * C);
    snprintf(type, sizeof type, "mean over %" PRId64 " tokens", T);
    char pooled[48];
    snprintf(pooled, sizeof pooled, "[B, %" PRId64 "]", C);
    sum_row(s, 0, "pool", type, pooled, 0);
    snprintf(type, sizeof type, "Linear(%" PRId64 ", %" PRId64 ")", C, K);
    char logits[48];
    snprintf(logits, sizeof logits, "[B, %" PRId64 "]", K);
    sum_row(s, 0, "head", type, logits, C * K + K);
    lang_format_thousands(vit->n_trainable, s->total, sizeof s->total);
    if (vit->t == 0)
        snprintf(s->footer, sizeof s->footer, "B is the batch size. Not trained yet.");
    else
        snprintf(s->footer, sizeof s->footer, "B is the batch size. Trained for %" PRId64 " steps.",
                 vit->t);
}

static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static char *model_repr(const lang_value *self)
{
    summary *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    build_summary(model_data(self), s);
    size_t w[SUM_COLS];
    for (int c = 0; c < SUM_COLS; c++) {
        w[c] = text_width(sum_header[c]);
        for (int r = 0; r < s->rows; r++) {
            size_t x = text_width(s->cell[r][c]) + (c == 0 && s->sub[r] ? 2 : 0);
            w[c] = x > w[c] ? x : w[c];
        }
    }
    if (text_width(s->total) > w[3])
        w[3] = text_width(s->total);
    lang_strbuf b = {0};
    char head[400];
    headline(self, head, sizeof head);
    lang_sb_adds(&b, head);
    lang_sb_adds(&b, "\n");
    for (int r = -2; r <= s->rows; r++) {
        for (int c = 0; c < SUM_COLS; c++) {
            const char *t = r == -2 ? sum_header[c]
                            : r == s->rows ? (c == 0 ? "Total" : c == 3 ? s->total : "")
                            : r >= 0       ? s->cell[r][c]
                                           : NULL;
            if (c)
                lang_sb_adds(&b, "  ");
            if (!t) { /* the rule under the header */
                for (size_t i = 0; i < w[c]; i++)
                    lang_sb_adds(&b, "-");
                continue;
            }
            size_t indent = c == 0 && r >= 0 && r < s->rows && s->sub[r] ? 2 : 0;
            size_t gap = w[c] - text_width(t) - indent;
            if (c == 3) {
                sb_pad(&b, gap);
                lang_sb_adds(&b, t);
            } else {
                sb_pad(&b, indent);
                lang_sb_adds(&b, t);
                sb_pad(&b, gap);
            }
        }
        lang_sb_adds(&b, "\n");
    }
    lang_sb_adds(&b, s->footer);
    free(s);
    return lang_sb_take(&b);
}

static json_t *model_mime(const lang_value *self)
{
    summary *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    build_summary(model_data(self), s);
    char head[400];
    headline(self, head, sizeof head);
    lang_strbuf b = {0};
    lang_sb_adds(&b, "<table class=\"ember-table ember-model\">"
               "<caption style=\"text-align:left;font-family:monospace;white-space:pre-wrap\">");
    lang_sb_html(&b, head);
    lang_sb_adds(&b, "</caption><thead><tr>");
    for (int c = 0; c < SUM_COLS; c++) {
        lang_sb_adds(&b, c == 3 ? "<th style=\"text-align:right\">" : "<th style=\"text-align:left\">");
        lang_sb_adds(&b, sum_header[c]);
        lang_sb_adds(&b, "</th>");
    }
    lang_sb_adds(&b, "</tr></thead><tbody>");
    for (int r = 0; r < s->rows; r++) {
        lang_sb_adds(&b, "<tr>");
        for (int c = 0; c < SUM_COLS; c++) {
            if (c == 3)
                lang_sb_adds(&b, "<td style=\"text-align:right\">");
            else if (c == 0 && s->sub[r])
                lang_sb_adds(&b, "<td style=\"text-align:left;padding-left:2em\">");
            else if (c == 2)
                lang_sb_adds(&b, "<td style=\"text-align:left;font-family:monospace\">");
            else
                lang_sb_adds(&b, "<td style=\"text-align:left\">");
            lang_sb_html(&b, s->cell[r][c]);
            lang_sb_adds(&b, "</td>");
        }
        lang_sb_adds(&b, "</tr>");
    }
    lang_sb_adds(&b, "</tbody><tfoot><tr><th style=\"text-align:left\">Total</th><td></td><td></td>"
               "<th style=\"text-align:right\">");
    lang_sb_adds(&b, s->total);
    lang_sb_adds(&b, "</th></tr><tr><td colspan=\"4\" style=\"text-align:left\">");
    lang_sb_html(&b, s->footer);
    lang_sb_adds(&b, "</td></tr></tfoot></table>");
    free(s);
    return lang_sb_html_bundle(&b);
}

/* ---- attributes ------------------------------------------------------------- */

static const char *const model_attrs[] = {
    "params", "device", "precision", "config", "steps", "image_size", "patch_size", "dim",
    "heads",  "layers", "mlp_ratio", "classes", "dropout", "channels", "seed", "init", "history",
};

static lang_value *model_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    const train_model *m = model_data(self);
    const ember_vit *vit = &m->vit;
    const ember_vit_config *c = &vit->cfg;
    if (!strcmp(name, "params"))
        return lang_int(vit->n_trainable);
    if (!strcmp(name, "device"))
        return lang_cstr(train_model_device(self));
    if (!strcmp(name, "precision"))
        return lang_cstr(precision_name(vit));
    if (!strcmp(name, "config")) {
        char buf[256];
        config_line(m, buf, sizeof buf);
        return lang_cstr(buf);
    }
    if (!strcmp(name, "steps"))
        return lang_int(vit->t);
    if (!strcmp(name, "image_size"))
        return lang_int(c->image_size);
    if (!strcmp(name, "patch_size"))
        return lang_int(c->patch);
    if (!strcmp(name, "dim"))
        return lang_int(c->dim);
    if (!strcmp(name, "heads"))
        return lang_int(c->heads);
    if (!strcmp(name, "layers"))
        return lang_int(c->depth);
    if (!strcmp(name, "mlp_ratio"))
        return m->mlp_ratio == floor(m->mlp_ratio) ? lang_int((int64_t)m->mlp_ratio)
                                                   : lang_float(m->mlp_ratio);
    if (!strcmp(name, "classes"))
        return lang_int(c->num_classes);
    if (!strcmp(name, "dropout"))
        return lang_float(m->dropout);
    if (!strcmp(name, "channels"))
        return lang_int(c->in_chans);
    if (!strcmp(name, "seed"))
        return lang_int((int64_t)vit->seed);
    if (!strcmp(name, "init"))
        return m->init ? lang_cstr(m->init) : lang_none();
    if (!strcmp(name, "history"))
        return train_run_value(cx, m->state.history.epochs, m->state.history.n,
                               "every epoch this model has trained");
    return NULL;
}

static void model_attr_names(const lang_value *self, void (*add)(void *acc, const char *name),
                             void *acc)
{
    (void)self;
    for (size_t i = 0; i < sizeof model_attrs / sizeof *model_attrs; i++)
        add(acc, model_attrs[i]);
}

/* ---- saving ------------------------------------------------------------------ */

/* The configuration as string metadata: the shapes give every size but the
 * number of heads, and nothing gives the dropout, the LayerNorm eps or the
 * initialisation the weights started from. */
static char *model_metadata(const train_model *m)
{
    const ember_vit *vit = &m->vit;
    const ember_vit_config *c = &vit->cfg;
    char drop[32], ratio[32], eps[32];
    lang_format_float(m->dropout, drop, sizeof drop);
    ratio_text(m->mlp_ratio, ratio, sizeof ratio);
    lang_format_float((double)c->ln_eps, eps, sizeof eps);
    json_t *meta = json_object();
    if (!meta)
        return NULL;
    char num[32];
#define META_INT(k, v)                                                                             \
    do {                                                                                           \
        snprintf(num, sizeof num, "%lld", (long long)(v));                                         \
        json_object_set_new(meta, k, json_string(num));                                            \
    } while (0)
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(meta, "ember.model", json_string("vit"));
    META_INT("ember.image_size", c->image_size);
    META_INT("ember.patch_size", c->patch);
    META_INT("ember.channels", c->in_chans);
    META_INT("ember.dim", c->dim);
    META_INT("ember.heads", c->heads);
    META_INT("ember.layers", c->depth);
    META_INT("ember.mlp_hidden", c->mlp_hidden);
    META_INT("ember.classes", c->num_classes);
    META_INT("ember.seed", vit->seed);
    META_INT("ember.steps", vit->t);
#undef META_INT
    json_object_set_new(meta, "ember.mlp_ratio", json_string(ratio));
    json_object_set_new(meta, "ember.dropout", json_string(drop));
    json_object_set_new(meta, "ember.ln_eps", json_string(eps));
    if (m->init)
        json_object_set_new(meta, "ember.init", json_string(m->init));
    char *text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    return text;
}

char *train_model_metadata(const lang_value *v)
{
    const train_model *m = model_data(v);
    return m ? model_metadata(m) : NULL;
}

/* The checkpoint extension: save(model, 'run.ckpt') writes the whole
 * training state, as fit(..., checkpoint='run.ckpt') does. */
static int is_ckpt_path(const char *path)
{
    char ext[16];
    viz_save_ext(path, ext, sizeof ext);
    return !strcmp(ext, ".ckpt");
}

/* save(model, 'x.ckpt'): the training checkpoint of train/checkpoint.h,
 * with what the model remembers of its run (settings, position, history). */
static lang_value *save_checkpoint(lang_ctx *cx, const char *fname, const train_model *m,
                                   const char *path)
{
    const train_model_state *st = &m->state;
    char *meta = model_metadata(m);
    if (!meta)
        return lang_raise(cx, "MemoryError", "%s: out of memory", fname);
    ember_ckpt_info in = {.epochs_done = st->epochs_done,
                          .pos = st->pos,
                          .config = st->has_config ? &st->config : NULL,
                          .normalize = st->has_normalize ? &st->normalize : NULL,
                          .history = st->history.epochs,
                          .n_history = st->history.n,
                          .model_meta = meta};
    ember_ferr err;
    int rc = ember_ckpt_save(path, &m->vit, &in, &err);
    free(meta);
    return rc == 0 ? lang_none() : viz_save_error(cx, fname, &err);
}

/* The weights under their PyTorch names (what ember_vit_save_safetensors
 * writes) plus the configuration in __metadata__; a .ckpt path gets the
 * whole training state instead. */
static lang_value *save_model(lang_ctx *cx, const char *fname, const train_model *m,
                              const char *path)
{
    const ember_vit *vit = &m->vit;
    const ember_backend *be = vit->be;
    if (!*path)
        return lang_raise(cx, "ValueError", "%s: path is empty; give a file name such as "
                                            "'model.safetensors'", fname);
    /* The folder is named plainly when it is missing (the writer's message
     * would say the same in more words). */
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char dir[4096];
        struct stat st;
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return lang_raise(cx, "FileNotFoundError",
                              "%s: cannot write '%s': the folder '%s' does not exist", fname, path,
                              dir);
    }
    if (is_ckpt_path(path))
        return save_checkpoint(cx, fname, m, path);
    ember_err err = {{0}};
    float *host = malloc((size_t)vit->n_elems * sizeof(float));
    ember_tensor *views = calloc((size_t)vit->n_params, sizeof *views);
    ember_st_item *items = calloc((size_t)vit->n_params, sizeof *items);
    char *meta = model_metadata(m);
    int rc = 0, oom = !host || !views || !items || !meta;
    if (oom)
        rc = ember_err_set(&err, "out of memory");
    if (!rc && (be->copy_d2h(be, host, vit->w.data, (size_t)vit->n_elems * sizeof(float), &err) ||
                be->sync(be, &err)))
        rc = -1;
    for (int i = 0; i < vit->n_params && !rc; i++) {
        const ember_vit_param *p = &vit->params[i];
        rc = ember_tensor_view(&views[i], host + p->offset, EMBER_F32, EMBER_DEV_CPU, p->ndim,
                               p->shape, &err);
        items[i].name = p->name;
        items[i].t = &views[i];
    }
    int write_failed = 0;
    ember_ferr ferr;
    if (!rc) {
        rc = ember_st_save(path, items, (size_t)vit->n_params, meta, &ferr);
        write_failed = rc != 0;
    }
    free(host);
    free(views);
    free(items);
    free(meta);
    if (oom)
        return lang_raise(cx, "MemoryError", "%s: out of memory copying the weights to save them",
                          fname);
    if (write_failed)
        return viz_save_error(cx, fname, &ferr); /* names the path, says what to do */
    if (rc)
        return lang_raise(cx, "RuntimeError", "%s: copying the weights off the %s failed: %s",
                          fname, be->device == EMBER_DEV_CUDA ? "GPU" : "CPU", err.msg);
    return lang_none();
}

static lang_value *m_save(lang_ctx *cx, const lang_args *a)
{
    const char *path;
    if (lang_arg_str(cx, a, 0, &path) < 0)
        return NULL;
    return save_model(cx, "model.save", model_data(a->self), path);
}

static void shape_text(const ember_vit_param *p, char *buf, size_t len)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int d = 0; d < p->ndim && o < len; d++)
        o += (size_t)snprintf(buf + o, len - o, "%s%" PRId64, d ? ", " : "", p->shape[d]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
}

static lang_value *m_parameters(lang_ctx *cx, const lang_args *a)
{
    const ember_vit *vit = &model_data(a->self)->vit;
    lang_value *list = lang_list_new((size_t)vit->n_params);
    if (!list)
        return lang_raise(cx, "MemoryError", "model.parameters: out of memory");
    for (int i = 0; i < vit->n_params; i++) {
        const ember_vit_param *p = &vit->params[i];
        char shape[96];
        shape_text(p, shape, sizeof shape);
        lang_value *row = lang_list_new(3);
        if (!row) {
            /* fill the rest so the list can be released */
            for (int j = i; j < vit->n_params; j++)
                lang_list_set(list, (size_t)j, lang_none());
            lang_decref(list);
            return lang_raise(cx, "MemoryError", "model.parameters: out of memory");
        }
        lang_list_set(row, 0, lang_cstr(p->name));
        lang_list_set(row, 1, lang_cstr(shape));
        lang_list_set(row, 2, lang_int(p->numel));
        lang_list_set(list, (size_t)i, row);
    }
    return list;
}

static const lang_builtin model_methods[] = {
    {"save(path)",
     "Write the weights to a safetensors file at path, under PyTorch's parameter names "
     "(patch_embed.weight, blocks.0.attn.qkv.weight, ..., head.bias), with the configuration in "
     "the file's metadata so load_model(path) rebuilds the same model; a path ending in .ckpt "
     "gets the whole training state (see save).",
     m_save},
    {"parameters()",
     "The parameters as a list of [name, shape, count] rows, in module order (PyTorch's "
     "named_parameters() lists pos_embed first); table(model.parameters(), header=['name', "
     "'shape', 'count']) shows them.",
     m_parameters},
};

const lang_type train_model_type = {
    .name = "model",
    .doc = "model: a Vision Transformer, made by vit() or load_model(). It shows a summary of its "
           "layers, output shapes and parameter counts. fit() trains it in place (the one value "
           "that changes). Attributes: params, device ('cpu' or 'cuda'), precision ('fp32' or "
           "'bf16'), config, steps (optimizer steps taken), and its sizes image_size, "
           "patch_size, dim, heads, layers, mlp_ratio, classes, dropout, channels, seed. "
           "Methods: save(path), parameters().",
    .free = model_free,
    .repr = model_repr,
    .mime = model_mime,
    .getattr = model_getattr,
    .attr_names = model_attr_names,
    .methods = model_methods,
    .nmethods = sizeof model_methods / sizeof *model_methods,
};

/* ---- building ------------------------------------------------------------------ */

enum { DEV_AUTO, DEV_CPU, DEV_CUDA };
enum { PREC_AUTO, PREC_FP32, PREC_BF16 };

static int device_arg(lang_ctx *cx, const lang_args *a, size_t i, int *out)
{
    const char *s;
    if (lang_arg_str(cx, a, i, &s) < 0)
        return -1;
    if (!strcmp(s, "auto"))
        *out = DEV_AUTO;
    else if (!strcmp(s, "cpu"))
        *out = DEV_CPU;
    else if (!strcmp(s, "cuda") || !strcmp(s, "gpu"))
        *out = DEV_CUDA;
    else {
        lang_arg_error(cx, a, i, "ValueError", "'auto', 'cpu' or 'cuda'");
        return -1;
    }
    return 0;
}

static int precision_arg(lang_ctx *cx, const lang_args *a, size_t i, int *out)
{
    const char *s;
    if (lang_arg_str(cx, a, i, &s) < 0)
        return -1;
    if (!strcmp(s, "auto"))
        *out = PREC_AUTO;
    else if (!strcmp(s, "fp32") || !strcmp(s, "float32"))
        *out = PREC_FP32;
    else if (!strcmp(s, "bf16") || !strcmp(s, "bfloat16"))
        *out = PREC_BF16;
    else {
        lang_arg_error(cx, a, i, "ValueError", "'auto', 'fp32' or 'bf16'");
        return -1;
    }
    return 0;
}

static int init_arg(lang_ctx *cx, const lang_args *a, size_t i, ember_vit_init *out)
{
    const char *s;
    if (lang_arg_str(cx, a, i, &s) < 0)
        return -1;
    if (ember_vit_init_parse(s, out) < 0) {
        lang_arg_error(cx, a, i, "ValueError", "'torch' or 'timm'");
        return -1;
    }
    return 0;
}

/* An integer argument in [lo, hi] (booleans and floats refused). The
 * message's wording is made from lo and hi, so it always states the limit
 * the check enforces. none_ok: the caller has let none through already and
 * the message says it is allowed. */
static int int_arg(lang_ctx *cx, const lang_args *a, size_t i, int64_t lo, int64_t hi, int none_ok,
                   int64_t *out)
{
    char expected[96];
    const char *none = none_ok ? "none or " : "";
    if (hi == INT64_MAX && (lo == 0 || lo == 1))
        snprintf(expected, sizeof expected, "%s%s", none,
                 lo ? "a positive integer" : "a non-negative integer");
    else if (lo == 1)
        snprintf(expected, sizeof expected, "%sa positive integer (at most %" PRId64 ")", none, hi);
    else
        snprintf(expected, sizeof expected, "%san integer from %" PRId64 " to %" PRId64, none, lo, hi);
    const lang_value *v = a->v[i];
    if (v->kind != LANG_INT) {
        lang_arg_error(cx, a, i, "TypeError", expected);
        return -1;
    }
    if (v->as.i < lo || v->as.i > hi) {
        lang_arg_error(cx, a, i, "ValueError", expected);
        return -1;
    }
    *out = v->as.i;
    return 0;
}

/* The reason in ember_backend_cuda's message, without its frame. */
static const char *cuda_reason(const char *msg, char *buf, size_t len)
{
    static const char pre[] = "CUDA backend not available: ", post[] = "; using the CPU";
    if (!strncmp(msg, pre, sizeof pre - 1))
        msg += sizeof pre - 1;
    snprintf(buf, len, "%s", msg);
    size_t n = strlen(buf), k = sizeof post - 1;
    if (n >= k && !strcmp(buf + n - k, post))
        buf[n - k] = 0;
    return buf;
}

/* Whether this kernel process (one kernel session: a restart is a new
 * process) has said that models fall back to the CPU. The fact does not
 * change between calls (the backend loader tries once), so saying it with
 * every model is noise; the loader's reason is for whoever asks for the GPU
 * by name. */
static int cpu_fallback_said;

static int pick_backend(lang_ctx *cx, const char *fname, int dev, const ember_backend **be)
{
    if (dev == DEV_CPU) {
        *be = ember_backend_cpu();
        return 0;
    }
    ember_err err = {{0}};
    char why[512];
    if (ember_backend_cuda(be, &err) == 0)
        return 0;
    cuda_reason(err.msg, why, sizeof why);
    if (dev == DEV_CUDA) {
        lang_raise(cx, "RuntimeError",
                   "%s: device='cuda' but no GPU is usable (%s); use device='cpu' or 'auto'", fname,
                   why);
        return -1;
    }
    if (!cpu_fallback_said) {
        cpu_fallback_said = 1;
        static const char note[] = "No usable GPU was found, so models are on the CPU (said once "
                                   "per session; device='cuda' tells why).\n";
        lang_write(cx, "stderr", note, sizeof note - 1);
    }
    *be = ember_backend_cpu();
    return 0;
}

/* Host memory the model's state needs (weights, gradients, AdamW m and v,
 * the bf16 copy), checked before allocating so a too-large model is a
 * MemoryError and not the kernel killed by the system. */
static int check_host_memory(lang_ctx *cx, const char *fname, const ember_vit_config *cfg)
{
    double bytes = (double)ember_vit_param_count(cfg) * 4.0 * 5.0; /* + an init copy */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0)
        return 0;
    double have = (double)pages * (double)page;
    if (bytes > 0.8 * have) {
        lang_raise(cx, "MemoryError",
                   "%s: a model of %" PRId64 " parameters needs about %.1f GiB for its weights, "
                   "gradients and optimizer state, more than this machine's %.1f GiB; make it "
                   "smaller (dim, layers, mlp_ratio)",
                   fname, ember_vit_param_count(cfg), bytes / (1u << 30), have / (1u << 30));
        return -1;
    }
    return 0;
}

/* A new model value (randomly initialised from seed with cfg.init), or
 * NULL raised. init_known: whether cfg.init is what the model's weights
 * come from (a loaded model's are the file's, whatever initialised it). */
static lang_value *build_model(lang_ctx *cx, const char *fname, ember_vit_config cfg,
                               int init_known, double dropout, double mlp_ratio, uint64_t seed,
                               int dev, int prec)
{
    ember_err err = {{0}};
    if (ember_vit_config_check(&cfg, &err) != 0)
        return lang_raise(cx, "ValueError", "%s: %s", fname, err.msg);
    /* bf16 on the CPU is refused before looking for a GPU only when the user
     * asked for both; with 'auto' the device decides. */
    if (dev == DEV_CPU && prec == PREC_BF16)
        return lang_raise(cx, "ValueError",
                          "%s: precision='bf16' (mixed precision) needs a GPU; use "
                          "precision='fp32' (or 'auto') on the CPU",
                          fname);
    const ember_backend *be;
    if (pick_backend(cx, fname, dev, &be) < 0)
        return NULL;
    int on_gpu = be->device == EMBER_DEV_CUDA;
    if (prec == PREC_BF16 && !on_gpu)
        return lang_raise(cx, "ValueError",
                          "%s: precision='bf16' (mixed precision) needs a GPU and the model is on "
                          "the CPU; use precision='fp32' (or 'auto') there",
                          fname);
    cfg.compute_dtype = prec == PREC_BF16 || (prec == PREC_AUTO && on_gpu) ? EMBER_BF16 : EMBER_F32;
    if (!on_gpu && check_host_memory(cx, fname, &cfg) < 0)
        return NULL;
    train_model *m = calloc(1, sizeof *m);
    if (!m)
        return lang_raise(cx, "MemoryError", "%s: out of memory", fname);
    m->dropout = dropout;
    m->mlp_ratio = mlp_ratio;
    m->init = init_known ? ember_vit_init_name(cfg.init) : NULL;
    if (ember_vit_create(&m->vit, &cfg, be, seed, &err) != 0) {
        free(m);
        int oom = strstr(err.msg, "out of memory") || strstr(err.msg, "out of host memory") ||
                  strstr(err.msg, "out of device memory");
        return lang_raise(cx, oom ? "MemoryError" : "RuntimeError", "%s: %s%s", fname, err.msg,
                          oom ? " (make the model smaller: dim, layers, mlp_ratio)" : "");
    }
    lang_value *v = lang_object(&train_model_type, m);
    return v ? v : lang_raise(cx, "MemoryError", "%s: out of memory", fname);
}

static lang_value *b_vit(lang_ctx *cx, const lang_args *a)
{
    int64_t image, patch, classes, dim, heads, layers, channels, seed;
    double ratio, dropout;
    int dev, prec;
    /* the engine's limits (nn/vit.h), checked here to name the argument */
    if (int_arg(cx, a, 0, 1, EMBER_VIT_MAX_IMAGE, 0, &image) < 0 ||
        int_arg(cx, a, 1, 1, EMBER_VIT_MAX_IMAGE, 0, &patch) < 0 ||
        int_arg(cx, a, 2, 1, EMBER_VIT_MAX_CLASSES, 0, &classes) < 0 ||
        int_arg(cx, a, 3, 1, EMBER_VIT_MAX_DIM, 0, &dim) < 0 ||
        int_arg(cx, a, 4, 1, EMBER_VIT_MAX_DIM, 0, &heads) < 0 ||
        int_arg(cx, a, 5, 1, EMBER_VIT_MAX_DEPTH, 0, &layers) < 0)
        return NULL;
    if (lang_arg_number(cx, a, 6, &ratio) < 0)
        return NULL;
    if (!(ratio > 0) || !isfinite(ratio))
        return lang_arg_error(cx, a, 6, "ValueError", "a positive number");
    if (lang_arg_number(cx, a, 7, &dropout) < 0)
        return NULL;
    if (!(dropout >= 0 && dropout < 1))
        return lang_arg_error(cx, a, 7, "ValueError", "a number in [0, 1)");
    ember_vit_init init;
    if (int_arg(cx, a, 8, 1, EMBER_VIT_MAX_CHANS, 0, &channels) < 0 ||
        int_arg(cx, a, 9, 0, INT64_MAX, 0, &seed) < 0 || init_arg(cx, a, 10, &init) < 0 ||
        device_arg(cx, a, 11, &dev) < 0 || precision_arg(cx, a, 12, &prec) < 0)
        return NULL;
    if (image % patch)
        return lang_raise(cx, "ValueError",
                          "vit: patch_size %" PRId64 " does not divide image_size %" PRId64
                          " (the image is cut into whole patches)",
                          patch, image);
    if (dim % heads)
        return lang_raise(cx, "ValueError",
                          "vit: dim %" PRId64 " is not divisible by heads %" PRId64
                          " (each head takes dim / heads channels)",
                          dim, heads);
    /* timm's int(dim * mlp_ratio) */
    double units = (double)dim * ratio;
    if (units > (double)EMBER_VIT_MAX_MLP)
        return lang_raise(cx, "ValueError",
                          "vit: mlp_ratio %g gives an MLP of %.0f units for dim %" PRId64
                          "; at most %d",
                          ratio, units, dim, EMBER_VIT_MAX_MLP);
    int64_t hidden = (int64_t)units;
    if (hidden < 1)
        return lang_raise(cx, "ValueError",
                          "vit: mlp_ratio %g gives an MLP of %" PRId64 " units for dim %" PRId64
                          "; make it larger",
                          ratio, hidden, dim);
    ember_vit_config cfg = ember_vit_default_config();
    cfg.image_size = (int)image;
    cfg.patch = (int)patch;
    cfg.in_chans = (int)channels;
    cfg.dim = (int)dim;
    cfg.depth = (int)layers;
    cfg.heads = (int)heads;
    cfg.mlp_hidden = (int)hidden;
    cfg.num_classes = (int)classes;
    cfg.dropout = (float)dropout;
    cfg.init = init;
    return build_model(cx, "vit", cfg, 1, dropout, ratio, (uint64_t)seed, dev, prec);
}

/* ---- save / load ------------------------------------------------------------------ */

/* save(x, path) for a model; other values with a save(path) method (images,
 * plots) are saved by it, so one spelling works for everything. */
static lang_value *b_save(lang_ctx *cx, const lang_args *a)
{
    const char *path;
    if (lang_arg_str(cx, a, 1, &path) < 0)
        return NULL;
    const train_model *m = model_data(a->v[0]);
    if (m)
        return save_model(cx, "save", m, path);
    const lang_value *x = a->v[0];
    if (x->kind == LANG_OBJECT) {
        const lang_type *t = x->as.obj.type;
        for (size_t i = 0; i < t->nmethods; i++) {
            /* only the one-argument form: the call below passes just path */
            if (strcmp(t->methods[i].signature, "save(path)"))
                continue;
            char fname[64];
            snprintf(fname, sizeof fname, "%s.save", t->name);
            const char *names[1] = {"path"};
            lang_value *const argv[1] = {a->v[1]};
            lang_args ma = {.fname = fname, .names = names, .self = (lang_value *)x,
                            .v = argv, .n = 1};
            return t->methods[i].fn(cx, &ma);
        }
    }
    return lang_arg_error(cx, a, 0, "TypeError",
                          "a model (from vit() or load_model()) or a value with a save method");
}

static const char *const block_parts[] = {
    "norm1.weight",     "norm1.bias",       "attn.qkv.weight", "attn.qkv.bias",
    "attn.proj.weight", "attn.proj.bias",   "norm2.weight",    "norm2.bias",
    "mlp.fc1.weight",   "mlp.fc1.bias",     "mlp.fc2.weight",  "mlp.fc2.bias",
};
static const char *const top_parts[] = {"patch_embed.weight", "patch_embed.bias", "pos_embed",
                                        "norm.weight",        "norm.bias",        "head.weight",
                                        "head.bias"};

static const ember_st_entry *find_pre(const ember_st_file *f, const char *prefix, const char *name)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return ember_st_find(f, full);
}

enum { NAMES_SHOWN = 6 };

/* Appends "'name'" to a list of at most a few names; counts the rest. */
static void note_name(char *list, size_t len, int *count, const char *name)
{
    if (*count < NAMES_SHOWN) {
        size_t o = strlen(list);
        snprintf(list + o, len - o, "%s'%s'", *count ? ", " : "", name);
    }
    (*count)++;
}

/* " and 3 more" past the names shown. */
static const char *more_text(int count, char *buf, size_t len)
{
    buf[0] = 0;
    if (count > NAMES_SHOWN)
        snprintf(buf, len, " and %d more", count - NAMES_SHOWN);
    return buf;
}

static const char *meta_get(json_t *meta, const char *key)
{
    json_t *v = meta ? json_object_get(meta, key) : NULL;
    return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static int meta_int(json_t *meta, const char *key, int64_t *out)
{
    const char *s = meta_get(meta, key);
    if (!s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return 0;
    *out = v;
    return 1;
}

static int meta_double(json_t *meta, const char *key, double *out)
{
    const char *s = meta_get(meta, key);
    if (!s)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* The dropout of a loaded model whose file does not record one and no
 * dropout= was given: the recipe's and the reference PyTorch model's. It
 * only matters for further training. */
#define LOAD_DEFAULT_DROPOUT 0.1

/* "1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48 or 96": the head counts a width
 * allows (shortened with "..." past what fits). */
static void divisor_list(int64_t n, char *buf, size_t len)
{
    size_t o = 0;
    int count = 0;
    buf[0] = 0;
    for (int64_t d = 1; d <= n; d++) {
        if (n % d)
            continue;
        char item[40];
        snprintf(item, sizeof item, "%s%" PRId64, !count ? "" : d == n ? " or " : ", ", d);
        size_t k = strlen(item);
        if (o + k + 8 >= len) {
            snprintf(buf + o, len - o, ", ... or %" PRId64, n);
            return;
        }
        memcpy(buf + o, item, k + 1);
        o += k;
        count++;
    }
}

/* Sizes from the tensor shapes; raises and returns -1 when they do not make
 * a ViT. */
static int infer_config(lang_ctx *cx, const char *path, const ember_st_file *f, const char *pre,
                        ember_vit_config *cfg)
{
    const ember_st_entry *pe = find_pre(f, pre, "patch_embed.weight");
    const ember_st_entry *pos = find_pre(f, pre, "pos_embed");
    const ember_st_entry *head = find_pre(f, pre, "head.weight");
    if (pe->ndim != 4 || pe->shape[2] != pe->shape[3] || pe->shape[2] < 1 || pe->shape[0] < 1 ||
        pe->shape[1] < 1) {
        lang_raise(cx, "ValueError",
                   "load_model: '%s' does not hold a ViT: %spatch_embed.weight should be "
                   "[dim, channels, patch, patch]",
                   path, pre);
        return -1;
    }
    int64_t C = pe->shape[0], p = pe->shape[2];
    int64_t T = pos && pos->ndim == 3 && pos->shape[0] == 1 && pos->shape[2] == C ? pos->shape[1] : -1;
    int64_t G = T > 0 ? (int64_t)llround(sqrt((double)T)) : -1;
    if (T < 1 || G * G != T) {
        lang_raise(cx, "ValueError",
                   "load_model: '%s' does not hold a ViT: %spos_embed should be [1, tokens, %" PRId64
                   "] with a square number of tokens",
                   path, pre, C);
        return -1;
    }
    if (head->ndim != 2 || head->shape[1] != C) {
        lang_raise(cx, "ValueError",
                   "load_model: '%s' does not hold a ViT: %shead.weight should be [classes, %" PRId64 "]",
                   path, pre, C);
        return -1;
    }
    /* The depth is one past the highest block number present, so a block
     * missing in the middle is reported as missing, not as the end. */
    int depth = 0;
    size_t lp = strlen(pre);
    for (size_t i = 0; i < f->count; i++) {
        const char *n = f->entries[i].name;
        if (strncmp(n, pre, lp) || strncmp(n + lp, "blocks.", 7))
            continue;
        char *end;
        errno = 0;
        long b = strtol(n + lp + 7, &end, 10);
        if (errno || end == n + lp + 7 || *end != '.' || b < 0 || b >= 1024)
            continue;
        if (b + 1 > depth)
            depth = (int)b + 1;
    }
    int64_t hidden = 4 * C;
    if (depth > 0) {
        const ember_st_entry *fc1 = find_pre(f, pre, "blocks.0.mlp.fc1.weight");
        if (fc1 && fc1->ndim == 2)
            hidden = fc1->shape[0];
    }
    if (C > 65536 || p * G > 4096 || hidden > (1 << 20) || head->shape[0] > (1 << 20) ||
        pe->shape[1] > 64) {
        lang_raise(cx, "ValueError", "load_model: '%s' holds a ViT too large to load", path);
        return -1;
    }
    cfg->dim = (int)C;
    cfg->patch = (int)p;
    cfg->in_chans = (int)pe->shape[1];
    cfg->image_size = (int)(p * G);
    cfg->num_classes = (int)head->shape[0];
    cfg->depth = depth;
    cfg->mlp_hidden = (int)hidden;
    return 0;
}

/* The sizes a checkpoint's metadata records that differ from the model's
 * ("dim 64 (checkpoint) vs 32 (this model), ..."); 0 when none (or the
 * file records none: the tensor shapes are checked when they are read). */
static int ckpt_model_diff(const train_model *m, json_t *meta, char *buf, size_t len)
{
    const ember_vit_config *c = &m->vit.cfg;
    const struct {
        const char *key, *name;
        int64_t have;
    } sizes[] = {
        {"ember.image_size", "image_size", c->image_size}, {"ember.patch_size", "patch_size", c->patch},
        {"ember.channels", "channels", c->in_chans},       {"ember.dim", "dim", c->dim},
        {"ember.heads", "heads", c->heads},                {"ember.layers", "layers", c->depth},
        {"ember.mlp_hidden", "MLP units", c->mlp_hidden},  {"ember.classes", "classes", c->num_classes},
    };
    int n = 0;
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        int64_t v;
        if (!meta_int(meta, sizes[i].key, &v) || v == sizes[i].have)
            continue;
        if (o < len)
            o += (size_t)snprintf(buf + o, len - o, "%s%s %" PRId64 " (checkpoint) vs %" PRId64 " (this model)",
                                  n ? ", " : "", sizes[i].name, v, sizes[i].have);
        n++;
    }
    double d;
    if (meta_double(meta, "ember.dropout", &d) && (float)d != c->dropout) {
        char a[32], b[32];
        lang_format_float(d, a, sizeof a);
        lang_format_float(m->dropout, b, sizeof b);
        if (o < len)
            o += (size_t)snprintf(buf + o, len - o, "%sdropout %s (checkpoint) vs %s (this model)", n ? ", " : "",
                                  a, b);
        n++;
    }
    return n;
}

int train_model_check_checkpoint(lang_ctx *cx, const char *fname, const lang_value *model,
                                 const ember_ckpt *ck, const char *path)
{
    const train_model *m = model_data(model);
    char diff[600];
    if (m && ckpt_model_diff(m, ck->meta, diff, sizeof diff)) {
        lang_raise(cx, "ValueError",
                   "%s: '%s' is a checkpoint of another model: %s; build the model it was written from "
                   "(load_model('%s') does)",
                   fname, path, diff, path);
        return -1;
    }
    return 0;
}

int train_model_apply_checkpoint(lang_ctx *cx, const char *fname, lang_value *model, const ember_ckpt *ck,
                                 const char *path)
{
    train_model *m = model_data(model);
    if (!m || !ck->training) {
        lang_raise(cx, "ValueError", "%s: '%s' holds no training state", fname, path);
        return -1;
    }
    if (train_model_check_checkpoint(cx, fname, model, ck, path) < 0)
        return -1;
    ember_err err = {{0}};
    ember_vit_state s;
    if (ember_ckpt_read_state(ck, &m->vit, &s, &err)) {
        lang_raise(cx, "ValueError", "%s: '%s': %s", fname, path, err.msg);
        return -1;
    }
    /* Everything is read before anything of the model changes. */
    ember_fit_history h = {0};
    if (ck->history.n > 0) {
        h.epochs = malloc((size_t)ck->history.n * sizeof *h.epochs);
        if (!h.epochs) {
            ember_vit_state_free(&s);
            lang_raise(cx, "MemoryError", "%s: out of memory", fname);
            return -1;
        }
        memcpy(h.epochs, ck->history.epochs, (size_t)ck->history.n * sizeof *h.epochs);
        h.n = h.cap = ck->history.n;
    }
    int rc = ember_vit_state_set(&m->vit, &s, &err);
    ember_vit_state_free(&s);
    if (rc) {
        ember_fit_history_free(&h);
        lang_raise(cx, "RuntimeError", "%s: %s", fname, err.msg);
        return -1;
    }
    train_model_state *st = &m->state;
    st->epochs_done = ck->epochs_done;
    ember_fit_history_free(&st->history);
    st->history = h;
    st->has_normalize = ck->has_normalize;
    st->normalize = ck->normalize;
    st->has_config = ck->has_config;
    st->config = ck->config;
    st->pos = ck->pos;
    st->resume_pending = 1;
    snprintf(st->resumed_from, sizeof st->resumed_from, "%s", path);
    return 0;
}

static lang_value *b_load_model(lang_ctx *cx, const lang_args *a)
{
    const char *path;
    int dev, prec;
    int64_t heads_arg = 0;
    double drop_arg = -1;
    if (lang_arg_str(cx, a, 0, &path) < 0)
        return NULL;
    if (a->v[1]->kind != LANG_NONE &&
        int_arg(cx, a, 1, 1, EMBER_VIT_MAX_DIM, 1, &heads_arg) < 0)
        return NULL;
    if (a->v[2]->kind != LANG_NONE) {
        if (lang_arg_number(cx, a, 2, &drop_arg) < 0)
            return NULL;
        if (!(drop_arg >= 0 && drop_arg < 1))
            return lang_arg_error(cx, a, 2, "ValueError", "none or a number in [0, 1)");
    }
    if (device_arg(cx, a, 3, &dev) < 0 || precision_arg(cx, a, 4, &prec) < 0)
        return NULL;

    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        if (e == ENOENT)
            return lang_raise(cx, "FileNotFoundError", "load_model: no file '%s'%s", path,
                              path[0] != '/' ? " (relative paths start in the kernel's working "
                                               "directory, the notebook's folder)"
                                             : "");
        return lang_raise(cx, "OSError", "load_model: cannot read '%s': %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode))
        return lang_raise(cx, "IsADirectoryError",
                          "load_model: '%s' is a folder; give the .safetensors file in it", path);

    /* safetensors or a torch.save checkpoint (.pt, .pth, .bin, nested
     * {'model': ...} ones too), sniffed from its bytes; a training
     * checkpoint's state is read and checked here as well. */
    ember_ckpt ck;
    ember_err err = {{0}};
    if (ember_ckpt_open(&ck, path, &err) != 0) {
        ember_ckpt_close(&ck);
        /* the message names the path once */
        return lang_raise(cx, "ValueError", "load_model: %s", err.msg);
    }
    const ember_st_file *fp = &ck.file;
    lang_value *result = NULL;
    json_t *meta = NULL;
    const char *pre = ck.prefix;
    /* Every tensor the ViT needs; the depth comes from the blocks present. */
    char missing[512] = "";
    int nmissing = 0;
    for (size_t i = 0; i < sizeof top_parts / sizeof *top_parts; i++)
        if (!find_pre(fp, pre, top_parts[i]))
            note_name(missing, sizeof missing, &nmissing, top_parts[i]);
    if (nmissing) {
        char some[512] = "", more[32], more2[32];
        int nsome = 0;
        for (size_t i = 0; i < fp->count; i++)
            note_name(some, sizeof some, &nsome, fp->entries[i].name);
        more_text(nmissing, more, sizeof more);
        more_text(nsome, more2, sizeof more2);
        if (fp->count == 0)
            result = lang_raise(cx, "ValueError",
                                "load_model: '%s' does not hold a ViT: it has no tensors at all", path);
        else
            result = lang_raise(cx, "ValueError",
                                "load_model: '%s' does not hold a ViT: missing %s%s (it has %zu "
                                "tensor%s: %s%s)",
                                path, missing, more, fp->count, fp->count == 1 ? "" : "s", some, more2);
        goto done;
    }
    ember_vit_config cfg = ember_vit_default_config();
    if (infer_config(cx, path, fp, pre, &cfg) < 0)
        goto done;
    for (int l = 0; l < cfg.depth; l++)
        for (size_t i = 0; i < sizeof block_parts / sizeof *block_parts; i++) {
            char nm[96];
            snprintf(nm, sizeof nm, "blocks.%d.%s", l, block_parts[i]);
            if (!find_pre(fp, pre, nm))
                note_name(missing, sizeof missing, &nmissing, nm);
        }
    if (nmissing) {
        char more[32];
        result = lang_raise(cx, "ValueError",
                            "load_model: '%s' is not a complete ViT of %d block%s: missing %s%s",
                            path, cfg.depth, cfg.depth == 1 ? "" : "s", missing,
                            more_text(nmissing, more, sizeof more));
        goto done;
    }

    /* What the shapes cannot tell comes from the metadata save() writes. */
    if (fp->metadata_json)
        meta = json_loads(fp->metadata_json, 0, NULL);
    const char *model_kind = meta_get(meta, "ember.model");
    int ours = model_kind && !strcmp(model_kind, "vit");
    /* No guess for the heads: every divisor of the width gives a model that
     * loads and runs, and only the right one computes what was trained. */
    int64_t heads = 0, seed = 0;
    double dropout = LOAD_DEFAULT_DROPOUT, ratio = (double)cfg.mlp_hidden / cfg.dim, eps = 1e-5;
    int have_heads = ours && meta_int(meta, "ember.heads", &heads);
    int init_known = 0;
    if (ours) {
        meta_double(meta, "ember.dropout", &dropout);
        meta_double(meta, "ember.mlp_ratio", &ratio);
        meta_double(meta, "ember.ln_eps", &eps);
        meta_int(meta, "ember.seed", &seed);
        init_known = ember_vit_init_parse(meta_get(meta, "ember.init"), &cfg.init) == 0;
    }
    char divisors[256];
    divisor_list(cfg.dim, divisors, sizeof divisors);
    if (heads_arg) {
        if (have_heads && heads_arg != heads) {
            result = lang_raise(cx, "ValueError",
                                "load_model: '%s' was saved with heads=%" PRId64 ", not %" PRId64
                                "; leave heads out",
                                path, heads, heads_arg);
            goto done;
        }
        if (cfg.dim % heads_arg) {
            result = lang_raise(cx, "ValueError",
                                "load_model: heads=%" PRId64 " does not divide the width %d of the "
                                "model in '%s'; heads must be one of %s",
                                heads_arg, cfg.dim, path, divisors);
            goto done;
        }
        heads = heads_arg;
    } else if (!have_heads) {
        result = lang_raise(cx, "ValueError",
                            "load_model: '%s' does not record the number of attention heads (%s); "
                            "pass heads=, the number the model was trained with: the width is %d, "
                            "so one of %s",
                            path,
                            ours          ? "its Ember metadata has no valid ember.heads"
                            : fp->owned   ? "it has no Ember metadata, as a PyTorch checkpoint "
                                            "saved with torch.save"
                                          : "it has no Ember metadata, as a PyTorch state_dict saved "
                                            "with safetensors",
                            cfg.dim, divisors);
        goto done;
    } else if (heads < 1 || cfg.dim % heads) {
        result = lang_raise(cx, "ValueError",
                            "load_model: '%s' records heads=%" PRId64 ", which does not divide its "
                            "width %d; pass heads=, one of %s",
                            path, heads, cfg.dim, divisors);
        goto done;
    }
    if (drop_arg >= 0)
        dropout = drop_arg;
    if (seed < 0)
        seed = 0;
    cfg.heads = (int)heads;
    cfg.dropout = (float)dropout;
    if (eps > 0)
        cfg.ln_eps = (float)eps;
    /* a ratio that does not match the shapes (edited metadata) loses to them */
    if ((int64_t)(ratio * cfg.dim) != cfg.mlp_hidden)
        ratio = (double)cfg.mlp_hidden / cfg.dim;

    lang_value *v = build_model(cx, "load_model", cfg, init_known, dropout, ratio, (uint64_t)seed,
                                dev, prec);
    if (!v)
        goto done;
    if (ck.training) {
        /* weights, optimizer state, position, history and settings */
        if (train_model_apply_checkpoint(cx, "load_model", v, &ck, path) < 0) {
            lang_decref(v);
            goto done;
        }
    } else if (ember_vit_load_safetensors(train_model_of(v), fp, pre, &err) != 0) {
        lang_decref(v);
        result = lang_raise(cx, "ValueError", "load_model: '%s': %s", path, err.msg);
        goto done;
    }
    /* Tensors the ViT does not use (a class token, a timm head) mean a
     * different architecture: say so rather than drop them silently. */
    char extra[512] = "";
    int nextra = 0;
    size_t lp = strlen(pre);
    for (size_t i = 0; i < fp->count; i++) {
        const char *n = fp->entries[i].name;
        if (ck.training && !strncmp(n, "optimizer.state.", 16))
            continue; /* read into the model's AdamW state */
        if (strncmp(n, pre, lp) || !ember_vit_find_param(train_model_of(v), n + lp))
            note_name(extra, sizeof extra, &nextra, n);
    }
    if (nextra) {
        char line[700];
        char more[32];
        int n = snprintf(line, sizeof line,
                         "load_model: ignored %d tensor%s the ViT does not use: %s%s\n", nextra,
                         nextra == 1 ? "" : "s", extra, more_text(nextra, more, sizeof more));
        lang_write(cx, "stderr", line,
                   n < 0 ? 0 : (size_t)n >= sizeof line ? sizeof line - 1 : (size_t)n);
    }
    result = v;
done:
    json_decref(meta);
    ember_ckpt_close(&ck);
    return result;
}

static const lang_builtin model_builtins[] = {
    {"vit(image_size=32, patch_size=4, classes=10, dim=384, heads=8, layers=8, mlp_ratio=4, "
     "dropout=0.1, channels=3, seed=0, init='torch', device='auto', precision='auto')",
     "A Vision Transformer for image classification, randomly initialised from seed. Images of "
     "image_size x image_size with `channels` channels are cut into patch_size x patch_size "
     "patches (patch_size must divide image_size), embedded to dim "
     "channels with a learned position embedding, passed through `layers` pre-norm encoder "
     "blocks (heads attention heads, which must divide dim; an MLP of mlp_ratio x dim units with "
     "exact GELU; dropout after the embedding, attention and MLP), layer-normed, averaged over "
     "the patches and classified into `classes` classes. The default is the 14.2M-parameter "
     "CIFAR-10 model. init: 'torch' (the reference PyTorch model's own layer defaults: every "
     "Linear and the patch Conv2d weight and bias uniform in +-1/sqrt(fan_in), LayerNorm 1 and 0, "
     "pos_embed normal with std 0.02) or 'timm' (timm's ViT: Linear weights and pos_embed normal "
     "with std 0.02, Linear biases 0; Ember's default before, it learns more slowly at small "
     "sizes). device: 'auto' (the GPU when there is one, else the CPU), 'cpu' or "
     "'cuda'. precision: 'auto' (bf16 mixed precision on the GPU, fp32 on the CPU), 'fp32' or "
     "'bf16' (GPU only). The model shows its layers, output shapes and parameter counts; train "
     "it with fit().",
     b_vit},
    {"save(model, path)",
     "Write model's weights to a safetensors file at path (the state_dict names and shapes of the "
     "reference PyTorch ViT, bench/torch_vit.py, so load_state_dict(safetensors.torch.load_file("
     "path), strict=True) takes it), with its configuration (heads, dropout, init, ...) in the "
     "file's metadata. A path ending in .ckpt gets the whole training state instead, as "
     "fit(..., checkpoint=path) writes it: the weights as model.<name>, AdamW's moments and step "
     "as optimizer.state.<i>.*, the schedule, position, random streams and history in the "
     "metadata; fit(..., resume=path) or load_model(path) continues from it. Any other value "
     "with a save method is saved by it, in the format the extension names: images as .png; "
     "plots as .png, .svg or .pdf; a mask as .npy or .png; masks as .npz, .npy or a folder; runs "
     "and evaluations as .csv or .json; tables as .csv (docs/LANGUAGE.md, Saving files).",
     b_save},
    {"load_model(path, heads=none, dropout=none, device='auto', precision='auto')",
     "Load a ViT from a safetensors file written by save(model, path), a checkpoint written by "
     "fit(..., checkpoint=path) or save(model, 'x.ckpt'), or a PyTorch state_dict saved with "
     "safetensors or torch.save (.pt, .pth, .bin; a state dict nested in a checkpoint as "
     "{'model': ...}, or with a 'model.' or 'module.' prefix, is fine; nothing in it is run). "
     "The sizes come from the tensor shapes; heads and dropout from the file's metadata when "
     "Ember wrote it. A file without it (a plain state_dict) needs heads=, the number the model "
     "was trained with (the shapes cannot tell it, and a wrong divisor of the width would load "
     "and compute something else); its dropout is dropout= or else 0.1 (the recipe's; it only "
     "matters for further training). dropout= also overrides the file's. device and precision "
     "as for vit(). A checkpoint brings its optimizer state, history and position too, and "
     "fit(model, ...) continues its run; from plain weights, steps starts at 0.",
     b_load_model},
};

void register_train_model_builtins(void)
{
    lang_register_builtins(model_builtins, sizeof model_builtins / sizeof *model_builtins);
}
