/* test_checkpoint.c — the training checkpoint (train/checkpoint.h) at the
 * engine level, on the CPU:
 *   1. a run stopped and continued from its checkpoint in a freshly made
 *      model (another creation seed, so everything must come from the file)
 *      ends bit for bit where the uninterrupted run ends — weights, AdamW m
 *      and v, the step count, the Philox offset and the history (times
 *      aside) — whether it stopped at an epoch's end, between two steps,
 *      inside a step (the cancellation token) or during the test
 *      evaluation; and the checkpoint written after the last epoch equals
 *      the uninterrupted run's checkpoint tensor for tensor;
 *   2. what a checkpoint holds reads back: settings, position, history,
 *      the torch parameter order, PyTorch's names and the step tensors;
 *   3. a writer SIGKILLed in the middle of writing a checkpoint (a child
 *      process stopped by the fileio test hook) leaves the previous
 *      checkpoint byte for byte as it was, and the next save works;
 *   4. a truncated file, random bytes, weights without optimizer state, a
 *      checkpoint of another model and damaged metadata are refused with a
 *      message saying what is wrong, and the model is untouched;
 *   5. settings that differ are named, and those that change an epoch's
 *      batches are told apart;
 *   6. a checkpoint that cannot be written (its folder gone) is reported
 *      through on_checkpoint once per epoch and training goes on.
 * argv[2]: scratch dir. */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train_test.h"

#include "core/cancel.h"
#include "train/checkpoint.h"

static char dir[900];

static int remove_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    return remove(p) == 0 ? 0 : 0; /* best effort */
}

static void path_in(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", dir, name); }

static ember_fit_opts run_opts(void) {
    ember_fit_opts o = ember_fit_default_opts();
    o.epochs = 3;
    o.batch_size = 16;
    o.max_steps_per_epoch = 5;
    o.lr = 2e-3;
    o.milestones[0] = 2;
    o.n_milestones = 1;
    o.gamma = 0.5;
    o.label_smoothing = 0.1;
    o.seed = 11;
    o.eval_batch_size = 20;
    return o;
}

static ember_augment pipeline(void) {
    ember_augment a;
    memset(&a, 0, sizeof a);
    a.n = 3;
    a.steps[0] = (ember_aug_step){.kind = EMBER_AUG_RANDOM_CROP, .size = 32, .padding = 4};
    a.steps[1] = (ember_aug_step){.kind = EMBER_AUG_HFLIP, .p = 0.5};
    a.steps[2] = (ember_aug_step){.kind = EMBER_AUG_NORMALIZE, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.25f, 0.25f, 0.25f},
                                  .n_given = 3};
    return a;
}

static ember_dataset train, test;
static ember_augment aug;

/* A model's full state, for comparisons. */
typedef struct snap {
    float *w, *m, *v;
    int64_t t;
    uint64_t rng;
} snap;

static float *host_copy(const ember_tensor *t, int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    if (!p) exit(1);
    memcpy(p, t->data, (size_t)n * sizeof(float));
    return p;
}

static snap snap_of(const ember_vit *v) {
    return (snap){host_copy(&v->w, v->n_elems), host_copy(&v->m, v->n_elems), host_copy(&v->v, v->n_elems), v->t,
                  v->rng_offset};
}

static void snap_free(snap *s) { free(s->w), free(s->m), free(s->v); }

static int snap_equal(const snap *a, const ember_vit *v) {
    size_t b = (size_t)v->n_elems * sizeof(float);
    return a->t == v->t && a->rng == v->rng_offset && !memcmp(a->w, v->w.data, b) && !memcmp(a->m, v->m.data, b) &&
           !memcmp(a->v, v->v.data, b);
}

static int same_d(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

static int records_equal(const ember_epoch_record *a, const ember_epoch_record *b) {
    /* everything but the times (NaN: no test set) */
    return a->epoch == b->epoch && a->lr == b->lr && a->steps == b->steps && a->train_images == b->train_images &&
           a->train_loss == b->train_loss && a->train_acc == b->train_acc && same_d(a->test_loss, b->test_loss) &&
           same_d(a->test_acc, b->test_acc);
}

/* ---- 1. stop and continue --------------------------------------------------- */

typedef struct stopper {
    int64_t at_step;  /* stop after this global step (on_step); 0: never */
    int at_eval_of;   /* stop in the test evaluation of this epoch (1-based); 0: never */
    int at_epoch_end; /* stop after this epoch's record (on_epoch); 0: never */
    int evals_seen;
    int saved, failed;
    char last_error[600];
} stopper;

static int stop_step(void *ctx, const ember_fit_progress *p) {
    stopper *s = ctx;
    return s->at_step && p->global_step == s->at_step;
}

static int stop_eval(void *ctx, int64_t done, int64_t total) {
    stopper *s = ctx;
    (void)total;
    if (done == 20) s->evals_seen++; /* first batch of an evaluation */
    return s->at_eval_of && s->evals_seen == s->at_eval_of;
}

static int stop_epoch(void *ctx, const ember_epoch_record *r) {
    stopper *s = ctx;
    return s->at_epoch_end && r->epoch + 1 == s->at_epoch_end;
}

static void saved(void *ctx, const ember_fit_saved *sv) {
    stopper *s = ctx;
    if (sv->ok) {
        s->saved++;
    } else {
        s->failed++;
        snprintf(s->last_error, sizeof s->last_error, "%s", sv->error);
    }
}

/* The checks made by the end of each global step of the reference run. */
static const ember_cancel *counting;
static int64_t checks_at[64];

static int count_step(void *ctx, const ember_fit_progress *p) {
    (void)ctx;
    if (counting && p->global_step < 64) checks_at[p->global_step] = counting->checks;
    return 0;
}

/* Continues the run in ckpt in a new model until epoch `total`; returns it. */
static void continue_from(const char *ckpt, int total, ember_vit *out, ember_fit_history *h, const char *path_out) {
    ember_ckpt ck;
    OK(ember_ckpt_open(&ck, ckpt, E));
    CHECK(ck.training && ck.has_config, "%s is a training checkpoint with settings", ckpt);
    t_make_vit(out, 10, 999); /* another initialisation: all must come from the file */
    ember_vit_state s;
    OK(ember_ckpt_read_state(&ck, out, &s, E));
    OK(ember_vit_state_set(out, &s, E));
    ember_vit_state_free(&s);
    ember_fit_config now;
    ember_fit_opts o = run_opts();
    ember_fit_config_of(&o, &aug, train.n, &now);
    char diff[400];
    CHECK(ember_fit_config_diff(&ck.config, &now, diff, sizeof diff, NULL) == 0, "same settings, got: %s", diff);
    *h = ck.history;
    memset(&ck.history, 0, sizeof ck.history); /* taken over */
    o.first_epoch = ck.epochs_done;
    o.start = ck.pos;
    o.epochs = total - ck.epochs_done;
    o.checkpoint = path_out;
    ember_ckpt_close(&ck);
    OK(ember_fit(out, &train, &test, &aug, &o, NULL, h, E));
}

/* Every tensor of two checkpoints equal, and their histories (times aside). */
static void same_checkpoints(const char *a, const char *b) {
    ember_ckpt x, y;
    OK(ember_ckpt_open(&x, a, E));
    OK(ember_ckpt_open(&y, b, E));
    CHECK(x.file.count == y.file.count, "as many tensors (%zu, %zu)", x.file.count, y.file.count);
    for (size_t i = 0; i < x.file.count; i++) {
        const ember_st_entry *e = &x.file.entries[i], *f = ember_st_find(&y.file, e->name);
        CHECK(f && f->nbytes == e->nbytes && !memcmp(x.file.data + e->offset, y.file.data + f->offset, e->nbytes),
              "tensor %s equal in %s and %s", e->name, a, b);
    }
    CHECK(x.history.n == y.history.n && x.t == y.t && x.rng_offset == y.rng_offset && x.dropout_key == y.dropout_key &&
              x.epochs_done == y.epochs_done,
          "same position and streams");
    for (int i = 0; i < x.history.n && i < y.history.n; i++)
        CHECK(records_equal(&x.history.epochs[i], &y.history.epochs[i]), "history epoch %d equal", i + 1);
    ember_ckpt_close(&x);
    ember_ckpt_close(&y);
}

static void test_stop_and_continue(void) {
    char ref_ckpt[1000], ckpt[1000], out[1000];
    path_in(ref_ckpt, sizeof ref_ckpt, "ref.ckpt");
    path_in(ckpt, sizeof ckpt, "run.ckpt");
    path_in(out, sizeof out, "continued.ckpt");

    /* The uninterrupted run, writing its checkpoints too, and counting the
     * cancellation checks so that a later run can be interrupted inside a
     * chosen step. */
    ember_vit ref;
    t_make_vit(&ref, 10, 5);
    ember_fit_history hr = {0};
    ember_fit_opts o = run_opts();
    o.checkpoint = ref_ckpt;
    stopper counter = {0};
    ember_cancel count;
    ember_cancel_init(&count, NULL);
    counting = &count;
    ember_fit_callbacks cbc = {.ctx = &counter, .on_step = count_step, .on_checkpoint = saved};
    ember_cancel_push(&count);
    OK(ember_fit(&ref, &train, &test, &aug, &o, &cbc, &hr, E));
    ember_cancel_pop(&count);
    counting = NULL;
    CHECK(counter.saved == 3 && counter.failed == 0, "one checkpoint an epoch (%d written)", counter.saved);
    snap want = snap_of(&ref);
    CHECK(want.t == 15 && hr.n == 3, "the reference run took %lld steps", (long long)want.t);

    struct {
        const char *what;
        stopper s;
        int64_t trip_check; /* > 0: trip the cancellation token inside this step (1-based) */
        int want_epochs, want_step;
    } cases[] = {
        {"at the end of epoch 1", {.at_epoch_end = 1}, 0, 1, 0},
        {"between steps 2 and 3 of epoch 2", {.at_step = 7}, 0, 1, 2},
        {"inside step 9 (epoch 2)", {0}, 9, 1, 3},
        {"in epoch 2's test evaluation", {.at_eval_of = 2}, 0, 1, 5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        unlink(ckpt);
        ember_vit vit;
        t_make_vit(&vit, 10, 5);
        ember_fit_history h = {0};
        stopper *s = &cases[c].s;
        ember_fit_callbacks cb = {.ctx = s, .on_step = stop_step, .on_eval = stop_eval, .on_epoch = stop_epoch,
                                  .on_checkpoint = saved};
        ember_fit_opts oc = run_opts();
        oc.checkpoint = ckpt;
        ember_fit_position at;
        oc.stopped_at = &at;
        ember_cancel tok;
        ember_cancel_init(&tok, NULL);
        int push = cases[c].trip_check > 0;
        if (push) {
            /* a few checks into the step */
            tok.trip_at = checks_at[cases[c].trip_check - 1] + 3;
            ember_cancel_push(&tok);
        }
        ember_err e = {{0}};
        int rc = ember_fit(&vit, &train, &test, &aug, &oc, &cb, &h, &e);
        if (push) ember_cancel_pop(&tok);
        CHECK(rc == EMBER_FIT_STOPPED, "%s: stopped (rc %d: %s)", cases[c].what, rc, e.msg);
        ember_ckpt ck;
        OK(ember_ckpt_open(&ck, ckpt, E));
        CHECK(ck.epochs_done == cases[c].want_epochs && ck.pos.step == cases[c].want_step,
              "%s: the checkpoint holds %d epochs and %lld steps (want %d, %d)", cases[c].what, ck.epochs_done,
              (long long)ck.pos.step, cases[c].want_epochs, cases[c].want_step);
        CHECK(at.step == ck.pos.step && at.images == ck.pos.images && at.loss_sum == ck.pos.loss_sum,
              "%s: stopped_at is the checkpoint's position", cases[c].what);
        CHECK(ck.t == vit.t && ck.rng_offset == vit.rng_offset, "%s: the checkpoint has the model's step and offset",
              cases[c].what);
        ember_ckpt_close(&ck);
        ember_fit_history_free(&h);
        ember_vit_destroy(&vit);

        ember_vit back;
        ember_fit_history hb = {0};
        unlink(out);
        continue_from(ckpt, 3, &back, &hb, out);
        CHECK(snap_equal(&want, &back), "%s: continued from the checkpoint, the model ends bit for bit as the "
                                        "uninterrupted run (t %lld vs %lld)",
              cases[c].what, (long long)back.t, (long long)want.t);
        CHECK(hb.n == 3, "%s: the history has 3 epochs (%d)", cases[c].what, hb.n);
        for (int i = 0; i < hb.n && i < 3; i++)
            CHECK(records_equal(&hb.epochs[i], &hr.epochs[i]), "%s: history epoch %d equal (loss %.17g vs %.17g)",
                  cases[c].what, i + 1, hb.epochs[i].train_loss, hr.epochs[i].train_loss);
        same_checkpoints(ref_ckpt, out);
        ember_fit_history_free(&hb);
        ember_vit_destroy(&back);
    }
    snap_free(&want);
    ember_fit_history_free(&hr);
    ember_vit_destroy(&ref);
}

/* ---- 2. what a checkpoint holds ---------------------------------------------- */

static void test_contents(void) {
    char p[1000];
    path_in(p, sizeof p, "contents.ckpt");
    ember_vit vit;
    t_make_vit(&vit, 10, 7);
    ember_fit_opts o = run_opts();
    o.epochs = 1;
    ember_fit_history h = {0};
    OK(ember_fit(&vit, &train, NULL, &aug, &o, NULL, &h, E));
    ember_fit_config cfg;
    ember_fit_config_of(&o, &aug, train.n, &cfg);
    ember_fit_position pos = {.step = 2, .loss_sum = 0.1 + 0.2, .correct = 3, .images = 32, .train_seconds = 1.5};
    ember_aug_step norm = aug.steps[2];
    ember_ckpt_info in = {.epochs_done = 1, .pos = pos, .config = &cfg, .normalize = &norm, .history = h.epochs,
                          .n_history = h.n, .model_meta = "{\"format\":\"pt\",\"ember.model\":\"vit\"}"};
    ember_ferr fe;
    CHECK(ember_ckpt_save(p, &vit, &in, &fe) == 0, "save: %s", fe.msg);
    ember_ckpt ck;
    OK(ember_ckpt_open(&ck, p, E));
    CHECK(ck.training && !strcmp(ck.prefix, "model."), "a training checkpoint with weights under model.");
    CHECK(ck.epochs_done == 1 && ck.pos.step == 2 && ck.pos.loss_sum == 0.1 + 0.2 && ck.pos.correct == 3 &&
              ck.pos.images == 32 && ck.pos.train_seconds == 1.5,
          "the position reads back exactly");
    CHECK(ck.t == vit.t && ck.dropout_key == vit.seed && ck.rng_offset == vit.rng_offset, "the streams read back");
    CHECK(ck.has_config && ember_fit_config_diff(&ck.config, &cfg, NULL, 0, NULL) == 0, "the settings read back");
    CHECK(ck.has_normalize && !memcmp(ck.normalize.mean, norm.mean, sizeof norm.mean), "the normalize step");
    CHECK(ck.history.n == 1 && records_equal(&ck.history.epochs[0], &h.epochs[0]) &&
              ck.history.epochs[0].seconds == h.epochs[0].seconds && isnan(ck.history.epochs[0].test_acc),
          "the history reads back (NaN test results included)");
    /* PyTorch's layout: parameter 0 is pos_embed, then patch_embed. */
    CHECK(!strcmp(vit.params[ember_vit_torch_param(&vit, 0)].name, "pos_embed") &&
              !strcmp(vit.params[ember_vit_torch_param(&vit, 1)].name, "patch_embed.weight") &&
              !strcmp(vit.params[ember_vit_torch_param(&vit, 3)].name, "blocks.0.norm1.weight") &&
              ember_vit_torch_param(&vit, vit.n_params) == -1,
          "the reference model's parameter order");
    const ember_st_entry *e0 = ember_st_find(&ck.file, "optimizer.state.0.exp_avg");
    const ember_st_entry *st = ember_st_find(&ck.file, "optimizer.state.5.step");
    CHECK(e0 && e0->ndim == 3 && e0->shape[1] == 64, "optimizer.state.0 is pos_embed's moment [1, 64, 32]");
    float stepv = -1;
    if (st) memcpy(&stepv, ck.file.data + st->offset, sizeof stepv);
    CHECK(st && st->ndim == 0 && st->dtype == EMBER_F32 && stepv == (float)vit.t, "the step is a float32 scalar t");
    CHECK(ember_st_find(&ck.file, "model.blocks.1.mlp.fc2.bias") &&
              ember_st_find(&ck.file, "optimizer.state.30.exp_avg_sq") &&
              !ember_st_find(&ck.file, "optimizer.state.31.exp_avg"),
          "31 parameters, each with its state");
    const char *pg = json_string_value(json_object_get(ck.meta, "optimizer.param_groups"));
    const char *sc = json_string_value(json_object_get(ck.meta, "scheduler"));
    CHECK(pg && strstr(pg, "\"lr\":0.002,") && strstr(pg, "\"initial_lr\":0.002") &&
              strstr(pg, "\"weight_decay\":0.05") && strstr(pg, "\"params\":[0,1,2,"),
          "param_groups: the rate of the next epoch (2; the milestone is at 2, 0-based): %s", pg ? pg : "(none)");
    CHECK(sc && strstr(sc, "\"milestones\":{\"2\":1}") && strstr(sc, "\"last_epoch\":1"), "scheduler: %s",
          sc ? sc : "(none)");
    /* The state reads into a model and makes it that model. */
    ember_vit other;
    t_make_vit(&other, 10, 8);
    ember_vit_state s;
    OK(ember_ckpt_read_state(&ck, &other, &s, E));
    OK(ember_vit_state_set(&other, &s, E));
    ember_vit_state_free(&s);
    snap a = snap_of(&vit);
    CHECK(snap_equal(&a, &other) && other.seed == vit.seed, "read back, the state is the model's");
    snap_free(&a);
    ember_ckpt_close(&ck);
    ember_vit_destroy(&other);
    ember_fit_history_free(&h);
    ember_vit_destroy(&vit);
}

/* ---- 3. killed while writing ---------------------------------------------------- */

static int hook_fd = -1;

/* In the child: past the first 20,000 bytes (the header and some weights),
 * tell the parent and wait to be killed. */
static void stop_partway(const ember_afile *af, size_t written) {
    (void)af;
    if (written < 20000) return;
    char c = 'k';
    if (write(hook_fd, &c, 1) != 1) _exit(3);
    for (;;) pause();
}

static char *read_all(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(len > 0 ? (size_t)len : 1);
    *n = buf && len >= 0 ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    return buf;
}

static int temp_files(void) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += !strncmp(e->d_name, ".killed.ckpt.tmp-", 17);
    if (d) closedir(d);
    return n;
}

static void test_killed_while_writing(void) {
    char p[1000];
    path_in(p, sizeof p, "killed.ckpt");
    ember_vit vit;
    t_make_vit(&vit, 10, 9);
    ember_ckpt_info in = {.epochs_done = 0};
    ember_ferr fe;
    CHECK(ember_ckpt_save(p, &vit, &in, &fe) == 0, "first save: %s", fe.msg);
    size_t n0;
    char *before = read_all(p, &n0);
    CHECK(before && n0 > 40000, "the first checkpoint is %zu bytes", n0);

    int fds[2];
    if (pipe(fds)) {
        perror("pipe");
        exit(1);
    }
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        hook_fd = fds[1];
        ember_afile_write_hook = stop_partway;
        vit.t = 1234; /* another state: the file would differ */
        in.epochs_done = 7;
        ember_ckpt_save(p, &vit, &in, &fe);
        _exit(2); /* the hook never returns */
    }
    close(fds[1]);
    char c = 0;
    ssize_t r = read(fds[0], &c, 1);
    CHECK(r == 1 && c == 'k', "the child reached the middle of its write");
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    close(fds[0]);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child was killed (status %d)", status);
    size_t n1;
    char *after = read_all(p, &n1);
    CHECK(after && n1 == n0 && !memcmp(before, after, n0), "the previous checkpoint is byte for byte intact");
    CHECK(temp_files() == 1, "the killed write left its hidden temporary file (%d)", temp_files());
    ember_ckpt ck;
    OK(ember_ckpt_open(&ck, p, E));
    CHECK(ck.epochs_done == 0 && ck.t == vit.t, "and it reads as the first checkpoint");
    ember_ckpt_close(&ck);
    /* The next save works beside the leftover. */
    in.epochs_done = 2;
    CHECK(ember_ckpt_save(p, &vit, &in, &fe) == 0, "the next save: %s", fe.msg);
    OK(ember_ckpt_open(&ck, p, E));
    CHECK(ck.epochs_done == 2, "the next save is in place");
    ember_ckpt_close(&ck);
    free(before);
    free(after);
    ember_vit_destroy(&vit);
}

/* ---- 4. files that are not (this model's) checkpoints --------------------------- */

static void refuse_open(const char *p, const char *words, const char *what) {
    ember_ckpt ck;
    ember_err e = {{0}};
    int rc = ember_ckpt_open(&ck, p, &e);
    CHECK(rc != 0 && strstr(e.msg, words) && strstr(e.msg, p), "%s: refused naming the path and '%s': %s", what, words,
          e.msg);
    ember_ckpt_close(&ck);
}

static void refuse_state(const char *p, ember_vit *vit, const char *words, const char *what) {
    ember_ckpt ck;
    OK(ember_ckpt_open(&ck, p, E));
    ember_vit_state s;
    ember_err e = {{0}};
    int rc = ember_ckpt_read_state(&ck, vit, &s, &e);
    CHECK(rc != 0 && strstr(e.msg, words), "%s: refused with '%s': %s", what, words, e.msg);
    ember_ckpt_close(&ck);
}

static void write_bytes(const char *p, const void *d, size_t n) {
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(d, 1, n, f) != n) exit(1);
    fclose(f);
}

static void test_refused(void) {
    char good[1000], p[1000];
    path_in(good, sizeof good, "good.ckpt");
    ember_vit vit;
    t_make_vit(&vit, 10, 3);
    ember_fit_opts o = run_opts();
    o.epochs = 1;
    o.checkpoint = good;
    OK(ember_fit(&vit, &train, NULL, &aug, &o, NULL, NULL, E));
    snap keep = snap_of(&vit);
    size_t n;
    char *bytes = read_all(good, &n);

    path_in(p, sizeof p, "truncated.ckpt");
    write_bytes(p, bytes, n / 2);
    refuse_open(p, "truncated", "half a checkpoint");

    path_in(p, sizeof p, "random.ckpt");
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(t_next() & 0xff);
    junk[0] = 'x';
    write_bytes(p, junk, sizeof junk);
    refuse_open(p, "neither a safetensors file nor a PyTorch checkpoint", "random bytes");

    /* Damaged metadata: the train state's JSON cut short. */
    path_in(p, sizeof p, "damaged.ckpt");
    char *copy = malloc(n);
    memcpy(copy, bytes, n);
    char *ts = memmem(copy, n, "\"ember.train_state\":\"{", 22);
    CHECK(ts != NULL, "the header has the train state");
    if (ts) memcpy(ts + 22, "XXXXXXXX", 8);
    write_bytes(p, copy, n);
    refuse_open(p, "ember.train_state", "damaged metadata");
    free(copy);

    path_in(p, sizeof p, "weights.safetensors");
    OK(ember_vit_save_safetensors(&vit, p, E));
    refuse_state(p, &vit, "no optimizer state", "weights only");

    ember_vit big;
    ember_vit_config bc = t_tiny_config(10);
    bc.dim = 48;
    bc.heads = 2;
    OK(ember_vit_create(&big, &bc, ember_backend_cpu(), 1, E));
    refuse_state(good, &big, "expected", "another model's sizes");
    ember_vit_destroy(&big);

    CHECK(snap_equal(&keep, &vit), "refusals leave the model as it was");
    snap_free(&keep);
    free(bytes);
    ember_vit_destroy(&vit);
}

/* ---- 5. settings compared ---------------------------------------------------- */

static void test_diff(void) {
    ember_fit_opts o = run_opts();
    ember_fit_config a, b;
    ember_fit_config_of(&o, &aug, 256, &a);
    o.lr = 1e-3;
    o.adamw.weight_decay = 0.1;
    ember_fit_config_of(&o, &aug, 256, &b);
    char buf[600];
    int order = -1;
    int n = ember_fit_config_diff(&a, &b, buf, sizeof buf, &order);
    CHECK(n == 2 && order == 0 && strstr(buf, "lr 0.002 (checkpoint) vs 0.001 (now)") &&
              strstr(buf, "weight_decay 0.05 (checkpoint) vs 0.1 (now)"),
          "two settings named: %s", buf);
    o.batch_size = 32;
    ember_augment other = aug;
    other.steps[1].p = 0.25;
    ember_fit_config_of(&o, &other, 256, &b);
    n = ember_fit_config_diff(&a, &b, buf, sizeof buf, &order);
    CHECK(n == 4 && order == 1 && strstr(buf, "batch_size 16 (checkpoint) vs 32 (now)") && strstr(buf, "hflip(p=0.25)"),
          "batch size and pipeline named, the batches change: %s", buf);
}

/* ---- 6. checkpoints that cannot be written ------------------------------------ */

static char swap_dir[1000];

/* After the first epoch's record, before its checkpoint: the checkpoint's
 * folder becomes a file (an unwritable folder, as root sees one). */
static int swap_folder(void *ctx, const ember_epoch_record *r) {
    (void)ctx, (void)r;
    if (!swap_dir[0]) return 0;
    char moved[1100];
    snprintf(moved, sizeof moved, "%s.moved", swap_dir);
    if (rename(swap_dir, moved) == 0) write_bytes(swap_dir, "x", 1);
    swap_dir[0] = 0;
    return 0;
}

static void test_write_failures(void) {
    char sub[1000], p[1100], moved[1200];
    path_in(sub, sizeof sub, "gone");
    mkdir(sub, 0755);
    snprintf(p, sizeof p, "%s/run.ckpt", sub);
    snprintf(moved, sizeof moved, "%s.moved/run.ckpt", sub);
    ember_vit vit;
    t_make_vit(&vit, 10, 4);
    ember_fit_opts o = run_opts();
    o.checkpoint = p;
    o.epochs = 1;
    stopper s = {0};
    ember_fit_callbacks cb = {.ctx = &s, .on_epoch = swap_folder, .on_checkpoint = saved};
    OK(ember_fit(&vit, &train, NULL, &aug, &o, &cb, NULL, E));
    CHECK(s.saved == 1 && s.failed == 0, "the first checkpoint is written");
    size_t n0;
    char *before = read_all(p, &n0);

    snprintf(swap_dir, sizeof swap_dir, "%s", sub);
    o.first_epoch = 1;
    o.epochs = 2;
    int64_t t0 = vit.t;
    OK(ember_fit(&vit, &train, NULL, &aug, &o, &cb, NULL, E));
    CHECK(s.failed == 2 && s.saved == 1 && strstr(s.last_error, "run.ckpt") && strstr(s.last_error, "is a file"),
          "one failure reported per epoch, naming the path and why (%d failed): %s", s.failed, s.last_error);
    CHECK(vit.t == t0 + 10, "training went on (t %lld)", (long long)vit.t);
    size_t n1;
    char *after = read_all(moved, &n1);
    CHECK(before && after && n0 == n1 && !memcmp(before, after, n0), "the previous checkpoint is intact");
    free(before);
    free(after);

    /* A file-size limit (a full disk, as far as the writer can tell). */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_IGN);
    char q[1100];
    path_in(q, sizeof q, "limited.ckpt");
    o.checkpoint = q;
    o.first_epoch = 0;
    o.epochs = 1;
    s.saved = s.failed = 0;
    cb.on_epoch = NULL;
    OK(ember_fit(&vit, &train, NULL, &aug, &o, &cb, NULL, E));
    size_t m0;
    char *first = read_all(q, &m0);
    struct rlimit lim = {.rlim_cur = 20000, .rlim_max = old.rlim_max};
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "set RLIMIT_FSIZE: %s", strerror(errno));
    o.first_epoch = 1;
    o.epochs = 2;
    OK(ember_fit(&vit, &train, NULL, &aug, &o, &cb, NULL, E));
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(s.saved == 1 && s.failed == 2 && strstr(s.last_error, "disk full"),
          "a full disk is reported per epoch (%d failed): %s", s.failed, s.last_error);
    size_t m1;
    char *still = read_all(q, &m1);
    CHECK(first && still && m0 == m1 && !memcmp(first, still, m0), "the previous checkpoint is intact");
    CHECK(temp_files() == 1, "failed writes remove their temporary files (only the killed one is left)");
    free(first);
    free(still);
    ember_vit_destroy(&vit);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <shared data dir> <scratch dir>\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[2]);
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS); /* what an earlier run left */
    mkdir(dir, 0755);
    t_make_dataset(&train, 80, 32, 10, 1);
    t_make_dataset(&test, 40, 32, 10, 2);
    aug = pipeline();
    test_killed_while_writing(); /* first: fork before OpenMP starts its threads */
    test_contents();
    test_stop_and_continue();
    test_refused();
    test_diff();
    test_write_failures();
    ember_dataset_free(&train);
    ember_dataset_free(&test);
    return t_finish("test_checkpoint");
}
