/* test_sign.c — HMAC-SHA256 against every RFC 4231 test vector, and the
 * signer's sign/verify rules (hex form, constant-length check, unsigned mode). */
#include <string.h>

#include "check.h"
#include "sign.h"

static int unhex(const char *hex, unsigned char *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return (int)n;
}

static void fill(unsigned char *b, unsigned char v, size_t n) { memset(b, v, n); }

struct vec {
    unsigned char key[200];
    size_t keylen;
    unsigned char data[200];
    size_t datalen;
    const char *mac; /* hex; test case 5 is truncated to 128 bits */
};

static void check_vector(const struct vec *v, int tc)
{
    ember_signer s;
    char err[256];
    CHECK(ember_signer_init(&s, "hmac-sha256", v->key, v->keylen, err, sizeof err) == 0);
    unsigned char want[32], got[32];
    int wantlen = unhex(v->mac, want);
    ember_frame f = {v->data, v->datalen};
    CHECK(ember_signer_mac(&s, &f, 1, got) == 0);
    if (memcmp(want, got, (size_t)wantlen) != 0)
        fprintf(stderr, "RFC 4231 test case %d does not match\n", tc);
    CHECK(memcmp(want, got, (size_t)wantlen) == 0);
    /* The same bytes split over several frames give the same MAC. */
    if (v->datalen >= 3) {
        ember_frame parts[3] = {{v->data, 1}, {v->data + 1, 0}, {v->data + 1, v->datalen - 1}};
        unsigned char split[32];
        CHECK(ember_signer_mac(&s, parts, 3, split) == 0);
        CHECK(memcmp(split, got, 32) == 0);
    }
    ember_signer_free(&s);
}

int main(void)
{
    static struct vec v[7];
    /* Test case 1 */
    fill(v[0].key, 0x0b, 20), v[0].keylen = 20;
    memcpy(v[0].data, "Hi There", 8), v[0].datalen = 8;
    v[0].mac = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
    /* Test case 2: a key shorter than the output */
    memcpy(v[1].key, "Jefe", 4), v[1].keylen = 4;
    memcpy(v[1].data, "what do ya want for nothing?", 28), v[1].datalen = 28;
    v[1].mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    /* Test case 3 */
    fill(v[2].key, 0xaa, 20), v[2].keylen = 20;
    fill(v[2].data, 0xdd, 50), v[2].datalen = 50;
    v[2].mac = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe";
    /* Test case 4 */
    for (int i = 0; i < 25; i++)
        v[3].key[i] = (unsigned char)(i + 1);
    v[3].keylen = 25;
    fill(v[3].data, 0xcd, 50), v[3].datalen = 50;
    v[3].mac = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b";
    /* Test case 5: truncated output (the first 128 bits are compared) */
    fill(v[4].key, 0x0c, 20), v[4].keylen = 20;
    memcpy(v[4].data, "Test With Truncation", 20), v[4].datalen = 20;
    v[4].mac = "a3b6167473100ee06e0c796c2955552b";
    /* Test case 6: a key larger than the block size */
    fill(v[5].key, 0xaa, 131), v[5].keylen = 131;
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    memcpy(v[5].data, d6, strlen(d6)), v[5].datalen = strlen(d6);
    v[5].mac = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
    /* Test case 7: key and data larger than the block size */
    fill(v[6].key, 0xaa, 131), v[6].keylen = 131;
    const char *d7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    memcpy(v[6].data, d7, strlen(d7)), v[6].datalen = strlen(d7);
    v[6].mac = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";
    for (int i = 0; i < 7; i++)
        check_vector(&v[i], i + 1);

    /* sign/verify: lower-case hex, rejects any change and any other length. */
    ember_signer s;
    char err[256], hex[EMBER_SIG_HEX_LEN + 1];
    CHECK(ember_signer_init(&s, NULL, (const unsigned char *)"Jefe", 4, err, sizeof err) == 0);
    ember_frame f = {(const unsigned char *)"what do ya want for nothing?", 28};
    CHECK(ember_signer_sign(&s, &f, 1, hex) == 0);
    CHECK(strcmp(hex, v[1].mac) == 0);
    CHECK(ember_signer_verify(&s, &f, 1, (const unsigned char *)hex, 64) == 0);
    char bad[65];
    strcpy(bad, hex);
    bad[63] = bad[63] == '0' ? '1' : '0';
    CHECK(ember_signer_verify(&s, &f, 1, (const unsigned char *)bad, 64) == -1);
    strcpy(bad, hex);
    /* Upper-casing one hex letter: signatures are compared as sent. */
    for (char *c = bad; *c; c++)
        if (*c >= 'a' && *c <= 'f') {
            *c = (char)(*c - 'a' + 'A');
            break;
        }
    CHECK(ember_signer_verify(&s, &f, 1, (const unsigned char *)bad, 64) == -1);
    CHECK(ember_signer_verify(&s, &f, 1, (const unsigned char *)hex, 63) == -1);
    CHECK(ember_signer_verify(&s, &f, 1, (const unsigned char *)"", 0) == -1);
    ember_frame g = {(const unsigned char *)"what do ya want for nothing!", 28};
    CHECK(ember_signer_verify(&s, &g, 1, (const unsigned char *)hex, 64) == -1);
    ember_signer_free(&s);

    /* Empty key: unsigned messages, any signature accepted, none produced. */
    CHECK(ember_signer_init(&s, "hmac-sha256", (const unsigned char *)"", 0, err, sizeof err) == 0);
    CHECK(!s.enabled);
    CHECK(ember_signer_sign(&s, &f, 1, hex) == 0 && hex[0] == '\0');
    CHECK(ember_signer_verify(&s, &f, 1, (const unsigned char *)"", 0) == 0);
    unsigned char mac[32];
    CHECK(ember_signer_mac(&s, &f, 1, mac) == -1);
    ember_signer_free(&s);

    /* Other schemes are refused with a message that names them. */
    CHECK(ember_signer_init(&s, "hmac-md5", (const unsigned char *)"k", 1, err, sizeof err) == -1);
    CHECK(strstr(err, "hmac-md5") != NULL);
    return check_report("test_sign");
}
