/* interrupt_latency.c — how long an interrupt takes to stop a ViT training
 * step on the CPU backend (docs/BENCHMARKS.md, "Interrupt latency"). The
 * step runs under a cancellation token (core/cancel.h) on a flag that a
 * second thread sets at spread-out moments of the step, as the kernel's
 * control thread does on interrupt_request; the latency is the time from
 * setting the flag to the step returning. Every interrupted step must leave
 * the optimizer step count unchanged (checked).
 *
 * Usage: ember_interrupt_latency [--patch P] [--batch B] [--dim D] [--depth L]
 *          [--heads H] [--mlp M] [--trials N]
 * Defaults: the case, patch 1 (1,024 tokens), batch 256, on the
 * small ViT of the learning comparison (dim 96, depth 3, heads 3, MLP 192).
 * Prints the uninterrupted step time, then RESULT lines with the latency's
 * median and maximum over the trials. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/backend.h"
#include "core/cancel.h"
#include "nn/vit.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct shooter {
    atomic_int *flag;
    double delay;    /* seconds after start */
    double fired_at; /* when the flag was set */
} shooter;

static void *shoot(void *arg) {
    shooter *s = arg;
    struct timespec ts = {(time_t)s->delay, (long)((s->delay - (double)(time_t)s->delay) * 1e9)};
    nanosleep(&ts, NULL);
    s->fired_at = now();
    atomic_store(s->flag, 1);
    return NULL;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    ember_vit_config cfg = ember_vit_default_config();
    cfg.patch = 1;
    cfg.dim = 96;
    cfg.depth = 3;
    cfg.heads = 3;
    cfg.mlp_hidden = 192;
    int batch = 256, trials = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--patch")) cfg.patch = v;
        else if (!strcmp(argv[i], "--batch")) batch = v;
        else if (!strcmp(argv[i], "--dim")) cfg.dim = v;
        else if (!strcmp(argv[i], "--depth")) cfg.depth = v;
        else if (!strcmp(argv[i], "--heads")) cfg.heads = v;
        else if (!strcmp(argv[i], "--mlp")) cfg.mlp_hidden = v;
        else if (!strcmp(argv[i], "--trials")) trials = v;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (trials < 1 || trials > 1000 || batch < 1) {
        fprintf(stderr, "bad --trials or --batch\n");
        return 2;
    }
    const ember_backend *be = ember_backend_cpu();
    ember_vit vit;
    ember_err err;
    if (ember_vit_create(&vit, &cfg, be, 0, &err)) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }
    size_t img = (size_t)3 * cfg.image_size * cfg.image_size;
    float *images = malloc((size_t)batch * img * sizeof(float));
    int32_t *labels = malloc((size_t)batch * sizeof(int32_t));
    double *lat = malloc((size_t)trials * sizeof(double));
    if (!images || !labels || !lat) return 1;
    for (size_t i = 0; i < (size_t)batch * img; i++) images[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (int i = 0; i < batch; i++) labels[i] = i % cfg.num_classes;
    if (ember_vit_upload_batch(&vit, images, labels, batch, &err)) {
        fprintf(stderr, "upload: %s\n", err.msg);
        return 1;
    }
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    int64_t T = (int64_t)(cfg.image_size / cfg.patch) * (cfg.image_size / cfg.patch);
    printf("ViT dim %d depth %d heads %d mlp %d, patch %d (%lld tokens), batch %d, %d threads\n", cfg.dim,
           cfg.depth, cfg.heads, cfg.mlp_hidden, cfg.patch, (long long)T, batch, threads);
    double t0 = now();
    if (ember_vit_train_step(&vit, 3e-4f, NULL, &err)) {
        fprintf(stderr, "step: %s\n", err.msg);
        return 1;
    }
    double step = now() - t0;
    printf("uninterrupted step (the first): %.2f s\n", step);
    fflush(stdout);

    for (int k = 0; k < trials; k++) {
        atomic_int flag;
        atomic_init(&flag, 0);
        ember_cancel tok;
        ember_cancel_init(&tok, &flag);
        /* Spread over the first 70% of a step (the first step, timed
         * above, carries page faults the later ones do not). */
        shooter s = {.flag = &flag, .delay = step * 0.7 * ((double)k + 0.5) / (double)trials};
        int64_t t_before = vit.t;
        pthread_t th;
        ember_cancel_push(&tok);
        double start = now();
        if (pthread_create(&th, NULL, shoot, &s)) return 1;
        int rc = ember_vit_train_step(&vit, 3e-4f, NULL, &err);
        double end = now();
        ember_cancel_pop(&tok);
        pthread_join(th, NULL);
        if (rc == 0 || !tok.tripped || vit.t != t_before) {
            fprintf(stderr, "trial %d: the step was not interrupted cleanly (rc %d, t %lld -> %lld)\n", k, rc,
                    (long long)t_before, (long long)vit.t);
            return 1;
        }
        lat[k] = end - s.fired_at;
        printf("interrupt at %.2f s into the step: stopped %.0f ms later\n", s.fired_at - start, lat[k] * 1e3);
        fflush(stdout);
    }
    qsort(lat, (size_t)trials, sizeof *lat, cmp_d);
    printf("RESULT step %.2f s, interrupt latency median %.0f ms, max %.0f ms over %d trials\n", step,
           lat[trials / 2] * 1e3, lat[trials - 1] * 1e3, trials);
    free(images);
    free(labels);
    free(lat);
    ember_vit_destroy(&vit);
    return 0;
}
