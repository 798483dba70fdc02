/* sign.c — HMAC-SHA256 message signatures with OpenSSL's EVP_MAC API and a
 * constant-time comparison (CRYPTO_memcmp), as the Jupyter wire protocol asks. */
#include "sign.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

static void ssl_error(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown OpenSSL error";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "%s: %s", what, buf);
}

int ember_signer_init(ember_signer *s, const char *scheme, const unsigned char *key,
                      size_t keylen, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (scheme && *scheme && strcmp(scheme, "hmac-sha256") != 0) {
        snprintf(err, errlen,
                 "unsupported signature_scheme \"%s\": Ember signs messages with "
                 "\"hmac-sha256\" only; start it with a connection file that asks for that",
                 scheme);
        return -1;
    }
    if (keylen == 0)
        return 0; /* the protocol's convention: an empty key means unsigned */
    s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!s->mac) {
        ssl_error(err, errlen, "cannot load OpenSSL's HMAC");
        return -1;
    }
    s->keyed = EVP_MAC_CTX_new(s->mac);
    if (!s->keyed) {
        ssl_error(err, errlen, "cannot create an HMAC context");
        ember_signer_free(s);
        return -1;
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(s->keyed, key, keylen, params) != 1) {
        ssl_error(err, errlen, "cannot key HMAC-SHA256");
        ember_signer_free(s);
        return -1;
    }
    s->enabled = 1;
    return 0;
}

void ember_signer_free(ember_signer *s)
{
    EVP_MAC_CTX_free(s->keyed);
    EVP_MAC_free(s->mac);
    memset(s, 0, sizeof *s);
}

int ember_signer_mac(const ember_signer *s, const ember_frame *parts, size_t n,
                     unsigned char out[32])
{
    if (!s->enabled)
        return -1;
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(s->keyed);
    if (!c)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (parts[i].len && EVP_MAC_update(c, parts[i].data, parts[i].len) != 1)
            rc = -1;
    size_t outl = 0;
    if (rc == 0 && (EVP_MAC_final(c, out, &outl, 32) != 1 || outl != 32))
        rc = -1;
    EVP_MAC_CTX_free(c);
    return rc;
}

int ember_signer_sign(const ember_signer *s, const ember_frame *parts, size_t n,
                      char hex[EMBER_SIG_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    hex[0] = '\0';
    if (!s->enabled)
        return 0;
    unsigned char mac[32];
    if (ember_signer_mac(s, parts, n, mac) != 0)
        return -1;
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[EMBER_SIG_HEX_LEN] = '\0';
    return 0;
}

int ember_signer_verify(const ember_signer *s, const ember_frame *parts, size_t n,
                        const unsigned char *sig, size_t siglen)
{
    if (!s->enabled)
        return 0;
    char want[EMBER_SIG_HEX_LEN + 1];
    if (ember_signer_sign(s, parts, n, want) != 0)
        return -1;
    if (siglen != EMBER_SIG_HEX_LEN)
        return -1;
    return CRYPTO_memcmp(want, sig, EMBER_SIG_HEX_LEN) == 0 ? 0 : -1;
}
