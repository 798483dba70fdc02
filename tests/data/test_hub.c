/* test_hub.c — ember_hub_file: a local model folder, the huggingface_hub
 * cache layout (refs -> snapshots), Ember's own cache, and downloads from an
 * endpoint (a file:// tree shaped like huggingface.co's resolve URLs, so no
 * server is needed), plus the refusals: bad repo ids, file names that climb
 * out of the cache, download off.
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
    /* a failed download says which file of which repo */
    CHECK(ember_hub_file("org/model", "nothing.bin", &o, out, sizeof out, &err) != 0, "no file");
    CHECK(strstr(err.msg, "downloading nothing.bin of org/model") != NULL, "%s", err.msg);
    snprintf(p, sizeof p, "%s/hf/org/model/v2/nothing.bin", mine);
    struct stat st;
    CHECK(stat(p, &st) != 0, "a failed download left %s", p);
    unsetenv("HF_ENDPOINT");
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
    return t_finish("test_hub");
}
