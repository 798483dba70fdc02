/* weights.h — one way to open a file of model weights, whatever wrote it:
 * a safetensors file, or a PyTorch checkpoint (torch.save's zip:
 * pytorch_model.bin, .pt, .pth). The format is sniffed from the first bytes,
 * not the name, and both give an ember_st_file, so a loader written for
 * safetensors (`const ember_st_file *`) reads either. */
#ifndef EMBER_DATA_WEIGHTS_H
#define EMBER_DATA_WEIGHTS_H

#include <stddef.h>

#include "core/error.h"
#include "core/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ember_weights_format {
    EMBER_WEIGHTS_UNKNOWN = 0,
    EMBER_WEIGHTS_EMPTY,        /* no bytes at all */
    EMBER_WEIGHTS_SAFETENSORS,  /* header length, then '{' */
    EMBER_WEIGHTS_TORCH_ZIP,    /* a zip: torch.save since 1.6 (or another zip) */
    EMBER_WEIGHTS_TORCH_LEGACY, /* torch.save's pre-1.6 pickle stream */
    EMBER_WEIGHTS_PICKLE,       /* some other pickle */
} ember_weights_format;

/* What the first bytes of a file (at least 16 of them, when it has that
 * many) say it is. */
ember_weights_format ember_weights_sniff(const void *head, size_t len);
/* "safetensors", "PyTorch checkpoint (zip)", ... */
const char *ember_weights_format_name(ember_weights_format fmt);

/* Opens a safetensors file (mapped, see core/safetensors.h) or a torch.save
 * checkpoint (converted into an owned buffer, see data/torch_ckpt.h). On
 * failure *f is left empty (closing it is safe) and the message names the
 * path once (callers add what they were doing, not the path again).
 * Nested checkpoints give names joined with '.' ("model.head.weight"). */
int ember_weights_open(ember_st_file *f, const char *path, ember_err *err);

#ifdef __cplusplus
}
#endif
#endif
