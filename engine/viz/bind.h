/* bind.h — the language face of engine/viz: image and plot values, the
 * progress bar that long-running builtins show, and the registration call
 * modules.c makes. The bind_*.c files are compiled into ember_lang (which
 * links ember_viz), so the pure-C library never depends on the language. */
#ifndef EMBER_VIZ_BIND_H
#define EMBER_VIZ_BIND_H

#include "fileio/atomic.h"
#include "lang.h"
#include "viz/image.h"
#include "viz/plot.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Registers every viz builtin (load_image, plot, figure, heatmap,
 * image_grid, table, progress_demo). Called from modules.c. */
void register_viz_builtins(void);
void register_viz_image_builtins(void);
void register_viz_plot_builtins(void);
void register_viz_table_builtins(void);
void register_viz_progress_builtins(void);

/* ---- image values (bind_image.c) ---- */
extern const lang_type viz_image_type;
/* Wraps img in a new image value, taking its pixels (img is zeroed either
 * way). NULL only when out of memory (the pixels are then freed). */
lang_value *viz_image_value(ember_image *img);
/* The picture inside an image value, or NULL when v is not one. */
const ember_image *viz_image_of(const lang_value *v);

/* ---- plot values (bind_plot.c) ---- */
extern const lang_type viz_plot_type;

/* A plot value showing a ready-made picture (e.g. a training run's curves),
 * taking png's bytes (png is zeroed either way). Its text reads
 * "<kind WxH 'title', detail>". NULL with an error raised when out of
 * memory. A plot whose value has a plot() method (no arguments) is drawn by
 * plot(value) through that method. Such a plot saves as .png only; give
 * viz_plot_from_render a way to draw it again for .svg and .pdf. */
lang_value *viz_plot_from_png(lang_ctx *cx, ember_png *png, const char *kind, const char *title,
                              const char *detail);

/* Draws a figure again in another format (what plot.save(x.svg / x.pdf)
 * needs): 0 and out, or -1 with a message in err. */
typedef int (*viz_redraw_fn)(void *ctx, ember_figure_format format, ember_png *out, char *err,
                             size_t errlen);
/* As viz_plot_from_png, with redraw(ctx, ...) for the vector formats. The
 * plot owns ctx and frees it with ctx_free (also when this fails). */
lang_value *viz_plot_from_render(lang_ctx *cx, ember_png *png, viz_redraw_fn redraw, void *ctx,
                                 void (*ctx_free)(void *), const char *kind, const char *title,
                                 const char *detail);

/* A table value from a list of rows (lists of values) and a header (a
 * list of names, or NULL), as table(rows, header) makes; fname names the
 * caller in errors. Borrows both lists. */
lang_value *viz_table_value(lang_ctx *cx, const char *fname, lang_value *rows, lang_value *header);

/* ---- saving files (bind_save.c) ----
 * What every value's save(path) method shares: the format comes from the
 * file's extension, files are written atomically (engine/fileio), and a
 * failure raises the matching Python exception (FileNotFoundError for a
 * missing folder, PermissionError, IsADirectoryError, OSError) with
 * fname in front of a message that says what to do. */

/* The path argument a->v[0] of a save method, checked (a str without NUL;
 * refused in fuzzing builds, whose inputs must not write files). */
int viz_save_path(lang_ctx *cx, const lang_args *a, const char **path);
/* The extension of path's last name, lower-cased with its dot (".png"),
 * or "" when it has none. */
void viz_save_ext(const char *path, char *buf, size_t size);
/* Raises ValueError: path's extension is not one of `supported` (a text
 * such as ".png, .svg or .pdf") for a value described as `what`. */
lang_value *viz_save_unsupported(lang_ctx *cx, const char *fname, const char *path,
                                 const char *what, const char *supported);
/* Raises the exception for a failed engine/fileio call. */
lang_value *viz_save_error(lang_ctx *cx, const char *fname, const ember_ferr *err);
/* Writes bytes to path atomically; 0, or -1 with the error raised. */
int viz_write_file(lang_ctx *cx, const char *fname, const char *path, const uint8_t *data,
                   size_t len);
/* An image as a PNG file at path; 0, or -1 with the error raised. */
int viz_save_png(lang_ctx *cx, const char *fname, const ember_image *img, const char *path);

/* ---- progress bars (bind_progress.c) ----
 * One display output (with its own display_id) that a long-running builtin
 * updates in place:
 *
 *   progress_bar *pb = progress_bar_start(cx, &(progress_bar_opts){.desc = "train",
 *                                                                    .total = steps});
 *   for (i = 0; i < steps; i++) {
 *       if (lang_check_interrupt(cx) < 0) {
 *           progress_bar_finish(pb, PROGRESS_INTERRUPTED);
 *           return NULL;
 *       }
 *       ...one step...
 *       progress_bar_update(pb, i + 1);
 *   }
 *   progress_bar_finish(pb, PROGRESS_OK);
 *
 * start shows the bar at 0 (display_data); updates are throttled to one
 * update_display_data per interval (0.1 s by default); finish always sends
 * the final state (green when OK, red on error or interrupt) and frees the
 * bar. A NULL bar (start ran out of memory) is accepted everywhere, so the
 * work goes on without one. */
typedef struct progress_bar progress_bar;

typedef enum {
    PROGRESS_OK = 0,
    PROGRESS_ERROR,
    PROGRESS_INTERRUPTED,
} progress_end;

typedef struct progress_bar_opts {
    const char *desc;  /* shown before the bar; NULL for none */
    const char *unit;  /* NULL means "it" */
    double total;      /* <= 0: unknown (a counter without a bar) */
    double interval;   /* seconds between updates; 0 means 0.1 */
    /* The clock (seconds, monotonic); NULL uses CLOCK_MONOTONIC. Tests
     * pass their own to drive the throttle. */
    double (*clock)(void *clock_ctx);
    void *clock_ctx;
} progress_bar_opts;

progress_bar *progress_bar_start(lang_ctx *cx, const progress_bar_opts *opts);
/* Sets the count of items done (absolute, not a step). */
void progress_bar_update(progress_bar *pb, double n);
/* tqdm's set_postfix: text shown after the rate ("loss=1.23, acc=45.6%"),
 * from the next update on (at most 95 bytes kept). */
void progress_bar_set_postfix(progress_bar *pb, const char *text);
/* Sends the final state and frees the bar. */
void progress_bar_finish(progress_bar *pb, progress_end how);
/* The display_id the bar publishes under ("" for a NULL bar). */
const char *progress_bar_display_id(const progress_bar *pb);

#ifdef __cplusplus
}
#endif
#endif
