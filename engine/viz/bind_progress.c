/* bind_progress.c — progress bars for long-running builtins (see bind.h):
 * one display output with its own display_id, updated in place at most ten
 * times a second and always left in its final state; and progress_demo(),
 * the builtin that shows one so people (and tests) can see it now. */
#include "bind.h"
#include "viz/mime.h"
#include "viz/progress.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct progress_bar {
    lang_ctx *cx;
    char *desc, *unit;
    char postfix[96];
    double total, n;
    double t0;
    double (*clock)(void *);
    void *clock_ctx;
    ember_progress_throttle throttle;
    char display_id[64];
    int shown; /* the first display_data went out: later ones are updates */
};

static double mono_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void publish(progress_bar *pb, double now, ember_progress_status status)
{
    ember_progress_view v = {
        .desc = pb->desc, .unit = pb->unit, .total = pb->total, .n = pb->n,
        .elapsed = now - pb->t0, .bar_width = 20, .status = status, .postfix = pb->postfix,
    };
    json_t *data = NULL;
    char err[128];
    if (ember_progress_bundle(&v, &data, err, sizeof err) != 0)
        return; /* out of memory: the bar misses one frame, the work goes on */
    lang_display_bundle(pb->cx, data, NULL, pb->display_id, pb->shown);
    pb->shown = 1;
    json_decref(data);
}

const char *progress_bar_display_id(const progress_bar *pb) { return pb ? pb->display_id : ""; }

progress_bar *progress_bar_start(lang_ctx *cx, const progress_bar_opts *o)
{
    static atomic_uint serial;
    progress_bar *pb = calloc(1, sizeof *pb);
    if (!pb)
        return NULL;
    pb->cx = cx;
    pb->desc = o && o->desc ? strdup(o->desc) : NULL;
    pb->unit = o && o->unit ? strdup(o->unit) : NULL;
    if ((o && o->desc && !pb->desc) || (o && o->unit && !pb->unit)) {
        free(pb->desc);
        free(pb->unit);
        free(pb);
        return NULL;
    }
    pb->total = o && o->total > 0 && isfinite(o->total) ? o->total : 0;
    pb->clock = o && o->clock ? o->clock : mono_now;
    pb->clock_ctx = o ? o->clock_ctx : NULL;
    ember_progress_throttle_init(&pb->throttle, o ? o->interval : 0);
    /* unique within the kernel's life, and across restarts of it */
    snprintf(pb->display_id, sizeof pb->display_id, "ember-progress-%ld-%u", (long)getpid(),
             atomic_fetch_add(&serial, 1) + 1);
    pb->t0 = pb->clock(pb->clock_ctx);
    if (ember_progress_throttle_ready(&pb->throttle, pb->t0, 0))
        publish(pb, pb->t0, EMBER_PROGRESS_RUNNING);
    return pb;
}

void progress_bar_update(progress_bar *pb, double n)
{
    if (!pb)
        return;
    pb->n = n;
    double now = pb->clock(pb->clock_ctx);
    if (ember_progress_throttle_ready(&pb->throttle, now, 0))
        publish(pb, now, EMBER_PROGRESS_RUNNING);
}

void progress_bar_set_postfix(progress_bar *pb, const char *text)
{
    if (!pb)
        return;
    snprintf(pb->postfix, sizeof pb->postfix, "%s", text ? text : "");
}

void progress_bar_finish(progress_bar *pb, progress_end how)
{
    if (!pb)
        return;
    double now = pb->clock(pb->clock_ctx);
    if (how != PROGRESS_OK) {
        /* say why it stopped where tqdm users look: before the counts */
        const char *why = how == PROGRESS_INTERRUPTED ? "interrupted" : "failed";
        size_t len = (pb->desc ? strlen(pb->desc) : 0) + strlen(why) + 4;
        char *d = malloc(len);
        if (d) {
            snprintf(d, len, "%s%s(%s)", pb->desc ? pb->desc : "", pb->desc ? " " : "", why);
            free(pb->desc);
            pb->desc = d;
        }
    }
    if (ember_progress_throttle_ready(&pb->throttle, now, 1))
        publish(pb, now, how == PROGRESS_OK ? EMBER_PROGRESS_DONE : EMBER_PROGRESS_FAILED);
    free(pb->desc);
    free(pb->unit);
    free(pb);
}

/* In fuzzing builds progress_demo counts without waiting, so any input stays fast. */
#ifdef EMBER_VIZ_FUZZING
#define DEMO_WAITS 0
#else
#define DEMO_WAITS 1
#endif

static lang_value *b_progress_demo(lang_ctx *cx, const lang_args *a)
{
    int64_t n;
    double delay;
    const char *desc = NULL;
    if (lang_arg_int(cx, a, 0, &n) < 0 || lang_arg_number(cx, a, 1, &delay) < 0)
        return NULL;
    if (a->v[2]->kind != LANG_NONE && lang_arg_str(cx, a, 2, &desc) < 0)
        return NULL;
    if (n < 0 || n > 100000000)
        return lang_arg_error(cx, a, 0, "ValueError", "an integer from 0 to 100000000");
    if (!(delay >= 0 && delay <= 10))
        return lang_arg_error(cx, a, 1, "ValueError", "a number of seconds from 0 to 10");
    progress_bar *pb = progress_bar_start(cx, &(progress_bar_opts){.desc = desc ? desc : "demo",
                                                                   .total = (double)n});
    for (int64_t i = 0; i < n; i++) {
        /* sleep in slices so an interrupt is seen within 10 ms */
        double left = DEMO_WAITS ? delay : 0;
        do {
            if (lang_check_interrupt(cx) < 0) {
                progress_bar_finish(pb, PROGRESS_INTERRUPTED);
                return NULL;
            }
            double step = left < 0.005 ? left : 0.005;
            if (step > 0) {
                struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(step * 1e9)};
                nanosleep(&ts, NULL);
            }
            left -= step;
        } while (left > 0);
        progress_bar_update(pb, (double)(i + 1));
    }
    progress_bar_finish(pb, PROGRESS_OK);
    return lang_int(n);
}

static const lang_builtin progress_builtins[] = {
    {"progress_demo(n=100, delay=0.02, desc=none)",
     "Count to n, waiting delay seconds at each step, with a progress bar like tqdm's: count, "
     "rate and time left, updated in place about ten times a second and left green when done "
     "(red if interrupted). Training, downloads and other long builtins show the same bar. "
     "Returns n.",
     b_progress_demo},
};

void register_viz_progress_builtins(void)
{
    lang_register_builtins(progress_builtins, sizeof progress_builtins / sizeof *progress_builtins);
}
