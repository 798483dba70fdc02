/* backend.c — small helpers of the backend contract: step scalars, gemm
 * descriptors, and validation of a table handed over by a loaded library. */
#include "core/backend.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

void ember_step_scalars_set(ember_step_scalars *s, float lr, double beta1, double beta2, int64_t t,
                            uint64_t rng_offset) {
    memset(s, 0, sizeof *s);
    s->lr = lr;
    s->bc1 = (float)(1.0 - pow(beta1, (double)t));
    s->bc2 = (float)(1.0 - pow(beta2, (double)t));
    s->rng_offset = rng_offset;
    s->t = t;
}

ember_gemm ember_gemm_default(int64_t m, int64_t n, int64_t k) {
    ember_gemm g;
    memset(&g, 0, sizeof g);
    g.m = m;
    g.n = n;
    g.k = k;
    g.batch = 1;
    g.alpha = 1.0f;
    return g;
}

int ember_backend_validate(const ember_backend *be, ember_err *err) {
    if (!be) return ember_err_set(err, "the backend table is NULL");
    if (be->abi != EMBER_BACKEND_ABI)
        return ember_err_set(err, "backend '%s' was built for backend ABI %d, this engine needs %d "
                                  "(rebuild it from the same source tree)",
                             be->name ? be->name : "?", be->abi, EMBER_BACKEND_ABI);
    if (be->struct_size < sizeof(ember_backend))
        return ember_err_set(err, "backend '%s' table is %zu bytes, expected %zu (rebuild it)",
                             be->name ? be->name : "?", be->struct_size, sizeof(ember_backend));
    /* Every member from alloc to normalize_u8 is mandatory; graphs are optional. */
    const char *first = (const char *)&be->alloc;
    const char *last = (const char *)&be->normalize_u8;
    for (const char *p = first; p <= last; p += sizeof(void (*)(void))) {
        void (*fn)(void);
        memcpy(&fn, p, sizeof fn);
        if (!fn)
            return ember_err_set(err, "backend '%s' lacks an operation (slot %zu)",
                                 be->name ? be->name : "?",
                                 (size_t)(p - (const char *)be) / sizeof fn);
    }
    if (!be->name || !be->close || !be->describe)
        return ember_err_set(err, "backend table is incomplete (name, close or describe missing)");
    return 0;
}
