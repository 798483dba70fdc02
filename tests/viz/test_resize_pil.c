/* test_resize_pil.c — ember_image_resize against Pillow's
 * Image.resize(size, BILINEAR), byte for byte: CLIPSeg's processor makes its
 * 352x352 inputs that way, so a pixel off changes the model's input. The
 * expected outputs are in tests/fixtures/resize_pil.safetensors (made by
 * gen_resize_fixtures.py); the inputs come from the same integer formula as
 * there. The shared photos (chelsea.png, rocket.jpg) are checked when
 * ../shared/data is present: their decode and their 352x352 resize.
 * Args: <fixture file> <shared data dir>. */
#include "core/safetensors.h"
#include "viz/codec.h"
#include "viz/image.h"
#include "viz_test.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

static uint32_t mix(uint32_t x, uint32_t y, uint32_t c, uint32_t seed)
{
    uint32_t h = x * 0x9E3779B1u + y * 0x85EBCA77u + c * 0xC2B2AE3Du + seed * 0x27D4EB2Fu;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return h;
}

/* The generator's pattern(): noise (kind 0) or gradients with a little
 * noise (kind 1); a fourth channel is alpha with many 0s and 255s. */
static void pattern(ember_image *im, int kind, uint32_t seed)
{
    int w = im->width, h = im->height, ch = im->channels;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                int noise = (int)(mix((uint32_t)x, (uint32_t)y, (uint32_t)c, seed) >> 24);
                int v = noise;
                if (kind == 1) {
                    int gx = x * 255 / (w > 1 ? w - 1 : 1);
                    int gy = y * 255 / (h > 1 ? h - 1 : 1);
                    v = (gx * (3 - c % 4) + gy * (c % 4 + 1)) / 4 + (noise & 15) - 8;
                    v = v < 0 ? 0 : v > 255 ? 255 : v;
                }
                if (c == 3)
                    v = noise < 40 ? 0 : noise > 215 ? 255 : noise;
                im->data[((size_t)y * w + x) * ch + c] = (uint8_t)v;
            }
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

static uint64_t stored_hash(const ember_st_file *f, const char *name)
{
    const ember_st_entry *e = ember_st_find(f, name);
    if (!e || e->dtype != EMBER_U8 || e->nbytes != 8)
        return 0;
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = h << 8 | f->data[e->offset + (size_t)i];
    return h;
}

static const uint8_t *bytes_of(const ember_st_file *f, const char *name, size_t want)
{
    const ember_st_entry *e = ember_st_find(f, name);
    if (!e || e->dtype != EMBER_U8 || e->nbytes != want)
        return NULL;
    return f->data + e->offset;
}

/* Compares got with want (n bytes of an image w pixels wide, c channels);
 * on a difference says how many bytes differ and where the first is. */
static void compare(const char *what, const uint8_t *got, const uint8_t *want, size_t n, int w,
                    int c)
{
    size_t bad = 0, first = 0;
    int worst = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            if (!bad++)
                first = i;
            int d = abs((int)got[i] - (int)want[i]);
            worst = d > worst ? d : worst;
        }
    size_t px = first / (size_t)c;
    CHECK_MSG(bad == 0,
              "%s: %zu of %zu bytes differ from Pillow (worst by %d); first at x=%zu y=%zu "
              "channel %zu: %d, Pillow %d",
              what, bad, n, worst, px % (size_t)w, px / (size_t)w, first % (size_t)c,
              got[first], want[first]);
}

/* A big output: its digest, and its first, middle and last rows. */
static void compare_digest(const ember_st_file *f, const char *name, const ember_image *out)
{
    char key[64], what[96];
    size_t row = (size_t)out->width * out->channels;
    snprintf(key, sizeof key, "%s.rows", name);
    const uint8_t *rows = bytes_of(f, key, 3 * row);
    CHECK_MSG(rows != NULL, "%s: the fixture lacks %s", name, key);
    if (rows) {
        int ys[3] = {0, out->height / 2, out->height - 1};
        for (int i = 0; i < 3; i++) {
            snprintf(what, sizeof what, "%s row %d", name, ys[i]);
            compare(what, out->data + (size_t)ys[i] * row, rows + (size_t)i * row, row,
                    out->width, out->channels);
        }
    }
    snprintf(key, sizeof key, "%s.hash", name);
    uint64_t want = stored_hash(f, key);
    uint64_t got = fnv1a64(out->data, row * (size_t)out->height);
    CHECK_MSG(want && got == want, "%s: output digest %016llx, Pillow's %016llx", name,
              (unsigned long long)got, (unsigned long long)want);
}

static int read_spec(const ember_st_file *f, const char *name, int32_t *spec, int n)
{
    char key[64];
    snprintf(key, sizeof key, "%s.spec", name);
    const ember_st_entry *e = ember_st_find(f, key);
    if (!e || e->dtype != EMBER_I32 || e->nbytes != (size_t)n * 4)
        return -1;
    memcpy(spec, f->data + e->offset, (size_t)n * 4);
    return 0;
}

static int run_synthetic(const ember_st_file *f)
{
    int cases = 0;
    for (int i = 0; i < 100; i++) {
        char name[32], key[64], err[256];
        snprintf(name, sizeof name, "case%02d", i);
        int32_t s[7];
        if (read_spec(f, name, s, 7))
            break;
        cases++;
        ember_image in = {0}, out = {0};
        if (ember_image_alloc(&in, s[0], s[1], s[2], err, sizeof err)) {
            CHECK_MSG(0, "%s: %s", name, err);
            continue;
        }
        pattern(&in, s[5], (uint32_t)s[6]);
        snprintf(key, sizeof key, "%s.in_hash", name);
        size_t in_n = (size_t)s[0] * s[1] * s[2];
        CHECK_MSG(fnv1a64(in.data, in_n) == stored_hash(f, key),
                  "%s: the input pattern differs from the generator's", name);
        int rc = ember_image_resize(&in, s[3], s[4], &out, err, sizeof err);
        CHECK_MSG(rc == 0, "%s: resize failed: %s", name, err);
        if (rc == 0) {
            size_t n = (size_t)s[3] * s[4] * s[2];
            char what[96];
            snprintf(what, sizeof what, "%s (%dx%dx%d -> %dx%d)", name, s[0], s[1], s[2], s[3],
                     s[4]);
            snprintf(key, sizeof key, "%s.want", name);
            const uint8_t *want = bytes_of(f, key, n);
            if (want)
                compare(what, out.data, want, n, s[3], s[2]);
            else
                compare_digest(f, name, &out);
        }
        ember_image_free(&in);
        ember_image_free(&out);
    }
    return cases;
}

static void run_photo(const ember_st_file *f, const char *shared, const char *name,
                      const char *file)
{
    char path[1200], key[64], err[1024];
    snprintf(path, sizeof path, "%s/images/%s", shared, file);
    int32_t s[5];
    if (read_spec(f, name, s, 5)) {
        printf("%s: not in the fixture (the generator did not find it); skipped\n", name);
        return;
    }
    if (access(path, R_OK) != 0) {
        printf("%s: %s is missing (set EMBER_SHARED_DATA); skipped\n", name, path);
        return;
    }
    ember_image in = {0}, out = {0};
    if (ember_image_load(path, &in, err, sizeof err)) {
        CHECK_MSG(0, "%s: %s", name, err);
        return;
    }
    CHECK_MSG(in.width == s[0] && in.height == s[1] && in.channels == 3,
              "%s: decoded %dx%dx%d, Pillow %dx%dx3", name, in.width, in.height, in.channels,
              s[0], s[1]);
    snprintf(key, sizeof key, "%s.in_hash", name);
    uint64_t got = fnv1a64(in.data, (size_t)in.width * in.height * in.channels);
    CHECK_MSG(got == stored_hash(f, key),
              "%s: the decoded pixels differ from Pillow's (so the resize below is compared "
              "on a different input)", name);
    if (ember_image_resize(&in, s[3], s[4], &out, err, sizeof err) == 0)
        compare_digest(f, name, &out);
    else
        CHECK_MSG(0, "%s: resize failed: %s", name, err);
    ember_image_free(&in);
    ember_image_free(&out);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <resize_pil.safetensors> <shared data dir>\n", argv[0]);
        return 2;
    }
    ember_st_file f;
    ember_err e;
    if (ember_st_open(&f, argv[1], &e) != 0) {
        fprintf(stderr, "cannot read the fixture: %s\n", e.msg);
        return 1;
    }
    int cases = run_synthetic(&f);
    CHECK_MSG(cases >= 10, "only %d synthetic cases in the fixture", cases);
    run_photo(&f, argv[2], "chelsea", "chelsea.png");
    run_photo(&f, argv[2], "rocket", "rocket.jpg");
    ember_st_close(&f);
    TEST_END();
}
