/* test_evaluate.c — ember_evaluate on the CPU backend: the loss against a
 * float64 label-smoothed cross-entropy computed here from the model's own
 * logits, the accuracy against the backend's accuracy_count, the confusion
 * matrix (sums to n, diagonal = correct, rows = class counts), per-class
 * accuracy (NaN for absent classes), predictions (= the confusion matrix,
 * independent of the batch size), the pipeline (to_tensor vs normalize),
 * and the refusals. argv[1]: shared data dir (unused), argv[2]: scratch. */
#include "train_test.h"

/* Label-smoothed cross-entropy in double, as torch's
 * CrossEntropyLoss(label_smoothing=s): (1 - s) * nll + s * mean(-logp). */
static double ref_loss(const float *logits, const int32_t *labels, int64_t n, int K, double s) {
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * K;
        double m = z[0];
        for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
        double se = 0.0;
        for (int k = 0; k < K; k++) se += exp((double)z[k] - m);
        double lse = m + log(se), mean_nlp = 0.0;
        for (int k = 0; k < K; k++) mean_nlp += (lse - z[k]) / K;
        total += (1.0 - s) * (lse - z[labels[i]]) + s * mean_nlp;
    }
    return total / (double)n;
}

/* A partly trained model, so predictions are neither all one class nor
 * all right. */
static void partly_trained(ember_vit *vit, const ember_dataset *train) {
    t_make_vit(vit, 10, 31);
    ember_fit_opts o = ember_fit_default_opts();
    o.epochs = 1;
    o.batch_size = 32;
    o.lr = 2e-3;
    o.max_steps_per_epoch = 8;
    OK(ember_fit(vit, train, NULL, NULL, &o, NULL, NULL, E));
}

static void test_against_reference(ember_vit *vit, const ember_dataset *ds) {
    const int K = vit->cfg.num_classes;
    int64_t n = ds->n;
    /* The whole set as one batch, by hand. */
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    float *img = malloc((size_t)n * 3 * 32 * 32 * sizeof(float));
    int32_t *lab = malloc((size_t)n * sizeof *lab);
    float *logits = malloc((size_t)n * K * sizeof(float));
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    OK(ember_augment_batch(NULL, ds, idx, n, 0, 0, img, lab, E));
    OK(ember_vit_upload_batch(vit, img, lab, n, E));
    float dev_loss = 0;
    int32_t dev_correct = -1;
    OK(ember_vit_eval_batch(vit, 0.0f, &dev_loss, &dev_correct, E));
    OK(vit->be->copy_d2h(vit->be, logits, vit->acts.logits.data, (size_t)n * K * sizeof(float), E) ||
       vit->be->sync(vit->be, E));
    double want = ref_loss(logits, lab, n, K, 0.0); /* plain cross-entropy */

    ember_eval_result r, r7;
    OK(ember_evaluate(vit, ds, NULL, 64, 0.0, 1, NULL, NULL, &r, E));
    CHECK(r.n == n && r.n_classes == K, "sizes");
    printf("  loss %.8f (reference %.8f), accuracy %.4f, device count %d\n", r.loss, want, r.accuracy, dev_correct);
    CHECK(fabs(r.loss - want) < 1e-5 * fabs(want) + 1e-6, "loss %.8f vs float64 reference %.8f", r.loss, want);
    ember_eval_result rs;
    double want_s = ref_loss(logits, lab, n, K, 0.1);
    OK(ember_evaluate(vit, ds, NULL, 64, 0.1, 0, NULL, NULL, &rs, E));
    CHECK(fabs(rs.loss - want_s) < 1e-5 * fabs(want_s) + 1e-6, "smoothed loss %.8f vs float64 reference %.8f",
          rs.loss, want_s);
    ember_eval_result_free(&rs);
    CHECK(r.correct == dev_correct, "correct %lld vs the backend's count %d", (long long)r.correct, dev_correct);
    CHECK(r.accuracy == (double)r.correct / (double)n, "accuracy = correct / n");
    CHECK(r.accuracy > 0.15 && r.accuracy < 1.0, "a partly trained model (accuracy %.3f)", r.accuracy);

    int64_t sum = 0, diag = 0;
    int64_t counts[EMBER_DATASET_MAX_CLASSES] = {0};
    ember_dataset_class_counts(ds, counts);
    for (int t = 0; t < K; t++) {
        int64_t row = 0;
        for (int p = 0; p < K; p++) row += r.confusion[t * K + p];
        sum += row;
        diag += r.confusion[t * K + t];
        CHECK(row == r.class_count[t] && row == counts[t], "class %d: row sum %lld, count %lld, dataset %lld", t,
              (long long)row, (long long)r.class_count[t], (long long)counts[t]);
        CHECK(row ? fabs(r.class_acc[t] - (double)r.confusion[t * K + t] / (double)row) < 1e-15 : isnan(r.class_acc[t]),
              "class %d accuracy", t);
    }
    CHECK(sum == n, "confusion sums to n: %lld", (long long)sum);
    CHECK(diag == r.correct, "diagonal %lld = correct %lld", (long long)diag, (long long)r.correct);

    /* Predictions: the argmax of the logits, and they rebuild the matrix. */
    int64_t *rebuilt = calloc((size_t)K * K, sizeof *rebuilt);
    int pred_ok = 1;
    for (int64_t i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (logits[i * K + k] > logits[i * K + best]) best = k;
        pred_ok &= r.predictions[i] == best;
        rebuilt[ds->labels[i] * K + r.predictions[i]]++;
    }
    CHECK(pred_ok, "predictions are the logits' argmax");
    CHECK(!memcmp(rebuilt, r.confusion, (size_t)K * K * sizeof *rebuilt), "predictions rebuild the confusion matrix");

    /* Batch size does not change the answers (7 does not divide n). */
    OK(ember_evaluate(vit, ds, NULL, 7, 0.0, 1, NULL, NULL, &r7, E));
    CHECK(!memcmp(r7.predictions, r.predictions, (size_t)n * sizeof(int32_t)), "batch 7: the same predictions");
    CHECK(fabs(r7.loss - r.loss) < 1e-6, "batch 7: the same loss (%.8f vs %.8f)", r7.loss, r.loss);
    ember_eval_result_free(&r7);
    /* A batch larger than the set. */
    OK(ember_evaluate(vit, ds, NULL, 100000, 0.0, 0, NULL, NULL, &r7, E));
    CHECK(r7.predictions == NULL && r7.correct == r.correct, "one oversized batch, no predictions asked");
    ember_eval_result_free(&r7);
    ember_eval_result_free(&r);
    CHECK(r.confusion == NULL && r.predictions == NULL, "free zeroes");
    free(rebuilt);
    free(idx);
    free(img);
    free(lab);
    free(logits);
}

/* The loss is the criterion passed, never the model's own smoothing (a
 * loaded checkpoint does not carry it): the same smoothing gives the same
 * loss whatever vit->smoothing holds, and 0.1 matches the float64
 * label-smoothed reference. */
static void test_smoothing(ember_vit *vit, const ember_dataset *ds) {
    ember_eval_result a, b, c;
    float keep = vit->smoothing;
    vit->smoothing = 0.3f;
    OK(ember_evaluate(vit, ds, NULL, 64, 0.0, 0, NULL, NULL, &a, E));
    vit->smoothing = 0.0f;
    OK(ember_evaluate(vit, ds, NULL, 64, 0.0, 0, NULL, NULL, &b, E));
    OK(ember_evaluate(vit, ds, NULL, 64, 0.1, 0, NULL, NULL, &c, E));
    vit->smoothing = keep;
    CHECK(a.loss == b.loss && a.label_smoothing == 0.0, "the model's smoothing does not change evaluate's loss (%.6f vs %.6f)",
          a.loss, b.loss);
    CHECK(c.loss != b.loss && c.correct == b.correct && c.label_smoothing == 0.1,
          "smoothing 0.1 changes the loss only (%.5f vs %.5f)", c.loss, b.loss);
    ember_eval_result e;
    ember_err er;
    CHECK(ember_evaluate(vit, ds, NULL, 64, 1.0, 0, NULL, NULL, &e, &er) == -1 && strstr(er.msg, "label_smoothing"),
          "smoothing 1 refused");
    ember_eval_result_free(&c);
    ember_eval_result_free(&a);
    ember_eval_result_free(&b);
}

static void test_absent_classes(ember_vit *vit) {
    ember_dataset three;
    t_make_dataset(&three, 90, 32, 3, 41);
    ember_eval_result r;
    OK(ember_evaluate(vit, &three, NULL, 32, 0.0, 0, NULL, NULL, &r, E));
    CHECK(r.n_classes == 10, "the model's 10 classes");
    for (int k = 3; k < 10; k++) CHECK(isnan(r.class_acc[k]) && r.class_count[k] == 0, "class %d absent: NaN", k);
    for (int k = 0; k < 3; k++) CHECK(r.class_count[k] > 0 && !isnan(r.class_acc[k]), "class %d present", k);
    ember_eval_result_free(&r);
    ember_dataset_free(&three);
}

/* A normalize-only pipeline feeds (x/255 - mean)/std: with mean 0, std 1 it
 * is to_tensor exactly; with other values the results differ. */
static void test_pipeline(ember_vit *vit, const ember_dataset *ds) {
    ember_augment id = {.n = 1};
    id.steps[0].kind = EMBER_AUG_NORMALIZE;
    for (int c = 0; c < 3; c++) {
        id.steps[0].mean[c] = 0.0f;
        id.steps[0].std[c] = 1.0f;
    }
    ember_augment cifar = id;
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2471f, 0.2435f, 0.2616f};
    for (int c = 0; c < 3; c++) {
        cifar.steps[0].mean[c] = mean[c];
        cifar.steps[0].std[c] = std[c];
    }
    ember_eval_result a, b, c;
    OK(ember_evaluate(vit, ds, NULL, 64, 0.0, 1, NULL, NULL, &a, E));
    OK(ember_evaluate(vit, ds, &id, 64, 0.0, 1, NULL, NULL, &b, E));
    OK(ember_evaluate(vit, ds, &cifar, 64, 0.0, 1, NULL, NULL, &c, E));
    CHECK(a.loss == b.loss && !memcmp(a.predictions, b.predictions, (size_t)ds->n * sizeof(int32_t)),
          "normalize(0, 1) = to_tensor");
    CHECK(c.loss != a.loss, "normalize changes what the model sees");
    ember_eval_result_free(&a);
    ember_eval_result_free(&b);
    ember_eval_result_free(&c);

    /* A crop to another size is refused with the sizes. */
    ember_augment crop = {.n = 1};
    crop.steps[0].kind = EMBER_AUG_RANDOM_CROP;
    crop.steps[0].size = 24;
    crop.steps[0].padding = 0;
    ember_err e = {{0}};
    ember_eval_result r;
    CHECK(ember_evaluate(vit, ds, &crop, 64, 0.0, 0, NULL, NULL, &r, &e) == -1 && strstr(e.msg, "24x24") &&
              strstr(e.msg, "32x32"),
          "crop to 24: %s", e.msg);
}

typedef struct eval_log {
    int calls, stop_at, bad;
    int64_t last_done;
} eval_log;

static int log_eval(void *ctx, int64_t done, int64_t total) {
    eval_log *l = ctx;
    l->calls++;
    if (done <= l->last_done || done > total) l->bad++;
    l->last_done = done;
    return l->calls == l->stop_at;
}

/* Progress after each batch, and a stop that leaves *out untouched. */
static void test_progress(ember_vit *vit, const ember_dataset *ds) {
    eval_log log = {0};
    ember_eval_result r;
    OK(ember_evaluate(vit, ds, NULL, 64, 0.0, 0, log_eval, &log, &r, E));
    CHECK(log.calls == 4 && log.last_done == ds->n && !log.bad, "203 images in 64s: 4 calls ending at 203 (%d, %lld)",
          log.calls, (long long)log.last_done);
    ember_eval_result_free(&r);
    eval_log stop = {.stop_at = 2};
    memset(&r, 0, sizeof r);
    ember_err e = {{0}};
    int rc = ember_evaluate(vit, ds, NULL, 64, 0.0, 1, log_eval, &stop, &r, &e);
    CHECK(rc == EMBER_FIT_STOPPED && stop.calls == 2 && r.confusion == NULL && r.n == 0,
          "stopped after 2 batches: rc %d, %d calls", rc, stop.calls);
}

static void test_refusals(ember_vit *vit, const ember_dataset *ds) {
    ember_err e = {{0}};
    ember_eval_result r;
    memset(&r, 0x5a, sizeof r);
    ember_eval_result untouched = r;
    CHECK(ember_evaluate(vit, ds, NULL, 0, 0.0, 0, NULL, NULL, &r, &e) == -1 && strstr(e.msg, "batch_size") &&
              strncmp(e.msg, "evaluate", 8) != 0,
          "batch 0 (the binding, not the engine, names evaluate): %s", e.msg);
    CHECK(!memcmp(&r, &untouched, sizeof r), "*out untouched on error");
    ember_dataset eleven, big;
    t_make_dataset(&eleven, 20, 32, 11, 51);
    CHECK(ember_evaluate(vit, &eleven, NULL, 8, 0.0, 0, NULL, NULL, &r, &e) == -1 && strstr(e.msg, "11 classes"),
          "11 classes: %s", e.msg);
    t_make_dataset(&big, 4, 64, 10, 52);
    CHECK(ember_evaluate(vit, &big, NULL, 8, 0.0, 0, NULL, NULL, &r, &e) == -1 && strstr(e.msg, "64x64"),
          "64x64: %s", e.msg);
    CHECK(ember_evaluate(vit, NULL, NULL, 8, 0.0, 0, NULL, NULL, &r, &e) == -1, "no dataset");
    ember_dataset_free(&eleven);
    ember_dataset_free(&big);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    ember_dataset train, test;
    t_make_dataset(&train, 256, 32, 10, 1);
    t_make_dataset(&test, 203, 32, 10, 2);
    ember_vit vit;
    partly_trained(&vit, &train);
    test_against_reference(&vit, &test);
    test_smoothing(&vit, &test);
    test_absent_classes(&vit);
    test_pipeline(&vit, &test);
    test_progress(&vit, &test);
    test_refusals(&vit, &test);
    ember_vit_destroy(&vit);
    ember_dataset_free(&train);
    ember_dataset_free(&test);
    return t_finish("test_evaluate");
}
