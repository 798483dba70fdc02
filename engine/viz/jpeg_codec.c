/* jpeg_codec.c — JPEG decoding from memory with libjpeg-turbo.
 *
 * libjpeg's default error handler calls exit(); ours formats the message and
 * longjmps back. As in png_codec.c, all state that changes after setjmp lives
 * in a struct owned by the caller's frame. A truncated stream only raises a
 * warning in libjpeg (it pads with grey); we turn that warning into an error. */
#include "codec.h"
#include "viz_util.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
} jerr_mgr;

typedef struct {
    struct jpeg_decompress_struct cinfo;
    jerr_mgr jerr;
    int created;
    int orientation; /* EXIF, read before finish_decompress frees the markers */
    ember_image img;
    uint8_t *row; /* one CMYK scanline */
} jdec_state;

static void on_jpeg_error(j_common_ptr c)
{
    jerr_mgr *e = (jerr_mgr *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

static void on_jpeg_message(j_common_ptr c, int level)
{
    jerr_mgr *e = (jerr_mgr *)c->err;
    if (level < 0) {
        c->err->num_warnings++;
        if (c->err->msg_code == JWRN_JPEG_EOF)
            e->truncated = 1;
    }
    /* Never print: the kernel's stderr is not the user's screen. */
}

static void on_jpeg_output(j_common_ptr c)
{
    (void)c;
}

static int jdec_run(jdec_state *s, const uint8_t *data, size_t len)
{
    struct jpeg_decompress_struct *ci = &s->cinfo;
    ci->err = jpeg_std_error(&s->jerr.pub);
    s->jerr.pub.error_exit = on_jpeg_error;
    s->jerr.pub.emit_message = on_jpeg_message;
    s->jerr.pub.output_message = on_jpeg_output;
    if (setjmp(s->jerr.jb))
        return -1;
    /* Marked first: jpeg_destroy_decompress copes with a half-made struct,
     * and a failed create must not leak what it did allocate. */
    s->created = 1;
    jpeg_create_decompress(ci);
    jpeg_mem_src(ci, data, (unsigned long)len);
    jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(ci, TRUE);
    s->orientation = 1;
    for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0) {
            s->orientation = ember_exif_orientation(m->data, m->data_length);
            break;
        }
    }

    int cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
    ci->out_color_space = ci->jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE
                          : cmyk                                ? JCS_CMYK
                                                                : JCS_RGB;
    if ((uint64_t)ci->image_width * ci->image_height > EMBER_IMAGE_MAX_PIXELS ||
        ci->image_width > EMBER_IMAGE_MAX_SIDE || ci->image_height > EMBER_IMAGE_MAX_SIDE) {
        snprintf(s->jerr.msg, sizeof s->jerr.msg, "image of %ux%u pixels is too large",
                 (unsigned)ci->image_width, (unsigned)ci->image_height);
        return -1;
    }
    jpeg_start_decompress(ci);
    int nc = ci->output_components;
    if (nc != (cmyk ? 4 : ci->out_color_space == JCS_GRAYSCALE ? 1 : 3)) {
        snprintf(s->jerr.msg, sizeof s->jerr.msg, "unexpected %d colour components", nc);
        return -1;
    }
    char aerr[160];
    if (ember_image_alloc(&s->img, (int)ci->output_width, (int)ci->output_height,
                          cmyk ? 3 : nc, aerr, sizeof aerr)) {
        snprintf(s->jerr.msg, sizeof s->jerr.msg, "%s", aerr);
        return -1;
    }
    if (cmyk && !(s->row = malloc((size_t)ci->output_width * 4))) {
        snprintf(s->jerr.msg, sizeof s->jerr.msg, "out of memory");
        return -1;
    }
    const int inverted = ci->saw_Adobe_marker; /* Adobe writes CMYK inverted */
    while (ci->output_scanline < ci->output_height) {
        unsigned y = ci->output_scanline;
        uint8_t *dst = s->img.data + (size_t)y * s->img.width * s->img.channels;
        JSAMPROW rp = cmyk ? s->row : dst;
        if (jpeg_read_scanlines(ci, &rp, 1) != 1) {
            snprintf(s->jerr.msg, sizeof s->jerr.msg, "decoder stopped early");
            return -1;
        }
        if (s->jerr.truncated)
            break;
        if (cmyk) {
            for (unsigned x = 0; x < ci->output_width; x++) {
                const uint8_t *p = s->row + x * 4;
                unsigned k = inverted ? p[3] : 255u - p[3];
                for (int c = 0; c < 3; c++) {
                    unsigned v = inverted ? p[c] : 255u - p[c];
                    dst[x * 3 + c] = (uint8_t)((v * k + 127) / 255);
                }
            }
        }
    }
    if (s->jerr.truncated) {
        snprintf(s->jerr.msg, sizeof s->jerr.msg, "truncated (the data ends early)");
        return -1;
    }
    jpeg_finish_decompress(ci);
    if (s->jerr.truncated) {
        snprintf(s->jerr.msg, sizeof s->jerr.msg, "truncated (the data ends early)");
        return -1;
    }
    return 0;
}

int ember_jpeg_decode(const uint8_t *data, size_t len, ember_image *out, char *err,
                      size_t errlen)
{
    if (!data || len < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        viz_seterr(err, errlen, "not a JPEG file (no JPEG signature)");
        return -1;
    }
    if (len > 0xFFFFFFFFul) {
        viz_seterr(err, errlen, "JPEG data too large");
        return -1;
    }
    jdec_state *s = calloc(1, sizeof *s); /* jmp_buf and cinfo are large for the stack */
    if (!s) {
        viz_seterr(err, errlen, "out of memory decoding JPEG");
        return -1;
    }
    int rc = -1;
    if (jdec_run(s, data, len)) {
        viz_seterr(err, errlen, "bad JPEG data: %s", s->jerr.msg[0] ? s->jerr.msg : "libjpeg failed");
        goto done;
    }
    int orientation = s->orientation;
    if (orientation != 1) {
        ember_image turned;
        if (ember_image_orient(&s->img, orientation, &turned, err, errlen))
            goto done;
        ember_image_free(&s->img);
        s->img = turned;
    }
    *out = s->img;
    memset(&s->img, 0, sizeof s->img);
    rc = 0;
done:
    if (s->created)
        jpeg_destroy_decompress(&s->cinfo);
    free(s->row);
    ember_image_free(&s->img);
    free(s);
    return rc;
}
