/* torch_ckpt.c — the zip side of torch checkpoints: finds data.pkl and the
 * storages with libarchive, has torch_pickle.c describe the tensors, then
 * copies each view out of its storage into one owned, contiguous buffer.
 *
 * Two passes over the archive, so that memory stays near the size of the
 * result: the first reads only data.pkl and the member list (storages are
 * skipped, a seek in a stored zip), the second reads one storage at a time
 * and scatters it into every tensor that uses it — straight into the
 * result when a single contiguous tensor covers the whole storage, the
 * common case. */
#define _GNU_SOURCE
#include "data/torch_ckpt.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/torch_pickle.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "torch checkpoints are little-endian and this reader copies their bytes as they are"
#endif

#define MAX_MEMBERS ((size_t)1 << 20)
#define ALIGN 64
/* Deflate cannot expand data more than about 1032-fold: storages that
 * claim more than this of the file are lies, refused before allocating. */
#define MAX_RATIO 1040
#define SMALL 32

typedef struct {
    char *name;
    int64_t size; /* -1 when the zip does not say */
    char small[SMALL]; /* the content of byteorder / version members */
    size_t small_len;
} member;

typedef struct {
    const void *buf;
    size_t len;
    const char *what;
    ember_err *err;
    member *m;
    size_t nm, mcap;
    uint8_t *pkl;
    size_t pkl_len;
    char *pkl_name;
} zr;

/* ---- element conversion ------------------------------------------------ */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (!man) {
        bits = sign;
    } else { /* subnormal: normalise the mantissa */
        uint32_t e = 0;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400u));
        bits = sign | ((113 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Round to nearest like a hardware conversion; out of range is infinity
 * (a C cast of such a double would be undefined). */
static float double_to_float(double d)
{
    double a = d < 0 ? -d : d;
    if (a >= 0x1.ffffffp127) return d < 0 ? -(float)INFINITY : (float)INFINITY;
    if (a > FLT_MAX) return d < 0 ? -FLT_MAX : FLT_MAX;
    return (float)d;
}

static ember_dtype out_dtype(ember_torch_dtype dt)
{
    switch (dt) {
    case EMBER_TORCH_BF16: return EMBER_BF16;
    case EMBER_TORCH_I64: return EMBER_I64;
    case EMBER_TORCH_I32:
    case EMBER_TORCH_I16:
    case EMBER_TORCH_I8: return EMBER_I32;
    case EMBER_TORCH_U8:
    case EMBER_TORCH_BOOL: return EMBER_U8;
    default: return EMBER_F32; /* f32, f16, f64 */
    }
}

/* n elements at src, `stride` elements apart, to consecutive dst. */
static void convert_run(uint8_t *dst, const uint8_t *src, int64_t n, int64_t stride, ember_torch_dtype dt)
{
    size_t isz = ember_torch_dtype_size(dt);
    switch (dt) {
    case EMBER_TORCH_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + (size_t)(i * stride) * isz, 2);
            float f = half_to_float(h);
            memcpy(dst + (size_t)i * 4, &f, 4);
        }
        break;
    case EMBER_TORCH_F64:
        for (int64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + (size_t)(i * stride) * isz, 8);
            float f = double_to_float(d);
            memcpy(dst + (size_t)i * 4, &f, 4);
        }
        break;
    case EMBER_TORCH_I16:
        for (int64_t i = 0; i < n; i++) {
            int16_t v;
            memcpy(&v, src + (size_t)(i * stride) * isz, 2);
            int32_t w = v;
            memcpy(dst + (size_t)i * 4, &w, 4);
        }
        break;
    case EMBER_TORCH_I8:
        for (int64_t i = 0; i < n; i++) {
            int32_t w = (int8_t)src[i * stride];
            memcpy(dst + (size_t)i * 4, &w, 4);
        }
        break;
    case EMBER_TORCH_BOOL:
        for (int64_t i = 0; i < n; i++) dst[i] = src[i * stride] != 0;
        break;
    default: /* the same type on both sides */
        if (stride == 1) {
            memcpy(dst, src, (size_t)n * isz);
        } else {
            for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * isz, src + (size_t)(i * stride) * isz, isz);
        }
    }
}

static int contiguous(const ember_torch_tensor *t)
{
    int64_t want = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] != 1 && t->stride[d] != want) return 0;
        want *= t->size[d];
    }
    return 1;
}

/* Copies tensor t (already checked to lie inside the storage) out of the
 * storage's bytes into dst, row-major. */
static void gather(uint8_t *dst, const uint8_t *storage, ember_torch_dtype dt, const ember_torch_tensor *t)
{
    int64_t numel = ember_torch_tensor_numel(t);
    if (!numel) return;
    size_t isz = ember_torch_dtype_size(dt), osz = ember_dtype_size(out_dtype(dt));
    if (contiguous(t)) {
        convert_run(dst, storage + (size_t)t->offset * isz, numel, 1, dt);
        return;
    }
    int nd = t->ndim;
    int64_t inner = t->size[nd - 1], istride = t->stride[nd - 1];
    int64_t idx[EMBER_MAX_DIMS] = {0};
    for (int64_t r = 0, rows = numel / inner; r < rows; r++) {
        int64_t off = t->offset;
        for (int d = 0; d < nd - 1; d++) off += idx[d] * t->stride[d];
        convert_run(dst, storage + (size_t)off * isz, inner, istride, dt);
        dst += (size_t)inner * osz;
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
}

/* ---- the archive -------------------------------------------------------- */

static int open_zip(zr *z, struct archive **out)
{
    *out = NULL;
    struct archive *a = archive_read_new();
    if (!a) return ember_err_set(z->err, "%s: out of memory", z->what);
    /* the seekable reader trusts the central directory: torch writes its
       members with the sizes after the data (bit 3), which a streaming
       reader cannot size for stored members */
    if (archive_read_support_format_zip_seekable(a) != ARCHIVE_OK) {
        ember_err_set(z->err, "%s: libarchive cannot read zip archives here (%s)", z->what, archive_error_string(a));
        archive_read_free(a);
        return -1;
    }
    if (archive_read_open_memory(a, z->buf, z->len) != ARCHIVE_OK) {
        ember_err_set(z->err, "%s: not a readable zip archive (%s); the file is damaged or truncated", z->what,
                      archive_error_string(a));
        archive_read_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

static void close_zip(struct archive *a)
{
    if (a) archive_read_free(a); /* nothing to report on a reader */
}

/* Next regular member; 1 at the end, -1 on error. */
static int next_member(zr *z, struct archive *a, struct archive_entry **e, const char **name)
{
    for (;;) {
        int r = archive_read_next_header(a, e);
        if (r == ARCHIVE_EOF) return 1;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return ember_err_set(z->err, "%s: the zip archive is damaged or truncated (%s)", z->what,
                                 archive_error_string(a));
        *name = archive_entry_pathname(*e);
        if (!*name) *name = archive_entry_pathname_utf8(*e);
        if (!*name) return ember_err_set(z->err, "%s: a zip member has a name that cannot be read", z->what);
        if (archive_entry_filetype(*e) == AE_IFREG) return 0;
        r = archive_read_data_skip(a);
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return ember_err_set(z->err, "%s: the zip archive is damaged (%s)", z->what, archive_error_string(a));
    }
}

static int skip(zr *z, struct archive *a, const char *name)
{
    int r = archive_read_data_skip(a);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return ember_err_set(z->err, "%s: cannot read member %s (%s); the file is damaged or truncated", z->what,
                             name, archive_error_string(a));
    return 0;
}

/* Reads exactly n bytes of the current member into dst, and checks that
 * nothing follows. */
static int read_exact(zr *z, struct archive *a, const char *name, uint8_t *dst, size_t n)
{
    size_t got = 0;
    while (got < n) {
        la_ssize_t r = archive_read_data(a, dst + got, n - got);
        if (r < 0)
            return ember_err_set(z->err, "%s: cannot read member %s (%s); the file is damaged or truncated",
                                 z->what, name, archive_error_string(a));
        if (r == 0)
            return ember_err_set(z->err, "%s: member %s holds %zu bytes, but data.pkl declares %zu; the file is "
                                         "truncated or damaged",
                                 z->what, name, got, n);
        got += (size_t)r;
    }
    uint8_t probe;
    la_ssize_t r = archive_read_data(a, &probe, 1);
    if (r < 0)
        return ember_err_set(z->err, "%s: cannot read member %s (%s); the file is damaged or truncated", z->what,
                             name, archive_error_string(a));
    if (r > 0)
        return ember_err_set(z->err, "%s: member %s holds more than the %zu bytes data.pkl declares; the file is "
                                     "damaged",
                             z->what, name, n);
    return 0;
}

/* Reads a whole member of at most max bytes into a new buffer. */
static int read_all(zr *z, struct archive *a, struct archive_entry *e, const char *name, size_t max, uint8_t **out,
                    size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int64_t sz = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
    if (sz > (int64_t)max)
        return ember_err_set(z->err, "%s: member %s is %lld bytes, more than the %zu a checkpoint's needs", z->what,
                             name, (long long)sz, max);
    size_t cap = sz >= 0 ? (size_t)sz : max < 4096 ? max : 4096, len = 0;
    uint8_t *b = malloc(cap ? cap : 1);
    if (!b) return ember_err_set(z->err, "%s: out of memory", z->what);
    for (;;) {
        if (len == cap) {
            uint8_t probe;
            la_ssize_t r = archive_read_data(a, &probe, 1);
            if (r == 0) break;
            if (r > 0 && (sz >= 0 || cap >= max)) {
                free(b);
                return ember_err_set(z->err, "%s: member %s holds more than %s; the file is damaged", z->what, name,
                                     sz >= 0 ? "its zip header says" : "a checkpoint's would");
            }
            if (r < 0) {
                free(b);
                return ember_err_set(z->err, "%s: cannot read member %s (%s); the file is damaged or truncated",
                                     z->what, name, archive_error_string(a));
            }
            cap = cap * 2 < max ? cap * 2 : max;
            uint8_t *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                return ember_err_set(z->err, "%s: out of memory", z->what);
            }
            b = nb;
            b[len++] = probe;
            continue;
        }
        la_ssize_t r = archive_read_data(a, b + len, cap - len);
        if (r < 0) {
            free(b);
            return ember_err_set(z->err, "%s: cannot read member %s (%s); the file is damaged or truncated", z->what,
                                 name, archive_error_string(a));
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    if (sz >= 0 && len != (size_t)sz) {
        free(b);
        return ember_err_set(z->err, "%s: member %s holds %zu bytes, its zip header says %lld; the file is "
                                     "truncated or damaged",
                             z->what, name, len, (long long)sz);
    }
    *out = b;
    *out_len = len;
    return 0;
}

/* "<folder>/<leaf>" with one folder level: the folder's length, else 0. */
static size_t folder_of(const char *name, const char *leaf)
{
    const char *slash = strchr(name, '/');
    if (!slash || slash == name || strcmp(slash + 1, leaf)) return 0;
    return (size_t)(slash - name);
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const member *)a)->name, ((const member *)b)->name);
}

static const member *find_member(const zr *z, const char *name, int *count)
{
    member key = {.name = (char *)name};
    const member *m = bsearch(&key, z->m, z->nm, sizeof *z->m, cmp_member);
    *count = 0;
    if (!m) return NULL;
    while (m > z->m && !strcmp(m[-1].name, name)) m--;
    for (const member *q = m; q < z->m + z->nm && !strcmp(q->name, name); q++) (*count)++;
    return m;
}

/* Pass 1: the member list, data.pkl, and the small text members. */
static int scan(zr *z)
{
    struct archive *a;
    if (open_zip(z, &a)) return -1;
    int rc = 0;
    for (;;) {
        struct archive_entry *e;
        const char *name;
        int r = next_member(z, a, &e, &name);
        if (r) {
            rc = r < 0 ? -1 : 0;
            break;
        }
        if (archive_entry_is_encrypted(e)) {
            rc = ember_err_set(z->err, "%s: member %s is encrypted; a checkpoint never is", z->what, name);
            break;
        }
        if (z->nm == MAX_MEMBERS) {
            rc = ember_err_set(z->err, "%s: the zip holds more than %zu members; it is not a checkpoint", z->what,
                               MAX_MEMBERS);
            break;
        }
        if (z->nm == z->mcap) {
            size_t cap = z->mcap ? z->mcap * 2 : 64;
            member *m = realloc(z->m, cap * sizeof *m);
            if (!m) {
                rc = ember_err_set(z->err, "%s: out of memory", z->what);
                break;
            }
            z->m = m;
            z->mcap = cap;
        }
        member *m = &z->m[z->nm];
        memset(m, 0, sizeof *m);
        if (!(m->name = strdup(name))) {
            rc = ember_err_set(z->err, "%s: out of memory", z->what);
            break;
        }
        z->nm++;
        m->size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
        if (folder_of(name, "data.pkl")) {
            if (z->pkl) {
                rc = ember_err_set(z->err, "%s: the zip holds two data.pkl (%s and %s); it is not one checkpoint",
                                   z->what, z->pkl_name, name);
                break;
            }
            z->pkl_name = m->name;
            rc = read_all(z, a, e, name, EMBER_TORCH_MAX_PICKLE, &z->pkl, &z->pkl_len);
        } else if (folder_of(name, "byteorder") || folder_of(name, "version")) {
            uint8_t *b;
            size_t n;
            rc = read_all(z, a, e, name, SMALL - 1, &b, &n);
            if (!rc) {
                m->small_len = n < SMALL ? n : SMALL;
                memcpy(m->small, b, m->small_len);
                free(b);
            }
        } else {
            rc = skip(z, a, name);
        }
        if (rc) break;
    }
    close_zip(a);
    if (!rc) qsort(z->m, z->nm, sizeof *z->m, cmp_member);
    return rc;
}

/* What the zip is, when it is not a checkpoint Ember reads. */
static int check_kind(zr *z, size_t plen)
{
    char p[300];
    snprintf(p, sizeof p, "%.*s/", (int)plen, z->pkl_name ? z->pkl_name : "");
    size_t pl = strlen(p);
    int torchscript = 0, npy = 0;
    for (size_t i = 0; i < z->nm; i++) {
        const char *n = z->m[i].name;
        size_t l = strlen(n);
        if (z->pkl_name ? !strncmp(n, p, pl) && (!strcmp(n + pl, "constants.pkl") || !strncmp(n + pl, "code/", 5))
                        : (l >= 13 && !strcmp(n + l - 13, "constants.pkl")) || strstr(n, "/code/"))
            torchscript = 1;
        if (l >= 4 && !strcmp(n + l - 4, ".npy")) npy = 1;
    }
    if (torchscript)
        return ember_err_set(z->err,
                             "%s is a TorchScript archive (torch.jit.save), not a state dict; Ember does not run "
                             "TorchScript. In Python, load it with torch.jit.load and save its state_dict() with "
                             "torch.save or as safetensors",
                             z->what);
    if (!z->pkl_name)
        return ember_err_set(z->err,
                             "%s is a zip archive without <folder>/data.pkl, %s; give a torch.save checkpoint or a "
                             "safetensors file",
                             z->what,
                             npy ? "a numpy .npz rather than a PyTorch checkpoint" : "so not a torch.save checkpoint");
    return 0;
}

/* byteorder and version, when present. */
static int check_header(zr *z, size_t plen)
{
    char nm[300];
    int count;
    snprintf(nm, sizeof nm, "%.*s/byteorder", (int)plen, z->pkl_name);
    const member *m = find_member(z, nm, &count);
    if (m) {
        size_t n = m->small_len;
        while (n && (m->small[n - 1] == '\n' || m->small[n - 1] == '\r' || m->small[n - 1] == ' ')) n--;
        if (n == 3 && !memcmp(m->small, "big", 3))
            return ember_err_set(z->err,
                                 "%s was written on a big-endian machine; Ember reads little-endian checkpoints. "
                                 "Load it with torch on any machine and save it again (or as safetensors) on a "
                                 "little-endian one",
                                 z->what);
        if (n != 6 || memcmp(m->small, "little", 6))
            return ember_err_set(z->err, "%s: its byteorder member says neither 'little' nor 'big'; the file is "
                                         "damaged",
                                 z->what);
    }
    snprintf(nm, sizeof nm, "%.*s/version", (int)plen, z->pkl_name);
    if ((m = find_member(z, nm, &count))) {
        size_t n = m->small_len, d = 0;
        while (d < n && m->small[d] >= '0' && m->small[d] <= '9') d++;
        int ok = d > 0;
        for (size_t i = d; i < n && ok; i++) ok = m->small[i] == '\n' || m->small[i] == '\r';
        if (!ok)
            return ember_err_set(z->err, "%s: its version member is not a number; the file is damaged", z->what);
    }
    return 0;
}

typedef struct {
    const member *m;     /* its zip member */
    size_t first, count; /* its tensors in by_storage[] */
    int done;
} storage_use;

typedef struct {
    const char *key;
    size_t storage;
} key_ref;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const key_ref *)a)->key, ((const key_ref *)b)->key);
}

/* Pass 2: each storage read once and scattered into its tensors. */
static int fill(zr *z, size_t plen, const ember_torch_index *ix, storage_use *use, const size_t *by_storage,
                const size_t *offs, uint8_t *out)
{
    /* keys sorted, to find a member's storage quickly */
    key_ref *keys = malloc((ix->n_storages ? ix->n_storages : 1) * sizeof *keys);
    if (!keys) return ember_err_set(z->err, "%s: out of memory", z->what);
    for (size_t i = 0; i < ix->n_storages; i++) keys[i] = (key_ref){ix->storages[i].key, i};
    qsort(keys, ix->n_storages, sizeof *keys, cmp_key);

    struct archive *a;
    if (open_zip(z, &a)) {
        free(keys);
        return -1;
    }
    char dir[300];
    snprintf(dir, sizeof dir, "%.*s/data/", (int)plen, z->pkl_name);
    size_t dl = strlen(dir);
    int rc = 0;
    uint8_t *tmp = NULL;
    for (;;) {
        struct archive_entry *e;
        const char *name;
        int r = next_member(z, a, &e, &name);
        if (r) {
            rc = r < 0 ? -1 : 0;
            break;
        }
        key_ref want = {strncmp(name, dir, dl) ? NULL : name + dl, 0};
        const key_ref *hit = want.key ? bsearch(&want, keys, ix->n_storages, sizeof *keys, cmp_key) : NULL;
        if (!hit) {
            if ((rc = skip(z, a, name))) break;
            continue;
        }
        size_t s = hit->storage;
        const ember_torch_storage *st = &ix->storages[s];
        if (use[s].done) {
            rc = ember_err_set(z->err, "%s: member %s appears twice; the file is damaged", z->what, name);
            break;
        }
        size_t nbytes = (size_t)st->numel * ember_torch_dtype_size(st->dtype);
        const ember_torch_tensor *t0 = use[s].count == 1 ? &ix->tensors[by_storage[use[s].first]] : NULL;
        if (t0 && t0->offset == 0 && ember_torch_tensor_numel(t0) == st->numel && contiguous(t0) &&
            ember_dtype_size(out_dtype(st->dtype)) == ember_torch_dtype_size(st->dtype) &&
            st->dtype != EMBER_TORCH_BOOL) {
            rc = read_exact(z, a, name, out + offs[by_storage[use[s].first]], nbytes);
        } else {
            free(tmp);
            if (!(tmp = malloc(nbytes ? nbytes : 1))) {
                rc = ember_err_set(z->err, "%s: out of memory", z->what);
                break;
            }
            rc = read_exact(z, a, name, tmp, nbytes);
            for (size_t k = 0; !rc && k < use[s].count; k++) {
                size_t ti = by_storage[use[s].first + k];
                gather(out + offs[ti], tmp, st->dtype, &ix->tensors[ti]);
            }
            free(tmp);
            tmp = NULL;
        }
        if (rc) break;
        use[s].done = 1;
    }
    free(tmp);
    close_zip(a);
    free(keys);
    for (size_t s = 0; !rc && s < ix->n_storages; s++)
        if (!use[s].done)
            rc = ember_err_set(z->err, "%s: storage '%s' was not found on the second read of the zip; the file is "
                                       "damaged",
                               z->what, ix->storages[s].key);
    return rc;
}

/* Checks every storage's member, lays the tensors out and fills them. */
static int materialise(zr *z, size_t plen, ember_torch_index *ix, ember_st_file *f)
{
    int rc = 0;
    size_t nt = ix->n_tensors, ns = ix->n_storages;
    storage_use *use = calloc(ns ? ns : 1, sizeof *use);
    size_t *by_storage = malloc((nt ? nt : 1) * sizeof *by_storage);
    size_t *offs = malloc((nt ? nt : 1) * sizeof *offs);
    if (!use || !by_storage || !offs) rc = ember_err_set(z->err, "%s: out of memory", z->what);

    uint64_t stored = 0;
    for (size_t s = 0; !rc && s < ns; s++) {
        const ember_torch_storage *st = &ix->storages[s];
        char nm[400];
        int count;
        snprintf(nm, sizeof nm, "%.*s/data/%s", (int)plen, z->pkl_name, st->key);
        const member *m = find_member(z, nm, &count);
        uint64_t want = (uint64_t)st->numel * ember_torch_dtype_size(st->dtype);
        if (!m)
            rc = ember_err_set(z->err, "%s: data.pkl uses storage '%s', but the zip has no member %s; the file is "
                                       "truncated or damaged",
                               z->what, st->key, nm);
        else if (count > 1)
            rc = ember_err_set(z->err, "%s: member %s appears %d times; the file is damaged", z->what, nm, count);
        else if (m->size >= 0 && (uint64_t)m->size != want)
            rc = ember_err_set(z->err, "%s: storage '%s' holds %lld bytes, but data.pkl declares %lld %s elements "
                                       "(%llu bytes); the file is damaged",
                               z->what, st->key, (long long)m->size, (long long)st->numel,
                               ember_torch_dtype_name(st->dtype), (unsigned long long)want);
        use[s].m = m;
        stored += want;
    }
    if (!rc && stored > (uint64_t)z->len * MAX_RATIO)
        rc = ember_err_set(z->err, "%s: its storages claim %llu bytes, more than a %zu-byte zip can hold; the file "
                                   "is damaged",
                           z->what, (unsigned long long)stored, z->len);

    /* tensors grouped by storage (a counting sort keeps pickle order) */
    for (size_t i = 0; !rc && i < nt; i++) use[ix->tensors[i].storage].count++;
    for (size_t s = 0, acc = 0; !rc && s < ns; s++) {
        use[s].first = acc;
        acc += use[s].count;
        use[s].count = 0;
    }
    for (size_t i = 0; !rc && i < nt; i++) {
        storage_use *u = &use[ix->tensors[i].storage];
        by_storage[u->first + u->count++] = i;
    }

    size_t total = 0;
    for (size_t i = 0; !rc && i < nt; i++) {
        const ember_torch_tensor *t = &ix->tensors[i];
        size_t nb = (size_t)ember_torch_tensor_numel(t) * ember_dtype_size(out_dtype(ix->storages[t->storage].dtype));
        offs[i] = total;
        if (nb > SIZE_MAX / 2 - total - ALIGN) {
            rc = ember_err_set(z->err, "%s: the tensors are too large to hold in memory", z->what);
            break;
        }
        total += (nb + ALIGN - 1) / ALIGN * ALIGN;
    }

    uint8_t *out = NULL;
    ember_st_entry *entries = NULL;
    if (!rc) {
        /* never empty, so that data + offset is always a valid pointer */
        out = aligned_alloc(ALIGN, total ? total : ALIGN);
        entries = calloc(nt ? nt : 1, sizeof *entries);
        if (!out || !entries)
            rc = ember_err_set(z->err, "%s: out of memory (the tensors need %zu bytes)", z->what, total);
    }
    if (!rc) rc = fill(z, plen, ix, use, by_storage, offs, out);
    if (!rc) {
        for (size_t i = 0; i < nt; i++) {
            ember_torch_tensor *t = &ix->tensors[i];
            ember_st_entry *e = &entries[i];
            e->name = t->name;
            t->name = NULL; /* the entry owns it now */
            e->dtype = out_dtype(ix->storages[t->storage].dtype);
            e->ndim = t->ndim;
            for (int d = 0; d < EMBER_MAX_DIMS; d++) e->shape[d] = d < t->ndim ? t->size[d] : 1;
            e->offset = offs[i];
            e->nbytes = (size_t)ember_torch_tensor_numel(t) * ember_dtype_size(e->dtype);
        }
        f->owned = out;
        f->data = out;
        f->data_len = total;
        f->entries = entries;
        f->count = nt;
    } else {
        free(out);
        free(entries);
    }
    free(use);
    free(by_storage);
    free(offs);
    return rc;
}

/* ---- public --------------------------------------------------------------- */

int ember_torch_is_legacy(const void *head, size_t len)
{
    /* PROTO, an optional FRAME, then LONG1 of torch's magic number
       0x1950a86a20f9469cfc6c, which the legacy format pickles first */
    static const uint8_t magic[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    const uint8_t *p = head;
    if (len < 2 || p[0] != 0x80) return 0;
    size_t i = 2;
    if (len > i && p[i] == 0x95) i += 9;
    return len >= i + sizeof magic && !memcmp(p + i, magic, sizeof magic);
}

int ember_torch_parse_buffer(ember_st_file *f, const void *buf, size_t len, const char *what, ember_err *err)
{
    memset(f, 0, sizeof *f);
    if (!what) what = "the checkpoint";
    const uint8_t *p = buf;
    if (len == 0) return ember_err_set(err, "%s is empty", what);
    if (len < 4 || p[0] != 'P' || p[1] != 'K' || !((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6))) {
        if (ember_torch_is_legacy(buf, len))
            return ember_err_set(err,
                                 "%s is a PyTorch checkpoint in the legacy format (torch.save before torch 1.6, or "
                                 "_use_new_zipfile_serialization=False), which Ember does not read; in Python, "
                                 "torch.load it and save it again with torch.save or as safetensors",
                                 what);
        if (p[0] == 0x80)
            return ember_err_set(err,
                                 "%s is a bare Python pickle, not a torch.save checkpoint (a zip); Ember does not "
                                 "read pickles. Save the weights with torch.save(model.state_dict()) or as "
                                 "safetensors",
                                 what);
        return ember_err_set(err, "%s is not a PyTorch checkpoint: torch.save writes a zip archive, and this file "
                                  "is not one",
                             what);
    }
    zr z = {.buf = buf, .len = len, .what = what, .err = err};
    ember_torch_index ix = {0};
    int rc = scan(&z);
    size_t plen = 0;
    if (!rc && z.pkl_name) plen = folder_of(z.pkl_name, "data.pkl");
    if (!rc && plen > 200)
        rc = ember_err_set(err, "%s: its zip folder name is %zu bytes long; torch.save names it after the file", what,
                           plen);
    if (!rc) rc = check_kind(&z, plen);
    if (!rc) rc = check_header(&z, plen);
    if (!rc) rc = ember_torch_unpickle(z.pkl, z.pkl_len, what, &ix, err);
    if (!rc) rc = materialise(&z, plen, &ix, f);
    ember_torch_index_free(&ix);
    for (size_t i = 0; i < z.nm; i++) free(z.m[i].name);
    free(z.m);
    free(z.pkl);
    if (rc) {
        ember_st_close(f);
        memset(f, 0, sizeof *f);
    }
    return rc;
}

int ember_torch_open(ember_st_file *f, const char *path, ember_err *err)
{
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
    if (len == 0) {
        close(fd);
        return ember_err_set(err, "%s is empty", path);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return ember_err_set(err, "cannot map %s: %s", path, strerror(e));
    int rc = ember_torch_parse_buffer(f, map, len, path, err);
    munmap(map, len);
    return rc;
}
