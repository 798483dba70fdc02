/* fuzz_tokenizer_json.c — libFuzzer target for the tokenizer.json reader
 * (engine/text/clip_tokenizer_json.c), the one tokenizer file of a
 * processor saved by transformers 5. Any bytes must load or be refused
 * with a message; a tokenizer that loads must tokenize any prompt into
 * <|startoftext|> ... <|endoftext|> with ids of its vocabulary (or refuse
 * the prompt with a message), agree with its own encode and batch, and
 * decode those ids to valid UTF-8.
 *
 * Input: the bytes up to the first 0x00 are the tokenizer.json; the bytes
 * after it, when there is one, are a prompt tried besides the fixed ones
 * (a JSON text holds no raw NUL, so nothing valid is lost to the split). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "text/clip_tokenizer.h"

/* ---- a memory-backed file (the loader takes a path) -------------------- */

static int fd = -1;
static char path[64];

static void fatal(const char *what)
{
    perror(what);
    abort(); /* a broken harness, not a finding */
}

/* A memfd, or an unlinked temporary file, reached through /proc/self/fd so
 * it leaves nothing behind. */
static void file_open(void)
{
    fd = memfd_create("tokenizer.json", MFD_CLOEXEC);
    if (fd < 0) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        char tmpl[512];
        snprintf(tmpl, sizeof tmpl, "%s/fuzz-tokjson-XXXXXX", dir ? dir : "/tmp");
        fd = mkstemp(tmpl);
        if (fd < 0) fatal("fuzz_tokenizer_json: temporary file");
        unlink(tmpl);
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
}

static void file_set(const void *data, size_t len)
{
    if (ftruncate(fd, 0) != 0) fatal("fuzz_tokenizer_json: ftruncate");
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = pwrite(fd, p + done, len - done, (off_t)done);
        if (w <= 0) fatal("fuzz_tokenizer_json: pwrite");
        done += (size_t)w;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    file_open();
    return 0;
}

/* ---- checks ------------------------------------------------------------ */

static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int n = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : -1;
        if (n < 0) return 0;
        uint32_t cp = n == 0 ? c : c & (0x3F >> n);
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += n + 1;
    }
    return 1;
}

static void check_decode(const ember_clip_tokenizer *t, const int32_t *ids, size_t n)
{
    for (int skip = 0; skip < 2; skip++) {
        ember_err err = {{0}};
        char *s = ember_clip_decode(t, ids, n, skip, &err);
        if (!s || !utf8_valid(s)) abort(); /* ids of its own vocabulary always decode */
        free(s);
    }
}

/* Tokenize, encode and batch one prompt; they must agree. */
static void check_prompt(const ember_clip_tokenizer *t, const char *text)
{
    int32_t ids[EMBER_CLIP_CONTEXT];
    int n = 0;
    ember_err err = {{0}};
    int rc = ember_clip_tokenize(t, text, ids, EMBER_CLIP_CONTEXT, &n, &err);
    if (rc != 0 && !err.msg[0]) abort();
    int32_t *all = NULL;
    size_t na = 0;
    ember_err err2 = {{0}};
    int rc2 = ember_clip_encode(t, text, &all, &na, &err2);
    if (rc2 != 0 && !err2.msg[0]) abort();
    if ((rc == 0) != (rc2 == 0)) abort();
    if (rc == 0) {
        if (n < 2 || n > EMBER_CLIP_CONTEXT || ids[0] != EMBER_CLIP_BOS || ids[n - 1] != EMBER_CLIP_EOS) abort();
        size_t k = (size_t)n - 2;
        if (k != (na < EMBER_CLIP_CONTEXT - 2 ? na : EMBER_CLIP_CONTEXT - 2)) abort();
        if (k && memcmp(ids + 1, all, k * sizeof *ids) != 0) abort();
        for (size_t i = 0; i < na; i++)
            if (!ember_clip_token_str(t, all[i])) abort(); /* ids may be sparse: a token of the file */
        check_decode(t, ids, (size_t)n);
        check_decode(t, all, na);
        /* the batch of this prompt and a plain one: rows as tokenize gives them */
        const char *texts[2] = {text, "a cat"};
        ember_clip_batch b;
        ember_err err3 = {{0}};
        if (ember_clip_tokenize_batch(t, texts, 2, EMBER_CLIP_CONTEXT, 0, &b, &err3) != 0) abort();
        int first_eos = 0; /* where the row pools: its first <|endoftext|> (a typed one counts) */
        while (ids[first_eos] != EMBER_CLIP_EOS) first_eos++;
        if (b.k != 2 || b.len < n || memcmp(b.ids, ids, (size_t)n * sizeof *ids) != 0 || b.eos_index[0] != first_eos)
            abort();
        ember_clip_batch_free(&b);
    }
    free(all);
}

static const char *const prompts[] = {
    "a photo of a cat",
    "the cat sat on aaaa abc, thinking",
    "  CAT\t\tAnd\xc2\xa0\x44OG ",   /* \x44 is D: "\xa0D" would read as one escape */
    "it's we're they've i'm you'll he'd",
    "12345 !!! ... (x) 3.14",
    "<|startoftext|>a cat<|endoftext|> <|ENDOFTEXT|> <|end",
    "caf\xc3\xa9 na\xc3\xafve \xc4\xb0stanbul \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 e\xcc\x81",
    "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t jlen = nul ? (size_t)(nul - data) : size;
    file_set(data, jlen);
    ember_err err = {{0}};
    ember_clip_tokenizer *t = ember_clip_tokenizer_load_json(path, &err);
    if (!t) {
        if (!err.msg[0]) abort(); /* a refusal always says why */
        return 0;
    }
    for (size_t i = 0; i < sizeof prompts / sizeof *prompts; i++) check_prompt(t, prompts[i]);
    if (nul) {
        size_t plen = size - jlen - 1;
        char *text = malloc(plen + 1);
        if (text) {
            memcpy(text, nul + 1, plen);
            text[plen] = '\0';
            check_prompt(t, text);
            free(text);
        }
    }
    ember_clip_tokenizer_free(t);
    return 0;
}
