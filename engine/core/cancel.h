/* cancel.h — stopping long engine work early (the user's interrupt), without
 * the compute layers knowing who asks.
 *
 * A token is installed per thread, for a stretch of work, by whoever can be
 * asked to stop: the language installs one pointing at the kernel's
 * interrupt flag for the duration of every builtin call
 * (engine/lang/context.c). Code that can take long calls ember_cancel_check
 * at points where stopping leaves everything consistent:
 *   - the models (engine/nn) before every backend op of a forward and a
 *     backward, and a training step once more before its AdamW update
 *     (never inside it: a step is applied whole or not at all);
 *   - the CPU backend between bounded chunks of one long op (row blocks of
 *     a matrix product, groups of attention heads), so that one op of
 *     seconds still stops within a fraction of a second. The chunks give
 *     results bit for bit equal to the unchunked op.
 * The CUDA backend does not check: its ops are enqueued in microseconds, so
 * the checks between enqueues (and the step's sync) are enough.
 *
 * A check that says stop fails with -1 and EMBER_CANCEL_MSG in err, and the
 * token stays tripped: every later check on it says stop too, so unwinding
 * code cannot start new work by mistake. Callers tell an interrupt from a
 * failure with ember_cancel_tripped() (the thread's token tripped), not by
 * parsing the message. Checks only run on the thread that installed the
 * token: OpenMP workers see no token, so ops check between their parallel
 * regions, never inside one. Without a token, checks cost a thread-local
 * load and never fail (tests and benches that install nothing are
 * unaffected). */
#ifndef EMBER_CORE_CANCEL_H
#define EMBER_CORE_CANCEL_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/error.h"

#ifdef __cplusplus
#error "core/cancel.h is C only: the CUDA backend does not check for cancellation"
#endif

#define EMBER_CANCEL_MSG "interrupted by the user"

typedef struct ember_cancel {
    /* Stop once *flag is non-zero (the kernel's interrupt flag, set from
     * another thread or a signal handler). May be NULL. Only read. */
    const atomic_int *flag;
    /* For deterministic tests: > 0 makes the trip_at-th check of this token
     * stop, whatever the flag says. 0: only the flag counts. */
    int64_t trip_at;
    /* Checks made while installed (tests read it: after a trip at check N
     * the count stays N exactly when nothing checked again, i.e. no more
     * work was started). */
    int64_t checks;
    int tripped;                /* a check said stop; sticky */
    struct ember_cancel *prev;  /* the token this one replaced (push/pop) */
} ember_cancel;

/* A token on flag (may be NULL), not tripped. */
void ember_cancel_init(ember_cancel *c, const atomic_int *flag);

/* Installs c as the calling thread's token until ember_cancel_pop(c);
 * pushes nest (the token c replaced comes back on pop, and any pushed
 * after c and not popped are dropped). Tokens usually live on the stack of
 * the function that pushes and pops them. */
void ember_cancel_push(ember_cancel *c);
void ember_cancel_pop(ember_cancel *c);

/* The calling thread's token, or NULL. */
ember_cancel *ember_cancel_current(void);

/* 0: go on. -1 with EMBER_CANCEL_MSG in err: stop now (the token is
 * tripped). Cheap enough to call before every op. */
int ember_cancel_check(ember_err *err);

/* Non-zero when the calling thread's token has tripped: the failure being
 * unwound is an interrupt, not an error. */
int ember_cancel_tripped(void);

#endif
