/* philox.h — Philox4x32-10 (Salmon et al., SC'11), written once for both the
 * C CPU backend and CUDA kernels, so that dropout masks agree bit for bit.
 *
 * Header-only: every function is static inline and, under nvcc, also
 * __host__ __device__. Checked against Random123's published kat_vectors
 * (tests/engine/test_philox.c).
 *
 * Mapping used by dropout (the contract both backends implement):
 *   base    = step->rng_offset + offset          (64-bit, see backend.h)
 *   element i of the flattened tensor (0-based) takes
 *   counter = base + i / 4  as ctr = {lo32, hi32, 0, 0},
 *   key     = {seed lo32, seed hi32},
 *   r       = philox4x32_10(ctr, key).v[i % 4],
 *   kept iff r >= ember_dropout_threshold(p).
 *   A call over n elements consumes ceil(n / 4) counters. */
#ifndef EMBER_CORE_PHILOX_H
#define EMBER_CORE_PHILOX_H

#include <stdint.h>

#if defined(__CUDACC__)
#define EMBER_HD static __host__ __device__ __forceinline__
#else
#define EMBER_HD static inline
#endif

typedef struct ember_philox4 {
    uint32_t v[4];
} ember_philox4;

#define EMBER_PHILOX_M0 0xD2511F53u
#define EMBER_PHILOX_M1 0xCD9E8D57u
#define EMBER_PHILOX_W0 0x9E3779B9u
#define EMBER_PHILOX_W1 0xBB67AE85u

EMBER_HD void ember_philox_mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/* Ten rounds with the key bumped between rounds (Random123's philox4x32_R(10)). */
EMBER_HD ember_philox4 ember_philox4x32_10(ember_philox4 ctr, uint32_t k0, uint32_t k1) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += EMBER_PHILOX_W0;
            k1 += EMBER_PHILOX_W1;
        }
        uint32_t hi0, lo0, hi1, lo1;
        ember_philox_mulhilo(EMBER_PHILOX_M0, ctr.v[0], &hi0, &lo0);
        ember_philox_mulhilo(EMBER_PHILOX_M1, ctr.v[2], &hi1, &lo1);
        ember_philox4 out;
        out.v[0] = hi1 ^ ctr.v[1] ^ k0;
        out.v[1] = lo1;
        out.v[2] = hi0 ^ ctr.v[3] ^ k1;
        out.v[3] = lo0;
        ctr = out;
    }
    return ctr;
}

/* The 32-bit draw for element i of a stream starting at counter `base`. */
EMBER_HD uint32_t ember_philox_draw(uint64_t seed, uint64_t base, uint64_t i) {
    uint64_t c = base + i / 4;
    ember_philox4 ctr;
    ctr.v[0] = (uint32_t)c;
    ctr.v[1] = (uint32_t)(c >> 32);
    ctr.v[2] = 0;
    ctr.v[3] = 0;
    ember_philox4 r = ember_philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
    return r.v[i % 4];
}

/* Draws r below this are dropped: floor(p * 2^32), clamped to [0, 2^32-1].
 * p <= 0 keeps everything; p >= 1 is refused by the ops (division by 1-p). */
EMBER_HD uint32_t ember_dropout_threshold(float p) {
    if (!(p > 0.0f)) return 0u;
    double t = (double)p * 4294967296.0;
    if (t >= 4294967295.0) return 4294967295u;
    return (uint32_t)t;
}

/* Number of counters a dropout call over n elements consumes. */
EMBER_HD uint64_t ember_philox_counters(uint64_t n) {
    return (n + 3) / 4;
}

#endif
