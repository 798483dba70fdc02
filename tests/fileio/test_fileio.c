/* test_fileio.c — engine/fileio: atomic files (new, replaced with their
 * mode kept, every refusal with its cause, a write that fails half way
 * leaving the earlier file whole and no temporary behind), atomic folders
 * (new, replacing an earlier save, refusing someone else's folder), .npy
 * headers byte for byte as numpy writes them, .npz read back as a zip
 * (names, CRC-32, offsets), CSV quoting and numbers, JSON text.
 * Usage: test_fileio <scratch dir>. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio/atomic.h"
#include "fileio/npy.h"
#include "fileio/tabular.h"
#include "test_util.h"

static char dir[900];

static char *at(const char *name)
{
    static char bufs[4][sizeof dir + 512]; /* dir, '/', any name the tests use */
    static int k;
    char *b = bufs[k++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

/* The whole file, malloc'd (NULL when missing); its length in *len. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        b[n] = 0;
    *len = (size_t)n;
    return b;
}

static int same_text(const char *path, const char *text)
{
    size_t n;
    uint8_t *b = slurp(path, &n);
    int ok = b && n == strlen(text) && !memcmp(b, text, n);
    free(b);
    return ok;
}

/* Names in d that a save leaves only while it runs. */
static int temporaries(const char *d)
{
    DIR *dd = opendir(d);
    int n = 0;
    struct dirent *e;
    while (dd && (e = readdir(dd)))
        n += strstr(e->d_name, ".tmp-") != NULL || strstr(e->d_name, ".old-") != NULL;
    if (dd)
        closedir(dd);
    return n;
}

static void test_files(void)
{
    ember_ferr err;
    umask(022);
    CHECK(ember_write_atomic(at("a.txt"), "hello", 5, &err) == 0, "new file: %s", err.msg);
    CHECK(same_text(at("a.txt"), "hello"), "content");
    struct stat st;
    CHECK(stat(at("a.txt"), &st) == 0 && (st.st_mode & 0777) == 0644, "mode %o", st.st_mode & 0777);
    chmod(at("a.txt"), 0600);
    CHECK(ember_write_atomic(at("a.txt"), "second", 6, &err) == 0, "replace: %s", err.msg);
    CHECK(same_text(at("a.txt"), "second"), "replaced");
    CHECK(stat(at("a.txt"), &st) == 0 && (st.st_mode & 0777) == 0600, "a replaced file keeps its mode");
    CHECK(ember_write_atomic(at("empty.bin"), NULL, 0, &err) == 0, "empty file: %s", err.msg);

    /* refusals, each with its cause and a message that says what to do */
    CHECK(ember_write_atomic(at("no/such/folder/x.txt"), "x", 1, &err) != 0 && err.code == ENOENT &&
              strstr(err.msg, "does not exist") && strstr(err.msg, "create it"),
          "missing folder: %d %s", err.code, err.msg);
    CHECK(ember_write_atomic(at("a.txt/x.txt"), "x", 1, &err) != 0 && err.code == ENOTDIR &&
              strstr(err.msg, "is a file, not a folder"),
          "parent is a file: %s", err.msg);
    CHECK(ember_write_atomic(dir, "x", 1, &err) != 0 && err.code == EISDIR &&
              strstr(err.msg, "is a folder"),
          "path is a folder: %s", err.msg);
    CHECK(ember_write_atomic(at("sub/"), "x", 1, &err) != 0 && err.code == EISDIR, "trailing slash");
    CHECK(ember_write_atomic("", "x", 1, &err) != 0 && err.code == EINVAL, "empty path");
    char longname[400];
    memset(longname, 'n', 300);
    strcpy(longname + 300, ".txt");
    CHECK(ember_write_atomic(at(longname), "x", 1, &err) != 0 && err.code == ENAMETOOLONG &&
              strstr(err.msg, "too long"),
          "a name too long: %s", err.msg);
    if (geteuid() != 0) { /* root may write anywhere */
        mkdir(at("ro"), 0555);
        CHECK(ember_write_atomic(at("ro/x.txt"), "x", 1, &err) != 0 && err.code == EACCES &&
                  strstr(err.msg, "permission"),
              "read-only folder: %s", err.msg);
    }

    /* abort: nothing appears */
    ember_afile af;
    CHECK(ember_afile_open(&af, at("aborted.txt"), &err) == 0, "open: %s", err.msg);
    ember_afile_write(&af, "partial", 7, &err);
    ember_afile_abort(&af);
    CHECK(access(at("aborted.txt"), F_OK) != 0, "an aborted file does not appear");

    /* A write that fails half way (the file size limit stands in for a full
     * disk): the earlier file is whole and no temporary is left. */
    CHECK(ember_write_atomic(at("keep.txt"), "earlier", 7, &err) == 0, "keep: %s", err.msg);
    struct rlimit old, small = {.rlim_cur = 1000, .rlim_max = 0};
    getrlimit(RLIMIT_FSIZE, &old);
    small.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    char big[20000];
    memset(big, 'x', sizeof big);
    if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
        int rc = ember_write_atomic(at("keep.txt"), big, sizeof big, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(rc != 0 && err.code == EFBIG && strstr(err.msg, "unchanged"), "failed write: %d %s",
              err.code, err.msg);
        CHECK(same_text(at("keep.txt"), "earlier"), "the earlier file is intact");
    }
    CHECK(temporaries(dir) == 0, "no temporary files left");
}

static int refuse(const char *path, void *ctx)
{
    (void)path, (void)ctx;
    return 0;
}

static int accept(const char *path, void *ctx)
{
    (void)path, (void)ctx;
    return 1;
}

static void write_in(ember_adir *ad, const char *name, const char *text)
{
    char p[2048];
    ember_ferr err;
    CHECK(ember_adir_file(ad, name, p, sizeof p) == 0, "file name");
    CHECK(ember_write_atomic(p, text, strlen(text), &err) == 0, "write in folder: %s", err.msg);
}

static void test_folders(void)
{
    ember_ferr err;
    ember_adir ad;
    CHECK(ember_adir_open(&ad, at("out"), &err) == 0, "open: %s", err.msg);
    write_in(&ad, "a.txt", "A");
    CHECK(ember_adir_commit(&ad, refuse, NULL, &err) == 0, "new folder: %s", err.msg);
    CHECK(same_text(at("out/a.txt"), "A"), "its file");

    /* someone else's folder is left alone */
    CHECK(ember_adir_open(&ad, at("out/"), &err) == 0, "open with a slash: %s", err.msg);
    write_in(&ad, "b.txt", "B");
    CHECK(ember_adir_commit(&ad, refuse, NULL, &err) != 0 && err.code == EEXIST &&
              strstr(err.msg, "holds other files"),
          "refused: %s", err.msg);
    CHECK(same_text(at("out/a.txt"), "A") && access(at("out/b.txt"), F_OK) != 0, "untouched");

    /* an earlier save is replaced whole: the old file is gone */
    CHECK(ember_adir_open(&ad, at("out"), &err) == 0, "open: %s", err.msg);
    write_in(&ad, "b.txt", "B");
    CHECK(ember_adir_commit(&ad, accept, NULL, &err) == 0, "replace: %s", err.msg);
    CHECK(same_text(at("out/b.txt"), "B") && access(at("out/a.txt"), F_OK) != 0, "replaced");

    /* an empty folder needs no asking */
    mkdir(at("empty"), 0755);
    CHECK(ember_adir_open(&ad, at("empty"), &err) == 0, "open: %s", err.msg);
    write_in(&ad, "c.txt", "C");
    CHECK(ember_adir_commit(&ad, refuse, NULL, &err) == 0, "empty folder: %s", err.msg);
    CHECK(same_text(at("empty/c.txt"), "C"), "filled");

    /* aborted: nothing */
    CHECK(ember_adir_open(&ad, at("never"), &err) == 0, "open: %s", err.msg);
    write_in(&ad, "d.txt", "D");
    ember_adir_abort(&ad);
    CHECK(access(at("never"), F_OK) != 0, "an aborted folder does not appear");

    CHECK(ember_adir_open(&ad, at("a.txt"), &err) != 0 && err.code == EEXIST, "a file of that name");
    CHECK(ember_adir_open(&ad, at("none/x"), &err) != 0 && err.code == ENOENT, "missing parent");
    CHECK(temporaries(dir) == 0, "no temporaries left");
}

static uint32_t rd16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }

static void test_npy(void)
{
    ember_ferr err;
    char h[256];
    size_t n = 0;
    int64_t s23[2] = {2, 3};
    CHECK(ember_npy_header("<f4", s23, 2, h, sizeof h, &n, &err) == 0, "header");
    /* numpy.save(np.zeros((2, 3), np.float32)) writes exactly this */
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    CHECK(n == 128 && !memcmp(h, "\x93NUMPY\x01\x00", 8) && rd16((uint8_t *)h + 8) == 118,
          "size %zu", n);
    CHECK(!memcmp(h + 10, dict, strlen(dict)) && h[127] == '\n' && h[10 + strlen(dict)] == ' ',
          "dict");
    int64_t s5[1] = {5};
    CHECK(ember_npy_header("<f4", s5, 1, h, sizeof h, &n, &err) == 0 && strstr(h + 10, "(5,)"),
          "one dimension has a comma");
    CHECK(ember_npy_header("<f4", s5, 0, h, sizeof h, &n, &err) == 0 && strstr(h + 10, "()"),
          "a scalar");

    float v[6] = {0, 0.5f, 1, -2, 3.25f, 1e-8f};
    CHECK(ember_npy_save_f32(at("v.npy"), v, s23, 2, &err) == 0, "save: %s", err.msg);
    uint8_t *b = slurp(at("v.npy"), &n);
    CHECK(b && n == 128 + sizeof v && !memcmp(b + 128, v, sizeof v), "file");
    free(b);

    /* .npz: read back as a zip */
    ember_npz z;
    CHECK(ember_npz_open(&z, at("a.npz"), &err) == 0, "npz open: %s", err.msg);
    CHECK(ember_npz_add_f32(&z, "first", v, s23, 2, &err) == 0, "add");
    const char *strs[2] = {"a cat", "\xc3\xa9t\xc3\xa9"}; /* "été": 3 code points */
    CHECK(ember_npz_add_strings(&z, "prompts", strs, 2, &err) == 0, "strings");
    CHECK(ember_npz_add_f32(&z, "first", v, s23, 2, &err) != 0, "duplicate name refused");
    CHECK(ember_npz_add_f32(&z, "a/b", v, s23, 2, &err) != 0, "a path refused");
    CHECK(ember_npz_commit(&z, &err) == 0, "commit: %s", err.msg);
    b = slurp(at("a.npz"), &n);
    CHECK(b && n > 22, "archive");
    if (b && n > 22) {
        const uint8_t *end = b + n - 22;
        CHECK(rd32(end) == 0x06054b50 && rd16(end + 10) == 2, "end record, 2 entries");
        const uint8_t *cd = b + rd32(end + 16);
        const char *names[2] = {"first.npy", "prompts.npy"};
        for (int i = 0; i < 2; i++) {
            CHECK(rd32(cd) == 0x02014b50, "central header %d", i);
            uint32_t crc = rd32(cd + 16), size = rd32(cd + 24), nlen = rd16(cd + 28);
            const uint8_t *lh = b + rd32(cd + 42);
            CHECK(rd32(lh) == 0x04034b50 && rd16(lh + 8) == 0 && nlen == strlen(names[i]) &&
                      !memcmp(lh + 30, names[i], nlen) && !memcmp(cd + 46, names[i], nlen),
                  "member %d named %s", i, names[i]);
            const uint8_t *data = lh + 30 + nlen + rd16(lh + 28);
            CHECK(crc32(0, data, size) == crc && rd32(lh + 14) == crc, "crc %d", i);
            CHECK(!memcmp(data, "\x93NUMPY", 6), "an npy inside");
            if (i == 1) {
                CHECK(strstr((const char *)data + 10, "'<U5'") != NULL, "width is the longest");
                const uint8_t *u = data + rd16(data + 8) + 10;
                CHECK(rd32(u) == 'a' && rd32(u + 20) == 0xe9 && rd32(u + 32) == 0 &&
                          size == (uint32_t)(rd16(data + 8) + 10 + 2 * 5 * 4),
                      "UTF-32, padded with zeros");
            }
            cd += 46 + nlen;
        }
    }
    free(b);
    CHECK(temporaries(dir) == 0, "no temporaries left");
}

static void test_tables(void)
{
    char buf[48];
    const double vals[] = {0.1, 1e-5, 3e-4, 1.0 / 3, 2.2783652544021606, 1e300, -0.0, 12345678.0};
    const char *want[] = {"0.1", "1e-05", "0.0003", "0.3333333333333333", "2.2783652544021606",
                          "1e+300", "-0", "12345678"};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        ember_format_double(vals[i], buf, sizeof buf);
        CHECK(!strcmp(buf, want[i]), "%.17g gave %s", vals[i], buf);
    }
    for (int i = 0; i < 2000; i++) {
        double v = t_normal() * pow(10, (int)(t_uniform() * 40) - 20);
        ember_format_double(v, buf, sizeof buf);
        CHECK(strtod(buf, NULL) == v, "round trip %s", buf);
    }

    ember_csv c = {0};
    ember_csv_str(&c, "plain");
    ember_csv_str(&c, "a,b");
    ember_csv_str(&c, "say \"hi\"");
    ember_csv_str(&c, "two\nlines");
    ember_csv_str(&c, " pad");
    ember_csv_end_row(&c);
    ember_csv_num(&c, NAN);
    ember_csv_num(&c, INFINITY);
    ember_csv_num(&c, 0.25);
    ember_csv_int(&c, -7);
    ember_csv_end_row(&c);
    ember_ferr err;
    CHECK(ember_csv_save(&c, at("t.csv"), &err) == 0, "csv: %s", err.msg);
    CHECK(same_text(at("t.csv"),
                    "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" pad\"\n,inf,0.25,-7\n"),
          "quoting and numbers");

    json_t *root = json_pack("{s:f, s:f, s:[i, i], s:[{s:s}], s:o}", "lr", 3e-4, "one", 1.0, "row",
                             1, 2, "items", "name", "\"q\"", "missing", ember_json_number(NAN));
    CHECK(ember_json_save(root, at("t.json"), &err) == 0, "json: %s", err.msg);
    size_t n;
    uint8_t *b = slurp(at("t.json"), &n);
    CHECK(b && strstr((char *)b, "\"lr\": 0.0003") && strstr((char *)b, "\"one\": 1.0") &&
              strstr((char *)b, "\"row\": [1, 2]") && strstr((char *)b, "\"missing\": null") &&
              b[n - 1] == '\n',
          "json text: %s", b ? (char *)b : "(none)");
    json_t *back = b ? json_loads((char *)b, 0, NULL) : NULL;
    CHECK(back && json_real_value(json_object_get(back, "lr")) == 3e-4 &&
              !strcmp(json_string_value(json_object_get(json_array_get(json_object_get(back, "items"), 0), "name")), "\"q\""),
          "reads back");
    json_decref(back);
    json_decref(root);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <scratch dir>\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0 || mkdir(dir, 0755) != 0) {
        fprintf(stderr, "cannot make %s\n", dir);
        return 2;
    }
    test_files();
    test_folders();
    test_npy();
    test_tables();
    return t_finish("test_fileio");
}
