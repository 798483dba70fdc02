/* test_fit_cancel.c — an interrupt inside a training step or an evaluated
 * batch (core/cancel.h) stops ember_fit and ember_evaluate as a callback's
 * stop does, deterministically (tokens trip at a chosen check):
 *   1. tripped inside step 6 (epoch 2): EMBER_FIT_STOPPED, the history
 *      keeps epoch 1 only, and the model is bit for bit the model after
 *      step 5 (weights, AdamW state, t, dropout offset), as recorded by an
 *      uninterrupted run; and it trains on;
 *   2. tripped inside epoch 1's test evaluation: stopped, nothing recorded,
 *      t = the 4 steps taken;
 *   3. ember_evaluate tripped mid-batch returns EMBER_FIT_STOPPED and
 *      leaves the result unwritten;
 *   4. a real failure in the same places is still an error (-1). */
#include "train_test.h"

#include "core/cancel.h"

typedef struct rec {
    const ember_cancel *tok; /* the counting token of the uninterrupted run */
    int64_t checks_at[16];   /* its count when step s (1-based) ended */
    float *w[16], *m[16], *v[16];
    uint64_t rng[16];
    int steps;
} rec;

static float *copy_of(const ember_tensor *t, int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    if (!p) exit(1);
    memcpy(p, t->data, (size_t)n * sizeof(float));
    return p;
}

static ember_vit *recorded_vit;

static int record(void *ctx, const ember_fit_progress *p) {
    rec *r = ctx;
    ember_vit *v = recorded_vit;
    int s = (int)p->global_step;
    if (s < 16) {
        r->checks_at[s] = r->tok->checks;
        r->w[s] = copy_of(&v->w, v->n_elems);
        r->m[s] = copy_of(&v->m, v->n_elems);
        r->v[s] = copy_of(&v->v, v->n_elems);
        r->rng[s] = v->rng_offset;
        r->steps = s;
    }
    return 0;
}

static int same(const float *a, const float *b, int64_t n) { return !memcmp(a, b, (size_t)n * sizeof(float)); }

static ember_fit_opts opts(void) {
    ember_fit_opts o = ember_fit_default_opts();
    o.epochs = 3;
    o.batch_size = 16;
    o.max_steps_per_epoch = 4;
    o.lr = 2e-3;
    o.n_milestones = 0;
    o.seed = 3;
    o.eval_batch_size = 20;
    return o;
}

/* ember_fit under a token that trips at check k. */
static int fit_tripped(ember_vit *vit, const ember_dataset *train, const ember_dataset *test, int64_t k,
                       ember_fit_history *h, ember_cancel *tok, ember_err *e) {
    ember_fit_opts o = opts();
    ember_cancel_init(tok, NULL);
    tok->trip_at = k;
    ember_cancel_push(tok);
    int rc = ember_fit(vit, train, test, NULL, &o, NULL, h, e);
    ember_cancel_pop(tok);
    return rc;
}

int main(int argc, char **argv) {
    (void)argc, (void)argv;
    ember_dataset train, test;
    t_make_dataset(&train, 64, 32, 10, 1);
    t_make_dataset(&test, 40, 32, 10, 2);

    /* The uninterrupted run, counting checks and recording every step. */
    ember_vit ref;
    t_make_vit(&ref, 10, 5);
    recorded_vit = &ref;
    ember_cancel count;
    ember_cancel_init(&count, NULL);
    rec r = {.tok = &count};
    ember_fit_callbacks cb = {.ctx = &r, .on_step = record};
    ember_fit_history hr = {0};
    ember_fit_opts o = opts();
    ember_cancel_push(&count);
    OK(ember_fit(&ref, &train, &test, NULL, &o, &cb, &hr, E));
    ember_cancel_pop(&count);
    CHECK(r.steps == 12 && hr.n == 3, "the reference run took %d steps, %d epochs", r.steps, hr.n);

    /* 1. Inside step 6: a few checks into it. */
    {
        ember_vit vit;
        t_make_vit(&vit, 10, 5);
        ember_fit_history h = {0};
        ember_cancel tok;
        ember_err e = {{0}};
        int64_t k = r.checks_at[5] + 3;
        int rc = fit_tripped(&vit, &train, &test, k, &h, &tok, &e);
        CHECK(rc == EMBER_FIT_STOPPED && tok.tripped && tok.checks == k, "interrupted in step 6: rc %d (%s)", rc,
              e.msg);
        CHECK(h.n == 1 && h.epochs[0].test_acc == hr.epochs[0].test_acc,
              "the history keeps epoch 1 only (n %d)", h.n);
        CHECK(vit.t == 5 && vit.rng_offset == r.rng[5] && same(vit.w.data, r.w[5], vit.n_elems) &&
                  same(vit.m.data, r.m[5], vit.n_elems) && same(vit.v.data, r.v[5], vit.n_elems),
              "the model must be the model after step 5 (t %lld)", (long long)vit.t);
        /* It trains on. */
        ember_fit_opts o1 = opts();
        o1.epochs = 1;
        ember_fit_history h1 = {0};
        OK(ember_fit(&vit, &train, NULL, NULL, &o1, NULL, &h1, E));
        CHECK(vit.t == 9 && h1.n == 1, "a fit after the interrupt trains on (t %lld)", (long long)vit.t);
        ember_fit_history_free(&h1);
        ember_fit_history_free(&h);
        ember_vit_destroy(&vit);
    }
    /* 2. Inside epoch 1's test evaluation (after step 4, before step 5). */
    {
        ember_vit vit;
        t_make_vit(&vit, 10, 5);
        ember_fit_history h = {0};
        ember_cancel tok;
        ember_err e = {{0}};
        int64_t per_step = r.checks_at[6] - r.checks_at[5];
        int64_t eval_checks = r.checks_at[5] - r.checks_at[4] - per_step;
        CHECK(eval_checks > 10, "the evaluation made %lld checks", (long long)eval_checks);
        int64_t k = r.checks_at[4] + eval_checks / 2;
        int rc = fit_tripped(&vit, &train, &test, k, &h, &tok, &e);
        CHECK(rc == EMBER_FIT_STOPPED && tok.checks == k && h.n == 0 && vit.t == 4 &&
                  same(vit.w.data, r.w[4], vit.n_elems),
              "interrupted in the test evaluation: rc %d, n %d, t %lld", rc, h.n, (long long)vit.t);
        ember_fit_history_free(&h);

        /* 3. ember_evaluate by itself. */
        ember_eval_result ev;
        memset(&ev, 0x5a, sizeof ev);
        ember_cancel_init(&tok, NULL);
        tok.trip_at = 5;
        ember_cancel_push(&tok);
        rc = ember_evaluate(&vit, &test, NULL, 20, 0.0, 1, NULL, NULL, &ev, &e);
        ember_cancel_pop(&tok);
        unsigned char pat[sizeof ev];
        memset(pat, 0x5a, sizeof pat);
        CHECK(rc == EMBER_FIT_STOPPED && tok.checks == 5 && !memcmp(&ev, pat, sizeof ev),
              "evaluate interrupted mid-batch: rc %d, result untouched", rc);

        /* 4. Without a trip, a failure stays an error. */
        ember_dataset bad;
        t_make_dataset(&bad, 8, 16, 10, 3); /* 16x16 images for a 32x32 model */
        ember_cancel_init(&tok, NULL);
        ember_cancel_push(&tok);
        rc = ember_evaluate(&vit, &bad, NULL, 4, 0.0, 0, NULL, NULL, &ev, &e);
        ember_cancel_pop(&tok);
        CHECK(rc == -1 && !tok.tripped, "a bad dataset is an error, not a stop: rc %d", rc);
        ember_dataset_free(&bad);
        ember_vit_destroy(&vit);
    }
    for (int s = 1; s <= r.steps && s < 16; s++) free(r.w[s]), free(r.m[s]), free(r.v[s]);
    ember_fit_history_free(&hr);
    ember_vit_destroy(&ref);
    ember_dataset_free(&train);
    ember_dataset_free(&test);
    return t_finish("test_fit_cancel");
}
