/* clipseg_bench.c — times CLIPSeg inference on the CPU backend as a notebook
 * cell runs it: load a checkpoint, then per forward the image's pixel
 * preparation (resize + normalise), the prompts' tokenization and the model.
 * Driven by bench/clipseg_cpu.sh, which times PyTorch on the same weights and
 * inputs in the same run (bench/clipseg_torch.py). Threads: OMP_NUM_THREADS.
 *
 * Usage: ember_clipseg_bench --model F.safetensors --config F.json
 *          --tokenizer DIR [--image F.png] [--runs N] [--dump DIR]
 *          [--device cpu|cuda] PROMPT...
 * --device cuda runs on the CUDA backend (bench/gpu_proof.sh, q2 on the
 * card); each forward returns its logits to the host, so the times include
 * the device's work.
 * Without --image (or when it cannot be read) a synthetic 451x300 image is
 * used. --dump writes the last run's inputs and logits (pixels.f32, ids.i32,
 * eos.i32, logits.f32, shape.txt) for the parity check on the Python side.
 * Also times the first prompt alone (the vision tower runs once per image
 * whatever the prompt count; transformers runs it once per prompt).
 * Prints "RESULT key value" lines. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/backend.h"
#include "nn/clipseg.h"
#include "seg/seg.h"
#include "text/clip_tokenizer.h"
#include "viz/codec.h"
#include "viz/image.h"

#define MAX_PROMPTS 16
#define MAX_RUNS 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int write_file(const char *dir, const char *name, const void *p, size_t n) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "clipseg_bench: cannot write %s\n", path);
        return -1;
    }
    size_t w = fwrite(p, 1, n, f);
    int rc = fclose(f);
    if (w != n || rc != 0) {
        fprintf(stderr, "clipseg_bench: short write to %s\n", path);
        return -1;
    }
    return 0;
}

/* A smooth synthetic photo-sized picture, for when the shared image is absent. */
static int synthetic_image(ember_image *img) {
    char msg[256];
    if (ember_image_alloc(img, 451, 300, 3, msg, sizeof msg) != 0) {
        fprintf(stderr, "clipseg_bench: %s\n", msg);
        return -1;
    }
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            uint8_t *p = img->data + ((size_t)y * img->width + x) * 3;
            p[0] = (uint8_t)((x * 255) / img->width);
            p[1] = (uint8_t)((y * 255) / img->height);
            p[2] = (uint8_t)(((x + y) * 7) & 255);
        }
    return 0;
}

int main(int argc, char **argv) {
    const char *model = NULL, *config = NULL, *tokdir = NULL, *image = NULL, *dump = NULL;
    const char *device = "cpu";
    const char *prompts[MAX_PROMPTS];
    int P = 0, runs = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) tokdir = argv[++i];
        else if (!strcmp(argv[i], "--image") && i + 1 < argc) image = argv[++i];
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "clipseg_bench: unknown option %s\n", argv[i]);
            return 2;
        } else if (P < MAX_PROMPTS) prompts[P++] = argv[i];
    }
    if (!model || !tokdir || P == 0 || runs < 1 || runs > MAX_RUNS ||
        (strcmp(device, "cpu") && strcmp(device, "cuda"))) {
        fprintf(stderr, "usage: ember_clipseg_bench --model F --config F --tokenizer DIR "
                        "[--image F] [--runs 1..64] [--dump DIR] [--device cpu|cuda] PROMPT...\n");
        return 2;
    }

    ember_err err;
    ember_err_clear(&err);
    char vocab[1024], merges[1024];
    snprintf(vocab, sizeof vocab, "%s/vocab.json", tokdir);
    snprintf(merges, sizeof merges, "%s/merges.txt", tokdir);
    ember_clip_tokenizer *tok = ember_clip_tokenizer_load(vocab, merges, &err);
    if (!tok) {
        fprintf(stderr, "clipseg_bench: tokenizer: %s\n", err.msg);
        return 1;
    }

    ember_image img = {0};
    char msg[512];
    const char *image_kind = "synthetic 451x300";
    if (image && ember_image_load(image, &img, msg, sizeof msg) == 0) {
        image_kind = image;
    } else {
        if (image) fprintf(stderr, "clipseg_bench: %s; using a synthetic image\n", msg);
        if (synthetic_image(&img) != 0) return 1;
    }

    const ember_backend *be = ember_backend_cpu();
    if (!strcmp(device, "cuda") && ember_backend_cuda(&be, &err) != 0) {
        fprintf(stderr, "clipseg_bench: --device cuda: %s (no fallback here)\n", err.msg);
        return 1;
    }
    ember_seg_norm norm = ember_seg_default_norm();
    double t0 = now();
    ember_clipseg *m = NULL;
    if (ember_clipseg_load(&m, be, model, NULL, config, norm.size, &err) != 0) {
        fprintf(stderr, "clipseg_bench: load: %s\n", err.msg);
        return 1;
    }
    double load_s = now() - t0;

    int S = norm.size, O = ember_clipseg_output_size(m);
    const ember_clipseg_config *c = ember_clipseg_get_config(m);
    float *pixels = malloc((size_t)3 * S * S * sizeof *pixels);
    float *logits = malloc((size_t)P * O * O * sizeof *logits);
    float *logits1 = malloc((size_t)O * O * sizeof *logits1);
    if (!pixels || !logits || !logits1) {
        fprintf(stderr, "clipseg_bench: out of memory\n");
        return 1;
    }
    double times[MAX_RUNS];
    ember_clip_batch batch = {0};
    /* one warm-up, then the timed runs; every run does the whole cell's work */
    for (int r = -1; r < runs; r++) {
        ember_clip_batch_free(&batch);
        double a = now();
        if (ember_clip_tokenize_batch(tok, prompts, P, c->text_positions, 0, &batch, &err) != 0 ||
            ember_seg_preprocess(&img, &norm, pixels, &err) != 0 ||
            ember_clipseg_forward(m, pixels, batch.ids, batch.eos_index, P, batch.len, logits, NULL,
                                  &err) != 0) {
            fprintf(stderr, "clipseg_bench: forward: %s\n", err.msg);
            return 1;
        }
        if (r >= 0) times[r] = now() - a;
    }
    double sorted[MAX_RUNS];
    memcpy(sorted, times, sizeof(double) * (size_t)runs);
    qsort(sorted, (size_t)runs, sizeof(double), cmp_double);

    /* The first prompt alone: the per-prompt work (text tower, decoder)
     * against the image's (vision tower), which runs once either way. */
    double single[MAX_RUNS];
    ember_clip_batch one = {0};
    for (int r = -1; r < runs; r++) {
        ember_clip_batch_free(&one);
        double a = now();
        if (ember_clip_tokenize_batch(tok, prompts, 1, c->text_positions, 0, &one, &err) != 0 ||
            ember_seg_preprocess(&img, &norm, pixels, &err) != 0 ||
            ember_clipseg_forward(m, pixels, one.ids, one.eos_index, 1, one.len, logits1, NULL,
                                  &err) != 0) {
            fprintf(stderr, "clipseg_bench: forward: %s\n", err.msg);
            return 1;
        }
        if (r >= 0) single[r] = now() - a;
    }
    ember_clip_batch_free(&one);
    qsort(single, (size_t)runs, sizeof(double), cmp_double);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("RESULT backend %s\n", be->describe(be));
    printf("RESULT image %s\n", image_kind);
    printf("RESULT prompts %d tokens %d\n", P, batch.len);
    printf("RESULT load_s %.3f\n", load_s);
    printf("RESULT forward_median_s %.4f\n", sorted[runs / 2]);
    printf("RESULT forward_min_s %.4f\n", sorted[0]);
    printf("RESULT forward_max_s %.4f\n", sorted[runs - 1]);
    printf("RESULT single_prompt_median_s %.4f\n", single[runs / 2]);
    printf("RESULT peak_rss_mib %.1f\n", (double)ru.ru_maxrss / 1024.0);

    int rc = 0;
    if (dump) {
        char shape[128];
        int n = snprintf(shape, sizeof shape, "%d %d %d %d\n", P, batch.len, S, O);
        rc |= write_file(dump, "pixels.f32", pixels, (size_t)3 * S * S * sizeof(float));
        rc |= write_file(dump, "ids.i32", batch.ids, (size_t)P * batch.len * sizeof(int32_t));
        rc |= write_file(dump, "eos.i32", batch.eos_index, (size_t)P * sizeof(int32_t));
        rc |= write_file(dump, "logits.f32", logits, (size_t)P * O * O * sizeof(float));
        rc |= write_file(dump, "shape.txt", shape, (size_t)n);
    }
    ember_clip_batch_free(&batch);
    free(pixels);
    free(logits);
    free(logits1);
    ember_clipseg_free(m);
    ember_image_free(&img);
    ember_clip_tokenizer_free(tok);
    return rc ? 1 : 0;
}
