/* trace_backend.h — a backend table that computes nothing and records every
 * call it gets (op name, each tensor's dtype, shape and buffer identity,
 * every scalar argument), so a test can prove on a machine without a GPU
 * that two pieces of model code issue the same operations in the same order
 * with the same arguments. It claims to be a CUDA device (so code that
 * refuses bf16 elsewhere runs) and hands out host memory; copies and fills
 * really happen, the ops only record. */
#ifndef EMBER_TESTS_TRACE_BACKEND_H
#define EMBER_TESTS_TRACE_BACKEND_H

#include "core/backend.h"

/* The table (one per process; not thread-safe, tests only). */
const ember_backend *trace_backend(void);

/* Starts a fresh trace: forgets the recorded lines and the buffer ids. */
void trace_reset(void);
/* Stops recording (calls go on succeeding) until the next trace_reset. */
void trace_pause(void);

/* Calls fn(ctx) right after the n-th call recorded since the last reset
 * (1-based; n <= 0 or fn NULL: never), e.g. to raise an interrupt while op
 * n runs. trace_reset forgets it. */
void trace_after_call(int n, void (*fn)(void *ctx), void *ctx);

/* The trace since the last reset. Buffers are named by the order in which
 * the trace first met their address (#0, #1, ...), so two traces of two
 * models in different memory compare equal exactly when their data flow
 * (which op reads and writes which buffer) is the same. Matrix-product
 * operands are shown by element count only: the backend validates them by
 * count, so a [C, 3, 4, 4] weight and its [C, 48] view are the same call. */
int trace_count(void);
const char *trace_line(int i);

#endif
