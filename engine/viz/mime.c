/* mime.c — base64 and the MIME bundles for images, plots and progress bars. */
#include "mime.h"
#include "viz_util.h"

#include <stdlib.h>

char *ember_base64_encode(const uint8_t *d, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    size_t out_len = (len + 2) / 3 * 4;
    char *out = malloc(out_len + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)d[i] << 16;
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8;
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

int ember_png_bundle(const ember_png *png, const char *text, json_t **data, json_t **metadata,
                     char *err, size_t errlen)
{
    if (!png || !png->data || png->size == 0) {
        viz_seterr(err, errlen, "display: no PNG data");
        return -1;
    }
    char *b64 = ember_base64_encode(png->data, png->size);
    json_t *d = json_object(), *m = json_object(), *size = json_object();
    int bad = !b64 || !d || !m || !size;
    bad = bad || json_object_set_new(d, "image/png", json_string(b64)) != 0;
    bad = bad || json_object_set_new(d, "text/plain", json_string(text ? text : "<image>")) != 0;
    bad = bad || json_object_set_new(size, "width", json_integer(png->width)) != 0;
    bad = bad || json_object_set_new(size, "height", json_integer(png->height)) != 0;
    bad = bad || json_object_set(m, "image/png", size) != 0;
    free(b64);
    json_decref(size);
    if (bad) {
        json_decref(d);
        json_decref(m);
        viz_seterr(err, errlen, "display: out of memory building the image bundle");
        return -1;
    }
    *data = d;
    *metadata = m;
    return 0;
}

int ember_progress_bundle(const ember_progress_view *v, json_t **data, char *err, size_t errlen)
{
    char *text = ember_progress_text(v), *html = ember_progress_html(v);
    json_t *d = json_object();
    int bad = !text || !html || !d;
    bad = bad || json_object_set_new(d, "text/plain", json_string(text)) != 0;
    bad = bad || json_object_set_new(d, "text/html", json_string(html)) != 0;
    free(text);
    free(html);
    if (bad) {
        json_decref(d);
        viz_seterr(err, errlen, "progress: out of memory building the bundle");
        return -1;
    }
    *data = d;
    return 0;
}
