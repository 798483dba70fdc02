/* checkpoint.h — a training run saved whole in one file, and read back, so
 * that training continues exactly where it stopped: in a new process, on
 * another machine, or in PyTorch.
 *
 * The file is safetensors (written atomically: fileio/atomic.h through
 * ember_st_save), with PyTorch's names where PyTorch has them:
 *   tensors (f32)
 *     model.<param>                     the weights (state_dict() names of
 *                                       bench/torch_vit.py)
 *     optimizer.state.<i>.exp_avg       AdamW's first moment of parameter i
 *     optimizer.state.<i>.exp_avg_sq    its second moment
 *     optimizer.state.<i>.step          the step count, a scalar (shape [])
 *   (i: the parameter's index in the reference model's parameters() order,
 *   nn/vit.h), so the tensors are torch.save({'model': ..., 'optimizer':
 *   ...}) flattened with '.', as data/weights.h names a torch checkpoint's;
 *   __metadata__ (string values; JSON text where marked)
 *     format                 "pt"
 *     ember.model, ember.*   the model's configuration, as save() writes it
 *                            (the caller's model_meta), so load_model() reads
 *                            a checkpoint as it reads saved weights
 *     ember.checkpoint       "1", the version of this layout
 *     epoch                  whole epochs done (the next epoch's 0-based index)
 *     optimizer.param_groups JSON: torch.optim.AdamW's param_groups (lr of the
 *                            next epoch, betas, eps, weight_decay, initial_lr,
 *                            params 0..n-1, ...)
 *     scheduler              JSON: MultiStepLR's state_dict() (milestones as
 *                            {"50": 1, ...}, gamma, base_lrs, last_epoch,
 *                            _step_count, _last_lr, ...)
 *     history                JSON: one object per finished epoch (epoch 1-based,
 *                            lr, steps, train_images, train_loss, train_acc,
 *                            test_loss, test_acc (null: no test set), seconds,
 *                            train_seconds, images_per_sec)
 *     ember.fit              JSON: the settings that fix the run's numbers
 *                            (ember_fit_config), absent when unknown
 *     ember.train_state      JSON: where the run stands and its random
 *                            streams: epochs_done, step (inside the next
 *                            epoch) with loss_sum, correct, images and
 *                            train_seconds of those steps, t (optimizer
 *                            steps), dropout_key (vit->seed), rng_offset
 *                            (the Philox offset of the next step), seed (the
 *                            fit seed keying the shuffle and augmentation),
 *                            normalize (the step evaluate() uses, or null);
 *                            64-bit numbers as decimal strings
 * scripts/ember_checkpoint.py turns such a file into torch's {'model',
 * 'optimizer', 'scheduler'} dicts.
 *
 * Floating-point values in the JSON are written in their shortest form that
 * reads back as the same double, so a resumed run continues with the same
 * bits (the running loss sum of a half-done epoch included). */
#ifndef EMBER_TRAIN_CHECKPOINT_H
#define EMBER_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include <jansson.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "data/augment.h"
#include "fileio/atomic.h"
#include "nn/vit.h"
#include "train/fit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_CKPT_VERSION 1

/* The settings that fix a run's numbers beside the model and the images:
 * recorded in checkpoints and compared when a run is resumed. */
typedef struct ember_fit_config {
    int batch_size;
    int eval_batch_size;     /* 0: batch_size */
    int drop_last;
    int max_steps_per_epoch; /* 0: every batch */
    double lr;
    ember_adamw_config adamw;
    int n_milestones;
    int milestones[EMBER_FIT_MAX_MILESTONES];
    double gamma;
    double label_smoothing;
    uint64_t seed;
    int64_t train_images;
    int has_aug;             /* 0: to_tensor only */
    ember_augment aug;       /* the train pipeline */
} ember_fit_config;

/* The configuration of a call of ember_fit with these arguments. */
void ember_fit_config_of(const ember_fit_opts *o, const ember_augment *aug, int64_t train_images,
                         ember_fit_config *out);
/* Compares the settings a run was checkpointed with (was) with the settings
 * of a call that continues it (now). Returns how many differ and writes
 * "batch_size 128 (checkpoint) vs 64 (now); lr 0.0003 vs 0.001" into buf
 * (cut to len). *order_changed (may be NULL) tells whether any of them
 * changes the order of the data or the steps of an epoch (batch_size,
 * seed, the train images, steps_per_epoch, drop_last), which a run cannot
 * change in the middle of an epoch. */
int ember_fit_config_diff(const ember_fit_config *was, const ember_fit_config *now, char *buf,
                          size_t len, int *order_changed);
/* "compose(random_crop(32, padding=4), hflip(p=0.5), normalize(...))", or
 * "none", into buf. */
void ember_augment_text(const ember_augment *aug, int has_aug, char *buf, size_t len);

/* ---- writing ---- */

typedef struct ember_ckpt_info {
    int epochs_done;                 /* whole epochs */
    ember_fit_position pos;          /* progress in the next epoch (zero: none) */
    const ember_fit_config *config;  /* NULL: not known (never trained by fit) */
    const ember_aug_step *normalize; /* what evaluate() uses; NULL: none */
    const ember_epoch_record *history;
    int n_history;
    const char *model_meta;          /* JSON object text of string values; may be NULL */
} ember_ckpt_info;

/* Writes vit's whole training state and info to path, atomically (a crash
 * or a full disk leaves an earlier file at path as it was). The message
 * names the path once; err->code is the errno of the cause. */
int ember_ckpt_save(const char *path, const ember_vit *vit, const ember_ckpt_info *info,
                    ember_ferr *err);

/* ---- reading ---- */

typedef struct ember_ckpt {
    ember_st_file file;  /* open: any weights file (data/weights.h) */
    json_t *meta;        /* its __metadata__ object, or NULL */
    char prefix[32];     /* of the weights: "model." in a checkpoint */
    int training;        /* 1: it holds a training state (ember.checkpoint) */
    /* With training: */
    int epochs_done;
    ember_fit_position pos;
    int64_t t;
    uint64_t dropout_key, rng_offset;
    int has_config;
    ember_fit_config config;
    int has_normalize;
    ember_aug_step normalize;
    ember_fit_history history; /* owned */
} ember_ckpt;

/* Opens the weights file at path (safetensors or a torch.save checkpoint)
 * and, when it is an Ember checkpoint (metadata ember.checkpoint), reads
 * and checks its training state. The weights' prefix is found from
 * patch_embed.weight (a state dict saved from a wrapper may have one).
 * Errors name the path once: a damaged or foreign file, a training state
 * that does not read. Close with ember_ckpt_close, also after a failure. */
int ember_ckpt_open(ember_ckpt *ck, const char *path, ember_err *err);
/* Reads the weights and optimizer state of a model of vit's sizes (s is
 * filled; free it with ember_vit_state_free); refuses a file without
 * optimizer state or of another model's sizes, naming the first tensor
 * that differs. vit is not changed: ember_vit_state_set applies s. */
int ember_ckpt_read_state(const ember_ckpt *ck, const ember_vit *vit, ember_vit_state *s,
                          ember_err *err);
void ember_ckpt_close(ember_ckpt *ck);

#ifdef __cplusplus
}
#endif
#endif
