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

/* A parsed, verified message. Owns everything it points to. */
typedef struct ember_msg {
    ember_buf *ids;
    size_t nids;
    json_t *header, *parent, *metadata, *content;
    ember_buf header_raw;   /* the header frame as received: the parent_header of replies */
    size_t nbuffers;        /* binary buffers after content (counted, not kept) */
    const char *msg_type;   /* borrowed from header */
    const char *msg_id;     /* borrowed from header */
} ember_msg;

/* Outcome of ember_wire_parse, so callers can log why a message was dropped. */
enum {
    EMBER_WIRE_OK = 0,
    EMBER_WIRE_MALFORMED = -1, /* framing or JSON was wrong */
    EMBER_WIRE_BADSIG = -2,    /* signature missing or wrong */
};

/* Splits frames, verifies the signature, parses and validates the JSON parts.
 * On failure returns EMBER_WIRE_MALFORMED or EMBER_WIRE_BADSIG, writes why
 * into err and leaves *m empty. */
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
