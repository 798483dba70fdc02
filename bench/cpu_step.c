/* cpu_step.c — times the fp32 ViT training step (forward with dropout, loss
 * with label smoothing, backward, AdamW) on the CPU backend, to compare with
 * bench/cpu_step_torch.py on the same machine. Warm-up steps first, then N
 * timed steps of wall clock. With --profile, the backend table is wrapped so
 * that each op's total time is reported too (small overhead per call).
 *
 * Usage: ember_cpu_step_bench [--steps N] [--warmup N] [--batch B]
 *          [--dim D] [--depth L] [--heads H] [--mlp M] [--profile]
 * Prints: RESULT ember dim=D depth=L batch=B <ms/step> ms/step <img/s> img/s */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/backend.h"
#include "nn/vit.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --profile: per-op wall time through a wrapped copy of the CPU table. */
enum { P_MATMUL, P_BIAS_GRAD, P_GELU_F, P_GELU_B, P_ADD, P_DROP_F, P_DROP_B, P_LN_F, P_LN_B, P_ATT_F,
       P_ATT_B, P_ADAMW, P_ZERO, P_OTHER, P_N };
static const char *pnames[P_N] = {"matmul", "bias_grad", "gelu_fwd", "gelu_bwd", "add", "dropout_fwd",
                                  "dropout_bwd", "layernorm_fwd", "layernorm_bwd", "attention_fwd",
                                  "attention_bwd", "adamw", "zero", "(rest: untimed)"};
static double ptime[P_N];
static long pcalls[P_N];
static const ember_backend *base;
static ember_backend wrapped;

#define WRAP(slot, id, params, args)                  \
    static int w_##slot params {                      \
        double t0 = now();                            \
        int rc = base->slot args;                     \
        ptime[id] += now() - t0;                      \
        pcalls[id]++;                                 \
        return rc;                                    \
    }
WRAP(matmul, P_MATMUL,
     (const ember_backend *be, const ember_gemm *g, const ember_tensor *a, const ember_tensor *b,
      const ember_tensor *bias, ember_tensor *c, ember_tensor *pre, ember_err *err),
     (be, g, a, b, bias, c, pre, err))
WRAP(bias_grad, P_BIAS_GRAD,
     (const ember_backend *be, ember_tensor *db, const ember_tensor *dy, int acc, ember_err *err),
     (be, db, dy, acc, err))
WRAP(gelu_fwd, P_GELU_F, (const ember_backend *be, ember_tensor *o, const ember_tensor *x, ember_err *err),
     (be, o, x, err))
WRAP(gelu_bwd, P_GELU_B,
     (const ember_backend *be, ember_tensor *dx, const ember_tensor *dy, const ember_tensor *x, int acc,
      ember_err *err),
     (be, dx, dy, x, acc, err))
WRAP(add, P_ADD,
     (const ember_backend *be, ember_tensor *o, const ember_tensor *a, const ember_tensor *b, ember_err *err),
     (be, o, a, b, err))
WRAP(dropout_fwd, P_DROP_F,
     (const ember_backend *be, ember_tensor *o, const ember_tensor *x, float p, uint64_t seed, uint64_t off,
      const ember_tensor *step, ember_err *err),
     (be, o, x, p, seed, off, step, err))
WRAP(dropout_bwd, P_DROP_B,
     (const ember_backend *be, ember_tensor *dx, const ember_tensor *dy, float p, uint64_t seed,
      uint64_t off, const ember_tensor *step, int acc, ember_err *err),
     (be, dx, dy, p, seed, off, step, acc, err))
WRAP(layernorm_fwd, P_LN_F,
     (const ember_backend *be, ember_tensor *o, ember_tensor *mean, ember_tensor *rstd, const ember_tensor *x,
      const ember_tensor *g, const ember_tensor *b, float eps, ember_err *err),
     (be, o, mean, rstd, x, g, b, eps, err))
WRAP(layernorm_bwd, P_LN_B,
     (const ember_backend *be, ember_tensor *dx, ember_tensor *dg, ember_tensor *db, const ember_tensor *dy,
      const ember_tensor *x, const ember_tensor *mean, const ember_tensor *rstd, const ember_tensor *g,
      int acc, ember_err *err),
     (be, dx, dg, db, dy, x, mean, rstd, g, acc, err))
WRAP(attention_fwd, P_ATT_F,
     (const ember_backend *be, ember_tensor *o, ember_tensor *lse, const ember_tensor *qkv, int heads,
      int causal, ember_err *err),
     (be, o, lse, qkv, heads, causal, err))
WRAP(attention_bwd, P_ATT_B,
     (const ember_backend *be, ember_tensor *dqkv, const ember_tensor *dout, const ember_tensor *qkv,
      const ember_tensor *out, const ember_tensor *lse, int heads, int causal, ember_err *err),
     (be, dqkv, dout, qkv, out, lse, heads, causal, err))
WRAP(adamw, P_ADAMW,
     (const ember_backend *be, ember_tensor *p, const ember_tensor *g, ember_tensor *m, ember_tensor *v,
      ember_tensor *pb, const ember_tensor *step, float b1, float b2, float eps, float wd,
      const ember_tensor *gs, ember_err *err),
     (be, p, g, m, v, pb, step, b1, b2, eps, wd, gs, err))
WRAP(zero, P_ZERO, (const ember_backend *be, ember_tensor *t, ember_err *err), (be, t, err))

static const ember_backend *profiled(void) {
    base = ember_backend_cpu();
    wrapped = *base;
    wrapped.matmul = w_matmul;
    wrapped.bias_grad = w_bias_grad;
    wrapped.gelu_fwd = w_gelu_fwd;
    wrapped.gelu_bwd = w_gelu_bwd;
    wrapped.add = w_add;
    wrapped.dropout_fwd = w_dropout_fwd;
    wrapped.dropout_bwd = w_dropout_bwd;
    wrapped.layernorm_fwd = w_layernorm_fwd;
    wrapped.layernorm_bwd = w_layernorm_bwd;
    wrapped.attention_fwd = w_attention_fwd;
    wrapped.attention_bwd = w_attention_bwd;
    wrapped.adamw = w_adamw;
    wrapped.zero = w_zero;
    return &wrapped;
}

static int arg_int(int argc, char **argv, int *i, int *out) {
    if (*i + 1 >= argc) return -1;
    char *end;
    long v = strtol(argv[++*i], &end, 10);
    if (*end || v < 1 || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv) {
    int steps = 5, warmup = 2, batch = 32, profile = 0;
    ember_vit_config cfg = ember_vit_default_config();
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        if (!strcmp(argv[i], "--steps")) bad = arg_int(argc, argv, &i, &steps);
        else if (!strcmp(argv[i], "--warmup")) bad = arg_int(argc, argv, &i, &warmup);
        else if (!strcmp(argv[i], "--batch")) bad = arg_int(argc, argv, &i, &batch);
        else if (!strcmp(argv[i], "--dim")) bad = arg_int(argc, argv, &i, &cfg.dim);
        else if (!strcmp(argv[i], "--depth")) bad = arg_int(argc, argv, &i, &cfg.depth);
        else if (!strcmp(argv[i], "--heads")) bad = arg_int(argc, argv, &i, &cfg.heads);
        else if (!strcmp(argv[i], "--mlp")) bad = arg_int(argc, argv, &i, &cfg.mlp_hidden);
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else bad = -1;
        if (bad) {
            fprintf(stderr,
                    "usage: %s [--steps N] [--warmup N] [--batch B] [--dim D] [--depth L] "
                    "[--heads H] [--mlp M] [--profile] (bad or unknown argument '%s')\n",
                    argv[0], argv[i]);
            return 2;
        }
    }
    /* --dim without --mlp keeps the recipe's MLP ratio of 4. */
    int mlp_given = 0;
    for (int i = 1; i < argc; i++) mlp_given |= !strcmp(argv[i], "--mlp");
    if (!mlp_given) cfg.mlp_hidden = 4 * cfg.dim;

    ember_err err = {0};
    if (ember_vit_config_check(&cfg, &err)) {
        fprintf(stderr, "config: %s\n", err.msg);
        return 2;
    }
    const ember_backend *be = profile ? profiled() : ember_backend_cpu();
    int64_t B = batch, nimg = (int64_t)cfg.in_chans * cfg.image_size * cfg.image_size;
    float *img = malloc(sizeof(float) * (size_t)(B * nimg));
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)B);
    if (!img || !lab) {
        fprintf(stderr, "out of memory for the batch\n");
        free(img);
        free(lab);
        return 1;
    }
    uint64_t s = 12345;
    for (int64_t i = 0; i < B * nimg; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        img[i] = (float)((double)(s >> 40) / (double)(1 << 24) * 2.0 - 1.0);
    }
    for (int64_t i = 0; i < B; i++) lab[i] = (int32_t)(i % cfg.num_classes);

    ember_vit vit;
    int rc = 1;
    float l0 = NAN, l1 = NAN;
    if (ember_vit_create(&vit, &cfg, be, 1, &err)) {
        fprintf(stderr, "create: %s\n", err.msg);
        goto out;
    }
    if (ember_vit_upload_batch(&vit, img, lab, B, &err)) {
        fprintf(stderr, "upload: %s\n", err.msg);
        goto out_vit;
    }
    for (int i = 0; i < warmup; i++)
        if (ember_vit_train_step(&vit, 3e-4f, &l0, &err)) {
            fprintf(stderr, "warm-up step: %s\n", err.msg);
            goto out_vit;
        }
    memset(ptime, 0, sizeof ptime);
    memset(pcalls, 0, sizeof pcalls);
    double t0 = now();
    for (int i = 0; i < steps; i++)
        if (ember_vit_train_step(&vit, 3e-4f, i == steps - 1 ? &l1 : NULL, &err)) {
            fprintf(stderr, "step: %s\n", err.msg);
            goto out_vit;
        }
    double dt = now() - t0;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    printf("# %s; %d OpenMP threads; %lld params; warm-up loss %.4f, last loss %.4f\n",
           be->describe(be), threads, (long long)ember_vit_param_count(&cfg), (double)l0, (double)l1);
    printf("RESULT ember dim=%d depth=%d heads=%d batch=%lld %.1f ms/step %.1f img/s\n", cfg.dim,
           cfg.depth, cfg.heads, (long long)B, dt / steps * 1e3, (double)(B * steps) / dt);
    if (profile) {
        double tot = 0;
        for (int i = 0; i < P_OTHER; i++) tot += ptime[i];
        ptime[P_OTHER] = dt - tot;
        for (int i = 0; i < P_N; i++)
            printf("  %-16s %8.1f ms/step %5.1f%%  (%ld calls/step)\n", pnames[i], ptime[i] / steps * 1e3,
                   100.0 * ptime[i] / dt, pcalls[i] / steps);
    }
    rc = 0;
out_vit:
    ember_vit_destroy(&vit);
out:
    free(img);
    free(lab);
    return rc;
}
