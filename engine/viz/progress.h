/* progress.h — tqdm-style progress bars as pure functions: the text/plain
 * line, the text/html bar, and a throttle that decides when an update is
 * worth sending. Time is always passed in (seconds from any monotonic clock),
 * so callers own the clock and tests can drive it. */
#ifndef EMBER_VIZ_PROGRESS_H
#define EMBER_VIZ_PROGRESS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    EMBER_PROGRESS_RUNNING = 0,
    EMBER_PROGRESS_DONE,   /* finished successfully */
    EMBER_PROGRESS_FAILED, /* stopped by an error or an interrupt */
} ember_progress_status;

typedef struct ember_progress_view {
    const char *desc;   /* may be NULL or "" */
    const char *unit;   /* NULL means "it" */
    double total;       /* <= 0 or NaN: unknown total */
    double n;           /* items done so far */
    double elapsed;     /* seconds since the start */
    int bar_width;      /* characters in the text bar; 0 means 10 */
    const char *postfix; /* tqdm's set_postfix text ("loss=1.23, acc=45.6%"), inside the
                            brackets after the rate; NULL or "" for none */
    ember_progress_status status;
} ember_progress_view;

/* "train  42%|████▏     | 164/391 [00:12<00:16, 13.4it/s]", or with an
 * unknown total "train 164it [00:12, 13.4it/s]". Returns a malloc'd UTF-8
 * string, or NULL when out of memory. */
char *ember_progress_text(const ember_progress_view *v);

/* A <div> with a styled bar (blue running, green done, red failed) and the
 * same text, HTML-escaped. malloc'd, NULL when out of memory. */
char *ember_progress_html(const ember_progress_view *v);

/* "mm:ss", or "h:mm:ss" from an hour on; "?" for negative or NaN. */
void ember_progress_format_time(double seconds, char *buf, size_t len);

/* "13.4it/s" (about three significant digits), or "2.50s/it" when slower
 * than one per second; "?it/s" when the rate is unknown. */
void ember_progress_format_rate(double n, double elapsed, const char *unit, char *buf,
                                size_t len);

/* At most one update per interval, the first and the final one always. */
typedef struct ember_progress_throttle {
    double interval; /* seconds; 0 means 0.1 (ten updates a second) */
    double last;     /* when the last update was let through */
    int started;     /* an update has been let through */
    int finished;    /* the final update has been let through */
} ember_progress_throttle;

void ember_progress_throttle_init(ember_progress_throttle *t, double interval);
/* Returns 1 when an update at time `now` should be shown (and records it).
 * final != 0 marks the last update: shown exactly once, whatever the time;
 * nothing is shown after it. */
int ember_progress_throttle_ready(ember_progress_throttle *t, double now, int final);

#ifdef __cplusplus
}
#endif
#endif
