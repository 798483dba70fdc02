/* evaluate.c — ember_evaluate (loss, accuracy, confusion matrix, per-class
 * accuracy and per-image predictions of a ViT on a dataset, dropout off)
 * and the dataset-against-model checks that fit shares. See fit.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/fit.h"

#include "core/cancel.h"

int ember_fit_check_dataset(const ember_vit *vit, const ember_dataset *ds, const ember_augment *aug, const char *what,
                            ember_err *err) {
    const ember_vit_config *c = &vit->cfg;
    if (!ds) return ember_err_set(err, "no %s", what);
    if (ds->n <= 0) return ember_err_set(err, "the %s is empty: it has no images", what);
    if (!ds->pixels || !ds->labels) return ember_err_set(err, "the %s has no pixel or label data", what);
    if (ds->channels != c->in_chans)
        return ember_err_set(err, "the %s has %d-channel images but the model takes %d channels", what, ds->channels,
                             c->in_chans);
    if (ds->n_classes < 1 || ds->n_classes > c->num_classes)
        return ember_err_set(err,
                             "the %s has %d classes but the model has %d outputs: create the model with "
                             "num_classes=%d (or more)",
                             what, ds->n_classes, c->num_classes, ds->n_classes);
    if (aug && ember_augment_check(aug, ds->width, ds->height, ds->channels, err))
        return ember_err_prefix(err, "the pipeline for the %s: ", what);
    int ow = ds->width, oh = ds->height;
    if (aug) ember_augment_out_size(aug, ds->width, ds->height, &ow, &oh);
    if (ow != c->image_size || oh != c->image_size) {
        if (ow != ds->width || oh != ds->height)
            return ember_err_set(err,
                                 "the %s's %dx%d images come out of its pipeline as %dx%d but the model takes "
                                 "%dx%d images",
                                 what, ds->width, ds->height, ow, oh, c->image_size, c->image_size);
        return ember_err_set(err,
                             "the %s has %dx%d images but the model takes %dx%d: create the model with "
                             "image_size=%d or resize the images",
                             what, ow, oh, c->image_size, c->image_size, ow);
    }
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->labels[i] >= ds->n_classes)
            return ember_err_set(err, "the %s's image %lld has label %d, outside its %d classes", what, (long long)i,
                                 ds->labels[i], ds->n_classes);
    return 0;
}

void ember_eval_result_free(ember_eval_result *r) {
    if (!r) return;
    free(r->confusion);
    free(r->class_count);
    free(r->class_acc);
    free(r->predictions);
    memset(r, 0, sizeof *r);
}

/* First maximum, as the backends' argmax. */
static int32_t row_argmax(const float *row, int K) {
    int32_t best = 0;
    for (int k = 1; k < K; k++)
        if (row[k] > row[best]) best = k;
    return best;
}

int ember_evaluate(ember_vit *vit, const ember_dataset *ds, const ember_augment *aug, int batch_size,
                   double label_smoothing, int want_predictions, ember_eval_progress progress, void *ctx,
                   ember_eval_result *out, ember_err *err) {
    if (!vit || !vit->be) return ember_err_set(err, "no model");
    if (!out) return ember_err_set(err, "no result to fill");
    if (batch_size < 1 || batch_size > 1000000)
        return ember_err_set(err, "batch_size must be a positive number of images, got %d", batch_size);
    if (!(label_smoothing >= 0.0 && label_smoothing < 1.0))
        return ember_err_set(err, "label_smoothing must be in [0, 1), got %g", label_smoothing);
    if (ember_fit_check_dataset(vit, ds, aug, "evaluation set", err)) return -1;
    const ember_backend *be = vit->be;
    const ember_vit_config *c = &vit->cfg;
    const int K = c->num_classes;
    int64_t n = ds->n;
    int64_t bs = batch_size < n ? batch_size : n;
    size_t image_floats = (size_t)c->in_chans * (size_t)c->image_size * (size_t)c->image_size;

    ember_eval_result r;
    memset(&r, 0, sizeof r);
    float *images = malloc((size_t)bs * image_floats * sizeof(float));
    int32_t *labels = malloc((size_t)bs * sizeof(int32_t));
    float *logits = malloc((size_t)bs * (size_t)K * sizeof(float));
    int64_t *idx = malloc((size_t)bs * sizeof(int64_t));
    r.confusion = calloc((size_t)K * (size_t)K, sizeof *r.confusion);
    r.class_count = calloc((size_t)K, sizeof *r.class_count);
    r.class_acc = calloc((size_t)K, sizeof *r.class_acc);
    if (want_predictions) r.predictions = malloc((size_t)n * sizeof *r.predictions);
    int rc = 0;
    if (!images || !labels || !logits || !idx || !r.confusion || !r.class_count || !r.class_acc ||
        (want_predictions && !r.predictions))
        rc = ember_err_set(err, "out of memory for %lld-image batches", (long long)bs);

    double loss_sum = 0.0;
    for (int64_t start = 0; start < n && !rc; start += bs) {
        int64_t b = n - start < bs ? n - start : bs;
        for (int64_t i = 0; i < b; i++) idx[i] = start + i;
        float bl = 0.0f;
        /* The logits are f32 [b, K] in both precisions. */
        if (ember_augment_batch(aug, ds, idx, b, 0, 0, images, labels, err) ||
            ember_vit_upload_batch(vit, images, labels, b, err) || ember_vit_forward(vit, 0, err) ||
            ember_vit_loss_with(vit, (float)label_smoothing, err) ||
            be->copy_d2h(be, logits, vit->acts.logits.data, (size_t)b * (size_t)K * sizeof(float), err) ||
            be->copy_d2h(be, &bl, vit->acts.loss.data, sizeof bl, err) || be->sync(be, err)) {
            /* An interrupt inside the forward (core/cancel.h) stops like progress does. */
            rc = ember_cancel_tripped() ? EMBER_FIT_STOPPED
                                        : ember_err_prefix(err, "images %lld to %lld: ", (long long)start,
                                                           (long long)(start + b - 1));
            break;
        }
        loss_sum += (double)bl * (double)b;
        for (int64_t i = 0; i < b; i++) {
            int32_t pred = row_argmax(logits + i * K, K);
            r.confusion[(int64_t)labels[i] * K + pred]++;
            if (r.predictions) r.predictions[start + i] = pred;
        }
        if (progress && progress(ctx, start + b, n)) rc = EMBER_FIT_STOPPED;
    }
    free(images);
    free(labels);
    free(logits);
    free(idx);
    if (rc) {
        ember_eval_result_free(&r);
        return rc;
    }
    r.n = n;
    r.n_classes = K;
    r.loss = loss_sum / (double)n;
    r.label_smoothing = label_smoothing;
    for (int k = 0; k < K; k++) {
        int64_t row = 0;
        for (int j = 0; j < K; j++) row += r.confusion[(int64_t)k * K + j];
        r.class_count[k] = row;
        r.correct += r.confusion[(int64_t)k * K + k];
        r.class_acc[k] = row ? (double)r.confusion[(int64_t)k * K + k] / (double)row : NAN;
    }
    r.accuracy = (double)r.correct / (double)n;
    *out = r;
    return 0;
}
