/* bind_fit.c — training and evaluation in the language: fit() with its live
 * progress bar, per-epoch log line and live loss/accuracy plot, its
 * checkpoints and resuming (checkpoint=, resume=, allow_changes=: the
 * settings of a continued run checked against the checkpoint's); the "run"
 * value it returns (the epoch history, drawn by plot(run), saved as CSV or
 * JSON); evaluate() and its "evaluation" value (accuracy, per-class table,
 * confusion matrix, captioned samples; the numbers saved as CSV or JSON). */
#include "train/bind.h"
#include "data/bind.h"
#include "fileio/tabular.h"
#include "viz/bind.h"
#include "viz/mime.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- shared helpers ---- */

static lang_value *double_list(const double *v, size_t n)
{
    lang_value *l = lang_list_new(n);
    if (!l)
        return NULL;
    for (size_t i = 0; i < n; i++)
        lang_list_set(l, i, isnan(v[i]) ? lang_none() : lang_float(v[i]));
    return l;
}

/* <img> of a PNG at its logical size, for HTML bundles. */
static void html_png(lang_strbuf *b, const ember_png *png, const char *alt)
{
    char *b64 = ember_base64_encode(png->data, png->size);
    if (!b64) {
        b->oom = 1;
        return;
    }
    lang_sb_addf(b, "<img alt=\"%s\" width=\"%d\" height=\"%d\" src=\"data:image/png;base64,", alt,
                 png->width, png->height);
    lang_sb_adds(b, b64);
    lang_sb_adds(b, "\">");
    free(b64);
}

/* ---- runs ---- */

typedef struct train_run {
    ember_epoch_record *recs;
    int n;
    char desc[200];
} train_run;

static void run_free(void *data)
{
    train_run *r = data;
    free(r->recs);
    free(r);
}

static const train_run *run_of(const lang_value *v);

/* The curves of a history: loss and accuracy (%) against the epoch number
 * (1-based, as people count epochs), train and test. */
static int render_curves(const ember_epoch_record *recs, int n, const char *title,
                         ember_figure_format fmt, ember_png *out, char *err, size_t errlen)
{
    size_t sz = (size_t)(n > 0 ? n : 1);
    double *x = malloc(sz * sizeof *x), *tl = malloc(sz * sizeof *tl), *vl = malloc(sz * sizeof *vl);
    double *ta = malloc(sz * sizeof *ta), *va = malloc(sz * sizeof *va);
    int rc = -1, have_test = 0;
    if (!x || !tl || !vl || !ta || !va) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        x[i] = recs[i].epoch + 1;
        tl[i] = recs[i].train_loss;
        ta[i] = 100 * recs[i].train_acc;
        vl[i] = recs[i].test_loss;
        va[i] = 100 * recs[i].test_acc;
        have_test |= !isnan(recs[i].test_acc);
    }
    ember_series loss[2] = {{.label = "train", .x = x, .y = tl, .n = (size_t)n},
                            {.label = "test", .x = x, .y = vl, .n = (size_t)n}};
    ember_series acc[2] = {{.label = "train", .x = x, .y = ta, .n = (size_t)n},
                           {.label = "test", .x = x, .y = va, .n = (size_t)n}};
    ember_axes panels[2] = {
        {.title = "Loss", .xlabel = "epoch", .series = loss, .nseries = have_test ? 2 : 1},
        {.title = "Accuracy (%)", .xlabel = "epoch", .series = acc, .nseries = have_test ? 2 : 1},
    };
    ember_figure_opts fig = {.title = title, .width = 760, .height = 300, .format = fmt};
    rc = ember_plot_lines(panels, 2, &fig, out, err, errlen);
out:
    free(x), free(tl), free(vl), free(ta), free(va);
    return rc;
}

static char *run_repr(const lang_value *self)
{
    const train_run *r = run_of(self);
    char *out = NULL;
    if (r->n == 0) {
        if (asprintf(&out, "<run: no finished epochs; %s>", r->desc) < 0)
            return NULL;
        return out;
    }
    const ember_epoch_record *last = &r->recs[r->n - 1];
    double secs = 0;
    for (int i = 0; i < r->n; i++)
        secs += r->recs[i].seconds;
    char test[96] = "";
    if (!isnan(last->test_acc))
        snprintf(test, sizeof test, ", test loss %.4f acc %.2f%%", last->test_loss,
                 100 * last->test_acc);
    if (asprintf(&out, "<run: %d epoch%s (%d-%d), train loss %.4f acc %.2f%%%s, %.1f s; %s>", r->n,
                 r->n == 1 ? "" : "s", r->recs[0].epoch + 1, last->epoch + 1, last->train_loss,
                 100 * last->train_acc, test, secs, r->desc) < 0)
        return NULL;
    return out;
}

static json_t *run_mime(const lang_value *self)
{
    const train_run *r = run_of(self);
    if (r->n == 0)
        return NULL;
    ember_png png;
    char err[256];
    if (render_curves(r->recs, r->n, NULL, EMBER_FIGURE_PNG, &png, err, sizeof err) != 0)
        return NULL;
    char *text = run_repr(self);
    json_t *data = NULL, *meta = NULL;
    int rc = ember_png_bundle(&png, text ? text : "<run>", &data, &meta, err, sizeof err);
    ember_png_free(&png);
    free(text);
    if (rc != 0)
        return NULL;
    json_decref(meta);
    return data;
}

static json_t *run_mime_metadata(const lang_value *self)
{
    (void)self;
    return json_pack("{s:{s:i,s:i}}", "image/png", "width", 760, "height", 300);
}

static lang_value *run_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const train_run *r = run_of(self);
    size_t n = (size_t)r->n;
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return NULL;
    int known = 1;
    for (size_t i = 0; i < n; i++) {
        const ember_epoch_record *e = &r->recs[i];
        if (!strcmp(name, "epochs")) v[i] = e->epoch + 1;
        else if (!strcmp(name, "train_loss")) v[i] = e->train_loss;
        else if (!strcmp(name, "train_acc")) v[i] = e->train_acc;
        else if (!strcmp(name, "test_loss")) v[i] = e->test_loss;
        else if (!strcmp(name, "test_acc")) v[i] = e->test_acc;
        else if (!strcmp(name, "lr")) v[i] = e->lr;
        else if (!strcmp(name, "seconds")) v[i] = e->seconds;
        else if (!strcmp(name, "images_per_sec")) v[i] = e->images_per_sec;
        else known = 0;
    }
    static const char *names[] = {"epochs", "train_loss", "train_acc", "test_loss", "test_acc",
                                  "lr", "seconds", "images_per_sec"};
    if (n == 0) {
        known = 0;
        for (size_t k = 0; k < sizeof names / sizeof *names; k++)
            known |= !strcmp(name, names[k]);
    }
    lang_value *out = NULL;
    if (known && !strcmp(name, "epochs")) {
        out = lang_list_new(n);
        for (size_t i = 0; out && i < n; i++)
            lang_list_set(out, i, lang_int((int64_t)v[i]));
    } else if (known) {
        out = double_list(v, n);
    }
    free(v);
    return out;
}

static void run_attr_names(const lang_value *self, void (*add)(void *acc, const char *name), void *acc)
{
    (void)self;
    static const char *names[] = {"epochs", "train_loss", "train_acc", "test_loss", "test_acc",
                                  "lr", "seconds", "images_per_sec"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        add(acc, names[i]);
}

/* What plot(run) drew, to draw it again as SVG or PDF. */
typedef struct run_curves {
    ember_epoch_record *recs;
    int n;
} run_curves;

static void run_curves_free(void *data)
{
    run_curves *c = data;
    if (c)
        free(c->recs);
    free(c);
}

static int run_curves_redraw(void *ctx, ember_figure_format fmt, ember_png *out, char *err,
                             size_t errlen)
{
    const run_curves *c = ctx;
    return render_curves(c->recs, c->n, NULL, fmt, out, err, errlen);
}

static lang_value *m_run_plot(lang_ctx *cx, const lang_args *a)
{
    const train_run *r = run_of(a->self);
    if (r->n == 0)
        return lang_raise(cx, "ValueError", "run.plot: the run has no finished epoch to draw");
    run_curves *c = calloc(1, sizeof *c);
    if (c)
        c->recs = malloc((size_t)r->n * sizeof *c->recs);
    if (!c || !c->recs) {
        free(c);
        return lang_raise(cx, "MemoryError", "run.plot: out of memory");
    }
    memcpy(c->recs, r->recs, (size_t)r->n * sizeof *c->recs);
    c->n = r->n;
    ember_png png;
    char err[256];
    if (render_curves(r->recs, r->n, NULL, EMBER_FIGURE_PNG, &png, err, sizeof err) != 0) {
        run_curves_free(c);
        return lang_raise(cx, "ValueError", "run.plot: %s", err);
    }
    char detail[48];
    snprintf(detail, sizeof detail, "%d epoch%s", r->n, r->n == 1 ? "" : "s");
    return viz_plot_from_render(cx, &png, run_curves_redraw, c, run_curves_free, "plot",
                                "Training", detail);
}

/* The columns of a saved history: the run's attribute names (one row per
 * epoch, so the first is "epoch"). */
static const char *const run_columns[] = {"epoch", "lr", "train_loss", "train_acc", "test_loss",
                                          "test_acc", "seconds", "images_per_sec"};

static void run_record_values(const ember_epoch_record *e, double v[8])
{
    v[0] = e->epoch + 1;
    v[1] = e->lr;
    v[2] = e->train_loss;
    v[3] = e->train_acc;
    v[4] = e->test_loss;
    v[5] = e->test_acc;
    v[6] = e->seconds;
    v[7] = e->images_per_sec;
}

static int run_save_csv(const void *self, const char *path, ember_ferr *err)
{
    const train_run *r = self;
    ember_csv c = {0};
    for (size_t k = 0; k < 8; k++)
        ember_csv_str(&c, run_columns[k]);
    ember_csv_end_row(&c);
    for (int i = 0; i < r->n; i++) {
        double v[8];
        run_record_values(&r->recs[i], v);
        ember_csv_int(&c, (int64_t)v[0]);
        for (size_t k = 1; k < 8; k++)
            ember_csv_num(&c, v[k]); /* no test set: empty fields */
        ember_csv_end_row(&c);
    }
    return ember_csv_save(&c, path, err);
}

static int run_save_json(const void *self, const char *path, ember_ferr *err)
{
    const train_run *r = self;
    json_t *hist = json_array();
    json_t *root = json_pack("{s:s, s:o}", "description", r->desc, "history", hist);
    int rc = root ? 0 : -1;
    for (int i = 0; rc == 0 && i < r->n; i++) {
        double v[8];
        run_record_values(&r->recs[i], v);
        json_t *rec = json_object();
        rc = rec && json_array_append_new(hist, rec) == 0 ? 0 : -1;
        if (rc == 0)
            rc = json_object_set_new(rec, run_columns[0], json_integer((json_int_t)v[0]));
        for (size_t k = 1; rc == 0 && k < 8; k++)
            rc = json_object_set_new(rec, run_columns[k], ember_json_number(v[k])); /* NaN: null */
    }
    if (rc == 0)
        rc = ember_json_save(root, path, err);
    else
        ember_ferr_set(err, ENOMEM, "out of memory");
    json_decref(root);
    return rc;
}

/* save(path) of the values that are tables of numbers (a run, an
 * evaluation): .csv or .json by the extension, written by csv / json. */
typedef int (*table_writer)(const void *self, const char *path, ember_ferr *err);

static lang_value *save_csv_or_json(lang_ctx *cx, const lang_args *a, const void *self, table_writer csv,
                                    table_writer json, const char *what, const char *formats)
{
    const char *path;
    if (viz_save_path(cx, a, &path) < 0)
        return NULL;
    char ext[16];
    viz_save_ext(path, ext, sizeof ext);
    ember_ferr err;
    int rc;
    if (!strcmp(ext, ".csv"))
        rc = csv(self, path, &err);
    else if (!strcmp(ext, ".json"))
        rc = json(self, path, &err);
    else
        return viz_save_unsupported(cx, a->fname, path, what, formats);
    return rc == 0 ? lang_none() : viz_save_error(cx, a->fname, &err);
}

/* save(path): the history as .csv (one row per epoch) or .json. */
static lang_value *m_run_save(lang_ctx *cx, const lang_args *a)
{
    return save_csv_or_json(cx, a, run_of(a->self), run_save_csv, run_save_json, "a run",
                            ".csv or .json (its history; plot(run).save(path) for the curves)");
}

/* run.table(): one row per epoch, as the reference notebook prints them. */
static lang_value *m_run_table(lang_ctx *cx, const lang_args *a)
{
    const train_run *r = run_of(a->self);
    static const char *cols[] = {"epoch", "lr", "train loss", "train acc", "test loss",
                                 "test acc", "seconds", "images/s"};
    lang_value *rows = lang_list_new((size_t)r->n), *header = lang_list_new(8), *result = NULL;
    if (!rows || !header)
        goto oom;
    for (size_t k = 0; k < 8; k++)
        lang_list_set(header, k, lang_cstr(cols[k]));
    for (int i = 0; i < r->n; i++) {
        const ember_epoch_record *e = &r->recs[i];
        lang_value *row = lang_list_new(8);
        if (!row)
            goto oom;
        char buf[8][32];
        snprintf(buf[1], 32, "%.3g", e->lr);
        snprintf(buf[2], 32, "%.4f", e->train_loss);
        snprintf(buf[3], 32, "%.2f%%", 100 * e->train_acc);
        snprintf(buf[4], 32, isnan(e->test_loss) ? "-" : "%.4f", e->test_loss);
        snprintf(buf[5], 32, isnan(e->test_acc) ? "-" : "%.2f%%", 100 * e->test_acc);
        snprintf(buf[6], 32, "%.1f", e->seconds);
        snprintf(buf[7], 32, "%.0f", e->images_per_sec);
        lang_list_set(row, 0, lang_int(e->epoch + 1));
        for (int k = 1; k < 8; k++)
            lang_list_set(row, (size_t)k, lang_cstr(buf[k]));
        lang_list_set(rows, (size_t)i, row);
    }
    result = viz_table_value(cx, "run.table", rows, header);
    goto out;
oom:
    lang_raise(cx, "MemoryError", "run.table: out of memory");
out:
    if (rows) lang_decref(rows);
    if (header) lang_decref(header);
    return result;
}

static const lang_builtin run_methods[] = {
    {"plot()", "The loss and accuracy curves (train and test) as a plot; plot(run) is the same.",
     m_run_plot},
    {"table()", "One row per epoch: learning rate, train and test loss and accuracy, time.",
     m_run_table},
    {"save(path)",
     "Write the history to path by its extension: .csv, one row per epoch with the columns "
     "epoch, lr, train_loss, train_acc, test_loss, test_acc, seconds, images_per_sec (empty "
     "without a test set), or .json, {\"description\": ..., \"history\": [one object per "
     "epoch]} (null without a test set). save(run, path) is the same.",
     m_run_save},
};

static const lang_type train_run_type = {
    .name = "run",
    .doc = "run: the history of a fit() call, one record per finished epoch, shown as its loss "
           "and accuracy curves. Lists per epoch: run.epochs, run.train_loss, run.train_acc, "
           "run.test_loss, run.test_acc (none without a test set), run.lr, run.seconds, "
           "run.images_per_sec (accuracies are fractions). run.table() lists them; plot(run) "
           "draws them; run.save(path) writes them (.csv or .json). model.history is the run "
           "of every epoch the model has trained.",
    .free = run_free,
    .repr = run_repr,
    .mime = run_mime,
    .mime_metadata = run_mime_metadata,
    .getattr = run_getattr,
    .attr_names = run_attr_names,
    .methods = run_methods,
    .nmethods = sizeof run_methods / sizeof *run_methods,
};

static const train_run *run_of(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &train_run_type)
        return NULL;
    return v->as.obj.data;
}

lang_value *train_run_value(lang_ctx *cx, const ember_epoch_record *recs, int n, const char *desc)
{
    train_run *r = calloc(1, sizeof *r);
    if (r && n > 0) {
        r->recs = malloc((size_t)n * sizeof *r->recs);
        if (r->recs)
            memcpy(r->recs, recs, (size_t)n * sizeof *r->recs);
    }
    if (!r || (n > 0 && !r->recs)) {
        if (r)
            free(r);
        return lang_raise(cx, "MemoryError", "out of memory for a run value");
    }
    r->n = n;
    snprintf(r->desc, sizeof r->desc, "%s", desc ? desc : "");
    lang_value *v = lang_object(&train_run_type, r);
    return v ? v : lang_raise(cx, "MemoryError", "out of memory for a run value");
}

/* ---- fit ---- */

typedef struct fit_ui {
    lang_ctx *cx;
    progress_bar *pb;
    int64_t steps_per_epoch, total_steps;
    int64_t start_step; /* steps of the first epoch done before this call (a resumed run) */
    int epochs, first_epoch;
    int saved_stop;     /* the checkpoint written at the stop: 1 written, 0 none, -1 failed */
    int live;
    char display_id[64];
    int plot_shown;
    const ember_fit_history *hist;
    int hist_start;
    char title[160];
} fit_ui;

static int fit_on_step(void *ctx, const ember_fit_progress *p)
{
    fit_ui *ui = ctx;
    int64_t done = (int64_t)p->epoch_in_call * ui->steps_per_epoch + p->step - ui->start_step;
    char post[96];
    snprintf(post, sizeof post, "epoch %d/%d, loss=%.4f, acc=%.1f%%, lr=%.3g",
             p->epoch + 1, ui->first_epoch + ui->epochs, p->loss, 100 * p->acc, p->lr);
    progress_bar_set_postfix(ui->pb, post);
    progress_bar_update(ui->pb, (double)done);
    return lang_check_interrupt(ui->cx) < 0;
}

/* The test evaluation after each epoch (minutes for the full model on a
 * CPU): interrupts reach it too. */
static int fit_on_eval(void *ctx, int64_t done, int64_t total)
{
    fit_ui *ui = ctx;
    (void)done, (void)total;
    return lang_check_interrupt(ui->cx) < 0;
}

static void show_curves(fit_ui *ui)
{
    int n = ui->hist->n - ui->hist_start;
    if (n <= 0)
        return;
    ember_png png;
    char err[256];
    if (render_curves(ui->hist->epochs + ui->hist_start, n, ui->title, EMBER_FIGURE_PNG, &png, err,
                      sizeof err) != 0)
        return; /* a missed frame; training goes on */
    json_t *data = NULL, *meta = NULL;
    if (ember_png_bundle(&png, "<training curves>", &data, &meta, err, sizeof err) == 0) {
        lang_display_bundle(ui->cx, data, meta, ui->display_id, ui->plot_shown);
        ui->plot_shown = 1;
    }
    json_decref(data);
    json_decref(meta);
    ember_png_free(&png);
}

static int fit_on_epoch(void *ctx, const ember_epoch_record *e)
{
    fit_ui *ui = ctx;
    char line[256], test[80] = "";
    if (!isnan(e->test_acc))
        snprintf(test, sizeof test, "  test loss %.4f acc %6.2f%%", e->test_loss, 100 * e->test_acc);
    int len = snprintf(line, sizeof line,
                       "epoch %3d/%d  lr %.3g  train loss %.4f acc %6.2f%%%s  %.1f s  %.0f img/s\n",
                       e->epoch + 1, ui->first_epoch + ui->epochs, e->lr, e->train_loss,
                       100 * e->train_acc, test, e->seconds, e->images_per_sec);
    lang_write(ui->cx, "stdout", line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
    if (ui->live)
        show_curves(ui);
    return lang_check_interrupt(ui->cx) < 0;
}

/* A checkpoint that could not be written is said once, on stderr, and
 * training goes on (the previous checkpoint is as it was). */
static void fit_on_checkpoint(void *ctx, const ember_fit_saved *sv)
{
    fit_ui *ui = ctx;
    if (sv->step > 0)
        ui->saved_stop = sv->ok ? 1 : -1;
    if (sv->ok)
        return;
    char line[900], where[96];
    if (sv->step > 0)
        snprintf(where, sizeof where, "at step %" PRId64 " of epoch %d", sv->step, sv->epochs_done + 1);
    else
        snprintf(where, sizeof where, "after epoch %d", sv->epochs_done);
    int len = snprintf(line, sizeof line, "fit: checkpoint %s not written, training goes on: %s\n", where,
                       sv->error ? sv->error : "unknown error");
    lang_write(ui->cx, "stderr", line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
}

/* A continued run (fit(resume=) or a model loaded from a checkpoint) must
 * compute what the uninterrupted run would have: settings that differ are
 * refused, naming each, unless allow_changes; and a run stopped inside an
 * epoch cannot change how that epoch's batches are made. Raises, -1. */
static int check_resume(lang_ctx *cx, const char *from, const ember_fit_config *was,
                        const ember_fit_position *pos, int epochs_done, const ember_fit_config *now,
                        int allow)
{
    char diff[1800];
    int order = 0;
    if (ember_fit_config_diff(was, now, diff, sizeof diff, &order) == 0)
        return 0;
    if (pos->step > 0 && order) {
        lang_raise(cx, "ValueError",
                   "fit: the run in %s stopped in the middle of epoch %d (after step %" PRId64
                   "), and these settings change how that epoch's batches are made: %s. Continue "
                   "it with the settings it was started with until the epoch ends "
                   "(epochs=%d), then change them",
                   from, epochs_done + 1, pos->step, diff, epochs_done + 1);
        return -1;
    }
    if (allow) {
        char line[2100];
        int len = snprintf(line, sizeof line,
                           "fit: continuing %s with other settings (allow_changes=true): %s\n", from,
                           diff);
        lang_write(cx, "stderr", line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
        return 0;
    }
    lang_raise(cx, "ValueError",
               "fit: %s was trained with other settings: %s. Give the same settings to continue "
               "the run exactly, or allow_changes=true to continue it with these",
               from, diff);
    return -1;
}

static int opt_obj(lang_ctx *cx, const lang_args *a, size_t i, const void *p, const char *what)
{
    if (a->v[i]->kind == LANG_NONE || p)
        return 0;
    lang_arg_error(cx, a, i, "TypeError", what);
    return -1;
}

/* How resume= was given. */
enum { RESUME_NO, RESUME_AUTO, RESUME_PATH };

/* The whole run of a resumed fit (model.history), with a line saying so. */
static lang_value *whole_run(lang_ctx *cx, const train_model_state *st, const char *dev,
                             const char *prec, int batch)
{
    char desc[200];
    snprintf(desc, sizeof desc, "every epoch of the run, %s %s, batch %d", dev, prec, batch);
    return train_run_value(cx, st->history.epochs, st->history.n, desc);
}

static lang_value *b_fit(lang_ctx *cx, const lang_args *a)
{
    /* fit(model, train, test, augment, epochs, batch_size, optimizer, schedule, loss, seed,
     *     steps_per_epoch, live, checkpoint, resume, allow_changes) */
    ember_vit *vit = train_model_of(a->v[0]);
    if (!vit)
        return lang_arg_error(cx, a, 0, "TypeError", "a model (e.g. vit())");
    train_model_state *st = train_model_state_of(a->v[0]);
    const ember_dataset *train = data_dataset_of(a->v[1]);
    if (!train)
        return lang_arg_error(cx, a, 1, "TypeError", "a dataset (e.g. cifar10('train'))");
    const ember_dataset *test = data_dataset_of(a->v[2]);
    const ember_augment *aug = data_augment_of(a->v[3]);
    const train_adamw *opt = train_adamw_of(a->v[6]);
    const train_multistep *sched = train_multistep_of(a->v[7]);
    const train_loss *loss = train_loss_of(a->v[8]);
    if (opt_obj(cx, a, 2, test, "a dataset or none") < 0 ||
        opt_obj(cx, a, 3, aug, "a transform (e.g. compose(...)) or none") < 0 ||
        opt_obj(cx, a, 6, opt, "adamw(...) or none") < 0 ||
        opt_obj(cx, a, 7, sched, "multistep(...) or none") < 0 ||
        opt_obj(cx, a, 8, loss, "cross_entropy(...) or none") < 0)
        return NULL;
    int64_t epochs, batch, seed, spe;
    int live, allow;
    if (lang_arg_int(cx, a, 4, &epochs) < 0 || lang_arg_int(cx, a, 5, &batch) < 0 ||
        lang_arg_int(cx, a, 9, &seed) < 0 || lang_arg_int(cx, a, 10, &spe) < 0 ||
        lang_arg_bool(cx, a, 11, &live) < 0 || lang_arg_bool(cx, a, 14, &allow) < 0)
        return NULL;
    if (epochs < 1 || epochs > 100000)
        return lang_arg_error(cx, a, 4, "ValueError", "an integer from 1 to 100000");
    if (batch < 1 || batch > 65536)
        return lang_arg_error(cx, a, 5, "ValueError", "a positive integer up to 65536");
    if (seed < 0)
        return lang_arg_error(cx, a, 9, "ValueError", "an integer >= 0");
    if (spe < 0 || spe > INT32_MAX)
        return lang_arg_error(cx, a, 10, "ValueError", "an integer >= 0 (0: every batch)");
    if (sched && sched->n > EMBER_FIT_MAX_MILESTONES)
        return lang_raise(cx, "ValueError", "fit: at most %d milestones", EMBER_FIT_MAX_MILESTONES);
    /* checkpoint: a path or none; resume: false/none, true (from checkpoint
     * when it exists) or a path (which must exist) */
    const char *ckpt = NULL, *resume_path = NULL;
    if (a->v[12]->kind != LANG_NONE) {
        if (lang_arg_str(cx, a, 12, &ckpt) < 0)
            return NULL;
        if (!*ckpt)
            return lang_arg_error(cx, a, 12, "ValueError", "none or a file name such as 'run.ckpt'");
    }
    int resume = RESUME_NO;
    const lang_value *rv = a->v[13];
    if (rv->kind == LANG_STR) {
        if (lang_arg_str(cx, a, 13, &resume_path) < 0)
            return NULL;
        if (!*resume_path)
            return lang_arg_error(cx, a, 13, "ValueError", "true, false or a checkpoint's path");
        resume = RESUME_PATH;
    } else if (rv->kind == LANG_BOOL) {
        /* resume=true without checkpoint= has nothing to continue: the run
         * starts (so a notebook can turn checkpoints off with checkpoint=none
         * and keep resume=true) */
        if (rv->as.b) {
            resume = RESUME_AUTO;
            resume_path = ckpt;
        }
    } else if (rv->kind != LANG_NONE) {
        return lang_arg_error(cx, a, 13, "TypeError", "true, false or a checkpoint's path");
    }

    ember_fit_opts o = ember_fit_default_opts();
    o.epochs = (int)epochs;
    o.first_epoch = st ? st->epochs_done : 0;
    o.batch_size = (int)batch;
    o.max_steps_per_epoch = (int)spe;
    o.seed = (uint64_t)seed;
    if (opt) {
        o.lr = opt->lr;
        o.adamw = opt->cfg;
    } else {
        o.lr = 1e-3; /* torch.optim.AdamW's defaults */
        o.adamw = ember_adamw_default();
        o.adamw.weight_decay = 0.01;
    }
    o.n_milestones = 0;
    if (sched) {
        o.n_milestones = sched->n;
        for (int i = 0; i < sched->n; i++)
            o.milestones[i] = sched->milestones[i];
        o.gamma = sched->gamma;
    }
    o.label_smoothing = loss ? loss->label_smoothing : 0.0;
    ember_fit_config now;
    ember_fit_config_of(&o, aug, train->n, &now);

    ember_err err;
    ember_err_clear(&err);
    /* the checks fit makes first, so a bad call shows no progress bar */
    if (ember_fit_check_dataset(vit, train, aug, "train set", &err) != 0 ||
        (test && ember_fit_check_dataset(vit, test, NULL, "test set", &err) != 0))
        return lang_raise(cx, "ValueError", "fit: %s", err.msg);
    if (ckpt) {
        ember_ferr fe;
        if (ember_afile_check(ckpt, &fe) != 0)
            return viz_save_error(cx, "fit", &fe);
        /* An earlier run's checkpoint about to be replaced: say so once, as
         * a forgotten resume=true would otherwise cost that run. */
        struct stat sb;
        if (resume == RESUME_NO && stat(ckpt, &sb) == 0) {
            char line[700];
            int len = snprintf(line, sizeof line,
                               "fit: '%s' exists; this run's checkpoints replace it "
                               "(resume=true would continue it instead)\n",
                               ckpt);
            lang_write(cx, "stdout", line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
        }
    }

    /* Resuming: everything is read and checked before the model changes. */
    char from[600] = "";
    if (resume != RESUME_NO && resume_path) {
        struct stat sb;
        if (stat(resume_path, &sb) != 0 && errno == ENOENT) {
            if (resume == RESUME_PATH)
                return lang_raise(cx, "FileNotFoundError",
                                  "fit: no checkpoint '%s' to resume from (resume=true starts from "
                                  "the beginning when the checkpoint= file does not exist yet)",
                                  resume_path);
            char line[700];
            int len = snprintf(line, sizeof line,
                               "fit: no checkpoint '%s' yet, so the run starts from the beginning\n",
                               resume_path);
            lang_write(cx, "stdout", line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
        } else {
            ember_ckpt ck;
            if (ember_ckpt_open(&ck, resume_path, &err) != 0) {
                ember_ckpt_close(&ck);
                return lang_raise(cx, "ValueError", "fit: cannot resume: %s", err.msg);
            }
            int has_opt = ember_st_find(&ck.file, "optimizer.state.0.exp_avg") != NULL;
            snprintf(from, sizeof from, "'%s'", resume_path);
            if (!ck.training) {
                ember_ckpt_close(&ck);
                return lang_raise(cx, "ValueError",
                                  "fit: cannot resume from '%s': %s", resume_path,
                                  has_opt ? "it holds optimizer state but not Ember's training state "
                                            "(the epoch, the position and the random streams); resume "
                                            "needs a checkpoint written by fit(..., checkpoint=path) or "
                                            "save(model, 'name.ckpt')"
                                          : "it holds weights but no optimizer state, so training cannot "
                                            "continue from it; a checkpoint comes from fit(..., "
                                            "checkpoint=path) or save(model, 'name.ckpt'), and "
                                            "load_model(path) loads weights");
            }
            if (train_model_check_checkpoint(cx, "fit", a->v[0], &ck, resume_path) < 0 ||
                (ck.has_config &&
                 check_resume(cx, from, &ck.config, &ck.pos, ck.epochs_done, &now, allow) < 0) ||
                train_model_apply_checkpoint(cx, "fit", a->v[0], &ck, resume_path) < 0) {
                ember_ckpt_close(&ck);
                return NULL;
            }
            ember_ckpt_close(&ck);
        }
    } else if (st->resume_pending && st->has_config) {
        snprintf(from, sizeof from, "the checkpoint '%s'", st->resumed_from);
        if (check_resume(cx, from, &st->config, &st->pos, st->epochs_done, &now, allow) < 0)
            return NULL;
    }
    o.first_epoch = st->epochs_done;
    if (st->resume_pending)
        o.start = st->pos;
    const char *dev = train_model_device(a->v[0]);
    const char *prec = ember_vit_mixed(vit) ? "bf16" : "fp32";
    if (resume != RESUME_NO) {
        /* With resume, epochs is where the run ends, as in a PyTorch loop
         * `for epoch in range(start_epoch, epochs)`: rerunning the same cell
         * continues the run and never trains past it. */
        int left = (int)epochs - st->epochs_done;
        if (left <= 0) {
            char line[700];
            int len = snprintf(line, sizeof line,
                               "fit: the run %s%s has done %d of its epochs=%" PRId64
                               "; nothing left to train\n",
                               from[0] ? "in " : "", from, st->epochs_done, epochs);
            lang_write(cx, "stdout", line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
            return whole_run(cx, st, dev, prec, o.batch_size);
        }
        o.epochs = left;
    }

    static atomic_uint serial;
    fit_ui ui = {.cx = cx, .epochs = o.epochs, .first_epoch = o.first_epoch, .live = live,
                 .hist = &st->history, .hist_start = st->history.n, .start_step = o.start.step};
    ui.steps_per_epoch = ember_fit_steps_per_epoch(&o, train->n);
    ui.total_steps = ui.steps_per_epoch * o.epochs - o.start.step;
    snprintf(ui.display_id, sizeof ui.display_id, "ember-fit-%ld-%u", (long)getpid(),
             atomic_fetch_add(&serial, 1) + 1);
    char ntrain[32], ntest[32], params[32];
    lang_format_thousands(train->n, ntrain, sizeof ntrain);
    lang_format_thousands(test ? test->n : 0, ntest, sizeof ntest);
    lang_format_thousands(vit->n_trainable, params, sizeof params);
    snprintf(ui.title, sizeof ui.title, "ViT (%s parameters) on %s", params, train->name);
    {
        char line[1400];
        int len = snprintf(line, sizeof line,
                           "fit: %s parameters on %s (%s); %s train images%s%s%s, %" PRId64
                           " steps an epoch of batch %d; epochs %d-%d; seed %" PRId64 "\n",
                           params, dev, prec, ntrain, test ? ", " : "", test ? ntest : "",
                           test ? " test images" : "", ui.steps_per_epoch, o.batch_size,
                           o.first_epoch + 1, o.first_epoch + o.epochs, seed);
        if (st->resume_pending && len > 0 && len < (int)sizeof line) {
            char pos[160] = "";
            if (o.start.step > 0)
                snprintf(pos, sizeof pos, ", and %" PRId64 " of the %" PRId64 " steps of epoch %d",
                         o.start.step, ui.steps_per_epoch, o.first_epoch + 1);
            len += snprintf(line + len, sizeof line - (size_t)len,
                            "fit: continuing the run of '%s': %d epoch%s done%s\n", st->resumed_from,
                            st->epochs_done, st->epochs_done == 1 ? "" : "s", pos);
        }
        lang_write(cx, "stdout", line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
    }
    char *meta = NULL;
    if (ckpt) {
        meta = train_model_metadata(a->v[0]);
        if (!meta)
            return lang_raise(cx, "MemoryError", "fit: out of memory");
        o.checkpoint = ckpt;
        o.checkpoint_meta = meta;
    }
    ember_fit_position stopped;
    o.stopped_at = &stopped;
    if (live)
        ui.pb = progress_bar_start(cx, &(progress_bar_opts){.desc = "fit", .unit = "step",
                                                            .total = (double)ui.total_steps});
    ember_fit_callbacks cb = {.ctx = &ui, .on_step = fit_on_step, .on_eval = fit_on_eval,
                              .on_epoch = fit_on_epoch, .on_checkpoint = fit_on_checkpoint};
    int rc = ember_fit(vit, train, test, aug, &o, &cb, &st->history, &err);
    free(meta);
    int done = st->history.n - ui.hist_start;
    st->epochs_done += done;
    if (done > 0) { /* evaluate(model, test) then prepares images as this fit did */
        ember_augment test_aug;
        st->has_normalize = ember_fit_test_pipeline(aug, &test_aug) != NULL;
        if (st->has_normalize)
            st->normalize = test_aug.steps[0];
    }
    /* What the model remembers of its run (save(model, 'x.ckpt') writes
     * it), unless the call failed before training anything. */
    if (rc == 0 || done > 0 || stopped.step > 0) {
        st->config = now;
        st->has_config = 1;
        memset(&st->pos, 0, sizeof st->pos);
        if (rc != 0)
            st->pos = stopped;
        st->resume_pending = 0;
    }
    /* Stopped: by a callback that saw the interrupt, or by the engine
     * inside a step (the step then was not applied). */
    progress_bar_finish(ui.pb, rc == 0                   ? PROGRESS_OK
                               : rc == EMBER_FIT_STOPPED ? PROGRESS_INTERRUPTED
                                                         : PROGRESS_ERROR);
    if (rc < 0)
        return lang_raise(cx, strstr(err.msg, "out of memory") ? "MemoryError" : "RuntimeError",
                          "fit: %s", err.msg);
    if (rc == EMBER_FIT_STOPPED) {
        char line[1200], saved[800] = "";
        if (ckpt && ui.saved_stop == 1)
            snprintf(saved, sizeof saved,
                     "; '%s' holds the run as it stopped (epoch %d, step %" PRId64 " of %" PRId64
                     "), and fit(..., resume=true) continues it there",
                     ckpt, st->epochs_done + 1, stopped.step, ui.steps_per_epoch);
        else if (ckpt)
            snprintf(saved, sizeof saved, "; '%s' holds the run as of its last finished epoch", ckpt);
        int len = snprintf(line, sizeof line,
                           "fit: interrupted after %d finished epoch%s; the model keeps the "
                           "weights of its last step, and model.history has every finished "
                           "epoch%s\n",
                           done, done == 1 ? "" : "s", saved);
        lang_write(cx, "stderr", line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
        if (lang_error_pending(cx) || lang_check_interrupt(cx) < 0)
            return NULL;
        return lang_raise(cx, "KeyboardInterrupt", "fit interrupted");
    }
    if (resume != RESUME_NO)
        return whole_run(cx, st, dev, prec, o.batch_size);
    char desc[200];
    snprintf(desc, sizeof desc, "%s, %s %s, batch %d", train->name, dev, prec, o.batch_size);
    return train_run_value(cx, st->history.epochs + ui.hist_start, done, desc);
}

/* ---- evaluation ---- */

typedef struct train_eval {
    ember_eval_result r;
    lang_value *dataset; /* kept for the sample pictures */
    char name[96];
    int64_t shown_correct;
} train_eval;

static void eval_free(void *data)
{
    train_eval *e = data;
    ember_eval_result_free(&e->r);
    if (e->dataset)
        lang_decref(e->dataset);
    free(e);
}

static const lang_type train_eval_type;

static train_eval *eval_of(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &train_eval_type)
        return NULL;
    return v->as.obj.data;
}

/* Which loss the evaluation reports, so a number is never ambiguous. */
static void loss_name(double smoothing, char *buf, size_t len)
{
    if (smoothing == 0) {
        snprintf(buf, len, "cross-entropy");
        return;
    }
    char s[32];
    lang_format_float(smoothing, s, sizeof s);
    snprintf(buf, len, "cross-entropy, label smoothing %s", s);
}

static char *eval_repr(const lang_value *self)
{
    const train_eval *e = eval_of(self);
    char c[32], n[32], *out = NULL;
    lang_format_thousands(e->r.correct, c, sizeof c);
    lang_format_thousands(e->r.n, n, sizeof n);
    char crit[64];
    loss_name(e->r.label_smoothing, crit, sizeof crit);
    if (asprintf(&out, "<evaluation on %s: accuracy %.2f%% (%s/%s), loss %.4f (%s)>", e->name,
                 100 * e->r.accuracy, c, n, e->r.loss, crit) < 0)
        return NULL;
    return out;
}

static int render_confusion(const train_eval *e, ember_figure_format fmt, ember_png *out, char *err,
                            size_t errlen)
{
    const ember_dataset *ds = data_dataset_of(e->dataset);
    int K = e->r.n_classes;
    double *vals = malloc((size_t)K * (size_t)K * sizeof *vals);
    const char **labels = calloc((size_t)K, sizeof *labels);
    int rc = -1;
    if (!vals || !labels) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < K * K; i++)
        vals[i] = (double)e->r.confusion[i];
    for (int k = 0; k < K; k++)
        labels[k] = k < ds->n_classes ? ds->classes[k] : "?";
    ember_heatmap hm = {.values = vals, .rows = K, .cols = K, .xlabel = "predicted",
                        .ylabel = "true", .colorbar_label = "images", .row_labels = labels,
                        .col_labels = labels};
    ember_figure_opts fig = {.title = "Confusion matrix", .format = fmt};
    rc = ember_plot_heatmap(&hm, &fig, out, err, errlen);
out:
    free(vals);
    free(labels);
    return rc;
}

/* The first n images (or the first n mistakes), captioned "predicted"
 * when right and "predicted (true)" when wrong. */
static int render_samples(const train_eval *e, int n, int errors_only, ember_figure_format fmt,
                          ember_png *out, char *err, size_t errlen)
{
    const ember_dataset *ds = data_dataset_of(e->dataset);
    ember_image *imgs = calloc((size_t)n, sizeof *imgs);
    const ember_image **list = calloc((size_t)n, sizeof *list);
    char (*caps)[2 * EMBER_DATASET_CLASS_NAME_MAX + 8] = calloc((size_t)n, sizeof *caps);
    const char **capp = calloc((size_t)n, sizeof *capp);
    int m = 0, rc = -1;
    if (!imgs || !list || !caps || !capp) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < e->r.n && m < n; i++) {
        int t = ds->labels[i], p = e->r.predictions[i];
        if (errors_only && t == p)
            continue;
        imgs[m] = (ember_image){.width = ds->width, .height = ds->height, .channels = ds->channels,
                                .data = (uint8_t *)ember_dataset_image(ds, i)};
        list[m] = &imgs[m];
        const char *pn = p < ds->n_classes ? ds->classes[p] : "?";
        if (t == p)
            snprintf(caps[m], sizeof caps[m], "%s", pn);
        else
            snprintf(caps[m], sizeof caps[m], "%s (%s)", pn, ds->classes[t]);
        capp[m] = caps[m];
        m++;
    }
    if (m == 0) {
        snprintf(err, errlen, "no %s to show", errors_only ? "mistakes" : "images");
        goto out;
    }
    ember_figure_opts fig = {.title = errors_only ? "Mistakes: predicted (true)"
                                                  : "Samples: predicted (true when wrong)",
                             .format = fmt};
    rc = ember_plot_image_grid(list, capp, (size_t)m, m < 8 ? m : 8, &fig, out, err, errlen);
out:
    free(imgs), free(list), free(caps), free(capp);
    return rc;
}

static json_t *eval_mime(const lang_value *self)
{
    const train_eval *e = eval_of(self);
    const ember_dataset *ds = data_dataset_of(e->dataset);
    lang_strbuf b = {0};
    char c[32], n[32];
    lang_format_thousands(e->r.correct, c, sizeof c);
    lang_format_thousands(e->r.n, n, sizeof n);
    lang_sb_adds(&b, "<div><p><b>");
    lang_sb_html(&b, e->name);
    char crit[64];
    loss_name(e->r.label_smoothing, crit, sizeof crit);
    lang_sb_addf(&b, "</b>: accuracy <b>%.2f%%</b> (%s of %s), loss %.4f (%s)</p>\n",
                 100 * e->r.accuracy, c, n, e->r.loss, crit);
    lang_sb_adds(&b, "<div style=\"display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start\">"
                     "<table><thead><tr><th>class</th><th style=\"text-align:right\">images</th>"
                     "<th style=\"text-align:right\">accuracy</th></tr></thead><tbody>\n");
    for (int k = 0; k < e->r.n_classes && k < ds->n_classes; k++) {
        lang_sb_adds(&b, "<tr><td>");
        lang_sb_html(&b, ds->classes[k]);
        lang_format_thousands(e->r.class_count[k], n, sizeof n);
        lang_sb_addf(&b, "</td><td style=\"text-align:right\">%s</td>", n);
        if (isnan(e->r.class_acc[k]))
            lang_sb_adds(&b, "<td style=\"text-align:right\">-</td></tr>\n");
        else
            lang_sb_addf(&b, "<td style=\"text-align:right\">%.1f%%</td></tr>\n",
                         100 * e->r.class_acc[k]);
    }
    lang_sb_adds(&b, "</tbody></table>\n");
    ember_png png;
    char err[256];
    if (render_confusion(e, EMBER_FIGURE_PNG, &png, err, sizeof err) == 0) {
        html_png(&b, &png, "confusion matrix");
        ember_png_free(&png);
    }
    lang_sb_adds(&b, "</div>\n");
    if (e->r.predictions && render_samples(e, 16, 0, EMBER_FIGURE_PNG, &png, err, sizeof err) == 0) {
        html_png(&b, &png, "samples");
        ember_png_free(&png);
    }
    lang_sb_adds(&b, "</div>");
    return lang_sb_html_bundle(&b);
}

static lang_value *eval_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const train_eval *e = eval_of(self);
    int K = e->r.n_classes;
    if (!strcmp(name, "accuracy"))
        return lang_float(e->r.accuracy);
    if (!strcmp(name, "loss"))
        return lang_float(e->r.loss);
    if (!strcmp(name, "label_smoothing"))
        return lang_float(e->r.label_smoothing);
    if (!strcmp(name, "correct"))
        return lang_int(e->r.correct);
    if (!strcmp(name, "n"))
        return lang_int(e->r.n);
    if (!strcmp(name, "class_acc"))
        return double_list(e->r.class_acc, (size_t)K);
    if (!strcmp(name, "confusion")) {
        lang_value *rows = lang_list_new((size_t)K);
        for (int i = 0; rows && i < K; i++) {
            lang_value *row = lang_list_new((size_t)K);
            if (!row) {
                lang_decref(rows);
                return NULL;
            }
            for (int j = 0; j < K; j++)
                lang_list_set(row, (size_t)j, lang_int(e->r.confusion[i * K + j]));
            lang_list_set(rows, (size_t)i, row);
        }
        return rows;
    }
    if (!strcmp(name, "predictions")) {
        lang_value *l = lang_list_new((size_t)e->r.n);
        for (int64_t i = 0; l && i < e->r.n; i++)
            lang_list_set(l, (size_t)i, lang_int(e->r.predictions[i]));
        return l;
    }
    return NULL;
}

static void eval_attr_names(const lang_value *self, void (*add)(void *acc, const char *name), void *acc)
{
    (void)self;
    static const char *names[] = {"accuracy", "loss", "label_smoothing", "correct", "n", "class_acc", "confusion",
                                  "predictions"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        add(acc, names[i]);
}

/* What confusion_matrix() and samples() drew, to draw them again as SVG
 * or PDF: the evaluation (immutable) and the samples' arguments. */
typedef struct eval_picture {
    lang_value *eval;
    int n, errors; /* samples only */
    int confusion;
} eval_picture;

static void eval_picture_free(void *data)
{
    eval_picture *p = data;
    if (p && p->eval)
        lang_decref(p->eval);
    free(p);
}

static int eval_picture_redraw(void *ctx, ember_figure_format fmt, ember_png *out, char *err,
                               size_t errlen)
{
    const eval_picture *p = ctx;
    const train_eval *e = eval_of(p->eval);
    return p->confusion ? render_confusion(e, fmt, out, err, errlen)
                        : render_samples(e, p->n, p->errors, fmt, out, err, errlen);
}

static lang_value *m_eval_confusion(lang_ctx *cx, const lang_args *a)
{
    ember_png png;
    char err[256];
    eval_picture *p = calloc(1, sizeof *p);
    if (!p)
        return lang_raise(cx, "MemoryError", "evaluation.confusion_matrix: out of memory");
    p->eval = lang_incref(a->self);
    p->confusion = 1;
    if (eval_picture_redraw(p, EMBER_FIGURE_PNG, &png, err, sizeof err) != 0) {
        eval_picture_free(p);
        return lang_raise(cx, "ValueError", "evaluation.confusion_matrix: %s", err);
    }
    int K = eval_of(a->self)->r.n_classes;
    char detail[48];
    snprintf(detail, sizeof detail, "%dx%d values", K, K);
    return viz_plot_from_render(cx, &png, eval_picture_redraw, p, eval_picture_free, "heatmap",
                                "Confusion matrix", detail);
}

static lang_value *m_eval_samples(lang_ctx *cx, const lang_args *a)
{
    int64_t n;
    int errors;
    if (lang_arg_int(cx, a, 0, &n) < 0 || lang_arg_bool(cx, a, 1, &errors) < 0)
        return NULL;
    if (n < 1 || n > 256)
        return lang_arg_error(cx, a, 0, "ValueError", "an integer from 1 to 256");
    eval_picture *p = calloc(1, sizeof *p);
    if (!p)
        return lang_raise(cx, "MemoryError", "evaluation.samples: out of memory");
    p->eval = lang_incref(a->self);
    p->n = (int)n;
    p->errors = errors;
    ember_png png;
    char err[256];
    if (eval_picture_redraw(p, EMBER_FIGURE_PNG, &png, err, sizeof err) != 0) {
        eval_picture_free(p);
        return lang_raise(cx, "ValueError", "evaluation.samples: %s", err);
    }
    return viz_plot_from_render(cx, &png, eval_picture_redraw, p, eval_picture_free, "image grid",
                                errors ? "Mistakes" : "Samples", "predictions");
}

/* The class names of an evaluation, "?" past the dataset's list. */
static const char *class_name(const train_eval *e, int k)
{
    const ember_dataset *ds = data_dataset_of(e->dataset);
    return k < ds->n_classes ? ds->classes[k] : "?";
}

/* One row per true class: its images, correct ones, accuracy, then the
 * confusion matrix's row (how many were predicted as each class). */
static int eval_save_csv(const void *self, const char *path, ember_ferr *err)
{
    const train_eval *e = self;
    int K = e->r.n_classes;
    ember_csv c = {0};
    ember_csv_str(&c, "class");
    ember_csv_str(&c, "images");
    ember_csv_str(&c, "correct");
    ember_csv_str(&c, "accuracy");
    for (int j = 0; j < K; j++) {
        char col[2 * EMBER_DATASET_CLASS_NAME_MAX + 16];
        snprintf(col, sizeof col, "predicted %s", class_name(e, j));
        ember_csv_str(&c, col);
    }
    ember_csv_end_row(&c);
    for (int i = 0; i < K; i++) {
        ember_csv_str(&c, class_name(e, i));
        ember_csv_int(&c, e->r.class_count[i]);
        ember_csv_int(&c, e->r.confusion[(size_t)i * K + i]);
        ember_csv_num(&c, e->r.class_acc[i]); /* no images of the class: empty */
        for (int j = 0; j < K; j++)
            ember_csv_int(&c, e->r.confusion[(size_t)i * K + j]);
        ember_csv_end_row(&c);
    }
    return ember_csv_save(&c, path, err);
}

static int eval_save_json(const void *self, const char *path, ember_ferr *err)
{
    const train_eval *e = self;
    int K = e->r.n_classes;
    char crit[64];
    loss_name(e->r.label_smoothing, crit, sizeof crit);
    json_t *classes = json_array(), *per = json_array(), *conf = json_array();
    json_t *root = json_pack("{s:s, s:I, s:I, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:s}", "dataset",
                             e->name, "images", (json_int_t)e->r.n, "correct",
                             (json_int_t)e->r.correct, "accuracy", ember_json_number(e->r.accuracy),
                             "loss", ember_json_number(e->r.loss), "loss_name", crit,
                             "label_smoothing", ember_json_number(e->r.label_smoothing), "classes",
                             classes, "per_class", per, "confusion", conf, "confusion_axes",
                             "rows: true class, columns: predicted class");
    int rc = root ? 0 : -1;
    for (int i = 0; rc == 0 && i < K; i++) {
        json_t *row = json_array();
        rc = row && json_array_append_new(conf, row) == 0 &&
                     json_array_append_new(classes, json_string(class_name(e, i))) == 0 &&
                     json_array_append_new(
                         per, json_pack("{s:s, s:I, s:I, s:o}", "class", class_name(e, i),
                                        "images", (json_int_t)e->r.class_count[i], "correct",
                                        (json_int_t)e->r.confusion[(size_t)i * K + i], "accuracy",
                                        ember_json_number(e->r.class_acc[i]))) == 0
                 ? 0
                 : -1;
        for (int j = 0; rc == 0 && j < K; j++)
            rc = json_array_append_new(row, json_integer(e->r.confusion[(size_t)i * K + j]));
    }
    if (rc == 0)
        rc = ember_json_save(root, path, err);
    else
        ember_ferr_set(err, ENOMEM, "out of memory");
    json_decref(root);
    return rc;
}

/* save(path): the per-class table with the confusion matrix, .csv or .json. */
static lang_value *m_eval_save(lang_ctx *cx, const lang_args *a)
{
    return save_csv_or_json(cx, a, eval_of(a->self), eval_save_csv, eval_save_json, "an evaluation",
                            ".csv or .json (its per-class table and confusion matrix; "
                            "r.confusion_matrix().save(path) for the picture)");
}

static const lang_builtin eval_methods[] = {
    {"confusion_matrix()", "The confusion matrix (rows: true class, columns: predicted) as a heat map.",
     m_eval_confusion},
    {"samples(n=16, errors=false)",
     "A grid of the first n images captioned with the prediction (and the true class when "
     "wrong); errors=true shows only mistakes.",
     m_eval_samples},
    {"save(path)",
     "Write the numbers to path by its extension: .csv, one row per true class with class, "
     "images, correct, accuracy and then the confusion matrix's row ('predicted <class>' "
     "columns), or .json (accuracy, loss, per_class and confusion: rows true, columns "
     "predicted). save(evaluation, path) is the same.",
     m_eval_save},
};

static const lang_type train_eval_type = {
    .name = "evaluation",
    .doc = "evaluation: what evaluate(model, dataset) measured, shown as the accuracy, a "
           "per-class table, the confusion matrix and captioned samples. Attributes: accuracy "
           "(a fraction), loss (plain cross-entropy unless label_smoothing was given), label_smoothing, correct, n, class_acc, confusion (rows true, columns "
           "predicted), predictions. Methods: confusion_matrix(), samples(n, errors), "
           "save(path) (.csv or .json).",
    .free = eval_free,
    .repr = eval_repr,
    .mime = eval_mime,
    .getattr = eval_getattr,
    .attr_names = eval_attr_names,
    .methods = eval_methods,
    .nmethods = sizeof eval_methods / sizeof *eval_methods,
};

typedef struct eval_ui {
    lang_ctx *cx;
    progress_bar *pb;
} eval_ui;

static int eval_progress(void *ctx, int64_t done, int64_t total)
{
    eval_ui *ui = ctx;
    (void)total;
    progress_bar_update(ui->pb, (double)done);
    return lang_check_interrupt(ui->cx) < 0;
}

static lang_value *b_evaluate(lang_ctx *cx, const lang_args *a)
{
    ember_vit *vit = train_model_of(a->v[0]);
    if (!vit)
        return lang_arg_error(cx, a, 0, "TypeError", "a model (e.g. vit())");
    const ember_dataset *ds = data_dataset_of(a->v[1]);
    if (!ds)
        return lang_arg_error(cx, a, 1, "TypeError", "a dataset (e.g. cifar10('test'))");
    const ember_augment *tf = data_augment_of(a->v[2]);
    if (opt_obj(cx, a, 2, tf, "a transform (e.g. normalize(...)) or none") < 0)
        return NULL;
    int64_t batch;
    if (lang_arg_int(cx, a, 3, &batch) < 0)
        return NULL;
    if (batch < 1 || batch > 65536)
        return lang_arg_error(cx, a, 3, "ValueError", "a positive integer up to 65536");
    double smoothing;
    if (lang_arg_number(cx, a, 4, &smoothing) < 0)
        return NULL;
    if (!(smoothing >= 0 && smoothing < 1))
        return lang_arg_error(cx, a, 4, "ValueError", "a number in [0, 1)");
    /* none: test images are normalised as the model's training images were */
    const train_model_state *st = train_model_state_of(a->v[0]);
    ember_augment norm = {0};
    if (!tf && st && st->has_normalize) {
        norm.n = 1;
        norm.steps[0] = st->normalize;
        tf = &norm;
    }
    train_eval *e = calloc(1, sizeof *e);
    if (!e)
        return lang_raise(cx, "MemoryError", "evaluate: out of memory");
    ember_err err;
    ember_err_clear(&err);
    progress_bar *pb = progress_bar_start(cx, &(progress_bar_opts){.desc = "evaluate",
                                                                    .unit = "img",
                                                                    .total = (double)ds->n});
    eval_ui ui = {.cx = cx, .pb = pb};
    int rc = ember_evaluate(vit, ds, tf, (int)batch, smoothing, 1, eval_progress, &ui, &e->r, &err);
    progress_bar_finish(pb, rc == 0                   ? PROGRESS_OK
                            : rc == EMBER_FIT_STOPPED ? PROGRESS_INTERRUPTED
                                                      : PROGRESS_ERROR);
    if (rc != 0) {
        free(e);
        /* Stopped by eval_progress or inside a batch's forward. */
        if (rc == EMBER_FIT_STOPPED) {
            if (lang_error_pending(cx) || lang_check_interrupt(cx) < 0)
                return NULL;
            return lang_raise(cx, "KeyboardInterrupt", "evaluate interrupted");
        }
        return lang_raise(cx, strstr(err.msg, "out of memory") ? "MemoryError" : "ValueError",
                          "evaluate: %s", err.msg);
    }
    e->dataset = lang_incref(a->v[1]);
    snprintf(e->name, sizeof e->name, "%s", ds->name);
    lang_value *v = lang_object(&train_eval_type, e);
    return v ? v : lang_raise(cx, "MemoryError", "evaluate: out of memory");
}

static const lang_builtin fit_builtins[] = {
    {"fit(model, train, test=none, augment=none, epochs=1, batch_size=128, optimizer=none, "
     "schedule=none, loss=none, seed=0, steps_per_epoch=0, live=true, checkpoint=none, "
     "resume=false, allow_changes=false)",
     "Train model on the train dataset, as a PyTorch training loop does: each epoch shuffles "
     "the images, augments them (augment, e.g. compose(...); its normalize step is also "
     "applied to the test images), and takes one optimizer step per batch of batch_size (the "
     "last smaller batch included), then measures loss and accuracy on test. optimizer is "
     "adamw(...) (none: adamw with PyTorch's defaults), schedule multistep(...) stepped once "
     "per epoch (none: a constant rate), loss cross_entropy(...). seed fixes the shuffling, "
     "augmentation and dropout. steps_per_epoch > 0 caps the steps of each epoch for quick "
     "runs. Shows a progress bar, one line per epoch and live loss/accuracy curves (live=false: "
     "the lines only). Returns a run (plot(run) draws it). Calling fit again continues "
     "training (the schedule goes on from the epochs done). Interrupting keeps the weights "
     "of the last step; model.history keeps the finished epochs. checkpoint='run.ckpt' writes "
     "the whole training state (weights, AdamW state, schedule, position, random streams, "
     "history) to that file after every epoch and when interrupted, atomically; a failed write "
     "is said on stderr and training goes on. resume=true continues the run in the checkpoint "
     "file when it exists (else, or without checkpoint=, starts it), resume='path' from that "
     "file; with resume, epochs "
     "is where the run ends (a rerun of the same cell trains only what is left) and the run "
     "returned holds every epoch. The settings must be those the checkpoint was written with "
     "(differences are named); allow_changes=true continues with new ones.",
     b_fit},
    {"evaluate(model, dataset, transform=none, batch_size=256, label_smoothing=0)",
     "Accuracy and loss of model on dataset (dropout off), with a per-class table, the "
     "confusion matrix and captioned samples. The loss is plain cross-entropy, as PyTorch "
     "evaluation loops report it; label_smoothing > 0 gives the label-smoothed criterion "
     "instead (fit's per-epoch test loss uses the training criterion). transform prepares "
     "the images (none: the normalize step the model was trained with by fit, if any).",
     b_evaluate},
};

void register_train_fit_builtins(void)
{
    lang_register_builtins(fit_builtins, sizeof fit_builtins / sizeof *fit_builtins);
}
