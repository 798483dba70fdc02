/* test_vit_torch_ref.c — a checkpoint written by PyTorch itself loads into
 * Ember and computes what torch computed. The fixture
 * tests/fixtures/vit_ref_state_dict.safetensors is exactly
 * safetensors.torch.save_file(model.state_dict()) of the reference class
 * bench/torch_vit.py (3 heads on a width of 24, no metadata), and
 * vit_ref_io.safetensors holds an input batch, the logits torch computed
 * (float64, stored f32) and the configuration; both are written by
 * tests/fixtures/gen_vit_fixtures.py.
 *
 * Checked: the file's tensors are exactly Ember's parameters, name for name
 * and shape for shape, nothing missing and nothing extra (what torch's
 * load_state_dict(strict=True) demands, seen from Ember's side); the
 * logits agree to 1e-5 relative (the tolerance of test_vit_parity.c, for
 * the same reasons); and the same weights read with heads=8 (8 divides 24
 * too) give logits far off, which is why load_model refuses to guess the
 * number of heads. */
#include <jansson.h>

#include "core/safetensors.h"
#include "nn/vit.h"
#include "test_util.h"

#define STATE EMBER_FIXTURES_DIR "/vit_ref_state_dict.safetensors"
#define IO EMBER_FIXTURES_DIR "/vit_ref_io.safetensors"
#define TOL 1e-5

static int get_int(json_t *o, const char *k) { return (int)json_integer_value(json_object_get(o, k)); }

/* Logits of the state dict's weights on `img` under cfg, into out (B x K);
 * 0 on success. */
static int run(const ember_vit_config *cfg, const ember_st_file *sd, const float *img, int B, float *out) {
    ember_vit vit;
    ember_err e = {{0}};
    if (ember_vit_create(&vit, cfg, ember_backend_cpu(), 1, &e)) {
        CHECK(0, "create: %s", e.msg);
        return -1;
    }
    int32_t labels[16] = {0};
    int64_t nimg = (int64_t)B * cfg->in_chans * cfg->image_size * cfg->image_size;
    float *imgc = t_alloc(nimg);
    memcpy(imgc, img, (size_t)nimg * 4);
    int rc = ember_vit_load_safetensors(&vit, sd, "", &e);
    if (!rc) rc = ember_vit_upload_batch(&vit, imgc, labels, B, &e);
    if (!rc) rc = ember_vit_forward(&vit, 0, &e);
    CHECK(rc == 0, "load and forward: %s", e.msg);
    if (!rc) memcpy(out, vit.acts.logits.data, (size_t)B * cfg->num_classes * sizeof(float));
    free(imgc);
    ember_vit_destroy(&vit);
    return rc;
}

int main(void) {
    ember_err err = {{0}};
    ember_st_file sd, io;
    if (ember_st_open(&sd, STATE, &err) || ember_st_open(&io, IO, &err)) {
        fprintf(stderr, "cannot open the fixtures: %s\n", err.msg);
        return 1;
    }
    CHECK(sd.metadata_json == NULL || !strstr(sd.metadata_json, "ember."),
          "the state dict is torch's own file, without Ember metadata");
    json_error_t je;
    json_t *meta = io.metadata_json ? json_loads(io.metadata_json, 0, &je) : NULL;
    json_t *cfgj = meta ? json_loads(json_string_value(json_object_get(meta, "config")), 0, &je) : NULL;
    if (!cfgj) {
        fprintf(stderr, "vit_ref_io.safetensors has no config metadata\n");
        return 1;
    }
    ember_vit_config cfg = ember_vit_default_config();
    cfg.image_size = get_int(cfgj, "image_size");
    cfg.patch = get_int(cfgj, "patch");
    cfg.in_chans = get_int(cfgj, "in_chans");
    cfg.dim = get_int(cfgj, "dim");
    cfg.depth = get_int(cfgj, "depth");
    cfg.heads = get_int(cfgj, "heads");
    cfg.mlp_hidden = get_int(cfgj, "mlp_hidden");
    cfg.num_classes = get_int(cfgj, "num_classes");
    cfg.dropout = 0.0f;
    cfg.ln_eps = (float)json_number_value(json_object_get(cfgj, "ln_eps"));
    CHECK(cfg.heads == 3 && cfg.dim % 8 == 0, "the fixture is the heads trap: 3 heads on a width 8 divides");

    /* Exactly Ember's parameters, both ways. */
    ember_vit vit;
    if (ember_vit_create(&vit, &cfg, ember_backend_cpu(), 1, &err)) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }
    CHECK(sd.count == (size_t)vit.n_params, "%zu tensors in torch's file, %d Ember parameters", sd.count,
          vit.n_params);
    for (size_t i = 0; i < sd.count; i++) {
        const ember_st_entry *en = &sd.entries[i];
        const ember_vit_param *p = ember_vit_find_param(&vit, en->name);
        CHECK(p != NULL, "torch's key '%s' is not an Ember parameter", en->name);
        if (!p) continue;
        int same = en->ndim == p->ndim && en->dtype == EMBER_F32;
        for (int d = 0; same && d < p->ndim; d++) same = en->shape[d] == p->shape[d];
        CHECK(same, "'%s': torch's shape differs from Ember's", en->name);
    }
    for (int i = 0; i < vit.n_params; i++)
        CHECK(ember_st_find(&sd, vit.params[i].name), "Ember's '%s' is missing from torch's file",
              vit.params[i].name);
    ember_vit_destroy(&vit);

    const ember_st_entry *xe = ember_st_find(&io, "input"), *le = ember_st_find(&io, "logits");
    if (!xe || !le || xe->dtype != EMBER_F32 || le->dtype != EMBER_F32 || xe->ndim != 4 || le->ndim != 2) {
        fprintf(stderr, "vit_ref_io.safetensors lacks input [B,C,H,W] / logits [B,K] f32\n");
        return 1;
    }
    int B = (int)xe->shape[0];
    CHECK(B <= 16 && le->shape[0] == B && le->shape[1] == cfg.num_classes, "io shapes");
    const float *img = (const float *)(io.data + xe->offset), *ref = (const float *)(io.data + le->offset);
    float *ours = t_alloc((int64_t)B * cfg.num_classes);
    if (run(&cfg, &sd, img, B, ours) == 0) {
        double e = t_relerr_ff(ours, ref, (int64_t)B * cfg.num_classes);
        printf("logits of torch's state dict: relative error %.3g\n", e);
        CHECK(e <= TOL, "logits: relative error %.3g > %.0e", e, TOL);
    }
    ember_vit_config wrong = cfg;
    wrong.heads = 8;
    if (run(&wrong, &sd, img, B, ours) == 0) {
        double e = t_relerr_ff(ours, ref, (int64_t)B * cfg.num_classes);
        printf("the same weights read with heads=8: relative error %.3g\n", e);
        CHECK(e > 1e-3, "heads=8 should compute something else, relative error only %.3g", e);
    }
    free(ours);
    json_decref(cfgj);
    json_decref(meta);
    ember_st_close(&sd);
    ember_st_close(&io);
    return t_finish("test_vit_torch_ref");
}
