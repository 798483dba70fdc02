/* cuda_test.c — shared helpers of the GPU tests (see cuda_test.h). */
#define _GNU_SOURCE
#include "cuda_test.h"

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"

int ct_failures = 0;

typedef int (*probe_fn)(char *msg, size_t len);

int ct_open(const ember_backend **gpu)
{
    *gpu = NULL;
    /* The library the build made (EMBER_CUDA_LIB_PATH) unless the caller
     * chose one; the engine's loader reads the same variable. */
    const char *lib = getenv("EMBER_CUDA_LIB");
    if (!lib || !lib[0]) {
        setenv("EMBER_CUDA_LIB", EMBER_CUDA_LIB_PATH, 1);
        lib = EMBER_CUDA_LIB_PATH;
    }
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("FAIL: cannot load %s: %s\n", lib, dlerror());
        return 1;
    }
    void *sym = dlsym(h, "ember_cuda_probe");
    if (!sym) {
        printf("FAIL: %s has no ember_cuda_probe\n", lib);
        dlclose(h);
        return 1;
    }
    probe_fn probe;
    memcpy(&probe, &sym, sizeof probe);
    char msg[256];
    int n = probe(msg, sizeof msg);
    dlclose(h);
    if (n <= 0) {
        printf("SKIP: no CUDA device (%s); GPU tests need an NVIDIA GPU\n", msg);
        fflush(stdout);
        return CT_SKIP;
    }
    ember_err err;
    ember_err_clear(&err);
    if (ember_backend_cuda(gpu, &err)) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    printf("device: %s\n", (*gpu)->describe(*gpu));
    return 0;
}

void ct_close(void)
{
    ember_backend_cuda_unload();
}

static uint64_t next(ct_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

float ct_uniform(ct_rng *r, float lo, float hi)
{
    double u = (double)(next(r) >> 11) / 9007199254740992.0;
    return (float)(lo + (hi - lo) * u);
}

float ct_normal(ct_rng *r)
{
    double u1 = ((double)(next(r) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(next(r) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static size_t dsize(ember_dtype d)
{
    return d == EMBER_BF16 ? 2 : d == EMBER_U8 ? 1 : 4;
}

int ct_pair_new(ct_pair *p, const ember_backend *gpu, ember_dtype gdt, int ndim,
                const int64_t *shape)
{
    ember_err err;
    memset(p, 0, sizeof *p);
    p->gdt = gdt;
    p->n = 1;
    for (int i = 0; i < ndim; i++) p->n *= shape[i];
    ember_dtype cdt = (gdt == EMBER_I32 || gdt == EMBER_U8) ? gdt : EMBER_F32;
    if (ember_tensor_host_new(&p->cpu, cdt, ndim, shape, &err)) return ct_ok("host tensor", -1, &err);
    p->host = calloc((size_t)(p->n ? p->n : 1), sizeof(float));
    void *d = NULL;
    size_t bytes = (size_t)p->n * dsize(gdt);
    if (gpu->alloc(gpu, bytes ? bytes : 256, &d, &err)) return ct_ok("gpu alloc", -1, &err);
    if (ember_tensor_view(&p->gpu, d, gdt, EMBER_DEV_CUDA, ndim, shape, &err))
        return ct_ok("gpu view", -1, &err);
    return p->host ? 0 : -1;
}

void ct_pair_free(ct_pair *p, const ember_backend *gpu)
{
    ember_tensor_free(&p->cpu);
    if (p->gpu.data) gpu->dealloc(gpu, p->gpu.data);
    free(p->host);
    memset(p, 0, sizeof *p);
}

int ct_pair_push(ct_pair *p, const ember_backend *gpu)
{
    ember_err err;
    size_t bytes = (size_t)p->n * dsize(p->gdt);
    void *stage = malloc(bytes ? bytes : 1);
    if (!stage) return -1;
    for (int64_t i = 0; i < p->n; i++) {
        float v = p->host[i];
        switch (p->gdt) {
        case EMBER_BF16: {
            uint16_t h = ember_f32_to_bf16(v);
            ((uint16_t *)stage)[i] = h;
            ((float *)p->cpu.data)[i] = ember_bf16_to_f32(h);
            p->host[i] = ember_bf16_to_f32(h);
            break;
        }
        case EMBER_I32:
            ((int32_t *)stage)[i] = (int32_t)v;
            ((int32_t *)p->cpu.data)[i] = (int32_t)v;
            break;
        case EMBER_U8:
            ((uint8_t *)stage)[i] = (uint8_t)v;
            ((uint8_t *)p->cpu.data)[i] = (uint8_t)v;
            break;
        default:
            ((float *)stage)[i] = v;
            ((float *)p->cpu.data)[i] = v;
        }
    }
    int rc = gpu->copy_h2d(gpu, p->gpu.data, stage, bytes, &err) || gpu->sync(gpu, &err);
    free(stage);
    return rc ? ct_ok("upload", -1, &err) : 0;
}

int ct_pair_fill(ct_pair *p, const ember_backend *gpu, ct_rng *r, float lo, float hi)
{
    for (int64_t i = 0; i < p->n; i++) {
        float v = ct_uniform(r, lo, hi);
        if (p->gdt == EMBER_I32 || p->gdt == EMBER_U8) v = floorf(v);
        p->host[i] = v;
    }
    return ct_pair_push(p, gpu);
}

int ct_pair_fetch(ct_pair *p, const ember_backend *gpu, float *out)
{
    ember_err err;
    size_t bytes = (size_t)p->n * dsize(p->gdt);
    void *stage = malloc(bytes ? bytes : 1);
    if (!stage) return -1;
    if (gpu->copy_d2h(gpu, stage, p->gpu.data, bytes, &err) || gpu->sync(gpu, &err)) {
        free(stage);
        return ct_ok("download", -1, &err);
    }
    for (int64_t i = 0; i < p->n; i++) {
        switch (p->gdt) {
        case EMBER_BF16: out[i] = ember_bf16_to_f32(((uint16_t *)stage)[i]); break;
        case EMBER_I32: out[i] = (float)((int32_t *)stage)[i]; break;
        case EMBER_U8: out[i] = (float)((uint8_t *)stage)[i]; break;
        default: out[i] = ((float *)stage)[i];
        }
    }
    free(stage);
    return 0;
}

double ct_pair_rel(ct_pair *p, const ember_backend *gpu)
{
    float *g = malloc(sizeof(float) * (size_t)(p->n ? p->n : 1));
    if (!g || ct_pair_fetch(p, gpu, g)) {
        free(g);
        return -1.0;
    }
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < p->n; i++) {
        double c = p->cpu.dtype == EMBER_I32 ? (double)((int32_t *)p->cpu.data)[i]
                                             : (double)((float *)p->cpu.data)[i];
        double d = (double)g[i] - c;
        if (isnan(g[i]) != isnan(c)) num = INFINITY;
        num += d * d;
        den += c * c;
    }
    free(g);
    if (isnan(num)) return INFINITY;
    return sqrt(num) / fmax(sqrt(den), 1e-30);
}

void ct_expect_rel(const char *what, double rel, double tol)
{
    int ok = rel >= 0.0 && rel <= tol;
    printf("%s %-58s rel %.3e (bound %.0e)\n", ok ? "ok  " : "FAIL", what, rel, tol);
    if (!ok) ct_failures++;
}

void ct_expect(const char *what, int cond)
{
    printf("%s %s\n", cond ? "ok  " : "FAIL", what);
    if (!cond) ct_failures++;
}

int ct_ok(const char *what, int rc, const ember_err *err)
{
    if (rc) {
        printf("FAIL %s: %s\n", what, err ? err->msg : "(no message)");
        ct_failures++;
        return -1;
    }
    return 0;
}
