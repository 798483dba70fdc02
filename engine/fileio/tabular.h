/* tabular.h — tables and records as text files: CSV (RFC 4180 quoting,
 * '\n' line ends as pandas writes them) and JSON (a jansson value written
 * out with two-space indents, arrays of plain values on one line). Numbers are
 * written so they read back as the same double (the shortest such form,
 * as Python's repr); a missing value (NaN) is an
 * empty CSV field and a JSON null, which pandas and Python's json read as
 * missing. Files are written atomically (atomic.h). */
#ifndef EMBER_FILEIO_TABULAR_H
#define EMBER_FILEIO_TABULAR_H

#include "atomic.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A CSV text being built. Zero-initialise it; a failed allocation sets oom
 * and later additions do nothing, so callers check once, at save. */
typedef struct ember_csv {
    char *p;
    size_t len, cap;
    int oom;
    int fields; /* fields in the current row */
} ember_csv;

void ember_csv_str(ember_csv *c, const char *s); /* quoted when it needs to be */
void ember_csv_num(ember_csv *c, double v);      /* NaN: empty; +-inf: inf, -inf */
void ember_csv_int(ember_csv *c, int64_t v);
void ember_csv_end_row(ember_csv *c);
/* Writes the text to path and frees it (also on failure). */
int ember_csv_save(ember_csv *c, const char *path, ember_ferr *err);
void ember_csv_free(ember_csv *c);

/* The shortest "%.<n>g" form of v that reads back as v ("0.1", "1e-05"). */
void ember_format_double(double v, char *buf, size_t size);

/* A JSON number for v, or null when v is NaN or infinite (JSON has no
 * such numbers). New reference; NULL when out of memory. */
json_t *ember_json_number(double v);
/* v (borrowed) as one line of JSON text without spaces, reals in the same
 * shortest round-trip form (for JSON carried inside other files, such as
 * safetensors metadata). malloc'd; NULL when out of memory. */
char *ember_json_compact(json_t *v);
/* root (borrowed), indented, as the file at path. */
int ember_json_save(json_t *root, const char *path, ember_ferr *err);

#ifdef __cplusplus
}
#endif
#endif
