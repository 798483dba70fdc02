/* atomic.c — files and folders written to a temporary name beside their
 * destination, fsync'd, then renamed into place; see atomic.h. */
#define _GNU_SOURCE /* renameat2 */
#include "atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ember_ferr_set(ember_ferr *err, int code, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* The umask, read without changing it: umask(2) can only be read by
 * setting it, which would race with other threads creating files. */
static mode_t current_umask(void)
{
    mode_t m = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return m;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Umask:", 6)) {
            m = (mode_t)strtoul(line + 6, NULL, 8) & 0777;
            break;
        }
    (void)fclose(f); /* read only: closing cannot lose anything */
    return m;
}

/* path split into its folder ("." when it has none) and last name. */
static int split_path(const char *path, char **dir, const char **base, ember_ferr *err)
{
    if (!path || !*path)
        return ember_ferr_set(err, EINVAL, "no file name given");
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!**base || !strcmp(*base, ".") || !strcmp(*base, ".."))
        return ember_ferr_set(err, EISDIR, "'%s' names a folder, not a file; add a file name",
                              path);
    if (!slash)
        *dir = strdup(".");
    else if (slash == path)
        *dir = strdup("/");
    else
        *dir = strndup(path, (size_t)(slash - path));
    if (!*dir)
        return ember_ferr_set(err, ENOMEM, "out of memory");
    return 0;
}

/* The destination's folder must exist and be a folder. */
static int check_dir(const char *path, const char *dir, ember_ferr *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        if (e == ENOENT)
            return ember_ferr_set(err, ENOENT,
                                  "cannot save '%s': its folder '%s' does not exist; create it "
                                  "first, or save somewhere else", path, dir);
        if (e == ENOTDIR)
            return ember_ferr_set(err, ENOTDIR,
                                  "cannot save '%s': part of its folder '%s' is a file, not a "
                                  "folder", path, dir);
        return ember_ferr_set(err, e, "cannot save '%s': its folder '%s': %s", path, dir,
                              strerror(e));
    }
    if (!S_ISDIR(st.st_mode))
        return ember_ferr_set(err, ENOTDIR, "cannot save '%s': '%s' is a file, not a folder", path,
                              dir);
    return 0;
}

/* A message for a failure to create something in dir. */
static int create_error(const char *path, const char *dir, int e, ember_ferr *err)
{
    if (e == EACCES || e == EPERM)
        return ember_ferr_set(err, e,
                              "cannot save '%s': no permission to write in the folder '%s'; "
                              "save somewhere you may write (e.g. your home folder)", path, dir);
    if (e == EROFS)
        return ember_ferr_set(err, e,
                              "cannot save '%s': the folder '%s' is on a read-only file system",
                              path, dir);
    if (e == ENOSPC || e == EDQUOT)
        return ember_ferr_set(err, e, "cannot save '%s': no space left (%s)", path, strerror(e));
    if (e == ENAMETOOLONG)
        return ember_ferr_set(err, e, "cannot save '%s': the name is too long", path);
    return ember_ferr_set(err, e, "cannot save '%s': %s", path, strerror(e));
}

/* "<dir>/.<base>.<tag>-XXXXXX", the base cut so the name stays well under
 * NAME_MAX. */
static char *temp_template(const char *dir, const char *base, const char *tag)
{
    char *t = NULL;
    int n = (int)strnlen(base, 160);
    if (asprintf(&t, "%s/.%.*s.%s-XXXXXX", dir, n, base, tag) < 0)
        return NULL;
    return t;
}

/* Syncs a folder so a rename in it survives a crash. Some file systems
 * refuse fsync on a folder (EINVAL); the rename has happened by then and
 * nothing could be undone, so that is not an error. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    (void)fsync(fd);
    close(fd);
}

static void afile_release(ember_afile *af)
{
    free(af->path);
    free(af->tmp);
    af->path = af->tmp = NULL;
    af->f = NULL;
}

void ember_afile_abort(ember_afile *af)
{
    if (!af)
        return;
    int saved = errno;
    if (af->f)
        (void)fclose(af->f); /* its result does not matter: the file is removed */
    if (af->tmp)
        (void)unlink(af->tmp); /* best effort; it is a hidden temporary name */
    afile_release(af);
    errno = saved;
}

int ember_afile_check(const char *path, ember_ferr *err)
{
    char *dir = NULL;
    const char *base;
    if (split_path(path, &dir, &base, err) != 0)
        return -1;
    int rc = check_dir(path, dir, err);
    struct stat st;
    if (rc == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        rc = ember_ferr_set(err, EISDIR, "cannot save '%s': it is a folder; give a file name "
                                         "inside it", path);
    free(dir);
    return rc;
}

int ember_afile_open(ember_afile *af, const char *path, ember_ferr *err)
{
    memset(af, 0, sizeof *af);
    char *dir = NULL;
    const char *base;
    if (split_path(path, &dir, &base, err) != 0)
        return -1;
    int rc = -1, fd = -1;
    struct stat st;
    mode_t mode = 0666 & ~current_umask();
    if (check_dir(path, dir, err) != 0)
        goto out;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            ember_ferr_set(err, EISDIR, "cannot save '%s': it is a folder; give a file name "
                                        "inside it", path);
            goto out;
        }
        if (S_ISREG(st.st_mode))
            mode = st.st_mode & 07777; /* a replaced file keeps its permissions */
    } else if (errno == ENAMETOOLONG) {
        /* say so now, not after writing the whole file under a shorter name */
        create_error(path, dir, ENAMETOOLONG, err);
        goto out;
    }
    af->path = strdup(path);
    af->tmp = temp_template(dir, base, "tmp");
    if (!af->path || !af->tmp) {
        ember_ferr_set(err, ENOMEM, "out of memory");
        goto out;
    }
    fd = mkostemp(af->tmp, O_CLOEXEC);
    if (fd < 0) {
        create_error(path, dir, errno, err);
        free(af->tmp);
        af->tmp = NULL; /* nothing was created */
        goto out;
    }
    if (fchmod(fd, mode) != 0) {
        create_error(path, dir, errno, err);
        close(fd);
        goto out;
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        create_error(path, dir, errno, err);
        close(fd);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        ember_afile_abort(af);
    free(dir);
    return rc;
}

static int write_error(ember_afile *af, int e, ember_ferr *err)
{
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return ember_ferr_set(err, e, "could not write all of '%s': %s (disk full?); the "
                                      "earlier file, if any, is unchanged", af->path,
                              strerror(e));
    return ember_ferr_set(err, e ? e : EIO, "could not write '%s': %s; the earlier file, if "
                                            "any, is unchanged", af->path,
                          strerror(e ? e : EIO));
}

void (*ember_afile_write_hook)(const ember_afile *af, size_t written);

int ember_afile_write(ember_afile *af, const void *data, size_t n, ember_ferr *err)
{
    if (!af->f)
        return ember_ferr_set(err, EBADF, "the file is not open");
    if (n == 0)
        return 0;
    errno = 0;
    if (fwrite(data, 1, n, af->f) != n)
        return write_error(af, errno, err);
    af->written += n;
    if (ember_afile_write_hook)
        ember_afile_write_hook(af, af->written);
    return 0;
}

int ember_afile_commit(ember_afile *af, ember_ferr *err)
{
    if (!af->f) {
        ember_afile_abort(af);
        return ember_ferr_set(err, EBADF, "the file is not open");
    }
    errno = 0;
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0) {
        write_error(af, errno, err);
        ember_afile_abort(af);
        return -1;
    }
    FILE *f = af->f;
    af->f = NULL;
    if (fclose(f) != 0) {
        write_error(af, errno, err);
        ember_afile_abort(af);
        return -1;
    }
    if (rename(af->tmp, af->path) != 0) {
        int e = errno;
        if (e == EISDIR)
            ember_ferr_set(err, e, "cannot save '%s': it is a folder; give a file name inside it",
                           af->path);
        else
            ember_ferr_set(err, e, "cannot save '%s': renaming the finished file into place "
                                   "failed: %s", af->path, strerror(e));
        ember_afile_abort(af);
        return -1;
    }
    char *dir = NULL;
    const char *base;
    if (split_path(af->path, &dir, &base, NULL) == 0)
        sync_dir(dir);
    free(dir);
    afile_release(af);
    return 0;
}

int ember_write_atomic(const char *path, const void *data, size_t len, ember_ferr *err)
{
    ember_afile af;
    if (ember_afile_open(&af, path, err) != 0)
        return -1;
    if (ember_afile_write(&af, data, len, err) != 0) {
        ember_afile_abort(&af);
        return -1;
    }
    return ember_afile_commit(&af, err);
}

/* ---- folders ---- */

/* Removes the plain files of a folder and the folder. Only files: the
 * folders removed here hold what one save wrote, nothing nested. Returns
 * 0, or -1 when something could not be removed (left in place). */
static int remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
            bad = 1;
            continue;
        }
        if (unlink(p) != 0)
            bad = 1;
        free(p);
    }
    closedir(d);
    if (rmdir(dir) != 0)
        bad = 1;
    return bad ? -1 : 0;
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int empty = 1;
    struct dirent *e;
    while (empty && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    return empty;
}

static void adir_release(ember_adir *ad)
{
    free(ad->path);
    free(ad->tmp);
    ad->path = ad->tmp = NULL;
}

void ember_adir_abort(ember_adir *ad)
{
    if (!ad)
        return;
    int saved = errno;
    if (ad->tmp)
        remove_flat_dir(ad->tmp);
    adir_release(ad);
    errno = saved;
}

int ember_adir_open(ember_adir *ad, const char *path, ember_ferr *err)
{
    memset(ad, 0, sizeof *ad);
    /* "out/" means the folder out */
    size_t n = path ? strlen(path) : 0;
    while (n > 1 && path[n - 1] == '/')
        n--;
    char *clean = path ? strndup(path, n) : NULL;
    if (path && !clean)
        return ember_ferr_set(err, ENOMEM, "out of memory");
    char *dir = NULL;
    const char *base;
    int rc = -1;
    if (split_path(clean, &dir, &base, err) != 0)
        goto out;
    if (check_dir(clean, dir, err) != 0)
        goto out;
    struct stat st;
    if (stat(clean, &st) == 0 && !S_ISDIR(st.st_mode)) {
        ember_ferr_set(err, EEXIST, "cannot save the folder '%s': a file of that name exists; "
                                    "remove it or choose another name", clean);
        goto out;
    }
    ad->tmp = temp_template(dir, base, "tmp");
    if (!ad->tmp) {
        ember_ferr_set(err, ENOMEM, "out of memory");
        goto out;
    }
    if (!mkdtemp(ad->tmp)) {
        create_error(clean, dir, errno, err);
        free(ad->tmp);
        ad->tmp = NULL;
        goto out;
    }
    if (chmod(ad->tmp, 0777 & ~current_umask()) != 0) {
        create_error(clean, dir, errno, err);
        goto out;
    }
    ad->path = clean;
    clean = NULL;
    rc = 0;
out:
    if (rc != 0)
        ember_adir_abort(ad);
    free(clean);
    free(dir);
    return rc;
}

int ember_adir_file(const ember_adir *ad, const char *name, char *buf, size_t size)
{
    if (!ad->tmp || strchr(name, '/'))
        return -1;
    int n = snprintf(buf, size, "%s/%s", ad->tmp, name);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int ember_adir_commit(ember_adir *ad, int (*may_replace)(const char *path, void *ctx), void *ctx,
                      ember_ferr *err)
{
    if (!ad->tmp || !ad->path) {
        ember_adir_abort(ad);
        return ember_ferr_set(err, EBADF, "the folder is not open");
    }
    char *dir = NULL;
    const char *base;
    if (split_path(ad->path, &dir, &base, err) != 0) {
        ember_adir_abort(ad);
        return -1;
    }
    sync_dir(ad->tmp);
    int rc = -1;
    struct stat st;
    if (lstat(ad->path, &st) != 0) {
        if (rename(ad->tmp, ad->path) != 0) {
            create_error(ad->path, dir, errno, err);
            goto fail;
        }
        goto done;
    }
    if (!S_ISDIR(st.st_mode)) {
        ember_ferr_set(err, EEXIST, "cannot save the folder '%s': a file of that name exists; "
                                    "remove it or choose another name", ad->path);
        goto fail;
    }
    if (!dir_is_empty(ad->path) && !(may_replace && may_replace(ad->path, ctx) == 1)) {
        ember_ferr_set(err, EEXIST,
                       "cannot save the folder '%s': it exists and holds other files; choose a "
                       "new folder name (an earlier save of the same kind is replaced, but this "
                       "folder is not one)", ad->path);
        goto fail;
    }
    /* One atomic swap: the new folder takes the name, the old one lands at
     * the temporary name and is removed from there. */
    if (renameat2(AT_FDCWD, ad->tmp, AT_FDCWD, ad->path, RENAME_EXCHANGE) == 0) {
        remove_flat_dir(ad->tmp);
        goto done;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
        create_error(ad->path, dir, errno, err);
        goto fail;
    }
    {
        /* A file system without the swap: move the old folder aside, the new
         * one in, and the old one back if that fails. */
        char *old = temp_template(dir, base, "old");
        if (!old || !mkdtemp(old)) {
            int e = old ? errno : ENOMEM;
            free(old);
            create_error(ad->path, dir, e, err);
            goto fail;
        }
        if (rename(ad->path, old) != 0) {
            create_error(ad->path, dir, errno, err);
            rmdir(old);
            free(old);
            goto fail;
        }
        if (rename(ad->tmp, ad->path) != 0) {
            int e = errno;
            if (rename(old, ad->path) != 0) {
                ember_ferr_set(err, e, "cannot save the folder '%s': %s; the earlier folder is "
                                       "now '%s'", ad->path, strerror(e), old);
                free(old);
                goto fail;
            }
            create_error(ad->path, dir, e, err);
            free(old);
            goto fail;
        }
        remove_flat_dir(old);
        free(old);
    }
done:
    sync_dir(dir);
    rc = 0;
    free(dir);
    adir_release(ad);
    return rc;
fail:
    free(dir);
    ember_adir_abort(ad);
    return -1;
}
