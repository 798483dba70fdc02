/* wire.h — the Jupyter wire format: routing identities, the <IDS|MSG>
 * delimiter, the signature, then header, parent_header, metadata and content
 * as JSON, then optional binary buffers. No sockets here, so the fuzzer and
 * the unit tests can drive it with plain bytes. */
#ifndef EMBER_KERNEL_WIRE_H
#define EMBER_KERNEL_WIRE_H

#include <stddef.h>
#include <jansson.h>

#include "frame.h"
#include "sign.h"

#define EMBER_DELIM "<IDS|MSG>"
#define EMBER_DELIM_LEN 9
/* More routing identities than this is not something a front end sends. */
#define EMBER_MAX_IDS 64

/* A parsed, verified message (or a bad request: see bad). Owns everything
 * it points to. */
typedef struct ember_msg {
    ember_buf *ids;
    size_t nids;
    json_t *header, *parent, *metadata, *content;
    ember_buf header_raw;   /* the header frame as received: the parent_header of replies */
    size_t nbuffers;        /* binary buffers after content (counted, not kept) */
    const char *msg_type;   /* borrowed from header */
    const char *msg_id;     /* borrowed from header; NULL in a bad request without one */
    /* Non-empty for a bad request (EMBER_WIRE_BADREQ): why it cannot be
     * handled, for the error reply it gets instead. */
    char bad[256];
} ember_msg;

/* Outcome of ember_wire_parse. A message that is not authenticated is
 * dropped (the protocol's rule); an authenticated one the kernel cannot take
 * still gets an error reply, so no front end waits forever, unless its
 * header does not even say what it is (EMBER_WIRE_UNREADABLE). */
enum {
    EMBER_WIRE_OK = 0,
    /* Framing was wrong (no <IDS|MSG>, too few frames, too many identities):
     * no signature can be checked, so nothing is known about the sender. */
    EMBER_WIRE_MALFORMED = -1,
    EMBER_WIRE_BADSIG = -2, /* signature missing or wrong */
    /* Signed, but the header is not a JSON object with a non-empty string
     * msg_type: neither the reply's type nor the request it would answer
     * can be named, so none can be sent. */
    EMBER_WIRE_UNREADABLE = -3,
    /* Signed, with a readable header, but something else is wrong (invalid
     * JSON, a part that is not an object, a header field of the wrong type).
     * *m is filled for an error reply: ids, header, header_raw, msg_type,
     * msg_id (may be NULL), bad; parent, metadata and content are what
     * parsed, or empty objects. */
    EMBER_WIRE_BADREQ = -4,
};

/* Splits frames, verifies the signature, parses and validates the JSON parts
 * (U+0000 in strings is valid JSON, and accepted). On EMBER_WIRE_OK and
 * EMBER_WIRE_BADREQ *m is filled (free it with ember_msg_clear); on the other
 * failures it is left empty. err receives the reason of any failure. */
int ember_wire_parse(const ember_signer *s, const ember_frame *frames, size_t n,
                     ember_msg *m, char *err, size_t errlen);
void ember_msg_clear(ember_msg *m);

/* A message ready for the socket: every frame owned. */
typedef struct ember_parts {
    ember_buf *parts;
    size_t n;
} ember_parts;

/* Builds ids..., <IDS|MSG>, signature, header, parent, metadata, content.
 * parent and metadata may be NULL (then {}). JSON arguments are borrowed. */
int ember_wire_serialize(const ember_signer *s, const ember_buf *ids, size_t nids,
                         json_t *header, json_t *parent, json_t *metadata,
                         json_t *content, ember_parts *out, char *err, size_t errlen);
/* The same from already-serialised JSON parts (header, parent_header,
 * metadata, content), which must each be a JSON object. */
int ember_wire_serialize_frames(const ember_signer *s, const ember_buf *ids, size_t nids,
                                const ember_frame body[4], ember_parts *out, char *err,
                                size_t errlen);
void ember_parts_free(ember_parts *p);

#endif
