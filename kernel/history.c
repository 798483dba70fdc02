/* history.c — history_request (tail, range, search) over a JSON-lines file.
 * Appends are single write()s on an O_APPEND descriptor, so two kernels
 * sharing a data dir interleave whole lines; the session counter is a small
 * file updated under flock. The file is read only when history is asked for,
 * which keeps it off the start-up path. */
#define _GNU_SOURCE
#include "history.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* snprintf that reports truncation (a data dir path longer than PATH_MAX). */
static int path_join(char *out, size_t outlen, const char *dir, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static int next_session(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (path_join(path, sizeof path, dir, "session") != 0) {
        snprintf(err, errlen, "the history directory's path is too long");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    int session = -1;
    if (flock(fd, LOCK_EX) != 0) {
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
        goto out;
    }
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long last = n > 0 ? strtol(buf, NULL, 10) : 0;
    if (last < 0 || last > 1000000000)
        last = 0;
    session = (int)last + 1;
    int len = snprintf(buf, sizeof buf, "%d\n", session);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        session = -1;
    }
out:
    close(fd); /* releases the lock */
    return session;
}

int ember_history_open(ember_history *h, const char *dir, char *err, size_t errlen)
{
    h->path = NULL;
    h->fd = -1;
    h->session = 1;
    char base[4096];
    const char *e;
    int bad;
    if (dir)
        bad = path_join(base, sizeof base, dir, "ember");
    else if ((e = getenv("JUPYTER_DATA_DIR")) && *e)
        bad = path_join(base, sizeof base, e, "ember");
    else if ((e = getenv("XDG_DATA_HOME")) && *e)
        bad = path_join(base, sizeof base, e, "jupyter/ember");
    else if ((e = getenv("HOME")) && *e)
        bad = path_join(base, sizeof base, e, ".local/share/jupyter/ember");
    else {
        snprintf(err, errlen, "no JUPYTER_DATA_DIR, XDG_DATA_HOME or HOME to keep history in");
        return -1;
    }
    if (bad) {
        snprintf(err, errlen, "the Jupyter data dir's path is too long");
        return -1;
    }
    if (mkdir_p(base) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", base, strerror(errno));
        return -1;
    }
    int s = next_session(base, err, errlen);
    if (s < 0)
        return -1;
    char path[4200];
    if (path_join(path, sizeof path, base, "history.jsonl") != 0) {
        snprintf(err, errlen, "the history file's path is too long");
        return -1;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    h->path = strdup(path);
    if (!h->path) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->fd = fd;
    h->session = s;
    return 0;
}

void ember_history_close(ember_history *h)
{
    if (h->fd >= 0)
        close(h->fd);
    free(h->path);
    h->path = NULL;
    h->fd = -1;
}

int ember_history_append(ember_history *h, int line, const char *input, size_t input_len,
                         const char *output)
{
    if (h->fd < 0)
        return 0;
    json_t *o = json_pack("{s:i, s:i, s:s%, s:s?}", "session", h->session, "line", line, "input",
                          input, input_len, "output", output);
    if (!o)
        return -1;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return -1;
    size_t len = strlen(s);
    s[len] = '\n'; /* json_dumps leaves room: overwrite the NUL, write len+1 */
    ssize_t w = write(h->fd, s, len + 1);
    free(s);
    if (w != (ssize_t)(len + 1)) {
        ember_log("cannot append to %s: %s", h->path, w < 0 ? strerror(errno) : "short write");
        return -1;
    }
    return 0;
}

/* Every valid entry in the file, in order: an array of objects. */
static json_t *load_all(const ember_history *h, char *err, size_t errlen)
{
    json_t *all = json_array();
    if (!all) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!h->path)
        return all;
    FILE *f = fopen(h->path, "r");
    if (!f)
        return all;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *o = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, NULL);
        /* A torn or hand-edited line is skipped, not fatal. */
        if (json_is_object(o) && json_is_integer(json_object_get(o, "session")) &&
            json_is_integer(json_object_get(o, "line")) &&
            json_is_string(json_object_get(o, "input")))
            json_array_append_new(all, o);
        else
            json_decref(o);
    }
    free(line);
    fclose(f);
    return all;
}

static json_t *entry(json_t *o, int output)
{
    json_t *session = json_object_get(o, "session"), *line = json_object_get(o, "line");
    json_t *input = json_object_get(o, "input");
    if (!output)
        return json_pack("[O, O, O]", session, line, input);
    json_t *out = json_object_get(o, "output");
    return json_pack("[O, O, [O, O]]", session, line, input, out ? out : json_null());
}

static int get_int(json_t *req, const char *key, int dflt)
{
    json_t *v = json_object_get(req, key);
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return dflt;
    /* Clamped: a wild number from the wire must not overflow an int. */
    if (!(d > -1e9))
        d = -1e9;
    if (d > 1e9)
        d = 1e9;
    return (int)d;
}

json_t *ember_history_query(const ember_history *h, json_t *req, char *err, size_t errlen)
{
    const char *type = json_string_value(json_object_get(req, "hist_access_type"));
    if (!type) {
        snprintf(err, errlen, "history_request needs hist_access_type (tail, range or search)");
        return NULL;
    }
    int output = json_is_true(json_object_get(req, "output"));
    json_t *all = load_all(h, err, errlen);
    if (!all)
        return NULL;
    size_t total = json_array_size(all);
    json_t *picked = json_array(); /* borrowed objects of all, by reference */
    if (!picked) {
        json_decref(all);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int n = get_int(req, "n", -1);
    if (strcmp(type, "tail") == 0) {
        if (n < 0)
            n = 10;
        size_t from = total > (size_t)n ? total - (size_t)n : 0;
        for (size_t i = from; i < total; i++)
            json_array_append(picked, json_array_get(all, i));
    } else if (strcmp(type, "range") == 0) {
        /* Like IPython: session 0 or less counts back from this session. */
        int session = get_int(req, "session", 0);
        if (session <= 0)
            session += h->session;
        int start = get_int(req, "start", 0);
        json_t *stopv = json_object_get(req, "stop");
        int has_stop = json_is_number(stopv);
        int stop = get_int(req, "stop", 0);
        for (size_t i = 0; i < total; i++) {
            json_t *o = json_array_get(all, i);
            int s = (int)json_integer_value(json_object_get(o, "session"));
            int l = (int)json_integer_value(json_object_get(o, "line"));
            if (s == session && l >= start && (!has_stop || l < stop))
                json_array_append(picked, o);
        }
    } else if (strcmp(type, "search") == 0) {
        const char *pattern = json_string_value(json_object_get(req, "pattern"));
        if (!pattern)
            pattern = "*";
        int unique = json_is_true(json_object_get(req, "unique"));
        for (size_t i = 0; i < total; i++) {
            json_t *o = json_array_get(all, i);
            const char *in = json_string_value(json_object_get(o, "input"));
            if (fnmatch(pattern, in, 0) != 0)
                continue;
            if (unique) {
                /* Keep only the latest occurrence of each input. */
                int later = 0;
                for (size_t j = i + 1; j < total && !later; j++)
                    later = strcmp(in, json_string_value(json_object_get(
                                           json_array_get(all, j), "input"))) == 0;
                if (later)
                    continue;
            }
            json_array_append(picked, o);
        }
        if (n >= 0) {
            while (json_array_size(picked) > (size_t)n)
                json_array_remove(picked, 0);
        }
    } else {
        json_decref(picked);
        json_decref(all);
        snprintf(err, errlen, "unknown hist_access_type \"%s\" (use tail, range or search)", type);
        return NULL;
    }
    json_t *result = json_array();
    for (size_t i = 0; result && i < json_array_size(picked); i++) {
        json_t *e = entry(json_array_get(picked, i), output);
        if (!e || json_array_append_new(result, e) != 0) {
            json_decref(result);
            result = NULL;
        }
    }
    if (!result)
        snprintf(err, errlen, "out of memory");
    json_decref(picked);
    json_decref(all);
    return result;
}
