/* test_load.c — image_load on local files.
 *   test_viz_load errors TMPDIR   broken files: missing, empty, directory,
 *                                 wrong magic, truncated PNG and JPEG
 *   test_viz_load shared DATADIR  the shared sample images: sizes and a few
 *                                 pixel sanity checks (skips when absent) */
#include "viz/codec.h"
#include "viz_test.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static void expect_error(const char *path, const char *needle)
{
    ember_image img = {0};
    char err[512] = "";
    int rc = ember_image_load(path, &img, err, sizeof err);
    CHECK_MSG(rc == -1, "%s loaded", path);
    CHECK_MSG(strstr(err, path) != NULL, "message does not name the file: %s", err);
    /* once: a truncated file's message once said its path twice */
    CHECK_MSG(strstr(strstr(err, path) + strlen(path), path) == NULL, "path named twice: %s", err);
    CHECK_MSG(strstr(err, needle) != NULL, "message lacks \"%s\": %s", needle, err);
    CHECK(img.data == NULL);
    printf("  %s\n", err);
}

static int run_errors(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", dir);
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/no-such-file.png", dir);
    remove(path);
    expect_error(path, "No such file");

    snprintf(path, sizeof path, "%s/empty.png", dir);
    CHECK(write_file(path, "", 0) == 0);
    expect_error(path, "empty");

    expect_error(dir, "directory");

    snprintf(path, sizeof path, "%s/really-a-gif.png", dir);
    CHECK(write_file(path, "GIF89a\x01\x00\x01\x00", 10) == 0);
    expect_error(path, "not a PNG or JPEG file");
    snprintf(path, sizeof path, "%s/page.jpg", dir);
    const char *html = "<!DOCTYPE html><html><body>404</body></html>";
    CHECK(write_file(path, html, strlen(html)) == 0);
    expect_error(path, "HTML");
    snprintf(path, sizeof path, "%s/random.png", dir);
    CHECK(write_file(path, "\x01\x02\x03\x04\x05\x06\x07\x08\x09", 9) == 0);
    expect_error(path, "starts with bytes 01 02 03 04 05 06 07 08");

    /* A real PNG, truncated at several lengths. */
    ember_image img = {0};
    char err[512];
    CHECK(ember_image_alloc(&img, 40, 30, 3, err, sizeof err) == 0);
    for (size_t i = 0; i < 40 * 30 * 3; i++)
        img.data[i] = (uint8_t)(i * 7);
    uint8_t *png = NULL;
    size_t len = 0;
    CHECK(ember_png_encode(&img, -1, &png, &len, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/whole.png", dir);
    CHECK(write_file(path, png, len) == 0);
    ember_image back = {0};
    CHECK_MSG(ember_image_load(path, &back, err, sizeof err) == 0, "%s", err);
    CHECK(back.width == 40 && back.height == 30 && back.data &&
          memcmp(back.data, img.data, 40 * 30 * 3) == 0);
    ember_image_free(&back);
    size_t cuts[] = {12, 30, 40, len / 2, len - 13, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        snprintf(path, sizeof path, "%s/cut%zu.png", dir, cuts[i]);
        CHECK(write_file(path, png, cuts[i]) == 0);
        expect_error(path, "truncated");
    }
    /* The same PNG named .jpg still loads: formats come from the bytes. */
    snprintf(path, sizeof path, "%s/png-named.jpg", dir);
    CHECK(write_file(path, png, len) == 0);
    CHECK(ember_image_load(path, &back, err, sizeof err) == 0 && back.width == 40);
    ember_image_free(&back);
    free(png);
    ember_image_free(&img);

    CHECK(ember_image_load("", &back, err, sizeof err) == -1);
    /* load_image() adds its name: the library must not (it read twice) */
    CHECK_MSG(strstr(err, "no file name") && strncmp(err, "load_image", 10) != 0, "%s", err);
    CHECK(ember_image_load(NULL, &back, err, sizeof err) == -1);
    TEST_END();
}

typedef struct {
    const char *name;
    int w, h;
} expected;

static int run_shared(const char *data)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/images", data);
    struct stat st;
    if (stat(dir, &st) != 0) {
        printf("SKIP: shared test images not found at %s (set EMBER_SHARED_DATA)\n", dir);
        return 77;
    }
    static const expected want[] = {
        {"chelsea.png", 451, 300}, {"coffee.png", 600, 400},
        {"astronaut.png", 512, 512}, {"rocket.jpg", 640, 427}};
    ember_image imgs[4] = {{0}};
    for (int i = 0; i < 4; i++) {
        char path[4200], err[512] = "", desc[64];
        snprintf(path, sizeof path, "%s/%s", dir, want[i].name);
        CHECK_MSG(ember_image_load(path, &imgs[i], err, sizeof err) == 0, "%s", err);
        CHECK_MSG(imgs[i].width == want[i].w && imgs[i].height == want[i].h, "%s is %dx%d",
                  want[i].name, imgs[i].width, imgs[i].height);
        CHECK(imgs[i].channels == 3);
        ember_image_describe(&imgs[i], desc, sizeof desc);
        printf("  %s %s\n", want[i].name, desc);
        if (!imgs[i].data)
            continue;
        /* Natural photos: neither blank nor flat, mean in a sane range. */
        double sum = 0;
        int lo = 255, hi = 0;
        size_t n = (size_t)imgs[i].width * imgs[i].height * 3;
        for (size_t k = 0; k < n; k++) {
            sum += imgs[i].data[k];
            lo = imgs[i].data[k] < lo ? imgs[i].data[k] : lo;
            hi = imgs[i].data[k] > hi ? imgs[i].data[k] : hi;
        }
        double mean = sum / n;
        CHECK_MSG(mean > 40 && mean < 215, "%s mean %.1f", want[i].name, mean);
        CHECK_MSG(hi - lo > 150, "%s range %d..%d", want[i].name, lo, hi);
    }
    char d[64];
    ember_image_describe(&imgs[0], d, sizeof d);
    CHECK(strcmp(d, "<image 451x300 RGB>") == 0);
    /* Known content: the coffee photo is warm (a brown table, a red cup):
     * red outweighs blue overall; the rocket's night sky is blue at the top. */
    if (imgs[1].data) {
        double r = 0, b = 0;
        for (size_t k = 0; k < (size_t)600 * 400; k++) {
            r += imgs[1].data[k * 3];
            b += imgs[1].data[k * 3 + 2];
        }
        CHECK_MSG(r > 1.3 * b, "coffee red %.0f blue %.0f", r, b);
    }
    if (imgs[3].data) {
        const uint8_t *p = imgs[3].data + ((size_t)20 * 640 + 320) * 3;
        CHECK_MSG(p[2] > p[0] && p[2] > 40, "rocket sky %d %d %d", p[0], p[1], p[2]);
    }
    /* The cat's image is mostly warm too; its grey conversion is a 1-channel image. */
    if (imgs[0].data) {
        ember_image g = {0};
        char err[128];
        CHECK(ember_image_convert(&imgs[0], 1, &g, err, sizeof err) == 0 && g.channels == 1);
        ember_image_free(&g);
    }
    for (int i = 0; i < 4; i++)
        ember_image_free(&imgs[i]);
    TEST_END();
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "errors") == 0)
        return run_errors(argv[2]);
    if (argc == 3 && strcmp(argv[1], "shared") == 0)
        return run_shared(argv[2]);
    fprintf(stderr, "usage: test_viz_load errors TMPDIR | shared DATADIR\n");
    return 2;
}
