/* atomic.h — files and folders that appear whole or not at all.
 *
 * Everything Ember saves for the user (pictures, arrays, tables) goes
 * through here: the bytes go to a temporary file in the destination's own
 * folder (so the final rename never crosses a file system), which is
 * flushed and fsync'd, then renamed over the destination. A failure at any
 * step removes the temporary file and leaves an earlier file of that name
 * exactly as it was; a reader never sees half a file.
 *
 * A folder of files (e.g. one array per prompt) is built the same way: in a
 * temporary folder beside the destination, then moved into place with one
 * rename, or swapped with an earlier folder (renameat2 RENAME_EXCHANGE)
 * that the caller has recognised as its own output, which is then removed.
 *
 * Errors come back in an ember_ferr: a message that names the path and
 * says what to do, and the errno-style cause (ENOENT for a missing folder,
 * EACCES, EISDIR, ENOSPC...) so a language binding can pick the exception. */
#ifndef EMBER_FILEIO_ATOMIC_H
#define EMBER_FILEIO_ATOMIC_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ember_ferr {
    int code;      /* errno value of the cause; EINVAL for bad arguments */
    char msg[512];
} ember_ferr;

/* Sets err (may be NULL) and returns -1. */
int ember_ferr_set(ember_ferr *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- one file ---- */
typedef struct ember_afile {
    FILE *f;
    char *path;     /* the destination */
    char *tmp;      /* the temporary file beside it */
    size_t written; /* bytes written so far */
} ember_afile;

/* Checks, without writing anything, that a file can be saved at path now:
 * a file name (not a folder) whose folder exists. For writers that save
 * again and again (checkpoints) and want to refuse a mistyped folder at
 * once rather than at the first save. */
int ember_afile_check(const char *path, ember_ferr *err);
/* Checks the destination (a file name whose folder exists, not a folder)
 * and opens a temporary file beside it. The final file gets the mode of the
 * file it replaces, or 0666 less the umask for a new one. */
int ember_afile_open(ember_afile *af, const char *path, ember_ferr *err);
int ember_afile_write(ember_afile *af, const void *data, size_t n, ember_ferr *err);
/* Flushes, fsyncs, closes and renames into place (then fsyncs the folder).
 * On failure the temporary file is removed. Either way af is released. */
int ember_afile_commit(ember_afile *af, ember_ferr *err);
/* Removes the temporary file and releases af; safe on a zeroed af. */
void ember_afile_abort(ember_afile *af);

/* For tests only (NULL otherwise): called after every ember_afile_write
 * that succeeded, with the bytes written so far, so that a test can stop
 * or kill the writing process partway through a file and check that the
 * earlier file survives (tests/train/test_checkpoint.c). */
extern void (*ember_afile_write_hook)(const ember_afile *af, size_t written);

/* The whole of data as the file at path, atomically. */
int ember_write_atomic(const char *path, const void *data, size_t len, ember_ferr *err);

/* ---- one folder of files ---- */
typedef struct ember_adir {
    char *path; /* the destination folder */
    char *tmp;  /* the temporary folder beside it, where files are written */
} ember_adir;

/* Checks that path's parent folder exists and that path is not a file,
 * and creates the temporary folder. */
int ember_adir_open(ember_adir *ad, const char *path, ember_ferr *err);
/* "<tmp>/<name>" in buf; -1 when it does not fit. name must be a plain
 * file name (no '/'). */
int ember_adir_file(const ember_adir *ad, const char *name, char *buf, size_t size);
/* Moves the folder into place. When path already exists as a folder, it is
 * replaced only if it is empty or may_replace(path, ctx) returns 1 (the
 * caller recognises it as an earlier save of its own, holding nothing
 * else); otherwise EEXIST with a message saying so. On failure the
 * temporary folder is removed. Either way ad is released. */
int ember_adir_commit(ember_adir *ad, int (*may_replace)(const char *path, void *ctx), void *ctx,
                      ember_ferr *err);
/* Removes the temporary folder and what was written in it; releases ad. */
void ember_adir_abort(ember_adir *ad);

#ifdef __cplusplus
}
#endif
#endif
