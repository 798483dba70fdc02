/* torch_pickle.h — the restricted unpickler behind torch checkpoints: reads
 * the data.pkl of a torch.save zip into a table of named tensor views
 * (storage key, dtype, offset, sizes, strides) WITHOUT running anything.
 *
 * Only the pickle opcodes a state dict uses are understood (protocols 2 to
 * 5: PROTO, FRAME, MARK, STOP, memo ops, ints, floats, strings, bytes,
 * None/bools, tuples, lists, dicts, sets, GLOBAL / STACK_GLOBAL, REDUCE,
 * BUILD, NEWOBJ, BINPERSID) and only these globals are accepted, none of
 * them executed — each is rebuilt as inert data:
 *   torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter /
 *   _rebuild_parameter_with_state, torch._tensor._rebuild_from_type_v2 with
 *   torch.Tensor or torch.nn.parameter.Parameter, the typed storages
 *   torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage
 *   (and torch.UntypedStorage, read as bytes), collections.OrderedDict,
 *   torch.Size; and, as opaque values a training checkpoint may carry next
 *   to its tensors: torch.device, the torch dtypes (torch.float16, ...),
 *   set / frozenset / bytearray, _codecs.encode (protocol 2's bytes), numpy
 *   scalars, dtypes and arrays.
 * Any other global is refused when it is named, before anything could use
 * it, with a message naming it (os.system, builtins.eval, ...).
 *
 * Naming (how a nested checkpoint is flattened): the tensors reachable from
 * the top object through dicts (keys: str, or int written in decimal),
 * lists and tuples (their index) are named by the keys on the way joined
 * with '.': torch.save(model.state_dict()) gives the state dict's own keys;
 * torch.save({'model': sd, 'epoch': 3}) gives "model.<key>" for each
 * tensor of sd and nothing for 'epoch'. Non-tensor values (numbers,
 * strings, the state dict's _metadata, opaque values) are left out, and so
 * is anything under a key that is neither str nor int. Two tensors that
 * would get the same name are an error.
 *
 * Everything is validated: every view (offset, sizes, strides) must lie
 * inside its storage's declared length, strides and sizes non-negative, at
 * most EMBER_MAX_DIMS dimensions, and all views together may not ask for
 * much more data than the storages hold (a small file that expands to a
 * huge one is refused). A hostile pickle gives an error, never a crash. */
#ifndef EMBER_DATA_TORCH_PICKLE_H
#define EMBER_DATA_TORCH_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of torch storages. */
typedef enum ember_torch_dtype {
    EMBER_TORCH_F32 = 0,
    EMBER_TORCH_F16,
    EMBER_TORCH_BF16,
    EMBER_TORCH_F64,
    EMBER_TORCH_I64,
    EMBER_TORCH_I32,
    EMBER_TORCH_I16,
    EMBER_TORCH_I8,
    EMBER_TORCH_U8,
    EMBER_TORCH_BOOL,
    EMBER_TORCH_DTYPE_COUNT
} ember_torch_dtype;

/* Storage keys are short names ("0", "17"): the member <archive>/data/<key>. */
#define EMBER_TORCH_KEY_MAX 64
/* Longest tensor name the flattening builds (bytes, without the NUL). */
#define EMBER_TORCH_NAME_MAX 1024
/* How deep dicts, lists and tuples may nest around a tensor. */
#define EMBER_TORCH_MAX_DEPTH 64

typedef struct ember_torch_storage {
    char key[EMBER_TORCH_KEY_MAX];
    ember_torch_dtype dtype;
    int64_t numel; /* elements, as the pickle declares them */
} ember_torch_storage;

typedef struct ember_torch_tensor {
    char *name;
    size_t storage;  /* index into ember_torch_index.storages */
    int64_t offset;  /* storage offset, in elements */
    int ndim;
    int64_t size[EMBER_MAX_DIMS];
    int64_t stride[EMBER_MAX_DIMS]; /* in elements */
} ember_torch_tensor;

/* What data.pkl describes: tensors in the order they were pickled (a
 * state dict's order), and only the storages they use. */
typedef struct ember_torch_index {
    ember_torch_storage *storages;
    size_t n_storages;
    ember_torch_tensor *tensors;
    size_t n_tensors;
} ember_torch_index;

/* Reads a pickle. `what` names the file in messages (NULL: "the
 * checkpoint"); every message names it once. On failure *out is empty
 * (freeing it is safe). */
int ember_torch_unpickle(const void *pkl, size_t len, const char *what, ember_torch_index *out,
                         ember_err *err);
void ember_torch_index_free(ember_torch_index *ix);

/* Bytes per element; "float16", "bfloat16", ... as torch names them. */
size_t ember_torch_dtype_size(ember_torch_dtype dt);
const char *ember_torch_dtype_name(ember_torch_dtype dt);

/* Elements of a tensor (1 for a scalar). */
int64_t ember_torch_tensor_numel(const ember_torch_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
