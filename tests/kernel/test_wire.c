/* test_wire.c — framing: a serialised message parses back with its routing
 * identities, and every kind of malformed or mis-signed input is refused
 * with a reason instead of crashing; a signed message that cannot be handled
 * is still filled in enough to be answered with an error. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "message.h"
#include "wire.h"

static ember_signer signer;

/* Views of an ember_parts, optionally with one frame replaced. */
static size_t views_of(const ember_parts *p, ember_frame *v)
{
    for (size_t i = 0; i < p->n; i++) {
        v[i].data = p->parts[i].data;
        v[i].len = p->parts[i].len;
    }
    return p->n;
}

static ember_parts build(const char *msg_type, json_t *content, const ember_buf *ids, size_t nids)
{
    ember_parts p;
    char err[256];
    json_t *h = ember_header_new(msg_type, "test-session");
    json_t *parent = json_pack("{s:s}", "msg_id", "parent-1");
    int rc = ember_wire_serialize(&signer, ids, nids, h, parent, NULL, content, &p, err, sizeof err);
    CHECK(rc == 0);
    json_decref(h);
    json_decref(parent);
    return p;
}

static int parse(ember_frame *v, size_t n, ember_msg *m, char *err)
{
    return ember_wire_parse(&signer, v, n, m, err, 256);
}

/* Re-signs frames after the delimiter at index d (for tests that change a part). */
static void resign(ember_frame *v, size_t d, char hex[65])
{
    CHECK(ember_signer_sign(&signer, &v[d + 2], 4, hex) == 0);
    v[d + 1].data = (const unsigned char *)hex;
    v[d + 1].len = 64;
}

int main(void)
{
    char err[256];
    CHECK(ember_signer_init(&signer, "hmac-sha256", (const unsigned char *)"secret", 6, err,
                            sizeof err) == 0);

    /* Round trip with two identities, one holding a NUL byte. */
    ember_buf ids[2] = {{(unsigned char *)"id\0one", 6}, {(unsigned char *)"two", 3}};
    json_t *content = json_pack("{s:s, s:b}", "code", "x = 1", "silent", 0);
    ember_parts p = build("execute_request", content, ids, 2);
    CHECK(p.n == 8);
    CHECK(p.parts[2].len == 9 && memcmp(p.parts[2].data, "<IDS|MSG>", 9) == 0);
    ember_frame v[16];
    size_t n = views_of(&p, v);
    ember_msg m;
    CHECK(parse(v, n, &m, err) == EMBER_WIRE_OK);
    CHECK(m.nids == 2 && m.ids[0].len == 6 && memcmp(m.ids[0].data, "id\0one", 6) == 0);
    CHECK(m.ids[1].len == 3 && memcmp(m.ids[1].data, "two", 3) == 0);
    CHECK(m.msg_type && strcmp(m.msg_type, "execute_request") == 0);
    CHECK(m.msg_id && strlen(m.msg_id) == 36 && m.msg_id[14] == '4');
    CHECK(json_equal(m.content, content));
    CHECK(strcmp(json_string_value(json_object_get(m.parent, "msg_id")), "parent-1") == 0);
    CHECK(json_object_size(m.metadata) == 0);
    CHECK(strcmp(json_string_value(json_object_get(m.header, "version")), "5.5") == 0);
    const char *date = json_string_value(json_object_get(m.header, "date"));
    CHECK(date && strlen(date) == 27 && date[10] == 'T' && date[26] == 'Z');
    CHECK(m.nbuffers == 0);
    ember_msg_clear(&m);

    /* Buffers after content are counted. */
    ember_frame vb[16];
    memcpy(vb, v, n * sizeof *v);
    vb[n] = (ember_frame){(const unsigned char *)"\x00\x01", 2};
    CHECK(parse(vb, n + 1, &m, err) == EMBER_WIRE_OK && m.nbuffers == 1);
    ember_msg_clear(&m);

    /* No identities at all is fine (a DEALER-less test harness). */
    CHECK(parse(v + 2, n - 2, &m, err) == EMBER_WIRE_OK && m.nids == 0);
    ember_msg_clear(&m);

    /* No delimiter. */
    CHECK(parse(v, 2, &m, err) == EMBER_WIRE_MALFORMED && strstr(err, "delimiter"));
    CHECK(parse(v, 0, &m, err) == EMBER_WIRE_MALFORMED);
    /* Too few frames after the delimiter. */
    CHECK(parse(v, n - 1, &m, err) == EMBER_WIRE_MALFORMED && strstr(err, "frames"));
    /* Wrong signature, missing signature, changed content. */
    ember_frame w[16];
    memcpy(w, v, n * sizeof *v);
    w[3] = (ember_frame){(const unsigned char *)"", 0};
    CHECK(parse(w, n, &m, err) == EMBER_WIRE_BADSIG && strstr(err, "missing"));
    char sig[65];
    memcpy(sig, p.parts[3].data, 64);
    sig[64] = 0;
    sig[10] = sig[10] == 'a' ? 'b' : 'a';
    w[3] = (ember_frame){(const unsigned char *)sig, 64};
    CHECK(parse(w, n, &m, err) == EMBER_WIRE_BADSIG && strstr(err, "does not match"));
    memcpy(w, v, n * sizeof *v);
    w[7] = (ember_frame){(const unsigned char *)"{\"code\":\"y = 2\"}", 16};
    CHECK(parse(w, n, &m, err) == EMBER_WIRE_BADSIG);
    CHECK(m.header == NULL && m.ids == NULL);

    /* Correctly signed, but the header cannot be read: nothing to answer. */
    const char *bad_headers[][2] = {
        {"{not json", "header"},
        {"[1,2]", "header"},
        {"{\"msg_id\":\"x\"}", "msg_type"},
        {"{\"msg_id\":\"x\",\"msg_type\":\"\"}", "empty"},
        {"{\"msg_id\":\"x\",\"msg_type\":7}", "msg_type"},
        {"{\"msg_id\":\"x\",\"msg_type\":\"a\\u0000b\"}", "NUL"},
        {"\xff\xfe", "header"},
        {"", "header"},
    };
    char hex[65];
    for (size_t i = 0; i < sizeof bad_headers / sizeof *bad_headers; i++) {
        memcpy(w, v, n * sizeof *v);
        w[4] = (ember_frame){(const unsigned char *)bad_headers[i][0], strlen(bad_headers[i][0])};
        resign(w, 2, hex);
        err[0] = 0;
        CHECK(parse(w, n, &m, err) == EMBER_WIRE_UNREADABLE);
        if (!strstr(err, bad_headers[i][1]))
            fprintf(stderr, "case %zu: unexpected reason: %s\n", i, err);
        CHECK(strstr(err, bad_headers[i][1]) != NULL);
        CHECK(m.header == NULL && m.ids == NULL);
    }
    /* Signed, with a readable msg_type, but something else is wrong: a bad
     * request, filled in enough to be answered with an error. */
    const char *bad_fields[][2] = {
        {"{\"msg_id\":3,\"msg_type\":\"a_request\"}", "msg_id"},
        {"{\"msg_id\":\"x\",\"msg_type\":\"a_request\",\"session\":[]}", "session"},
    };
    for (size_t i = 0; i < sizeof bad_fields / sizeof *bad_fields; i++) {
        memcpy(w, v, n * sizeof *v);
        w[4] = (ember_frame){(const unsigned char *)bad_fields[i][0], strlen(bad_fields[i][0])};
        resign(w, 2, hex);
        CHECK(parse(w, n, &m, err) == EMBER_WIRE_BADREQ);
        CHECK(strstr(err, bad_fields[i][1]) != NULL && strstr(m.bad, bad_fields[i][1]) != NULL);
        CHECK(m.msg_type && strcmp(m.msg_type, "a_request") == 0);
        CHECK(m.nids == 2 && m.header_raw.len == strlen(bad_fields[i][0]));
        CHECK(json_is_object(m.content) && json_is_object(m.parent) && json_is_object(m.metadata));
        ember_msg_clear(&m);
    }
    const char *names[] = {"parent_header", "metadata", "content"};
    for (int part = 0; part < 3; part++) {
        memcpy(w, v, n * sizeof *v);
        w[5 + part] = (ember_frame){(const unsigned char *)"\"a string\"", 10};
        resign(w, 2, hex);
        CHECK(parse(w, n, &m, err) == EMBER_WIRE_BADREQ && strstr(err, names[part]));
        CHECK(strstr(m.bad, names[part]) && m.msg_id && strcmp(m.msg_type, "execute_request") == 0);
        CHECK(json_is_object(m.content) && json_is_object(m.parent) && json_is_object(m.metadata));
        ember_msg_clear(&m);
        w[5 + part] = (ember_frame){(const unsigned char *)"{\"a\":", 5};
        resign(w, 2, hex);
        CHECK(parse(w, n, &m, err) == EMBER_WIRE_BADREQ && strstr(err, "not valid JSON"));
        ember_msg_clear(&m);
        w[5 + part] = (ember_frame){(const unsigned char *)"{\"a\":\"\xc3\x28\"}", 9};
        resign(w, 2, hex);
        CHECK(parse(w, n, &m, err) == EMBER_WIRE_BADREQ && strstr(err, "not valid JSON"));
        ember_msg_clear(&m);
    }
    /* U+0000 is valid JSON: a cell holding one parses, to its full length. */
    {
        static const char nul_code[] = "{\"code\":\"len('a\\u0000b')\"}";
        memcpy(w, v, n * sizeof *v);
        w[7] = (ember_frame){(const unsigned char *)nul_code, sizeof nul_code - 1};
        resign(w, 2, hex);
        CHECK(parse(w, n, &m, err) == EMBER_WIRE_OK);
        json_t *code = json_object_get(m.content, "code");
        CHECK(json_string_length(code) == 10 && memcmp(json_string_value(code), "len('a\0b')", 10) == 0);
        ember_msg_clear(&m);
    }
    /* Too many identities. */
    ember_frame many[EMBER_MAX_IDS + 8];
    for (int i = 0; i < EMBER_MAX_IDS + 1; i++)
        many[i] = (ember_frame){(const unsigned char *)"id", 2};
    memcpy(many + EMBER_MAX_IDS + 1, v + 2, 6 * sizeof *v);
    CHECK(parse(many, EMBER_MAX_IDS + 7, &m, err) == EMBER_WIRE_MALFORMED &&
          strstr(err, "identities"));

    /* Serialising something that is not an object fails cleanly. */
    ember_parts q;
    json_t *h = ember_header_new("x", "s");
    json_t *notobj = json_string("no");
    CHECK(ember_wire_serialize(&signer, NULL, 0, h, NULL, NULL, notobj, &q, err, sizeof err) == -1);
    CHECK(q.parts == NULL && q.n == 0);
    json_decref(notobj);
    json_decref(h);

    /* Unsigned mode: an empty signature frame is accepted, none is produced. */
    ember_signer plain;
    CHECK(ember_signer_init(&plain, NULL, (const unsigned char *)"", 0, err, sizeof err) == 0);
    h = ember_header_new("kernel_info_request", "s");
    json_t *empty = json_object();
    CHECK(ember_wire_serialize(&plain, NULL, 0, h, NULL, NULL, empty, &q, err, sizeof err) == 0);
    CHECK(q.n == 6 && q.parts[1].len == 0);
    size_t qn = views_of(&q, w);
    CHECK(ember_wire_parse(&plain, w, qn, &m, err, sizeof err) == EMBER_WIRE_OK);
    ember_msg_clear(&m);
    /* ...and a signing kernel refuses it. */
    CHECK(ember_wire_parse(&signer, w, qn, &m, err, sizeof err) == EMBER_WIRE_BADSIG);
    ember_parts_free(&q);
    json_decref(h);
    json_decref(empty);
    ember_signer_free(&plain);

    /* Engine text with invalid UTF-8 becomes a valid JSON string. */
    json_t *t = ember_json_text("ok \xff\xc3(\xe2\x82\xac", 9);
    CHECK(t && strcmp(json_string_value(t), "ok \xef\xbf\xbd\xef\xbf\xbd(\xe2\x82\xac") == 0);
    json_decref(t);
    /* A NUL is valid JSON (\u0000), and stays what the engine wrote. */
    t = ember_json_text("a\0b", 3);
    CHECK(t && json_string_length(t) == 3 && memcmp(json_string_value(t), "a\0b", 3) == 0);
    json_decref(t);
    t = ember_json_text("\xed\xa0\x80", 3); /* a UTF-16 surrogate is not UTF-8 */
    CHECK(t && strcmp(json_string_value(t), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") == 0);
    json_decref(t);

    /* The kernel's hand-written header is the same JSON the library builds. */
    char hbuf[512];
    int hl = ember_header_format(hbuf, sizeof hbuf, "execute_reply", "0f1e2d3c-aaaa");
    CHECK(hl > 0 && (size_t)hl == strlen(hbuf));
    json_t *hj = json_loads(hbuf, 0, NULL);
    CHECK(json_is_object(hj));
    CHECK(strcmp(json_string_value(json_object_get(hj, "msg_type")), "execute_reply") == 0);
    CHECK(strcmp(json_string_value(json_object_get(hj, "session")), "0f1e2d3c-aaaa") == 0);
    CHECK(strcmp(json_string_value(json_object_get(hj, "version")), "5.5") == 0);
    CHECK(strcmp(json_string_value(json_object_get(hj, "username")), "kernel") == 0);
    CHECK(json_string_length(json_object_get(hj, "msg_id")) == 36);
    CHECK(json_string_length(json_object_get(hj, "date")) == 27);
    json_decref(hj);
    CHECK(ember_header_format(hbuf, sizeof hbuf, "bad\"type", "s") == -1);
    CHECK(ember_header_format(hbuf, 20, "execute_reply", "s") == -1);

    /* Pre-serialised parts sign and parse like the JSON path. */
    ember_frame body[4] = {{(const unsigned char *)hbuf, 0},
                           {(const unsigned char *)"{}", 2},
                           {(const unsigned char *)"{}", 2},
                           {(const unsigned char *)"{\"a\":1}", 7}};
    hl = ember_header_format(hbuf, sizeof hbuf, "stream", "s");
    body[0].len = (size_t)hl;
    CHECK(ember_wire_serialize_frames(&signer, ids, 1, body, &q, err, sizeof err) == 0);
    qn = views_of(&q, w);
    CHECK(qn == 7);
    CHECK(ember_wire_parse(&signer, w, qn, &m, err, sizeof err) == EMBER_WIRE_OK);
    CHECK(m.header_raw.len == (size_t)hl && memcmp(m.header_raw.data, hbuf, (size_t)hl) == 0);
    CHECK(json_integer_value(json_object_get(m.content, "a")) == 1);
    ember_msg_clear(&m);
    ember_parts_free(&q);

    /* Ids are unique. */
    char a[37], b[37];
    CHECK(ember_uuid4(a) == 0 && ember_uuid4(b) == 0 && strcmp(a, b) != 0);

    ember_parts_free(&p);
    json_decref(content);
    ember_signer_free(&signer);
    return check_report("test_wire");
}
