/* mime.h — turns viz output into Jupyter MIME bundles (jansson objects), so
 * a builtin that shows a picture or a progress bar is a few lines:
 *   ember_png png; ember_plot_lines(..., &png, err, n);
 *   ember_png_bundle(&png, "<plot>", &data, &meta, err, n);
 *   io->display(io->ctx, data, meta, display_id, update);                  */
#ifndef EMBER_VIZ_MIME_H
#define EMBER_VIZ_MIME_H

#include "plot.h"
#include "progress.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Standard base64 (RFC 4648, with padding, no line breaks). Returns a
 * malloc'd NUL-terminated string, or NULL when out of memory. */
char *ember_base64_encode(const uint8_t *data, size_t len);

/* {"image/png": "<base64>", "text/plain": text} and metadata
 * {"image/png": {"width": W, "height": H}} with the logical size, so 2x
 * figures show sharp at their intended size. New references in *data and
 * *metadata on success. */
int ember_png_bundle(const ember_png *png, const char *text, json_t **data, json_t **metadata,
                     char *err, size_t errlen);

/* {"text/plain": tqdm line, "text/html": bar} for a progress view. */
int ember_progress_bundle(const ember_progress_view *v, json_t **data, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
