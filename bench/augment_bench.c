/* augment_bench.c — images per second of the q1 training augmentation
 * (Q1_RECIPE.md: random crop pad 4, flip, colour jitter 0.2 x3, affine
 * 15 / 0.1, rotation 15, normalize) through ember_augment_batch, the way the
 * fit loop calls it: a shuffled epoch in batches into a float [B, 3, 32, 32]
 * buffer. Compared with torchvision by bench/augment_torch.py on the same
 * images (bench/augment_cpu.sh runs both, one after the other).
 *
 * Usage: ember_augment_bench ARCHIVE [--images N] [--batch B] [--epochs E]
 *          [--threads T]...
 * ARCHIVE: a CIFAR-10 binary .tar.gz (the train split is used, its first N
 * images). One warm-up epoch, then E timed epochs per thread count; prints
 * "RESULT threads T images_per_s X (min..max)" from the median epoch. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "data/augment.h"
#include "data/cifar10.h"

#define MAX_EPOCHS 64
#define MAX_THREADS 8

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The recipe's steps, as the language's augment(...) builds them. */
static void q1_recipe(ember_augment *aug) {
    memset(aug, 0, sizeof *aug);
    ember_aug_step *s = aug->steps;
    s[0].kind = EMBER_AUG_RANDOM_CROP;
    s[0].size = 32;
    s[0].padding = 4;
    s[1].kind = EMBER_AUG_HFLIP;
    s[1].p = 0.5;
    s[2].kind = EMBER_AUG_COLOR_JITTER;
    s[2].brightness = s[2].contrast = s[2].saturation = 0.2;
    s[3].kind = EMBER_AUG_RANDOM_AFFINE;
    s[3].degrees = 15;
    s[3].translate = 0.1;
    s[4].kind = EMBER_AUG_RANDOM_ROTATION;
    s[4].degrees = 15;
    s[5].kind = EMBER_AUG_NORMALIZE;
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2471f, 0.2435f, 0.2616f};
    memcpy(s[5].mean, mean, sizeof mean);
    memcpy(s[5].std, std, sizeof std);
    s[5].n_given = 3;
    aug->n = 6;
}

/* One epoch: a fresh permutation, then the batches. */
static int epoch(const ember_augment *aug, const ember_dataset *ds, int64_t n, int batch,
                 uint64_t e, int64_t *idx, float *out, int32_t *labels, ember_err *err) {
    ember_shuffle(idx, n, 42, e);
    for (int64_t i = 0; i < n; i += batch) {
        int64_t b = n - i < batch ? n - i : batch;
        if (ember_augment_batch(aug, ds, idx + i, b, 42, e, out, labels, err) != 0) return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *archive = NULL;
    int64_t n = 4000;
    int batch = 128, epochs = 5, nthreads = 0, threads[MAX_THREADS];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--images") && i + 1 < argc) n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (nthreads < MAX_THREADS) threads[nthreads++] = atoi(argv[++i]);
        } else if (argv[i][0] != '-' && !archive) archive = argv[i];
        else {
            fprintf(stderr, "augment_bench: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!archive || n < 1 || batch < 1 || epochs < 1 || epochs > MAX_EPOCHS) {
        fprintf(stderr, "usage: ember_augment_bench ARCHIVE [--images N] [--batch B] "
                        "[--epochs 1..64] [--threads T]...\n");
        return 2;
    }
    if (nthreads == 0) {
        threads[0] = 1;
        threads[1] = 2;
        nthreads = 2;
    }

    ember_err err;
    ember_err_clear(&err);
    ember_dataset ds;
    memset(&ds, 0, sizeof ds);
    if (ember_cifar10_read_archive(archive, EMBER_CIFAR10_TRAIN, &ds, &err) != 0) {
        fprintf(stderr, "augment_bench: %s\n", err.msg);
        return 1;
    }
    if (n > ds.n) n = ds.n;
    ember_augment aug;
    q1_recipe(&aug);
    if (ember_augment_check(&aug, ds.width, ds.height, ds.channels, &err) != 0) {
        fprintf(stderr, "augment_bench: %s\n", err.msg);
        return 1;
    }
    int64_t *idx = malloc(sizeof *idx * (size_t)n);
    float *out = malloc(sizeof *out * (size_t)batch * 3 * 32 * 32);
    int32_t *labels = malloc(sizeof *labels * (size_t)batch);
    if (!idx || !out || !labels) {
        fprintf(stderr, "augment_bench: out of memory\n");
        return 1;
    }
    printf("RESULT images %lld batch %d epochs %d\n", (long long)n, batch, epochs);
    uint64_t e = 0;
    for (int t = 0; t < nthreads; t++) {
#ifdef _OPENMP
        omp_set_num_threads(threads[t]);
#else
        if (threads[t] != 1) continue;
#endif
        double times[MAX_EPOCHS];
        if (epoch(&aug, &ds, n, batch, e++, idx, out, labels, &err) != 0) goto fail;
        for (int k = 0; k < epochs; k++) {
            double a = now();
            if (epoch(&aug, &ds, n, batch, e++, idx, out, labels, &err) != 0) goto fail;
            times[k] = now() - a;
        }
        qsort(times, (size_t)epochs, sizeof(double), cmp_double);
        printf("RESULT threads %d images_per_s %.0f (%.0f..%.0f) epoch_ms %.1f\n", threads[t],
               (double)n / times[epochs / 2], (double)n / times[epochs - 1], (double)n / times[0],
               1e3 * times[epochs / 2]);
    }
    free(idx);
    free(out);
    free(labels);
    ember_dataset_free(&ds);
    return 0;
fail:
    fprintf(stderr, "augment_bench: %s\n", err.msg);
    return 1;
}
