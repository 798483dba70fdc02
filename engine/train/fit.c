/* fit.c — ember_fit: the epoch loop of the q1 recipe (shuffle, augmented
 * batches, the MultiStepLR rate, train steps with loss and accuracy, the
 * per-epoch test evaluation, history and callbacks), with host batches
 * optionally built on a worker thread one step ahead, starting anywhere
 * inside an epoch, and checkpoints after every epoch and at a stop. See
 * fit.h. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train/fit.h"

#include "core/cancel.h"
#include "train/checkpoint.h"

ember_fit_opts ember_fit_default_opts(void) {
    ember_fit_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 100;
    o.batch_size = 128;
    o.lr = 3e-4;
    o.adamw = ember_adamw_default();
    o.milestones[0] = 50;
    o.milestones[1] = 75;
    o.n_milestones = 2;
    o.gamma = 0.1;
    o.label_smoothing = 0.1;
    o.prefetch = -1;
    return o;
}

double ember_fit_lr(const ember_fit_opts *opts, int epoch) {
    /* torch multiplies by gamma once per milestone passed (in double). */
    double lr = opts->lr;
    for (int i = 0; i < opts->n_milestones; i++)
        if (opts->milestones[i] <= epoch) lr *= opts->gamma;
    return lr;
}

int64_t ember_fit_steps_per_epoch(const ember_fit_opts *opts, int64_t n) {
    if (opts->batch_size <= 0 || n <= 0) return 0;
    int64_t s = n / opts->batch_size;
    if (!opts->drop_last && n % opts->batch_size) s++;
    if (opts->max_steps_per_epoch > 0 && s > opts->max_steps_per_epoch) s = opts->max_steps_per_epoch;
    return s;
}

const ember_augment *ember_fit_test_pipeline(const ember_augment *train_aug, ember_augment *out) {
    /* ember_augment_check keeps normalize last, so only the last step can be it. */
    if (!train_aug || train_aug->n < 1 || train_aug->n > EMBER_AUG_MAX_STEPS ||
        train_aug->steps[train_aug->n - 1].kind != EMBER_AUG_NORMALIZE)
        return NULL;
    memset(out, 0, sizeof *out);
    out->n = 1;
    out->steps[0] = train_aug->steps[train_aug->n - 1];
    return out;
}

void ember_fit_history_free(ember_fit_history *h) {
    if (!h) return;
    free(h->epochs);
    memset(h, 0, sizeof *h);
}

static int history_append(ember_fit_history *h, const ember_epoch_record *r, ember_err *err) {
    if (!h) return 0;
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 16;
        ember_epoch_record *e = realloc(h->epochs, (size_t)cap * sizeof *e);
        if (!e) return ember_err_set(err, "out of memory growing the training history");
        h->epochs = e;
        h->cap = cap;
    }
    h->epochs[h->n++] = *r;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Independent streams from one user seed (splitmix64's finaliser). */
static uint64_t derive_seed(uint64_t seed, uint64_t purpose) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (purpose + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

enum { SEED_SHUFFLE = 1, SEED_AUGMENT = 2, SEED_DROPOUT = 3 };

static int check_opts(const ember_fit_opts *o, ember_err *err) {
    if (o->epochs < 1 || o->epochs > 1000000)
        return ember_err_set(err, "epochs must be between 1 and 1000000, got %d", o->epochs);
    if (o->first_epoch < 0 || o->first_epoch > 1000000)
        return ember_err_set(err, "first_epoch must be between 0 and 1000000, got %d", o->first_epoch);
    if (o->batch_size < 1 || o->batch_size > 1000000)
        return ember_err_set(err, "batch_size must be a positive number of images, got %d", o->batch_size);
    if (o->eval_batch_size < 0 || o->eval_batch_size > 1000000)
        return ember_err_set(err, "eval_batch_size must be positive (0 = batch_size), got %d",
                             o->eval_batch_size);
    if (o->max_steps_per_epoch < 0)
        return ember_err_set(err, "max_steps_per_epoch must be >= 0 (0 = every batch), got %d",
                             o->max_steps_per_epoch);
    if (!(o->lr >= 0.0) || !isfinite(o->lr))
        return ember_err_set(err, "the learning rate must be a finite number >= 0, got %g", o->lr);
    if (o->n_milestones < 0 || o->n_milestones > EMBER_FIT_MAX_MILESTONES)
        return ember_err_set(err, "at most %d milestones, got %d", EMBER_FIT_MAX_MILESTONES, o->n_milestones);
    for (int i = 0; i < o->n_milestones; i++)
        if (o->milestones[i] < 0)
            return ember_err_set(err, "milestones are epoch numbers >= 0, got %d", o->milestones[i]);
    if (!(o->gamma > 0.0) || !isfinite(o->gamma))
        return ember_err_set(err, "the schedule's gamma must be a finite number > 0, got %g", o->gamma);
    if (!(o->label_smoothing >= 0.0 && o->label_smoothing < 1.0))
        return ember_err_set(err, "label_smoothing must be in [0, 1), got %g", o->label_smoothing);
    const ember_adamw_config *a = &o->adamw;
    if (!(a->beta1 >= 0.0 && a->beta1 < 1.0) || !(a->beta2 >= 0.0 && a->beta2 < 1.0))
        return ember_err_set(err, "AdamW betas must be in [0, 1), got (%g, %g)", a->beta1, a->beta2);
    if (!(a->eps > 0.0) || !isfinite(a->eps))
        return ember_err_set(err, "AdamW eps must be a finite number > 0, got %g", a->eps);
    if (!(a->weight_decay >= 0.0) || !isfinite(a->weight_decay))
        return ember_err_set(err, "AdamW weight decay must be a finite number >= 0, got %g", a->weight_decay);
    if (o->prefetch < -1 || o->prefetch > 1)
        return ember_err_set(err, "prefetch must be -1 (auto), 0 or 1, got %d", o->prefetch);
    const ember_fit_position *p = &o->start;
    if (p->step < 0 || p->images < 0 || p->correct < 0 || p->correct > p->images || (p->step > 0) != (p->images > 0))
        return ember_err_set(err, "the start position inside epoch %d does not add up (step %lld, %lld images, "
                                  "%lld correct)",
                             o->first_epoch, (long long)p->step, (long long)p->images, (long long)p->correct);
    return 0;
}

/* ---- batch making, inline or on a worker thread ------------------------- */

/* Job j of the call is step (j % steps) of epoch (j / steps); its batch goes
 * to slot j % 2. The producer owns the permutation of the epoch it is in. */
typedef struct batch_slot {
    float *images;
    int32_t *labels;
    int64_t n;
    int state; /* 0 free, 1 ready, 2 failed (msg in err) */
    ember_err err;
} batch_slot;

typedef struct batcher {
    const ember_dataset *ds;
    const ember_augment *aug;
    int batch_size;
    int64_t steps;        /* per epoch */
    int64_t total;        /* jobs in the call */
    int first_epoch;
    int64_t first_step;   /* steps of first_epoch done before the call */
    uint64_t shuffle_seed, aug_seed;
    int64_t *idx;         /* permutation of the producer's current epoch */
    int64_t idx_epoch;    /* epoch idx holds, -1 none */
    batch_slot slot[2];

    int threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit;
} batcher;

static int produce(batcher *b, int64_t job, batch_slot *s) {
    int64_t g = job + b->first_step; /* the step's index counted from first_epoch's start */
    int64_t epoch = b->first_epoch + g / b->steps, step = g % b->steps;
    if (b->idx_epoch != epoch) {
        ember_shuffle(b->idx, b->ds->n, b->shuffle_seed, (uint64_t)epoch);
        b->idx_epoch = epoch;
    }
    int64_t start = step * b->batch_size;
    int64_t n = b->ds->n - start < b->batch_size ? b->ds->n - start : b->batch_size;
    s->n = n;
    ember_err_clear(&s->err);
    return ember_augment_batch(b->aug, b->ds, b->idx + start, n, b->aug_seed, (uint64_t)epoch, s->images, s->labels,
                               &s->err);
}

static void *worker_main(void *arg) {
    batcher *b = arg;
    for (int64_t j = 0; j < b->total; j++) {
        batch_slot *s = &b->slot[j % 2];
        pthread_mutex_lock(&b->mu);
        while (!b->quit && s->state != 0) pthread_cond_wait(&b->cv, &b->mu);
        int quit = b->quit;
        pthread_mutex_unlock(&b->mu);
        if (quit) break;
        int rc = produce(b, j, s);
        pthread_mutex_lock(&b->mu);
        s->state = rc ? 2 : 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        if (rc) break;
    }
    return NULL;
}

static void batcher_free(batcher *b) {
    if (b->threaded) {
        pthread_mutex_lock(&b->mu);
        b->quit = 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->thread, NULL);
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        b->threaded = 0;
    }
    for (int i = 0; i < 2; i++) {
        free(b->slot[i].images);
        free(b->slot[i].labels);
    }
    free(b->idx);
}

static int batcher_init(batcher *b, const ember_dataset *ds, const ember_augment *aug, const ember_fit_opts *o,
                        int64_t steps, int image_floats, int threaded, ember_err *err) {
    memset(b, 0, sizeof *b);
    b->ds = ds;
    b->aug = aug;
    b->batch_size = o->batch_size;
    b->steps = steps;
    b->first_step = o->start.step;
    b->total = steps * o->epochs - o->start.step;
    b->first_epoch = o->first_epoch;
    b->shuffle_seed = derive_seed(o->seed, SEED_SHUFFLE);
    b->aug_seed = derive_seed(o->seed, SEED_AUGMENT);
    b->idx_epoch = -1;
    b->idx = malloc((size_t)ds->n * sizeof *b->idx);
    int nslots = threaded ? 2 : 1;
    int ok = b->idx != NULL;
    for (int i = 0; i < nslots && ok; i++) {
        b->slot[i].images = malloc((size_t)o->batch_size * (size_t)image_floats * sizeof(float));
        b->slot[i].labels = malloc((size_t)o->batch_size * sizeof(int32_t));
        ok = b->slot[i].images && b->slot[i].labels;
    }
    if (!ok) {
        batcher_free(b);
        return ember_err_set(err, "out of memory for the host batches (batch_size %d)", o->batch_size);
    }
    if (threaded) {
        if (pthread_mutex_init(&b->mu, NULL)) {
            batcher_free(b);
            return ember_err_set(err, "cannot create the batch worker's mutex");
        }
        if (pthread_cond_init(&b->cv, NULL)) {
            pthread_mutex_destroy(&b->mu);
            batcher_free(b);
            return ember_err_set(err, "cannot create the batch worker's condition variable");
        }
        if (pthread_create(&b->thread, NULL, worker_main, b)) {
            pthread_cond_destroy(&b->cv);
            pthread_mutex_destroy(&b->mu);
            batcher_free(b);
            return ember_err_set(err, "cannot start the batch worker thread");
        }
        b->threaded = 1;
    }
    return 0;
}

/* The batch of job j, ready to upload. */
static batch_slot *batcher_get(batcher *b, int64_t j, ember_err *err) {
    if (!b->threaded) {
        if (produce(b, j, &b->slot[0])) {
            if (err) *err = b->slot[0].err;
            return NULL;
        }
        return &b->slot[0];
    }
    batch_slot *s = &b->slot[j % 2];
    pthread_mutex_lock(&b->mu);
    while (s->state == 0) pthread_cond_wait(&b->cv, &b->mu);
    int state = s->state;
    pthread_mutex_unlock(&b->mu);
    if (state == 2) {
        if (err) *err = s->err;
        return NULL;
    }
    return s;
}

/* The batch was uploaded (ember_vit_upload_batch syncs): its slot is free. */
static void batcher_release(batcher *b, batch_slot *s) {
    if (!b->threaded) return;
    pthread_mutex_lock(&b->mu);
    s->state = 0;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* ---- checkpoints ----------------------------------------------------------- */

typedef struct ckpt_writer {
    const ember_fit_opts *o;
    ember_fit_config config;
    int has_normalize;
    ember_aug_step normalize;
    const ember_fit_callbacks *cb;
    int64_t steps;
} ckpt_writer;

/* Writes the checkpoint (epochs_done whole epochs plus pos of the next) and
 * reports it; a failure is not fit's: training goes on. */
static void write_checkpoint(ckpt_writer *w, const ember_vit *vit, int epochs_done, const ember_fit_position *pos,
                             const ember_fit_history *h) {
    ember_ckpt_info in = {.epochs_done = epochs_done,
                          .pos = *pos,
                          .config = &w->config,
                          .normalize = w->has_normalize ? &w->normalize : NULL,
                          .history = h ? h->epochs : NULL,
                          .n_history = h ? h->n : 0,
                          .model_meta = w->o->checkpoint_meta};
    ember_ferr fe = {0};
    int rc = ember_ckpt_save(w->o->checkpoint, vit, &in, &fe);
    if (w->cb && w->cb->on_checkpoint) {
        ember_fit_saved sv = {.path = w->o->checkpoint,
                              .epochs_done = epochs_done,
                              .step = pos->step,
                              .steps_in_epoch = w->steps,
                              .ok = rc == 0,
                              .error = rc ? fe.msg : NULL,
                              .code = rc ? fe.code : 0};
        w->cb->on_checkpoint(w->cb->ctx, &sv);
    }
}

/* ---- the loop ----------------------------------------------------------- */

int ember_fit(ember_vit *vit, const ember_dataset *train, const ember_dataset *test, const ember_augment *aug,
              const ember_fit_opts *opts, const ember_fit_callbacks *cb, ember_fit_history *hist, ember_err *err) {
    if (opts && opts->stopped_at) memset(opts->stopped_at, 0, sizeof *opts->stopped_at);
    if (!vit || !vit->be) return ember_err_set(err, "no model");
    if (!opts) return ember_err_set(err, "no options");
    if (!train) return ember_err_set(err, "no train set");
    if (check_opts(opts, err)) return -1;
    if (ember_fit_check_dataset(vit, train, aug, "train set", err)) return -1;

    ember_augment norm_only;
    const ember_augment *test_aug = opts->test_aug ? opts->test_aug : ember_fit_test_pipeline(aug, &norm_only);
    if (test && ember_fit_check_dataset(vit, test, test_aug, "test set", err)) return -1;

    int64_t steps = ember_fit_steps_per_epoch(opts, train->n);
    if (steps < 1)
        return ember_err_set(err,
                             "the train set has %lld images, fewer than one batch of %d, and drop_last is on: "
                             "use a smaller batch_size or drop_last=false",
                             (long long)train->n, opts->batch_size);
    if (opts->start.step > steps)
        return ember_err_set(err,
                             "the run stopped after step %lld of epoch %d, but an epoch has only %lld steps with "
                             "these settings (%lld train images, batch_size %d): continue it with the settings it "
                             "was started with",
                             (long long)opts->start.step, opts->first_epoch + 1, (long long)steps,
                             (long long)train->n, opts->batch_size);
    int eval_bs = opts->eval_batch_size ? opts->eval_batch_size : opts->batch_size;

    /* Checkpoints: the folder is checked now, so a mistyped path is an
     * error before the first epoch, not a warning after it. */
    ckpt_writer cw;
    memset(&cw, 0, sizeof cw);
    cw.o = opts;
    cw.cb = cb;
    cw.steps = steps;
    ember_fit_history own_hist = {0};
    if (opts->checkpoint) {
        ember_ferr fe;
        if (ember_afile_check(opts->checkpoint, &fe)) return ember_err_set(err, "checkpoint: %s", fe.msg);
        ember_fit_config_of(opts, aug, train->n, &cw.config);
        ember_augment tp;
        if (ember_fit_test_pipeline(aug, &tp)) {
            cw.has_normalize = 1;
            cw.normalize = tp.steps[0];
        }
        if (!hist) hist = &own_hist; /* the checkpoints' history: this call's epochs */
    }

    const ember_vit_config *c = &vit->cfg;
    int image_floats = c->in_chans * c->image_size * c->image_size;
    int threaded = opts->prefetch == 1 || (opts->prefetch == -1 && vit->be->device != EMBER_DEV_CPU);
    batcher bt;
    if (batcher_init(&bt, train, aug, opts, steps, image_floats, threaded, err)) {
        ember_fit_history_free(&own_hist);
        return -1;
    }

    vit->smoothing = (float)opts->label_smoothing;
    vit->seed = derive_seed(opts->seed, SEED_DROPOUT);
    vit->opt = opts->adamw;

    int rc = 0;
    int64_t job = 0;
    ember_fit_position at; /* where the running epoch stands */
    memset(&at, 0, sizeof at);
    int epoch = opts->first_epoch;
    for (int ei = 0; ei < opts->epochs && rc == 0; ei++) {
        epoch = opts->first_epoch + ei;
        double lr = ember_fit_lr(opts, epoch);
        double t0 = now_s();
        /* The first epoch may have begun in an earlier call (opts.start). */
        const ember_fit_position zero = {0};
        at = ei == 0 ? opts->start : zero;
        double before = at.train_seconds;
        int64_t seen_here = 0;
        ember_fit_progress p;
        memset(&p, 0, sizeof p);
        p.epoch = epoch;
        p.epoch_in_call = ei;
        p.epochs = opts->epochs;
        p.steps_in_epoch = steps;
        p.lr = lr;
        for (int64_t s = at.step; s < steps; s++, job++) {
            batch_slot *b = batcher_get(&bt, job, err);
            float bl = 0.0f;
            int32_t bc = 0;
            int64_t n = b ? b->n : 0;
            int brc = !b;
            if (!brc) {
                brc = ember_vit_upload_batch(vit, b->images, b->labels, n, err);
                batcher_release(&bt, b);
            }
            if (!brc) brc = ember_vit_train_step_count(vit, (float)lr, &bl, &bc, err);
            if (brc) {
                /* Interrupted inside the step (core/cancel.h): the step
                 * was not applied, and a stop is not an error. */
                rc = ember_cancel_tripped() ? EMBER_FIT_STOPPED
                                            : ember_err_prefix(err, "epoch %d, step %lld of %lld: ", epoch,
                                                               (long long)(s + 1), (long long)steps);
                break;
            }
            at.step = s + 1;
            at.loss_sum += (double)bl * (double)n;
            at.correct += bc;
            at.images += n;
            seen_here += n;
            if (cb && cb->on_step) {
                double el = now_s() - t0;
                p.step = s + 1;
                p.global_step = vit->t;
                p.images = at.images;
                p.batch_loss = bl;
                p.loss = at.loss_sum / (double)at.images;
                p.acc = (double)at.correct / (double)at.images;
                p.elapsed = el;
                p.images_per_sec = el > 0.0 ? (double)seen_here / el : 0.0;
                if (cb->on_step(cb->ctx, &p)) {
                    rc = EMBER_FIT_STOPPED;
                    break;
                }
            }
        }
        double t1 = now_s();
        at.train_seconds = before + (t1 - t0);
        if (rc) break;

        ember_epoch_record r;
        memset(&r, 0, sizeof r);
        r.epoch = epoch;
        r.lr = lr;
        r.steps = steps;
        r.train_images = at.images;
        r.train_loss = at.loss_sum / (double)at.images;
        r.train_acc = (double)at.correct / (double)at.images;
        r.test_loss = NAN;
        r.test_acc = NAN;
        r.train_seconds = at.train_seconds;
        r.images_per_sec = at.train_seconds > 0 ? (double)at.images / at.train_seconds : 0.0;
        if (test) {
            ember_eval_result ev;
            int erc = ember_evaluate(vit, test, test_aug, eval_bs, opts->label_smoothing, 0, cb ? cb->on_eval : NULL, cb ? cb->ctx : NULL,
                                     &ev, err);
            if (erc == EMBER_FIT_STOPPED) {
                rc = erc;
                break;
            }
            if (erc) {
                rc = ember_err_prefix(err, "epoch %d, evaluating the test set: ", epoch);
                break;
            }
            r.test_loss = ev.loss;
            r.test_acc = ev.accuracy;
            ember_eval_result_free(&ev);
        }
        r.seconds = before + (now_s() - t0);
        if (history_append(hist, &r, err)) {
            rc = -1;
            break;
        }
        memset(&at, 0, sizeof at);
        /* The epoch line first, then the checkpoint of the finished epoch
         * (written also when the callback asks to stop). */
        int stop = cb && cb->on_epoch && cb->on_epoch(cb->ctx, &r);
        if (opts->checkpoint) write_checkpoint(&cw, vit, epoch + 1, &at, hist);
        if (stop) rc = EMBER_FIT_STOPPED;
    }
    batcher_free(&bt);
    /* A stop inside an epoch (between or inside steps, or during its test
     * evaluation) is where a continued run picks up. */
    if (rc == EMBER_FIT_STOPPED && at.step > 0 && opts->checkpoint) write_checkpoint(&cw, vit, epoch, &at, hist);
    if (rc != 0 && opts->stopped_at) *opts->stopped_at = at;
    ember_fit_history_free(&own_hist);
    return rc;
}
