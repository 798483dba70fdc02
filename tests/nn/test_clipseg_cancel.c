/* test_clipseg_cancel.c — the CLIPSeg forward stops for an interrupt
 * (core/cancel.h) before its next op, and leaves the model as it was:
 *   1. a token that never trips changes no result;
 *   2. tripped at each of the forward's checks in turn, the forward fails
 *      with the interrupt's message and makes no check after the one that
 *      stopped it (every op is preceded by one, so no op ran after it);
 *   3. afterwards the forward gives the same logits, bit for bit;
 *   4. with the CPU ops cut into small chunks the logits are the same bits,
 *      and a trip between two chunks of one op stops it.
 * A small random model of the full architecture (no files needed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/cancel.h"
#include "cpu/cpu_internal.h"
#include "nn/clipseg.h"

static int failures;

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            failures++;                                                  \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                \
            fprintf(stderr, "\n");                                       \
        }                                                                \
    } while (0)

enum { P = 3, L = 8, S = 128 };

int main(void) {
    ember_clipseg_config cfg;
    ember_clipseg_config_default(&cfg);
    cfg.text_vocab = 64;
    cfg.text_width = 32;
    cfg.text_mlp = 64;
    cfg.text_layers = 2;
    cfg.text_positions = 16;
    cfg.text_heads = 2;
    cfg.vision_width = 48;
    cfg.vision_mlp = 96;
    cfg.vision_layers = 4;
    cfg.patch = 16;
    cfg.image_size = 64;
    cfg.vision_heads = 4;
    cfg.projection_dim = 24;
    cfg.reduce_dim = 16;
    cfg.decoder_mlp = 32;
    cfg.n_extract = 3;
    cfg.extract_layers[0] = 1;
    cfg.extract_layers[1] = 2;
    cfg.extract_layers[2] = 3;
    cfg.decoder_heads = 2;
    cfg.conditional_layer = 0;
    cfg.complex_transposed_conv = 1;
    ember_err err = {{0}};
    ember_clipseg *m = NULL;
    if (ember_clipseg_init_random(&m, ember_backend_cpu(), &cfg, S, 1, &err)) {
        fprintf(stderr, "FAIL: init_random: %s\n", err.msg);
        return 1;
    }
    int O = ember_clipseg_output_size(m);
    size_t nl = (size_t)P * O * O;
    float *pix = malloc(sizeof(float) * 3 * S * S), *ref = malloc(sizeof(float) * nl),
          *got = malloc(sizeof(float) * nl);
    if (!pix || !ref || !got) return 1;
    uint32_t x = 12345;
    for (int i = 0; i < 3 * S * S; i++) {
        x = x * 1664525u + 1013904223u;
        pix[i] = (float)(x >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
    int32_t ids[P * L], eos[P];
    for (int i = 0; i < P * L; i++) ids[i] = (int32_t)((i * 37 + 11) % 64);
    for (int p = 0; p < P; p++) eos[p] = L - 1 - p;

    if (ember_clipseg_forward(m, pix, ids, eos, P, L, ref, NULL, &err)) {
        fprintf(stderr, "FAIL: forward: %s\n", err.msg);
        return 1;
    }
    /* 1. */
    ember_cancel count;
    ember_cancel_init(&count, NULL);
    ember_cancel_push(&count);
    int rc = ember_clipseg_forward(m, pix, ids, eos, P, L, got, NULL, &err);
    ember_cancel_pop(&count);
    int64_t n = count.checks;
    CHECK(rc == 0 && !memcmp(got, ref, nl * sizeof(float)), "a token that never trips changed the logits");
    CHECK(n > 50, "the forward made only %lld checks", (long long)n);
    /* 2. */
    for (int64_t k = 1; k <= n; k++) {
        ember_cancel tok;
        ember_cancel_init(&tok, NULL);
        tok.trip_at = k;
        ember_cancel_push(&tok);
        rc = ember_clipseg_forward(m, pix, ids, eos, P, L, got, NULL, &err);
        ember_cancel_pop(&tok);
        CHECK(rc == -1 && tok.tripped && tok.checks == k && strstr(err.msg, EMBER_CANCEL_MSG),
              "tripped at check %lld of %lld: rc %d, %lld checks, '%s'", (long long)k, (long long)n, rc,
              (long long)tok.checks, err.msg);
    }
    /* 3. */
    memset(got, 0, nl * sizeof(float));
    rc = ember_clipseg_forward(m, pix, ids, eos, P, L, got, NULL, &err);
    CHECK(rc == 0 && !memcmp(got, ref, nl * sizeof(float)), "after interrupted forwards the logits differ");
    /* 4. */
    int64_t old = cpu_set_chunk_flops(1 << 12);
    rc = ember_clipseg_forward(m, pix, ids, eos, P, L, got, NULL, &err);
    CHECK(rc == 0 && !memcmp(got, ref, nl * sizeof(float)), "the forward in small chunks gives other logits");
    ember_cancel_init(&count, NULL);
    ember_cancel_push(&count);
    rc = ember_clipseg_forward(m, pix, ids, eos, P, L, got, NULL, &err);
    ember_cancel_pop(&count);
    CHECK(rc == 0 && count.checks > n, "chunked ops must check between their chunks (%lld checks, %lld unchunked)",
          (long long)count.checks, (long long)n);
    for (int64_t k = 1; k <= count.checks; k += count.checks / 40 + 1) {
        ember_cancel tok;
        ember_cancel_init(&tok, NULL);
        tok.trip_at = k;
        ember_cancel_push(&tok);
        rc = ember_clipseg_forward(m, pix, ids, eos, P, L, got, NULL, &err);
        ember_cancel_pop(&tok);
        CHECK(rc == -1 && tok.checks == k, "chunked, tripped at check %lld: rc %d, %lld checks", (long long)k, rc,
              (long long)tok.checks);
    }
    cpu_set_chunk_flops(old);

    ember_clipseg_free(m);
    free(pix), free(ref), free(got);
    if (failures) {
        fprintf(stderr, "test_clipseg_cancel: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_clipseg_cancel: all checks passed\n");
    return 0;
}
