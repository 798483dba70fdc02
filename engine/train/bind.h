/* bind.h — the language face of engine/train: model values (vit()), the
 * optimiser / schedule / loss settings (adamw(), multistep(),
 * cross_entropy()), fit() with its run value, evaluate(), save() and
 * load_model(). The bind_*.c files are compiled into ember_lang (which links
 * ember_train), as for engine/viz and engine/data. */
#ifndef EMBER_TRAIN_BIND_H
#define EMBER_TRAIN_BIND_H

#include "lang.h"
#include "nn/vit.h"
#include "train/checkpoint.h"
#include "train/fit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Registers every train builtin. From modules.c. */
void register_train_builtins(void);
void register_train_model_builtins(void);  /* bind_model.c: vit, save, load_model */
void register_train_optim_builtins(void);  /* bind_optim.c: adamw, multistep, cross_entropy */
void register_train_fit_builtins(void);    /* bind_fit.c: fit, evaluate */

/* ---- models (bind_model.c) ----
 * A model value owns one ember_vit. Models are the one kind of value that
 * changes in place (fit trains it), as a torch.nn.Module does; everything
 * else stays immutable. */
extern const lang_type train_model_type;
/* The model inside a model value, or NULL when v is not one. */
ember_vit *train_model_of(const lang_value *v);
/* Where the model lives, as shown to the user: "cpu" or "cuda". */
const char *train_model_device(const lang_value *v);

/* What a model remembers of its training beside the weights (owned by the
 * model value, filled by fit): so a second fit() continues the schedule and
 * the data streams, evaluate() normalises test images as training did, and
 * model.history shows every epoch, also after an interrupted fit. */
typedef struct train_model_state {
    int epochs_done;           /* epochs fit ran on this model: the next fit's first epoch */
    ember_fit_history history; /* every finished epoch, across fit calls */
    int has_normalize;         /* the normalize step of the last fit's pipeline */
    ember_aug_step normalize;
    /* The run's settings (the last fit's, or a loaded checkpoint's) and
     * where its unfinished epoch stands (zero: at an epoch's end): what
     * save(model, 'x.ckpt') records, as fit's own checkpoints do. */
    int has_config;
    ember_fit_config config;
    ember_fit_position pos;
    /* Loaded from a training checkpoint (load_model, fit(resume=)) and not
     * trained since: the next fit continues the run at pos inside epoch
     * epochs_done, with its settings checked against config. */
    int resume_pending;
    char resumed_from[512];    /* the checkpoint's path, for messages */
} train_model_state;
/* The state of a model value, or NULL when v is not one. */
train_model_state *train_model_state_of(const lang_value *v);
/* The model's configuration as the JSON metadata save() writes (heads,
 * dropout, init, ...; string values), malloc'd; NULL when out of memory. */
char *train_model_metadata(const lang_value *v);
/* Makes the training checkpoint ck (open, ck->training; read from path)
 * the model's state: weights, AdamW moments, step count, random streams,
 * epochs done, history, settings and position (resume_pending set). It
 * checks first that ck is a checkpoint of this model (sizes, heads,
 * dropout) and reads all of it; on any error it raises ("<fname>: ...")
 * and returns -1 with the model as it was. */
int train_model_apply_checkpoint(lang_ctx *cx, const char *fname, lang_value *model,
                                 const ember_ckpt *ck, const char *path);
/* The first of those checks alone: the sizes, heads and dropout ck's
 * metadata records are the model's (raises and returns -1 when not). */
int train_model_check_checkpoint(lang_ctx *cx, const char *fname, const lang_value *model,
                                 const ember_ckpt *ck, const char *path);

/* ---- runs (bind_fit.c) ----
 * A "run" value: a copy of n epoch records (model.history is
 * train_run_value(cx, st->history.epochs, st->history.n, ...)). desc says
 * what was trained ("CIFAR-10 train, cpu fp32, batch 128"). */
lang_value *train_run_value(lang_ctx *cx, const ember_epoch_record *recs, int n, const char *desc);

/* ---- settings (bind_optim.c) ---- */
typedef struct train_adamw {
    double lr;
    ember_adamw_config cfg; /* betas, eps, weight decay */
} train_adamw;
typedef struct train_multistep {
    int n;
    int milestones[32]; /* ascending epochs */
    double gamma;
} train_multistep;
typedef struct train_loss {
    double label_smoothing;
} train_loss;

extern const lang_type train_adamw_type, train_multistep_type, train_loss_type;
/* The settings inside such values, or NULL when v is not one. */
const train_adamw *train_adamw_of(const lang_value *v);
const train_multistep *train_multistep_of(const lang_value *v);
const train_loss *train_loss_of(const lang_value *v);

#ifdef __cplusplus
}
#endif
#endif
