/* test_cuda_clipseg.c — the CUDA backend's CLIPSeg ops (act_fwd,
 * conv3x3_cols, deconv_scatter, film_fwd; cuda/clipseg_ops.cu) against the
 * CPU backend's (themselves tested against float64 in
 * tests/engine/test_cpu_ops_clipseg.c), then the tiny CLIPSeg fixture run
 * on the GPU against its float64 transformers reference (tolerance as in
 * tests/nn/test_clipseg.c: normwise 1e-4). Skips (77) without a device. */
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "cuda_test.h"
#include "nn/clipseg.h"

static const ember_backend *gpu, *cpu;

static ember_tensor shaped(const ember_tensor *t, int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    ember_tensor v = *t;
    int64_t s[4] = {a, b, c, d};
    v.owner = EMBER_OWNER_NONE;
    v.ndim = ndim;
    for (int i = 0; i < EMBER_MAX_DIMS; i++) v.shape[i] = i < ndim ? s[i] : 1;
    return v;
}

static void test_ops(void)
{
    ct_rng r = {0x5eedull};
    ember_err err = {{0}};
    ct_pair x, y, cols, bias, sc, sh;
    int64_t n = 4099;
    /* Activations. */
    if (ct_pair_new(&x, gpu, EMBER_F32, 1, &n) || ct_pair_new(&y, gpu, EMBER_F32, 1, &n)) return;
    ct_pair_fill(&x, gpu, &r, -6.0f, 6.0f);
    for (int act = EMBER_ACT_RELU; act <= EMBER_ACT_QUICK_GELU; act++) {
        ct_ok("act cpu", cpu->act_fwd(cpu, &y.cpu, &x.cpu, act, &err), &err);
        ct_ok("act gpu", gpu->act_fwd(gpu, &y.gpu, &x.gpu, act, &err), &err);
        ct_expect_rel(act == EMBER_ACT_RELU ? "relu" : "quick_gelu", ct_pair_rel(&y, gpu), CT_TOL_F32);
    }
    ct_expect("act rejects an unknown activation", gpu->act_fwd(gpu, &y.gpu, &x.gpu, 7, &err) != 0);
    ct_pair_free(&x, gpu);
    ct_pair_free(&y, gpu);

    /* conv3x3_cols on [2, 5, 7, 6]. */
    int64_t xs[4] = {2, 5, 7, 6}, cs[3] = {2, 35, 54};
    if (ct_pair_new(&x, gpu, EMBER_F32, 4, xs) || ct_pair_new(&cols, gpu, EMBER_F32, 3, cs)) return;
    ct_pair_fill(&x, gpu, &r, -1.0f, 1.0f);
    ct_ok("conv3x3_cols cpu", cpu->conv3x3_cols(cpu, &cols.cpu, &x.cpu, &err), &err);
    ct_ok("conv3x3_cols gpu", gpu->conv3x3_cols(gpu, &cols.gpu, &x.gpu, &err), &err);
    ct_expect_rel("conv3x3_cols (a copy: exact)", ct_pair_rel(&cols, gpu), 1e-12);
    ct_pair_free(&x, gpu);
    ct_pair_free(&cols, gpu);

    /* deconv_scatter: cols [2, 3, 4, 5*4*4] -> out [2, 12, 16, 5], with and without bias. */
    int64_t ks[4] = {2, 3, 4, 80}, os[4] = {2, 12, 16, 5}, bs = 5;
    if (ct_pair_new(&cols, gpu, EMBER_F32, 4, ks) || ct_pair_new(&y, gpu, EMBER_F32, 4, os) ||
        ct_pair_new(&bias, gpu, EMBER_F32, 1, &bs))
        return;
    ct_pair_fill(&cols, gpu, &r, -1.0f, 1.0f);
    ct_pair_fill(&bias, gpu, &r, -1.0f, 1.0f);
    for (int wb = 0; wb < 2; wb++) {
        ct_ok("deconv cpu", cpu->deconv_scatter(cpu, &y.cpu, &cols.cpu, wb ? &bias.cpu : NULL, 4, &err), &err);
        ct_ok("deconv gpu", gpu->deconv_scatter(gpu, &y.gpu, &cols.gpu, wb ? &bias.gpu : NULL, 4, &err), &err);
        ct_expect_rel(wb ? "deconv_scatter + bias" : "deconv_scatter", ct_pair_rel(&y, gpu), CT_TOL_F32);
    }
    ct_pair_free(&cols, gpu);
    ct_pair_free(&y, gpu);
    ct_pair_free(&bias, gpu);

    /* FiLM, broadcast x [1, T, C] and in place [B, T, C]. */
    int64_t B = 3, T = 11, C = 16, xs3[3] = {3, 11, 16}, ss[2] = {3, 16};
    if (ct_pair_new(&x, gpu, EMBER_F32, 3, xs3) || ct_pair_new(&y, gpu, EMBER_F32, 3, xs3) ||
        ct_pair_new(&sc, gpu, EMBER_F32, 2, ss) || ct_pair_new(&sh, gpu, EMBER_F32, 2, ss))
        return;
    ct_pair_fill(&x, gpu, &r, -1.0f, 1.0f);
    ct_pair_fill(&sc, gpu, &r, -1.0f, 1.0f);
    ct_pair_fill(&sh, gpu, &r, -1.0f, 1.0f);
    ember_tensor x1c = shaped(&x.cpu, 3, 1, T, C, 0), x1g = shaped(&x.gpu, 3, 1, T, C, 0);
    ct_ok("film cpu", cpu->film_fwd(cpu, &y.cpu, &x1c, &sc.cpu, &sh.cpu, &err), &err);
    ct_ok("film gpu", gpu->film_fwd(gpu, &y.gpu, &x1g, &sc.gpu, &sh.gpu, &err), &err);
    ct_expect_rel("film broadcast", ct_pair_rel(&y, gpu), CT_TOL_F32);
    ct_ok("film cpu", cpu->film_fwd(cpu, &x.cpu, &x.cpu, &sc.cpu, &sh.cpu, &err), &err);
    ct_ok("film gpu", gpu->film_fwd(gpu, &x.gpu, &x.gpu, &sc.gpu, &sh.gpu, &err), &err);
    ct_expect_rel("film in place", ct_pair_rel(&x, gpu), CT_TOL_F32);
    (void)B;
    ct_pair_free(&x, gpu);
    ct_pair_free(&y, gpu);
    ct_pair_free(&sc, gpu);
    ct_pair_free(&sh, gpu);
}

static float *read_f32(const ember_st_file *f, const char *name, int64_t *n)
{
    const ember_st_entry *e = ember_st_find(f, name);
    if (!e) return NULL;
    float *p = (float *)malloc(e->nbytes);
    if (p) memcpy(p, f->data + e->offset, e->nbytes);
    *n = (int64_t)(e->nbytes / 4);
    return p;
}

static void test_model(void)
{
    const char *path = EMBER_SOURCE_DIR "/tests/fixtures/clipseg_tiny.safetensors";
    const char *cfg = EMBER_SOURCE_DIR "/tests/fixtures/clipseg_tiny_config.json";
    ember_err err = {{0}};
    ember_st_file f;
    if (ct_ok("open fixture", ember_st_open(&f, path, &err), &err)) return;
    int64_t npix = 0, nlog = 0, nids = 0, neos = 0;
    float *pix = read_f32(&f, "input.pixel_values", &npix), *ref = read_f32(&f, "expect.logits", &nlog);
    int32_t *ids = (int32_t *)read_f32(&f, "input.ids", &nids), *eos = (int32_t *)read_f32(&f, "input.eos", &neos);
    const ember_st_entry *e = ember_st_find(&f, "input.ids");
    ember_clipseg *m = NULL;
    if (pix && ref && ids && eos && e &&
        !ct_ok("load on the GPU", ember_clipseg_load(&m, gpu, path, NULL, cfg, 128, &err), &err)) {
        int P = (int)e->shape[0], L = (int)e->shape[1];
        float *out = (float *)calloc((size_t)nlog, 4);
        if (!ct_ok("forward on the GPU", ember_clipseg_forward(m, pix, ids, eos, P, L, out, NULL, &err), &err)) {
            double num = 0, den = 0;
            for (int64_t i = 0; i < nlog; i++) {
                double d = out[i] - ref[i];
                if (d < 0) d = -d;
                if (d > num || d != d) num = d;
                if ((ref[i] < 0 ? -ref[i] : ref[i]) > den) den = ref[i] < 0 ? -ref[i] : ref[i];
            }
            ct_expect_rel("tiny CLIPSeg logits vs float64 transformers", num / den, 1e-4);
        }
        free(out);
    }
    ember_clipseg_free(m);
    free(pix);
    free(ref);
    free(ids);
    free(eos);
    ember_st_close(&f);
}

int main(void)
{
    int rc = ct_open(&gpu);
    if (rc) return rc;
    cpu = ember_backend_cpu();
    if (!gpu->act_fwd || !gpu->conv3x3_cols || !gpu->deconv_scatter || !gpu->film_fwd) {
        printf("FAIL: the CUDA backend lacks a CLIPSeg op\n");
        ct_close();
        return 1;
    }
    test_ops();
    test_model();
    ct_close();
    if (ct_failures) {
        printf("test_cuda_clipseg: %d failure(s)\n", ct_failures);
        return 1;
    }
    printf("test_cuda_clipseg: all passed\n");
    return 0;
}
