/* test_philox.c — Philox4x32-10 against Random123's published known-answer
 * vectors (kat_vectors), and the element mapping dropout relies on. */
#include "core/philox.h"
#include "test_util.h"

int main(void) {
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
        {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
         {0xffffffffu, 0xffffffffu},
         {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
        {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
         {0xa4093822u, 0x299f31d0u},
         {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        ember_philox4 c = {{kat[i].ctr[0], kat[i].ctr[1], kat[i].ctr[2], kat[i].ctr[3]}};
        ember_philox4 r = ember_philox4x32_10(c, kat[i].key[0], kat[i].key[1]);
        for (int j = 0; j < 4; j++)
            CHECK(r.v[j] == kat[i].out[j], "kat %zu word %d: %08x != %08x", i, j, r.v[j], kat[i].out[j]);
    }
    /* Element i of a stream at `base` is word i%4 of counter base + i/4, with
     * the counter's low word first and the seed's low word as key 0. */
    uint64_t seed = 0x0123456789abcdefull, base = 0xfffffffeull;
    for (uint64_t i = 0; i < 16; i++) {
        uint64_t c = base + i / 4;
        ember_philox4 ctr = {{(uint32_t)c, (uint32_t)(c >> 32), 0, 0}};
        ember_philox4 r = ember_philox4x32_10(ctr, 0x89abcdefu, 0x01234567u);
        CHECK(ember_philox_draw(seed, base, i) == r.v[i % 4], "mapping of element %llu", (unsigned long long)i);
    }
    CHECK(ember_dropout_threshold(0.0f) == 0, "p=0 keeps all");
    CHECK(ember_dropout_threshold(0.5f) == 0x80000000u, "p=0.5 threshold");
    CHECK(ember_dropout_threshold(0.1f) == (uint32_t)(0.1f * 4294967296.0), "p=0.1 threshold");
    CHECK(ember_philox_counters(0) == 0 && ember_philox_counters(5) == 2 && ember_philox_counters(8) == 2, "counters");
    /* Uniformity sanity: the mean of many draws is near 2^31. */
    double s = 0;
    for (uint64_t i = 0; i < 100000; i++) s += ember_philox_draw(7, 0, i);
    double mean = s / 100000 / 4294967296.0;
    CHECK(fabs(mean - 0.5) < 0.005, "mean of draws %f", mean);
    return t_finish("test_philox");
}
