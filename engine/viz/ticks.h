/* ticks.h — axis tick placement and labels ("nice" 1-2-5 steps, log decades).
 * Internal to the viz library, exposed for its tests. */
#ifndef EMBER_VIZ_TICKS_H
#define EMBER_VIZ_TICKS_H

#include <stddef.h>

#define VIZ_MAX_TICKS 32

/* A step from {1,2,5}x10^k near (hi-lo)/target. */
double viz_nice_step(double lo, double hi, int target);

/* Multiples of step inside [lo, hi] (with a little slack). Returns the count. */
int viz_linear_ticks(double lo, double hi, double step, double *ticks, int max);

/* A label for v on an axis whose ticks are step apart: as few decimals as the
 * step needs ("0.3", "1.25", "200"), a k/M/G/T suffix on axes whose step
 * is 10000 or more ("250k", "1.5M"), scientific for tiny steps and huge
 * values ("1.5e-05", "2e+15"), never "-0". */
void viz_format_tick(double v, double step, char *buf, size_t len);

/* Log axis ticks: values (not logs) inside [lo, hi] (both > 0). labels gets
 * one string per tick (len bytes each). Returns the count. */
int viz_log_ticks(double lo, double hi, double *ticks, char (*labels)[24], int max);

/* Unlabelled minor ticks of a log axis: 2..9 times each power of ten in
 * [lo, hi]. Returns the count (0 when the range spans too many decades). */
int viz_log_minor_ticks(double lo, double hi, double *ticks, int max);

#endif
