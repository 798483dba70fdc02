/* png_codec.c — PNG encode to memory and decode from memory with libpng.
 *
 * libpng reports errors by longjmp. Everything that changes after setjmp lives
 * in a state struct owned by the calling function (one frame up from the
 * setjmp), so nothing is left indeterminate when libpng jumps back, and the
 * caller frees it all on one path whether decoding succeeded or not. */
#include "codec.h"
#include "viz_util.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char msg[256];
} png_msg;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_msg *m = png_get_error_ptr(png);
    if (m)
        snprintf(m->msg, sizeof m->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    /* Warnings (bad ancillary chunks, odd gamma) do not stop decoding and
     * would only clutter the kernel's stderr. */
    (void)png;
    (void)msg;
}

/* ---- encoding ---------------------------------------------------------- */

typedef struct {
    png_structp png;
    png_infop info;
    png_msg msg;
    uint8_t *buf;
    size_t len, cap;
    png_bytep *rows;
} enc_state;

static void enc_write(png_structp png, png_bytep data, size_t n)
{
    enc_state *s = png_get_io_ptr(png);
    if (n > SIZE_MAX / 2 - s->len)
        png_error(png, "PNG output too large");
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (cap < s->len + n)
            cap *= 2;
        uint8_t *nb = realloc(s->buf, cap);
        if (!nb)
            png_error(png, "out of memory writing PNG");
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
}

static void enc_flush(png_structp png)
{
    (void)png;
}

static int enc_run(enc_state *s, const ember_image *img, int level)
{
    if (setjmp(png_jmpbuf(s->png)))
        return -1;
    int type = img->channels == 1   ? PNG_COLOR_TYPE_GRAY
               : img->channels == 3 ? PNG_COLOR_TYPE_RGB
                                    : PNG_COLOR_TYPE_RGB_ALPHA;
    png_set_write_fn(s->png, s, enc_write, enc_flush);
    png_set_IHDR(s->png, s->info, (png_uint_32)img->width, (png_uint_32)img->height, 8, type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (level >= 0 && level <= 9)
        png_set_compression_level(s->png, level);
    png_write_info(s->png, s->info);
    png_write_image(s->png, s->rows);
    png_write_end(s->png, NULL);
    return 0;
}

int ember_png_encode(const ember_image *img, int level, uint8_t **png, size_t *png_len,
                     char *err, size_t errlen)
{
    if (!img || !img->data || img->width <= 0 || img->height <= 0 ||
        (img->channels != 1 && img->channels != 3 && img->channels != 4)) {
        viz_seterr(err, errlen, "PNG encode: not a valid image");
        return -1;
    }
    enc_state s;
    memset(&s, 0, sizeof s);
    int rc = -1;
    s.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &s.msg, on_png_error, on_png_warning);
    if (!s.png) {
        viz_seterr(err, errlen, "PNG encode: libpng could not start (out of memory?)");
        return -1;
    }
    s.info = png_create_info_struct(s.png);
    s.rows = malloc(sizeof(png_bytep) * (size_t)img->height);
    if (!s.info || !s.rows) {
        viz_seterr(err, errlen, "PNG encode: out of memory");
        goto done;
    }
    size_t stride = (size_t)img->width * img->channels;
    for (int y = 0; y < img->height; y++)
        s.rows[y] = (png_bytep)(img->data + (size_t)y * stride);
    if (enc_run(&s, img, level)) {
        viz_seterr(err, errlen, "PNG encode: %s", s.msg.msg[0] ? s.msg.msg : "libpng failed");
        goto done;
    }
    *png = s.buf;
    *png_len = s.len;
    s.buf = NULL;
    rc = 0;
done:
    png_destroy_write_struct(&s.png, s.info ? &s.info : NULL);
    free(s.rows);
    free(s.buf);
    return rc;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct {
    png_structp png;
    png_infop info;
    png_msg msg;
    const uint8_t *data;
    size_t len, pos;
    ember_image img;
    png_bytep *rows;
} dec_state;

static void dec_read(png_structp png, png_bytep out, size_t n)
{
    dec_state *s = png_get_io_ptr(png);
    if (n > s->len - s->pos)
        png_error(png, "truncated (the data ends early)");
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

static int dec_run(dec_state *s)
{
    if (setjmp(png_jmpbuf(s->png)))
        return -1;
    png_set_read_fn(s->png, s, dec_read);
    png_set_user_limits(s->png, EMBER_IMAGE_MAX_SIDE, EMBER_IMAGE_MAX_SIDE);
    png_set_chunk_malloc_max(s->png, 64u * 1024u * 1024u);
    png_read_info(s->png, s->info);

    png_uint_32 w = png_get_image_width(s->png, s->info);
    png_uint_32 h = png_get_image_height(s->png, s->info);
    int depth = png_get_bit_depth(s->png, s->info);
    int type = png_get_color_type(s->png, s->info);
    int has_trns = png_get_valid(s->png, s->info, PNG_INFO_tRNS) != 0;

    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(s->png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(s->png);
    if (has_trns)
        png_set_tRNS_to_alpha(s->png);
    if (depth == 16)
        png_set_scale_16(s->png);
    /* We have no grey+alpha mode: such images become RGBA. */
    if (type == PNG_COLOR_TYPE_GRAY_ALPHA || (type == PNG_COLOR_TYPE_GRAY && has_trns))
        png_set_gray_to_rgb(s->png);
    png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);

    int ch = png_get_channels(s->png, s->info);
    size_t rowbytes = png_get_rowbytes(s->png, s->info);
    if ((ch != 1 && ch != 3 && ch != 4) || png_get_bit_depth(s->png, s->info) != 8 ||
        rowbytes != (size_t)w * ch)
        png_error(s->png, "unsupported PNG pixel layout");
    char aerr[160];
    if (ember_image_alloc(&s->img, (int)w, (int)h, ch, aerr, sizeof aerr))
        png_error(s->png, aerr);
    s->rows = malloc(sizeof(png_bytep) * h);
    if (!s->rows)
        png_error(s->png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        s->rows[y] = s->img.data + (size_t)y * rowbytes;
    png_read_image(s->png, s->rows);
    png_read_end(s->png, NULL);
    return 0;
}

int ember_png_decode(const uint8_t *data, size_t len, ember_image *out, char *err,
                     size_t errlen)
{
    if (!data || len < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        if (data && len < 8)
            viz_seterr(err, errlen, "bad PNG data: truncated (only %zu bytes)", len);
        else
            viz_seterr(err, errlen, "not a PNG file (no PNG signature)");
        return -1;
    }
    dec_state s;
    memset(&s, 0, sizeof s);
    s.data = data;
    s.len = len;
    int rc = -1;
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s.msg, on_png_error, on_png_warning);
    if (!s.png) {
        viz_seterr(err, errlen, "PNG decode: libpng could not start (out of memory?)");
        return -1;
    }
    s.info = png_create_info_struct(s.png);
    if (!s.info) {
        viz_seterr(err, errlen, "PNG decode: out of memory");
        goto done;
    }
    if (dec_run(&s)) {
        viz_seterr(err, errlen, "bad PNG data: %s", s.msg.msg[0] ? s.msg.msg : "libpng failed");
        goto done;
    }
    *out = s.img;
    memset(&s.img, 0, sizeof s.img);
    rc = 0;
done:
    png_destroy_read_struct(&s.png, s.info ? &s.info : NULL, NULL);
    free(s.rows);
    ember_image_free(&s.img);
    return rc;
}
