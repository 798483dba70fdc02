/* font.c — finds DejaVu Sans through fontconfig and hands cairo a FreeType
 * face for it. Asking cairo's toy API for "DejaVu Sans" would silently give
 * some other font when it is missing; matching ourselves lets us check the
 * family and say so once. Without DejaVu we fall back to cairo's default
 * sans-serif face: the plot still renders. */
#include "canvas.h"

#include <cairo-ft.h>
#include <fontconfig/fontconfig.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static cairo_font_face_t *faces[2];
static int have_dejavu;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static cairo_font_face_t *match_dejavu(int bold)
{
    FcPattern *pat = FcPatternCreate();
    if (!pat)
        return NULL;
    cairo_font_face_t *face = NULL;
    FcPattern *match = NULL;
    FcResult res = FcResultNoMatch;
    if (!FcPatternAddString(pat, FC_FAMILY, (const FcChar8 *)"DejaVu Sans") ||
        !FcPatternAddInteger(pat, FC_WEIGHT, bold ? FC_WEIGHT_BOLD : FC_WEIGHT_REGULAR) ||
        !FcConfigSubstitute(NULL, pat, FcMatchPattern))
        goto done;
    FcDefaultSubstitute(pat);
    match = FcFontMatch(NULL, pat, &res);
    FcChar8 *family = NULL;
    if (!match || res != FcResultMatch ||
        FcPatternGetString(match, FC_FAMILY, 0, &family) != FcResultMatch || !family ||
        strcmp((const char *)family, "DejaVu Sans") != 0)
        goto done;
    face = cairo_ft_font_face_create_for_pattern(match);
    if (cairo_font_face_status(face) != CAIRO_STATUS_SUCCESS) {
        cairo_font_face_destroy(face);
        face = NULL;
    }
done:
    if (match)
        FcPatternDestroy(match); /* cairo holds its own reference */
    FcPatternDestroy(pat);
    return face;
}

static void init_fonts(void)
{
    if (FcInit()) {
        faces[0] = match_dejavu(0);
        faces[1] = match_dejavu(1);
    }
    have_dejavu = faces[0] && faces[1];
    if (!have_dejavu) {
        fprintf(stderr, "ember viz: font DejaVu Sans not found (Debian package fonts-dejavu-core); "
                        "plots use the default sans-serif font instead\n");
        for (int b = 0; b < 2; b++) {
            if (faces[b])
                cairo_font_face_destroy(faces[b]);
            faces[b] = cairo_toy_font_face_create("sans-serif", CAIRO_FONT_SLANT_NORMAL,
                                                  b ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
        }
    }
}

cairo_font_face_t *viz_font_face(int bold)
{
    pthread_once(&once, init_fonts);
    return faces[bold ? 1 : 0];
}

int ember_viz_font_is_dejavu(void)
{
    pthread_once(&once, init_fonts);
    return have_dejavu;
}
