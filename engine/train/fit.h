/* fit.h — the training loop of the q1 recipe (Q1_RECIPE.md) over the ViT
 * (nn/vit.h) and an in-memory dataset (data/dataset.h, data/augment.h), and
 * evaluation with a confusion matrix. Pure C; the language's fit(...) and
 * evaluate(...) are bindings over exactly these two calls.
 *
 * One epoch of ember_fit, as the PyTorch reference loop:
 *   lr = MultiStepLR(epoch)                  (once per epoch, see below)
 *   order = a fresh permutation of the train set (ember_shuffle)
 *   for each batch of `batch_size` images in that order (the last partial
 *   batch kept unless drop_last):
 *       augment on the CPU (ember_augment_batch, OpenMP over images)
 *       upload; forward with dropout, label-smoothed cross-entropy,
 *       backward, AdamW at lr            (ember_vit_train_step_count)
 *       on_step(progress)                (non-zero: stop now)
 *   test loss / accuracy on the test set (ember_evaluate, dropout off;
 *       on_eval after each test batch)
 *   append the epoch record to the history; on_epoch(record)
 *
 * Each step syncs once (to read its loss and correct count for on_step).
 * With prefetch on, a worker thread augments the next batches (two host
 * buffers, allocated once per call) while the current one trains, so on
 * CUDA the CPU augmentation overlaps the GPU step.
 *
 * Randomness: everything derives from opts.seed — the shuffle order, the
 * augmentation draws (keyed by (seed, epoch, image index), so they do not
 * depend on the thread count or the batch order) and the dropout masks
 * (fit sets vit->seed, the model's dropout key, from opts.seed; the Philox
 * offset vit->rng_offset keeps advancing). The same model (same creation
 * seed), the same data and the same opts give bit-identical weights and
 * history (times aside) on one machine with a fixed thread count
 * (OMP_NUM_THREADS on the CPU backend).
 *
 * Continuing: the optimizer state (AdamW m, v and the step count vit->t) and
 * the dropout offset live in the ember_vit, so calling ember_fit again on
 * the same model continues training, as running the PyTorch loop again
 * would. The epoch index of a call starts at opts.first_epoch (default 0):
 * it is the epoch the learning-rate schedule and the data streams (shuffle,
 * augmentation) use. So
 *     fit(epochs = 50) then fit(epochs = 50, first_epoch = 50)
 * is bit for bit the same run as fit(epochs = 100) with the same seed, while
 * a second call with first_epoch 0 restarts the schedule (lr back at the
 * base rate, milestones counted from this call's start) and replays epoch
 * 0's data order and augmentation draws (with new dropout masks). Bindings
 * that want "a second fit() continues" pass first_epoch = the number of
 * epochs the model has done. A call can also start inside its first epoch
 * (opts.start: the steps a stopped call already took in it, with their
 * running sums), so that a run stopped mid-epoch and continued, in this
 * process or from a checkpoint in another, takes every step exactly once
 * and ends bit for bit where the uninterrupted run ends (the shuffle, the
 * augmentation draws and the dropout masks are all keyed by the seed, the
 * epoch, the image and the Philox offset, never by a running generator).
 *
 * Checkpoints (opts.checkpoint, train/checkpoint.h): the whole training
 * state is written atomically after every epoch and when a stop ends the
 * call (an interrupt between steps, inside a step or during the test
 * evaluation), with the position inside the epoch. A failed write is
 * reported through on_checkpoint and training goes on; the previous file
 * stays as it was.
 *
 * The model: fit sets vit->smoothing to opts.label_smoothing (the
 * criterion its steps differentiate; ember_evaluate never reads it), vit->opt to opts.adamw and vit->seed as above (so a
 * captured CUDA graph of the step must be captured after these are set).
 * Nothing else of the model changes apart from the training itself; the
 * activation batch size changes with every upload and
 * ember_vit_upload_batch sets it again, so the model is usable (train step,
 * eval, save) after fit returns, also after a stop or an error. */
#ifndef EMBER_TRAIN_FIT_H
#define EMBER_TRAIN_FIT_H

#include <stdint.h>

#include "core/error.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "nn/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_FIT_MAX_MILESTONES 16

/* Return value of ember_fit when a callback asked to stop (0: ran every
 * epoch; -1: error, message in err). */
#define EMBER_FIT_STOPPED 1

/* Progress inside one epoch: what a call that stops mid-epoch has done of
 * it, and what a call that continues it starts from. All zero: the epoch's
 * start. */
typedef struct ember_fit_position {
    int64_t step;         /* steps of the epoch taken (0..steps an epoch; all of them when the
                             stop came during the test evaluation) */
    double loss_sum;      /* sum over those steps of batch loss x batch images */
    int64_t correct;      /* correct training predictions among them */
    int64_t images;       /* images trained on */
    double train_seconds; /* time those steps took (the epoch record's times include it) */
} ember_fit_position;

typedef struct ember_fit_opts {
    int epochs;              /* epochs to run in this call (>= 1); recipe 100 */
    int first_epoch;         /* epoch index of this call's first epoch (>= 0); see the top */
    int batch_size;          /* >= 1; recipe 128 */
    int eval_batch_size;     /* test-set batches; 0 = batch_size */
    int drop_last;           /* 0 (recipe): the last partial batch is trained on */
    int max_steps_per_epoch; /* 0 = every batch; n > 0: at most n steps an epoch (smoke runs) */
    double lr;               /* base learning rate (>= 0); recipe 3e-4 (the step uses it as float) */
    ember_adamw_config adamw; /* betas, eps, weight decay (nn/vit.h); recipe ember_adamw_default() */
    /* torch.optim.lr_scheduler.MultiStepLR stepped once per epoch: the rate
     * of epoch e (the global index, first_epoch-based) is
     *   lr * gamma^(number of milestones m with m <= e).
     * Recipe: {50, 75}, gamma 0.1. n_milestones 0 = constant rate. */
    int milestones[EMBER_FIT_MAX_MILESTONES];
    int n_milestones;
    double gamma;            /* > 0 */
    double label_smoothing;  /* in [0, 1); recipe 0.1 */
    uint64_t seed;           /* shuffle, augmentation and dropout (see the top) */
    /* Test-set pipeline. NULL: only the normalize step of the train
     * pipeline (to_tensor only when it has none), i.e. the recipe's
     * "ToTensor then Normalize" for test images. */
    const ember_augment *test_aug;
    /* Build host batches on a worker thread while the previous batch trains:
     * -1 auto (on for backends other than the CPU, where the augmentation
     * and the step would fight for the same cores), 0 off, 1 on. Results
     * are identical either way. */
    int prefetch;
    /* Where in epoch first_epoch this call starts (see "Continuing"); zero:
     * at its first step. start.step may equal the steps of an epoch (only
     * the test evaluation of that epoch was left). */
    ember_fit_position start;
    /* NULL: no checkpoints. Otherwise the path of the checkpoint written
     * after every epoch and when the call stops (train/checkpoint.h); its
     * folder must exist when fit starts. The checkpoint's history is `hist`
     * (pass the model's whole history: it is what a resumed run shows). */
    const char *checkpoint;
    /* JSON object text of string values put into every checkpoint's
     * metadata beside the training state (the model's configuration, the
     * keys save() writes); may be NULL. */
    const char *checkpoint_meta;
    /* Out (may be NULL): when ember_fit returns other than 0, where the
     * unfinished epoch stood (epoch first_epoch + the epochs this call
     * recorded); zero when it stopped at an epoch's end. */
    ember_fit_position *stopped_at;
} ember_fit_opts;

/* The recipe: 100 epochs, batch 128, lr 3e-4, AdamW (0.9, 0.999, 1e-8,
 * 0.05), milestones {50, 75} gamma 0.1, label smoothing 0.1, seed 0, last
 * batch kept, eval batch = batch size, first_epoch 0, prefetch auto. */
ember_fit_opts ember_fit_default_opts(void);

/* The learning rate of (global) epoch e under opts (MultiStepLR above). */
double ember_fit_lr(const ember_fit_opts *opts, int epoch);

/* Training steps one epoch takes for n images under opts (drop_last and
 * max_steps_per_epoch applied). */
int64_t ember_fit_steps_per_epoch(const ember_fit_opts *opts, int64_t n);

/* The recipe's test pipeline for a train pipeline: its normalize step
 * alone, written to *out, and out is returned; NULL (to_tensor only) when
 * train_aug is NULL or has no normalize step. What fit uses when
 * opts.test_aug is NULL; bindings can keep it with the model so that a
 * later evaluate(model, test) sees the same inputs. */
const ember_augment *ember_fit_test_pipeline(const ember_augment *train_aug, ember_augment *out);

/* One finished epoch. Losses are means over images (each batch's mean
 * weighted by its size; a loop dividing the sum of batch means by the
 * number of batches differs only through the last partial batch, by well
 * under 0.1% at the recipe's sizes); accuracies are fractions in [0, 1]. */
typedef struct ember_epoch_record {
    int epoch;             /* global index (first_epoch-based) */
    double lr;             /* the rate used for the whole epoch */
    int64_t steps;         /* optimizer steps taken in the epoch */
    int64_t train_images;  /* images trained on in the epoch */
    double train_loss;     /* on the augmented batches, dropout on, before each update */
    double train_acc;
    double test_loss;      /* NaN when fit had no test set; the training criterion (opts.label_smoothing) */
    double test_acc;       /* NaN when fit had no test set */
    double seconds;        /* the whole epoch, test evaluation included */
    double train_seconds;  /* the training steps only (batch making included) */
    double images_per_sec; /* train_images / train_seconds */
} ember_epoch_record;

/* Epoch records, oldest first. Zero-initialise it ({0}); ember_fit APPENDS
 * (several calls can share one history); ember_fit_history_free releases
 * it. Owned by the caller's history value. */
typedef struct ember_fit_history {
    ember_epoch_record *epochs;
    int n, cap;
} ember_fit_history;

void ember_fit_history_free(ember_fit_history *h);

/* Progress after each training step (valid only during the callback). */
typedef struct ember_fit_progress {
    int epoch;              /* global index of the running epoch */
    int epoch_in_call;      /* 0-based within this call */
    int epochs;             /* epochs in this call (opts.epochs) */
    int64_t step;           /* steps finished in this epoch, 1..steps_in_epoch */
    int64_t steps_in_epoch;
    int64_t global_step;    /* vit->t: optimizer steps the model has taken */
    int64_t images;         /* images trained on so far in this epoch */
    double lr;
    double batch_loss;      /* this step's batch loss */
    double loss;            /* running mean over this epoch's images so far */
    double acc;             /* running train accuracy (augmented, dropout on) */
    double elapsed;         /* seconds since the epoch started */
    double images_per_sec;  /* images / elapsed */
} ember_fit_progress;

/* Evaluation progress: called after each evaluated batch with the images
 * done so far out of total; non-zero stops the evaluation. */
typedef int (*ember_eval_progress)(void *ctx, int64_t done, int64_t total);

/* Callbacks (any member may be NULL; the struct pointer may be NULL).
 * Returning non-zero from any stops fit: from on_step immediately after
 * that step, from on_eval during the epoch's test evaluation (in both
 * cases the running epoch is not recorded), from on_epoch after that epoch
 * (it is recorded). ember_fit then returns EMBER_FIT_STOPPED. The bindings
 * return non-zero on a user interrupt (on_eval matters: evaluating 10,000
 * images with the full-size model takes minutes on a CPU).
 * An interrupt can also land inside a step or an evaluated batch: when the
 * calling thread's cancellation token trips (core/cancel.h; the language
 * installs one for every builtin call), the step stops before its AdamW
 * update and is not applied (weights, AdamW state, vit->t and the dropout
 * offset stay as after the previous step; the running epoch is not
 * recorded), and ember_fit and ember_evaluate return EMBER_FIT_STOPPED. */
/* One checkpoint write (opts.checkpoint), for on_checkpoint. */
typedef struct ember_fit_saved {
    const char *path;
    int epochs_done;        /* whole epochs the checkpoint holds */
    int64_t step;           /* steps of the next epoch it holds too (0: written at an epoch's end) */
    int64_t steps_in_epoch;
    int ok;                 /* 1: written; 0: not (error says why, code is its errno) */
    const char *error;
    int code;
} ember_fit_saved;

typedef struct ember_fit_callbacks {
    void *ctx;
    int (*on_step)(void *ctx, const ember_fit_progress *p);
    ember_eval_progress on_eval;
    int (*on_epoch)(void *ctx, const ember_epoch_record *rec);
    /* After each checkpoint write, written or not (training goes on either
     * way; a failed write leaves the previous checkpoint as it was). */
    void (*on_checkpoint)(void *ctx, const ember_fit_saved *s);
} ember_fit_callbacks;

/* Trains vit on `train` as described at the top (from opts.start inside
 * epoch opts.first_epoch).
 *   test: evaluated after every epoch; NULL for none (test_* are NaN).
 *   aug:  the train pipeline (typically the recipe's: crop, flip, jitter,
 *         affine, rotation, normalize); NULL = to_tensor only, so the model
 *         sees [0, 1] pixels, not normalised ones.
 *   hist: epoch records are appended; may be NULL.
 * Everything is validated before the first step (sizes, the datasets
 * against the model, the options, the pipelines), with a message saying
 * what is wrong. Returns 0 when every epoch ran, EMBER_FIT_STOPPED when a
 * callback or an interrupt inside a step stopped it, -1 on error (err says why; the history holds the
 * epochs finished before it, the model the weights of the last step). */
int ember_fit(ember_vit *vit, const ember_dataset *train, const ember_dataset *test,
              const ember_augment *aug, const ember_fit_opts *opts, const ember_fit_callbacks *cb,
              ember_fit_history *hist, ember_err *err);

/* ---- evaluation -------------------------------------------------------- */

typedef struct ember_eval_result {
    int64_t n;          /* images evaluated */
    int n_classes;      /* the model's class count K (>= the dataset's) */
    /* Mean over images of cross-entropy with the label smoothing the
     * caller passed (evaluate() in the language: 0, plain cross-entropy, as
     * PyTorch eval loops report; fit's per-epoch test loss: the training
     * criterion). Never the model's own vit->smoothing: a loaded
     * checkpoint must evaluate exactly as the model it came from. */
    double loss;
    double label_smoothing; /* the criterion's smoothing, as passed */
    double accuracy;    /* fraction of images whose argmax is the label */
    int64_t correct;
    /* [K x K], row-major: confusion[true * K + predicted]; sums to n. */
    int64_t *confusion;
    /* [K]: images of each true class, and the fraction of them predicted
     * right (NaN for a class with no images). */
    int64_t *class_count;
    double *class_acc;
    /* [n]: the predicted class of image i (dataset order), or NULL when not
     * asked for. Argmax of the logits, the first maximum on ties. */
    int32_t *predictions;
} ember_eval_result;

void ember_eval_result_free(ember_eval_result *r);

/* Evaluates vit on every image of ds (dropout off), in dataset order, in
 * batches of batch_size, the loss with label_smoothing in [0, 1) (0: plain
 * cross-entropy). aug: the test pipeline (typically normalize
 * only; NULL = to_tensor only); a pipeline with random steps draws them
 * with seed 0, epoch 0, so the result is still deterministic.
 * want_predictions: fill out->predictions. progress (may be NULL) is called
 * after each batch with ctx. Returns 0 with *out filled (free it with
 * ember_eval_result_free), EMBER_FIT_STOPPED when progress stopped it or
 * the thread's cancellation token tripped (see the callbacks above), -1
 * on error; *out is written only on success. The dataset checks are
 * ember_fit_check_dataset's. */
int ember_evaluate(ember_vit *vit, const ember_dataset *ds, const ember_augment *aug, int batch_size,
                   double label_smoothing, int want_predictions, ember_eval_progress progress, void *ctx,
                   ember_eval_result *out, ember_err *err);

/* Checks that ds can feed vit through aug: non-empty, channels and (after
 * aug) image size equal to the model's, classes <= the model's, labels in
 * range. `what` names the dataset in the message ("train set"). */
int ember_fit_check_dataset(const ember_vit *vit, const ember_dataset *ds, const ember_augment *aug,
                            const char *what, ember_err *err);

#ifdef __cplusplus
}
#endif
#endif
