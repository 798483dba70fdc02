/* bind_optim.c — the training settings as values: adamw() (the optimizer),
 * multistep() (the learning-rate schedule) and cross_entropy() (the loss).
 * Each is checked once here, reads back like its PyTorch counterpart, and
 * is handed to fit(), which reads the numbers through bind.h. */
#include "train/bind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MILESTONES_MAX ((int)(sizeof ((train_multistep *)0)->milestones / sizeof(int)))

static void settings_free(void *data) { free(data); }

static const void *settings_of(const lang_value *v, const lang_type *t)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != t)
        return NULL;
    return v->as.obj.data;
}

const train_adamw *train_adamw_of(const lang_value *v) { return settings_of(v, &train_adamw_type); }
const train_multistep *train_multistep_of(const lang_value *v)
{
    return settings_of(v, &train_multistep_type);
}
const train_loss *train_loss_of(const lang_value *v) { return settings_of(v, &train_loss_type); }

/* A settings value, or MemoryError. Takes data. */
static lang_value *wrap(lang_ctx *cx, const lang_type *t, void *data, const char *fname)
{
    lang_value *v = lang_object(t, data);
    return v ? v : lang_raise(cx, "MemoryError", "%s: out of memory", fname);
}

static lang_value *float_list(const double *x, size_t n)
{
    lang_value *l = lang_list_new(n);
    if (!l)
        return NULL;
    for (size_t i = 0; i < n; i++)
        lang_list_set(l, i, lang_float(x[i]));
    return l;
}

/* A finite number argument (booleans refused: lr=true is a slip). */
static int number_arg(lang_ctx *cx, const lang_args *a, size_t i, const char *expected, double *out)
{
    const lang_value *v = a->v[i];
    if (v->kind != LANG_INT && v->kind != LANG_FLOAT) {
        lang_arg_error(cx, a, i, "TypeError", expected);
        return -1;
    }
    *out = v->kind == LANG_INT ? (double)v->as.i : v->as.f;
    if (!isfinite(*out)) {
        lang_arg_error(cx, a, i, "ValueError", expected);
        return -1;
    }
    return 0;
}

/* ---- adamw ------------------------------------------------------------------ */

static char *adamw_repr(const lang_value *self)
{
    const train_adamw *o = train_adamw_of(self);
    char lr[32], b1[32], b2[32], eps[32], wd[32], out[256];
    lang_format_float(o->lr, lr, sizeof lr);
    lang_format_float(o->cfg.beta1, b1, sizeof b1);
    lang_format_float(o->cfg.beta2, b2, sizeof b2);
    lang_format_float(o->cfg.eps, eps, sizeof eps);
    lang_format_float(o->cfg.weight_decay, wd, sizeof wd);
    snprintf(out, sizeof out, "AdamW(lr=%s, betas=(%s, %s), eps=%s, weight_decay=%s)", lr, b1, b2,
             eps, wd);
    return strdup(out);
}

static lang_value *adamw_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const train_adamw *o = train_adamw_of(self);
    if (!strcmp(name, "lr"))
        return lang_float(o->lr);
    if (!strcmp(name, "weight_decay"))
        return lang_float(o->cfg.weight_decay);
    if (!strcmp(name, "eps"))
        return lang_float(o->cfg.eps);
    if (!strcmp(name, "betas")) {
        double b[2] = {o->cfg.beta1, o->cfg.beta2};
        return float_list(b, 2);
    }
    return NULL;
}

static void adamw_attr_names(const lang_value *self, void (*add)(void *acc, const char *name),
                             void *acc)
{
    (void)self;
    add(acc, "lr");
    add(acc, "betas");
    add(acc, "eps");
    add(acc, "weight_decay");
}

const lang_type train_adamw_type = {
    .name = "optimizer",
    .doc = "optimizer: AdamW settings for fit(optimizer=...), made by adamw(). Attributes: lr, "
           "betas, eps, weight_decay.",
    .free = settings_free,
    .repr = adamw_repr,
    .getattr = adamw_getattr,
    .attr_names = adamw_attr_names,
};

static lang_value *b_adamw(lang_ctx *cx, const lang_args *a)
{
    train_adamw o = {0};
    if (number_arg(cx, a, 0, "a positive number", &o.lr) < 0)
        return NULL;
    if (!(o.lr > 0))
        return lang_arg_error(cx, a, 0, "ValueError", "a positive number");
    if (number_arg(cx, a, 1, "a number >= 0", &o.cfg.weight_decay) < 0)
        return NULL;
    if (!(o.cfg.weight_decay >= 0))
        return lang_arg_error(cx, a, 1, "ValueError", "a number >= 0");
    const lang_value *betas = a->v[2];
    static const char betas_expected[] = "a list of two numbers in [0, 1), such as [0.9, 0.999]";
    if (betas->kind != LANG_LIST || betas->as.list.len != 2)
        return lang_arg_error(cx, a, 2, betas->kind == LANG_LIST ? "ValueError" : "TypeError",
                              betas_expected);
    double b[2];
    for (int i = 0; i < 2; i++) {
        const lang_value *x = betas->as.list.items[i];
        if (x->kind != LANG_INT && x->kind != LANG_FLOAT)
            return lang_arg_error(cx, a, 2, "TypeError", betas_expected);
        b[i] = x->kind == LANG_INT ? (double)x->as.i : x->as.f;
        if (!(b[i] >= 0 && b[i] < 1))
            return lang_raise(cx, "ValueError", "adamw: betas[%d] must be in [0, 1), got %g", i,
                              b[i]);
    }
    o.cfg.beta1 = b[0];
    o.cfg.beta2 = b[1];
    if (number_arg(cx, a, 3, "a positive number", &o.cfg.eps) < 0)
        return NULL;
    if (!(o.cfg.eps > 0))
        return lang_arg_error(cx, a, 3, "ValueError", "a positive number");
    train_adamw *d = malloc(sizeof *d);
    if (!d)
        return lang_raise(cx, "MemoryError", "adamw: out of memory");
    *d = o;
    return wrap(cx, &train_adamw_type, d, "adamw");
}

/* ---- multistep ---------------------------------------------------------------- */

static char *multistep_repr(const lang_value *self)
{
    const train_multistep *s = train_multistep_of(self);
    char out[600], g[32];
    size_t o = (size_t)snprintf(out, sizeof out, "MultiStepLR(milestones=[");
    for (int i = 0; i < s->n && o < sizeof out; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%d", i ? ", " : "", s->milestones[i]);
    lang_format_float(s->gamma, g, sizeof g);
    if (o < sizeof out)
        snprintf(out + o, sizeof out - o, "], gamma=%s)", g);
    return strdup(out);
}

static lang_value *multistep_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const train_multistep *s = train_multistep_of(self);
    if (!strcmp(name, "gamma"))
        return lang_float(s->gamma);
    if (!strcmp(name, "milestones")) {
        lang_value *l = lang_list_new((size_t)s->n);
        if (!l)
            return NULL;
        for (int i = 0; i < s->n; i++)
            lang_list_set(l, (size_t)i, lang_int(s->milestones[i]));
        return l;
    }
    return NULL;
}

static void multistep_attr_names(const lang_value *self, void (*add)(void *acc, const char *name),
                                 void *acc)
{
    (void)self;
    add(acc, "milestones");
    add(acc, "gamma");
}

const lang_type train_multistep_type = {
    .name = "schedule",
    .doc = "schedule: a step learning-rate schedule for fit(schedule=...), made by multistep(): "
           "the rate is multiplied by gamma at each milestone epoch. Attributes: milestones, "
           "gamma.",
    .free = settings_free,
    .repr = multistep_repr,
    .getattr = multistep_getattr,
    .attr_names = multistep_attr_names,
};

static lang_value *b_multistep(lang_ctx *cx, const lang_args *a)
{
    train_multistep s = {0};
    const lang_value *ms = a->v[0];
    char expected[128];
    snprintf(expected, sizeof expected,
             "a list of at most %d increasing epoch numbers (integers >= 0), such as [50, 75]",
             MILESTONES_MAX);
    if (ms->kind != LANG_LIST)
        return lang_arg_error(cx, a, 0, "TypeError", expected);
    if (ms->as.list.len > (size_t)MILESTONES_MAX)
        return lang_raise(cx, "ValueError", "multistep: milestones may hold at most %d epochs, got %zu",
                          MILESTONES_MAX, ms->as.list.len);
    for (size_t i = 0; i < ms->as.list.len; i++) {
        const lang_value *x = ms->as.list.items[i];
        if (x->kind != LANG_INT)
            return lang_arg_error(cx, a, 0, "TypeError", expected);
        if (x->as.i < 0 || x->as.i > 1000000)
            return lang_raise(cx, "ValueError",
                              "multistep: milestones[%zu] must be an epoch number from 0 to "
                              "1000000, got %lld",
                              i, (long long)x->as.i);
        if (i > 0 && x->as.i <= s.milestones[i - 1])
            return lang_raise(cx, "ValueError",
                              "multistep: milestones must be strictly increasing, but %lld follows "
                              "%d",
                              (long long)x->as.i, s.milestones[i - 1]);
        s.milestones[i] = (int)x->as.i;
    }
    s.n = (int)ms->as.list.len;
    if (number_arg(cx, a, 1, "a positive number", &s.gamma) < 0)
        return NULL;
    if (!(s.gamma > 0))
        return lang_arg_error(cx, a, 1, "ValueError", "a positive number");
    train_multistep *d = malloc(sizeof *d);
    if (!d)
        return lang_raise(cx, "MemoryError", "multistep: out of memory");
    *d = s;
    return wrap(cx, &train_multistep_type, d, "multistep");
}

/* ---- cross_entropy -------------------------------------------------------------- */

static char *loss_repr(const lang_value *self)
{
    char ls[32], out[96];
    lang_format_float(train_loss_of(self)->label_smoothing, ls, sizeof ls);
    snprintf(out, sizeof out, "CrossEntropyLoss(label_smoothing=%s)", ls);
    return strdup(out);
}

static lang_value *loss_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    if (!strcmp(name, "label_smoothing"))
        return lang_float(train_loss_of(self)->label_smoothing);
    return NULL;
}

static void loss_attr_names(const lang_value *self, void (*add)(void *acc, const char *name),
                            void *acc)
{
    (void)self;
    add(acc, "label_smoothing");
}

const lang_type train_loss_type = {
    .name = "loss",
    .doc = "loss: softmax cross-entropy settings for fit(loss=...), made by cross_entropy(). "
           "Attribute: label_smoothing.",
    .free = settings_free,
    .repr = loss_repr,
    .getattr = loss_getattr,
    .attr_names = loss_attr_names,
};

static lang_value *b_cross_entropy(lang_ctx *cx, const lang_args *a)
{
    train_loss l = {0};
    if (number_arg(cx, a, 0, "a number in [0, 1)", &l.label_smoothing) < 0)
        return NULL;
    if (!(l.label_smoothing >= 0 && l.label_smoothing < 1))
        return lang_arg_error(cx, a, 0, "ValueError", "a number in [0, 1)");
    train_loss *d = malloc(sizeof *d);
    if (!d)
        return lang_raise(cx, "MemoryError", "cross_entropy: out of memory");
    *d = l;
    return wrap(cx, &train_loss_type, d, "cross_entropy");
}

static const lang_builtin optim_builtins[] = {
    {"adamw(lr=3e-4, weight_decay=0.05, betas=[0.9, 0.999], eps=1e-8)",
     "AdamW settings for fit(optimizer=...), as torch.optim.AdamW: learning rate lr (> 0; the "
     "schedule scales it), decoupled weight_decay (>= 0, applied to every parameter, as "
     "AdamW(model.parameters()) does), betas [beta1, beta2] in [0, 1) for the moving averages "
     "of the gradient and its square, and eps (> 0) added to the denominator.",
     b_adamw},
    {"multistep(milestones=[50, 75], gamma=0.1)",
     "A step schedule for fit(schedule=...), as torch.optim.lr_scheduler.MultiStepLR stepped "
     "once per epoch: the learning rate is multiplied by gamma (> 0) after each epoch listed in "
     "milestones (strictly increasing integers >= 0, at most 32). [] keeps it constant.",
     b_multistep},
    {"cross_entropy(label_smoothing=0.0)",
     "Softmax cross-entropy loss settings for fit(loss=...), as torch.nn.CrossEntropyLoss: with "
     "label_smoothing s in [0, 1) the target is 1 - s on the true class plus s / classes on "
     "every class (the CIFAR-10 recipe uses 0.1).",
     b_cross_entropy},
};

void register_train_optim_builtins(void)
{
    lang_register_builtins(optim_builtins, sizeof optim_builtins / sizeof *optim_builtins);
}
