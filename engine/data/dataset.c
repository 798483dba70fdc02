/* dataset.c — ownership and summaries of an in-memory labelled dataset. */
#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

void ember_dataset_free(ember_dataset *ds)
{
    if (!ds) return;
    free(ds->pixels);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

void ember_dataset_class_counts(const ember_dataset *ds, int64_t *counts)
{
    for (int k = 0; k < ds->n_classes; k++) counts[k] = 0;
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->labels[i] < ds->n_classes) counts[ds->labels[i]]++;
}
