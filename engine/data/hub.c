/* hub.c — finding (and once downloading) the files of a Hugging Face model
 * repository: a local folder, the huggingface_hub cache, Ember's cache, or
 * the hub itself. See hub.h for the order and the layouts. */
#define _GNU_SOURCE
#include "data/hub.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_ENDPOINT "https://huggingface.co"

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* A path component of a repo id or a file name must not climb out of the
 * cache folder. */
static int safe_part(const char *s, size_t n, int allow_slash)
{
    if (n == 0 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.' || (allow_slash && c == '/')))
            return 0;
        if (c == '.' && i + 1 < n && s[i + 1] == '.')
            return 0;
        if (c == '/' && i + 1 < n && s[i + 1] == '.')
            return 0;
    }
    return 1;
}

int ember_hub_check_repo(const char *repo, ember_err *err)
{
    const char *slash = repo ? strchr(repo, '/') : NULL;
    size_t n = repo ? strlen(repo) : 0;
    if (!slash || strchr(slash + 1, '/') || n > 96 || !safe_part(repo, (size_t)(slash - repo), 0) ||
        !safe_part(slash + 1, strlen(slash + 1), 0))
        return ember_err_set(err,
                             "'%s' is not a Hugging Face model id: expected 'organisation/name' "
                             "(letters, digits, '-', '_', '.'), e.g. 'CIDAS/clipseg-rd64-refined', "
                             "or the path of a local folder holding the model's files",
                             repo ? repo : "(null)");
    return 0;
}

/* $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub. */
static int hf_cache(char *buf, size_t cap)
{
    const char *v;
    int n;
    if ((v = getenv("HF_HUB_CACHE")) && v[0])
        n = snprintf(buf, cap, "%s", v);
    else if ((v = getenv("HF_HOME")) && v[0])
        n = snprintf(buf, cap, "%s/hub", v);
    else if ((v = getenv("HOME")) && v[0])
        n = snprintf(buf, cap, "%s/.cache/huggingface/hub", v);
    else
        return -1;
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* $EMBER_DATA/hf, $XDG_CACHE_HOME/ember/hf, ~/.cache/ember/hf. */
static int ember_cache(char *buf, size_t cap)
{
    const char *v;
    int n;
    if ((v = getenv("EMBER_DATA")) && v[0])
        n = snprintf(buf, cap, "%s/hf", v);
    else if ((v = getenv("XDG_CACHE_HOME")) && v[0])
        n = snprintf(buf, cap, "%s/ember/hf", v);
    else if ((v = getenv("HOME")) && v[0])
        n = snprintf(buf, cap, "%s/.cache/ember/hf", v);
    else
        return -1;
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The snapshot of `revision` in the huggingface_hub cache: refs/<revision>
 * holds a commit hash; a revision that is itself a hash names its snapshot
 * directly. */
static int hf_snapshot_file(const char *cache, const char *repo, const char *revision,
                            const char *file, char *out, size_t outlen)
{
    char org[128], name[128];
    const char *slash = strchr(repo, '/');
    snprintf(org, sizeof org, "%.*s", (int)(slash - repo), repo);
    snprintf(name, sizeof name, "%s", slash + 1);
    char ref[1024], hash[128] = "";
    snprintf(ref, sizeof ref, "%s/models--%s--%s/refs/%s", cache, org, name, revision);
    FILE *f = fopen(ref, "r");
    if (f) {
        if (!fgets(hash, sizeof hash, f))
            hash[0] = '\0';
        fclose(f);
        hash[strcspn(hash, "\r\n")] = '\0';
    } else {
        snprintf(hash, sizeof hash, "%s", revision);
    }
    if (!hash[0] || !safe_part(hash, strlen(hash), 0))
        return -1;
    int n = snprintf(out, outlen, "%s/models--%s--%s/snapshots/%s/%s", cache, org, name, hash, file);
    return n > 0 && (size_t)n < outlen && is_file(out) ? 0 : -1;
}

int ember_hub_file(const char *repo, const char *file, const ember_hub_opts *opts, char *out,
                   size_t outlen, ember_err *err)
{
    ember_hub_opts o = opts ? *opts : (ember_hub_opts){0};
    const char *rev = o.revision && o.revision[0] ? o.revision : "main";
    if (!file || !safe_part(file, strlen(file), 1))
        return ember_err_set(err, "'%s' is not a file name of a model repository",
                             file ? file : "(null)");
    if (!safe_part(rev, strlen(rev), 0))
        return ember_err_set(err, "'%s' is not a revision (a branch, tag or commit hash)", rev);

    /* 1. a local folder */
    if (repo && is_dir(repo)) {
        int n = snprintf(out, outlen, "%s/%s", repo, file);
        if (n > 0 && (size_t)n < outlen && is_file(out))
            return 0;
        return ember_err_set(err, "the folder '%s' has no %s; a model folder holds the files of "
                                  "the Hugging Face repository (config.json, model.safetensors, "
                                  "vocab.json, merges.txt, preprocessor_config.json)",
                             repo, file);
    }
    if (ember_hub_check_repo(repo, err) != 0)
        return -1;

    /* 2. the huggingface_hub cache */
    char hf[768] = "";
    if (hf_cache(hf, sizeof hf) == 0 && hf_snapshot_file(hf, repo, rev, file, out, outlen) == 0)
        return 0;

    /* 3. Ember's cache */
    char mine[768];
    if (ember_cache(mine, sizeof mine) != 0)
        return ember_err_set(err, "no cache folder for %s: set HOME or EMBER_DATA", repo);
    char dest[1200];
    int n = snprintf(dest, sizeof dest, "%s/%s/%s/%s", mine, repo, rev, file);
    if (n < 0 || (size_t)n >= sizeof dest)
        return ember_err_set(err, "the cache path for %s/%s is too long", repo, file);
    if (is_file(dest)) {
        if ((size_t)n >= outlen)
            return ember_err_set(err, "the cache path for %s/%s is too long", repo, file);
        memcpy(out, dest, (size_t)n + 1);
        return 0;
    }
    if (!o.download)
        return ember_err_set(err, "%s of %s is not on this machine (looked in %s and %s); allow the "
                                  "download, or pass the path of a folder holding the model's "
                                  "files",
                             file, repo, hf[0] ? hf : "the Hugging Face cache", mine);

    /* 4. download into Ember's cache */
    const char *endpoint = o.endpoint && o.endpoint[0] ? o.endpoint : getenv("HF_ENDPOINT");
    if (!endpoint || !endpoint[0])
        endpoint = DEFAULT_ENDPOINT;
    size_t el = strlen(endpoint);
    while (el > 0 && endpoint[el - 1] == '/')
        el--;
    char url[2048];
    n = snprintf(url, sizeof url, "%.*s/%s/resolve/%s/%s", (int)el, endpoint, repo, rev, file);
    if (n < 0 || (size_t)n >= sizeof url)
        return ember_err_set(err, "the download address of %s/%s is too long", repo, file);
    ember_fetch_opts fo = {.progress = o.progress, .progress_ctx = o.progress_ctx};
    if (ember_fetch_url(url, dest, &fo, err) != 0)
        return ember_err_prefix(err, "downloading %s of %s: ", file, repo);
    if (strlen(dest) >= outlen)
        return ember_err_set(err, "the cache path for %s/%s is too long", repo, file);
    memcpy(out, dest, strlen(dest) + 1);
    return 0;
}
