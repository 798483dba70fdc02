/* hub.c — finding (and once downloading) the files of a Hugging Face model
 * repository: a local folder, the huggingface_hub cache, Ember's cache, or
 * the hub itself. See hub.h for the order and the layouts. */
#define _GNU_SOURCE
#include "data/hub.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
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

#define MODEL_FILES                                                                              \
    "a model folder holds the files of the Hugging Face repository (config.json, "               \
    "model.safetensors or pytorch_model.bin, vocab.json and merges.txt or tokenizer.json, "      \
    "preprocessor_config.json)"

/* A string that can only be a path: absolute, relative with ./ or ../,
 * home-relative (not expanded, as from_pretrained does not), or with more
 * than one '/' or a trailing one. "org/name" stays a model id. */
static int looks_like_path(const char *s)
{
    size_t n = strlen(s);
    const char *slash = strchr(s, '/');
    return s[0] == '/' || s[0] == '.' || s[0] == '~' || (n && s[n - 1] == '/') ||
           (slash && strchr(slash + 1, '/')) || strchr(s, '\\');
}

/* Where a relative path starts, for messages: " (relative paths start in
 * ...)", or "" when unknown. */
static const char *relative_note(char *buf, size_t cap)
{
    char cwd[400];
    if (!getcwd(cwd, sizeof cwd))
        return "";
    snprintf(buf, cap, " (relative paths start in the kernel's working directory, %s)", cwd);
    return buf;
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
    /* A path or a hash cut short would name another file or snapshot: too
     * long is "not in this cache". */
    int rn = snprintf(ref, sizeof ref, "%s/models--%s--%s/refs/%s", cache, org, name, revision);
    if (rn < 0 || (size_t)rn >= sizeof ref)
        return -1;
    FILE *f = fopen(ref, "r");
    if (f) {
        if (!fgets(hash, sizeof hash, f) || strlen(hash) == sizeof hash - 1)
            hash[0] = '\0'; /* none, or longer than any commit hash (40 digits) */
        fclose(f);
        hash[strcspn(hash, "\r\n")] = '\0';
    } else if (strlen(revision) < sizeof hash) {
        memcpy(hash, revision, strlen(revision) + 1);
    }
    if (!hash[0] || !safe_part(hash, strlen(hash), 0))
        return -1;
    int n = snprintf(out, outlen, "%s/models--%s--%s/snapshots/%s/%s", cache, org, name, hash, file);
    return n > 0 && (size_t)n < outlen && is_file(out) ? 0 : -1;
}

/* "a", "a or b", "a, b or c": the alternatives, for messages. */
static const char *alternatives(const char *const *files, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", files[i]);
    return buf;
}

static void say(const ember_hub_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const ember_hub_opts *o, const char *fmt, ...)
{
    if (!o->notice)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->notice(o->notice_ctx, line);
}

static int copy_out(const char *path, char *out, size_t outlen, const char *repo, const char *file,
                    ember_err *err)
{
    size_t n = strlen(path);
    if (n >= outlen)
        return ember_err_set(err, "the cache path for %s/%s is too long", repo, file);
    memcpy(out, path, n + 1);
    return 0;
}

int ember_hub_file_first(const char *repo, const char *const *files, size_t nfiles,
                         const ember_hub_opts *opts, char *out, size_t outlen, size_t *which,
                         ember_err *err)
{
    ember_hub_opts o = opts ? *opts : (ember_hub_opts){0};
    const char *rev = o.revision && o.revision[0] ? o.revision : "main";
    size_t dummy;
    if (!which)
        which = &dummy;
    *which = 0;
    if (!files || nfiles == 0 || !out || outlen == 0)
        return ember_err_set(err, "no file of a model repository asked for, or nowhere to put its path");
    for (size_t i = 0; i < nfiles; i++)
        if (!files[i] || !safe_part(files[i], strlen(files[i]), 1))
            return ember_err_set(err, "'%s' is not a file name of a model repository",
                                 files[i] ? files[i] : "(null)");
    if (!safe_part(rev, strlen(rev), 0))
        return ember_err_set(err, "'%s' is not a revision (a branch, tag or commit hash)", rev);
    char names[512];
    alternatives(files, nfiles, names, sizeof names);

    /* 1. a local folder */
    if (repo && is_dir(repo)) {
        for (size_t i = 0; i < nfiles; i++) {
            int n = snprintf(out, outlen, "%s/%s", repo, files[i]);
            if (n > 0 && (size_t)n < outlen && is_file(out)) {
                *which = i;
                return 0;
            }
        }
        ember_err_set(err, "the folder '%s' has no %s; %s", repo, names, MODEL_FILES);
        return EMBER_HUB_MISSING;
    }
    struct stat st;
    if (repo && repo[0] && stat(repo, &st) == 0)
        return ember_err_set(err, "'%s' is a file, not a model folder; pass the folder that holds "
                                  "it: %s", repo, MODEL_FILES);
    /* Something no model id looks like was meant as a folder: say that it
     * is missing, rather than that it is a bad id. */
    char note[480];
    if (repo && looks_like_path(repo))
        return ember_err_set(err, "the folder '%s' does not exist%s", repo,
                             repo[0] == '/'   ? ""
                             : repo[0] == '~' ? " ('~' is not expanded: give the full path)"
                                              : relative_note(note, sizeof note));
    if (ember_hub_check_repo(repo, err) != 0)
        return -1;

    /* 2. the huggingface_hub cache */
    char hf[768] = "";
    if (hf_cache(hf, sizeof hf) == 0)
        for (size_t i = 0; i < nfiles; i++)
            if (hf_snapshot_file(hf, repo, rev, files[i], out, outlen) == 0) {
                *which = i;
                return 0;
            }

    /* 3. Ember's cache */
    char mine[768];
    if (ember_cache(mine, sizeof mine) != 0)
        return ember_err_set(err, "no cache folder for %s: set HOME or EMBER_DATA", repo);
    char dest[1200];
    for (size_t i = 0; i < nfiles; i++) {
        int n = snprintf(dest, sizeof dest, "%s/%s/%s/%s", mine, repo, rev, files[i]);
        if (n < 0 || (size_t)n >= sizeof dest)
            return ember_err_set(err, "the cache path for %s/%s is too long", repo, files[i]);
        if (is_file(dest)) {
            *which = i;
            return copy_out(dest, out, outlen, repo, files[i], err);
        }
    }
    if (!o.download) {
        ember_err_set(err, "%s of %s is not on this machine (looked in %s, in %s and for a "
                           "folder '%s'); allow the download, or pass the path of a folder "
                           "holding the model's files",
                      names, repo, hf[0] ? hf : "the Hugging Face cache", mine, repo);
        return EMBER_HUB_MISSING;
    }

    /* 4. download into Ember's cache, the alternatives in order: the next
     * one only when the server has no such file. */
    const char *endpoint = o.endpoint && o.endpoint[0] ? o.endpoint : getenv("HF_ENDPOINT");
    if (!endpoint || !endpoint[0])
        endpoint = DEFAULT_ENDPOINT;
    size_t el = strlen(endpoint);
    while (el > 0 && endpoint[el - 1] == '/')
        el--;
    char absent[512] = ""; /* the alternatives the server did not have */
    for (size_t i = 0; i < nfiles; i++) {
        char url[2048];
        int n = snprintf(url, sizeof url, "%.*s/%s/resolve/%s/%s", (int)el, endpoint, repo, rev, files[i]);
        if (n < 0 || (size_t)n >= sizeof url)
            return ember_err_set(err, "the download address of %s/%s is too long", repo, files[i]);
        snprintf(dest, sizeof dest, "%s/%s/%s/%s", mine, repo, rev, files[i]);
        ember_fetch_opts fo = {.progress = o.progress, .progress_ctx = o.progress_ctx};
        /* Its message starts "downloading <url>", which names repo and
         * file: a prefix here would say "downloading" twice. */
        int frc = ember_fetch_url(url, dest, &fo, err);
        if (frc == 0) {
            *which = i;
            return copy_out(dest, out, outlen, repo, files[i], err);
        }
        /* Only "the server has no such file" (HTTP 404 / 410, or no file
         * under a file:// endpoint) makes the next alternative worth
         * trying; a network error, a refusal (401/403, e.g. a gated
         * model), a server error or a full disk would fail it the same. */
        int missing = frc == EMBER_FETCH_NOT_FOUND;
        if (absent[0])
            ember_err_prefix(err, "%s %s not on %.*s for %s (not found), and ", absent,
                             i > 1 ? "are" : "is", (int)el, endpoint, repo);
        if (!missing)
            return -1;
        if (i + 1 == nfiles)
            return EMBER_HUB_MISSING;
        size_t al = strlen(absent);
        snprintf(absent + al, sizeof absent - al, "%s%s", al ? ", " : "", files[i]);
        say(&o, "%s is not on %.*s for %s (not found); downloading %s instead", files[i], (int)el,
            endpoint, repo, files[i + 1]);
    }
    return EMBER_HUB_MISSING; /* not reached: the loop returns */
}

int ember_hub_file(const char *repo, const char *file, const ember_hub_opts *opts, char *out,
                   size_t outlen, ember_err *err)
{
    return ember_hub_file_first(repo, &file, 1, opts, out, outlen, NULL, err);
}
