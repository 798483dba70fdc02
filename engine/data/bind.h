/* bind.h — the language face of engine/data: dataset values (cifar10()),
 * augmentation values (random_crop(), ..., compose()) and preview(). The
 * bind_*.c files are compiled into ember_lang (which links ember_data), as
 * for engine/viz. Other bindings (fit, evaluate) read the C structures
 * behind the values through the accessors here. */
#ifndef EMBER_DATA_BIND_H
#define EMBER_DATA_BIND_H

#include "lang.h"
#include "data/augment.h"
#include "data/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Registers cifar10, the transforms, compose and preview. From modules.c. */
void register_data_builtins(void);
void register_data_dataset_builtins(void); /* bind_dataset.c: cifar10 */
void register_data_augment_builtins(void); /* bind_augment.c: transforms, compose, preview */

extern const lang_type data_dataset_type;
extern const lang_type data_augment_type;

/* Wraps ds in a new dataset value, taking its buffers (ds is zeroed either
 * way). NULL only when out of memory (raised on cx). */
lang_value *data_dataset_value(lang_ctx *cx, ember_dataset *ds);
/* The dataset inside a dataset value, or NULL when v is not one. Values are
 * immutable, so the pointer stays valid while the caller holds v. */
const ember_dataset *data_dataset_of(const lang_value *v);
/* The pipeline inside an augmentation value (a single transform is a
 * pipeline of one step), or NULL when v is not one. */
const ember_augment *data_augment_of(const lang_value *v);

#ifdef __cplusplus
}
#endif
#endif
