/* vit_step_bench.c — times one training step of the default ViT (batch 128,
 * dim 384, 8 layers, 8 heads, patch 4, 32x32, 10 classes) on the CUDA
 * backend, for bench/gpu_check.sh:
 *   mixed-graph  engine/nn's ViT in bf16 mixed precision (compute_dtype
 *                bf16), the whole step (ember_vit_step_device) captured
 *                once as a CUDA graph and replayed;
 *   mixed-eager  the same step issued op by op;
 *   fp32-engine  engine/nn's ViT in fp32 (ember_vit_train_step).
 * Each runs warm-up steps, then N timed steps between two syncs (wall clock
 * around a synced stream, so launch overhead counts, as it does for the user).
 * Prints one "RESULT" line per mode:
 *   RESULT <mode> <ms/step> <images/s> <peak device bytes> <first loss> <last loss>
 * Peak bytes: everything Ember's backend allocated (arenas) plus its own
 * workspace arena, at the peak. Usage: vit_step_bench [steps] [batch] */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda_test.h"
#include "nn/vit.h"

static ember_err E;
typedef int (*mem_fn)(const ember_backend *, size_t *, size_t *);
static mem_fn mem_stats;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define TRY(what, call)                                      \
    do {                                                     \
        if (call) {                                          \
            fprintf(stderr, "%s: %s\n", what, E.msg);        \
            return -1;                                       \
        }                                                    \
    } while (0)

static void fill_batch(float *img, int32_t *lab, int64_t B, int64_t nimg_per)
{
    ct_rng r = {2024};
    for (int64_t i = 0; i < B * nimg_per; i++) img[i] = ct_normal(&r);
    for (int64_t i = 0; i < B; i++) lab[i] = (int32_t)ct_uniform(&r, 0, 10) % 10;
}

static float read_loss(const ember_backend *be, const ember_tensor *loss)
{
    float l = NAN;
    if (be->copy_d2h(be, &l, loss->data, 4, &E) || be->sync(be, &E)) return NAN;
    return l;
}

static void report(const char *mode, const ember_backend *be, double secs, int steps, int64_t B,
                   float l0, float l1)
{
    size_t cur = 0, peak = 0;
    if (mem_stats) mem_stats(be, &cur, &peak);
    double ms = secs * 1e3 / steps;
    printf("RESULT %s %.3f %.1f %zu %.5f %.5f\n", mode, ms, B * 1e3 / ms, peak, (double)l0,
           (double)l1);
    fflush(stdout);
}

static int run_mixed(const ember_backend *be, int graph, int steps, int64_t B, float *img,
                     int32_t *lab)
{
    ember_vit_config cfg = ember_vit_default_config();
    cfg.compute_dtype = EMBER_BF16;
    ember_vit vit;
    TRY("create", ember_vit_create(&vit, &cfg, be, 1, &E));
    vit.smoothing = 0.1f;
    TRY("upload", ember_vit_upload_batch(&vit, img, lab, B, &E));
    void *g = NULL;
    /* warm-up: one eager step makes every cuBLASLt plan */
    TRY("warm-up", ember_vit_begin_step(&vit, 3e-4f, &E) || ember_vit_step_device(&vit, &E) || be->sync(be, &E));
    ember_vit_step_done(&vit);
    if (graph) {
        TRY("graph_begin", be->graph_begin(be, &E));
        int crc = ember_vit_step_device(&vit, &E);
        ember_err e2;
        int erc = be->graph_end(be, &g, &e2);
        TRY("capture", crc);
        if (erc) { E = e2; TRY("graph_end", erc); }
    }
    for (int i = 0; i < 5; i++) {
        TRY("warm-up", ember_vit_begin_step(&vit, 3e-4f, &E) ||
                           (graph ? be->graph_launch(be, g, &E) : ember_vit_step_device(&vit, &E)));
        ember_vit_step_done(&vit);
    }
    float l0 = read_loss(be, &vit.acts.loss);
    double t0 = now();
    for (int i = 0; i < steps; i++) {
        TRY("step", ember_vit_begin_step(&vit, 3e-4f, &E) ||
                        (graph ? be->graph_launch(be, g, &E) : ember_vit_step_device(&vit, &E)));
        ember_vit_step_done(&vit);
    }
    TRY("sync", be->sync(be, &E));
    double secs = now() - t0;
    float l1 = read_loss(be, &vit.acts.loss);
    report(graph ? "mixed-graph" : "mixed-eager", be, secs, steps, B, l0, l1);
    if (g) be->graph_destroy(be, g);
    ember_vit_destroy(&vit);
    return isfinite(l1) ? 0 : -1;
}

static int run_fp32(const ember_backend *be, int steps, int64_t B, float *img, int32_t *lab)
{
    ember_vit_config cfg = ember_vit_default_config();
    ember_vit vit;
    TRY("create", ember_vit_create(&vit, &cfg, be, 1, &E));
    vit.smoothing = 0.1f;
    TRY("upload", ember_vit_upload_batch(&vit, img, lab, B, &E));
    float l0 = 0, l1 = 0;
    for (int i = 0; i < 3; i++) TRY("warm-up", ember_vit_train_step(&vit, 3e-4f, &l0, &E));
    double t0 = now();
    for (int i = 0; i < steps; i++) TRY("step", ember_vit_train_step(&vit, 3e-4f, NULL, &E));
    TRY("sync", be->sync(be, &E));
    double secs = now() - t0;
    l1 = read_loss(be, &vit.acts.loss);
    report("fp32-engine", be, secs, steps, B, l0, l1);
    ember_vit_destroy(&vit);
    return isfinite(l1) ? 0 : -1;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 30;
    int64_t B = argc > 2 ? atoll(argv[2]) : 128;
    const char *only = argc > 3 ? argv[3] : "all";
    const ember_backend *be;
    int rc = ct_open(&be);
    if (rc) return rc;
    void *h = dlopen(getenv("EMBER_CUDA_LIB"), RTLD_NOW | RTLD_NOLOAD);
    if (h) {
        void *s = dlsym(h, "ember_cuda_mem_stats");
        memcpy(&mem_stats, &s, sizeof s);
    }
    ember_vit_config cfg = ember_vit_default_config();
    printf("params %lld\n", (long long)ember_vit_param_count(&cfg));
    int64_t per = (int64_t)cfg.in_chans * cfg.image_size * cfg.image_size;
    float *img = malloc(sizeof(float) * (size_t)(B * per));
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)B);
    if (!img || !lab) return 1;
    fill_batch(img, lab, B, per);
    int fails = 0;
    if (!strcmp(only, "all") || !strcmp(only, "mixed-graph")) fails += run_mixed(be, 1, steps, B, img, lab) != 0;
    if (!strcmp(only, "all") || !strcmp(only, "mixed-eager")) fails += run_mixed(be, 0, steps, B, img, lab) != 0;
    if (!strcmp(only, "all") || !strcmp(only, "fp32-engine"))
        fails += run_fp32(be, steps > 10 ? 10 : steps, B, img, lab) != 0;
    free(img);
    free(lab);
    if (h) dlclose(h);
    ct_close();
    return fails ? 1 : 0;
}
