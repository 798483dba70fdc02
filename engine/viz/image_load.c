/* image_load.c — format sniffing by magic bytes, decode-from-memory dispatch
 * and loading local files with messages that name the file. */
#include "codec.h"
#include "viz_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

ember_image_format ember_image_sniff(const uint8_t *d, size_t len)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (len >= 8 && memcmp(d, png_sig, 8) == 0)
        return EMBER_FMT_PNG;
    if (len >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        return EMBER_FMT_JPEG;
    return EMBER_FMT_UNKNOWN;
}

/* Names formats people often hand us by mistake, so the message can say what
 * to do (an HTML page is what a failed download usually leaves behind). */
static const char *guess_other(const uint8_t *d, size_t len)
{
    if (len >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
        return "it looks like a GIF";
    if (len >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return "it looks like a WebP image";
    if (len >= 2 && d[0] == 'B' && d[1] == 'M')
        return "it looks like a BMP image";
    if (len >= 4 && memcmp(d, "%PDF", 4) == 0)
        return "it looks like a PDF document";
    if (len >= 4 && (memcmp(d, "II*", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
        return "it looks like a TIFF image";
    size_t i = 0;
    while (i < len && i < 64 && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t'))
        i++;
    if (i < len && d[i] == '<')
        return "it looks like HTML or XML text";
    return NULL;
}

static void unknown_format(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    const char *other = guess_other(data, len);
    char hex[3 * 8 + 1] = "";
    size_t off = 0;
    for (size_t i = 0; i < len && i < 8; i++)
        off += (size_t)snprintf(hex + off, sizeof hex - off, "%s%02x", i ? " " : "", data[i]);
    if (other)
        viz_seterr(err, errlen, "not a PNG or JPEG file (%s); convert it to PNG or JPEG first", other);
    else
        viz_seterr(err, errlen, "not a PNG or JPEG file (it starts with bytes %s)", hex);
}

int ember_image_decode(const uint8_t *data, size_t len, ember_image *out, char *err,
                       size_t errlen)
{
    if (!data || len == 0) {
        viz_seterr(err, errlen, "no image data (0 bytes)");
        return -1;
    }
    switch (ember_image_sniff(data, len)) {
    case EMBER_FMT_PNG: return ember_png_decode(data, len, out, err, errlen);
    case EMBER_FMT_JPEG: return ember_jpeg_decode(data, len, out, err, errlen);
    default: unknown_format(data, len, err, errlen); return -1;
    }
}

int ember_image_load(const char *path, ember_image *out, char *err, size_t errlen)
{
    if (!path || !*path) {
        /* No "load_image: ": the language binding names the builtin. */
        viz_seterr(err, errlen, "no file name given");
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        viz_seterr(err, errlen, "cannot open image file '%s': %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        viz_seterr(err, errlen, "'%s' is a directory, not an image file", path);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        viz_seterr(err, errlen, "'%s' is not a regular file", path);
        return -1;
    }
    if (st.st_size == 0) {
        viz_seterr(err, errlen, "image file '%s' is empty (0 bytes)", path);
        return -1;
    }
    if ((uint64_t)st.st_size > EMBER_IMAGE_MAX_FILE) {
        viz_seterr(err, errlen, "image file '%s' is too large (%lld bytes; at most %u)", path,
                   (long long)st.st_size, EMBER_IMAGE_MAX_FILE);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        viz_seterr(err, errlen, "cannot open image file '%s': %s", path, strerror(errno));
        return -1;
    }
    size_t want = (size_t)st.st_size;
    uint8_t *buf = malloc(want);
    if (!buf) {
        fclose(f);
        viz_seterr(err, errlen, "out of memory reading image file '%s'", path);
        return -1;
    }
    size_t got = fread(buf, 1, want, f);
    int read_err = ferror(f);
    fclose(f);
    if (read_err || got == 0) {
        free(buf);
        viz_seterr(err, errlen, "cannot read image file '%s'", path);
        return -1;
    }
    int rc = ember_image_decode(buf, got, out, err, errlen);
    free(buf);
    if (rc) {
        size_t plen = strlen(path) + 32;
        char *prefix = malloc(plen);
        if (prefix) {
            snprintf(prefix, plen, "image file '%s'", path);
            viz_prefix_err(err, errlen, prefix);
            free(prefix);
        }
    }
    return rc;
}
