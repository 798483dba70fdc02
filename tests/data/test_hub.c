/* test_hub.c — ember_hub_file: a local model folder, the huggingface_hub
 * cache layout (refs -> snapshots), Ember's own cache, and downloads from an
 * endpoint (a file:// tree shaped like huggingface.co's resolve URLs, so no
 * server is needed), plus the refusals: bad repo ids, file names that climb
 * out of the cache, download off, a revision too long to be a hash. The
 * fallback over HTTP (404, 410, 401, 503) is in test_fetch.c, beside its
 * server.
 * Args: <shared data dir> <fixtures dir> <scratch dir>. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/fetch.h"
#include "data/hub.h"
#include "data_test.h"

static void put(const char *path, const char *text)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    ember_err err;
    if (ember_mkdirs(dir, &err) != 0)
        fprintf(stderr, "mkdirs %s: %s\n", dir, err.msg);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_refusals(void)
{
    ember_err err;
    char out[1024];
    CHECK(ember_hub_check_repo("CIDAS/clipseg-rd64-refined", &err) == 0, "%s", err.msg);
    static const char *bad[] = {"clipseg", "a/b/c", "../x", "a/..", "a/.hidden", "a b/c", "", "/x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(ember_hub_check_repo(bad[i], &err) != 0, "'%s' was accepted", bad[i]);
        CHECK(strstr(err.msg, "organisation/name") != NULL, "%s", err.msg);
    }
    ember_hub_opts o = {0};
    CHECK(ember_hub_file("org/model", "../../etc/passwd", &o, out, sizeof out, &err) != 0, "climbed out");
    CHECK(ember_hub_file("org/model", "a/../../b", &o, out, sizeof out, &err) != 0, "climbed out");
    o.revision = "../main";
    CHECK(ember_hub_file("org/model", "config.json", &o, out, sizeof out, &err) != 0, "bad revision");
}

static void test_places(void)
{
    ember_err err;
    char out[1024];
    char hf[1100], mine[1100], remote[1100], local[1100];
    snprintf(hf, sizeof hf, "%s", sp("hf"));
    snprintf(mine, sizeof mine, "%s", sp("ember"));
    snprintf(remote, sizeof remote, "%s", sp("remote"));
    snprintf(local, sizeof local, "%s", sp("local-model"));
    setenv("HF_HUB_CACHE", hf, 1);
    setenv("EMBER_DATA", mine, 1);
    unsetenv("HF_ENDPOINT");

    /* 1. a local folder */
    char p[1200];
    snprintf(p, sizeof p, "%s/config.json", local);
    put(p, "local");
    ember_hub_opts o = {0};
    CHECK(ember_hub_file(local, "config.json", &o, out, sizeof out, &err) == 0, "%s", err.msg);
    CHECK(strcmp(out, p) == 0, "%s", out);
    CHECK(ember_hub_file(local, "model.safetensors", &o, out, sizeof out, &err) != 0, "missing file found");
    CHECK(strstr(err.msg, "has no model.safetensors") != NULL, "%s", err.msg);

    /* nothing anywhere, download off: the message names both caches */
    CHECK(ember_hub_file("org/model", "config.json", &o, out, sizeof out, &err) != 0, "found nothing?");
    CHECK(strstr(err.msg, hf) && strstr(err.msg, mine) && strstr(err.msg, "download"), "%s", err.msg);

    /* A folder that does not exist is named as such, not as a bad model
     * id (which it once was, for anything with a leading '/' or './'). */
    char gone[1200];
    snprintf(gone, sizeof gone, "%s/no-such-model", local);
    const char *paths[] = {gone, "./no-such-model", "../models/no-such", "a/b/c", "~/models/x", "dir/"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        CHECK(ember_hub_file(paths[i], "vocab.json", &o, out, sizeof out, &err) != 0, "%s found", paths[i]);
        char want[1300];
        snprintf(want, sizeof want, "the folder '%s' does not exist", paths[i]);
        CHECK(strstr(err.msg, want) && !strstr(err.msg, "model id"), "%s: %s", paths[i], err.msg);
    }
    CHECK(ember_hub_file("./x", "vocab.json", &o, out, sizeof out, &err) != 0 &&
              strstr(err.msg, "working directory"), "%s", err.msg);
    /* a file given for the folder */
    snprintf(p, sizeof p, "%s/config.json", local);
    CHECK(ember_hub_file(p, "vocab.json", &o, out, sizeof out, &err) != 0 &&
              strstr(err.msg, "is a file, not a model folder"), "%s", err.msg);

    /* 2. the huggingface_hub layout: refs/main -> snapshots/<hash> */
    snprintf(p, sizeof p, "%s/models--org--model/refs/main", hf);
    put(p, "0123abcd\n");
    snprintf(p, sizeof p, "%s/models--org--model/snapshots/0123abcd/config.json", hf);
    put(p, "from hf cache");
    CHECK(ember_hub_file("org/model", "config.json", &o, out, sizeof out, &err) == 0, "%s", err.msg);
    CHECK(strcmp(slurp(out) ? slurp(out) : "", "from hf cache") == 0, "read %s", out);
    /* a revision that is a hash names its snapshot directly */
    o.revision = "0123abcd";
    CHECK(ember_hub_file("org/model", "config.json", &o, out, sizeof out, &err) == 0, "%s", err.msg);
    /* a revision longer than a hash can be is not cut to one: a snapshot
     * named by its first 127 characters is not taken for it */
    char longrev[201], cut[128];
    memset(longrev, 'a', 200);
    longrev[200] = '\0';
    memcpy(cut, longrev, sizeof cut - 1);
    cut[sizeof cut - 1] = '\0';
    if (snprintf(p, sizeof p, "%s/models--org--model/snapshots/%s/config.json", hf, cut) < (int)sizeof p)
        put(p, "a truncated revision's");
    o.revision = longrev;
    CHECK(ember_hub_file("org/model", "config.json", &o, out, sizeof out, &err) == EMBER_HUB_MISSING, "%s", out);
    o.revision = cut;
    CHECK(ember_hub_file("org/model", "config.json", &o, out, sizeof out, &err) == 0, "%s", err.msg);
    o.revision = NULL;

    /* 3 + 4. download from an endpoint into Ember's cache, then read the cache */
    snprintf(p, sizeof p, "%s/org/model/resolve/main/vocab.json", remote);
    put(p, "{\"a\": 1}");
    char endpoint[1200];
    snprintf(endpoint, sizeof endpoint, "file://%s/", remote);
    o.download = 1;
    o.endpoint = endpoint;
    CHECK(ember_hub_file("org/model", "vocab.json", &o, out, sizeof out, &err) == 0, "%s", err.msg);
    snprintf(p, sizeof p, "%s/hf/org/model/main/vocab.json", mine);
    CHECK(strcmp(out, p) == 0, "downloaded to %s", out);
    CHECK(strcmp(slurp(out) ? slurp(out) : "", "{\"a\": 1}") == 0, "content");
    /* the remote copy goes away: the cached one is used */
    snprintf(p, sizeof p, "%s/org/model/resolve/main/vocab.json", remote);
    remove(p);
    CHECK(ember_hub_file("org/model", "vocab.json", &o, out, sizeof out, &err) == 0, "%s", err.msg);
    /* $HF_ENDPOINT stands in for the argument */
    setenv("HF_ENDPOINT", endpoint, 1);
    o.endpoint = NULL;
    snprintf(p, sizeof p, "%s/org/model/resolve/v2/merges.txt", remote);
    put(p, "#version");
    o.revision = "v2";
    CHECK(ember_hub_file("org/model", "merges.txt", &o, out, sizeof out, &err) == 0, "%s", err.msg);
    /* a failed download names the url (so the file and the repo), once:
     * it used to say "downloading nothing.bin of org/model: downloading ..." */
    CHECK(ember_hub_file("org/model", "nothing.bin", &o, out, sizeof out, &err) != 0, "no file");
    CHECK(strncmp(err.msg, "downloading file://", 19) == 0 &&
              strstr(err.msg, "org/model/resolve/v2/nothing.bin") && !strstr(err.msg + 1, "downloading"),
          "%s", err.msg);
    snprintf(p, sizeof p, "%s/hf/org/model/v2/nothing.bin", mine);
    struct stat st;
    CHECK(stat(p, &st) != 0, "a failed download left %s", p);
    unsetenv("HF_ENDPOINT");
}

static char notices[2048];

static void notice(void *ctx, const char *line)
{
    (void)ctx;
    size_t n = strlen(notices);
    snprintf(notices + n, sizeof notices - n, "%s\n", line);
}

/* Alternatives (the weights: model.safetensors, else pytorch_model.bin),
 * in each place in turn, and a download that falls back on "not found". */
static void test_alternatives(void)
{
    ember_err err;
    char out[1024], p[1200], want[1200];
    static const char *const w[] = {"model.safetensors", "pytorch_model.bin"};
    size_t which = 9;
    ember_hub_opts o = {.notice = notice};
    unsetenv("HF_ENDPOINT");

    /* a local folder: the first alternative it holds */
    char local[1100];
    snprintf(local, sizeof local, "%s", sp("alt-model"));
    snprintf(p, sizeof p, "%s/pytorch_model.bin", local);
    put(p, "bin");
    CHECK(ember_hub_file_first(local, w, 2, &o, out, sizeof out, &which, &err) == 0, "%s", err.msg);
    CHECK(which == 1 && !strcmp(out, p), "%zu %s", which, out);
    snprintf(p, sizeof p, "%s/model.safetensors", local);
    put(p, "st");
    CHECK(ember_hub_file_first(local, w, 2, &o, out, sizeof out, &which, &err) == 0 && which == 0 &&
              !strcmp(out, p), "%zu %s", which, out);
    /* neither: missing (not an error), naming both */
    snprintf(local, sizeof local, "%s", sp("alt-empty"));
    snprintf(p, sizeof p, "%s/config.json", local);
    put(p, "{}");
    CHECK(ember_hub_file_first(local, w, 2, &o, out, sizeof out, &which, &err) == EMBER_HUB_MISSING &&
              strstr(err.msg, "has no model.safetensors or pytorch_model.bin"), "%s", err.msg);
    CHECK(ember_hub_file(local, "vocab.json", &o, out, sizeof out, &err) == EMBER_HUB_MISSING, "%s", err.msg);

    /* the huggingface_hub cache holds only the .bin: found there, before a
     * download is tried */
    snprintf(p, sizeof p, "%s/models--org--alt/refs/main", sp("hf"));
    put(p, "feedbeef\n");
    snprintf(want, sizeof want, "%s/models--org--alt/snapshots/feedbeef/pytorch_model.bin", sp("hf"));
    put(want, "bin");
    o.download = 1;
    o.endpoint = "http://127.0.0.1:9/"; /* never reached */
    CHECK(ember_hub_file_first("org/alt", w, 2, &o, out, sizeof out, &which, &err) == 0 && which == 1 &&
              !strcmp(out, want), "%zu %s: %s", which, out, err.msg);

    /* download off, nothing anywhere: missing, naming both and the places */
    o.download = 0;
    CHECK(ember_hub_file_first("org/none", w, 2, &o, out, sizeof out, &which, &err) == EMBER_HUB_MISSING &&
              strstr(err.msg, "model.safetensors or pytorch_model.bin of org/none is not on this machine"),
          "%s", err.msg);

    /* the server has only the .bin: one notice, then the .bin */
    char remote[1100], endpoint[1200];
    snprintf(remote, sizeof remote, "%s", sp("remote-alt"));
    snprintf(p, sizeof p, "%s/org/binonly/resolve/main/pytorch_model.bin", remote);
    put(p, "remote bin");
    snprintf(endpoint, sizeof endpoint, "file://%s", remote);
    o.download = 1;
    o.endpoint = endpoint;
    notices[0] = '\0';
    CHECK(ember_hub_file_first("org/binonly", w, 2, &o, out, sizeof out, &which, &err) == 0 && which == 1,
          "%s", err.msg);
    snprintf(want, sizeof want, "%s/hf/org/binonly/main/pytorch_model.bin", sp("ember"));
    CHECK(!strcmp(out, want) && !strcmp(slurp(out) ? slurp(out) : "", "remote bin"), "downloaded to %s", out);
    CHECK(strstr(notices, "model.safetensors is not on file://") && strstr(notices, "downloading pytorch_model.bin "
                                                                                     "instead"),
          "notice: %s", notices);
    /* now cached: no download, no notice */
    notices[0] = '\0';
    remove(p);
    CHECK(ember_hub_file_first("org/binonly", w, 2, &o, out, sizeof out, &which, &err) == 0 && which == 1 &&
              !notices[0], "%s %s", err.msg, notices);

    /* the server has neither: missing; "downloading" said once, with the
     * last url, the first file named as not found */
    CHECK(ember_hub_file_first("org/nothing", w, 2, &o, out, sizeof out, &which, &err) == EMBER_HUB_MISSING,
          "%s", err.msg);
    CHECK(strstr(err.msg, "model.safetensors is not on file://") && strstr(err.msg, "org/nothing/resolve/main/pytorch_model.bin") &&
              strstr(err.msg, "downloading") && !strstr(strstr(err.msg, "downloading") + 1, "downloading"),
          "%s", err.msg);
    /* a failure other than "not found" stops at once (no fallback) */
    o.endpoint = "http://127.0.0.1:9";
    notices[0] = '\0';
    CHECK(ember_hub_file_first("org/unreachable", w, 2, &o, out, sizeof out, &which, &err) == -1 && !notices[0] &&
              strstr(err.msg, "model.safetensors") && !strstr(err.msg, "pytorch_model.bin"),
          "%s / %s", err.msg, notices);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s <shared data dir> <fixtures dir> <scratch dir>\n", argv[0]);
        return 2;
    }
    snprintf(scratch, sizeof scratch, "%s", argv[3]);
    rm_rf(scratch);
    ember_err err;
    if (ember_mkdirs(scratch, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_refusals();
    test_places();
    test_alternatives();
    return t_finish("test_hub");
}
