/* test_util.h — tiny helpers shared by the engine's C tests: checks that
 * count failures, a deterministic RNG for test data, and error measures. */
#ifndef EMBER_TEST_UTIL_H
#define EMBER_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures = 0;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
            t_failures++;                                                 \
        }                                                                 \
    } while (0)

/* An ember call that must succeed. */
#define OK(call)                                                          \
    do {                                                                  \
        ember_err err_ = {{0}};                                           \
        if ((call) != 0) {                                                \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, err_.msg); \
            t_failures++;                                                 \
        }                                                                 \
    } while (0)

static inline int t_finish(const char *name) {
    if (t_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, t_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

/* splitmix64: test data only. */
static uint64_t t_rng_state = 0x1234567u;
static inline uint64_t t_next(void) {
    uint64_t z = (t_rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline double t_uniform(void) { return (double)(t_next() >> 11) / 9007199254740992.0; }
static inline double t_normal(void) {
    double u1 = t_uniform() + 1e-300, u2 = t_uniform();
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
static inline void t_fill(float *x, int64_t n, double scale) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(t_normal() * scale);
}

/* max |a - b| / max |b|: the normwise relative error used by every
 * comparison against a reference (elementwise relative error is meaningless
 * for elements that are zero or nearly so). */
static inline double t_relerr_fd(const float *a, const double *b, int64_t n) {
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > num || d != d) num = d != d ? INFINITY : d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return den > 0 ? num / den : num;
}
static inline double t_relerr_ff(const float *a, const float *b, int64_t n) {
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > num || d != d) num = d != d ? INFINITY : d;
        if (fabs((double)b[i]) > den) den = fabs((double)b[i]);
    }
    return den > 0 ? num / den : num;
}

static inline float *t_alloc(int64_t n) {
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}
static inline double *t_allocd(int64_t n) {
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

#endif
