/* checkpoint.c — the training checkpoint of checkpoint.h: the run's
 * settings, position, random streams, history and PyTorch-style optimizer
 * and scheduler state as safetensors metadata beside the weights and AdamW
 * moments (nn/vit_state.c), written atomically and read back with every
 * value checked, so a damaged or foreign file is refused by name. */
#include "train/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/weights.h"
#include "fileio/tabular.h"

/* ---- settings ------------------------------------------------------------ */

void ember_fit_config_of(const ember_fit_opts *o, const ember_augment *aug, int64_t train_images,
                         ember_fit_config *out) {
    memset(out, 0, sizeof *out);
    out->batch_size = o->batch_size;
    out->eval_batch_size = o->eval_batch_size;
    out->drop_last = o->drop_last != 0;
    out->max_steps_per_epoch = o->max_steps_per_epoch;
    out->lr = o->lr;
    out->adamw = o->adamw;
    out->n_milestones = o->n_milestones;
    for (int i = 0; i < o->n_milestones && i < EMBER_FIT_MAX_MILESTONES; i++) out->milestones[i] = o->milestones[i];
    out->gamma = o->gamma;
    out->label_smoothing = o->label_smoothing;
    out->seed = o->seed;
    out->train_images = train_images;
    out->has_aug = aug != NULL;
    if (aug) out->aug = *aug;
}

/* Numbers as Python prints them (shortest round trip). */
static void num(char *buf, size_t len, double v) { ember_format_double(v, buf, len); }

static void step_text(const ember_aug_step *s, char *buf, size_t len) {
    char a[32], b[32], c[32];
    switch (s->kind) {
    case EMBER_AUG_RANDOM_CROP:
        snprintf(buf, len, "random_crop(%d, padding=%d)", s->size, s->padding);
        return;
    case EMBER_AUG_HFLIP:
        num(a, sizeof a, s->p);
        snprintf(buf, len, "hflip(p=%s)", a);
        return;
    case EMBER_AUG_COLOR_JITTER:
        num(a, sizeof a, s->brightness), num(b, sizeof b, s->contrast), num(c, sizeof c, s->saturation);
        snprintf(buf, len, "color_jitter(brightness=%s, contrast=%s, saturation=%s)", a, b, c);
        return;
    case EMBER_AUG_RANDOM_AFFINE:
        num(a, sizeof a, s->degrees), num(b, sizeof b, s->translate);
        snprintf(buf, len, "random_affine(degrees=%s, translate=%s)", a, b);
        return;
    case EMBER_AUG_RANDOM_ROTATION:
        num(a, sizeof a, s->degrees);
        snprintf(buf, len, "random_rotation(%s)", a);
        return;
    case EMBER_AUG_NORMALIZE: {
        char m[128] = "", d[128] = "";
        for (int i = 0; i < 3; i++) {
            num(a, sizeof a, (double)s->mean[i]), num(b, sizeof b, (double)s->std[i]);
            snprintf(m + strlen(m), sizeof m - strlen(m), "%s%s", i ? ", " : "", a);
            snprintf(d + strlen(d), sizeof d - strlen(d), "%s%s", i ? ", " : "", b);
        }
        snprintf(buf, len, "normalize(mean=[%s], std=[%s])", m, d);
        return;
    }
    }
    snprintf(buf, len, "step %d", (int)s->kind);
}

void ember_augment_text(const ember_augment *aug, int has_aug, char *buf, size_t len) {
    if (!len) return;
    if (!has_aug || !aug || aug->n == 0) {
        snprintf(buf, len, "none");
        return;
    }
    size_t o = (size_t)snprintf(buf, len, "compose(");
    for (int i = 0; i < aug->n && i < EMBER_AUG_MAX_STEPS && o < len; i++) {
        char st[200];
        step_text(&aug->steps[i], st, sizeof st);
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", st);
    }
    if (o < len) snprintf(buf + o, len - o, ")");
}

static int step_equal(const ember_aug_step *a, const ember_aug_step *b) {
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case EMBER_AUG_RANDOM_CROP: return a->size == b->size && a->padding == b->padding;
    case EMBER_AUG_HFLIP: return a->p == b->p;
    case EMBER_AUG_COLOR_JITTER:
        return a->brightness == b->brightness && a->contrast == b->contrast && a->saturation == b->saturation;
    case EMBER_AUG_RANDOM_AFFINE: return a->degrees == b->degrees && a->translate == b->translate;
    case EMBER_AUG_RANDOM_ROTATION: return a->degrees == b->degrees;
    case EMBER_AUG_NORMALIZE:
        return !memcmp(a->mean, b->mean, sizeof a->mean) && !memcmp(a->std, b->std, sizeof a->std);
    }
    return 0;
}

static int aug_equal(const ember_fit_config *a, const ember_fit_config *b) {
    int na = a->has_aug ? a->aug.n : 0, nb = b->has_aug ? b->aug.n : 0;
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (!step_equal(&a->aug.steps[i], &b->aug.steps[i])) return 0;
    return 1;
}

typedef struct diff_text {
    char *buf;
    size_t len, o;
    int n;
} diff_text;

static void diff_add(diff_text *d, const char *name, const char *was, const char *now) {
    d->n++;
    if (d->o >= d->len) return;
    int k = snprintf(d->buf + d->o, d->len - d->o, "%s%s %s (checkpoint) vs %s (now)", d->n > 1 ? "; " : "", name,
                     was, now);
    if (k > 0) d->o += (size_t)k;
}

static void diff_num(diff_text *d, const char *name, double was, double now) {
    if (was == now) return;
    char a[40], b[40];
    num(a, sizeof a, was), num(b, sizeof b, now);
    diff_add(d, name, a, b);
}

static void diff_int(diff_text *d, const char *name, int64_t was, int64_t now) {
    if (was == now) return;
    char a[40], b[40];
    snprintf(a, sizeof a, "%" PRId64, was), snprintf(b, sizeof b, "%" PRId64, now);
    diff_add(d, name, a, b);
}

static void milestones_text(const ember_fit_config *c, char *buf, size_t len) {
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < c->n_milestones && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? ", " : "", c->milestones[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

int ember_fit_config_diff(const ember_fit_config *was, const ember_fit_config *now, char *buf, size_t len,
                          int *order_changed) {
    diff_text d = {.buf = buf, .len = len};
    if (len) buf[0] = 0;
    diff_int(&d, "batch_size", was->batch_size, now->batch_size);
    diff_int(&d, "seed", (int64_t)was->seed, (int64_t)now->seed);
    diff_int(&d, "train images", was->train_images, now->train_images);
    diff_int(&d, "steps_per_epoch", was->max_steps_per_epoch, now->max_steps_per_epoch);
    diff_int(&d, "drop_last", was->drop_last, now->drop_last);
    int order = d.n;
    diff_num(&d, "lr", was->lr, now->lr);
    diff_num(&d, "beta1", was->adamw.beta1, now->adamw.beta1);
    diff_num(&d, "beta2", was->adamw.beta2, now->adamw.beta2);
    diff_num(&d, "eps", was->adamw.eps, now->adamw.eps);
    diff_num(&d, "weight_decay", was->adamw.weight_decay, now->adamw.weight_decay);
    int ms = was->n_milestones != now->n_milestones;
    for (int i = 0; !ms && i < was->n_milestones; i++) ms = was->milestones[i] != now->milestones[i];
    if (ms) {
        char a[200], b[200];
        milestones_text(was, a, sizeof a), milestones_text(now, b, sizeof b);
        diff_add(&d, "milestones", a, b);
    }
    diff_num(&d, "gamma", was->gamma, now->gamma);
    diff_num(&d, "label_smoothing", was->label_smoothing, now->label_smoothing);
    diff_int(&d, "eval batch size", was->eval_batch_size ? was->eval_batch_size : was->batch_size,
             now->eval_batch_size ? now->eval_batch_size : now->batch_size);
    if (!aug_equal(was, now)) {
        char a[1200], b[1200];
        ember_augment_text(&was->aug, was->has_aug, a, sizeof a);
        ember_augment_text(&now->aug, now->has_aug, b, sizeof b);
        diff_add(&d, "augment", a, b);
    }
    if (order_changed) *order_changed = order > 0;
    return d.n;
}

/* ---- JSON in and out ------------------------------------------------------- */

/* A real, or for the infinities (which JSON has no number for) a string
 * ("inf", "-inf"); NaN (a missing test result) is null. */
static json_t *jnum(double v) {
    if (isnan(v)) return json_null();
    if (isinf(v)) return json_string(v > 0 ? "inf" : "-inf");
    return json_real(v);
}

static json_t *ju64(uint64_t v) {
    char b[32];
    snprintf(b, sizeof b, "%" PRIu64, v);
    return json_string(b);
}

static json_t *step_json(const ember_aug_step *s) {
    switch (s->kind) {
    case EMBER_AUG_RANDOM_CROP: return json_pack("{s:s,s:i,s:i}", "op", "random_crop", "size", s->size, "padding", s->padding);
    case EMBER_AUG_HFLIP: return json_pack("{s:s,s:o}", "op", "hflip", "p", jnum(s->p));
    case EMBER_AUG_COLOR_JITTER:
        return json_pack("{s:s,s:o,s:o,s:o}", "op", "color_jitter", "brightness", jnum(s->brightness), "contrast",
                         jnum(s->contrast), "saturation", jnum(s->saturation));
    case EMBER_AUG_RANDOM_AFFINE:
        return json_pack("{s:s,s:o,s:o}", "op", "random_affine", "degrees", jnum(s->degrees), "translate",
                         jnum(s->translate));
    case EMBER_AUG_RANDOM_ROTATION: return json_pack("{s:s,s:o}", "op", "random_rotation", "degrees", jnum(s->degrees));
    case EMBER_AUG_NORMALIZE: {
        json_t *m = json_array(), *d = json_array();
        for (int i = 0; i < 4; i++) {
            json_array_append_new(m, json_real((double)s->mean[i]));
            json_array_append_new(d, json_real((double)s->std[i]));
        }
        return json_pack("{s:s,s:o,s:o,s:i}", "op", "normalize", "mean", m, "std", d, "given", s->n_given);
    }
    }
    return NULL;
}

static json_t *config_json(const ember_fit_config *c) {
    json_t *ms = json_array(), *aug = c->has_aug ? json_array() : json_null();
    for (int i = 0; i < c->n_milestones; i++) json_array_append_new(ms, json_integer(c->milestones[i]));
    for (int i = 0; c->has_aug && i < c->aug.n; i++) json_array_append_new(aug, step_json(&c->aug.steps[i]));
    char text[2000];
    ember_augment_text(&c->aug, c->has_aug, text, sizeof text);
    return json_pack("{s:i,s:i,s:b,s:i,s:o,s:[o,o],s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:s}", "batch_size",
                     c->batch_size, "eval_batch_size", c->eval_batch_size, "drop_last", c->drop_last,
                     "steps_per_epoch", c->max_steps_per_epoch, "lr", jnum(c->lr), "betas", jnum(c->adamw.beta1),
                     jnum(c->adamw.beta2), "eps", jnum(c->adamw.eps), "weight_decay", jnum(c->adamw.weight_decay),
                     "milestones", ms, "gamma", jnum(c->gamma), "label_smoothing", jnum(c->label_smoothing), "seed",
                     ju64(c->seed), "train_images", (json_int_t)c->train_images, "augment", aug, "augment_text",
                     text);
}

static json_t *history_json(const ember_epoch_record *h, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        const ember_epoch_record *r = &h[i];
        json_t *o = json_pack("{s:i,s:o,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "epoch", r->epoch + 1, "lr", jnum(r->lr),
                              "steps", (json_int_t)r->steps, "train_images", (json_int_t)r->train_images, "train_loss",
                              jnum(r->train_loss), "train_acc", jnum(r->train_acc), "test_loss", jnum(r->test_loss),
                              "test_acc", jnum(r->test_acc), "seconds", jnum(r->seconds), "train_seconds",
                              jnum(r->train_seconds), "images_per_sec", jnum(r->images_per_sec));
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The settings when the model was never trained by fit: what fit() uses
 * when given no optimizer or schedule (torch.optim.AdamW's defaults, a
 * constant rate), so the file still loads into torch. */
static void default_config(ember_fit_config *c) {
    memset(c, 0, sizeof *c);
    c->lr = 1e-3;
    c->adamw = ember_adamw_default();
    c->adamw.weight_decay = 0.01;
    c->gamma = 0.1;
}

static double config_lr(const ember_fit_config *c, int epoch) {
    double lr = c->lr;
    for (int i = 0; i < c->n_milestones; i++)
        if (c->milestones[i] <= epoch) lr *= c->gamma;
    return lr;
}

/* torch.optim.AdamW(...).state_dict()['param_groups'] after `epochs` steps
 * of the schedule (torch 2's keys; load_state_dict keeps what it is given). */
static json_t *param_groups_json(const ember_fit_config *c, int epochs, int n_params) {
    json_t *ids = json_array();
    for (int i = 0; i < n_params; i++) json_array_append_new(ids, json_integer(i));
    json_t *g = json_pack("{s:o,s:[o,o],s:o,s:o,s:b,s:b,s:n,s:b,s:b,s:n,s:b,s:o,s:o}", "lr", jnum(config_lr(c, epochs)),
                          "betas", jnum(c->adamw.beta1), jnum(c->adamw.beta2), "eps", jnum(c->adamw.eps),
                          "weight_decay", jnum(c->adamw.weight_decay), "amsgrad", 0, "maximize", 0, "foreach",
                          "capturable", 0, "differentiable", 0, "fused", "decoupled_weight_decay", 1, "initial_lr",
                          jnum(c->lr), "params", ids);
    return g ? json_pack("[o]", g) : NULL;
}

/* MultiStepLR(optimizer, milestones, gamma).state_dict() after `epochs`
 * calls of step(). */
static json_t *scheduler_json(const ember_fit_config *c, int epochs) {
    json_t *ms = json_object();
    for (int i = 0; i < c->n_milestones; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", c->milestones[i]);
        json_t *was = json_object_get(ms, k);
        json_object_set_new(ms, k, json_integer(was ? json_integer_value(was) + 1 : 1));
    }
    return json_pack("{s:o,s:o,s:[o],s:i,s:i,s:b,s:b,s:[o]}", "milestones", ms, "gamma", jnum(c->gamma), "base_lrs",
                     jnum(c->lr), "last_epoch", epochs, "_step_count", epochs + 1, "_is_initial", 0,
                     "_get_lr_called_within_step", 0, "_last_lr", jnum(config_lr(c, epochs)));
}

static json_t *train_state_json(const ember_vit *vit, const ember_ckpt_info *in) {
    json_t *norm = json_null();
    if (in->normalize) norm = step_json(in->normalize);
    return json_pack("{s:i,s:i,s:I,s:o,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "format", EMBER_CKPT_VERSION,
                     "epochs_done", in->epochs_done, "step", (json_int_t)in->pos.step, "loss_sum",
                     jnum(in->pos.loss_sum), "correct", (json_int_t)in->pos.correct, "images",
                     (json_int_t)in->pos.images, "train_seconds", jnum(in->pos.train_seconds), "t",
                     ju64((uint64_t)vit->t), "dropout_key", ju64(vit->seed), "rng_offset", ju64(vit->rng_offset),
                     "seed", ju64(in->config ? in->config->seed : 0), "normalize", norm);
}

/* Sets meta[key] to the compact text of v (stolen); -1 when out of memory. */
static int set_json_text(json_t *meta, const char *key, json_t *v) {
    char *text = v ? ember_json_compact(v) : NULL;
    json_decref(v);
    if (!text) return -1;
    int rc = json_object_set_new(meta, key, json_string(text));
    free(text);
    return rc ? -1 : 0;
}

int ember_ckpt_save(const char *path, const ember_vit *vit, const ember_ckpt_info *in, ember_ferr *err) {
    json_t *meta = NULL;
    if (in->model_meta) {
        json_error_t je;
        meta = json_loads(in->model_meta, 0, &je);
        if (!json_is_object(meta)) {
            json_decref(meta);
            return ember_ferr_set(err, EINVAL, "cannot save '%s': the model's metadata is not a JSON object", path);
        }
    } else {
        meta = json_pack("{s:s}", "format", "pt");
    }
    if (!meta) return ember_ferr_set(err, ENOMEM, "cannot save '%s': out of memory", path);
    ember_fit_config dflt;
    default_config(&dflt);
    const ember_fit_config *c = in->config ? in->config : &dflt;
    char epoch[24], steps[24];
    snprintf(epoch, sizeof epoch, "%d", in->epochs_done);
    snprintf(steps, sizeof steps, "%" PRId64, vit->t);
    /* ember.steps is the model's step count now, whenever model_meta was made */
    int rc = json_object_set_new(meta, "ember.checkpoint", json_string("1")) ||
                     json_object_set_new(meta, "ember.steps", json_string(steps)) ||
                     json_object_set_new(meta, "epoch", json_string(epoch)) ||
                     set_json_text(meta, "optimizer.param_groups", param_groups_json(c, in->epochs_done, vit->n_params)) ||
                     set_json_text(meta, "scheduler", scheduler_json(c, in->epochs_done)) ||
                     set_json_text(meta, "history", history_json(in->history, in->n_history)) ||
                     (in->config && set_json_text(meta, "ember.fit", config_json(in->config))) ||
                     set_json_text(meta, "ember.train_state", train_state_json(vit, in))
                 ? -1
                 : 0;
    char *meta_text = rc ? NULL : json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    if (!meta_text) return ember_ferr_set(err, ENOMEM, "cannot save '%s': out of memory", path);

    ember_vit_state s;
    ember_err e = {{0}};
    if (ember_vit_state_get(vit, &s, &e) || ember_vit_state_items(&s, vit, "model.", &e)) {
        free(meta_text);
        ember_vit_state_free(&s);
        return ember_ferr_set(err, strstr(e.msg, "out of memory") ? ENOMEM : EIO, "cannot save '%s': %s", path, e.msg);
    }
    rc = ember_st_save(path, s.items, s.n_items, meta_text, err);
    free(meta_text);
    ember_vit_state_free(&s);
    return rc;
}

/* ---- reading ----------------------------------------------------------------- */

typedef struct jctx {
    const char *key; /* the metadata entry being read */
    ember_err *err;
} jctx;

static int jfail(jctx *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jfail(jctx *j, const char *fmt, ...) {
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ember_err_set(j->err, "its metadata entry '%s' is damaged: %s", j->key, what);
}

static int get_double(jctx *j, json_t *o, const char *k, int null_ok, double *out) {
    json_t *v = json_object_get(o, k);
    if (json_is_number(v)) *out = json_number_value(v);
    else if (null_ok && json_is_null(v)) *out = NAN;
    else if (json_is_string(v) && !strcmp(json_string_value(v), "inf")) *out = INFINITY;
    else if (json_is_string(v) && !strcmp(json_string_value(v), "-inf")) *out = -INFINITY;
    else return jfail(j, "'%s' is not a number", k);
    return 0;
}

static int get_int(jctx *j, json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *out) {
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return jfail(j, "'%s' is not an integer from %" PRId64 " to %" PRId64, k, lo, hi);
    *out = json_integer_value(v);
    return 0;
}

static int get_u64(jctx *j, json_t *o, const char *k, uint64_t *out) {
    json_t *v = json_object_get(o, k);
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    unsigned long long x = s ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *s == '-' || errno || *end) return jfail(j, "'%s' is not a 64-bit number written as a string", k);
    *out = x;
    return 0;
}

static int step_read(jctx *j, json_t *o, ember_aug_step *s) {
    memset(s, 0, sizeof *s);
    const char *op = json_string_value(json_object_get(o, "op"));
    int64_t a = 0, b = 0; /* set by get_int; initialised for -O3's flow analysis */
    if (!json_is_object(o) || !op) return jfail(j, "an augmentation step has no \"op\"");
    if (!strcmp(op, "random_crop")) {
        s->kind = EMBER_AUG_RANDOM_CROP;
        if (get_int(j, o, "size", 1, 1 << 20, &a) || get_int(j, o, "padding", 0, 1 << 20, &b)) return -1;
        s->size = (int)a, s->padding = (int)b;
    } else if (!strcmp(op, "hflip")) {
        s->kind = EMBER_AUG_HFLIP;
        if (get_double(j, o, "p", 0, &s->p)) return -1;
    } else if (!strcmp(op, "color_jitter")) {
        s->kind = EMBER_AUG_COLOR_JITTER;
        if (get_double(j, o, "brightness", 0, &s->brightness) || get_double(j, o, "contrast", 0, &s->contrast) ||
            get_double(j, o, "saturation", 0, &s->saturation))
            return -1;
    } else if (!strcmp(op, "random_affine")) {
        s->kind = EMBER_AUG_RANDOM_AFFINE;
        if (get_double(j, o, "degrees", 0, &s->degrees) || get_double(j, o, "translate", 0, &s->translate)) return -1;
    } else if (!strcmp(op, "random_rotation")) {
        s->kind = EMBER_AUG_RANDOM_ROTATION;
        if (get_double(j, o, "degrees", 0, &s->degrees)) return -1;
    } else if (!strcmp(op, "normalize")) {
        s->kind = EMBER_AUG_NORMALIZE;
        json_t *m = json_object_get(o, "mean"), *d = json_object_get(o, "std");
        if (json_array_size(m) != 4 || json_array_size(d) != 4) return jfail(j, "normalize needs 4 means and 4 stds");
        for (int i = 0; i < 4; i++) {
            json_t *x = json_array_get(m, (size_t)i), *y = json_array_get(d, (size_t)i);
            if (!json_is_number(x) || !json_is_number(y)) return jfail(j, "normalize's mean and std are not numbers");
            s->mean[i] = (float)json_number_value(x);
            s->std[i] = (float)json_number_value(y);
        }
        if (get_int(j, o, "given", 0, 4, &a)) return -1;
        s->n_given = (int)a;
    } else {
        return jfail(j, "unknown augmentation \"%.40s\"", op);
    }
    return 0;
}

static int config_read(jctx *j, json_t *o, ember_fit_config *c) {
    memset(c, 0, sizeof *c);
    if (!json_is_object(o)) return jfail(j, "not a JSON object");
    int64_t a = 0;
    json_t *betas = json_object_get(o, "betas"), *ms = json_object_get(o, "milestones"), *aug;
    if (get_int(j, o, "batch_size", 1, 1000000, &a)) return -1;
    c->batch_size = (int)a;
    if (get_int(j, o, "eval_batch_size", 0, 1000000, &a)) return -1;
    c->eval_batch_size = (int)a;
    if (!json_is_boolean(json_object_get(o, "drop_last"))) return jfail(j, "'drop_last' is not true or false");
    c->drop_last = json_is_true(json_object_get(o, "drop_last"));
    if (get_int(j, o, "steps_per_epoch", 0, INT32_MAX, &a)) return -1;
    c->max_steps_per_epoch = (int)a;
    if (get_double(j, o, "lr", 0, &c->lr) || get_double(j, o, "eps", 0, &c->adamw.eps) ||
        get_double(j, o, "weight_decay", 0, &c->adamw.weight_decay) || get_double(j, o, "gamma", 0, &c->gamma) ||
        get_double(j, o, "label_smoothing", 0, &c->label_smoothing) || get_u64(j, o, "seed", &c->seed) ||
        get_int(j, o, "train_images", 0, INT64_MAX, &c->train_images))
        return -1;
    if (json_array_size(betas) != 2 || !json_is_number(json_array_get(betas, 0)) ||
        !json_is_number(json_array_get(betas, 1)))
        return jfail(j, "'betas' is not a pair of numbers");
    c->adamw.beta1 = json_number_value(json_array_get(betas, 0));
    c->adamw.beta2 = json_number_value(json_array_get(betas, 1));
    if (!json_is_array(ms) || json_array_size(ms) > EMBER_FIT_MAX_MILESTONES)
        return jfail(j, "'milestones' is not a list of at most %d epochs", EMBER_FIT_MAX_MILESTONES);
    c->n_milestones = (int)json_array_size(ms);
    for (int i = 0; i < c->n_milestones; i++) {
        json_t *m = json_array_get(ms, (size_t)i);
        if (!json_is_integer(m) || json_integer_value(m) < 0 || json_integer_value(m) > 1000000)
            return jfail(j, "milestone %d is not an epoch number", i);
        c->milestones[i] = (int)json_integer_value(m);
    }
    aug = json_object_get(o, "augment");
    if (json_is_null(aug)) return 0;
    if (!json_is_array(aug) || json_array_size(aug) > EMBER_AUG_MAX_STEPS)
        return jfail(j, "'augment' is not a list of at most %d steps", EMBER_AUG_MAX_STEPS);
    c->has_aug = 1;
    c->aug.n = (int)json_array_size(aug);
    for (int i = 0; i < c->aug.n; i++)
        if (step_read(j, json_array_get(aug, (size_t)i), &c->aug.steps[i])) return -1;
    return 0;
}

static int history_read(jctx *j, json_t *a, ember_fit_history *h) {
    if (!json_is_array(a) || json_array_size(a) > 10000000) return jfail(j, "not a list of epochs");
    size_t n = json_array_size(a);
    if (!n) return 0;
    h->epochs = calloc(n, sizeof *h->epochs);
    if (!h->epochs) return ember_err_set(j->err, "out of memory for the history of %zu epochs", n);
    h->cap = (int)n;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(a, i);
        ember_epoch_record *r = &h->epochs[i];
        int64_t ep = 0, steps = 0, imgs = 0;
        if (!json_is_object(o)) return jfail(j, "epoch %zu is not an object", i + 1);
        if (get_int(j, o, "epoch", 1, 1000001, &ep) || get_int(j, o, "steps", 0, INT64_MAX, &steps) ||
            get_int(j, o, "train_images", 0, INT64_MAX, &imgs) || get_double(j, o, "lr", 0, &r->lr) ||
            get_double(j, o, "train_loss", 1, &r->train_loss) || get_double(j, o, "train_acc", 1, &r->train_acc) ||
            get_double(j, o, "test_loss", 1, &r->test_loss) || get_double(j, o, "test_acc", 1, &r->test_acc) ||
            get_double(j, o, "seconds", 1, &r->seconds) || get_double(j, o, "train_seconds", 1, &r->train_seconds) ||
            get_double(j, o, "images_per_sec", 1, &r->images_per_sec))
            return -1;
        r->epoch = (int)ep - 1;
        r->steps = steps;
        r->train_images = imgs;
        h->n++;
    }
    return 0;
}

static int train_state_read(jctx *j, json_t *o, ember_ckpt *ck) {
    if (!json_is_object(o)) return jfail(j, "not a JSON object");
    int64_t a = 0, fmt = 0;
    uint64_t t = 0, seed = 0;
    if (get_int(j, o, "format", 1, INT32_MAX, &fmt)) return -1;
    if (fmt > EMBER_CKPT_VERSION)
        return ember_err_set(j->err, "it was written by a newer Ember (checkpoint format %" PRId64 ", this one reads %d); "
                                     "update Ember",
                             fmt, EMBER_CKPT_VERSION);
    if (get_int(j, o, "epochs_done", 0, 1000000, &a)) return -1;
    ck->epochs_done = (int)a;
    if (get_int(j, o, "step", 0, INT64_MAX, &ck->pos.step) || get_double(j, o, "loss_sum", 1, &ck->pos.loss_sum) ||
        get_int(j, o, "correct", 0, INT64_MAX, &ck->pos.correct) ||
        get_int(j, o, "images", 0, INT64_MAX, &ck->pos.images) ||
        get_double(j, o, "train_seconds", 1, &ck->pos.train_seconds) || get_u64(j, o, "t", &t) ||
        get_u64(j, o, "dropout_key", &ck->dropout_key) || get_u64(j, o, "rng_offset", &ck->rng_offset) ||
        get_u64(j, o, "seed", &seed))
        return -1;
    if (t > (uint64_t)INT64_MAX) return jfail(j, "'t' is out of range");
    ck->t = (int64_t)t;
    if (ck->pos.correct > ck->pos.images || (ck->pos.step > 0) != (ck->pos.images > 0))
        return jfail(j, "its position inside the epoch does not add up (step %" PRId64 ", %" PRId64 " images, %" PRId64
                        " correct)",
                     ck->pos.step, ck->pos.images, ck->pos.correct);
    json_t *norm = json_object_get(o, "normalize");
    if (norm && !json_is_null(norm)) {
        if (step_read(j, norm, &ck->normalize)) return -1;
        if (ck->normalize.kind != EMBER_AUG_NORMALIZE) return jfail(j, "'normalize' is not a normalize step");
        ck->has_normalize = 1;
    }
    return 0;
}

/* The JSON inside metadata entry key, or NULL (err set) when it is missing
 * or not JSON. */
static json_t *meta_json(json_t *meta, const char *key, ember_err *err) {
    const char *s = json_string_value(json_object_get(meta, key));
    if (!s) {
        ember_err_set(err, "its metadata has no '%s'", key);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (!v) ember_err_set(err, "its metadata entry '%s' is damaged: %s", key, je.text);
    return v;
}

int ember_ckpt_open(ember_ckpt *ck, const char *path, ember_err *err) {
    memset(ck, 0, sizeof *ck);
    if (ember_weights_open(&ck->file, path, err)) return -1;
    if (ck->file.metadata_json) ck->meta = json_loads(ck->file.metadata_json, 0, NULL);
    /* A state dict saved from a wrapper ("model.", "module.") keeps its prefix. */
    const char *key = "patch_embed.weight";
    size_t lk = strlen(key);
    for (size_t i = 0; i < ck->file.count; i++) {
        const char *n = ck->file.entries[i].name;
        size_t ln = strlen(n);
        if (ln >= lk && !strcmp(n + ln - lk, key) && (ln == lk || n[ln - lk - 1] == '.') && ln - lk < sizeof ck->prefix) {
            memcpy(ck->prefix, n, ln - lk);
            ck->prefix[ln - lk] = 0;
            break;
        }
    }
    const char *mark = json_string_value(json_object_get(ck->meta, "ember.checkpoint"));
    if (!mark) return 0;
    int rc = 0;
    json_t *ts = NULL, *cfg = NULL, *hist = NULL;
    if (strcmp(mark, "1")) {
        rc = ember_err_set(err, "it is an Ember checkpoint of a format this Ember does not read (ember.checkpoint = "
                                "'%.20s'); update Ember",
                           mark);
        goto out;
    }
    ck->training = 1;
    jctx j = {.err = err};
    if (!(ts = meta_json(ck->meta, "ember.train_state", err)) || (j.key = "ember.train_state", train_state_read(&j, ts, ck)) ||
        !(hist = meta_json(ck->meta, "history", err)) || (j.key = "history", history_read(&j, hist, &ck->history))) {
        rc = -1;
        goto out;
    }
    if (json_object_get(ck->meta, "ember.fit")) {
        if (!(cfg = meta_json(ck->meta, "ember.fit", err)) || (j.key = "ember.fit", config_read(&j, cfg, &ck->config))) {
            rc = -1;
            goto out;
        }
        ck->has_config = 1;
    }
out:
    json_decref(ts);
    json_decref(cfg);
    json_decref(hist);
    if (rc) ember_err_prefix(err, "%s: ", path);
    return rc;
}

int ember_ckpt_read_state(const ember_ckpt *ck, const ember_vit *vit, ember_vit_state *s, ember_err *err) {
    memset(s, 0, sizeof *s);
    if (!ember_st_find(&ck->file, "optimizer.state.0.exp_avg"))
        return ember_err_set(err, "it holds weights but no optimizer state (no 'optimizer.state.0.exp_avg'), so training "
                                  "cannot continue from it; a checkpoint comes from fit(..., checkpoint=path) or "
                                  "save(model, 'name.ckpt')");
    int64_t t = ck->t;
    if (ember_vit_state_read(s, vit, &ck->file, ck->prefix, ck->training, &t, err)) return -1;
    if (ck->training) {
        s->seed = ck->dropout_key;
        s->rng_offset = ck->rng_offset;
    } else {
        /* A PyTorch checkpoint: no dropout stream of Ember's to continue;
         * the next fit keys it from its seed anyway. */
        s->seed = vit->seed;
        s->rng_offset = vit->rng_offset;
    }
    return 0;
}

void ember_ckpt_close(ember_ckpt *ck) {
    if (!ck) return;
    ember_st_close(&ck->file);
    json_decref(ck->meta);
    ember_fit_history_free(&ck->history);
    memset(ck, 0, sizeof *ck);
}
