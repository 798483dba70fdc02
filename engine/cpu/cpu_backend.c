/* cpu_backend.c — the CPU backend's table, its memory functions (host memory:
 * copies are memcpy and nothing is asynchronous), and the argument checks
 * its ops share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/cancel.h"
#include "cpu/cpu_internal.h"

static int64_t chunk_flops = CPU_CHUNK_FLOPS_DEFAULT;

int64_t cpu_chunk_flops(void) { return chunk_flops; }

int64_t cpu_set_chunk_flops(int64_t flops) {
    int64_t old = chunk_flops;
    chunk_flops = flops > 0 ? flops : CPU_CHUNK_FLOPS_DEFAULT;
    return old;
}

int cpu_chunk_next(int64_t c0, int64_t n, double item_flops, int64_t *c1, ember_err *err) {
    if (c0 > 0 && ember_cancel_check(err)) return -1;
    double per = (double)chunk_flops / (item_flops > 1.0 ? item_flops : 1.0);
    *c1 = per >= (double)(n - c0) ? n : c0 + (per < 1.0 ? 1 : (int64_t)per);
    return 0;
}

int cpu_need(const ember_tensor *t, const char *op, const char *arg, ember_dtype dt, int64_t numel,
             ember_err *err) {
    if (!t) return ember_err_set(err, "%s: %s is missing", op, arg);
    if (t->dtype != dt && t->device == EMBER_DEV_CPU && dt == EMBER_F32 && t->dtype == EMBER_BF16)
        return ember_err_set(err,
                             "%s: %s is bf16, but the CPU backend computes in f32 only "
                             "(cast it to f32 first)",
                             op, arg);
    char what[160];
    snprintf(what, sizeof what, "%s: %s", op, arg);
    return ember_tensor_check(t, what, dt, EMBER_DEV_CPU, numel, err);
}

int cpu_need_f32(const ember_tensor *t, const char *op, const char *arg, int64_t numel,
                 ember_err *err) {
    return cpu_need(t, op, arg, EMBER_F32, numel, err);
}

int cpu_read_step(const ember_tensor *step, const char *op, ember_step_scalars *out,
                  ember_err *err) {
    memset(out, 0, sizeof *out);
    if (!step) {
        out->bc1 = out->bc2 = 1.0f;
        return 0;
    }
    if (step->device != EMBER_DEV_CPU || !step->data ||
        ember_tensor_nbytes(step) < sizeof(ember_step_scalars))
        return ember_err_set(err, "%s: the step tensor must be a CPU tensor of at least %zu bytes",
                             op, sizeof(ember_step_scalars));
    memcpy(out, step->data, sizeof *out);
    return 0;
}

static int cpu_alloc(const ember_backend *be, size_t bytes, void **out, ember_err *err) {
    (void)be;
    *out = NULL;
    if (bytes == 0) return ember_err_set(err, "cpu alloc: zero bytes");
    size_t rounded = (bytes + 255) & ~(size_t)255;
    if (rounded < bytes) return ember_err_set(err, "cpu alloc: %zu bytes is too large", bytes);
    void *p = aligned_alloc(256, rounded);
    if (!p) return ember_err_set(err, "out of host memory allocating %zu bytes", bytes);
    *out = p;
    return 0;
}

static void cpu_dealloc(const ember_backend *be, void *p) {
    (void)be;
    free(p);
}

static int cpu_copy(const ember_backend *be, void *dst, const void *src, size_t bytes,
                    ember_err *err) {
    (void)be;
    if (bytes && (!dst || !src)) return ember_err_set(err, "cpu copy: NULL pointer");
    if (bytes) memmove(dst, src, bytes);
    return 0;
}

static int cpu_fill_bytes(const ember_backend *be, void *dst, int byte, size_t bytes,
                          ember_err *err) {
    (void)be;
    if (bytes && !dst) return ember_err_set(err, "cpu fill: NULL pointer");
    if (bytes) memset(dst, byte, bytes);
    return 0;
}

static int cpu_sync(const ember_backend *be, ember_err *err) {
    (void)be;
    (void)err;
    return 0;
}

static void cpu_close(const ember_backend *be) { (void)be; }

static const char *cpu_describe(const ember_backend *be) {
    (void)be;
    static char buf[96];
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
#ifdef EMBER_HAVE_BLAS
    snprintf(buf, sizeof buf, "CPU, %d threads, OpenBLAS sgemm", threads);
#else
    snprintf(buf, sizeof buf, "CPU, %d threads, portable sgemm", threads);
#endif
    return buf;
}

static const ember_backend cpu_table = {
    .abi = EMBER_BACKEND_ABI,
    .struct_size = sizeof(ember_backend),
    .name = "cpu",
    .device = EMBER_DEV_CPU,
    .impl = NULL,
    .close = cpu_close,
    .describe = cpu_describe,
    .alloc = cpu_alloc,
    .dealloc = cpu_dealloc,
    .copy_h2d = cpu_copy,
    .copy_d2h = cpu_copy,
    .copy_d2d = cpu_copy,
    .fill_bytes = cpu_fill_bytes,
    .sync = cpu_sync,
    .matmul = cpu_matmul,
    .bias_grad = cpu_bias_grad,
    .gelu_fwd = cpu_gelu_fwd,
    .gelu_bwd = cpu_gelu_bwd,
    .add = cpu_add,
    .dropout_fwd = cpu_dropout_fwd,
    .dropout_bwd = cpu_dropout_bwd,
    .layernorm_fwd = cpu_layernorm_fwd,
    .layernorm_bwd = cpu_layernorm_bwd,
    .attention_fwd = cpu_attention_fwd,
    .attention_bwd = cpu_attention_bwd,
    .mean_tokens_fwd = cpu_mean_tokens_fwd,
    .mean_tokens_bwd = cpu_mean_tokens_bwd,
    .im2col_fwd = cpu_im2col_fwd,
    .im2col_bwd = cpu_im2col_bwd,
    .pos_embed_fwd = cpu_pos_embed_fwd,
    .pos_embed_bwd = cpu_pos_embed_bwd,
    .ce_fwd = cpu_ce_fwd,
    .ce_bwd = cpu_ce_bwd,
    .adamw = cpu_adamw,
    .zero = cpu_zero,
    .l2_norm = cpu_l2_norm,
    .cast = cpu_cast,
    .argmax = cpu_argmax,
    .accuracy_count = cpu_accuracy_count,
    .normalize_u8 = cpu_normalize_u8,
    .graph_begin = NULL,
    .graph_end = NULL,
    .graph_launch = NULL,
    .graph_destroy = NULL,
    .act_fwd = cpu_act_fwd,
    .conv3x3_cols = cpu_conv3x3_cols,
    .deconv_scatter = cpu_deconv_scatter,
    .film_fwd = cpu_film_fwd,
};

const ember_backend *ember_backend_cpu(void) { return &cpu_table; }
