/* validate.h — host-side argument checks for the CUDA ops: every op refuses
 * a wrong dtype, device or size with a message naming the op and argument
 * before anything is enqueued (cheap and capture-safe). The library cannot
 * call into ember_core (it is loaded into whatever process holds the engine),
 * so the few tensor helpers it needs live here. */
#ifndef EMBER_CUDA_VALIDATE_H
#define EMBER_CUDA_VALIDATE_H

#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/tensor.h"

#define ECU_F32 (1u << EMBER_F32)
#define ECU_BF16 (1u << EMBER_BF16)
#define ECU_FLOAT (ECU_F32 | ECU_BF16)
#define ECU_U8 (1u << EMBER_U8)
#define ECU_I32 (1u << EMBER_I32)
#define ECU_ANY 0xffu

static inline int64_t ecu_numel(const ember_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; ++i) n *= t->shape[i];
    return n;
}

static inline const char *ecu_dtname(int dt)
{
    switch (dt) {
    case EMBER_F32: return "f32";
    case EMBER_BF16: return "bf16";
    case EMBER_U8: return "u8";
    case EMBER_I32: return "i32";
    case EMBER_I64: return "i64";
    default: return "?";
    }
}

static inline size_t ecu_dtsize(int dt)
{
    switch (dt) {
    case EMBER_F32: case EMBER_I32: return 4;
    case EMBER_BF16: return 2;
    case EMBER_U8: return 1;
    case EMBER_I64: return 8;
    default: return 0;
    }
}

static inline size_t ecu_nbytes(const ember_tensor *t)
{
    return (size_t)ecu_numel(t) * ecu_dtsize(t->dtype);
}

/* EK_F32 / EK_BF16 for the kernels (callers have checked the dtype). */
static inline int ecu_ek(const ember_tensor *t)
{
    return t->dtype == EMBER_BF16 ? 1 : 0;
}

/* t present, on the CUDA device, dtype in `types`, and numel == want
 * (want < 0: any). */
static inline int ecu_arg(const char *op, const char *what, const ember_tensor *t,
                          unsigned types, int64_t want, ember_err *err)
{
    if (!t) return ecu_errf(err, "%s: %s is missing", op, what);
    if (t->device != EMBER_DEV_CUDA)
        return ecu_errf(err, "%s: %s is on the CPU; the CUDA backend needs it on the GPU "
                        "(copy it over first)", op, what);
    if (t->dtype < 0 || t->dtype >= EMBER_DTYPE_COUNT || !(types & (1u << t->dtype))) {
        char allowed[64] = "";
        for (int d = 0; d < EMBER_DTYPE_COUNT; ++d)
            if (types & (1u << d)) {
                if (allowed[0]) strcat(allowed, " or ");
                strcat(allowed, ecu_dtname(d));
            }
        return ecu_errf(err, "%s: %s has dtype %s; expected %s", op, what,
                        ecu_dtname(t->dtype), allowed);
    }
    int64_t n = ecu_numel(t);
    if (want >= 0 && n != want)
        return ecu_errf(err, "%s: %s has %lld elements; expected %lld", op, what,
                        (long long)n, (long long)want);
    if (n > 0 && !t->data) return ecu_errf(err, "%s: %s has no data", op, what);
    return 0;
}

/* Last dim of t (1 for a scalar) and the product of the others. */
static inline void ecu_rows_cols(const ember_tensor *t, int64_t *rows, int64_t *cols)
{
    int64_t c = t->ndim > 0 ? t->shape[t->ndim - 1] : 1;
    *cols = c;
    *rows = c ? ecu_numel(t) / c : 0;
}

#endif
