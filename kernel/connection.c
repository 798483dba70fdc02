/* connection.c — reads and checks a Jupyter connection file. Every mistake is
 * reported with the field it concerns, since a kernel that cannot start can
 * only explain itself on stderr. */
#include "connection.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *names[EMBER_CH_COUNT] = {"shell", "iopub", "stdin", "control", "hb"};

const char *ember_channel_name(int ch)
{
    return ch >= 0 && ch < EMBER_CH_COUNT ? names[ch] : "?";
}

static int copy_string(json_t *root, const char *field, const char *dflt, char *out,
                       size_t outlen, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, field);
    const char *s = dflt;
    if (v) {
        if (!json_is_string(v)) {
            snprintf(err, errlen, "connection file: \"%s\" must be a string", field);
            return -1;
        }
        s = json_string_value(v);
    }
    if (!s) {
        snprintf(err, errlen, "connection file: \"%s\" is missing", field);
        return -1;
    }
    if (strlen(s) >= outlen) {
        snprintf(err, errlen, "connection file: \"%s\" is too long (%zu bytes, at most %zu)",
                 field, strlen(s), outlen - 1);
        return -1;
    }
    strcpy(out, s);
    return 0;
}

int ember_connection_parse(const char *text, size_t len, ember_connection *c,
                           char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root) {
        snprintf(err, errlen, "connection file is not valid JSON: %s (line %d, column %d)",
                 je.text, je.line, je.column);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "connection file must hold a JSON object");
        goto out;
    }
    if (copy_string(root, "transport", "tcp", c->transport, sizeof c->transport, err, errlen) ||
        copy_string(root, "ip", NULL, c->ip, sizeof c->ip, err, errlen) ||
        copy_string(root, "signature_scheme", "hmac-sha256", c->scheme, sizeof c->scheme, err,
                    errlen))
        goto out;
    if (strcmp(c->transport, "tcp") != 0 && strcmp(c->transport, "ipc") != 0) {
        snprintf(err, errlen,
                 "connection file: transport \"%s\" is not supported (use \"tcp\" or \"ipc\")",
                 c->transport);
        goto out;
    }
    if (!c->ip[0]) {
        snprintf(err, errlen, "connection file: \"ip\" is empty");
        goto out;
    }
    for (int ch = 0; ch < EMBER_CH_COUNT; ch++) {
        char field[32];
        snprintf(field, sizeof field, "%s_port", names[ch]);
        json_t *v = json_object_get(root, field);
        if (!json_is_integer(v)) {
            snprintf(err, errlen, "connection file: \"%s\" is %s", field,
                     v ? "not an integer" : "missing");
            goto out;
        }
        json_int_t p = json_integer_value(v);
        if (p < 1 || p > 65535) {
            snprintf(err, errlen, "connection file: \"%s\" is %lld, not a port number (1-65535)",
                     field, (long long)p);
            goto out;
        }
        c->ports[ch] = (int)p;
    }
    json_t *key = json_object_get(root, "key");
    if (key && !json_is_string(key)) {
        snprintf(err, errlen, "connection file: \"key\" must be a string");
        goto out;
    }
    const char *k = key ? json_string_value(key) : "";
    c->keylen = key ? json_string_length(key) : 0;
    c->key = malloc(c->keylen + 1);
    if (!c->key) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(c->key, k, c->keylen);
    c->key[c->keylen] = 0;
    rc = 0;
out:
    json_decref(root);
    if (rc != 0)
        ember_connection_free(c);
    return rc;
}

int ember_connection_load(const char *path, ember_connection *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open connection file %s: %s", path, strerror(errno));
        return -1;
    }
    /* A connection file is a few hundred bytes; a megabyte is plainly wrong. */
    enum { MAXLEN = 1 << 20 };
    char *buf = malloc(MAXLEN);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = fread(buf, 1, MAXLEN, f);
    int rerr = ferror(f);
    fclose(f);
    int rc;
    if (rerr) {
        snprintf(err, errlen, "cannot read connection file %s", path);
        rc = -1;
    } else if (n == MAXLEN) {
        snprintf(err, errlen, "connection file %s is larger than 1 MiB", path);
        rc = -1;
    } else {
        rc = ember_connection_parse(buf, n, c, err, errlen);
        if (rc != 0) {
            /* Prefix the path so the user knows which file is wrong. */
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", err);
            snprintf(err, errlen, "%s: %s", path, tmp);
        }
    }
    free(buf);
    return rc;
}

void ember_connection_free(ember_connection *c)
{
    free(c->key);
    c->key = NULL;
    c->keylen = 0;
}

int ember_connection_endpoint(const ember_connection *c, int ch, char *out, size_t outlen)
{
    if (ch < 0 || ch >= EMBER_CH_COUNT)
        return -1;
    int n;
    if (strcmp(c->transport, "ipc") == 0)
        n = snprintf(out, outlen, "ipc://%s-%d", c->ip, c->ports[ch]);
    else if (strchr(c->ip, ':'))
        n = snprintf(out, outlen, "tcp://[%s]:%d", c->ip, c->ports[ch]);
    else
        n = snprintf(out, outlen, "tcp://%s:%d", c->ip, c->ports[ch]);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}
