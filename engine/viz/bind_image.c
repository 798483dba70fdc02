/* bind_image.c — image values in the language: the "image" type (text/plain
 * line plus image/png), its attributes and methods, and load_image() from a
 * file or a url. */
#include "bind.h"
#include "viz/codec.h"
#include "viz/mime.h"
#ifdef EMBER_HAVE_DATA
#include "data/fetch.h" /* engine/data: downloads (libcurl stays out of ember_viz) */
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void image_free(void *data)
{
    ember_image *img = data;
    ember_image_free(img);
    free(img);
}

lang_value *viz_image_value(ember_image *img)
{
    ember_image *own = malloc(sizeof *own);
    if (!own) {
        ember_image_free(img);
        return NULL;
    }
    *own = *img;
    memset(img, 0, sizeof *img);
    return lang_object(&viz_image_type, own);
}

const ember_image *viz_image_of(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &viz_image_type)
        return NULL;
    return v->as.obj.data;
}

static char *image_repr(const lang_value *self)
{
    char buf[96];
    ember_image_describe(viz_image_of(self), buf, sizeof buf);
    return strdup(buf);
}

/* Pictures show at their own size (one pixel a logical pixel). */
static json_t *image_mime(const lang_value *self)
{
    const ember_image *img = viz_image_of(self);
    ember_png png;
    char err[256];
    json_t *data = NULL, *meta = NULL;
    if (ember_image_to_png(img, &png, err, sizeof err) != 0)
        return NULL; /* the engine falls back to text/plain */
    char text[96];
    ember_image_describe(img, text, sizeof text);
    int rc = ember_png_bundle(&png, text, &data, &meta, err, sizeof err);
    ember_png_free(&png);
    if (rc != 0)
        return NULL;
    json_decref(meta); /* a picture at scale 1 needs no display size */
    return data;
}

static lang_value *image_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const ember_image *img = viz_image_of(self);
    if (!strcmp(name, "width"))
        return lang_int(img->width);
    if (!strcmp(name, "height"))
        return lang_int(img->height);
    if (!strcmp(name, "channels"))
        return lang_int(img->channels);
    if (!strcmp(name, "mode"))
        return lang_cstr(ember_image_mode(img->channels));
    if (!strcmp(name, "shape")) { /* [height, width, channels], as numpy and PIL users expect */
        lang_value *l = lang_list_new(3);
        if (!l)
            return NULL;
        lang_list_set(l, 0, lang_int(img->height));
        lang_list_set(l, 1, lang_int(img->width));
        lang_list_set(l, 2, lang_int(img->channels));
        return l;
    }
    return NULL;
}

static void image_attr_names(const lang_value *self, void (*add)(void *acc, const char *name),
                             void *acc)
{
    (void)self;
    static const char *names[] = {"width", "height", "channels", "mode", "shape"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        add(acc, names[i]);
}

/* save(path): PNG, the one lossless format everything reads. */
static lang_value *m_save(lang_ctx *cx, const lang_args *a)
{
    const char *path;
    if (viz_save_path(cx, a, &path) < 0)
        return NULL;
    char ext[16];
    viz_save_ext(path, ext, sizeof ext);
    if (strcmp(ext, ".png"))
        return viz_save_unsupported(cx, a->fname, path, "an image", ".png");
    return viz_save_png(cx, a->fname, viz_image_of(a->self), path) == 0 ? lang_none() : NULL;
}

static lang_value *m_resize(lang_ctx *cx, const lang_args *a)
{
    int64_t w, h;
    if (lang_arg_int(cx, a, 0, &w) < 0 || lang_arg_int(cx, a, 1, &h) < 0)
        return NULL;
    if (w < 1 || w > 8192)
        return lang_arg_error(cx, a, 0, "ValueError", "an integer from 1 to 8192");
    if (h < 1 || h > 8192)
        return lang_arg_error(cx, a, 1, "ValueError", "an integer from 1 to 8192");
    ember_image out;
    char err[256];
    if (ember_image_resize(viz_image_of(a->self), (int)w, (int)h, &out, err, sizeof err) != 0)
        return lang_raise(cx, "ValueError", "image.resize: %s", err);
    lang_value *v = viz_image_value(&out);
    return v ? v : lang_raise(cx, "MemoryError", "image.resize: out of memory");
}

static lang_value *m_convert(lang_ctx *cx, const lang_args *a)
{
    const char *mode;
    if (lang_arg_str(cx, a, 0, &mode) < 0)
        return NULL;
    int ch = !strcmp(mode, "grey") || !strcmp(mode, "gray") || !strcmp(mode, "L") ? 1
             : !strcmp(mode, "RGB")                                               ? 3
             : !strcmp(mode, "RGBA")                                              ? 4
                                                                                  : 0;
    if (!ch)
        return lang_arg_error(cx, a, 0, "ValueError", "'grey', 'RGB' or 'RGBA'");
    ember_image out;
    char err[256];
    if (ember_image_convert(viz_image_of(a->self), ch, &out, err, sizeof err) != 0)
        return lang_raise(cx, "ValueError", "image.convert: %s", err);
    lang_value *v = viz_image_value(&out);
    return v ? v : lang_raise(cx, "MemoryError", "image.convert: out of memory");
}

static const lang_builtin image_methods[] = {
    {"save(path)",
     "Write the image to a PNG file at path (the extension must be .png), atomically: a failed "
     "save leaves an earlier file of that name as it was. save(image, path) is the same.",
     m_save},
    {"resize(width, height)",
     "A resized copy (bilinear, smoothed when shrinking so thumbnails do not alias).", m_resize},
    {"convert(mode)",
     "A copy in another mode: 'grey', 'RGB' or 'RGBA'. Transparency is composited over white.",
     m_convert},
};

const lang_type viz_image_type = {
    .name = "image",
    .doc = "image: an 8-bit picture (grey, RGB or RGBA), shown as a PNG. Attributes: width, "
           "height, channels, mode ('grey', 'RGB', 'RGBA') and shape ([height, width, channels]). "
           "Methods: save(path), resize(width, height), convert(mode). Made by "
           "load_image(path or url).",
    .free = image_free,
    .repr = image_repr,
    .mime = image_mime,
    .getattr = image_getattr,
    .attr_names = image_attr_names,
    .methods = image_methods,
    .nmethods = sizeof image_methods / sizeof *image_methods,
};

/* "scheme://..." — a url rather than a file name. */
static int is_url(const char *s)
{
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    while (s[i] && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    return i > 1 && !strncmp(s + i, "://", 3);
}

static lang_value *load_file(lang_ctx *cx, const char *path)
{
    ember_image img;
    char err[1024];
    if (ember_image_load(path, &img, err, sizeof err) != 0) {
        /* a missing file is the common case: say where we looked */
        int missing = strstr(err, "No such file") != NULL;
        return lang_raise(cx, missing ? "FileNotFoundError" : "ValueError", "load_image: %s%s", err,
                          missing && path[0] != '/' ? " (relative paths start in the kernel's "
                                                      "working directory, the notebook's folder)"
                                                    : "");
    }
    lang_value *v = viz_image_value(&img);
    return v ? v : lang_raise(cx, "MemoryError", "load_image: out of memory");
}

#ifdef EMBER_HAVE_DATA
/* The largest image we download; a photo is a few MB. */
#define URL_MAX_BYTES ((size_t)64 << 20)
/* Downloads this small finish before a bar would be worth drawing. */
#define URL_BAR_BYTES 2000000u

typedef struct url_ui {
    lang_ctx *cx;
    progress_bar *pb;
    int interrupted;
} url_ui;

/* libcurl's progress callback: the stop button, and a bar for big files. */
static int url_progress(void *ctx, uint64_t done, uint64_t total)
{
    url_ui *ui = ctx;
    if (lang_check_interrupt(ui->cx) < 0) {
        ui->interrupted = 1;
        return 1;
    }
    if (!ui->pb && (total > URL_BAR_BYTES || done > URL_BAR_BYTES))
        ui->pb = progress_bar_start(ui->cx, &(progress_bar_opts){
                                               .desc = "downloading image",
                                               .unit = "MB",
                                               .total = total ? (double)total / 1e6 : 0,
                                           });
    progress_bar_update(ui->pb, (double)done / 1e6);
    return 0;
}

/* The first bytes of a body as text someone can read in a message. */
static void body_preview(const uint8_t *d, size_t len, char *out, size_t outlen)
{
    size_t o = 0, i = 0;
    for (; i < len && i < 40 && o + 5 < outlen; i++) {
        uint8_t c = d[i];
        if (c == '\n' || c == '\r' || c == '\t')
            o += (size_t)snprintf(out + o, outlen - o, "\\%c",
                                  c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        else if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    if (i < len && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < outlen ? o : outlen - 1] = '\0';
}

static lang_value *load_url(lang_ctx *cx, const char *url)
{
    if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8) &&
        strncasecmp(url, "file://", 7))
        return lang_raise(cx, "ValueError",
                          "load_image: cannot load '%s': only http://, https:// and file:// urls "
                          "are supported; download the file and pass its local path",
                          url);
    url_ui ui = {.cx = cx};
    long http_status = 0;
    ember_fetch_opts opts = {.progress = url_progress, .progress_ctx = &ui,
                             .connect_timeout_s = 20, .low_speed_time_s = 30,
                             .http_status = &http_status};
    ember_fetched body;
    ember_err e;
    ember_err_clear(&e);
    int rc = ember_fetch_to_memory(url, URL_MAX_BYTES, &opts, &body, &e);
    if (ui.pb)
        progress_bar_finish(ui.pb, rc == 0 ? PROGRESS_OK
                                   : ui.interrupted ? PROGRESS_INTERRUPTED
                                                    : PROGRESS_ERROR);
    if (rc != 0) {
        if (lang_error_pending(cx))
            return NULL;
        if (ui.interrupted)
            return lang_raise(cx, "KeyboardInterrupt", "load_image: download interrupted");
        /* Not found without an HTTP answer: a file:// url naming no file
         * (an HTTP 404 stays an OSError, as urllib's HTTPError is one). */
        int missing = rc == EMBER_FETCH_NOT_FOUND && http_status == 0;
        return lang_raise(cx, missing ? "FileNotFoundError" : "OSError", "load_image: %s", e.msg);
    }
    lang_value *v = NULL;
    if (ember_image_sniff(body.data, body.len) == EMBER_FMT_UNKNOWN) {
        /* Usually a web page about the picture rather than the picture itself. */
        char preview[200];
        body_preview(body.data, body.len, preview, sizeof preview);
        if (body.len == 0)
            v = lang_raise(cx, "ValueError",
                           "load_image: '%s' gave an empty body (0 bytes), not an image; the url "
                           "must point at a PNG or JPEG file",
                           url);
        else
            v = lang_raise(cx, "ValueError",
                           "load_image: '%s' is not a PNG or JPEG image: got %s%s, %zu bytes "
                           "starting '%s'; the url must point at a PNG or JPEG file itself (for "
                           "a picture on a web page, use the picture's own address)",
                           url, body.content_type[0] ? "content type " : "no content type",
                           body.content_type, body.len, preview);
        ember_fetched_free(&body);
        return v;
    }
    ember_image img;
    char err[1024];
    rc = ember_image_decode(body.data, body.len, &img, err, sizeof err);
    ember_fetched_free(&body);
    if (rc != 0)
        return lang_raise(cx, "ValueError", "load_image: the image at '%s' cannot be read: %s", url,
                          err);
    v = viz_image_value(&img);
    return v ? v : lang_raise(cx, "MemoryError", "load_image: out of memory");
}
#else
static lang_value *load_url(lang_ctx *cx, const char *url)
{
    return lang_raise(cx, "ValueError",
                      "load_image: this build cannot download ('%s'); download the file and pass "
                      "its local path",
                      url);
}
#endif

static lang_value *b_load_image(lang_ctx *cx, const lang_args *a)
{
    const char *path;
    if (lang_arg_str(cx, a, 0, &path) < 0)
        return NULL;
    return is_url(path) ? load_url(cx, path) : load_file(cx, path);
}

static const lang_builtin image_builtins[] = {
    {"load_image(path)",
     "Load a PNG or JPEG image as an image value (grey, RGB or RGBA; EXIF orientation applied). "
     "path is a local file (relative to the notebook's folder) or an http://, https:// or "
     "file:// url of the image file itself (at most 64 MiB; big downloads show a progress bar; "
     "interrupt stops them). The image shows itself as a picture; img.width, img.height and "
     "img.mode describe it.",
     b_load_image},
};

void register_viz_image_builtins(void)
{
    lang_register_builtins(image_builtins, sizeof image_builtins / sizeof *image_builtins);
}
