/* sign.h — HMAC-SHA256 signing and verification of Jupyter messages.
 * An empty key turns signing off (the connection file asked for unsigned
 * messages). The keyed context is read-only after init, so one signer may be
 * shared by every thread: each signature works on its own duplicate. */
#ifndef EMBER_KERNEL_SIGN_H
#define EMBER_KERNEL_SIGN_H

#include <stddef.h>
#include <openssl/evp.h>

#include "frame.h"

#define EMBER_SIG_HEX_LEN 64

typedef struct ember_signer {
    int enabled;         /* 0: empty key, messages are neither signed nor checked */
    EVP_MAC *mac;
    EVP_MAC_CTX *keyed;  /* initialised with the key; duplicated per message */
} ember_signer;

/* scheme: the connection file's signature_scheme (NULL means hmac-sha256). */
int ember_signer_init(ember_signer *s, const char *scheme, const unsigned char *key,
                      size_t keylen, char *err, size_t errlen);
void ember_signer_free(ember_signer *s);

/* Raw 32-byte MAC over the concatenation of parts. -1 when signing is off or
 * OpenSSL fails. */
int ember_signer_mac(const ember_signer *s, const ember_frame *parts, size_t n,
                     unsigned char out[32]);
/* Lower-case hex signature, NUL-terminated; "" when signing is off. */
int ember_signer_sign(const ember_signer *s, const ember_frame *parts, size_t n,
                      char hex[EMBER_SIG_HEX_LEN + 1]);
/* 0 when sig matches (always 0 when signing is off), -1 otherwise.
 * The comparison takes the same time wherever the first difference is. */
int ember_signer_verify(const ember_signer *s, const ember_frame *parts, size_t n,
                        const unsigned char *sig, size_t siglen);

#endif
