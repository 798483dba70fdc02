/* connection.h — the connection file a front end writes for a kernel:
 * transport, address, the five ports and the signing key. */
#ifndef EMBER_KERNEL_CONNECTION_H
#define EMBER_KERNEL_CONNECTION_H

#include <stddef.h>

enum { EMBER_CH_SHELL, EMBER_CH_IOPUB, EMBER_CH_STDIN, EMBER_CH_CONTROL, EMBER_CH_HB, EMBER_CH_COUNT };

typedef struct ember_connection {
    char transport[8];        /* "tcp" or "ipc" */
    char ip[256];             /* tcp: address; ipc: path prefix */
    int ports[EMBER_CH_COUNT];
    unsigned char *key;       /* malloc'd; may be empty */
    size_t keylen;
    char scheme[64];          /* signature_scheme */
} ember_connection;

/* The channel's name as it appears in the file ("shell", "iopub", ...). */
const char *ember_channel_name(int ch);

/* Parses JSON text. On failure returns -1 with a message naming the field. */
int ember_connection_parse(const char *text, size_t len, ember_connection *c,
                           char *err, size_t errlen);
int ember_connection_load(const char *path, ember_connection *c, char *err, size_t errlen);
void ember_connection_free(ember_connection *c);

/* The ZeroMQ endpoint of one channel: tcp://ip:port or ipc://ip-port. */
int ember_connection_endpoint(const ember_connection *c, int ch, char *out, size_t outlen);

#endif
