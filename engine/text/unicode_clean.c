/* unicode_clean.c — the Unicode half of the CLIP tokenizer: UTF-8 checking,
 * the normaliser (NFC, whitespace runs to one space, lower-casing) and the
 * pre-tokenizer's split into pieces, as Hugging Face's tokenizers library
 * runs them for CLIP.
 *
 * Unicode data comes from utf8proc (NFC, simple lower-case mapping, general
 * categories for \p{L} and \p{N}); the split pattern is matched by hand
 * rather than with PCRE2 because it is a fixed, tiny alternation whose only
 * Unicode questions are those categories, and a hand matcher needs no
 * compiled-pattern state, cannot fail at run time and is linear by
 * construction. Whitespace is Unicode's White_Space property, which is what
 * Oniguruma (the regex engine behind tokenizers) means by \s.
 *
 * utf8proc 2.8 (Debian 12) carries Unicode 15 data; tokenizers 0.23 carries
 * newer (Oniguruma's categories: Unicode 16; Rust's case mapping: 17). The
 * two patch tables below hold every code point where they disagree, found
 * by running both over all 1,112,063 code points (the --sweep mode of
 * tests/text/gen_tokenizer_fixtures.py): letters and digits of scripts added
 * since Unicode 15, and their lower-case pairs. Canonical compositions added
 * since Unicode 15 (a handful in the new Kirat Rai, Tulu-Tigalari and
 * Gurung Khema scripts) are not patched. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text_internal.h"

static const struct { int32_t lo, hi; int8_t cls; } class_patch[] = {
    {0x1C89, 0x1C8A, CLIP_CLASS_LETTER}, {0xA7CB, 0xA7CD, CLIP_CLASS_LETTER},
    {0xA7DA, 0xA7DC, CLIP_CLASS_LETTER}, {0x105C0, 0x105F3, CLIP_CLASS_LETTER},
    {0x10D40, 0x10D49, CLIP_CLASS_NUMBER}, {0x10D4A, 0x10D65, CLIP_CLASS_LETTER},
    {0x10D6F, 0x10D85, CLIP_CLASS_LETTER}, {0x10EC2, 0x10EC4, CLIP_CLASS_LETTER},
    {0x11380, 0x11389, CLIP_CLASS_LETTER}, {0x1138B, 0x1138B, CLIP_CLASS_LETTER},
    {0x1138E, 0x1138E, CLIP_CLASS_LETTER}, {0x11390, 0x113B5, CLIP_CLASS_LETTER},
    {0x113B7, 0x113B7, CLIP_CLASS_LETTER}, {0x113D1, 0x113D1, CLIP_CLASS_LETTER},
    {0x113D3, 0x113D3, CLIP_CLASS_LETTER}, {0x116D0, 0x116E3, CLIP_CLASS_NUMBER},
    {0x11BC0, 0x11BE0, CLIP_CLASS_LETTER}, {0x11BF0, 0x11BF9, CLIP_CLASS_NUMBER},
    {0x13460, 0x143FA, CLIP_CLASS_LETTER}, {0x16100, 0x1611D, CLIP_CLASS_LETTER},
    {0x16130, 0x16139, CLIP_CLASS_NUMBER}, {0x16D40, 0x16D6C, CLIP_CLASS_LETTER},
    {0x16D70, 0x16D79, CLIP_CLASS_NUMBER}, {0x18CFF, 0x18CFF, CLIP_CLASS_LETTER},
    {0x1CCF0, 0x1CCF9, CLIP_CLASS_NUMBER}, {0x1E5D0, 0x1E5ED, CLIP_CLASS_LETTER},
    {0x1E5F0, 0x1E5F0, CLIP_CLASS_LETTER}, {0x1E5F1, 0x1E5FA, CLIP_CLASS_NUMBER},
    {0x2EBF0, 0x2EE5D, CLIP_CLASS_LETTER},
};
static const struct { int32_t from, to; } lower_patch[] = {
    {0x1C89, 0x1C8A}, {0xA7CB, 0x264}, {0xA7CC, 0xA7CD}, {0xA7CE, 0xA7CF}, {0xA7D2, 0xA7D3},
    {0xA7D4, 0xA7D5}, {0xA7DA, 0xA7DB}, {0xA7DC, 0x19B}, {0x10D50, 0x10D70}, {0x10D51, 0x10D71},
    {0x10D52, 0x10D72}, {0x10D53, 0x10D73}, {0x10D54, 0x10D74}, {0x10D55, 0x10D75},
    {0x10D56, 0x10D76}, {0x10D57, 0x10D77}, {0x10D58, 0x10D78}, {0x10D59, 0x10D79},
    {0x10D5A, 0x10D7A}, {0x10D5B, 0x10D7B}, {0x10D5C, 0x10D7C}, {0x10D5D, 0x10D7D},
    {0x10D5E, 0x10D7E}, {0x10D5F, 0x10D7F}, {0x10D60, 0x10D80}, {0x10D61, 0x10D81},
    {0x10D62, 0x10D82}, {0x10D63, 0x10D83}, {0x10D64, 0x10D84}, {0x10D65, 0x10D85},
    {0x16EA0, 0x16EBB}, {0x16EA1, 0x16EBC}, {0x16EA2, 0x16EBD}, {0x16EA3, 0x16EBE},
    {0x16EA4, 0x16EBF}, {0x16EA5, 0x16EC0}, {0x16EA6, 0x16EC1}, {0x16EA7, 0x16EC2},
    {0x16EA8, 0x16EC3}, {0x16EA9, 0x16EC4}, {0x16EAA, 0x16EC5}, {0x16EAB, 0x16EC6},
    {0x16EAC, 0x16EC7}, {0x16EAD, 0x16EC8}, {0x16EAE, 0x16EC9}, {0x16EAF, 0x16ECA},
    {0x16EB0, 0x16ECB}, {0x16EB1, 0x16ECC}, {0x16EB2, 0x16ECD}, {0x16EB3, 0x16ECE},
    {0x16EB4, 0x16ECF}, {0x16EB5, 0x16ED0}, {0x16EB6, 0x16ED1}, {0x16EB7, 0x16ED2},
    {0x16EB8, 0x16ED3},
};

static int find_class_patch(int32_t c)
{
    int lo = 0, hi = (int)(sizeof class_patch / sizeof class_patch[0]) - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < class_patch[mid].lo) hi = mid - 1;
        else if (c > class_patch[mid].hi) lo = mid + 1;
        else return class_patch[mid].cls;
    }
    return -1;
}

static int32_t to_lower(int32_t c)
{
    int lo = 0, hi = (int)(sizeof lower_patch / sizeof lower_patch[0]) - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < lower_patch[mid].from) hi = mid - 1;
        else if (c > lower_patch[mid].from) lo = mid + 1;
        else return lower_patch[mid].to;
    }
    return utf8proc_tolower(c);
}

/* Unicode White_Space (PropList.txt): Oniguruma's \s in UTF-8 mode. */
int clip_is_space(int32_t c)
{
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int clip_char_class(int32_t c)
{
    if (clip_is_space(c)) return CLIP_CLASS_SPACE;
    if (c < 0x80) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CLIP_CLASS_LETTER;
        if (c >= '0' && c <= '9') return CLIP_CLASS_NUMBER;
        return CLIP_CLASS_OTHER;
    }
    int patched = c >= 0x1C89 ? find_class_patch(c) : -1;
    if (patched >= 0) return patched;
    utf8proc_category_t cat = utf8proc_category(c);
    if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) return CLIP_CLASS_LETTER;
    if (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) return CLIP_CLASS_NUMBER;
    return CLIP_CLASS_OTHER;
}

long clip_utf8_next(const unsigned char *s, size_t n, int32_t *c)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate(s, (utf8proc_ssize_t)n, &cp);
    if (k <= 0 || cp < 0) return -1;
    *c = cp;
    return (long)k;
}

int clip_check_utf8(const char *text, size_t len, ember_err *err)
{
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0 || c < 0)
            return ember_err_set(err,
                                 "the text is not valid UTF-8: byte 0x%02X at offset %zu does not "
                                 "start a well-formed character (encode the prompt as UTF-8)",
                                 s[i], i);
        i += (size_t)k;
    }
    return 0;
}

/* Growable byte buffer; the normaliser's output. */
typedef struct {
    char *p;
    size_t n, cap;
} bbuf;

static int bb_reserve(bbuf *b, size_t extra)
{
    if (b->n + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* NFC as tokenizers computes it (Rust's unicode-normalization crate), which
 * never composes U+11935 U+11930 into U+11938 (DIVES AKURU VOWEL SIGN O)
 * although Unicode says to; it is the only such pair among all canonical
 * decompositions. U+11930 is a starter (ccc 0), so normalising the text in
 * pieces that each begin at a U+11930 blocks exactly that composition. */
static int nfc_quirk(const char *text, size_t len, utf8proc_uint8_t **out, size_t *out_len,
                     ember_err *err)
{
    static const char blocker[] = "\xF0\x91\xA4\xB0"; /* U+11930 */
    bbuf b = {0};
    size_t i = 0;
    while (i < len) {
        size_t j = i + 1;
        while (j + 4 <= len && memcmp(text + j, blocker, 4) != 0) j++;
        if (j + 4 > len) j = len;
        utf8proc_uint8_t *piece = NULL;
        utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(j - i),
                                          &piece, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (r < 0) {
            free(b.p);
            return ember_err_set(err, "normalising the text (NFC): %s", utf8proc_errmsg(r));
        }
        if (bb_reserve(&b, (size_t)r + 1) != 0) {
            free(piece);
            free(b.p);
            return ember_err_set(err, "out of memory normalising a text of %zu bytes", len);
        }
        memcpy(b.p + b.n, piece, (size_t)r);
        b.n += (size_t)r;
        free(piece);
        i = j;
    }
    if (bb_reserve(&b, 1) != 0) {
        free(b.p);
        return ember_err_set(err, "out of memory normalising a text of %zu bytes", len);
    }
    b.p[b.n] = '\0';
    *out = (utf8proc_uint8_t *)b.p;
    *out_len = b.n;
    return 0;
}

int clip_normalize(const char *text, char **out, size_t *out_len, ember_err *err)
{
    *out = NULL;
    *out_len = 0;
    size_t len = strlen(text);
    if (clip_check_utf8(text, len, err) != 0) return -1;

    /* NFC first (HF's order); pure ASCII is already NFC, skip the copy. */
    utf8proc_uint8_t *nfc = NULL;
    const utf8proc_uint8_t *src = (const utf8proc_uint8_t *)text;
    int ascii = 1;
    for (size_t i = 0; i < len && ascii; i++) ascii = (unsigned char)text[i] < 0x80;
    if (!ascii) {
        if (nfc_quirk(text, len, &nfc, &len, err) != 0) return -1;
        src = nfc;
    }
    bbuf b = {0};
    if (bb_reserve(&b, len + 1) != 0) goto oom;
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k;
        if (src[i] < 0x80) {
            c = src[i];
            k = 1;
        } else {
            k = utf8proc_iterate(src + i, (utf8proc_ssize_t)(len - i), &c);
            if (k <= 0) { /* cannot happen after the check and NFC; stay safe */
                free(nfc);
                free(b.p);
                return ember_err_set(err, "the text is not valid UTF-8 after normalisation");
            }
        }
        i += (size_t)k;
        if (clip_is_space(c)) {
            /* one space per run; runs are what \s+ replaces */
            if (bb_reserve(&b, 1) != 0) goto oom;
            b.p[b.n++] = ' ';
            while (i < len) {
                utf8proc_int32_t d = src[i];
                utf8proc_ssize_t kk = 1;
                if (src[i] >= 0x80) kk = utf8proc_iterate(src + i, (utf8proc_ssize_t)(len - i), &d);
                if (kk <= 0 || !clip_is_space(d)) break;
                i += (size_t)kk;
            }
            continue;
        }
        if (bb_reserve(&b, 8) != 0) goto oom;
        if (c < 0x80) {
            b.p[b.n++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        } else if (c == 0x130) {
            /* the one unconditional multi-character lower-case mapping
               (SpecialCasing.txt): 'İ' -> 'i' + combining dot above */
            b.p[b.n++] = 'i';
            b.n += (size_t)utf8proc_encode_char(0x307, (utf8proc_uint8_t *)b.p + b.n);
        } else {
            b.n += (size_t)utf8proc_encode_char(to_lower(c), (utf8proc_uint8_t *)b.p + b.n);
        }
    }
    free(nfc);
    if (bb_reserve(&b, 1) != 0) goto oom;
    b.p[b.n] = '\0';
    *out = b.p;
    *out_len = b.n;
    return 0;
oom:
    free(nfc);
    free(b.p);
    return ember_err_set(err, "out of memory normalising a text of %zu bytes", len);
}

/* Decodes one character of normalised (valid) text. */
static size_t next_char(const char *s, size_t len, size_t i, int32_t *c)
{
    const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s;
    if (u[i] < 0x80) {
        *c = u[i];
        return 1;
    }
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &cp);
    if (k <= 0) { /* not reachable on checked text: treat the byte as "other" */
        *c = 0xFFFD;
        return 1;
    }
    *c = cp;
    return (size_t)k;
}

int clip_next_piece(const char *s, size_t len, size_t *pos, size_t *start, size_t *plen)
{
    size_t i = *pos;
    int32_t c;
    /* skip what no alternative matches: whitespace */
    while (i < len) {
        size_t k = next_char(s, len, i, &c);
        if (!clip_is_space(c)) break;
        i += k;
    }
    if (i >= len) {
        *pos = len;
        return 0;
    }
    *start = i;
    /* 's|'t|'re|'ve|'m|'ll|'d, in the pattern's order */
    if (s[i] == '\'' && i + 1 < len) {
        static const char *const contr[] = {"s", "t", "re", "ve", "m", "ll", "d"};
        for (size_t j = 0; j < sizeof contr / sizeof contr[0]; j++) {
            size_t m = strlen(contr[j]);
            if (i + 1 + m <= len && memcmp(s + i + 1, contr[j], m) == 0) {
                *plen = 1 + m;
                *pos = i + 1 + m;
                return 1;
            }
        }
    }
    size_t k = next_char(s, len, i, &c);
    int cls = clip_char_class(c);
    size_t j = i + k;
    if (cls == CLIP_CLASS_NUMBER) { /* \p{N}: one character */
        *plen = j - i;
        *pos = j;
        return 1;
    }
    /* \p{L}+ or [^\s\p{L}\p{N}]+: the longest run of the same class */
    while (j < len) {
        size_t kk = next_char(s, len, j, &c);
        if (clip_char_class(c) != cls) break;
        j += kk;
    }
    *plen = j - i;
    *pos = j;
    return 1;
}
