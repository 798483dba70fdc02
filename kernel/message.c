/* message.c — headers, ids, dates and UTF-8 hygiene for outgoing messages. */
#include "message.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* msg_ids need to be unique, not secret: a per-thread xoshiro256** seeded
 * once from the system keeps a syscall off every message. */
static _Thread_local uint64_t rng[4];
static _Thread_local int rng_seeded;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(void)
{
    uint64_t r = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl(rng[3], 45);
    return r;
}

int ember_uuid4(char out[37])
{
    if (!rng_seeded) {
        size_t got = 0;
        unsigned char *seed = (unsigned char *)rng;
        while (got < sizeof rng) {
            ssize_t r = getrandom(seed + got, sizeof rng - got, 0);
            if (r < 0)
                return -1;
            got += (size_t)r;
        }
        if (!(rng[0] | rng[1] | rng[2] | rng[3]))
            rng[0] = 1; /* the one state xoshiro cannot leave */
        rng_seeded = 1;
    }
    unsigned char b[16];
    uint64_t lo = rng_next(), hi = rng_next();
    memcpy(b, &lo, 8);
    memcpy(b + 8, &hi, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

void ember_iso8601_now(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    unsigned us = (unsigned)(ts.tv_nsec / 1000) % 1000000u;
    snprintf(out + n, 40 - n, ".%06uZ", us);
}

json_t *ember_header_new(const char *msg_type, const char *session)
{
    char id[37], date[40];
    if (ember_uuid4(id) != 0)
        return NULL;
    ember_iso8601_now(date);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "msg_id", id, "msg_type", msg_type,
                     "session", session, "username", "kernel", "date", date, "version",
                     EMBER_PROTOCOL_VERSION);
}

static int plain_ident(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

int ember_header_format(char *out, size_t outlen, const char *msg_type, const char *session)
{
    char id[37], date[40];
    if (!plain_ident(msg_type) || !plain_ident(session) || ember_uuid4(id) != 0)
        return -1;
    ember_iso8601_now(date);
    int n = snprintf(out, outlen,
                     "{\"msg_id\":\"%s\",\"msg_type\":\"%s\",\"session\":\"%s\","
                     "\"username\":\"kernel\",\"date\":\"%s\",\"version\":\"%s\"}",
                     id, msg_type, session, date, EMBER_PROTOCOL_VERSION);
    return n > 0 && (size_t)n < outlen ? n : -1;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

json_t *ember_json_text(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        size_t k = utf8_seq(s + i, len - i);
        if (!k)
            break;
        i += k;
    }
    if (i == len)
        return json_stringn(text, len);
    /* Slow path: at most 3 bytes out for each byte in. */
    char *buf = malloc(len * 3 + 1);
    if (!buf)
        return NULL;
    size_t o = 0;
    for (i = 0; i < len;) {
        size_t k = utf8_seq(s + i, len - i);
        if (k) {
            memcpy(buf + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    json_t *v = json_stringn(buf, o);
    free(buf);
    return v;
}
