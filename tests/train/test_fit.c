/* test_fit.c — ember_fit on the CPU backend with a tiny ViT and synthetic
 * colour-coded images: it learns (loss falls, train and test accuracy far
 * above chance), is deterministic (same seed: bit-identical weights and
 * history; other seed: different; prefetch thread or not: identical), the
 * rate follows the milestones, split runs with first_epoch equal one run,
 * callbacks stop where asked with a usable model, bad input gets clear
 * errors, the last partial batch is trained on, and the counting train step
 * agrees with the plain one. argv[1]: shared data dir (unused), argv[2]:
 * scratch dir. */
#include <sys/stat.h>

#include "train_test.h"

static ember_fit_opts quick_opts(void) {
    ember_fit_opts o = ember_fit_default_opts();
    o.epochs = 3;
    o.batch_size = 32;
    o.lr = 2e-3;
    o.n_milestones = 0;
    o.seed = 7;
    return o;
}

/* ---- learning ----------------------------------------------------------- */

typedef struct step_log {
    int calls;
    int64_t last_step, last_images;
    double last_loss, last_acc;
    int bad;
} step_log;

static int log_step(void *ctx, const ember_fit_progress *p) {
    step_log *l = ctx;
    l->calls++;
    if (p->step < 1 || p->step > p->steps_in_epoch || p->images <= 0 || !(p->loss > 0.0) ||
        !(p->acc >= 0.0 && p->acc <= 1.0) || !(p->lr > 0.0))
        l->bad++;
    l->last_step = p->step;
    l->last_images = p->images;
    l->last_loss = p->loss;
    l->last_acc = p->acc;
    return 0;
}

static void test_learns(const ember_dataset *train, const ember_dataset *test, const char *scratch) {
    ember_vit vit;
    t_make_vit(&vit, 10, 1);
    ember_fit_opts o = quick_opts();
    o.epochs = 6;
    step_log log = {0};
    ember_fit_callbacks cb = {.ctx = &log, .on_step = log_step};
    ember_fit_history h = {0};
    OK(ember_fit(&vit, train, test, NULL, &o, &cb, &h, E));
    CHECK(h.n == 6, "6 epochs recorded, got %d", h.n);
    CHECK(log.calls == 6 * 16 && !log.bad, "on_step called 96 times with sane values (%d calls, %d bad)",
          log.calls, log.bad);
    const ember_epoch_record *f = &h.epochs[0], *l = &h.epochs[h.n - 1];
    for (int i = 0; i < h.n; i++) {
        printf("  epoch %d lr %g loss %.4f acc %.3f test %.4f %.3f  %.2fs %.0f img/s\n", h.epochs[i].epoch,
               h.epochs[i].lr, h.epochs[i].train_loss, h.epochs[i].train_acc, h.epochs[i].test_loss,
               h.epochs[i].test_acc, h.epochs[i].seconds, h.epochs[i].images_per_sec);
        CHECK(h.epochs[i].epoch == i && h.epochs[i].steps == 16 && h.epochs[i].train_images == 512,
              "epoch %d bookkeeping", i);
        CHECK(h.epochs[i].seconds >= h.epochs[i].train_seconds && h.epochs[i].images_per_sec > 0,
              "epoch %d times", i);
    }
    CHECK(fabs(log.last_loss - l->train_loss) < 1e-12 && fabs(log.last_acc - l->train_acc) < 1e-12,
          "the last step's running means are the epoch's");
    CHECK(l->train_loss < 0.6 * f->train_loss, "train loss falls: %.4f -> %.4f", f->train_loss, l->train_loss);
    CHECK(l->train_acc > 0.8, "train accuracy well above chance: %.3f", l->train_acc);
    CHECK(l->test_acc > 0.8, "test accuracy well above chance: %.3f", l->test_acc);
    CHECK(isfinite(l->test_loss) && l->test_loss < f->test_loss, "test loss falls: %.4f -> %.4f", f->test_loss,
          l->test_loss);
    CHECK(vit.t == 96, "96 optimizer steps, got %lld", (long long)vit.t);
    CHECK(fabs(vit.smoothing - 0.1f) < 1e-7, "label smoothing set on the model");

    /* The test numbers in the history are ember_evaluate's. */
    ember_eval_result ev;
    OK(ember_evaluate(&vit, test, NULL, 32, o.label_smoothing, 0, NULL, NULL, &ev, E));
    CHECK(ev.accuracy == l->test_acc && ev.loss == l->test_loss,
          "history test metrics = evaluate's with the training criterion");
    ember_eval_result_free(&ev);

    /* A trained model saves. */
    char path[1024];
    snprintf(path, sizeof path, "%s/fit.safetensors", scratch);
    OK(ember_vit_save_safetensors(&vit, path, E));
    ember_fit_history_free(&h);
    CHECK(h.n == 0 && h.epochs == NULL, "history freed and zeroed");
    ember_vit_destroy(&vit);
}

/* ---- determinism --------------------------------------------------------- */

static void run(const ember_dataset *train, const ember_dataset *test, const ember_fit_opts *o, float **w,
                ember_fit_history *h) {
    ember_vit vit;
    t_make_vit(&vit, 10, 3);
    OK(ember_fit(&vit, train, test, NULL, o, NULL, h, E));
    *w = t_weights(&vit);
    ember_vit_destroy(&vit);
}

static int same_metrics(const ember_fit_history *a, const ember_fit_history *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++) {
        const ember_epoch_record *x = &a->epochs[i], *y = &b->epochs[i];
        if (x->epoch != y->epoch || x->lr != y->lr || x->steps != y->steps || x->train_loss != y->train_loss ||
            x->train_acc != y->train_acc || memcmp(&x->test_loss, &y->test_loss, sizeof(double)) ||
            memcmp(&x->test_acc, &y->test_acc, sizeof(double)))
            return 0;
    }
    return 1;
}

static void test_determinism(const ember_dataset *train, const ember_dataset *test) {
    ember_fit_opts o = quick_opts();
    o.epochs = 2;
    o.max_steps_per_epoch = 6;
    o.prefetch = 0;
    float *w1, *w2, *w3, *w4;
    ember_fit_history h1 = {0}, h2 = {0}, h3 = {0}, h4 = {0};
    ember_vit probe;
    t_make_vit(&probe, 10, 3);
    size_t bytes = (size_t)probe.n_elems * sizeof(float);
    ember_vit_destroy(&probe);

    run(train, test, &o, &w1, &h1);
    run(train, test, &o, &w2, &h2);
    CHECK(!memcmp(w1, w2, bytes), "same seed: bit-identical weights");
    CHECK(same_metrics(&h1, &h2), "same seed: identical history");

    o.prefetch = 1;
    run(train, test, &o, &w3, &h3);
    CHECK(!memcmp(w1, w3, bytes), "prefetch thread: the same weights");
    CHECK(same_metrics(&h1, &h3), "prefetch thread: the same history");

    o.prefetch = 0;
    o.seed = 8;
    run(train, test, &o, &w4, &h4);
    CHECK(memcmp(w1, w4, bytes) != 0, "another seed: other weights");
    CHECK(!same_metrics(&h1, &h4), "another seed: another history");
    free(w1);
    free(w2);
    free(w3);
    free(w4);
    ember_fit_history_free(&h1);
    ember_fit_history_free(&h2);
    ember_fit_history_free(&h3);
    ember_fit_history_free(&h4);
}

/* ---- schedule and continuation ------------------------------------------ */

static void test_schedule(const ember_dataset *train) {
    ember_fit_opts o = quick_opts();
    o.epochs = 6;
    o.lr = 1e-3;
    o.milestones[0] = 4;
    o.milestones[1] = 2;
    o.n_milestones = 2;
    o.gamma = 0.5;
    o.max_steps_per_epoch = 1;
    ember_vit vit;
    t_make_vit(&vit, 10, 5);
    ember_fit_history h = {0};
    OK(ember_fit(&vit, train, NULL, NULL, &o, NULL, &h, E));
    const double want[6] = {1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4};
    CHECK(h.n == 6, "6 epochs");
    for (int i = 0; i < h.n && i < 6; i++) {
        CHECK(h.epochs[i].lr == want[i], "epoch %d lr %g, want %g", i, h.epochs[i].lr, want[i]);
        CHECK(h.epochs[i].steps == 1 && h.epochs[i].train_images == 32, "max_steps_per_epoch caps epoch %d", i);
        CHECK(isnan(h.epochs[i].test_loss) && isnan(h.epochs[i].test_acc), "no test set: NaN test metrics");
    }
    CHECK(vit.t == 6, "6 steps");
    /* The recipe's schedule. */
    ember_fit_opts r = ember_fit_default_opts();
    CHECK(ember_fit_lr(&r, 0) == 3e-4 && ember_fit_lr(&r, 49) == 3e-4, "recipe: 3e-4 to epoch 49");
    CHECK(fabs(ember_fit_lr(&r, 50) - 3e-5) < 1e-18 && fabs(ember_fit_lr(&r, 74) - 3e-5) < 1e-18,
          "recipe: 3e-5 from epoch 50");
    CHECK(fabs(ember_fit_lr(&r, 75) - 3e-6) < 1e-19 && fabs(ember_fit_lr(&r, 99) - 3e-6) < 1e-19,
          "recipe: 3e-6 from epoch 75");
    CHECK(ember_fit_steps_per_epoch(&r, 50000) == 391, "recipe: 391 steps an epoch");
    ember_fit_history_free(&h);
    ember_vit_destroy(&vit);

    /* Two calls, the second with first_epoch, equal one call. */
    o.max_steps_per_epoch = 3;
    o.epochs = 4;
    o.prefetch = 0;
    ember_vit a, b;
    t_make_vit(&a, 10, 9);
    t_make_vit(&b, 10, 9);
    ember_fit_history ha = {0}, hb = {0};
    OK(ember_fit(&a, train, NULL, NULL, &o, NULL, &ha, E));
    o.epochs = 2;
    OK(ember_fit(&b, train, NULL, NULL, &o, NULL, &hb, E));
    o.first_epoch = 2;
    OK(ember_fit(&b, train, NULL, NULL, &o, NULL, &hb, E));
    float *wa = t_weights(&a), *wb = t_weights(&b);
    CHECK(!memcmp(wa, wb, (size_t)a.n_elems * sizeof(float)), "fit(4) == fit(2) + fit(2, first_epoch=2)");
    CHECK(same_metrics(&ha, &hb), "the two histories agree (epochs 0-3, lr included)");
    CHECK(hb.n == 4 && hb.epochs[3].epoch == 3 && hb.epochs[2].lr == 5e-4, "appended history: %d", hb.n);
    free(wa);
    free(wb);
    ember_fit_history_free(&ha);
    ember_fit_history_free(&hb);
    ember_vit_destroy(&a);
    ember_vit_destroy(&b);
}

/* ---- stopping ----------------------------------------------------------- */

typedef struct stopper {
    int stop_epoch, stop_step, epochs_seen;
} stopper;

static int stop_at(void *ctx, const ember_fit_progress *p) {
    const stopper *s = ctx;
    return p->epoch == s->stop_epoch && p->step == s->stop_step;
}

static int stop_after_epoch(void *ctx, const ember_epoch_record *r) {
    stopper *s = ctx;
    s->epochs_seen++;
    return r->epoch == s->stop_epoch;
}

static int stop_eval(void *ctx, int64_t done, int64_t total) {
    int *calls = ctx;
    (*calls)++;
    return done == 200 && total == 256;
}

static void test_stop(const ember_dataset *train, const ember_dataset *test) {
    ember_vit vit;
    t_make_vit(&vit, 10, 11);
    ember_fit_opts o = quick_opts();
    o.epochs = 5;
    stopper s = {.stop_epoch = 1, .stop_step = 2};
    ember_fit_callbacks cb = {.ctx = &s, .on_step = stop_at};
    ember_fit_history h = {0};
    ember_err e = {{0}};
    int rc = ember_fit(&vit, train, test, NULL, &o, &cb, &h, &e);
    CHECK(rc == EMBER_FIT_STOPPED, "stopped by on_step: rc %d (%s)", rc, e.msg);
    CHECK(h.n == 1, "the history holds the one finished epoch, got %d", h.n);
    CHECK(vit.t == 16 + 2, "the model took 18 steps, got %lld", (long long)vit.t);
    ember_eval_result ev;
    OK(ember_evaluate(&vit, test, NULL, 50, 0.0, 0, NULL, NULL, &ev, E));
    CHECK(ev.n == test->n && isfinite(ev.loss), "the stopped model evaluates");
    ember_eval_result_free(&ev);
    /* It can be trained on: a later fit continues. */
    o.epochs = 1;
    o.max_steps_per_epoch = 2;
    OK(ember_fit(&vit, train, NULL, NULL, &o, NULL, &h, E));
    CHECK(vit.t == 20 && h.n == 2, "fit after a stop continues: t %lld", (long long)vit.t);
    ember_fit_history_free(&h);

    /* A stop during the test evaluation: the epoch trained but is not recorded. */
    int evals = 0;
    ember_fit_callbacks cb3 = {.ctx = &evals, .on_eval = stop_eval};
    int64_t t0 = vit.t;
    o.epochs = 2;
    o.max_steps_per_epoch = 2;
    o.eval_batch_size = 100;
    rc = ember_fit(&vit, train, test, NULL, &o, &cb3, &h, &e);
    CHECK(rc == EMBER_FIT_STOPPED && h.n == 0 && vit.t == t0 + 2 && evals == 2,
          "on_eval stops the test evaluation: rc %d, n %d, %d calls", rc, h.n, evals);
    o.eval_batch_size = 0;

    stopper s2 = {.stop_epoch = 0};
    ember_fit_callbacks cb2 = {.ctx = &s2, .on_epoch = stop_after_epoch};
    o.epochs = 3;
    o.max_steps_per_epoch = 2;
    rc = ember_fit(&vit, train, NULL, NULL, &o, &cb2, &h, &e);
    CHECK(rc == EMBER_FIT_STOPPED && h.n == 1 && s2.epochs_seen == 1, "on_epoch stops after its epoch: rc %d n %d",
          rc, h.n);
    ember_fit_history_free(&h);
    ember_vit_destroy(&vit);
}

/* ---- validation ----------------------------------------------------------- */

static void expect_error(ember_vit *vit, const ember_dataset *train, const ember_dataset *test,
                         const ember_fit_opts *o, const char *needle, const char *what) {
    ember_err e = {{0}};
    ember_fit_history h = {0};
    int64_t t0 = vit->t;
    int rc = ember_fit(vit, train, test, NULL, o, NULL, &h, &e);
    CHECK(rc == -1 && strstr(e.msg, needle), "%s: rc %d, message '%s' should mention '%s'", what, rc, e.msg, needle);
    /* The binding names the builtin ("fit: ..."); the engine must not too. */
    CHECK(strncmp(e.msg, "fit", 3) != 0, "%s: the message does not name fit itself: '%s'", what, e.msg);
    CHECK(h.n == 0 && vit->t == t0, "%s: nothing ran", what);
    ember_fit_history_free(&h);
}

static void test_validation(const ember_dataset *train, const ember_dataset *test) {
    ember_vit vit;
    t_make_vit(&vit, 10, 13);
    ember_fit_opts o = quick_opts();
    ember_fit_opts bad = o;
    bad.batch_size = 0;
    expect_error(&vit, train, test, &bad, "batch_size", "batch size 0");
    bad = o;
    bad.epochs = 0;
    expect_error(&vit, train, test, &bad, "epochs", "0 epochs");
    bad = o;
    bad.lr = NAN;
    expect_error(&vit, train, test, &bad, "learning rate", "NaN lr");
    bad = o;
    bad.label_smoothing = 1.0;
    expect_error(&vit, train, test, &bad, "label_smoothing", "smoothing 1");
    bad = o;
    bad.gamma = 0.0;
    expect_error(&vit, train, test, &bad, "gamma", "gamma 0");
    bad = o;
    bad.n_milestones = 17;
    expect_error(&vit, train, test, &bad, "milestones", "too many milestones");
    bad = o;
    bad.adamw.beta2 = 1.0;
    expect_error(&vit, train, test, &bad, "betas", "beta2 1");

    ember_dataset small, eleven, empty, wrong_label;
    t_make_dataset(&small, 40, 28, 10, 3);
    expect_error(&vit, &small, test, &o, "28x28", "28x28 train images");
    expect_error(&vit, train, &small, &o, "test set has 28x28", "28x28 test images");
    t_make_dataset(&eleven, 64, 32, 11, 4);
    expect_error(&vit, &eleven, test, &o, "11 classes", "11-class train set");
    ember_err e = {{0}};
    ember_fit_history h = {0};
    ember_fit(&vit, &eleven, test, NULL, &o, NULL, &h, &e);
    CHECK(strstr(e.msg, "num_classes=11") != NULL, "says what to do: %s", e.msg);
    t_make_dataset(&empty, 1, 32, 10, 5);
    empty.n = 0;
    expect_error(&vit, &empty, test, &o, "empty", "empty train set");
    expect_error(&vit, train, &empty, &o, "test set is empty", "empty test set");
    t_make_dataset(&wrong_label, 8, 32, 10, 6);
    wrong_label.labels[5] = 10;
    expect_error(&vit, &wrong_label, test, &o, "image 5 has label 10", "label out of range");
    bad = o;
    bad.drop_last = 1;
    bad.batch_size = 64;
    expect_error(&vit, &wrong_label, test, &bad, "label", "labels checked first");
    wrong_label.labels[5] = 1;
    expect_error(&vit, &wrong_label, test, &bad, "fewer than one batch", "drop_last with a small set");
    expect_error(&vit, NULL, test, &o, "train set", "no train set");

    /* And the model is untouched and fine. */
    OK(ember_fit(&vit, train, NULL, NULL, &(ember_fit_opts){.epochs = 1,
                                                           .batch_size = 16,
                                                           .lr = 1e-3,
                                                           .adamw = ember_adamw_default(),
                                                           .gamma = 1.0,
                                                           .max_steps_per_epoch = 1},
                 NULL, NULL, E));
    CHECK(vit.t == 1, "a valid fit after the refusals runs");
    ember_dataset_free(&small);
    ember_dataset_free(&eleven);
    ember_dataset_free(&empty);
    ember_dataset_free(&wrong_label);
    ember_vit_destroy(&vit);
}

/* ---- the last partial batch ---------------------------------------------- */

static void test_partial_batch(void) {
    ember_dataset ds;
    t_make_dataset(&ds, 100, 32, 10, 21);
    ember_vit vit;
    t_make_vit(&vit, 10, 17);
    ember_fit_opts o = quick_opts();
    o.epochs = 2;
    step_log log = {0};
    ember_fit_callbacks cb = {.ctx = &log, .on_step = log_step};
    ember_fit_history h = {0};
    OK(ember_fit(&vit, &ds, NULL, NULL, &o, &cb, &h, E));
    CHECK(h.n == 2 && h.epochs[1].steps == 4 && h.epochs[1].train_images == 100,
          "100 images, batch 32: 4 steps, 100 images (got %lld, %lld)", (long long)h.epochs[1].steps,
          (long long)h.epochs[1].train_images);
    CHECK(log.calls == 8 && log.last_step == 4 && log.last_images == 100, "on_step sees the partial batch");
    CHECK(vit.t == 8, "8 steps");
    ember_fit_history_free(&h);

    o.drop_last = 1;
    OK(ember_fit(&vit, &ds, NULL, NULL, &o, NULL, &h, E));
    CHECK(h.n == 2 && h.epochs[0].steps == 3 && h.epochs[0].train_images == 96, "drop_last: 3 steps, 96 images");
    CHECK(ember_fit_steps_per_epoch(&o, 100) == 3, "steps_per_epoch with drop_last");
    o.drop_last = 0;
    CHECK(ember_fit_steps_per_epoch(&o, 100) == 4 && ember_fit_steps_per_epoch(&o, 96) == 3,
          "steps_per_epoch without");
    ember_fit_history_free(&h);
    ember_dataset_free(&ds);
    ember_vit_destroy(&vit);
}

/* ---- the counting train step ------------------------------------------------ */

static void test_step_count(const ember_dataset *train) {
    ember_vit a, b;
    t_make_vit(&a, 10, 19);
    t_make_vit(&b, 10, 19);
    int64_t idx[24];
    for (int i = 0; i < 24; i++) idx[i] = i;
    float *img = malloc(24 * 3 * 32 * 32 * sizeof(float));
    int32_t lab[24];
    OK(ember_augment_batch(NULL, train, idx, 24, 0, 0, img, lab, E));
    float la = 0, lb = 0;
    int32_t ca = -1;
    OK(ember_vit_upload_batch(&a, img, lab, 24, E));
    OK(ember_vit_train_step(&a, 1e-3f, &la, E));
    OK(ember_vit_upload_batch(&b, img, lab, 24, E));
    OK(ember_vit_train_step_count(&b, 1e-3f, &lb, &ca, E));
    float *wa = t_weights(&a), *wb = t_weights(&b);
    CHECK(la == lb && !memcmp(wa, wb, (size_t)a.n_elems * sizeof(float)) && a.t == b.t &&
              a.rng_offset == b.rng_offset,
          "train_step_count is train_step plus a count");
    CHECK(ca >= 0 && ca <= 24, "count in range: %d", ca);
    free(wa);
    free(wb);
    ember_vit_destroy(&a);
    ember_vit_destroy(&b);

    /* Without dropout the training-mode logits are the eval ones: the count
     * is the eval count of the same batch before the update. */
    ember_vit_config c = t_tiny_config(10);
    c.dropout = 0.0f;
    ember_vit d;
    OK(ember_vit_create(&d, &c, ember_backend_cpu(), 23, E));
    OK(ember_vit_upload_batch(&d, img, lab, 24, E));
    int32_t ce = -1, ct = -2;
    float le = 0, lt = 0;
    OK(ember_vit_eval_batch(&d, d.smoothing, &le, &ce, E)); /* the training criterion */
    OK(ember_vit_train_step_count(&d, 1e-3f, &lt, &ct, E));
    CHECK(ce == ct && le == lt, "dropout 0: train count %d loss %g = eval count %d loss %g", ct, (double)lt, ce,
          (double)le);
    ember_vit_destroy(&d);
    free(img);
}

/* ---- with the recipe's augmentation pipeline ---------------------------- */

static void test_augmented(const ember_dataset *train, const ember_dataset *test) {
    ember_augment aug = recipe_pipeline();
    ember_fit_opts o = quick_opts();
    o.epochs = 2;
    o.max_steps_per_epoch = 4;
    float *w[3];
    ember_fit_history h[3] = {{0}, {0}, {0}};
    for (int i = 0; i < 3; i++) {
        o.prefetch = i == 1;
        o.seed = i == 2 ? 99 : 7;
        ember_vit vit;
        t_make_vit(&vit, 10, 3);
        OK(ember_fit(&vit, train, test, &aug, &o, NULL, &h[i], E));
        w[i] = t_weights(&vit);
        if (i == 0) {
            /* The test set went through the pipeline's normalize only. */
            ember_augment norm = {.n = 1}, derived;
            norm.steps[0] = aug.steps[5];
            CHECK(ember_fit_test_pipeline(&aug, &derived) == &derived && derived.n == 1 &&
                      !memcmp(&derived.steps[0], &norm.steps[0], sizeof norm.steps[0]),
                  "the derived test pipeline is the normalize step");
            ember_augment no_norm = aug;
            no_norm.n = 5;
            CHECK(!ember_fit_test_pipeline(&no_norm, &derived) && !ember_fit_test_pipeline(NULL, &derived),
                  "no normalize step: to_tensor only");
            ember_eval_result ev;
            OK(ember_evaluate(&vit, test, &norm, 32, 0.1, 0, NULL, NULL, &ev, E));
            CHECK(ev.loss == h[0].epochs[1].test_loss && ev.accuracy == h[0].epochs[1].test_acc,
                  "test metrics with the derived normalize-only pipeline");
            ember_eval_result_free(&ev);
            OK(ember_evaluate(&vit, test, NULL, 32, 0.1, 0, NULL, NULL, &ev, E));
            CHECK(ev.loss != h[0].epochs[1].test_loss, "and not to_tensor only");
            ember_eval_result_free(&ev);
        }
        ember_vit_destroy(&vit);
    }
    ember_vit probe;
    t_make_vit(&probe, 10, 3);
    size_t bytes = (size_t)probe.n_elems * sizeof(float);
    ember_vit_destroy(&probe);
    CHECK(!memcmp(w[0], w[1], bytes) && same_metrics(&h[0], &h[1]), "augmented: prefetch gives the same run");
    CHECK(memcmp(w[0], w[2], bytes) && !same_metrics(&h[0], &h[2]), "augmented: another seed, another run");

    /* Augmentation changes what is trained on: not the to_tensor run. */
    ember_fit_history plain = {0};
    ember_vit vit;
    t_make_vit(&vit, 10, 3);
    o.prefetch = 0;
    o.seed = 7;
    OK(ember_fit(&vit, train, test, NULL, &o, NULL, &plain, E));
    CHECK(plain.epochs[0].train_loss != h[0].epochs[0].train_loss, "the pipeline is applied");
    ember_vit_destroy(&vit);
    ember_fit_history_free(&plain);
    for (int i = 0; i < 3; i++) {
        free(w[i]);
        ember_fit_history_free(&h[i]);
    }

    /* A pipeline producing the wrong size is refused before any step. */
    ember_augment crop = aug;
    crop.steps[0].size = 28;
    t_make_vit(&vit, 10, 3);
    ember_err e = {{0}};
    CHECK(ember_fit(&vit, train, test, &crop, &o, NULL, NULL, &e) == -1 && strstr(e.msg, "28x28") && vit.t == 0,
          "crop to 28 refused: %s", e.msg);
    ember_vit_destroy(&vit);
}

int main(int argc, char **argv) {
    const char *scratch = argc > 2 ? argv[2] : "/tmp";
    mkdir(scratch, 0755);
    ember_dataset train, test;
    t_make_dataset(&train, 512, 32, 10, 1);
    t_make_dataset(&test, 256, 32, 10, 2);
    test_step_count(&train);
    test_validation(&train, &test);
    test_partial_batch();
    test_schedule(&train);
    test_stop(&train, &test);
    test_determinism(&train, &test);
    test_augmented(&train, &test);
    test_learns(&train, &test, scratch);
    ember_dataset_free(&train);
    ember_dataset_free(&test);
    return t_finish("test_fit");
}
