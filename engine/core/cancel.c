/* cancel.c — the per-thread cancellation token of cancel.h. */
#include "core/cancel.h"

#include <string.h>

/* Per thread: the kernel runs cells on one thread while another sets the
 * flag, and tests may run models on several threads at once. */
static _Thread_local ember_cancel *current;

void ember_cancel_init(ember_cancel *c, const atomic_int *flag) {
    memset(c, 0, sizeof *c);
    c->flag = flag;
}

void ember_cancel_push(ember_cancel *c) {
    c->prev = current;
    current = c;
}

void ember_cancel_pop(ember_cancel *c) {
    /* Unconditionally: a token pushed above c and never popped goes too,
     * so none is left pointing into a returned stack frame. */
    current = c->prev;
}

ember_cancel *ember_cancel_current(void) { return current; }

int ember_cancel_check(ember_err *err) {
    ember_cancel *c = current;
    if (!c) return 0;
    c->checks++;
    if (!c->tripped &&
        ((c->flag && atomic_load_explicit(c->flag, memory_order_relaxed)) || (c->trip_at > 0 && c->checks >= c->trip_at)))
        c->tripped = 1;
    return c->tripped ? ember_err_set(err, EMBER_CANCEL_MSG) : 0;
}

int ember_cancel_tripped(void) { return current && current->tripped; }
