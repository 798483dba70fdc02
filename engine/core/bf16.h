/* bf16.h — bfloat16 <-> float conversions, shared by C and CUDA code so that
 * the CPU reference and the GPU round identically (round to nearest even,
 * NaN kept quiet). Header-only. */
#ifndef EMBER_CORE_BF16_H
#define EMBER_CORE_BF16_H

#include <stdint.h>
#include <string.h>

#include "core/philox.h" /* EMBER_HD */

EMBER_HD uint16_t ember_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep sign, force quiet bit */
        return (uint16_t)((u >> 16) | 0x0040u);
    uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)((u + rounding) >> 16);
}

EMBER_HD float ember_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* What a float becomes after a trip through bf16 (used to emulate the mixed
 * precision path on the CPU). */
EMBER_HD float ember_bf16_round(float f) {
    return ember_bf16_to_f32(ember_f32_to_bf16(f));
}

#endif
