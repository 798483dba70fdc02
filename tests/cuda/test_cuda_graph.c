/* test_cuda_graph.c — a captured CUDA graph replays the same work as the
 * ops run one by one, and takes its per-step values (learning rate, bias
 * corrections, dropout counter base) from the step-scalars tensor on every
 * replay: three replays with a learning-rate change and a new RNG offset
 * must equal three eager steps bit for bit, and equal the CPU within the
 * fp32 bound. Also: what a capture cannot do (host copies, alloc) is refused
 * with a message. Skips (77) without a GPU. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_test.h"

#define N 10007

static const ember_backend *GPU, *CPU;

typedef struct side {
    ct_pair x, y, w, g, m, v, loss_in, h;
} side;

static int side_new(side *s, ct_rng *r)
{
    const int64_t sh[1] = {N};
    if (ct_pair_new(&s->x, GPU, EMBER_F32, 1, sh) || ct_pair_new(&s->y, GPU, EMBER_F32, 1, sh) ||
        ct_pair_new(&s->w, GPU, EMBER_F32, 1, sh) || ct_pair_new(&s->g, GPU, EMBER_F32, 1, sh) ||
        ct_pair_new(&s->m, GPU, EMBER_F32, 1, sh) || ct_pair_new(&s->v, GPU, EMBER_F32, 1, sh) ||
        ct_pair_new(&s->h, GPU, EMBER_F32, 1, sh))
        return -1;
    ct_rng r2 = *r;
    if (ct_pair_fill(&s->x, GPU, &r2, 0.5f, 1.5f) || ct_pair_fill(&s->w, GPU, &r2, -1, 1) ||
        ct_pair_fill(&s->m, GPU, &r2, 0, 0) || ct_pair_fill(&s->v, GPU, &r2, 0, 0))
        return -1;
    return 0;
}

/* One "step": h = gelu(x); y = dropout(h); g = y (as a gradient); AdamW. */
static int step_ops(const ember_backend *be, side *s, int on_gpu, ember_tensor *step,
                    ember_err *err)
{
#define T(p) (on_gpu ? &s->p.gpu : &s->p.cpu)
    if (be->gelu_fwd(be, T(h), T(x), err) ||
        be->dropout_fwd(be, T(y), T(h), 0.25f, 77, 1000, step, err) ||
        be->cast(be, T(g), T(y), err) ||
        be->adamw(be, T(w), T(g), T(m), T(v), NULL, step, 0.9f, 0.999f, 1e-8f, 0.05f, NULL, err))
        return -1;
    return 0;
#undef T
}

int main(void)
{
    int rc = ct_open(&GPU);
    if (rc) return rc;
    CPU = ember_backend_cpu();
    ember_err err;
    ember_err_clear(&err);
    ct_rng r = {777};
    side eager, graph;
    if (side_new(&eager, &r) || side_new(&graph, &r)) return 1;

    /* step scalars: one device tensor for the graph, one for eager, one CPU */
    ember_step_scalars sc;
    const int64_t sh[1] = {(int64_t)sizeof sc};
    void *d1 = NULL, *d2 = NULL;
    ember_tensor st_g, st_e, st_c;
    if (ct_ok("alloc", GPU->alloc(GPU, sizeof sc, &d1, &err), &err) ||
        ct_ok("alloc", GPU->alloc(GPU, sizeof sc, &d2, &err), &err) ||
        ember_tensor_view(&st_g, d1, EMBER_U8, EMBER_DEV_CUDA, 1, sh, &err) ||
        ember_tensor_view(&st_e, d2, EMBER_U8, EMBER_DEV_CUDA, 1, sh, &err) ||
        ember_tensor_host_new(&st_c, EMBER_U8, 1, sh, &err))
        return 1;

    /* warm-up outside the capture is not needed for these ops; capture now */
    void *g = NULL;
    ember_step_scalars_set(&sc, 1e-3f, 0.9f, 0.999f, 1, 0);
    if (ct_ok("copy", GPU->copy_h2d(GPU, d1, &sc, sizeof sc, &err), &err) ||
        ct_ok("sync", GPU->sync(GPU, &err), &err))
        return 1;
    if (ct_ok("graph_begin", GPU->graph_begin(GPU, &err), &err)) return 1;
    int cap_rc = step_ops(GPU, &graph, 1, &st_g, &err);
    /* refused inside a capture, with a message, without breaking it */
    ember_err e2;
    ember_err_clear(&e2);
    void *pp = NULL;
    int bad_alloc = GPU->alloc(GPU, 1024, &pp, &e2);
    ct_expect("alloc during capture is refused", bad_alloc == -1 && e2.msg[0]);
    ember_err_clear(&e2);
    int bad_copy = GPU->copy_h2d(GPU, d1, &sc, sizeof sc, &e2);
    ct_expect("a host copy during capture is refused", bad_copy == -1 && e2.msg[0]);
    int end_rc = GPU->graph_end(GPU, &g, &err);
    if (ct_ok("capture of the step", cap_rc, &err) || ct_ok("graph_end", end_rc, &err)) return 1;

    float lrs[3] = {1e-3f, 1e-3f, 2e-4f};
    float *prev_y = malloc(sizeof(float) * N), *gy = malloc(sizeof(float) * N),
          *ey = malloc(sizeof(float) * N), *gw = malloc(sizeof(float) * N),
          *ew = malloc(sizeof(float) * N);
    int masks_change = 1;
    for (int t = 1; t <= 3; t++) {
        uint64_t off = (uint64_t)(t - 1) * 4096;
        ember_step_scalars_set(&sc, lrs[t - 1], 0.9f, 0.999f, t, off);
        memcpy(st_c.data, &sc, sizeof sc);
        if (ct_ok("copy", GPU->copy_h2d(GPU, d1, &sc, sizeof sc, &err), &err) ||
            ct_ok("copy", GPU->copy_h2d(GPU, d2, &sc, sizeof sc, &err), &err) ||
            ct_ok("graph_launch", GPU->graph_launch(GPU, g, &err), &err) ||
            ct_ok("eager step", step_ops(GPU, &eager, 1, &st_e, &err), &err) ||
            ct_ok("cpu step", step_ops(CPU, &eager, 0, &st_c, &err), &err) ||
            ct_ok("sync", GPU->sync(GPU, &err), &err))
            return 1;
        if (ct_pair_fetch(&graph.y, GPU, gy) || ct_pair_fetch(&eager.y, GPU, ey) ||
            ct_pair_fetch(&graph.w, GPU, gw) || ct_pair_fetch(&eager.w, GPU, ew))
            return 1;
        char what[160];
        snprintf(what, sizeof what, "replay %d (lr %g, rng offset %llu) equals the eager step "
                 "bit for bit", t, (double)lrs[t - 1], (unsigned long long)off);
        ct_expect(what, !memcmp(gy, ey, sizeof(float) * N) && !memcmp(gw, ew, sizeof(float) * N));
        ct_expect_rel("  ... eager CUDA weights vs CPU", ct_pair_rel(&eager.w, GPU), CT_TOL_F32);
        ct_expect_rel("  ... eager CUDA dropout output vs CPU", ct_pair_rel(&eager.y, GPU), CT_TOL_F32);
        if (t > 1) {
            int same = 0;
            for (int i = 0; i < N; i++) same += (gy[i] == 0.0f) == (prev_y[i] == 0.0f);
            if (same == N) masks_change = 0;
        }
        memcpy(prev_y, gy, sizeof(float) * N);
    }
    ct_expect("each replay draws a fresh dropout mask (offset read on the device)", masks_change);
    GPU->graph_destroy(GPU, g);
    free(prev_y); free(gy); free(ey); free(gw); free(ew);
    ct_close();
    printf("%s: %d failure%s\n", ct_failures ? "FAILED" : "PASSED", ct_failures,
           ct_failures == 1 ? "" : "s");
    return ct_failures ? 1 : 0;
}
