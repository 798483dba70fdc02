/* test_backend_load.c — the CUDA backend loader's clear errors: a missing
 * library, and a library that is not a backend. (Loading the real one is
 * the job of tests/cuda, on a machine with a GPU.) */
#include <stdlib.h>

#include "core/backend.h"
#include "test_util.h"

int main(void) {
    ember_err e = {{0}};
    const ember_backend *be = (const ember_backend *)1;

    setenv("EMBER_CUDA_LIB", "/nonexistent/libember_cuda.so", 1);
    CHECK(ember_backend_cuda(&be, &e) == -1 && be == NULL, "missing library fails");
    CHECK(strstr(e.msg, "CUDA backend not available") && strstr(e.msg, "using the CPU") &&
              strstr(e.msg, "/nonexistent/libember_cuda.so"),
          "message names the problem: %s", e.msg);
    printf("missing: %s\n", e.msg);
    /* The failure is remembered: no second dlopen, same message. */
    ember_err e2 = {{0}};
    CHECK(ember_backend_cuda(&be, &e2) == -1 && strcmp(e.msg, e2.msg) == 0, "fails fast the second time");

    ember_backend_cuda_unload();
    setenv("EMBER_CUDA_LIB", EMBER_FAKE_CUDA_LIB, 1);
    CHECK(ember_backend_cuda(&be, &e) == -1 && strstr(e.msg, "ember_cuda_backend_open") &&
              strstr(e.msg, "using the CPU"),
          "wrong library: %s", e.msg);
    printf("wrong library: %s\n", e.msg);
    ember_backend_cuda_unload();

    CHECK(ember_backend_for(EMBER_DEV_CPU, &be, &e) == 0 && be == ember_backend_cpu(), "cpu always there");
    CHECK(ember_backend_for(EMBER_DEV_CUDA, &be, &e) == -1, "cuda still absent");
    CHECK(ember_backend_validate(NULL, &e) == -1, "NULL table refused");
    ember_backend bad = *ember_backend_cpu();
    bad.abi = EMBER_BACKEND_ABI + 1;
    CHECK(ember_backend_validate(&bad, &e) == -1 && strstr(e.msg, "ABI"), "ABI mismatch: %s", e.msg);
    bad = *ember_backend_cpu();
    bad.attention_bwd = NULL;
    CHECK(ember_backend_validate(&bad, &e) == -1 && strstr(e.msg, "lacks"), "missing op: %s", e.msg);
    ember_backend_cuda_unload();
    return t_finish("test_backend_load");
}
