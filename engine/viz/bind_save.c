/* bind_save.c — what the save(path) methods of every value share: the
 * path argument, the extension that picks the format, errors raised as the
 * Python exception a user expects, and atomic writes through engine/fileio.
 * save(value, path) (engine/train/bind_model.c) calls those methods. */
#include "bind.h"
#include "viz/codec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int viz_save_path(lang_ctx *cx, const lang_args *a, const char **path)
{
    if (lang_arg_str(cx, a, 0, path) < 0)
        return -1;
#ifdef EMBER_VIZ_FUZZING
    /* fuzz inputs must not litter (or overwrite) files */
    lang_raise(cx, "OSError", "%s: writing '%s' is disabled in fuzzing builds", a->fname, *path);
    return -1;
#endif
    if (!**path) {
        lang_raise(cx, "ValueError", "%s: the path is empty; give a file name such as 'out.png'",
                   a->fname);
        return -1;
    }
    return 0;
}

void viz_save_ext(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    while (*name == '.') /* ".png" is a hidden file without an extension, as Python says */
        name++;
    const char *dot = strrchr(name, '.');
    if (!dot || strlen(dot) >= size)
        return;
    size_t i = 0;
    for (; dot[i]; i++)
        buf[i] = (char)tolower((unsigned char)dot[i]);
    buf[i] = '\0';
}

lang_value *viz_save_unsupported(lang_ctx *cx, const char *fname, const char *path,
                                 const char *what, const char *supported)
{
    char ext[32];
    viz_save_ext(path, ext, sizeof ext);
    if (!ext[0])
        return lang_raise(cx, "ValueError",
                          "%s: '%s' has no extension to pick a format by; %s saves as %s", fname,
                          path, what, supported);
    return lang_raise(cx, "ValueError", "%s: cannot save %s as '%s' ('%s'); %s saves as %s", fname,
                      what, ext, path, what, supported);
}

lang_value *viz_save_error(lang_ctx *cx, const char *fname, const ember_ferr *err)
{
    const char *ename;
    switch (err->code) {
    case ENOENT:
        ename = "FileNotFoundError";
        break;
    case EACCES:
    case EPERM:
        ename = "PermissionError";
        break;
    case EISDIR:
        ename = "IsADirectoryError";
        break;
    case ENOTDIR:
        ename = "NotADirectoryError";
        break;
    case EEXIST:
        ename = "FileExistsError";
        break;
    case ENOMEM:
        ename = "MemoryError";
        break;
    case EINVAL:
        ename = "ValueError";
        break;
    default:
        ename = "OSError";
    }
    return lang_raise(cx, ename, "%s: %s", fname, err->msg);
}

int viz_write_file(lang_ctx *cx, const char *fname, const char *path, const uint8_t *data,
                   size_t len)
{
#ifdef EMBER_VIZ_FUZZING
    (void)data, (void)len;
    lang_raise(cx, "OSError", "%s: writing '%s' is disabled in fuzzing builds", fname, path);
    return -1;
#endif
    ember_ferr err;
    if (ember_write_atomic(path, data, len, &err) != 0) {
        viz_save_error(cx, fname, &err);
        return -1;
    }
    return 0;
}

int viz_save_png(lang_ctx *cx, const char *fname, const ember_image *img, const char *path)
{
    ember_png png;
    char err[256];
    if (ember_image_to_png(img, &png, err, sizeof err) != 0) {
        lang_raise(cx, strstr(err, "memory") ? "MemoryError" : "ValueError", "%s: %s", fname, err);
        return -1;
    }
    int rc = viz_write_file(cx, fname, path, png.data, png.size);
    ember_png_free(&png);
    return rc;
}
