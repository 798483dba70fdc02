/* npy.c — .npy headers and files, and .npz archives as a minimal zip
 * writer (stored members, CRC-32 from zlib, no zip64: an archive is
 * refused past 4 GiB rather than written in a form some readers reject).
 * See npy.h. */
#define _GNU_SOURCE /* asprintf */
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define ZIP_LIMIT 0xFFFFFFFFull

struct ember_npz_entry {
    char *name; /* "<key>.npy" */
    uint32_t crc, size, offset;
    uint16_t flags;
};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define F32_DESCR ">f4" /* the bytes are written as they are in memory */
#else
#define F32_DESCR "<f4"
#endif

int ember_npy_header(const char *descr, const int64_t *shape, int ndim, char *buf, size_t cap,
                     size_t *len, ember_ferr *err)
{
    if (ndim < 0 || ndim > EMBER_NPY_MAX_DIMS)
        return ember_ferr_set(err, EINVAL, "an array of %d dimensions is not supported", ndim);
    char dict[512];
    size_t o = 0;
    o += (size_t)snprintf(dict + o, sizeof dict - o, "{'descr': '%s', 'fortran_order': False, "
                                                     "'shape': (", descr);
    for (int i = 0; i < ndim && o < sizeof dict; i++) {
        if (shape[i] < 0)
            return ember_ferr_set(err, EINVAL, "negative array dimension");
        o += (size_t)snprintf(dict + o, sizeof dict - o, "%s%lld", i ? ", " : "",
                              (long long)shape[i]);
    }
    if (o < sizeof dict)
        o += (size_t)snprintf(dict + o, sizeof dict - o, "%s), }", ndim == 1 ? "," : "");
    if (o >= sizeof dict)
        return ember_ferr_set(err, EINVAL, "array header too long");
    /* magic (6) + version (2) + length (2) + dict + padding + '\n' */
    size_t total = 10 + o + 1;
    total = (total + 63) / 64 * 64;
    if (total > cap || total - 10 > 0xFFFF)
        return ember_ferr_set(err, EINVAL, "array header too long");
    size_t hlen = total - 10;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(hlen & 0xFF);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, o);
    memset(buf + 10 + o, ' ', total - 10 - o - 1);
    buf[total - 1] = '\n';
    *len = total;
    return 0;
}

/* Bytes of an array of elem-byte items: -1 on overflow. */
static int array_bytes(const int64_t *shape, int ndim, size_t elem, uint64_t *out, ember_ferr *err)
{
    uint64_t n = elem;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && n > UINT64_MAX / (uint64_t)shape[i]))
            return ember_ferr_set(err, EINVAL, "array too large");
        n *= (uint64_t)shape[i];
    }
    *out = n;
    return 0;
}

int ember_npy_save_f32(const char *path, const float *data, const int64_t *shape, int ndim,
                       ember_ferr *err)
{
    char head[1024];
    size_t hlen;
    uint64_t bytes = 0;
    if (ember_npy_header(F32_DESCR, shape, ndim, head, sizeof head, &hlen, err) != 0 ||
        array_bytes(shape, ndim, sizeof(float), &bytes, err) != 0)
        return -1;
    if (bytes > SIZE_MAX)
        return ember_ferr_set(err, EFBIG, "array too large");
    ember_afile af;
    if (ember_afile_open(&af, path, err) != 0)
        return -1;
    if (ember_afile_write(&af, head, hlen, err) != 0 ||
        ember_afile_write(&af, data, (size_t)bytes, err) != 0) {
        ember_afile_abort(&af);
        return -1;
    }
    return ember_afile_commit(&af, err);
}

/* ---- .npz ---- */

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v & 0xFFFF);
    put16(p + 2, v >> 16);
}

/* zlib's crc32 takes at most 4 GiB - 1 at a time. */
static uint32_t crc_of(uint32_t crc, const void *data, size_t n)
{
    const Bytef *p = data;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

int ember_npz_open(ember_npz *z, const char *path, ember_ferr *err)
{
    memset(z, 0, sizeof *z);
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm) && tm.tm_year >= 80) {
        z->dos_time = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
        z->dos_date = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
    } else {
        z->dos_date = 1 << 5 | 1; /* 1980-01-01 */
    }
    return ember_afile_open(&z->af, path, err);
}

void ember_npz_abort(ember_npz *z)
{
    if (!z)
        return;
    ember_afile_abort(&z->af);
    for (size_t i = 0; i < z->n; i++)
        free(z->e[i].name);
    free(z->e);
    z->e = NULL;
    z->n = z->cap = 0;
}

static int too_big(ember_npz *z, ember_ferr *err)
{
    return ember_ferr_set(err, EFBIG, "cannot save '%s': a .npz archive is limited to 4 GiB "
                                      "here; save to a folder instead (a path without an "
                                      "extension)", z->af.path);
}

/* One stored member made of a .npy header and the data after it. */
static int add_member(ember_npz *z, const char *key, const char *head, size_t hlen,
                      const void *data, size_t dlen, ember_ferr *err)
{
    if (!key || !*key || strchr(key, '/'))
        return ember_ferr_set(err, EINVAL, "bad archive member name '%s'", key ? key : "");
    char *name = NULL;
    if (asprintf(&name, "%s.npy", key) < 0)
        return ember_ferr_set(err, ENOMEM, "out of memory");
    size_t nlen = strlen(name);
    for (size_t i = 0; i < z->n; i++)
        if (!strcmp(z->e[i].name, name)) {
            free(name);
            return ember_ferr_set(err, EINVAL, "two arrays named '%s'", key);
        }
    uint64_t size = (uint64_t)hlen + dlen;
    if (nlen > 0xFFFF || z->n >= 0xFFFF || size > ZIP_LIMIT ||
        z->offset + 30 + nlen + size > ZIP_LIMIT) {
        free(name);
        return too_big(z, err);
    }
    if (z->n == z->cap) {
        size_t cap = z->cap ? z->cap * 2 : 8;
        ember_npz_entry *e = realloc(z->e, cap * sizeof *e);
        if (!e) {
            free(name);
            return ember_ferr_set(err, ENOMEM, "out of memory");
        }
        z->e = e;
        z->cap = cap;
    }
    uint16_t flags = 0;
    for (size_t i = 0; i < nlen; i++)
        if ((unsigned char)name[i] >= 0x80)
            flags = 1u << 11; /* the name is UTF-8 */
    uint32_t crc = crc_of(crc_of(0, head, hlen), data, dlen);
    uint8_t lh[30];
    put32(lh, 0x04034b50);
    put16(lh + 4, 20);
    put16(lh + 6, flags);
    put16(lh + 8, 0); /* stored */
    put16(lh + 10, z->dos_time);
    put16(lh + 12, z->dos_date);
    put32(lh + 14, crc);
    put32(lh + 18, (uint32_t)size);
    put32(lh + 22, (uint32_t)size);
    put16(lh + 26, (uint32_t)nlen);
    put16(lh + 28, 0);
    if (ember_afile_write(&z->af, lh, sizeof lh, err) != 0 ||
        ember_afile_write(&z->af, name, nlen, err) != 0 ||
        ember_afile_write(&z->af, head, hlen, err) != 0 ||
        ember_afile_write(&z->af, data, dlen, err) != 0) {
        free(name);
        return -1;
    }
    z->e[z->n++] = (ember_npz_entry){.name = name, .crc = crc, .size = (uint32_t)size,
                                     .offset = (uint32_t)z->offset, .flags = flags};
    z->offset += 30 + nlen + size;
    return 0;
}

int ember_npz_add_f32(ember_npz *z, const char *key, const float *data, const int64_t *shape,
                      int ndim, ember_ferr *err)
{
    char head[1024];
    size_t hlen;
    uint64_t bytes = 0;
    if (ember_npy_header(F32_DESCR, shape, ndim, head, sizeof head, &hlen, err) != 0 ||
        array_bytes(shape, ndim, sizeof(float), &bytes, err) != 0)
        return -1;
    if (bytes > ZIP_LIMIT)
        return too_big(z, err);
    return add_member(z, key, head, hlen, data, (size_t)bytes, err);
}

/* Decodes one UTF-8 character at s (n bytes left); invalid bytes give
 * U+FFFD and advance by one. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *used)
{
    uint32_t c = s[0];
    size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                           : (c & 0xF8) == 0xF0 ? 4 : 0;
    *used = 1;
    if (k == 1)
        return c;
    if (k == 0 || k > n)
        return 0xFFFD;
    c &= 0x7F >> k;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0xFFFD;
        c = c << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[k] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0xFFFD;
    *used = k;
    return c;
}

static size_t utf8_count(const char *s)
{
    size_t n = strlen(s), i = 0, count = 0, used;
    while (i < n) {
        utf8_next((const unsigned char *)s + i, n - i, &used);
        i += used;
        count++;
    }
    return count;
}

int ember_npz_add_strings(ember_npz *z, const char *key, const char *const *strs, size_t n,
                          ember_ferr *err)
{
    size_t width = 1;
    for (size_t i = 0; i < n; i++) {
        size_t c = utf8_count(strs[i]);
        width = c > width ? c : width;
    }
    if (width > 1u << 20 || n > (ZIP_LIMIT / 4) / width)
        return too_big(z, err);
    uint8_t *data = calloc(n ? n * width : 1, 4);
    if (!data)
        return ember_ferr_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const unsigned char *s = (const unsigned char *)strs[i];
        size_t len = strlen(strs[i]), at = 0, used;
        uint8_t *d = data + i * width * 4;
        while (at < len) {
            put32(d, utf8_next(s + at, len - at, &used)); /* UTF-32LE, as '<U' says */
            d += 4;
            at += used;
        }
    }
    char descr[32], head[1024];
    snprintf(descr, sizeof descr, "<U%zu", width);
    int64_t shape[1] = {(int64_t)n};
    size_t hlen;
    int rc = ember_npy_header(descr, shape, 1, head, sizeof head, &hlen, err);
    if (rc == 0)
        rc = add_member(z, key, head, hlen, data, n * width * 4, err);
    free(data);
    return rc;
}

int ember_npz_commit(ember_npz *z, ember_ferr *err)
{
    uint64_t cd_start = z->offset, cd_size = 0;
    for (size_t i = 0; i < z->n; i++)
        cd_size += 46 + strlen(z->e[i].name);
    if (cd_start + cd_size + 22 > ZIP_LIMIT) {
        too_big(z, err);
        ember_npz_abort(z);
        return -1;
    }
    for (size_t i = 0; i < z->n; i++) {
        const ember_npz_entry *e = &z->e[i];
        size_t nlen = strlen(e->name);
        uint8_t ch[46];
        put32(ch, 0x02014b50);
        put16(ch + 4, 3u << 8 | 20); /* made by: Unix, so the attributes below mean rw-r--r-- */
        put16(ch + 6, 20);
        put16(ch + 8, e->flags);
        put16(ch + 10, 0);
        put16(ch + 12, z->dos_time);
        put16(ch + 14, z->dos_date);
        put32(ch + 16, e->crc);
        put32(ch + 20, e->size);
        put32(ch + 24, e->size);
        put16(ch + 28, (uint32_t)nlen);
        put16(ch + 30, 0);
        put16(ch + 32, 0);
        put16(ch + 34, 0);
        put16(ch + 36, 0);
        put32(ch + 38, 0100644u << 16);
        put32(ch + 42, e->offset);
        if (ember_afile_write(&z->af, ch, sizeof ch, err) != 0 ||
            ember_afile_write(&z->af, e->name, nlen, err) != 0) {
            ember_npz_abort(z);
            return -1;
        }
    }
    uint8_t end[22];
    put32(end, 0x06054b50);
    put16(end + 4, 0);
    put16(end + 6, 0);
    put16(end + 8, (uint32_t)z->n);
    put16(end + 10, (uint32_t)z->n);
    put32(end + 12, (uint32_t)cd_size);
    put32(end + 16, (uint32_t)cd_start);
    put16(end + 20, 0);
    if (ember_afile_write(&z->af, end, sizeof end, err) != 0) {
        ember_npz_abort(z);
        return -1;
    }
    int rc = ember_afile_commit(&z->af, err);
    ember_npz_abort(z); /* frees the entries; the file is committed or gone */
    return rc;
}
