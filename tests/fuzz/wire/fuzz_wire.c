/* fuzz_wire.c — libFuzzer target for everything the kernel does with bytes
 * from the network before a handler sees them: frame splitting, signature
 * verification, JSON parsing and header validation, serialising the parsed
 * message back (which must parse again to the same thing), and filling in a
 * bad request enough for its error reply. The first byte picks a mode:
 *   0: unsigned (empty key)          1: signed, signature as given
 *   2: signed, harness fixes the signature so the JSON parsers are reached
 *   3: the bytes are a connection file
 * Frames are separated by the two bytes 0x00 0xff. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"
#include "message.h"
#include "wire.h"

#define MAX_FRAMES 256

static ember_signer signed_s, plain_s;
static int ready;

static void setup(void)
{
    char err[256];
    if (ember_signer_init(&signed_s, "hmac-sha256", (const unsigned char *)"fuzz-key", 8, err,
                          sizeof err) != 0 ||
        ember_signer_init(&plain_s, NULL, (const unsigned char *)"", 0, err, sizeof err) != 0)
        abort(); /* harness setup, not input: nothing to fuzz without it */
    ready = 1;
}

static void roundtrip(const ember_signer *s, const ember_msg *m)
{
    ember_parts p;
    char err[256];
    if (ember_wire_serialize(s, m->ids, m->nids, m->header, m->parent, m->metadata, m->content,
                             &p, err, sizeof err) != 0)
        return; /* only out of memory can fail here */
    ember_frame v[EMBER_MAX_IDS + 6];
    for (size_t i = 0; i < p.n; i++)
        v[i] = (ember_frame){p.parts[i].data, p.parts[i].len};
    ember_msg back;
    int rc = ember_wire_parse(s, v, p.n, &back, err, sizeof err);
    /* A message we accepted must survive our own serialiser. */
    if (rc != EMBER_WIRE_OK)
        abort();
    if (back.nids != m->nids || !json_equal(back.header, m->header) ||
        !json_equal(back.content, m->content) || !json_equal(back.parent, m->parent) ||
        !json_equal(back.metadata, m->metadata))
        abort();
    for (size_t i = 0; i < m->nids; i++)
        if (back.ids[i].len != m->ids[i].len ||
            memcmp(back.ids[i].data, m->ids[i].data, m->ids[i].len) != 0)
            abort();
    ember_msg_clear(&back);
    ember_parts_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        setup();
    if (size < 1)
        return 0;
    int mode = data[0] & 3;
    data++, size--;
    char err[512];
    if (mode == 3) {
        ember_connection c;
        if (ember_connection_parse((const char *)data, size, &c, err, sizeof err) == 0) {
            char ep[300];
            for (int ch = 0; ch < EMBER_CH_COUNT; ch++)
                ember_connection_endpoint(&c, ch, ep, sizeof ep);
            ember_connection_free(&c);
        }
        return 0;
    }
    ember_frame frames[MAX_FRAMES];
    size_t n = 0, start = 0;
    for (size_t i = 0; i + 1 < size && n < MAX_FRAMES - 1; i++) {
        if (data[i] == 0x00 && data[i + 1] == 0xff) {
            frames[n++] = (ember_frame){data + start, i - start};
            start = i + 2;
            i++;
        }
    }
    frames[n++] = (ember_frame){data + start, size - start};

    const ember_signer *s = mode == 0 ? &plain_s : &signed_s;
    char hex[EMBER_SIG_HEX_LEN + 1];
    if (mode == 2) {
        size_t d = 0;
        while (d < n && !(frames[d].len == EMBER_DELIM_LEN &&
                          memcmp(frames[d].data, EMBER_DELIM, EMBER_DELIM_LEN) == 0))
            d++;
        if (d + 5 < n && ember_signer_sign(s, &frames[d + 2], 4, hex) == 0)
            frames[d + 1] = (ember_frame){(const unsigned char *)hex, EMBER_SIG_HEX_LEN};
    }
    ember_msg m;
    int rc = ember_wire_parse(s, frames, n, &m, err, sizeof err);
    if (rc == EMBER_WIRE_OK) {
        if (!m.msg_type || !m.msg_id || m.bad[0])
            abort();
        /* What the handlers read first: a reply header for this message. */
        json_t *h = ember_header_new(m.msg_type, "fuzz");
        json_decref(h);
        roundtrip(s, &m);
        ember_msg_clear(&m);
    } else if (rc == EMBER_WIRE_BADREQ) {
        /* A bad request is answered with an error: all that reply reads
         * must be there. */
        if (!m.msg_type || !m.bad[0] || !m.header_raw.data || !json_is_object(m.header) ||
            !json_is_object(m.parent) || !json_is_object(m.metadata) || !json_is_object(m.content))
            abort();
        ember_msg_clear(&m);
    } else if (m.header || m.ids || m.content) {
        abort(); /* the other failures leave nothing to free */
    }
    return 0;
}
