/* wire.c — parsing and building the multipart frames of one Jupyter message.
 * Every field of a received message is untrusted: anything unexpected makes
 * the parse fail with a reason, never a crash. */
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ember_buf_set(ember_buf *b, const void *data, size_t len)
{
    b->data = malloc(len ? len : 1);
    if (!b->data) {
        b->len = 0;
        return -1;
    }
    if (len)
        memcpy(b->data, data, len);
    b->len = len;
    return 0;
}

void ember_buf_free(ember_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

void ember_msg_clear(ember_msg *m)
{
    for (size_t i = 0; i < m->nids; i++)
        ember_buf_free(&m->ids[i]);
    free(m->ids);
    json_decref(m->header);
    json_decref(m->parent);
    json_decref(m->metadata);
    json_decref(m->content);
    ember_buf_free(&m->header_raw);
    memset(m, 0, sizeof *m);
}

static json_t *parse_object(const ember_frame *f, const char *what, char *err, size_t errlen)
{
    json_error_t je;
    /* JSON may carry U+0000 in a string; a cell holding one is a cell.
     * Any value decodes, so that `null` is called what it is: not an object. */
    json_t *v = json_loadb((const char *)f->data, f->len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
    if (!v) {
        snprintf(err, errlen, "%s is not valid JSON: %s (line %d, column %d)", what, je.text,
                 je.line, je.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        snprintf(err, errlen, "%s must be a JSON object", what);
        json_decref(v);
        return NULL;
    }
    return v;
}

/* What a reply needs from the header: its msg_type (the reply's type comes
 * from it). Fails with EMBER_WIRE_UNREADABLE. */
static int check_msg_type(json_t *h, char *err, size_t errlen)
{
    json_t *t = json_object_get(h, "msg_type");
    if (!json_is_string(t)) {
        snprintf(err, errlen, "header.msg_type is missing or not a string");
        return -1;
    }
    if (json_string_length(t) == 0) {
        snprintf(err, errlen, "header.msg_type is empty");
        return -1;
    }
    if (strlen(json_string_value(t)) != json_string_length(t)) {
        snprintf(err, errlen, "header.msg_type holds a NUL character");
        return -1;
    }
    return 0;
}

/* The other header fields: msg_id a string, the optional ones strings. A
 * failure here still leaves a request that can be answered. */
static int check_header(json_t *h, char *err, size_t errlen)
{
    static const char *optional[] = {"session", "username", "date", "version"};
    if (!json_is_string(json_object_get(h, "msg_id"))) {
        snprintf(err, errlen, "header.msg_id is missing or not a string");
        return -1;
    }
    for (size_t i = 0; i < sizeof optional / sizeof *optional; i++) {
        json_t *v = json_object_get(h, optional[i]);
        if (v && !json_is_string(v) && !json_is_null(v)) {
            snprintf(err, errlen, "header.%s must be a string", optional[i]);
            return -1;
        }
    }
    return 0;
}

int ember_wire_parse(const ember_signer *s, const ember_frame *frames, size_t n,
                     ember_msg *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    size_t d = 0;
    while (d < n && !(frames[d].len == EMBER_DELIM_LEN &&
                      memcmp(frames[d].data, EMBER_DELIM, EMBER_DELIM_LEN) == 0))
        d++;
    if (d == n) {
        snprintf(err, errlen, "no <IDS|MSG> delimiter among %zu frames", n);
        return EMBER_WIRE_MALFORMED;
    }
    if (d > EMBER_MAX_IDS) {
        snprintf(err, errlen, "%zu routing identities (at most %d)", d, EMBER_MAX_IDS);
        return EMBER_WIRE_MALFORMED;
    }
    if (n - d - 1 < 5) {
        snprintf(err, errlen,
                 "%zu frames after <IDS|MSG>; a message needs 5 (signature, header, "
                 "parent_header, metadata, content)",
                 n - d - 1);
        return EMBER_WIRE_MALFORMED;
    }
    const ember_frame *sig = &frames[d + 1];
    const ember_frame *body = &frames[d + 2];
    if (ember_signer_verify(s, body, 4, sig->data, sig->len) != 0) {
        snprintf(err, errlen, sig->len ? "signature does not match" : "signature is missing");
        return EMBER_WIRE_BADSIG;
    }
    if (!(m->header = parse_object(&body[0], "header", err, errlen)) ||
        check_msg_type(m->header, err, errlen) != 0) {
        ember_msg_clear(m);
        return EMBER_WIRE_UNREADABLE;
    }
    if (ember_buf_set(&m->header_raw, body[0].data, body[0].len) != 0)
        goto oom;
    if (d) {
        m->ids = calloc(d, sizeof *m->ids);
        if (!m->ids)
            goto oom;
        for (size_t i = 0; i < d; i++) {
            if (ember_buf_set(&m->ids[i], frames[i].data, frames[i].len) != 0)
                goto oom;
            m->nids = i + 1;
        }
    }
    m->nbuffers = n - d - 6;
    m->msg_type = json_string_value(json_object_get(m->header, "msg_type"));
    json_t *id = json_object_get(m->header, "msg_id");
    m->msg_id = json_is_string(id) ? json_string_value(id) : NULL;
    /* The first problem found is the one reported; every part is still
     * given a value, so that nothing downstream meets a NULL. */
    int bad = check_header(m->header, err, errlen) != 0;
    static const char *const names[3] = {"parent_header", "metadata", "content"};
    json_t **slots[3] = {&m->parent, &m->metadata, &m->content};
    char why[256];
    for (int i = 0; i < 3; i++) {
        *slots[i] = parse_object(&body[1 + i], names[i], why, sizeof why);
        if (!*slots[i]) {
            if (!bad)
                snprintf(err, errlen, "%s", why);
            bad = 1;
            if (!(*slots[i] = json_object()))
                goto oom;
        }
    }
    if (bad) {
        snprintf(m->bad, sizeof m->bad, "%s", err);
        return EMBER_WIRE_BADREQ;
    }
    return EMBER_WIRE_OK;
oom:
    /* Nothing can be answered without memory; the caller logs it. */
    snprintf(err, errlen, "out of memory");
    ember_msg_clear(m);
    return EMBER_WIRE_UNREADABLE;
}

void ember_parts_free(ember_parts *p)
{
    for (size_t i = 0; i < p->n; i++)
        ember_buf_free(&p->parts[i]);
    free(p->parts);
    p->parts = NULL;
    p->n = 0;
}

int ember_wire_serialize_frames(const ember_signer *s, const ember_buf *ids, size_t nids,
                                const ember_frame body[4], ember_parts *out, char *err,
                                size_t errlen)
{
    out->n = 0;
    out->parts = calloc(nids + 6, sizeof *out->parts);
    if (!out->parts)
        goto oom;
    for (size_t i = 0; i < nids; i++) {
        if (ember_buf_set(&out->parts[out->n], ids[i].data, ids[i].len) != 0)
            goto oom;
        out->n++;
    }
    if (ember_buf_set(&out->parts[out->n++], EMBER_DELIM, EMBER_DELIM_LEN) != 0)
        goto oom;
    char hex[EMBER_SIG_HEX_LEN + 1];
    if (ember_signer_sign(s, body, 4, hex) != 0) {
        snprintf(err, errlen, "signing the message failed in OpenSSL");
        ember_parts_free(out);
        return -1;
    }
    if (ember_buf_set(&out->parts[out->n++], hex, strlen(hex)) != 0)
        goto oom;
    for (int i = 0; i < 4; i++) {
        if (ember_buf_set(&out->parts[out->n], body[i].data, body[i].len) != 0)
            goto oom;
        out->n++;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    ember_parts_free(out);
    return -1;
}

int ember_wire_serialize(const ember_signer *s, const ember_buf *ids, size_t nids,
                         json_t *header, json_t *parent, json_t *metadata,
                         json_t *content, ember_parts *out, char *err, size_t errlen)
{
    out->n = 0;
    out->parts = NULL;
    json_t *in[4] = {header, parent, metadata, content};
    char *text[4] = {NULL, NULL, NULL, NULL};
    ember_frame body[4];
    int rc = -1;
    for (int i = 0; i < 4; i++) {
        if (!in[i] && (i == 1 || i == 2)) {
            body[i] = (ember_frame){(const unsigned char *)"{}", 2};
            continue;
        }
        if (!json_is_object(in[i])) {
            snprintf(err, errlen, "message part %d is not a JSON object", i);
            goto out;
        }
        /* JSON_COMPACT keeps messages small. */
        if (!(text[i] = json_dumps(in[i], JSON_COMPACT))) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        body[i] = (ember_frame){(const unsigned char *)text[i], strlen(text[i])};
    }
    rc = ember_wire_serialize_frames(s, ids, nids, body, out, err, errlen);
out:
    for (int i = 0; i < 4; i++)
        free(text[i]);
    return rc;
}
