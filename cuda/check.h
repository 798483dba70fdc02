/* check.h — turns every CUDA runtime and cuBLAS(Lt) status into an
 * ember_err naming the call, the library's own error name and text, and the
 * file and line. Used as `CU_CHECK(cudaMalloc(&p, n));` inside functions that
 * have `ember_err *err` in scope and return int (0 / -1).
 *
 * After a failed CUDA runtime call the error is read off with
 * cudaGetLastError(), so a non-sticky failure (out of memory, a bad launch
 * configuration) does not poison the next call: the backend stays usable. */
#ifndef EMBER_CUDA_CHECK_H
#define EMBER_CUDA_CHECK_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/error.h"

/* Formats into err (never NULL-unsafe); returns -1. */
int ecu_errf(ember_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ecu_fail_cuda(ember_err *err, cudaError_t e, const char *call, const char *func,
                  const char *file, int line);
int ecu_fail_cublas(ember_err *err, cublasStatus_t s, const char *call, const char *func,
                    const char *file, int line);

#define CU_CHECK(call)                                                              \
    do {                                                                            \
        cudaError_t ecu_e_ = (call);                                                \
        if (ecu_e_ != cudaSuccess)                                                  \
            return ecu_fail_cuda(err, ecu_e_, #call, __func__, __FILE__, __LINE__); \
    } while (0)

#define CUBLAS_CHECK(call)                                                            \
    do {                                                                              \
        cublasStatus_t ecu_s_ = (call);                                               \
        if (ecu_s_ != CUBLAS_STATUS_SUCCESS)                                          \
            return ecu_fail_cublas(err, ecu_s_, #call, __func__, __FILE__, __LINE__); \
    } while (0)

#endif
