/* clipseg_internal.h — the CLIPSeg model's layout, shared by its loader
 * (clipseg_load.c) and its forward pass (clipseg.c). Not for use elsewhere. */
#ifndef EMBER_NN_CLIPSEG_INTERNAL_H
#define EMBER_NN_CLIPSEG_INTERNAL_H

#include "core/arena.h"
#include "nn/clipseg.h"

/* One transformer layer; q, k, v are packed into one [3C, C] matrix at load
 * (the layout attention_fwd reads). */
typedef struct cs_layer {
    ember_tensor ln1_g, ln1_b, qkv_w, qkv_b, out_w, out_b, ln2_g, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} cs_layer;

struct ember_clipseg {
    const ember_backend *be;
    ember_clipseg_config cfg;
    int input_size, grid, tokens, out_size;
    int vision_used; /* layers run: the last extract layer + 1 */
    void *params;    /* one device block holding every weight below */

    ember_tensor tok_emb, txt_pos, final_g, final_b, text_proj;
    cs_layer *text;
    ember_tensor patch_w, cls, vis_pos, pre_g, pre_b; /* vis_pos: resized, [tokens, C] */
    cs_layer *vision;
    ember_tensor film_mul_w, film_mul_b, film_add_w, film_add_b;
    ember_tensor red_w[EMBER_CLIPSEG_MAX_EXTRACT], red_b[EMBER_CLIPSEG_MAX_EXTRACT];
    cs_layer dec[EMBER_CLIPSEG_MAX_EXTRACT];
    /* refined head: conv_w permuted to [R, 9R]; tc1_w [R, (R/2)*s*s], tc2_w
     * [R/2, s*s] with s = patch/4. Plain head: tc1_w [R, patch*patch]. */
    ember_tensor conv_w, conv_b, tc1_w, tc1_b, tc2_w, tc2_b;

    ember_arena scratch; /* activations of a forward, grown on demand */
};

#endif
