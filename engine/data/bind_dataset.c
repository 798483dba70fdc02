/* bind_dataset.c — dataset values in the language: cifar10(), the "dataset"
 * type (len, indexing to images, classes and labels, take()), and the
 * registration of every engine/data builtin. */
#include "data/bind.h"
#include "data/cifar10.h"
#include "viz/bind.h" /* engine/viz: image values, progress bars */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct data_dataset {
    ember_dataset ds;
} data_dataset;

static void dataset_free(void *data)
{
    data_dataset *d = data;
    ember_dataset_free(&d->ds);
    free(d);
}

lang_value *data_dataset_value(lang_ctx *cx, ember_dataset *ds)
{
    data_dataset *d = malloc(sizeof *d);
    if (!d) {
        ember_dataset_free(ds);
        return lang_raise(cx, "MemoryError", "out of memory for a dataset value");
    }
    d->ds = *ds;
    memset(ds, 0, sizeof *ds);
    lang_value *v = lang_object(&data_dataset_type, d);
    return v ? v : lang_raise(cx, "MemoryError", "out of memory for a dataset value");
}

const ember_dataset *data_dataset_of(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &data_dataset_type)
        return NULL;
    return &((const data_dataset *)v->as.obj.data)->ds;
}

static const char *mode_name(int channels)
{
    return channels == 1 ? "grey" : channels == 3 ? "RGB" : "RGBA";
}

static char *dataset_repr(const lang_value *self)
{
    const ember_dataset *ds = data_dataset_of(self);
    char n[32], *out = NULL;
    lang_format_thousands(ds->n, n, sizeof n);
    if (asprintf(&out, "<dataset %s: %s images %dx%d %s, %d classes>", ds->name, n, ds->width,
                 ds->height, mode_name(ds->channels), ds->n_classes) < 0)
        return NULL;
    return out;
}

/* A summary table: one row per class with its count and share. */
static json_t *dataset_mime(const lang_value *self)
{
    const ember_dataset *ds = data_dataset_of(self);
    int64_t counts[EMBER_DATASET_MAX_CLASSES];
    ember_dataset_class_counts(ds, counts);
    lang_strbuf b = {0};
    char n[32];
    lang_format_thousands(ds->n, n, sizeof n);
    lang_sb_adds(&b, "<div><b>");
    lang_sb_html(&b, ds->name);
    lang_sb_addf(&b, "</b>: %s images, %dx%d %s, %d classes<br><small>from <code>", n, ds->width,
                 ds->height, mode_name(ds->channels), ds->n_classes);
    lang_sb_html(&b, ds->source);
    lang_sb_adds(&b, "</code></small>\n<table><thead><tr><th>label</th><th>class</th>"
                     "<th style=\"text-align:right\">images</th>"
                     "<th style=\"text-align:right\">share</th></tr></thead><tbody>\n");
    for (int k = 0; k < ds->n_classes; k++) {
        lang_format_thousands(counts[k], n, sizeof n);
        lang_sb_addf(&b, "<tr><td>%d</td><td>", k);
        lang_sb_html(&b, ds->classes[k]);
        lang_sb_addf(&b, "</td><td style=\"text-align:right\">%s</td>"
                         "<td style=\"text-align:right\">%.1f%%</td></tr>\n",
                     n, ds->n ? 100.0 * (double)counts[k] / (double)ds->n : 0.0);
    }
    lang_sb_adds(&b, "</tbody></table></div>");
    return lang_sb_html_bundle(&b);
}

/* One image of the dataset as an image value (a copy of its pixels). */
static lang_value *dataset_image(lang_ctx *cx, const ember_dataset *ds, int64_t i)
{
    ember_image img;
    char err[256];
    if (ember_image_alloc(&img, ds->width, ds->height, ds->channels, err, sizeof err) != 0)
        return lang_raise(cx, "MemoryError", "dataset: %s", err);
    memcpy(img.data, ember_dataset_image(ds, i), ember_dataset_image_bytes(ds));
    lang_value *v = viz_image_value(&img);
    return v ? v : lang_raise(cx, "MemoryError", "dataset: out of memory");
}

static int index_of(lang_ctx *cx, const ember_dataset *ds, const lang_value *key, const char *what,
                    int64_t *out)
{
    if (key->kind != LANG_INT) {
        lang_raise(cx, "TypeError", "%s: indices must be integers, got %s", what,
                   lang_type_name(key));
        return -1;
    }
    int64_t i = key->as.i;
    if (i < 0)
        i += ds->n;
    if (i < 0 || i >= ds->n) {
        lang_raise(cx, "IndexError", "%s: index %" PRId64 " is out of range for %" PRId64 " images",
                   what, key->as.i, ds->n);
        return -1;
    }
    *out = i;
    return 0;
}

static lang_value *dataset_index(lang_ctx *cx, lang_value *self, lang_value *key)
{
    const ember_dataset *ds = data_dataset_of(self);
    int64_t i;
    if (index_of(cx, ds, key, "dataset", &i) < 0)
        return NULL;
    return dataset_image(cx, ds, i);
}

static int dataset_len(lang_ctx *cx, lang_value *self, int64_t *out)
{
    (void)cx;
    *out = data_dataset_of(self)->n;
    return 0;
}

static lang_value *int_list(const int64_t *v, size_t n)
{
    lang_value *l = lang_list_new(n);
    if (!l)
        return NULL;
    for (size_t i = 0; i < n; i++)
        lang_list_set(l, i, lang_int(v[i]));
    return l;
}

static lang_value *dataset_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const ember_dataset *ds = data_dataset_of(self);
    if (!strcmp(name, "name"))
        return lang_cstr(ds->name);
    if (!strcmp(name, "source"))
        return lang_cstr(ds->source);
    if (!strcmp(name, "classes")) {
        lang_value *l = lang_list_new((size_t)ds->n_classes);
        if (!l)
            return NULL;
        for (int k = 0; k < ds->n_classes; k++)
            lang_list_set(l, (size_t)k, lang_cstr(ds->classes[k]));
        return l;
    }
    if (!strcmp(name, "labels")) {
        lang_value *l = lang_list_new((size_t)ds->n);
        if (!l)
            return NULL;
        for (int64_t i = 0; i < ds->n; i++)
            lang_list_set(l, (size_t)i, lang_int(ds->labels[i]));
        return l;
    }
    if (!strcmp(name, "class_counts")) {
        int64_t counts[EMBER_DATASET_MAX_CLASSES];
        ember_dataset_class_counts(ds, counts);
        return int_list(counts, (size_t)ds->n_classes);
    }
    if (!strcmp(name, "shape")) { /* [n, height, width, channels], as numpy users expect */
        int64_t s[4] = {ds->n, ds->height, ds->width, ds->channels};
        return int_list(s, 4);
    }
    return NULL;
}

static void dataset_attr_names(const lang_value *self, void (*add)(void *acc, const char *name),
                               void *acc)
{
    (void)self;
    static const char *names[] = {"name", "source", "classes", "labels", "class_counts", "shape"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        add(acc, names[i]);
}

/* take(n, start=0): images start .. start+n-1 as a new dataset (for quick
 * runs on a part of the data). */
static lang_value *m_take(lang_ctx *cx, const lang_args *a)
{
    const ember_dataset *ds = data_dataset_of(a->self);
    int64_t n, start;
    if (lang_arg_int(cx, a, 0, &n) < 0 || lang_arg_int(cx, a, 1, &start) < 0)
        return NULL;
    if (start < 0 || start >= ds->n) {
        char expected[96];
        snprintf(expected, sizeof expected, "an integer from 0 to %" PRId64, ds->n - 1);
        return lang_arg_error(cx, a, 1, "ValueError", expected);
    }
    if (n < 1)
        return lang_arg_error(cx, a, 0, "ValueError", "a positive integer");
    if (n > ds->n - start)
        n = ds->n - start;
    ember_dataset sub = *ds;
    size_t bytes = ember_dataset_image_bytes(ds);
    sub.pixels = malloc((size_t)n * bytes);
    sub.labels = malloc((size_t)n);
    if (!sub.pixels || !sub.labels) {
        free(sub.pixels);
        free(sub.labels);
        return lang_raise(cx, "MemoryError", "dataset.take: out of memory for %" PRId64 " images", n);
    }
    memcpy(sub.pixels, ember_dataset_image(ds, start), (size_t)n * bytes);
    memcpy(sub.labels, ds->labels + start, (size_t)n);
    sub.n = n;
    /* "CIFAR-10 train [10:110]"; a long name is cut before the range */
    char range[48];
    snprintf(range, sizeof range, " [%" PRId64 ":%" PRId64 "]", start, start + n);
    size_t keep = strlen(ds->name);
    if (keep + strlen(range) >= sizeof sub.name)
        keep = sizeof sub.name - 1 - strlen(range);
    memcpy(sub.name, ds->name, keep);
    memcpy(sub.name + keep, range, strlen(range) + 1);
    return data_dataset_value(cx, &sub);
}

static lang_value *m_label(lang_ctx *cx, const lang_args *a)
{
    const ember_dataset *ds = data_dataset_of(a->self);
    int64_t i;
    if (index_of(cx, ds, a->v[0], "dataset.label", &i) < 0)
        return NULL;
    return lang_int(ds->labels[i]);
}

static const lang_builtin dataset_methods[] = {
    {"take(n, start=0)",
     "The images start .. start+n-1 as a new dataset (fewer when the dataset ends first), for "
     "quick runs on a part of the data.",
     m_take},
    {"label(i)", "The class index of image i (train.classes[train.label(i)] is its name).", m_label},
};

const lang_type data_dataset_type = {
    .name = "dataset",
    .doc = "dataset: labelled images kept in memory (made by cifar10()). len(d) images; d[i] is "
           "image i as an image value and d.label(i) its class index; d.classes names the "
           "classes, d.labels lists every label, d.class_counts counts them, d.shape is [n, "
           "height, width, channels]. d.take(n) keeps the first n images. preview(d, augment) "
           "shows a grid of samples.",
    .free = dataset_free,
    .repr = dataset_repr,
    .mime = dataset_mime,
    .getattr = dataset_getattr,
    .attr_names = dataset_attr_names,
    .methods = dataset_methods,
    .nmethods = sizeof dataset_methods / sizeof *dataset_methods,
    .index = dataset_index,
    .len = dataset_len,
};

/* ---- cifar10() ---- */

typedef struct download_ui {
    lang_ctx *cx;
    progress_bar *pb;
    int interrupted;
} download_ui;

/* libcurl's progress callback: drive the bar, and stop on an interrupt. */
static int download_progress(void *ctx, uint64_t done, uint64_t total)
{
    download_ui *ui = ctx;
    if (!ui->pb)
        ui->pb = progress_bar_start(ui->cx, &(progress_bar_opts){
                                               .desc = "downloading CIFAR-10",
                                               .unit = "MB",
                                               .total = total ? (double)total / 1e6 : 0,
                                           });
    progress_bar_update(ui->pb, (double)done / 1e6);
    if (lang_check_interrupt(ui->cx) < 0) {
        ui->interrupted = 1;
        return 1;
    }
    return 0;
}

static int opt_str(lang_ctx *cx, const lang_args *a, size_t i, const char **out)
{
    if (a->v[i]->kind == LANG_NONE) {
        *out = NULL;
        return 0;
    }
    return lang_arg_str(cx, a, i, out);
}

static lang_value *b_cifar10(lang_ctx *cx, const lang_args *a)
{
    const char *split, *root, *url, *md5;
    int download;
    if (lang_arg_str(cx, a, 0, &split) < 0 || opt_str(cx, a, 1, &root) < 0 ||
        lang_arg_bool(cx, a, 2, &download) < 0 || opt_str(cx, a, 3, &url) < 0 ||
        opt_str(cx, a, 4, &md5) < 0)
        return NULL;
    ember_cifar10_split sp;
    if (!strcmp(split, "train"))
        sp = EMBER_CIFAR10_TRAIN;
    else if (!strcmp(split, "test"))
        sp = EMBER_CIFAR10_TEST;
    else
        return lang_arg_error(cx, a, 0, "ValueError", "'train' or 'test'");
    if (md5 && (strlen(md5) != 32 || strspn(md5, "0123456789abcdefABCDEF") != 32))
        return lang_arg_error(cx, a, 4, "ValueError", "32 hexadecimal digits or none");

    download_ui ui = {.cx = cx};
    ember_cifar10_source src = {.root = root, .download = download, .url = url, .md5 = md5,
                                .progress = download_progress, .progress_ctx = &ui};
    ember_dataset ds;
    ember_err err;
    ember_err_clear(&err);
    int rc = ember_cifar10_load(&src, sp, &ds, &err);
    if (ui.pb)
        progress_bar_finish(ui.pb, rc == 0 ? PROGRESS_OK
                                   : ui.interrupted ? PROGRESS_INTERRUPTED
                                                    : PROGRESS_ERROR);
    if (rc != 0) {
        if (ui.interrupted)
            return lang_error_pending(cx) ? NULL : lang_raise(cx, "KeyboardInterrupt", "download interrupted");
        if (lang_error_pending(cx))
            return NULL;
        return lang_raise(cx, strstr(err.msg, "No such file") || strstr(err.msg, "not found")
                                  ? "FileNotFoundError"
                                  : "OSError",
                          "cifar10: %s", err.msg);
    }
    return data_dataset_value(cx, &ds);
}

static const lang_builtin dataset_builtins[] = {
    {"cifar10(split='train', root=none, download=true, url=none, md5=none)",
     "CIFAR-10 (50,000 train or 10,000 test images, 32x32 RGB, 10 classes) as a dataset value, "
     "like torchvision.datasets.CIFAR10. It reads the official binary archive "
     "cifar-10-binary.tar.gz: from root when given (the archive itself, its extracted "
     "cifar-10-batches-bin folder, or a folder holding the archive), else from the cache folder "
     "$EMBER_DATA/cifar10 (default ~/.cache/ember/cifar10), downloading it there once (with a "
     "progress bar; md5 verified) when download is true. url and md5 name another copy of the "
     "archive; any number of images per file is accepted.",
     b_cifar10},
};

void register_data_dataset_builtins(void)
{
    lang_register_builtins(dataset_builtins, sizeof dataset_builtins / sizeof *dataset_builtins);
}

void register_data_builtins(void)
{
    register_data_dataset_builtins();
    register_data_augment_builtins();
}
