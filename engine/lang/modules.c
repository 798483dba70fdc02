/* modules.c — the one place that lists which builtin tables are registered.
 * An engine module (tensors, data, models, plots) adds its registration
 * call here; nothing else in the language needs to change. */
#include "internal.h"

#ifdef EMBER_HAVE_VIZ
#include "bind.h" /* engine/viz: images, plots, tables, progress bars */
#endif
#ifdef EMBER_HAVE_DATA
#include "data/bind.h" /* engine/data: datasets, augmentations */
#endif
#ifdef EMBER_HAVE_TRAIN
#include "train/bind.h" /* engine/train: models, fit, evaluate */
#endif
#ifdef EMBER_HAVE_SEG
#include "seg/bind.h" /* engine/seg: CLIPSeg, masks, overlays */
#endif

void register_modules(void)
{
    register_core_builtins();
    register_math_builtins();
#ifdef EMBER_HAVE_VIZ
    register_viz_builtins();
#endif
#ifdef EMBER_HAVE_DATA
    register_data_builtins();
#endif
#ifdef EMBER_HAVE_TRAIN
    register_train_builtins();
#endif
#ifdef EMBER_HAVE_SEG
    register_seg_builtins();
#endif
}
