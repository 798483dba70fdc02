/* bind.h — the language face of engine/seg: the segmentation model value
 * (clipseg()), segment(), mask values and the masks of one image, and
 * overlay(). The bind_*.c files are compiled into ember_lang. */
#ifndef EMBER_SEG_BIND_H
#define EMBER_SEG_BIND_H

#include "lang.h"
#include "seg/seg.h"

#ifdef __cplusplus
extern "C" {
#endif

void register_seg_builtins(void);
void register_seg_mask_builtins(void);    /* bind_masks.c: overlay */
void register_seg_model_builtins(void);   /* bind_clipseg.c: clipseg, segment */

/* ---- masks (bind_masks.c) ----
 * One prompt's probability map (w x h, the model's resolution) for a photo
 * of img_w x img_h, shown at the photo's size. */
typedef struct seg_mask {
    char prompt[256];
    int w, h;           /* the map's size */
    float *prob;        /* w * h probabilities; owned */
    int img_w, img_h;   /* the photo's size */
} seg_mask;

extern const lang_type seg_mask_type, seg_masks_type;

/* The masks of one photo: n masks (each taken: its prob is owned by the new
 * value; on failure they are freed) and a copy of the photo for overlays. */
lang_value *seg_masks_value(lang_ctx *cx, seg_mask *masks, size_t n, const ember_image *photo);

#ifdef __cplusplus
}
#endif
#endif
