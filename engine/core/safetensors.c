/* safetensors.c — validated safetensors reader (mmap) and writer (through
 * fileio/atomic.h, so a file appears whole or not at all). */
#define _GNU_SOURCE
#include "core/safetensors.h"

#include "fileio/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void free_entries(ember_st_file *f) {
    for (size_t i = 0; i < f->count; i++) free(f->entries[i].name);
    free(f->entries);
    f->entries = NULL;
    f->count = 0;
    free(f->metadata_json);
    f->metadata_json = NULL;
}

static int cmp_offset(const void *a, const void *b) {
    const ember_st_entry *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset ? 1 : 0;
}

/* Reads a non-negative JSON integer that fits in `max`. */
static int json_uint(json_t *v, uint64_t max, uint64_t *out) {
    if (!json_is_integer(v)) return -1;
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > max) return -1;
    *out = (uint64_t)i;
    return 0;
}

static int parse_entry(ember_st_entry *e, const char *name, json_t *obj, size_t data_len, ember_err *err) {
    if (!json_is_object(obj)) return ember_err_set(err, "tensor '%s': its header entry is not an object", name);
    json_t *dt = json_object_get(obj, "dtype"), *shape = json_object_get(obj, "shape"),
           *offs = json_object_get(obj, "data_offsets");
    if (!json_is_string(dt)) return ember_err_set(err, "tensor '%s': missing or non-string \"dtype\"", name);
    if (ember_dtype_from_st_name(json_string_value(dt), &e->dtype))
        return ember_err_set(err, "tensor '%s': dtype \"%s\" is not supported (F32, BF16, U8, I32, I64 are)",
                             name, json_string_value(dt));
    if (!json_is_array(shape)) return ember_err_set(err, "tensor '%s': missing \"shape\" array", name);
    size_t nd = json_array_size(shape);
    if (nd > EMBER_MAX_DIMS)
        return ember_err_set(err, "tensor '%s': %zu dimensions (at most %d are supported)", name, nd, EMBER_MAX_DIMS);
    e->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t i = 0; i < EMBER_MAX_DIMS; i++) e->shape[i] = 1;
    for (size_t i = 0; i < nd; i++) {
        uint64_t d;
        if (json_uint(json_array_get(shape, i), (uint64_t)1 << 40, &d))
            return ember_err_set(err, "tensor '%s': shape entry %zu is not a valid size", name, i);
        e->shape[i] = (int64_t)d;
        if (d && numel > ((uint64_t)1 << 50) / d)
            return ember_err_set(err, "tensor '%s': shape is impossibly large", name);
        numel *= d;
    }
    if (!json_is_array(offs) || json_array_size(offs) != 2)
        return ember_err_set(err, "tensor '%s': \"data_offsets\" must be [begin, end]", name);
    uint64_t b, en;
    if (json_uint(json_array_get(offs, 0), UINT64_MAX >> 1, &b) ||
        json_uint(json_array_get(offs, 1), UINT64_MAX >> 1, &en))
        return ember_err_set(err, "tensor '%s': data_offsets are not non-negative integers", name);
    if (b > en) return ember_err_set(err, "tensor '%s': data_offsets [%llu, %llu] end before they begin", name,
                                     (unsigned long long)b, (unsigned long long)en);
    if (en > data_len)
        return ember_err_set(err, "tensor '%s': data [%llu, %llu) runs past the end of the file's data (%zu bytes); "
                                  "the file is truncated or corrupt",
                             name, (unsigned long long)b, (unsigned long long)en, data_len);
    uint64_t want = numel * ember_dtype_size(e->dtype);
    if (en - b != want)
        return ember_err_set(err, "tensor '%s': %llu bytes of data, but shape and dtype %s need %llu", name,
                             (unsigned long long)(en - b), ember_dtype_st_name(e->dtype), (unsigned long long)want);
    e->offset = (size_t)b;
    e->nbytes = (size_t)(en - b);
    e->name = strdup(name);
    if (!e->name) return ember_err_set(err, "out of memory");
    return 0;
}

int ember_st_parse_buffer(ember_st_file *f, const void *buf, size_t len, ember_err *err) {
    memset(f, 0, sizeof *f);
    const uint8_t *p = buf;
    if (len < 8) return ember_err_set(err, "not a safetensors file: %zu bytes, shorter than the 8-byte header length", len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen > EMBER_ST_MAX_HEADER)
        return ember_err_set(err, "not a safetensors file: header length %llu is larger than the %u-byte limit",
                             (unsigned long long)hlen, EMBER_ST_MAX_HEADER);
    if (hlen > len - 8)
        return ember_err_set(err, "truncated safetensors file: the header claims %llu bytes, only %zu follow",
                             (unsigned long long)hlen, len - 8);
    if (hlen < 2) return ember_err_set(err, "not a safetensors file: header of %llu bytes", (unsigned long long)hlen);
    json_error_t je;
    json_t *root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root) return ember_err_set(err, "corrupt safetensors header: %s (at byte %d)", je.text, je.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return ember_err_set(err, "corrupt safetensors header: not a JSON object");
    }
    f->data = p + 8 + hlen;
    f->data_len = len - 8 - (size_t)hlen;
    size_t n = json_object_size(root);
    f->entries = calloc(n ? n : 1, sizeof *f->entries);
    if (!f->entries) {
        json_decref(root);
        return ember_err_set(err, "out of memory");
    }
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(val)) {
                rc = ember_err_set(err, "corrupt safetensors header: __metadata__ is not an object");
                break;
            }
            json_object_foreach(val, mk, mv) if (!json_is_string(mv)) {
                rc = ember_err_set(err, "corrupt safetensors header: __metadata__ value '%s' is not a string", mk);
                break;
            }
            if (rc) break;
            f->metadata_json = json_dumps(val, JSON_COMPACT | JSON_SORT_KEYS);
            continue;
        }
        if (!key[0]) {
            rc = ember_err_set(err, "corrupt safetensors header: a tensor has an empty name");
            break;
        }
        if (parse_entry(&f->entries[f->count], key, val, f->data_len, err)) {
            rc = -1;
            break;
        }
        f->count++;
    }
    json_decref(root);
    if (!rc) {
        qsort(f->entries, f->count, sizeof *f->entries, cmp_offset);
        for (size_t i = 1; i < f->count; i++) {
            const ember_st_entry *a = &f->entries[i - 1], *b = &f->entries[i];
            if (a->nbytes && b->nbytes && a->offset + a->nbytes > b->offset) {
                rc = ember_err_set(err, "corrupt safetensors file: the data of '%s' and '%s' overlap", a->name, b->name);
                break;
            }
        }
    }
    if (rc) {
        free_entries(f);
        memset(f, 0, sizeof *f);
    }
    return rc;
}

int ember_st_open(ember_st_file *f, const char *path, ember_err *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ember_err_set(err, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ember_err_set(err, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ember_err_set(err, "%s is not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    if (len < 8) {
        close(fd);
        return ember_err_set(err, "%s: not a safetensors file (%zu bytes)", path, len);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return ember_err_set(err, "cannot map %s: %s", path, strerror(e));
    if (ember_st_parse_buffer(f, map, len, err)) {
        munmap(map, len);
        return ember_err_prefix(err, "%s: ", path);
    }
    f->map = map;
    f->map_len = len;
    return 0;
}

void ember_st_close(ember_st_file *f) {
    if (!f) return;
    free_entries(f);
    if (f->map) munmap(f->map, f->map_len);
    free(f->owned);
    memset(f, 0, sizeof *f);
}

const ember_st_entry *ember_st_find(const ember_st_file *f, const char *name) {
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->entries[i].name, name) == 0) return &f->entries[i];
    return NULL;
}

int ember_st_view(const ember_st_file *f, const char *name, ember_tensor *out, ember_err *err) {
    const ember_st_entry *e = ember_st_find(f, name);
    if (!e) return ember_err_set(err, "no tensor named '%s' in the file", name);
    const uint8_t *p = f->data + e->offset;
    if ((uintptr_t)p % ember_dtype_size(e->dtype))
        return ember_err_set(err, "tensor '%s' is not aligned in the file; copy it instead", name);
    return ember_tensor_view(out, (void *)p, e->dtype, EMBER_DEV_CPU, e->ndim, e->shape, err);
}

int ember_st_copy(const ember_st_file *f, const char *name, ember_tensor *dst, int allow_reshape,
                  ember_err *err) {
    const ember_st_entry *e = ember_st_find(f, name);
    if (!e) return ember_err_set(err, "no tensor named '%s' in the file", name);
    ember_tensor src;
    if (ember_tensor_view(&src, (void *)(f->data + e->offset), e->dtype, EMBER_DEV_CPU, e->ndim, e->shape, err))
        return -1;
    char a[128], b[128];
    if (dst->device != EMBER_DEV_CPU) return ember_err_set(err, "'%s': destination must be a host tensor", name);
    if (src.dtype != dst->dtype ||
        (allow_reshape ? ember_tensor_numel(&src) != ember_tensor_numel(dst) : !ember_tensor_same_shape(&src, dst)))
        return ember_err_set(err, "tensor '%s' is %s in the file, expected %s", name,
                             ember_tensor_describe(&src, a, sizeof a), ember_tensor_describe(dst, b, sizeof b));
    if (e->nbytes) memcpy(dst->data, src.data, e->nbytes);
    return 0;
}

/* The header (tensor table and metadata) as JSON text, or NULL with err set. */
static char *build_header(const ember_st_item *items, size_t n, const char *metadata_json, ember_ferr *err) {
    json_t *root = json_object();
    if (!root) {
        ember_ferr_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    size_t off = 0;
    int rc = 0;
    if (metadata_json) {
        json_error_t je;
        json_t *meta = json_loads(metadata_json, 0, &je);
        const char *k;
        json_t *v;
        int strings = meta && json_is_object(meta);
        if (strings) json_object_foreach(meta, k, v) strings &= json_is_string(v);
        if (!strings) {
            json_decref(meta);
            json_decref(root);
            ember_ferr_set(err, EINVAL, "safetensors metadata must be a JSON object of strings");
            return NULL;
        }
        json_object_set_new(root, "__metadata__", meta);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const ember_tensor *t = items[i].t;
        if (!items[i].name || !items[i].name[0] || !t || t->device != EMBER_DEV_CPU ||
            (!t->data && ember_tensor_nbytes(t)) || strcmp(items[i].name, "__metadata__") == 0) {
            rc = ember_ferr_set(err, EINVAL, "safetensors write: item %zu is not a named host tensor", i);
            break;
        }
        if (json_object_get(root, items[i].name)) {
            rc = ember_ferr_set(err, EINVAL, "safetensors write: the name '%s' is used twice", items[i].name);
            break;
        }
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        size_t nb = ember_tensor_nbytes(t);
        json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", ember_dtype_st_name(t->dtype), "shape", shape,
                              "data_offsets", (json_int_t)off, (json_int_t)(off + nb));
        if (!e || json_object_set_new(root, items[i].name, e)) rc = ember_ferr_set(err, ENOMEM, "out of memory");
        off += nb;
    }
    char *hdr = rc ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!rc && !hdr) ember_ferr_set(err, ENOMEM, "out of memory");
    return hdr;
}

int ember_st_save(const char *path, const ember_st_item *items, size_t n, const char *metadata_json,
                  ember_ferr *err) {
    char *hdr = build_header(items, n, metadata_json, err);
    if (!hdr) return -1;
    /* The header is padded with spaces to a multiple of 8 bytes, so that
     * every tensor's data starts aligned, as the reference writer does. */
    size_t hl = strlen(hdr), padded = (hl + 7) & ~(size_t)7;
    uint8_t lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    static const char spaces[] = "       "; /* at most 7 are needed */
    /* One writer for every file Ember saves: a temporary file beside path,
     * fsync'd, renamed over it, the folder fsync'd (fileio/atomic.h). */
    ember_afile af;
    int rc = ember_afile_open(&af, path, err);
    if (!rc)
        rc = ember_afile_write(&af, lenb, 8, err) || ember_afile_write(&af, hdr, hl, err) ||
                     ember_afile_write(&af, spaces, padded - hl, err)
                 ? -1
                 : 0;
    free(hdr);
    for (size_t i = 0; !rc && i < n; i++)
        rc = ember_afile_write(&af, items[i].t->data, ember_tensor_nbytes(items[i].t), err);
    if (rc) {
        ember_afile_abort(&af);
        return -1;
    }
    return ember_afile_commit(&af, err);
}

int ember_st_write(const char *path, const ember_st_item *items, size_t n, const char *metadata_json,
                   ember_err *err) {
    ember_ferr fe;
    if (ember_st_save(path, items, n, metadata_json, &fe) == 0) return 0;
    return ember_err_set(err, "%s", fe.msg);
}
