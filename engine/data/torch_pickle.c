/* torch_pickle.c — a pickle machine that only builds data: the globals a
 * state dict needs become tags on inert values, REDUCE on them builds
 * tensor views or containers, and anything else is refused by name. No
 * Python object is ever created and nothing is called, so the allow-list is
 * about what a state dict needs, not about what would be safe to run. */
#include "data/torch_pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A checkpoint's pickle holds about 20 objects per tensor; these bounds are
 * far above any real model and keep a hostile pickle's memory small
 * (32 bytes per object). */
#define MAX_OBJECTS ((size_t)1 << 22)
#define MAX_VISITS ((size_t)1 << 23)
#define MAX_NUMEL ((int64_t)1 << 40)
#define MAX_STORAGE_BYTES ((int64_t)1 << 48)
/* Views may repeat stored data (stride 0, shared storages), but not blow a
 * small file up into a huge allocation. */
#define EXPANSION 8
#define EXPANSION_SLACK ((int64_t)1 << 24)

/* ---- values ------------------------------------------------------------ */

typedef enum {
    PV_NONE, PV_BOOL, PV_INT, PV_BIGINT, PV_FLOAT, PV_STR, PV_BYTES, PV_TUPLE, PV_LIST, PV_DICT,
    PV_SET, PV_GLOBAL, PV_STORAGE, PV_TENSOR, PV_OPAQUE
} pv_kind;

static const char *const kind_names[] = {"None",  "bool", "int",  "int",    "float",          "str",
                                         "bytes", "tuple", "list", "dict",  "set",            "global",
                                         "storage", "tensor", "opaque object"};

typedef struct pv {
    uint8_t kind;
    uint8_t sub;    /* PV_GLOBAL: its g_kind */
    uint8_t onpath; /* flattening: an ancestor of the value being visited */
    uint32_t n, cap; /* items (a dict holds key, value, key, value, ...) */
    union {
        int64_t i; /* INT, BOOL; GLOBAL: storage dtype; STORAGE, TENSOR: table index */
        double f;
        struct {
            const uint8_t *p;
            size_t len;
        } s; /* STR, BYTES: bytes inside the pickle */
        struct pv **items;
    } u;
} pv;

enum g_kind {
    G_TENSOR_V2, G_TENSOR_V1, G_PARAMETER, G_PARAMETER_STATE, G_FROM_TYPE_V2, G_ORDERED_DICT, G_SIZE,
    G_STORAGE_TYPE, G_TENSOR_TYPE, G_OPAQUE_CALL, G_OPAQUE_CONST
};

static const struct {
    const char *mod, *name;
    uint8_t kind;
    int8_t dtype;
} allowed[] = {
    {"torch._utils", "_rebuild_tensor_v2", G_TENSOR_V2, -1},
    {"torch._utils", "_rebuild_tensor", G_TENSOR_V1, -1},
    {"torch._utils", "_rebuild_parameter", G_PARAMETER, -1},
    {"torch._utils", "_rebuild_parameter_with_state", G_PARAMETER_STATE, -1},
    {"torch._tensor", "_rebuild_from_type_v2", G_FROM_TYPE_V2, -1},
    {"collections", "OrderedDict", G_ORDERED_DICT, -1},
    {"torch", "Size", G_SIZE, -1},
    {"torch", "FloatStorage", G_STORAGE_TYPE, EMBER_TORCH_F32},
    {"torch", "HalfStorage", G_STORAGE_TYPE, EMBER_TORCH_F16},
    {"torch", "BFloat16Storage", G_STORAGE_TYPE, EMBER_TORCH_BF16},
    {"torch", "DoubleStorage", G_STORAGE_TYPE, EMBER_TORCH_F64},
    {"torch", "LongStorage", G_STORAGE_TYPE, EMBER_TORCH_I64},
    {"torch", "IntStorage", G_STORAGE_TYPE, EMBER_TORCH_I32},
    {"torch", "ShortStorage", G_STORAGE_TYPE, EMBER_TORCH_I16},
    {"torch", "CharStorage", G_STORAGE_TYPE, EMBER_TORCH_I8},
    {"torch", "ByteStorage", G_STORAGE_TYPE, EMBER_TORCH_U8},
    {"torch", "BoolStorage", G_STORAGE_TYPE, EMBER_TORCH_BOOL},
    {"torch", "UntypedStorage", G_STORAGE_TYPE, EMBER_TORCH_U8},
    {"torch.storage", "UntypedStorage", G_STORAGE_TYPE, EMBER_TORCH_U8},
    {"torch", "Tensor", G_TENSOR_TYPE, -1},
    {"torch.nn.parameter", "Parameter", G_TENSOR_TYPE, -1},
    /* values a training checkpoint keeps next to its tensors */
    {"torch", "device", G_OPAQUE_CALL, -1},
    {"builtins", "set", G_OPAQUE_CALL, -1},
    {"builtins", "frozenset", G_OPAQUE_CALL, -1},
    {"builtins", "bytearray", G_OPAQUE_CALL, -1},
    {"__builtin__", "set", G_OPAQUE_CALL, -1},
    {"__builtin__", "frozenset", G_OPAQUE_CALL, -1},
    {"__builtin__", "bytearray", G_OPAQUE_CALL, -1},
    {"_codecs", "encode", G_OPAQUE_CALL, -1},
    {"numpy", "dtype", G_OPAQUE_CALL, -1},
    {"numpy", "ndarray", G_OPAQUE_CALL, -1},
    {"numpy.core.multiarray", "scalar", G_OPAQUE_CALL, -1},
    {"numpy.core.multiarray", "_reconstruct", G_OPAQUE_CALL, -1},
    {"numpy._core.multiarray", "scalar", G_OPAQUE_CALL, -1},
    {"numpy._core.multiarray", "_reconstruct", G_OPAQUE_CALL, -1},
};

/* torch.float16 and friends pickle as globals of the torch module. */
static const char *const torch_dtypes[] = {
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32",
    "int", "int16", "short", "int8", "uint8", "bool", "complex64", "cfloat", "complex128", "cdouble",
    "uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2"};

/* Modules whose names in a checkpoint mean someone wants code to run. */
static const char *const dangerous[] = {
    "os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil", "socket",
    "importlib", "pickle", "_pickle", "runpy", "pty", "code", "codeop", "webbrowser", "ctypes",
    "marshal", "types", "commands", "platform", "multiprocessing", "asyncio", "pdb", "timeit",
    "operator", "functools", "io", "_io", "pathlib", "tempfile", "urllib", "http", "requests",
    "ftplib", "smtplib", "telnetlib", "threading", "_thread", "signal", "bdb", "pip", "setuptools",
    "distutils", "glob", "fcntl", "resource", "gc", "inspect", "zipimport", "copyreg", "copy_reg"};

typedef struct {
    char key[EMBER_TORCH_KEY_MAX];
    ember_torch_dtype dtype;
    int64_t numel;
    long out; /* index among the storages the named tensors use, or -1 */
} storage_rec;

typedef struct {
    size_t storage;
    int64_t offset;
    size_t ndim; /* may exceed EMBER_MAX_DIMS: refused, by name, when it is named */
    int64_t size[EMBER_MAX_DIMS], stride[EMBER_MAX_DIMS];
} tensor_rec;

#define SLAB 4096

typedef struct {
    const uint8_t *p;
    size_t n, pos, op_pos;
    const char *what;
    ember_err *err;

    pv **slabs; /* SLAB values each */
    size_t nslabs, nvals;
    pv *none, *true_, *false_, *empty_tuple;

    pv **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    pv **memo;
    size_t memo_cap, memo_count;

    storage_rec *st;
    size_t nst, stcap;
    size_t *st_hash; /* index + 1, 0 = free; size st_hcap (a power of two) */
    size_t st_hcap;
    tensor_rec *tz;
    size_t ntz, tzcap;

    /* flattening */
    ember_torch_index *out;
    size_t tcap, visits;
    int64_t out_elems;
    char name[EMBER_TORCH_NAME_MAX + 1];
} up;

/* ---- messages ----------------------------------------------------------- */

/* Text from the file, made printable for a message. */
static const char *printable(const uint8_t *s, size_t len, char *buf, size_t cap)
{
    size_t o = 0, i = 0;
    for (; i < len && o + 4 < cap; i++) buf[o++] = s[i] >= 32 && s[i] < 127 ? (char)s[i] : '?';
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = 0;
    return buf;
}

static int corrupt(up *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int corrupt(up *u, const char *fmt, ...)
{
    char m[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return ember_err_set(u->err,
                         "%s: its data.pkl is not a checkpoint pickle Ember can read (at byte %zu: %s); the file "
                         "is damaged, or was not written by torch.save",
                         u->what, u->op_pos, m);
}

static int bad(up *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(up *u, const char *fmt, ...)
{
    char m[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return ember_err_set(u->err, "%s: %s", u->what, m);
}

static int oom(up *u) { return ember_err_set(u->err, "%s: out of memory reading the checkpoint", u->what); }

/* ---- allocation ---------------------------------------------------------- */

static pv *new_val(up *u, pv_kind kind)
{
    if (u->nvals >= MAX_OBJECTS) {
        corrupt(u, "it builds more than %zu objects, far more than a state dict needs", MAX_OBJECTS);
        return NULL;
    }
    if (u->nvals % SLAB == 0) {
        pv **s = realloc(u->slabs, (u->nslabs + 1) * sizeof *s);
        if (!s) {
            oom(u);
            return NULL;
        }
        u->slabs = s;
        if (!(s[u->nslabs] = calloc(SLAB, sizeof(pv)))) {
            oom(u);
            return NULL;
        }
        u->nslabs++;
    }
    pv *v = &u->slabs[u->nvals / SLAB][u->nvals % SLAB];
    u->nvals++;
    v->kind = (uint8_t)kind;
    return v;
}

static void free_vals(up *u)
{
    for (size_t i = 0; i < u->nvals; i++) {
        pv *v = &u->slabs[i / SLAB][i % SLAB];
        if (v->kind == PV_TUPLE || v->kind == PV_LIST || v->kind == PV_DICT || v->kind == PV_SET)
            free(v->u.items);
    }
    for (size_t i = 0; i < u->nslabs; i++) free(u->slabs[i]);
    free(u->slabs);
}

static int add_item(up *u, pv *c, pv *item)
{
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 4;
        if (cap <= c->cap) return corrupt(u, "a container grows too large");
        pv **it = realloc(c->u.items, (size_t)cap * sizeof *it);
        if (!it) return oom(u);
        c->u.items = it;
        c->cap = cap;
    }
    c->u.items[c->n++] = item;
    return 0;
}

/* A tuple, list, dict or set holding items[0..n). */
static pv *new_container(up *u, pv_kind kind, pv **items, size_t n)
{
    if (kind == PV_TUPLE && n == 0) return u->empty_tuple;
    pv *v = new_val(u, kind);
    if (!v) return NULL;
    if (n) {
        if (!(v->u.items = malloc(n * sizeof *items))) {
            oom(u);
            return NULL;
        }
        memcpy(v->u.items, items, n * sizeof *items);
        v->n = v->cap = (uint32_t)n;
    }
    return v;
}

/* ---- the stack ------------------------------------------------------------ */

static int push(up *u, pv *v)
{
    if (!v) return -1;
    if (u->sp == u->scap) {
        size_t cap = u->scap ? u->scap * 2 : 64;
        pv **s = realloc(u->stack, cap * sizeof *s);
        if (!s) return oom(u);
        u->stack = s;
        u->scap = cap;
    }
    u->stack[u->sp++] = v;
    return 0;
}

static size_t base(const up *u) { return u->nmarks ? u->marks[u->nmarks - 1] : 0; }

/* The top k values above the last mark must exist. */
static int need_stack(up *u, size_t k, const char *op)
{
    if (u->sp - base(u) < k)
        return corrupt(u, "%s needs %zu value%s on the stack, there %s %zu", op, k, k == 1 ? "" : "s",
                       u->sp - base(u) == 1 ? "is" : "are", u->sp - base(u));
    return 0;
}

static pv *pop(up *u) { return u->stack[--u->sp]; }

/* Ends the innermost MARK: its values are stack[*first .. sp). */
static int pop_mark(up *u, size_t *first, const char *op)
{
    if (!u->nmarks) return corrupt(u, "%s without a MARK before it", op);
    *first = u->marks[--u->nmarks];
    return 0;
}

/* ---- reading the opcode stream ------------------------------------------ */

static int need_bytes(up *u, size_t k)
{
    if (k > u->n - u->pos) return corrupt(u, "the pickle ends in the middle of an opcode");
    return 0;
}

static uint64_t le(const uint8_t *p, int k)
{
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* A string, bytes or big-integer payload of a length read first. */
static int payload(up *u, int lenbytes, const uint8_t **p, size_t *len)
{
    if (need_bytes(u, (size_t)lenbytes)) return -1;
    uint64_t l = le(u->p + u->pos, lenbytes);
    u->pos += (size_t)lenbytes;
    if (l > u->n - u->pos)
        return corrupt(u, "a %llu-byte value runs past the end of the pickle", (unsigned long long)l);
    *p = u->p + u->pos;
    *len = (size_t)l;
    u->pos += (size_t)l;
    return 0;
}

static int push_str(up *u, pv_kind kind, const uint8_t *p, size_t len)
{
    pv *v = new_val(u, kind);
    if (!v) return -1;
    v->u.s.p = p;
    v->u.s.len = len;
    return push(u, v);
}

static int push_int(up *u, int64_t i)
{
    pv *v = new_val(u, PV_INT);
    if (!v) return -1;
    v->u.i = i;
    return push(u, v);
}

/* LONG1 / LONG4: little-endian two's complement of any length. */
static int push_long(up *u, const uint8_t *b, size_t len)
{
    if (len == 0) return push_int(u, 0);
    int neg = b[len - 1] & 0x80;
    int fits = 1;
    for (size_t i = 8; i < len && fits; i++) fits = b[i] == (neg ? 0xff : 0);
    if (len > 8 && fits) fits = ((b[7] & 0x80) != 0) == (neg != 0);
    if (!fits) return push(u, new_val(u, PV_BIGINT));
    uint64_t v = 0;
    size_t k = len < 8 ? len : 8;
    for (size_t i = k; i-- > 0;) v = v << 8 | b[i];
    if (neg && k < 8) v |= ~(uint64_t)0 << (8 * k);
    int64_t s;
    memcpy(&s, &v, sizeof s);
    return push_int(u, s);
}

static int memo_put(up *u, uint64_t idx)
{
    if (!u->sp || u->sp == base(u)) return corrupt(u, "memo store with nothing on the stack");
    /* a pickler numbers memo entries 0, 1, 2, ...: an index far past the
       objects built so far is an attack on memory, not a checkpoint */
    if (idx >= u->nvals + 1024) return corrupt(u, "memo index %llu is out of range", (unsigned long long)idx);
    if (idx >= u->memo_cap) {
        size_t cap = u->memo_cap ? u->memo_cap : 64;
        while (cap <= idx) cap *= 2;
        pv **m = realloc(u->memo, cap * sizeof *m);
        if (!m) return oom(u);
        memset(m + u->memo_cap, 0, (cap - u->memo_cap) * sizeof *m);
        u->memo = m;
        u->memo_cap = cap;
    }
    if (!u->memo[idx]) u->memo_count++;
    u->memo[idx] = u->stack[u->sp - 1];
    return 0;
}

static int memo_get(up *u, uint64_t idx)
{
    if (idx >= u->memo_cap || !u->memo[idx])
        return corrupt(u, "memo index %llu is out of range (nothing was stored there)", (unsigned long long)idx);
    return push(u, u->memo[idx]);
}

/* ---- globals ------------------------------------------------------------ */

static int eq(const uint8_t *s, size_t len, const char *z) { return strlen(z) == len && !memcmp(s, z, len); }

static int refuse_global(up *u, const uint8_t *mod, size_t ml, const uint8_t *name, size_t nl)
{
    char m[128], n[128];
    if (eq(mod, ml, "__builtin__")) { /* protocol 2's name for it */
        mod = (const uint8_t *)"builtins";
        ml = 8;
    }
    printable(mod, ml, m, sizeof m);
    printable(name, nl, n, sizeof n);
    size_t top = 0;
    while (top < ml && mod[top] != '.') top++;
    for (size_t i = 0; i < sizeof dangerous / sizeof *dangerous; i++)
        if (eq(mod, top, dangerous[i]))
            return ember_err_set(u->err,
                                 "refusing to load '%s': it asks to run %s.%s, which a state dict never needs "
                                 "(the file may be malicious). Ember runs nothing from a checkpoint; only load "
                                 "checkpoints you trust, and prefer safetensors",
                                 u->what, m, n);
    if (eq(mod, top, "torch"))
        return ember_err_set(u->err,
                             "refusing to load '%s': it holds %s.%s, which Ember does not rebuild (it reads dense "
                             "tensors in dicts, lists and plain values); save the weights with "
                             "torch.save(model.state_dict()) or as safetensors",
                             u->what, m, n);
    return ember_err_set(u->err,
                         "refusing to load '%s': it asks for %s.%s, which is not part of a state dict (Ember "
                         "rebuilds only tensors, containers and plain values, and runs nothing); save the weights "
                         "alone with torch.save(model.state_dict()) or as safetensors",
                         u->what, m, n);
}

static int push_global(up *u, const uint8_t *mod, size_t ml, const uint8_t *name, size_t nl)
{
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        if (eq(mod, ml, allowed[i].mod) && eq(name, nl, allowed[i].name)) {
            pv *v = new_val(u, PV_GLOBAL);
            if (!v) return -1;
            v->sub = allowed[i].kind;
            v->u.i = allowed[i].dtype;
            return push(u, v);
        }
    if (eq(mod, ml, "torch"))
        for (size_t i = 0; i < sizeof torch_dtypes / sizeof *torch_dtypes; i++)
            if (eq(name, nl, torch_dtypes[i])) {
                pv *v = new_val(u, PV_GLOBAL);
                if (!v) return -1;
                v->sub = G_OPAQUE_CONST;
                return push(u, v);
            }
    return refuse_global(u, mod, ml, name, nl);
}

/* GLOBAL and INST: "module\nname\n" in the stream. */
static int read_line(up *u, const uint8_t **s, size_t *len)
{
    const uint8_t *start = u->p + u->pos;
    const uint8_t *nl = memchr(start, '\n', u->n - u->pos);
    if (!nl) return corrupt(u, "a global's name has no end");
    *s = start;
    *len = (size_t)(nl - start);
    u->pos += *len + 1;
    return 0;
}

/* ---- storages and tensors -------------------------------------------- */

static size_t hash_key(const char *k)
{
    size_t h = 1469598103934665603ull;
    for (; *k; k++) h = (h ^ (uint8_t)*k) * 1099511628211ull;
    return h;
}

static int st_rehash(up *u)
{
    size_t cap = u->st_hcap ? u->st_hcap * 2 : 64;
    size_t *h = calloc(cap, sizeof *h);
    if (!h) return oom(u);
    for (size_t i = 0; i < u->nst; i++) {
        size_t j = hash_key(u->st[i].key) & (cap - 1);
        while (h[j]) j = (j + 1) & (cap - 1);
        h[j] = i + 1;
    }
    free(u->st_hash);
    u->st_hash = h;
    u->st_hcap = cap;
    return 0;
}

/* BINPERSID: ('storage', <storage type>, key, location, numel). */
static int persistent_load(up *u, pv *pid)
{
    if (pid->kind != PV_TUPLE || pid->n != 5 || pid->u.items[0]->kind != PV_STR ||
        !eq(pid->u.items[0]->u.s.p, pid->u.items[0]->u.s.len, "storage"))
        return corrupt(u, "a persistent id that is not a torch storage reference");
    pv *type = pid->u.items[1], *key = pid->u.items[2], *loc = pid->u.items[3], *numel = pid->u.items[4];
    if (type->kind != PV_GLOBAL || type->sub != G_STORAGE_TYPE)
        return corrupt(u, "a storage whose type is a %s, not a torch storage class", kind_names[type->kind]);
    if (key->kind != PV_STR || loc->kind != PV_STR || numel->kind != PV_INT)
        return corrupt(u, "a storage reference whose key, location or size has the wrong type");
    size_t kl = key->u.s.len;
    int ok = kl > 0 && kl < EMBER_TORCH_KEY_MAX;
    for (size_t i = 0; ok && i < kl; i++) {
        uint8_t c = key->u.s.p[i];
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
    }
    if (!ok) {
        char k[80];
        return corrupt(u, "the storage key '%s' is not a plain name", printable(key->u.s.p, kl, k, sizeof k));
    }
    ember_torch_dtype dt = (ember_torch_dtype)type->u.i;
    int64_t n = numel->u.i;
    if (n < 0 || n > MAX_STORAGE_BYTES / (int64_t)ember_torch_dtype_size(dt))
        return corrupt(u, "storage '%.*s' declares %lld elements", (int)kl, (const char *)key->u.s.p, (long long)n);
    char k[EMBER_TORCH_KEY_MAX];
    memcpy(k, key->u.s.p, kl);
    k[kl] = 0;
    size_t idx = SIZE_MAX;
    if (u->st_hcap) {
        for (size_t j = hash_key(k) & (u->st_hcap - 1); u->st_hash[j]; j = (j + 1) & (u->st_hcap - 1))
            if (!strcmp(u->st[u->st_hash[j] - 1].key, k)) {
                idx = u->st_hash[j] - 1;
                break;
            }
    }
    if (idx != SIZE_MAX) {
        if (u->st[idx].dtype != dt || u->st[idx].numel != n)
            return corrupt(u, "storage '%s' is declared twice, as %lld %s and as %lld %s", k,
                           (long long)u->st[idx].numel, ember_torch_dtype_name(u->st[idx].dtype), (long long)n,
                           ember_torch_dtype_name(dt));
    } else {
        if (u->nst == u->stcap) {
            size_t cap = u->stcap ? u->stcap * 2 : 64;
            storage_rec *s = realloc(u->st, cap * sizeof *s);
            if (!s) return oom(u);
            u->st = s;
            u->stcap = cap;
        }
        idx = u->nst++;
        memcpy(u->st[idx].key, k, kl + 1);
        u->st[idx].dtype = dt;
        u->st[idx].numel = n;
        u->st[idx].out = -1;
        if (2 * u->nst > u->st_hcap) {
            if (st_rehash(u)) return -1;
        } else {
            size_t j = hash_key(k) & (u->st_hcap - 1);
            while (u->st_hash[j]) j = (j + 1) & (u->st_hcap - 1);
            u->st_hash[j] = idx + 1;
        }
    }
    pv *v = new_val(u, PV_STORAGE);
    if (!v) return -1;
    v->u.i = (int64_t)idx;
    return push(u, v);
}

static int int_tuple(up *u, pv *t, const char *what, size_t *n, int64_t *out)
{
    if (t->kind != PV_TUPLE && t->kind != PV_LIST)
        return corrupt(u, "a tensor's %s is a %s, not a tuple", what, kind_names[t->kind]);
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->u.items[i]->kind != PV_INT)
            return corrupt(u, "a tensor's %s holds a %s", what, kind_names[t->u.items[i]->kind]);
        if (i < EMBER_MAX_DIMS) out[i] = t->u.items[i]->u.i;
    }
    *n = t->n;
    return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static pv *rebuild_tensor(up *u, pv *args, int v1)
{
    pv **a = args->u.items;
    if (args->n < 4 || args->n > 7 || (!v1 && args->n < 6)) {
        corrupt(u, "_rebuild_tensor%s called with %u arguments", v1 ? "" : "_v2", args->n);
        return NULL;
    }
    if (a[0]->kind != PV_STORAGE) {
        corrupt(u, "a tensor rebuilt from a %s, not from a storage", kind_names[a[0]->kind]);
        return NULL;
    }
    if (a[1]->kind != PV_INT) {
        corrupt(u, "a tensor whose storage offset is a %s", kind_names[a[1]->kind]);
        return NULL;
    }
    tensor_rec t = {.storage = (size_t)a[0]->u.i, .offset = a[1]->u.i};
    size_t ns = 0;
    if (int_tuple(u, a[2], "size", &ns, t.size) || int_tuple(u, a[3], "stride", &t.ndim, t.stride)) return NULL;
    if (ns != t.ndim) {
        corrupt(u, "a tensor with %zu sizes and %zu strides", ns, t.ndim);
        return NULL;
    }
    if (u->ntz == u->tzcap) {
        size_t cap = u->tzcap ? u->tzcap * 2 : 64;
        tensor_rec *z = realloc(u->tz, cap * sizeof *z);
        if (!z) {
            oom(u);
            return NULL;
        }
        u->tz = z;
        u->tzcap = cap;
    }
    pv *v = new_val(u, PV_TENSOR);
    if (!v) return NULL;
    v->u.i = (int64_t)u->ntz;
    u->tz[u->ntz++] = t;
    return v;
}

static int is_rebuild(const pv *f)
{
    return f->kind == PV_GLOBAL && (f->sub == G_TENSOR_V2 || f->sub == G_TENSOR_V1 || f->sub == G_PARAMETER ||
                                    f->sub == G_PARAMETER_STATE);
}

/* What REDUCE / NEWOBJ of an allowed global builds. */
static pv *apply(up *u, pv *fn, pv *args, const char *op)
{
    if (fn->kind != PV_GLOBAL) {
        corrupt(u, "%s calls a %s", op, kind_names[fn->kind]);
        return NULL;
    }
    if (args->kind != PV_TUPLE) {
        corrupt(u, "%s with arguments in a %s, not a tuple", op, kind_names[args->kind]);
        return NULL;
    }
    pv **a = args->u.items;
    switch (fn->sub) {
    case G_TENSOR_V2:
    case G_TENSOR_V1:
        return rebuild_tensor(u, args, fn->sub == G_TENSOR_V1);
    case G_PARAMETER:
    case G_PARAMETER_STATE:
        /* (data, requires_grad, hooks[, state]): the tensor is the parameter */
        if (args->n < 1 || a[0]->kind != PV_TENSOR) {
            corrupt(u, "_rebuild_parameter of something that is not a tensor");
            return NULL;
        }
        return a[0];
    case G_FROM_TYPE_V2: {
        /* (func, new_type, args, state): a tensor (sub)class with attributes */
        if (args->n != 4 || !is_rebuild(a[0]) || a[1]->kind != PV_GLOBAL || a[1]->sub != G_TENSOR_TYPE) {
            corrupt(u, "_rebuild_from_type_v2 that does not rebuild a plain tensor or Parameter");
            return NULL;
        }
        pv *t = apply(u, a[0], a[2], op);
        if (t && t->kind != PV_TENSOR) {
            corrupt(u, "_rebuild_from_type_v2 that does not give a tensor");
            return NULL;
        }
        return t;
    }
    case G_ORDERED_DICT: {
        pv *d = new_container(u, PV_DICT, NULL, 0);
        if (!d || args->n == 0) return d;
        /* OrderedDict([(k, v), ...]) */
        pv *l = a[0];
        if (args->n != 1 || (l->kind != PV_LIST && l->kind != PV_TUPLE)) {
            corrupt(u, "OrderedDict built from a %s", kind_names[l->kind]);
            return NULL;
        }
        for (uint32_t i = 0; i < l->n; i++) {
            pv *kv = l->u.items[i];
            if ((kv->kind != PV_LIST && kv->kind != PV_TUPLE) || kv->n != 2) {
                corrupt(u, "OrderedDict built from items that are not pairs");
                return NULL;
            }
            if (add_item(u, d, kv->u.items[0]) || add_item(u, d, kv->u.items[1])) return NULL;
        }
        return d;
    }
    case G_SIZE:
        if (args->n != 1 || (a[0]->kind != PV_TUPLE && a[0]->kind != PV_LIST)) {
            corrupt(u, "torch.Size of something that is not a tuple");
            return NULL;
        }
        return a[0];
    case G_OPAQUE_CALL:
        return new_val(u, PV_OPAQUE);
    default:
        corrupt(u, "%s calls a torch storage class, type or dtype", op);
        return NULL;
    }
}

/* ---- the opcode loop ---------------------------------------------------- */

static int run(up *u, pv **result)
{
    *result = NULL;
    while (u->pos < u->n) {
        u->op_pos = u->pos;
        uint8_t op = u->p[u->pos++];
        const uint8_t *s = NULL;
        size_t len = 0, first = 0;
        switch (op) {
        case 0x80: /* PROTO */
            if (need_bytes(u, 1)) return -1;
            if (u->p[u->pos] > 5) return corrupt(u, "pickle protocol %d is newer than 5", u->p[u->pos]);
            u->pos++;
            break;
        case 0x95: /* FRAME: a length hint only */
            if (need_bytes(u, 8)) return -1;
            u->pos += 8;
            break;
        case '.': /* STOP */
            if (need_stack(u, 1, "STOP")) return -1;
            *result = pop(u);
            return 0;
        case '(': /* MARK */
            if (u->nmarks == u->mcap) {
                size_t cap = u->mcap ? u->mcap * 2 : 32;
                size_t *m = realloc(u->marks, cap * sizeof *m);
                if (!m) return oom(u);
                u->marks = m;
                u->mcap = cap;
            }
            u->marks[u->nmarks++] = u->sp;
            break;
        case '0': /* POP */
            if (u->sp == base(u)) {
                if (!u->nmarks) return corrupt(u, "POP of an empty stack");
                u->nmarks--; /* Python's POP drops an empty mark */
            } else {
                u->sp--;
            }
            break;
        case '1': /* POP_MARK */
            if (pop_mark(u, &first, "POP_MARK")) return -1;
            u->sp = first;
            break;
        case '2': /* DUP */
            if (need_stack(u, 1, "DUP") || push(u, u->stack[u->sp - 1])) return -1;
            break;
        case 'N':
            if (push(u, u->none)) return -1;
            break;
        case 0x88:
            if (push(u, u->true_)) return -1;
            break;
        case 0x89:
            if (push(u, u->false_)) return -1;
            break;
        case 'J': /* BININT */
            if (need_bytes(u, 4)) return -1;
            if (push_int(u, (int32_t)(uint32_t)le(u->p + u->pos, 4))) return -1;
            u->pos += 4;
            break;
        case 'K': /* BININT1 */
            if (need_bytes(u, 1) || push_int(u, u->p[u->pos])) return -1;
            u->pos += 1;
            break;
        case 'M': /* BININT2 */
            if (need_bytes(u, 2) || push_int(u, (int64_t)le(u->p + u->pos, 2))) return -1;
            u->pos += 2;
            break;
        case 0x8a: /* LONG1 */
        case 0x8b: /* LONG4 */
            if (op == 0x8b) {
                if (need_bytes(u, 4)) return -1;
                if (u->p[u->pos + 3] & 0x80) return corrupt(u, "LONG4 with a negative length");
            }
            if (payload(u, op == 0x8a ? 1 : 4, &s, &len) || push_long(u, s, len)) return -1;
            break;
        case 'G': { /* BINFLOAT, big-endian */
            if (need_bytes(u, 8)) return -1;
            uint64_t b = 0;
            for (int i = 0; i < 8; i++) b = b << 8 | u->p[u->pos + i];
            u->pos += 8;
            pv *v = new_val(u, PV_FLOAT);
            if (!v) return -1;
            memcpy(&v->u.f, &b, sizeof b);
            if (push(u, v)) return -1;
            break;
        }
        case 'X': /* BINUNICODE */
        case 0x8c: /* SHORT_BINUNICODE */
        case 0x8d: /* BINUNICODE8 */
        case 'T': /* BINSTRING (protocol 1 str) */
        case 'U': /* SHORT_BINSTRING */
            if (payload(u, op == 0x8c || op == 'U' ? 1 : op == 0x8d ? 8 : 4, &s, &len) ||
                push_str(u, PV_STR, s, len))
                return -1;
            break;
        case 'B': /* BINBYTES */
        case 'C': /* SHORT_BINBYTES */
        case 0x8e: /* BINBYTES8 */
        case 0x96: /* BYTEARRAY8 */
            if (payload(u, op == 'C' ? 1 : op == 'B' ? 4 : 8, &s, &len) || push_str(u, PV_BYTES, s, len)) return -1;
            break;
        case ')':
            if (push(u, u->empty_tuple)) return -1;
            break;
        case 't': /* TUPLE */
        case 'l': /* LIST */
        case 'd': /* DICT */
        case 0x91: { /* FROZENSET */
            const char *nm = op == 't' ? "TUPLE" : op == 'l' ? "LIST" : op == 'd' ? "DICT" : "FROZENSET";
            if (pop_mark(u, &first, nm)) return -1;
            size_t n = u->sp - first;
            if (op == 'd' && n % 2) return corrupt(u, "DICT with an odd number of values");
            pv *v = new_container(u, op == 't' ? PV_TUPLE : op == 'l' ? PV_LIST : op == 'd' ? PV_DICT : PV_SET,
                                  u->stack + first, n);
            u->sp = first;
            if (push(u, v)) return -1;
            break;
        }
        case 0x85: /* TUPLE1..3 */
        case 0x86:
        case 0x87: {
            size_t n = (size_t)(op - 0x84);
            if (need_stack(u, n, "TUPLEn")) return -1;
            pv *v = new_container(u, PV_TUPLE, u->stack + u->sp - n, n);
            u->sp -= n;
            if (push(u, v)) return -1;
            break;
        }
        case ']':
            if (push(u, new_container(u, PV_LIST, NULL, 0))) return -1;
            break;
        case '}':
            if (push(u, new_container(u, PV_DICT, NULL, 0))) return -1;
            break;
        case 0x8f: /* EMPTY_SET */
            if (push(u, new_container(u, PV_SET, NULL, 0))) return -1;
            break;
        case 'a': /* APPEND */
        case 's': /* SETITEM */
        case 'e': /* APPENDS */
        case 'u': /* SETITEMS */
        case 0x90: { /* ADDITEMS */
            int many = op == 'e' || op == 'u' || op == 0x90;
            const char *nm = op == 'a'   ? "APPEND"
                             : op == 's' ? "SETITEM"
                             : op == 'e' ? "APPENDS"
                             : op == 'u' ? "SETITEMS"
                                         : "ADDITEMS";
            pv_kind want = op == 'a' || op == 'e' ? PV_LIST : op == 's' || op == 'u' ? PV_DICT : PV_SET;
            if (many) {
                if (pop_mark(u, &first, nm)) return -1;
            } else {
                if (need_stack(u, op == 's' ? 3 : 2, nm)) return -1;
                first = u->sp - (op == 's' ? 2 : 1);
            }
            if (first == 0 || first - 1 < base(u)) return corrupt(u, "%s with nothing to add to", nm);
            pv *c = u->stack[first - 1];
            if (c->kind != want) return corrupt(u, "%s on a %s", nm, kind_names[c->kind]);
            if (want == PV_DICT && (u->sp - first) % 2) return corrupt(u, "%s with a key and no value", nm);
            for (size_t i = first; i < u->sp; i++)
                if (add_item(u, c, u->stack[i])) return -1;
            u->sp = first;
            break;
        }
        case 'c': /* GLOBAL */
        case 'i': { /* INST: GLOBAL, then a call with the values above the mark */
            const uint8_t *m = NULL, *n = NULL;
            size_t ml = 0, nl = 0;
            if (read_line(u, &m, &ml) || read_line(u, &n, &nl) || push_global(u, m, ml, n, nl)) return -1;
            if (op == 'i') {
                pv *fn = pop(u);
                if (pop_mark(u, &first, "INST")) return -1;
                pv *args = new_container(u, PV_TUPLE, u->stack + first, u->sp - first);
                u->sp = first;
                if (!args || push(u, apply(u, fn, args, "INST"))) return -1;
            }
            break;
        }
        case 0x93: { /* STACK_GLOBAL */
            if (need_stack(u, 2, "STACK_GLOBAL")) return -1;
            pv *n = pop(u), *m = pop(u);
            if (m->kind != PV_STR || n->kind != PV_STR)
                return corrupt(u, "STACK_GLOBAL of values that are not strings");
            if (push_global(u, m->u.s.p, m->u.s.len, n->u.s.p, n->u.s.len)) return -1;
            break;
        }
        case 'R': /* REDUCE */
        case 0x81: { /* NEWOBJ */
            if (need_stack(u, 2, op == 'R' ? "REDUCE" : "NEWOBJ")) return -1;
            pv *args = pop(u), *fn = pop(u);
            if (push(u, apply(u, fn, args, op == 'R' ? "REDUCE" : "NEWOBJ"))) return -1;
            break;
        }
        case 0x92: { /* NEWOBJ_EX: cls, args, kwargs */
            if (need_stack(u, 3, "NEWOBJ_EX")) return -1;
            pv *kw = pop(u), *args = pop(u), *fn = pop(u);
            if (kw->kind != PV_DICT || kw->n) return corrupt(u, "NEWOBJ_EX with keyword arguments");
            if (push(u, apply(u, fn, args, "NEWOBJ_EX"))) return -1;
            break;
        }
        case 'o': { /* OBJ: MARK cls args... */
            if (pop_mark(u, &first, "OBJ")) return -1;
            if (u->sp == first) return corrupt(u, "OBJ without a class");
            pv *fn = u->stack[first];
            pv *args = new_container(u, PV_TUPLE, u->stack + first + 1, u->sp - first - 1);
            u->sp = first;
            if (!args || push(u, apply(u, fn, args, "OBJ"))) return -1;
            break;
        }
        case 'b': { /* BUILD: state for the object below it */
            if (need_stack(u, 2, "BUILD")) return -1;
            pv *obj = u->stack[u->sp - 2];
            /* an OrderedDict's _metadata, a tensor subclass's or a numpy
               value's state: nothing Ember keeps */
            if (obj->kind != PV_DICT && obj->kind != PV_TENSOR && obj->kind != PV_OPAQUE)
                return corrupt(u, "BUILD on a %s", kind_names[obj->kind]);
            u->sp--;
            break;
        }
        case 'Q': /* BINPERSID */
            if (need_stack(u, 1, "BINPERSID") || persistent_load(u, pop(u))) return -1;
            break;
        case 'q': /* BINPUT */
            if (need_bytes(u, 1) || memo_put(u, u->p[u->pos])) return -1;
            u->pos += 1;
            break;
        case 'r': /* LONG_BINPUT */
            if (need_bytes(u, 4) || memo_put(u, le(u->p + u->pos, 4))) return -1;
            u->pos += 4;
            break;
        case 0x94: /* MEMOIZE */
            if (memo_put(u, u->memo_count)) return -1;
            break;
        case 'h': /* BINGET */
            if (need_bytes(u, 1) || memo_get(u, u->p[u->pos])) return -1;
            u->pos += 1;
            break;
        case 'j': /* LONG_BINGET */
            if (need_bytes(u, 4) || memo_get(u, le(u->p + u->pos, 4))) return -1;
            u->pos += 4;
            break;
        case 'P':
            return corrupt(u, "a text persistent id (PERSID), which torch.save does not write");
        case 0x82:
        case 0x83:
        case 0x84:
            return corrupt(u, "an extension-registry opcode (EXT1/2/4), which torch.save does not write");
        case 0x97:
        case 0x98:
            return corrupt(u, "an out-of-band buffer opcode, which torch.save does not write");
        case 'I':
        case 'L':
        case 'F':
        case 'S':
        case 'V':
        case 'g':
        case 'p':
            return corrupt(u, "the protocol-0 text opcode '%c', which torch.save does not write", op);
        default:
            return corrupt(u, "unknown opcode 0x%02x", op);
        }
    }
    return corrupt(u, "the pickle ends without STOP");
}

/* ---- flattening into named tensors ---------------------------------------- */

static int add_tensor(up *u, const tensor_rec *t, size_t nlen)
{
    char nm[160];
    printable((const uint8_t *)u->name, nlen, nm, sizeof nm);
    if (!nlen) return bad(u, "a tensor has an empty name (the file holds a bare tensor, not a dict of tensors)");
    storage_rec *s = &u->st[t->storage];
    if (t->ndim > EMBER_MAX_DIMS)
        return bad(u, "tensor '%s' has %zu dimensions; Ember reads at most %d", nm, t->ndim, EMBER_MAX_DIMS);
    int64_t numel = 1, last = t->offset;
    if (t->offset < 0) return bad(u, "tensor '%s' has a negative storage offset; the file is corrupt", nm);
    for (size_t d = 0; d < t->ndim; d++) {
        if (t->size[d] < 0 || t->stride[d] < 0)
            return bad(u, "tensor '%s' has a negative %s (%lld) in dimension %zu; torch.save never writes one, "
                          "the file is corrupt",
                       nm, t->size[d] < 0 ? "size" : "stride", (long long)(t->size[d] < 0 ? t->size[d] : t->stride[d]),
                       d);
        if (t->size[d] && numel > MAX_NUMEL / t->size[d])
            return bad(u, "tensor '%s' declares more than 2^40 elements; the file is corrupt", nm);
        numel *= t->size[d];
    }
    if (numel) {
        for (size_t d = 0; d < t->ndim; d++) {
            /* (size - 1) * stride, added to the offset, without overflow */
            if (t->stride[d] && (t->size[d] - 1) > (INT64_MAX - last) / t->stride[d]) {
                last = INT64_MAX;
                break;
            }
            last += (t->size[d] - 1) * t->stride[d];
        }
        if (last >= s->numel)
            return bad(u, "tensor '%s' reads element %lld of storage '%s', which holds %lld; the file is corrupt",
                       nm, (long long)last, s->key, (long long)s->numel);
    }
    if (numel > INT64_MAX - u->out_elems) return bad(u, "the tensors declare too many elements");
    u->out_elems += numel;

    ember_torch_index *o = u->out;
    if (o->n_tensors == u->tcap) {
        size_t cap = u->tcap ? u->tcap * 2 : 64;
        ember_torch_tensor *z = realloc(o->tensors, cap * sizeof *z);
        if (!z) return oom(u);
        o->tensors = z;
        u->tcap = cap;
    }
    if (s->out < 0) s->out = (long)o->n_storages++;
    ember_torch_tensor *e = &o->tensors[o->n_tensors];
    memset(e, 0, sizeof *e);
    if (!(e->name = malloc(nlen + 1))) return oom(u);
    memcpy(e->name, u->name, nlen);
    e->name[nlen] = 0;
    e->storage = (size_t)s->out;
    e->offset = t->offset;
    e->ndim = (int)t->ndim;
    for (int d = 0; d < EMBER_MAX_DIMS; d++) {
        e->size[d] = d < e->ndim ? t->size[d] : 1;
        e->stride[d] = d < e->ndim ? t->stride[d] : 0;
    }
    o->n_tensors++;
    return 0;
}

/* Appends ".key" (or "key" at the top) to the name; returns the new length
 * or -1. Keys other than str and int are not names: returns -2 (skip). */
static long join(up *u, size_t nlen, const pv *key)
{
    char num[32];
    const char *k;
    size_t kl;
    if (key->kind == PV_STR) {
        k = (const char *)key->u.s.p;
        kl = key->u.s.len;
        if (memchr(k, 0, kl)) return bad(u, "a key holds a NUL character; the file is corrupt");
    } else if (key->kind == PV_INT) {
        kl = (size_t)snprintf(num, sizeof num, "%lld", (long long)key->u.i);
        k = num;
    } else {
        return -2;
    }
    size_t need = nlen + (nlen ? 1 : 0) + kl;
    if (need > EMBER_TORCH_NAME_MAX) {
        char nm[100];
        return bad(u, "a tensor name longer than %d bytes (starting '%s')", EMBER_TORCH_NAME_MAX,
                   printable((const uint8_t *)u->name, nlen, nm, sizeof nm));
    }
    if (nlen) u->name[nlen++] = '.';
    memcpy(u->name + nlen, k, kl);
    return (long)need;
}

static int walk(up *u, pv *v, size_t nlen, int depth)
{
    if (v->kind == PV_TENSOR) return add_tensor(u, &u->tz[v->u.i], nlen);
    if (v->kind != PV_DICT && v->kind != PV_LIST && v->kind != PV_TUPLE) return 0;
    u->visits += 1 + (size_t)v->n;
    if (u->visits > MAX_VISITS)
        return bad(u, "its pickle refers to the same containers over and over (more than %zu visits); it is not "
                      "a checkpoint",
                   MAX_VISITS);
    if (v->onpath) return bad(u, "its pickle holds a container inside itself; a checkpoint never does");
    if (depth >= EMBER_TORCH_MAX_DEPTH)
        return bad(u, "its values are nested more than %d levels deep; a checkpoint nests a few",
                   EMBER_TORCH_MAX_DEPTH);
    v->onpath = 1;
    int rc = 0;
    int dict = v->kind == PV_DICT;
    for (uint32_t i = 0; i < v->n && !rc; i += dict ? 2 : 1) {
        pv *child = dict ? v->u.items[i + 1] : v->u.items[i];
        if (child->kind != PV_TENSOR && child->kind != PV_DICT && child->kind != PV_LIST && child->kind != PV_TUPLE)
            continue;
        pv idx = {.kind = PV_INT, .u.i = (int64_t)i};
        long l = join(u, nlen, dict ? v->u.items[i] : &idx);
        if (l == -2) continue;
        if (l < 0) rc = -1;
        else rc = walk(u, child, (size_t)l, depth + 1);
    }
    v->onpath = 0;
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(ember_torch_tensor *const *)a)->name, (*(ember_torch_tensor *const *)b)->name);
}

static int flatten(up *u, pv *root)
{
    if (root->kind == PV_TENSOR)
        return bad(u, "it holds a single tensor, not a dict of tensors (torch.save(tensor) rather than "
                      "torch.save(model.state_dict()))");
    if (root->kind != PV_DICT && root->kind != PV_LIST && root->kind != PV_TUPLE)
        return bad(u, "it holds a %s, not a dict of tensors", kind_names[root->kind]);
    if (walk(u, root, 0, 0)) return -1;
    ember_torch_index *o = u->out;
    int64_t stored = 0;
    if (o->n_storages && !(o->storages = calloc(o->n_storages, sizeof *o->storages))) return oom(u);
    for (size_t i = 0; i < u->nst; i++)
        if (u->st[i].out >= 0) {
            ember_torch_storage *s = &o->storages[u->st[i].out];
            memcpy(s->key, u->st[i].key, sizeof s->key);
            s->dtype = u->st[i].dtype;
            s->numel = u->st[i].numel;
            stored += s->numel;
        }
    if (u->out_elems > EXPANSION * stored + EXPANSION_SLACK)
        return bad(u, "its tensors are views of %lld stored elements that would expand to %lld; that is not a "
                      "checkpoint but a memory bomb",
                   (long long)stored, (long long)u->out_elems);
    if (o->n_tensors > 1) {
        ember_torch_tensor **by = malloc(o->n_tensors * sizeof *by);
        if (!by) return oom(u);
        for (size_t i = 0; i < o->n_tensors; i++) by[i] = &o->tensors[i];
        qsort(by, o->n_tensors, sizeof *by, cmp_name);
        int rc = 0;
        for (size_t i = 1; i < o->n_tensors && !rc; i++)
            if (!strcmp(by[i - 1]->name, by[i]->name)) {
                char nm[160];
                rc = bad(u, "two tensors are both named '%s' (keys joined with '.' meet); Ember cannot tell them "
                            "apart",
                         printable((const uint8_t *)by[i]->name, strlen(by[i]->name), nm, sizeof nm));
            }
        free(by);
        if (rc) return -1;
    }
    return 0;
}

/* ---- public ------------------------------------------------------------- */

void ember_torch_index_free(ember_torch_index *ix)
{
    if (!ix) return;
    for (size_t i = 0; i < ix->n_tensors; i++) free(ix->tensors[i].name);
    free(ix->tensors);
    free(ix->storages);
    memset(ix, 0, sizeof *ix);
}

int ember_torch_unpickle(const void *pkl, size_t len, const char *what, ember_torch_index *out, ember_err *err)
{
    memset(out, 0, sizeof *out);
    up u = {.p = pkl, .n = len, .what = what ? what : "the checkpoint", .err = err, .out = out};
    int rc = -1;
    pv *root;
    if ((u.none = new_val(&u, PV_NONE)) && (u.true_ = new_val(&u, PV_BOOL)) && (u.false_ = new_val(&u, PV_BOOL)) &&
        (u.empty_tuple = new_val(&u, PV_TUPLE))) {
        u.true_->u.i = 1;
        rc = run(&u, &root);
        if (!rc) rc = flatten(&u, root);
    }
    free_vals(&u);
    free(u.stack);
    free(u.marks);
    free(u.memo);
    free(u.st);
    free(u.st_hash);
    free(u.tz);
    if (rc) ember_torch_index_free(out);
    return rc;
}

size_t ember_torch_dtype_size(ember_torch_dtype dt)
{
    static const size_t sz[EMBER_TORCH_DTYPE_COUNT] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};
    return (unsigned)dt < EMBER_TORCH_DTYPE_COUNT ? sz[dt] : 0;
}

const char *ember_torch_dtype_name(ember_torch_dtype dt)
{
    static const char *const nm[EMBER_TORCH_DTYPE_COUNT] = {"float32", "float16", "bfloat16", "float64", "int64",
                                                            "int32",   "int16",   "int8",     "uint8",   "bool"};
    return (unsigned)dt < EMBER_TORCH_DTYPE_COUNT ? nm[dt] : "?";
}

int64_t ember_torch_tensor_numel(const ember_torch_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->size[d];
    return n;
}
