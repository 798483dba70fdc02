/* test_safetensors.c — safetensors round trip (write, mmap, read back) and
 * the clear errors a corrupt file must give: short file, huge or truncated
 * header, bad JSON, unknown dtype, offsets outside the data, byte counts
 * that do not match the shape, overlapping tensors, duplicate names. */
#include <unistd.h>

#include "core/safetensors.h"
#include "test_util.h"

static char dir[256];

/* A file of: 8-byte header length, the header, then `data_len` bytes. */
static void write_raw(const char *path, uint64_t hlen_field, const char *hdr, size_t data_len) {
    FILE *f = fopen(path, "wb");
    if (!f) exit(2);
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(hlen_field >> (8 * i));
    fwrite(b, 1, 8, f);
    fwrite(hdr, 1, strlen(hdr), f);
    for (size_t i = 0; i < data_len; i++) fputc((int)i, f);
    fclose(f);
}

static void expect_error(const char *what, const char *hdr, uint64_t hlen, size_t data_len, const char *needle) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    write_raw(path, hlen, hdr, data_len);
    ember_st_file f;
    ember_err e = {{0}};
    int rc = ember_st_open(&f, path, &e);
    CHECK(rc == -1, "%s: opened a corrupt file", what);
    CHECK(strstr(e.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, e.msg, needle);
    CHECK(f.entries == NULL && f.map == NULL, "%s: nothing left behind", what);
    ember_st_close(&f);
}

#define H(s) s, (uint64_t)strlen(s)

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/ember_st_test_XXXXXX");
    if (!mkdtemp(dir)) return 2;
    char path[512];
    snprintf(path, sizeof path, "%s/ok.safetensors", dir);

    /* Round trip. */
    float a[6] = {1, -2, 3.5f, 4, 5, 6};
    int64_t b[4] = {-1, 0, 1, 1ll << 40};
    uint16_t c[5] = {0x3f80, 0xbf80, 0x7f80, 0, 1};
    ember_tensor ta, tb, tc, td;
    int64_t sa[2] = {2, 3}, sb[1] = {4}, sc[1] = {5}, sd[2] = {0, 3};
    ember_err e = {{0}};
    OK(ember_tensor_view(&ta, a, EMBER_F32, EMBER_DEV_CPU, 2, sa, &err_));
    OK(ember_tensor_view(&tb, b, EMBER_I64, EMBER_DEV_CPU, 1, sb, &err_));
    OK(ember_tensor_view(&tc, c, EMBER_BF16, EMBER_DEV_CPU, 1, sc, &err_));
    OK(ember_tensor_view(&td, NULL, EMBER_U8, EMBER_DEV_CPU, 2, sd, &err_));
    ember_st_item items[4] = {{"blocks.0.attn.qkv.weight", &ta}, {"labels", &tb}, {"w.bf16", &tc}, {"empty", &td}};
    OK(ember_st_write(path, items, 4, "{\"format\":\"pt\"}", &err_));
    ember_st_file f;
    OK(ember_st_open(&f, path, &err_));
    CHECK(f.count == 4, "4 tensors, got %zu", f.count);
    const ember_st_entry *en = ember_st_find(&f, "blocks.0.attn.qkv.weight");
    CHECK(en && en->dtype == EMBER_F32 && en->ndim == 2 && en->shape[0] == 2 && en->shape[1] == 3, "entry shape");
    CHECK(f.metadata_json && strstr(f.metadata_json, "\"format\":\"pt\""), "metadata kept");
    ember_tensor v;
    OK(ember_st_view(&f, "blocks.0.attn.qkv.weight", &v, &err_));
    CHECK(v.data && memcmp(v.data, a, sizeof a) == 0, "f32 data");
    int64_t bb[4];
    ember_tensor tbb;
    OK(ember_tensor_view(&tbb, bb, EMBER_I64, EMBER_DEV_CPU, 1, sb, &err_));
    OK(ember_st_copy(&f, "labels", &tbb, 0, &err_));
    CHECK(memcmp(bb, b, sizeof b) == 0, "i64 data");
    const ember_st_entry *ec = ember_st_find(&f, "w.bf16");
    CHECK(ec && memcmp(f.data + ec->offset, c, sizeof c) == 0, "bf16 data");
    CHECK(ember_st_find(&f, "empty") && ember_st_find(&f, "empty")->nbytes == 0, "empty tensor");
    CHECK(ember_st_copy(&f, "labels", &ta, 0, &e) == -1 && strstr(e.msg, "expected"), "shape mismatch: %s", e.msg);
    CHECK(ember_st_view(&f, "nope", &v, &e) == -1 && strstr(e.msg, "no tensor named 'nope'"), "missing name");
    ember_st_close(&f);
    ember_st_close(&f); /* twice is harmless */

    /* Writer errors. */
    ember_st_item dup[2] = {{"x", &ta}, {"x", &tb}};
    CHECK(ember_st_write(path, dup, 2, NULL, &e) == -1 && strstr(e.msg, "twice"), "duplicate names refused");
    ember_tensor gpu = ta;
    gpu.device = EMBER_DEV_CUDA;
    ember_st_item g1[1] = {{"x", &gpu}};
    CHECK(ember_st_write(path, g1, 1, NULL, &e) == -1, "device tensor refused");
    CHECK(ember_st_write("/nonexistent-dir/x.safetensors", items, 1, NULL, &e) == -1 && strstr(e.msg, "does not exist"),
          "unwritable path: %s", e.msg);

    /* Corrupt files. */
    expect_error("short file", "", 0, 3, "not a safetensors file");
    expect_error("huge header length", "{}", (uint64_t)1 << 40, 0, "larger than");
    expect_error("truncated header", "{\"a\":", 4000, 0, "truncated");
    expect_error("bad JSON", H("{\"a\": [1,2"), 0, "corrupt safetensors header");
    expect_error("not an object", H("[1, 2, 3]"), 0, "not a JSON object");
    expect_error("unknown dtype", H("{\"t\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}"), 8, "not supported");
    expect_error("offsets past the end", H("{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}"), 8,
                 "runs past the end");
    expect_error("byte count vs shape", H("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}"), 8,
                 "need 12");
    expect_error("overlap",
                 H("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}"),
                 16, "overlap");
    expect_error("duplicate names",
                 H("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                   "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}"),
                 2, "duplicate");
    expect_error("negative dim", H("{\"t\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}"), 1, "shape entry");
    expect_error("reversed offsets", H("{\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,1]}}"), 2,
                 "end before");
    expect_error("missing offsets", H("{\"t\":{\"dtype\":\"U8\",\"shape\":[1]}}"), 1, "data_offsets");
    expect_error("metadata not strings", H("{\"__metadata__\":{\"k\":1}}"), 0, "not a string");
    expect_error("too many dims", H("{\"t\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}"), 1,
                 "dimensions");
    expect_error("impossible shape",
                 H("{\"t\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,4]}}"), 4,
                 "shape");
    CHECK(ember_st_open(&f, "/nonexistent.safetensors", &e) == -1 && strstr(e.msg, "cannot open"), "missing file");
    CHECK(ember_st_open(&f, dir, &e) == -1 && strstr(e.msg, "not a regular file"), "directory");

    /* Every prefix of a valid file is rejected cleanly, never read past. */
    FILE *fp = fopen(path, "rb");
    uint8_t whole[4096];
    size_t n = fp ? fread(whole, 1, sizeof whole, fp) : 0;
    if (fp) fclose(fp);
    CHECK(n > 100, "read back the written file");
    /* (path was overwritten by nothing: the failed writes above were atomic.) */
    for (size_t len = 0; len < n; len++) {
        ember_st_file pf;
        int rc = ember_st_parse_buffer(&pf, whole, len, &e);
        CHECK(rc == -1, "prefix of %zu bytes accepted", len);
        ember_st_close(&pf);
    }
    ember_st_file full;
    CHECK(ember_st_parse_buffer(&full, whole, n, &e) == 0, "whole buffer parses: %s", e.msg);
    ember_st_close(&full);

    unlink(path);
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    unlink(path);
    rmdir(dir);
    return t_finish("test_safetensors");
}
