/* fuzz_text.c — libFuzzer target for the CLIP tokenizer (engine/text): any
 * bytes given as a prompt must tokenize or fail with a message (invalid
 * UTF-8 is an error, never a crash), and any ids must decode to valid UTF-8
 * or fail with a message. The fuzzer needs no shared data: a small
 * byte-level vocabulary and merges are built in memory at start-up.
 *
 * Input: first byte 0x00 — merges mode: the bytes up to the next 0x00 are a
 *          merges.txt loaded with the built-in vocabulary, the bytes after
 *          it a prompt tokenized with what loaded (BPE under hostile merge
 *          orders);
 *        first byte 0x01 — vocab mode: the rest is a vocab.json loaded with
 *          the built-in merges;
 *        anything else — the whole input is a prompt (tokenize, encode,
 *          batch, decode), and its bytes, two at a time, are also a list of
 *          ids to decode. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "text/clip_tokenizer.h"

/* ---- memory-backed files (the loader takes paths) ----------------------- */

typedef struct {
    int fd;
    char path[64];
} memfile;

static void fatal(const char *what)
{
    perror(what);
    abort(); /* a broken harness, not a finding */
}

/* A memfd, or an unlinked temporary file in /dev/shm or $TMPDIR, reached
 * through /proc/self/fd so it leaves nothing behind. */
static void memfile_open(memfile *m, const char *tag)
{
    m->fd = memfd_create(tag, MFD_CLOEXEC);
    if (m->fd < 0) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        char tmpl[512];
        snprintf(tmpl, sizeof tmpl, "%s/fuzz-%s-XXXXXX", dir ? dir : "/tmp", tag);
        m->fd = mkstemp(tmpl);
        if (m->fd < 0) fatal("fuzz_text: temporary file");
        unlink(tmpl);
    }
    snprintf(m->path, sizeof m->path, "/proc/self/fd/%d", m->fd);
}

static void memfile_set(memfile *m, const void *data, size_t len)
{
    if (ftruncate(m->fd, 0) != 0) fatal("fuzz_text: ftruncate");
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = pwrite(m->fd, p + done, len - done, (off_t)done);
        if (w <= 0) fatal("fuzz_text: pwrite");
        done += (size_t)w;
    }
}

/* ---- the built-in vocabulary ------------------------------------------- */

/* GPT-2's bytes_to_unicode. */
static int b2u(int b)
{
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    if (printable) return b;
    int n = 0;
    for (int i = 0; i < b; i++)
        n += !((i >= '!' && i <= '~') || (i >= 0xA1 && i <= 0xAC) || i >= 0xAE);
    return 256 + n;
}

/* Merges over letters, punctuation and a two-byte character ("é" is the
 * byte-level pair Ã ©), so that ordinary and odd prompts both merge. */
static const char *const merge_lines[] = {
    "c a",  "ca t</w>", "a a",    "aa a",  "a t</w>", "b c</w>", "a b",    "ab c</w>",
    "a a</w>", "aa aa</w>", "t h", "th e</w>", "i n", "in g</w>", "e r</w>", "o n</w>",
    "Ã ©",  "Ã ©</w>",  "c Ã©</w>", "! !", "!! !</w>", "< |", "| ></w>",
};
#define N_MERGES (sizeof merge_lines / sizeof merge_lines[0])

static char *builtin_vocab, *builtin_merges;
static ember_clip_tokenizer *tok;
static int32_t valid_ids[1024];
static int n_valid;
static memfile vfile, mfile;

static void json_token(char *s, size_t cap, size_t *o, const char *t)
{
    *o += (size_t)snprintf(s + *o, cap - *o, "\"");
    for (; *t; t++) {
        if (*t == '"' || *t == '\\') *o += (size_t)snprintf(s + *o, cap - *o, "\\%c", *t);
        else *o += (size_t)snprintf(s + *o, cap - *o, "%c", *t);
    }
    *o += (size_t)snprintf(s + *o, cap - *o, "\"");
}

static void build_builtin(void)
{
    size_t cap = 64 * 1024, o = 0;
    char *s = malloc(cap), *m = malloc(4096);
    if (!s || !m) fatal("fuzz_text: malloc");
    o += (size_t)snprintf(s + o, cap - o, "{");
    for (int w = 0; w < 2; w++)
        for (int b = 0; b < 256; b++) {
            int cp = b2u(b);
            char t[16];
            if (cp < 0x80) snprintf(t, sizeof t, "%c%s", cp, w ? "</w>" : "");
            else snprintf(t, sizeof t, "%c%c%s", 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F), w ? "</w>" : "");
            json_token(s, cap, &o, t);
            o += (size_t)snprintf(s + o, cap - o, ": %d, ", w * 256 + b);
        }
    /* each merge's result, once */
    char results[N_MERGES][32];
    int id = 512;
    size_t mo = (size_t)snprintf(m, 4096, "#version: 0.2\n");
    for (size_t i = 0; i < N_MERGES; i++) {
        const char *sp = strchr(merge_lines[i], ' ');
        snprintf(results[i], sizeof results[i], "%.*s%s", (int)(sp - merge_lines[i]), merge_lines[i], sp + 1);
        mo += (size_t)snprintf(m + mo, 4096 - mo, "%s\n", merge_lines[i]);
        int seen = 0;
        for (size_t j = 0; j < i; j++) seen |= strcmp(results[j], results[i]) == 0;
        if (seen) continue;
        json_token(s, cap, &o, results[i]);
        o += (size_t)snprintf(s + o, cap - o, ": %d, ", id++);
    }
    snprintf(s + o, cap - o, "\"<|startoftext|>\": 49406, \"<|endoftext|>\": 49407}");
    builtin_vocab = s;
    builtin_merges = m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    build_builtin();
    memfile_open(&vfile, "vocab");
    memfile_open(&mfile, "merges");
    memfile_set(&vfile, builtin_vocab, strlen(builtin_vocab));
    memfile_set(&mfile, builtin_merges, strlen(builtin_merges));
    ember_err err = {{0}};
    tok = ember_clip_tokenizer_load(vfile.path, mfile.path, &err);
    if (!tok) {
        fprintf(stderr, "fuzz_text: the built-in vocabulary does not load: %s\n", err.msg);
        abort();
    }
    for (int32_t i = 0; i < 49408 && n_valid < (int)(sizeof valid_ids / sizeof valid_ids[0]); i++)
        if (ember_clip_token_str(tok, i)) valid_ids[n_valid++] = i;
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

static void check_decode(const ember_clip_tokenizer *t, const int32_t *ids, size_t n, int must_work)
{
    for (int skip = 0; skip < 2; skip++) {
        ember_err err = {{0}};
        char *s = ember_clip_decode(t, ids, n, skip, &err);
        if (!s) {
            if (must_work || !err.msg[0]) abort();
            continue;
        }
        if (!utf8_valid(s)) abort();
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
            if (!ember_clip_token_str(t, all[i])) abort();
        check_decode(t, ids, (size_t)n, 1);
        check_decode(t, all, na, 1);
    }
    free(all);
}

static void check_batch(const ember_clip_tokenizer *t, const char *buf, size_t len)
{
    /* the input's NUL-separated parts are the prompts (at most 8) */
    const char *texts[8];
    int k = 0;
    for (size_t i = 0; i <= len && k < 8;) {
        texts[k++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    ember_clip_batch b;
    ember_err err = {{0}};
    int max_len = 2 + (int)(len % 9); /* short rows: truncation matters */
    if (ember_clip_tokenize_batch(t, texts, k, max_len, (len & 16) ? max_len : 0, &b, &err) != 0) {
        if (!err.msg[0] || b.ids || b.mask || b.eos_index) abort();
        return;
    }
    if (b.k != k || b.len < 2 || b.len > max_len) abort();
    for (int i = 0; i < k; i++) {
        const int32_t *row = b.ids + (size_t)i * b.len, *m = b.mask + (size_t)i * b.len;
        if (row[0] != EMBER_CLIP_BOS || m[0] != 1) abort();
        int e = b.eos_index[i];
        if (e < 1 || e >= b.len || row[e] != EMBER_CLIP_EOS) abort();
        for (int j = 0; j < e; j++)
            if (row[j] == EMBER_CLIP_EOS) abort();
    }
    ember_clip_batch_free(&b);
}

/* ---- modes ------------------------------------------------------------- */

static void prompt_mode(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return;
    memcpy(text, data, size);
    text[size] = '\0';
    check_prompt(tok, text);
    check_batch(tok, text, size);
    free(text);

    /* ids from the bytes: mostly real tokens, now and then one that is not */
    size_t n = size / 2;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) return;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v = data[2 * i] | (unsigned)data[2 * i + 1] << 8;
        if (v >= 0xFFF0) {
            ids[i] = v == 0xFFFF ? -1 : v == 0xFFFE ? 49408 : 600 + (int32_t)(v & 7);
            bad = 1;
        } else {
            ids[i] = valid_ids[v % (unsigned)n_valid];
        }
    }
    check_decode(tok, ids, n, !bad);
    free(ids);
}

static void merges_mode(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t mlen = nul ? (size_t)(nul - data) : size;
    memfile_set(&mfile, data, mlen);
    ember_err err = {{0}};
    ember_clip_tokenizer *t = ember_clip_tokenizer_load(vfile.path, mfile.path, &err);
    if (!t) {
        if (!err.msg[0]) abort();
        return;
    }
    size_t plen = nul ? size - mlen - 1 : 0;
    char *text = malloc(plen + 1);
    if (text) {
        if (plen) memcpy(text, nul + 1, plen);
        text[plen] = '\0';
        check_prompt(t, plen ? text : "the cat sat on aaaa abc café !!! <|endoftext|>");
        free(text);
    }
    ember_clip_tokenizer_free(t);
}

static void vocab_mode(const uint8_t *data, size_t size)
{
    memfile_set(&vfile, data, size);
    memfile_set(&mfile, builtin_merges, strlen(builtin_merges));
    ember_err err = {{0}};
    ember_clip_tokenizer *t = ember_clip_tokenizer_load(vfile.path, mfile.path, &err);
    if (!t) {
        if (!err.msg[0]) abort();
    } else {
        check_prompt(t, "the cat sat on aaaa abc café !!! <|endoftext|>");
        ember_clip_tokenizer_free(t);
    }
    /* merges mode expects the built-in vocabulary back */
    memfile_set(&vfile, builtin_vocab, strlen(builtin_vocab));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size && data[0] == 0x00) merges_mode(data + 1, size - 1);
    else if (size && data[0] == 0x01) vocab_mode(data + 1, size - 1);
    else prompt_mode(data, size);
    return 0;
}
