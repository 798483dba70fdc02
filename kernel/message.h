/* message.h — building the JSON parts of outgoing messages: headers with a
 * fresh uuid4 msg_id and an ISO 8601 date, and text made safe for JSON. */
#ifndef EMBER_KERNEL_MESSAGE_H
#define EMBER_KERNEL_MESSAGE_H

#include <stddef.h>
#include <jansson.h>

#define EMBER_PROTOCOL_VERSION "5.5"

/* 36 characters + NUL, random (version 4) UUID. Returns -1 if the system has
 * no randomness to give. */
int ember_uuid4(char out[37]);
/* e.g. 2026-11-26T22:17:02.123456Z */
void ember_iso8601_now(char out[40]);

/* A new header object, or NULL when out of memory. */
json_t *ember_header_new(const char *msg_type, const char *session);
/* The same header as compact JSON text, written straight into out (the
 * kernel builds one per message, so this skips jansson). msg_type and
 * session must need no JSON escaping (the kernel's own identifiers and a
 * uuid); returns the length, or -1 if they would or out is too small. */
int ember_header_format(char *out, size_t outlen, const char *msg_type, const char *session);

/* A JSON string of text, with invalid UTF-8 replaced by U+FFFD (engine output
 * may hold arbitrary bytes; JSON may not). A NUL stays (JSON writes it as
 * \u0000): print('a\0b') prints three characters. NULL when out of memory. */
json_t *ember_json_text(const char *text, size_t len);

#endif
