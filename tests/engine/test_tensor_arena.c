/* test_tensor_arena.c — tensor views and checks, and arena behaviour:
 * alignment, mark/reset, running out of room with a clear message, and the
 * measuring arena used to size activations. */
#include "core/arena.h"
#include "test_util.h"

int main(void) {
    ember_err e = {{0}};
    ember_tensor t;
    int64_t s3[3] = {2, 3, 4};
    CHECK(ember_tensor_view(&t, NULL, EMBER_BF16, EMBER_DEV_CPU, 3, s3, &e) == 0, "view");
    CHECK(ember_tensor_numel(&t) == 24 && ember_tensor_nbytes(&t) == 48, "numel/nbytes");
    char buf[64];
    CHECK(strcmp(ember_tensor_describe(&t, buf, sizeof buf), "[2, 3, 4] bf16 cpu") == 0, "describe: %s", buf);
    int64_t neg[2] = {2, -1};
    CHECK(ember_tensor_view(&t, NULL, EMBER_F32, EMBER_DEV_CPU, 2, neg, &e) == -1 && strstr(e.msg, "negative"), "negative dim");
    int64_t huge[2] = {1ll << 40, 1ll << 40};
    CHECK(ember_tensor_view(&t, NULL, EMBER_F32, EMBER_DEV_CPU, 2, huge, &e) == -1 && strstr(e.msg, "too large"), "overflow");
    CHECK(ember_tensor_view(&t, NULL, EMBER_F32, EMBER_DEV_CPU, 7, s3, &e) == -1, "too many dims");
    CHECK(ember_tensor_view(&t, NULL, (ember_dtype)99, EMBER_DEV_CPU, 1, s3, &e) == -1, "bad dtype");
    ember_dtype dt;
    CHECK(ember_dtype_from_st_name("BF16", &dt) == 0 && dt == EMBER_BF16, "st names");
    CHECK(ember_dtype_from_st_name("F16", &dt) == -1, "F16 unsupported");
    CHECK(ember_dtype_size(EMBER_I64) == 8 && ember_dtype_size(EMBER_U8) == 1, "sizes");

    ember_tensor h;
    CHECK(ember_tensor_host_new(&h, EMBER_I32, 3, s3, &e) == 0 && h.owner == EMBER_OWNER_MALLOC, "host tensor");
    CHECK(((int32_t *)h.data)[23] == 0, "zeroed");
    CHECK(ember_tensor_check(&h, "x", EMBER_F32, EMBER_DEV_CPU, -1, &e) == -1 && strstr(e.msg, "expected dtype f32"),
          "check dtype: %s", e.msg);
    CHECK(ember_tensor_check(&h, "x", EMBER_I32, EMBER_DEV_CUDA, -1, &e) == -1 && strstr(e.msg, "cuda"), "check device");
    CHECK(ember_tensor_check(&h, "x", EMBER_I32, EMBER_DEV_CPU, 25, &e) == -1 && strstr(e.msg, "25"), "check numel");
    ember_tensor_free(&h);
    CHECK(h.data == NULL, "freed");

    const ember_backend *be = ember_backend_cpu();
    ember_arena a;
    CHECK(ember_arena_init(&a, be, 4096, &e) == 0, "arena init");
    void *p1, *p2;
    CHECK(ember_arena_alloc(&a, 10, 1, &p1, &e) == 0, "alloc");
    CHECK(ember_arena_alloc(&a, 10, 64, &p2, &e) == 0 && (uintptr_t)p2 % 64 == 0 && (char *)p2 >= (char *)p1 + 10, "aligned");
    CHECK(ember_arena_alloc(&a, 10, 3, &p2, &e) == -1 && strstr(e.msg, "power of two"), "bad alignment");
    size_t mark = ember_arena_mark(&a);
    ember_tensor at;
    int64_t s1[1] = {100};
    CHECK(ember_arena_tensor(&a, &at, EMBER_F32, 1, s1, &e) == 0 && (uintptr_t)at.data % EMBER_ARENA_ALIGN == 0, "tensor");
    CHECK(a.used > mark, "used grows");
    ember_arena_reset(&a, mark);
    CHECK(a.used == mark, "reset");
    ember_tensor again;
    CHECK(ember_arena_tensor(&a, &again, EMBER_F32, 1, s1, &e) == 0 && again.data == at.data, "space reused after reset");
    int64_t big[1] = {2000};
    CHECK(ember_arena_tensor(&a, &at, EMBER_F32, 1, big, &e) == -1 && strstr(e.msg, "out of room"), "full: %s", e.msg);
    CHECK(a.peak <= a.cap, "peak within cap");
    ember_arena_release(&a);
    ember_arena_release(&a); /* twice is harmless */

    ember_arena m;
    ember_arena_init_measure(&m, EMBER_DEV_CPU);
    CHECK(ember_arena_tensor(&m, &at, EMBER_F32, 1, big, &e) == 0 && at.data == NULL, "measuring hands out NULL");
    CHECK(ember_arena_tensor(&m, &at, EMBER_U8, 1, s1, &e) == 0, "measure 2");
    CHECK(m.peak == 8000 + 100 + (EMBER_ARENA_ALIGN - 8000 % EMBER_ARENA_ALIGN), "measured %zu", m.peak);
    ember_arena_release(&m);

    ember_step_scalars st;
    ember_step_scalars_set(&st, 0.5f, 0.9, 0.999, 2, 77);
    CHECK(fabs(st.bc1 - 0.19) < 2e-8 && fabs(st.bc2 - (1 - 0.999 * 0.999)) < 2e-10 && st.rng_offset == 77 && st.t == 2,
          "step scalars");
    ember_err_set(&e, "inner %d", 5);
    ember_err_prefix(&e, "outer: ");
    CHECK(strcmp(e.msg, "outer: inner 5") == 0, "prefix: %s", e.msg);
    CHECK(ember_err_set(NULL, "x") == -1, "NULL err is fine");
    return t_finish("test_tensor_arena");
}
