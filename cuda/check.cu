/* check.cu — the messages behind check.h's macros. Kept apart so that every
 * CUDA and cuBLAS failure reads the same way:
 *   "<op>: CUDA error cudaErrorMemoryAllocation (out of memory) in
 *    cudaMalloc(&p, bytes) [cuda/backend.cu:120]" */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

int ecu_errf(ember_err *err, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *base_name(const char *file)
{
    const char *s = strstr(file, "cuda/");
    return s ? s : file;
}

/* Op names arrive as the C function names (be_matmul): drop the prefix. */
static const char *op_name(const char *func)
{
    return strncmp(func, "be_", 3) == 0 ? func + 3 : func;
}

int ecu_fail_cuda(ember_err *err, cudaError_t e, const char *call, const char *func,
                  const char *file, int line)
{
    /* Clear the error if it is not sticky, so later calls are not blamed. */
    (void)cudaGetLastError();
    const char *hint = "";
    if (e == cudaErrorMemoryAllocation)
        hint = "; the GPU is out of memory: use a smaller batch or model, or free values "
               "that hold GPU memory";
    else if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver)
        hint = "; no usable NVIDIA GPU (check nvidia-smi)";
    return ecu_errf(err, "%s: CUDA error %s (%s) in %s [%s:%d]%s", op_name(func),
                    cudaGetErrorName(e), cudaGetErrorString(e), call, base_name(file), line,
                    hint);
}

int ecu_fail_cublas(ember_err *err, cublasStatus_t s, const char *call, const char *func,
                    const char *file, int line)
{
    (void)cudaGetLastError();
    const char *hint = s == CUBLAS_STATUS_ALLOC_FAILED
                           ? "; the GPU is out of memory: use a smaller batch or model"
                           : "";
    return ecu_errf(err, "%s: cuBLAS error %s (%s) in %s [%s:%d]%s", op_name(func),
                    cublasGetStatusName(s), cublasGetStatusString(s), call, base_name(file),
                    line, hint);
}
