/* torch_ckpt.h — PyTorch checkpoints (torch.save's zip format:
 * pytorch_model.bin, .pt, .pth) read without running anything, into the
 * same ember_st_file the safetensors reader gives, so every loader that
 * takes a `const ember_st_file *` reads both formats unchanged.
 *
 * The zip (read with libarchive; members stored, as torch writes them, or
 * deflated) holds <archive>/data.pkl, <archive>/data/<key> (each storage's
 * raw little-endian bytes), <archive>/byteorder and <archive>/version.
 * data.pkl goes through the restricted unpickler of torch_pickle.h (which
 * documents the accepted globals and how nested dicts are named); each
 * named tensor is then copied out of its storage into one buffer the
 * ember_st_file owns, contiguous and row-major, 64-byte aligned, in the
 * pickle's order, whatever its offset and strides (views, shared storages,
 * expanded tensors). Element types Ember has are kept (float32, bfloat16,
 * int64, int32, uint8); the others are converted to the nearest one:
 * float16 -> f32 (exact), float64 -> f32 (rounded to nearest), int16 and
 * int8 -> i32, bool -> u8 (0 or 1).
 *
 * Refused with a message saying what the file is and what to do: the
 * legacy (non-zip) torch.save format, TorchScript archives (torch.jit.save),
 * bare pickles, zips that are not checkpoints, checkpoints written on a
 * big-endian machine, and every damaged or hostile file (a global outside
 * the allow-list, a view outside its storage, a storage member shorter or
 * longer than declared, a truncated zip, ...). Every message names the file
 * once, so callers should not prefix it again. */
#ifndef EMBER_DATA_TORCH_CKPT_H
#define EMBER_DATA_TORCH_CKPT_H

#include <stddef.h>

#include "core/error.h"
#include "core/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* data.pkl larger than this is refused (a state dict of 100,000 tensors
 * pickles to about 20 MB). */
#define EMBER_TORCH_MAX_PICKLE ((size_t)256 << 20)

/* Reads a checkpoint file. On failure *f is left empty (closing it is safe);
 * on success ember_st_close frees everything. */
int ember_torch_open(ember_st_file *f, const char *path, ember_err *err);

/* The same from a file image in memory; f does not keep buf. `what` names
 * the file in messages (NULL: "the checkpoint"). */
int ember_torch_parse_buffer(ember_st_file *f, const void *buf, size_t len, const char *what, ember_err *err);

/* Non-zero when the bytes start like a legacy (torch < 1.6, or
 * _use_new_zipfile_serialization=False) torch.save file. */
int ember_torch_is_legacy(const void *head, size_t len);

#ifdef __cplusplus
}
#endif
#endif
