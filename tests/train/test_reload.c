/* test_reload.c — a saved model is the model: after fit (with a criterion
 * other than the default, and dropout 0 as in the report), a model
 * rebuilt from its checkpoint gives bit-identical logits on the CPU and an
 * identical evaluation (loss, accuracy, predictions) for every criterion.
 * This caught evaluate() reading the model's own label smoothing, which fit
 * sets and a checkpoint does not carry. argv[2]: scratch dir. */
#include <sys/stat.h>
#include <unistd.h>

#include "train_test.h"

/* Logits of the first n images of ds (no augmentation), on the host. */
static float *logits_of(ember_vit *vit, const ember_dataset *ds, int64_t n) {
    const int K = vit->cfg.num_classes;
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    float *img = malloc((size_t)n * 3 * 32 * 32 * sizeof(float));
    int32_t *lab = malloc((size_t)n * sizeof *lab);
    float *out = malloc((size_t)n * K * sizeof(float));
    if (!idx || !img || !lab || !out) {
        fprintf(stderr, "FAIL: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    OK(ember_augment_batch(NULL, ds, idx, n, 0, 0, img, lab, E));
    OK(ember_vit_upload_batch(vit, img, lab, n, E));
    OK(ember_vit_forward(vit, 0, E));
    OK(vit->be->copy_d2h(vit->be, out, vit->acts.logits.data, (size_t)n * K * sizeof(float), E) ||
       vit->be->sync(vit->be, E));
    free(idx);
    free(img);
    free(lab);
    return out;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <shared data dir> <scratch dir>\n", argv[0]);
        return 2;
    }
    mkdir(argv[2], 0755);
    ember_dataset train, test;
    t_make_dataset(&train, 256, 32, 10, 1);
    t_make_dataset(&test, 100, 32, 10, 2);

    ember_vit vit;
    ember_vit_config c = t_tiny_config(10);
    c.dropout = 0.0f;
    OK(ember_vit_create(&vit, &c, ember_backend_cpu(), 5, E));
    ember_fit_opts o = ember_fit_default_opts();
    o.epochs = 1;
    o.batch_size = 32;
    o.lr = 2e-3;
    o.max_steps_per_epoch = 6;
    o.label_smoothing = 0.0; /* fit(...) without loss=: plain cross-entropy */
    OK(ember_fit(&vit, &train, NULL, NULL, &o, NULL, NULL, E));

    char path[1100];
    snprintf(path, sizeof path, "%s/reload.safetensors", argv[2]);
    OK(ember_vit_save_safetensors(&vit, path, E));
    ember_vit back;
    OK(ember_vit_create(&back, &c, ember_backend_cpu(), 777, E)); /* another init, overwritten */
    ember_st_file f;
    OK(ember_st_open(&f, path, E));
    OK(ember_vit_load_safetensors(&back, &f, NULL, E));
    ember_st_close(&f);

    float *la = logits_of(&vit, &test, test.n), *lb = logits_of(&back, &test, test.n);
    CHECK(!memcmp(la, lb, (size_t)test.n * 10 * sizeof(float)), "logits equal to the last bit after save + load");
    free(la);
    free(lb);

    const double criteria[] = {0.0, 0.1, 0.25};
    for (size_t i = 0; i < sizeof criteria / sizeof *criteria; i++) {
        ember_eval_result ra, rb;
        OK(ember_evaluate(&vit, &test, NULL, 32, criteria[i], 1, NULL, NULL, &ra, E));
        OK(ember_evaluate(&back, &test, NULL, 32, criteria[i], 1, NULL, NULL, &rb, E));
        printf("  smoothing %.2f: loss %.6f vs reloaded %.6f, accuracy %.3f vs %.3f\n", criteria[i], ra.loss, rb.loss,
               ra.accuracy, rb.accuracy);
        CHECK(ra.loss == rb.loss && ra.correct == rb.correct &&
                  !memcmp(ra.predictions, rb.predictions, (size_t)test.n * sizeof(int32_t)),
              "smoothing %.2f: the reloaded model evaluates identically (loss %.6f vs %.6f)", criteria[i], ra.loss,
              rb.loss);
        ember_eval_result_free(&ra);
        ember_eval_result_free(&rb);
    }
    unlink(path);
    ember_vit_destroy(&vit);
    ember_vit_destroy(&back);
    ember_dataset_free(&train);
    ember_dataset_free(&test);
    return t_finish("test_reload");
}
