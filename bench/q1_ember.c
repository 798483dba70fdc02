/* q1_ember.c — the q1 recipe through engine/train's ember_fit, without the
 * kernel: bench/gpu_proof.sh runs it when the notebook path cannot run (no
 * jupyter_client / papermill, or the kernel's libraries missing), so that q1
 * on the GPU is still measured, and its dry run runs it as well so that this
 * path cannot fail on the card for a typo. It does what notebooks/q1.ipynb's
 * cells do: the CIFAR-10 archive's train and test splits (the first N of
 * each), the recipe's augmentation (crop 32 pad 4, flip, jitter 0.2/0.2/0.2,
 * affine 15 / 0.1, rotation 15, normalize), the default ViT (bf16 mixed
 * precision on the GPU, fp32 on the CPU, as vit(precision='auto')), and
 * ember_fit with the recipe's options (AdamW 3e-4 wd 0.05, MultiStepLR 50/75,
 * label smoothing 0.1, batch 128, last batch kept).
 *
 * Usage: ember_q1 --data ARCHIVE --out FILE.jsonl [--train-images N]
 *          [--test-images N] [--epochs E] [--steps-per-epoch K] [--batch B]
 *          [--seed S] [--device auto|cpu|cuda]
 *
 * Writes JSON lines to --out, one per line and flushed at once, so that a run
 * stopped by its time budget keeps the epochs it finished:
 *   {"type": "env", ...}            backend, sizes, options
 *   {"type": "epoch", ...}          one per finished epoch (fit's record)
 *   {"type": "done", ...}           final test accuracy, wall time, memory
 * Peak memory: the CUDA backend's own count (everything its arenas took, at
 * the peak, ember_cuda_mem_stats) and the card's used memory at the end
 * (cudaMemGetInfo, ember_cuda_mem_used), both looked up in the loaded
 * libember_cuda.so; absent on the CPU backend. Exit status 0 when every
 * epoch ran, 1 on an error (message on stderr and in a {"type": "error"}
 * line), 2 on bad arguments. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backend.h"
#include "data/augment.h"
#include "data/cifar10.h"
#include "nn/vit.h"
#include "train/fit.h"

typedef struct opts {
    const char *data, *out, *device;
    int64_t train_images, test_images;
    int epochs, steps, batch;
    uint64_t seed;
} opts;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A JSON number, or null for NaN / infinity (JSON has neither). */
static void jnum(FILE *f, const char *key, double v, int comma)
{
    if (isfinite(v))
        fprintf(f, "\"%s\": %.17g%s", key, v, comma ? ", " : "");
    else
        fprintf(f, "\"%s\": null%s", key, comma ? ", " : "");
}

/* A JSON string of plain text (messages, device names): quotes, backslashes
 * and control characters escaped. */
static void jstr(FILE *f, const char *key, const char *s, int comma)
{
    fprintf(f, "\"%s\": \"", key);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fprintf(f, "\"%s", comma ? ", " : "");
}

/* One line written and flushed; a write error is reported once (the run
 * goes on: the numbers on stdout still say what happened). */
static int end_line(FILE *f)
{
    fputs("}\n", f);
    if (fflush(f) != 0 || ferror(f)) {
        fprintf(stderr, "ember_q1: writing the results: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static int parse_int(const char *what, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi) {
        fprintf(stderr, "ember_q1: %s must be an integer in [%lld, %lld], not '%s'\n", what,
                (long long)lo, (long long)hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    *o = (opts){.device = "auto", .train_images = 0, .test_images = 0, .epochs = 100,
                .steps = 0, .batch = 128, .seed = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "ember_q1: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        int64_t n = 0;
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--device")) o->device = v;
        else if (!strcmp(a, "--train-images")) {
            if (parse_int(a, v, 0, INT64_MAX, &o->train_images)) return -1;
        } else if (!strcmp(a, "--test-images")) {
            if (parse_int(a, v, 0, INT64_MAX, &o->test_images)) return -1;
        } else if (!strcmp(a, "--epochs")) {
            if (parse_int(a, v, 1, 100000, &n)) return -1;
            o->epochs = (int)n;
        } else if (!strcmp(a, "--steps-per-epoch")) {
            if (parse_int(a, v, 0, 1 << 30, &n)) return -1;
            o->steps = (int)n;
        } else if (!strcmp(a, "--batch")) {
            if (parse_int(a, v, 1, 1 << 20, &n)) return -1;
            o->batch = (int)n;
        } else if (!strcmp(a, "--seed")) {
            if (parse_int(a, v, 0, INT64_MAX, &n)) return -1;
            o->seed = (uint64_t)n;
        } else {
            fprintf(stderr, "ember_q1: unknown option %s\n", a);
            return -1;
        }
    }
    if (!o->data || !o->out) {
        fprintf(stderr, "usage: ember_q1 --data ARCHIVE --out FILE.jsonl [--train-images N] "
                        "[--test-images N] [--epochs E] [--steps-per-epoch K] [--batch B] "
                        "[--seed S] [--device auto|cpu|cuda]\n");
        return -1;
    }
    if (strcmp(o->device, "auto") && strcmp(o->device, "cpu") && strcmp(o->device, "cuda")) {
        fprintf(stderr, "ember_q1: --device must be auto, cpu or cuda, not '%s'\n", o->device);
        return -1;
    }
    return 0;
}

/* The recipe's augmentation, as notebooks/q1.ipynb composes it. */
static ember_augment recipe(void)
{
    ember_augment a = {0};
    a.steps[a.n++] = (ember_aug_step){.kind = EMBER_AUG_RANDOM_CROP, .size = 32, .padding = 4};
    a.steps[a.n++] = (ember_aug_step){.kind = EMBER_AUG_HFLIP, .p = 0.5};
    a.steps[a.n++] = (ember_aug_step){.kind = EMBER_AUG_COLOR_JITTER, .brightness = 0.2,
                                      .contrast = 0.2, .saturation = 0.2};
    a.steps[a.n++] = (ember_aug_step){.kind = EMBER_AUG_RANDOM_AFFINE, .degrees = 15, .translate = 0.1};
    a.steps[a.n++] = (ember_aug_step){.kind = EMBER_AUG_RANDOM_ROTATION, .degrees = 15};
    a.steps[a.n++] = (ember_aug_step){.kind = EMBER_AUG_NORMALIZE,
                                      .mean = {0.4914f, 0.4822f, 0.4465f},
                                      .std = {0.2471f, 0.2435f, 0.2616f},
                                      .n_given = 3};
    return a;
}

/* 'auto' takes the GPU when the CUDA backend loads, as vit(device='auto'). */
static int pick_backend(const char *device, const ember_backend **be, char *note, size_t len,
                        ember_err *err)
{
    note[0] = '\0';
    if (!strcmp(device, "cpu")) {
        *be = ember_backend_cpu();
        return 0;
    }
    if (ember_backend_cuda(be, err) == 0)
        return 0;
    if (!strcmp(device, "cuda"))
        return -1;
    snprintf(note, len, "%s", err->msg);
    ember_err_clear(err);
    *be = ember_backend_cpu();
    return 0;
}

/* The CUDA library's memory counters, found through the library that holds
 * the backend's own functions (dladdr), so no path has to be known. */
typedef int (*mem_stats_fn)(const ember_backend *, size_t *, size_t *);
typedef int (*mem_used_fn)(size_t *, size_t *);

static void cuda_memory(const ember_backend *be, double *engine_peak, double *card_used)
{
    *engine_peak = NAN;
    *card_used = NAN;
    if (be->device != EMBER_DEV_CUDA)
        return;
    Dl_info info;
    void *fn = NULL;
    const char *(*describe)(const ember_backend *) = be->describe;
    memcpy(&fn, &describe, sizeof fn);
    if (!dladdr(fn, &info) || !info.dli_fname)
        return;
    void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return;
    void *s1 = dlsym(h, "ember_cuda_mem_stats"), *s2 = dlsym(h, "ember_cuda_mem_used");
    size_t cur = 0, peak = 0, used = 0, total = 0;
    if (s1) {
        mem_stats_fn f;
        memcpy(&f, &s1, sizeof f);
        if (f(be, &cur, &peak) == 0)
            *engine_peak = (double)peak;
    }
    if (s2) {
        mem_used_fn f;
        memcpy(&f, &s2, sizeof f);
        if (f(&used, &total) == 0)
            *card_used = (double)used;
    }
    dlclose(h);
}

typedef struct run_ctx {
    FILE *out;
    double t0;
    int write_failed;
} run_ctx;

static int on_epoch(void *ctx, const ember_epoch_record *r)
{
    run_ctx *c = ctx;
    FILE *f = c->out;
    fprintf(f, "{\"type\": \"epoch\", \"epoch\": %d, \"steps\": %lld, \"train_images\": %lld, ",
            r->epoch + 1, (long long)r->steps, (long long)r->train_images);
    jnum(f, "lr", r->lr, 1);
    jnum(f, "train_loss", r->train_loss, 1);
    jnum(f, "train_acc", r->train_acc, 1);
    jnum(f, "test_loss", r->test_loss, 1);
    jnum(f, "test_acc", r->test_acc, 1);
    jnum(f, "seconds", r->seconds, 1);
    jnum(f, "train_seconds", r->train_seconds, 1);
    jnum(f, "elapsed", now() - c->t0, 0);
    if (end_line(f))
        c->write_failed = 1;
    printf("epoch %d: test_acc %.4f, %.3f s\n", r->epoch + 1, r->test_acc, r->seconds);
    fflush(stdout);
    return 0;
}

static int fail(FILE *out, const char *what, const ember_err *err)
{
    fprintf(stderr, "ember_q1: %s: %s\n", what, err->msg);
    if (out) {
        fprintf(out, "{");
        jstr(out, "type", "error", 1);
        jstr(out, "where", what, 1);
        jstr(out, "message", err->msg, 0);
        end_line(out);
    }
    return 1;
}

int main(int argc, char **argv)
{
    opts o;
    if (parse_args(argc, argv, &o))
        return 2;
    FILE *out = fopen(o.out, "w");
    if (!out) {
        fprintf(stderr, "ember_q1: cannot write %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    double t_start = now();
    ember_err err;
    ember_err_clear(&err);
    ember_dataset train = {0}, test = {0};
    if (ember_cifar10_read_archive(o.data, EMBER_CIFAR10_TRAIN, &train, &err))
        return fail(out, "reading the train split", &err);
    if (ember_cifar10_read_archive(o.data, EMBER_CIFAR10_TEST, &test, &err)) {
        ember_dataset_free(&train);
        return fail(out, "reading the test split", &err);
    }
    /* take(n): the first n images, as the notebook's train.take(n) */
    if (o.train_images > 0 && o.train_images < train.n) train.n = o.train_images;
    if (o.test_images > 0 && o.test_images < test.n) test.n = o.test_images;

    const ember_backend *be = NULL;
    char note[sizeof err.msg];
    if (pick_backend(o.device, &be, note, sizeof note, &err)) {
        ember_dataset_free(&train);
        ember_dataset_free(&test);
        return fail(out, "opening the backend", &err);
    }
    ember_vit_config cfg = ember_vit_default_config();
    cfg.compute_dtype = be->device == EMBER_DEV_CUDA ? EMBER_BF16 : EMBER_F32;
    ember_vit vit;
    if (ember_vit_create(&vit, &cfg, be, o.seed, &err)) {
        ember_dataset_free(&train);
        ember_dataset_free(&test);
        return fail(out, "creating the ViT", &err);
    }
    ember_augment aug = recipe();
    ember_fit_opts fo = ember_fit_default_opts();
    fo.epochs = o.epochs;
    fo.batch_size = o.batch;
    fo.max_steps_per_epoch = o.steps;
    fo.seed = o.seed;

    fprintf(out, "{");
    jstr(out, "type", "env", 1);
    jstr(out, "backend", be->describe(be), 1);
    jstr(out, "device", be->device == EMBER_DEV_CUDA ? "cuda" : "cpu", 1);
    jstr(out, "precision", cfg.compute_dtype == EMBER_BF16 ? "bf16" : "fp32", 1);
    jstr(out, "backend_note", note, 1);
    fprintf(out, "\"params\": %lld, \"train_images\": %lld, \"test_images\": %lld, "
                 "\"epochs\": %d, \"steps_per_epoch_cap\": %d, \"batch\": %d, \"seed\": %llu",
            (long long)ember_vit_param_count(&cfg), (long long)train.n, (long long)test.n,
            o.epochs, o.steps, o.batch, (unsigned long long)o.seed);
    if (end_line(out)) {
        ember_vit_destroy(&vit);
        ember_dataset_free(&train);
        ember_dataset_free(&test);
        fclose(out);
        return 1;
    }

    run_ctx rc = {.out = out, .t0 = now()};
    ember_fit_callbacks cb = {.ctx = &rc, .on_epoch = on_epoch};
    ember_fit_history hist = {0};
    int fit_rc = ember_fit(&vit, &train, &test, &aug, &fo, &cb, &hist, &err);
    double fit_s = now() - rc.t0;
    int status = 0;
    if (fit_rc != 0) {
        if (fit_rc == EMBER_FIT_STOPPED)
            ember_err_set(&err, "stopped before the last epoch (an interrupt)");
        status = fail(out, "fit", &err);
    } else {
        double engine_peak, card_used;
        cuda_memory(be, &engine_peak, &card_used);
        const ember_epoch_record *last = hist.n ? &hist.epochs[hist.n - 1] : NULL;
        fprintf(out, "{");
        jstr(out, "type", "done", 1);
        fprintf(out, "\"epochs_done\": %d, ", hist.n);
        jnum(out, "test_acc", last ? last->test_acc : NAN, 1);
        jnum(out, "fit_seconds", fit_s, 1);
        jnum(out, "wall_seconds", now() - t_start, 1);
        jnum(out, "engine_peak_bytes", engine_peak, 1);
        jnum(out, "card_used_bytes", card_used, 0);
        if (end_line(out))
            status = 1;
        printf("done: %d epochs, test_acc %.4f, fit %.1f s\n", hist.n, last ? last->test_acc : NAN,
               fit_s);
    }
    if (rc.write_failed)
        status = 1;
    ember_fit_history_free(&hist);
    ember_vit_destroy(&vit);
    ember_dataset_free(&train);
    ember_dataset_free(&test);
    if (fclose(out) != 0) {
        fprintf(stderr, "ember_q1: closing %s: %s\n", o.out, strerror(errno));
        status = 1;
    }
    return status;
}
