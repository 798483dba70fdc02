/* clip_tokenizer.c — loading CLIP's vocabulary and merges, byte-level BPE,
 * and the public tokenize / batch / decode calls of clip_tokenizer.h. The
 * Unicode side (normalising, splitting into pieces) is in unicode_clean.c.
 *
 * BPE follows the tokenizers library's merge loop exactly, including its
 * tie-breaks: a heap ordered by (merge rank, position); an entry popped for
 * a pair that has changed since it was pushed is skipped unless the pair
 * now there merges into the same token (the library's staleness test
 * compares the merged token, not the rank). A word's cost is
 * O(n log n), so a 100 KB "word" is fine. */
#include "text/clip_tokenizer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "text_internal.h"

#define MAX_VOCAB_ID (1 << 24)
#define MAX_FILE_BYTES ((size_t)1 << 30)

struct ember_clip_tokenizer {
    int32_t n_ids;   /* largest id + 1 */
    char **tok;      /* [n_ids] token strings (NULL where an id is unused) */
    uint32_t *vslot; /* string hash: id + 1 per slot, 0 = empty */
    size_t vcap;     /* power of two */
    uint64_t *mkey;  /* merge hash: (left id << 32 | right id) + 1, 0 = empty */
    int32_t *mrank, *mnew;
    size_t mcap;
    int32_t nmerges; /* merges added so far: the next one's rank */
    int32_t byte_id[256], byte_id_w[256]; /* one byte's symbol, without / with "</w>" */
    int16_t cp_byte[324];                 /* byte-level code point -> byte, -1 if none */
    /* Where "<|startoftext|>" and "<|endoftext|>" are found: 0 in the
     * normalised text (added tokens with normalized=true, as CIDAS's
     * checkpoint configures them: "<|ENDOFTEXT|>" counts), 1 in the text as
     * given, before normalising (normalized=false, what a tokenizer.json
     * may say); there a special string that only normalising produces is
     * ordinary text, split and merged like any other. */
    int specials_raw;
};

/* ---- hashing ---------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static int32_t vocab_find(const ember_clip_tokenizer *t, const char *s, size_t n)
{
    size_t mask = t->vcap - 1;
    for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        uint32_t v = t->vslot[i];
        if (!v) return -1;
        const char *k = t->tok[v - 1];
        if (strncmp(k, s, n) == 0 && k[n] == '\0') return (int32_t)(v - 1);
    }
}

/* Returns the merge's rank and result, or -1. */
static int32_t merge_find(const ember_clip_tokenizer *t, int32_t a, int32_t b, int32_t *new_id)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t mask = t->mcap - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
        if (t->mkey[i] == 0) return -1;
        if (t->mkey[i] == key) {
            *new_id = t->mnew[i];
            return t->mrank[i];
        }
    }
}

/* A later line with the same pair wins, as in both HF implementations. */
static void merge_put(ember_clip_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t new_id)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t mask = t->mcap - 1;
    size_t i = hash_u64(key) & mask;
    while (t->mkey[i] != 0 && t->mkey[i] != key) i = (i + 1) & mask;
    t->mkey[i] = key;
    t->mrank[i] = rank;
    t->mnew[i] = new_id;
}

/* ---- loading ---------------------------------------------------------- */

void ember_clip_tokenizer_free(ember_clip_tokenizer *t)
{
    if (!t) return;
    if (t->tok)
        for (int32_t i = 0; i < t->n_ids; i++) free(t->tok[i]);
    free(t->tok);
    free(t->vslot);
    free(t->mkey);
    free(t->mrank);
    free(t->mnew);
    free(t);
}

int ember_clip_vocab_size(const ember_clip_tokenizer *t)
{
    int n = 0;
    for (int32_t i = 0; i < t->n_ids; i++) n += t->tok[i] != NULL;
    return n;
}

const char *ember_clip_token_str(const ember_clip_tokenizer *t, int32_t id)
{
    if (!t || id < 0 || id >= t->n_ids) return NULL;
    return t->tok[id];
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the other 68 bytes for U+0100.. in byte order. */
static int byte_printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

static int byte_to_cp(int b)
{
    if (byte_printable(b)) return b;
    int n = 0;
    for (int i = 0; i < b; i++) n += !byte_printable(i);
    return 256 + n;
}

static int read_file(const char *path, const char *what, char **out, size_t *len, ember_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ember_err_set(err, "cannot open the CLIP %s '%s': %s", what, path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            if (cap > MAX_FILE_BYTES) {
                free(buf);
                fclose(f);
                return ember_err_set(err, "the CLIP %s '%s' is larger than 1 GiB: not a merges file",
                                     what, path);
            }
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return ember_err_set(err, "out of memory reading '%s'", path);
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ember_err_set(err, "reading the CLIP %s '%s' failed", what, path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int check_vocab(ember_clip_tokenizer *t, const char *path, ember_err *err);

ember_clip_tokenizer *clip_tok_new(ember_err *err)
{
    ember_clip_tokenizer *t = calloc(1, sizeof *t);
    if (!t) ember_err_set(err, "out of memory creating the CLIP tokenizer");
    return t;
}

void clip_tok_set_specials_raw(ember_clip_tokenizer *t, int raw) { t->specials_raw = raw != 0; }

static int load_vocab(ember_clip_tokenizer *t, const char *path, ember_err *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        FILE *f = fopen(path, "rb");
        if (!f)
            return ember_err_set(err, "cannot open the CLIP vocabulary '%s': %s", path, strerror(errno));
        fclose(f);
        return ember_err_set(err,
                             "the CLIP vocabulary '%s' is not valid JSON (line %d, column %d: %s); "
                             "expected vocab.json as published with the model",
                             path, je.line, je.column, je.text);
    }
    int rc = clip_tok_set_vocab(t, root, path, err);
    json_decref(root);
    return rc;
}

int clip_tok_set_vocab(ember_clip_tokenizer *t, json_t *root, const char *path, ember_err *err)
{
    if (!json_is_object(root) || json_object_size(root) == 0)
        return ember_err_set(err,
                             "the CLIP vocabulary '%s' must be a non-empty JSON object "
                             "{\"token\": id, ...}",
                             path);
    int32_t max_id = -1;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id >= MAX_VOCAB_ID) {
            ember_err_set(err,
                          "the CLIP vocabulary '%s': token \"%.60s\" has an id %s; ids must be "
                          "integers from 0 to %d",
                          path, key, json_is_integer(v) ? "out of range" : "which is not an integer",
                          MAX_VOCAB_ID - 1);
            return -1;
        }
        if ((int32_t)id > max_id) max_id = (int32_t)id;
    }
    t->n_ids = max_id + 1;
    t->tok = calloc((size_t)t->n_ids, sizeof *t->tok);
    size_t count = json_object_size(root);
    t->vcap = 1;
    while (t->vcap < count * 2) t->vcap *= 2;
    t->vslot = calloc(t->vcap, sizeof *t->vslot);
    if (!t->tok || !t->vslot) return ember_err_set(err, "out of memory loading the CLIP vocabulary");
    json_object_foreach(root, key, v) {
        int32_t id = (int32_t)json_integer_value(v);
        if (t->tok[id]) {
            ember_err_set(err, "the CLIP vocabulary '%s': id %d belongs to two tokens (\"%.60s\" and \"%.60s\")",
                          path, id, t->tok[id], key);
            return -1;
        }
        size_t n = strlen(key);
        t->tok[id] = malloc(n + 1);
        if (!t->tok[id]) return ember_err_set(err, "out of memory loading the CLIP vocabulary");
        memcpy(t->tok[id], key, n + 1);
        size_t mask = t->vcap - 1, i = hash_bytes(key, n) & mask;
        while (t->vslot[i]) i = (i + 1) & mask;
        t->vslot[i] = (uint32_t)id + 1;
    }
    return check_vocab(t, path, err);
}

/* The symbols every text can produce and the special tokens must be there. */
static int check_vocab(ember_clip_tokenizer *t, const char *path, ember_err *err)
{
    for (int b = 0; b < 256; b++) {
        char s[16];
        int cp = byte_to_cp(b);
        int n = cp < 0x80 ? (s[0] = (char)cp, 1)
                          : (s[0] = (char)(0xC0 | (cp >> 6)), s[1] = (char)(0x80 | (cp & 0x3F)), 2);
        s[n] = '\0';
        t->byte_id[b] = vocab_find(t, s, (size_t)n);
        memcpy(s + n, "</w>", 5);
        t->byte_id_w[b] = vocab_find(t, s, (size_t)n + 4);
        s[n] = '\0';
        if (t->byte_id[b] < 0 || t->byte_id_w[b] < 0)
            return ember_err_set(err,
                                 "the CLIP vocabulary '%s' lacks the byte-level symbol \"%s\" (with "
                                 "or without \"</w>\"): not a CLIP byte-level BPE vocabulary",
                                 path, s);
    }
    if (vocab_find(t, "<|startoftext|>", 15) != EMBER_CLIP_BOS ||
        vocab_find(t, "<|endoftext|>", 13) != EMBER_CLIP_EOS)
        return ember_err_set(err,
                             "the CLIP vocabulary '%s' must map <|startoftext|> to %d and "
                             "<|endoftext|> to %d, as CLIP's does",
                             path, EMBER_CLIP_BOS, EMBER_CLIP_EOS);
    for (int i = 0; i < 324; i++) t->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) t->cp_byte[byte_to_cp(b)] = (int16_t)b;
    return 0;
}

int clip_tok_merges_reserve(ember_clip_tokenizer *t, size_t n, ember_err *err)
{
    t->mcap = 16;
    while (t->mcap < n * 2) t->mcap *= 2;
    t->mkey = calloc(t->mcap, sizeof *t->mkey);
    t->mrank = malloc(t->mcap * sizeof *t->mrank);
    t->mnew = malloc(t->mcap * sizeof *t->mnew);
    t->nmerges = 0;
    if (!t->mkey || !t->mrank || !t->mnew) return ember_err_set(err, "out of memory loading the CLIP merges");
    return 0;
}

int clip_tok_add_merge(ember_clip_tokenizer *t, const char *a, size_t na, const char *b, size_t nb)
{
    if ((size_t)t->nmerges * 2 + 2 > t->mcap) return -1; /* more than reserved */
    int32_t ia = vocab_find(t, a, na), ib = vocab_find(t, b, nb), iab = -1;
    if (ia < 0) return 1;
    if (ib < 0) return 2;
    char small[256];
    char *joined = na + nb < sizeof small ? small : malloc(na + nb + 1);
    if (!joined) return -1;
    memcpy(joined, a, na);
    memcpy(joined + na, b, nb);
    joined[na + nb] = '\0';
    iab = vocab_find(t, joined, na + nb);
    if (joined != small) free(joined);
    if (iab < 0) return 3;
    merge_put(t, ia, ib, t->nmerges++, iab);
    return 0;
}

const char *clip_tok_merge_problem(int rc)
{
    return rc == 1   ? "the left token is not in the vocabulary"
           : rc == 2 ? "the right token is not in the vocabulary"
           : rc == 3 ? "the merged token is not in the vocabulary"
                     : "out of memory";
}

int clip_tok_merge_count(const ember_clip_tokenizer *t) { return t->nmerges; }

/* Parses merges text buf[0..len) (its lines after the first `skip` ones;
 * "#version" lines are skipped too), best first. The caller owns buf. */
static int parse_merges(ember_clip_tokenizer *t, const char *buf, size_t len, size_t skip, const char *path,
                        ember_err *err)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    if (clip_tok_merges_reserve(t, lines, err) != 0) return -1;
    if (memchr(buf, '\0', len))
        return ember_err_set(err, "the CLIP merges '%s' contain a NUL byte: not a text file", path);
    size_t lineno = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        if (lineno <= skip) {
            p = le + 1;
            continue;
        }
        size_t n = (size_t)(le - p);
        if (n && p[n - 1] == '\r') n--;
        if (n >= 8 && memcmp(p, "#version", 8) == 0) {
            p = le + 1;
            continue;
        }
        if (n == 0 && !nl) break; /* no text after the last newline */
        const char *sp = memchr(p, ' ', n);
        int show = n > 60 ? 60 : (int)n;
        if (!sp || sp == p || sp == p + n - 1 || memchr(sp + 1, ' ', (size_t)(p + n - sp - 1))) {
            ember_err_set(err,
                          "the CLIP merges '%s', line %zu (\"%.*s\"): expected two tokens "
                          "separated by one space",
                          path, lineno, show, p);
            return -1;
        }
        size_t na = (size_t)(sp - p), nb = n - na - 1;
        int rc = clip_tok_add_merge(t, p, na, sp + 1, nb);
        if (rc < 0) return ember_err_set(err, "out of memory loading the CLIP merges");
        if (rc > 0) {
            ember_err_set(err,
                          "the CLIP merges '%s', line %zu (\"%.*s\"): %s; use the merges.txt that "
                          "belongs with this vocab.json",
                          path, lineno, show, p, clip_tok_merge_problem(rc));
            return -1;
        }
        p = le + 1;
    }
    if (t->nmerges == 0)
        return ember_err_set(err, "the CLIP merges '%s' hold no merges", path);
    return 0;
}

static int load_merges(ember_clip_tokenizer *t, const char *path, ember_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    if (read_file(path, "merges", &buf, &len, err) != 0) return -1;
    int rc = parse_merges(t, buf, len, 0, path, err);
    free(buf);
    return rc;
}

ember_clip_tokenizer *ember_clip_tokenizer_load(const char *vocab_json_path, const char *merges_txt_path,
                                                ember_err *err)
{
    if (!vocab_json_path || !merges_txt_path) {
        ember_err_set(err, "ember_clip_tokenizer_load: a path is NULL");
        return NULL;
    }
    ember_clip_tokenizer *t = clip_tok_new(err);
    if (!t) return NULL;
    if (load_vocab(t, vocab_json_path, err) != 0 || load_merges(t, merges_txt_path, err) != 0) {
        ember_clip_tokenizer_free(t);
        return NULL;
    }
    return t;
}

/* OpenAI's file: a title line, then merges; CLIP uses the first 48,894
 * (49152 - 256 - 2) and numbers its vocabulary as simple_tokenizer.py does:
 * the 256 byte symbols in code-point order, the same with "</w>", each
 * merge's result, then <|startoftext|> and <|endoftext|>. */
#define OPENAI_MERGES 48894

ember_clip_tokenizer *ember_clip_tokenizer_load_openai(const char *bpe_gz_path, ember_err *err)
{
    if (!bpe_gz_path) {
        ember_err_set(err, "ember_clip_tokenizer_load_openai: the path is NULL");
        return NULL;
    }
    gzFile gz = gzopen(bpe_gz_path, "rb");
    if (!gz) {
        ember_err_set(err, "cannot open the CLIP merges '%s': %s", bpe_gz_path,
                      errno ? strerror(errno) : "out of memory");
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 21;
            char *p = cap > MAX_FILE_BYTES ? NULL : realloc(buf, cap);
            if (!p) {
                free(buf);
                gzclose(gz);
                ember_err_set(err, "'%s' decompresses to more than fits in memory (or 1 GiB)", bpe_gz_path);
                return NULL;
            }
            buf = p;
        }
        int r = gzread(gz, buf + len, 65536);
        if (r < 0) {
            int zerr;
            ember_err_set(err, "reading the CLIP merges '%s': %s (is it a gzip file?)", bpe_gz_path,
                          gzerror(gz, &zerr));
            free(buf);
            gzclose(gz);
            return NULL;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    gzclose(gz);
    buf[len] = '\0';
    /* the title line and the merges CLIP uses: buf[0..cut) */
    size_t nlines = 0, cut = len;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n' && ++nlines == OPENAI_MERGES + 1) {
            cut = i;
            break;
        }
    const char *first = memchr(buf, '\n', cut);
    if (!first || memchr(buf, '\0', cut)) {
        ember_err_set(err, "'%s' is not CLIP's bpe_simple_vocab_16e6.txt.gz (a title line, then merges)",
                      bpe_gz_path);
        free(buf);
        return NULL;
    }
    ember_clip_tokenizer *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->n_ids = 512 + OPENAI_MERGES + 2;
    t->tok = calloc((size_t)t->n_ids, sizeof *t->tok);
    t->vcap = 1 << 17;
    t->vslot = calloc(t->vcap, sizeof *t->vslot);
    if (!t->tok || !t->vslot) goto oom;
    int32_t id = 0;
    for (int w = 0; w < 2; w++)
        for (int cp = 0; cp < 324; cp++) {
            int b = -1;
            for (int k = 0; k < 256 && b < 0; k++)
                if (byte_to_cp(k) == cp) b = k;
            if (b < 0) continue;
            char s[8];
            int n = cp < 0x80 ? (s[0] = (char)cp, 1)
                              : (s[0] = (char)(0xC0 | (cp >> 6)), s[1] = (char)(0x80 | (cp & 0x3F)), 2);
            memcpy(s + n, "</w>", 5);
            if (!w) s[n] = '\0';
            if (!(t->tok[id++] = strdup(s))) goto oom;
        }
    const char *p = first + 1;
    for (int m = 0; m < OPENAI_MERGES; m++) {
        if (p >= buf + cut) {
            ember_err_set(err, "the CLIP merges '%s' hold %d merges; CLIP uses the first %d", bpe_gz_path, m,
                          OPENAI_MERGES);
            goto fail;
        }
        const char *le = memchr(p, '\n', (size_t)(buf + cut - p));
        if (!le) le = buf + cut;
        size_t n = (size_t)(le - p);
        char *tok = malloc(n + 1);
        if (!tok) goto oom;
        size_t o = 0;
        for (size_t i = 0; i < n; i++)
            if (p[i] != ' ' && p[i] != '\r') tok[o++] = p[i];
        tok[o] = '\0';
        t->tok[id++] = tok;
        p = le + 1;
    }
    if (!(t->tok[id++] = strdup("<|startoftext|>")) || !(t->tok[id++] = strdup("<|endoftext|>"))) goto oom;
    for (int32_t i = 0; i < t->n_ids; i++) {
        const char *k = t->tok[i];
        size_t n = strlen(k);
        if (vocab_find(t, k, n) >= 0) {
            ember_err_set(err, "the CLIP merges '%s' make the token \"%.60s\" twice: not CLIP's file", bpe_gz_path,
                          k);
            goto fail;
        }
        size_t mask = t->vcap - 1, j = hash_bytes(k, n) & mask;
        while (t->vslot[j]) j = (j + 1) & mask;
        t->vslot[j] = (uint32_t)i + 1;
    }
    if (check_vocab(t, bpe_gz_path, err) != 0 || parse_merges(t, buf, cut, 1, bpe_gz_path, err) != 0) goto fail;
    free(buf);
    return t;
oom:
    ember_err_set(err, "out of memory loading the CLIP merges '%s'", bpe_gz_path);
fail:
    free(buf);
    ember_clip_tokenizer_free(t);
    return NULL;
}

/* ---- BPE -------------------------------------------------------------- */

typedef struct {
    int32_t *v;
    size_t n, cap;
} ibuf;

static int ib_push(ibuf *b, int32_t x)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        int32_t *p = realloc(b->v, cap * sizeof *p);
        if (!p) return -1;
        b->v = p;
        b->cap = cap;
    }
    b->v[b->n++] = x;
    return 0;
}

typedef struct {
    int32_t rank, pos, new_id;
} mentry;

/* Scratch space reused across the pieces of one call. */
typedef struct {
    int32_t *sym, *prev, *next;
    mentry *heap;
    size_t cap, hn, hcap;
} bpe_work;

static void work_free(bpe_work *w)
{
    free(w->sym);
    free(w->prev);
    free(w->next);
    free(w->heap);
}

static int work_reserve(bpe_work *w, size_t n)
{
    if (n <= w->cap) return 0;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *s = realloc(w->sym, cap * sizeof *s);
    if (!s) return -1;
    w->sym = s;
    int32_t *p = realloc(w->prev, cap * sizeof *p);
    if (!p) return -1;
    w->prev = p;
    int32_t *q = realloc(w->next, cap * sizeof *q);
    if (!q) return -1;
    w->next = q;
    w->cap = cap;
    return 0;
}

static int less(const mentry *a, const mentry *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static int heap_push(bpe_work *w, mentry e)
{
    if (w->hn == w->hcap) {
        size_t cap = w->hcap ? w->hcap * 2 : 64;
        mentry *h = realloc(w->heap, cap * sizeof *h);
        if (!h) return -1;
        w->heap = h;
        w->hcap = cap;
    }
    size_t i = w->hn++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!less(&e, &w->heap[parent])) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = e;
    return 0;
}

static mentry heap_pop(bpe_work *w)
{
    mentry top = w->heap[0], last = w->heap[--w->hn];
    size_t i = 0, n = w->hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && less(&w->heap[c + 1], &w->heap[c])) c++;
        if (!less(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

static int push_pair(const ember_clip_tokenizer *t, bpe_work *w, int32_t pos)
{
    int32_t nid, rank = merge_find(t, w->sym[pos], w->sym[w->next[pos]], &nid);
    if (rank < 0) return 0;
    return heap_push(w, (mentry){rank, pos, nid});
}

/* BPE over one piece's bytes; appends its ids to out. */
static int bpe_piece(const ember_clip_tokenizer *t, const unsigned char *p, size_t n, bpe_work *w,
                     ibuf *out)
{
    if (n == 1) return ib_push(out, t->byte_id_w[p[0]]);
    if (n > INT32_MAX / 2 || work_reserve(w, n) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        w->sym[i] = i + 1 == n ? t->byte_id_w[p[i]] : t->byte_id[p[i]];
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 == n ? -1 : (int32_t)i + 1;
    }
    w->hn = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (push_pair(t, w, (int32_t)i) != 0) return -1;
    while (w->hn) {
        mentry top = heap_pop(w);
        int32_t pos = top.pos;
        if (w->sym[pos] < 0) continue; /* merged into its left neighbour */
        int32_t right = w->next[pos];
        if (right < 0) continue;
        int32_t nid;
        if (merge_find(t, w->sym[pos], w->sym[right], &nid) < 0 || nid != top.new_id) continue;
        w->sym[pos] = top.new_id;
        w->sym[right] = -1;
        w->next[pos] = w->next[right];
        if (w->next[right] >= 0) w->prev[w->next[right]] = pos;
        if (w->prev[pos] >= 0 && push_pair(t, w, w->prev[pos]) != 0) return -1;
        if (w->next[pos] >= 0 && push_pair(t, w, pos) != 0) return -1;
    }
    for (int32_t i = 0; i >= 0; i = w->next[i])
        if (ib_push(out, w->sym[i]) != 0) return -1;
    return 0;
}

/* ---- encoding --------------------------------------------------------- */

/* Finds the next "<|startoftext|>" or "<|endoftext|>" in s[0..end). */
static const char *find_special(const char *s, const char *end, int32_t *id, size_t *slen)
{
    for (const char *p = s; p + 13 <= end; p++) {
        p = memchr(p, '<', (size_t)(end - p));
        if (!p || p + 13 > end) return NULL;
        if ((size_t)(end - p) >= 15 && memcmp(p, "<|startoftext|>", 15) == 0) {
            *id = EMBER_CLIP_BOS;
            *slen = 15;
            return p;
        }
        if (memcmp(p, "<|endoftext|>", 13) == 0) {
            *id = EMBER_CLIP_EOS;
            *slen = 13;
            return p;
        }
    }
    return NULL;
}

/* Appends the ids of text[0..len) (NUL-free, no start/end tokens) to out,
 * stopping once out holds `limit` ids (it may hold a few more; the caller
 * cuts). The special strings are found in the normalised text unless
 * t->specials_raw, where the caller has taken them out before. */
static int encode_segment(const ember_clip_tokenizer *t, const char *text, size_t tlen, ibuf *out,
                          size_t limit, bpe_work *w, ember_err *err)
{
    char *copy = malloc(tlen + 1), *norm;
    if (!copy) return ember_err_set(err, "out of memory tokenizing a text of %zu bytes", tlen);
    memcpy(copy, text, tlen);
    copy[tlen] = '\0';
    size_t len;
    int rc = clip_normalize(copy, &norm, &len, err);
    free(copy);
    if (rc != 0) return -1;
    const char *seg = norm, *end = norm + len;
    while (seg < end && out->n < limit) {
        int32_t sid = -1;
        size_t slen = 0;
        const char *sp = t->specials_raw ? NULL : find_special(seg, end, &sid, &slen);
        const char *seg_end = sp ? sp : end;
        size_t pos = 0, start, plen, segn = (size_t)(seg_end - seg);
        while (out->n < limit && clip_next_piece(seg, segn, &pos, &start, &plen)) {
            if (bpe_piece(t, (const unsigned char *)seg + start, plen, w, out) != 0) {
                rc = ember_err_set(err, "out of memory tokenizing a text of %zu bytes", len);
                goto done;
            }
        }
        if (!sp) break;
        if (out->n < limit && ib_push(out, sid) != 0) {
            rc = ember_err_set(err, "out of memory tokenizing a text of %zu bytes", len);
            goto done;
        }
        seg = sp + slen;
    }
done:
    free(norm);
    return rc;
}

/* Appends the ids of text (no start/end tokens) to out, stopping once out
 * holds `limit` ids (it may hold a few more; the caller cuts). With
 * specials_raw the special strings are split off the text as given, and
 * each stretch between them is normalised on its own, as the tokenizers
 * library does for added tokens with normalized=false. */
static int encode_core(const ember_clip_tokenizer *t, const char *text, ibuf *out, size_t limit,
                       ember_err *err)
{
    if (!t || !text) return ember_err_set(err, "CLIP tokenizer: NULL tokenizer or text");
    size_t len = strlen(text);
    /* checked once here, so an offset in the message is the text's own */
    if (clip_check_utf8(text, len, err) != 0) return -1;
    bpe_work w = {0};
    int rc = 0;
    if (!t->specials_raw) {
        rc = encode_segment(t, text, len, out, limit, &w, err);
    } else {
        const char *seg = text, *end = text + len;
        while (rc == 0 && seg < end && out->n < limit) {
            int32_t sid = -1;
            size_t slen = 0;
            const char *sp = find_special(seg, end, &sid, &slen);
            const char *seg_end = sp ? sp : end;
            if (seg_end > seg) rc = encode_segment(t, seg, (size_t)(seg_end - seg), out, limit, &w, err);
            if (rc != 0 || !sp) break;
            if (out->n < limit && ib_push(out, sid) != 0)
                rc = ember_err_set(err, "out of memory tokenizing a text of %zu bytes", len);
            seg = sp + slen;
        }
    }
    work_free(&w);
    return rc;
}

int ember_clip_encode(const ember_clip_tokenizer *t, const char *text, int32_t **ids_out, size_t *n_out,
                      ember_err *err)
{
    if (!ids_out || !n_out) return ember_err_set(err, "ember_clip_encode: an output pointer is NULL");
    *ids_out = NULL;
    *n_out = 0;
    ibuf b = {0};
    if (encode_core(t, text, &b, SIZE_MAX, err) != 0) {
        free(b.v);
        return -1;
    }
    *ids_out = b.v;
    *n_out = b.n;
    return 0;
}

int ember_clip_tokenize(const ember_clip_tokenizer *t, const char *text, int32_t *ids, int max_len, int *n,
                        ember_err *err)
{
    if (!ids || !n) return ember_err_set(err, "ember_clip_tokenize: ids or n is NULL");
    *n = 0;
    if (max_len < 2)
        return ember_err_set(err, "CLIP tokenizer: max_len is %d; it must leave room for the start "
                                  "and end tokens (at least 2; CLIPSeg uses 77)",
                             max_len);
    ibuf b = {0};
    if (encode_core(t, text, &b, (size_t)max_len - 2, err) != 0) {
        free(b.v);
        return -1;
    }
    size_t k = b.n < (size_t)max_len - 2 ? b.n : (size_t)max_len - 2;
    ids[0] = EMBER_CLIP_BOS;
    if (k) memcpy(ids + 1, b.v, k * sizeof *ids);
    ids[k + 1] = EMBER_CLIP_EOS;
    *n = (int)k + 2;
    free(b.v);
    return 0;
}

void ember_clip_batch_free(ember_clip_batch *b)
{
    if (!b) return;
    free(b->ids);
    free(b->mask);
    free(b->eos_index);
    memset(b, 0, sizeof *b);
}

int ember_clip_tokenize_batch(const ember_clip_tokenizer *t, const char *const *texts, int k, int max_len,
                              int pad_to, ember_clip_batch *out, ember_err *err)
{
    if (!out) return ember_err_set(err, "ember_clip_tokenize_batch: out is NULL");
    memset(out, 0, sizeof *out);
    if (k < 1 || !texts) return ember_err_set(err, "CLIP tokenizer: a batch needs at least one prompt");
    if (max_len < 2 || pad_to < 0)
        return ember_err_set(err, "CLIP tokenizer: max_len %d / pad_to %d: max_len must be at least 2 "
                                  "and pad_to 0 (longest) or a length",
                             max_len, pad_to);
    int32_t *all = malloc((size_t)k * (size_t)max_len * sizeof *all);
    int *lens = malloc((size_t)k * sizeof *lens);
    if (!all || !lens) {
        free(all);
        free(lens);
        return ember_err_set(err, "out of memory tokenizing %d prompts", k);
    }
    int longest = 0;
    for (int i = 0; i < k; i++) {
        if (ember_clip_tokenize(t, texts[i], all + (size_t)i * max_len, max_len, &lens[i], err) != 0) {
            ember_err_prefix(err, "prompt %d of %d: ", i + 1, k);
            free(all);
            free(lens);
            return -1;
        }
        if (lens[i] > longest) longest = lens[i];
    }
    int len = pad_to ? pad_to : longest;
    if (len < longest) {
        free(all);
        free(lens);
        return ember_err_set(err,
                             "CLIP tokenizer: padding to %d, but a prompt has %d tokens; pad to at "
                             "least max_len (%d) or use 0 for the longest",
                             pad_to, longest, max_len);
    }
    out->ids = malloc((size_t)k * len * sizeof *out->ids);
    out->mask = malloc((size_t)k * len * sizeof *out->mask);
    out->eos_index = malloc((size_t)k * sizeof *out->eos_index);
    if (!out->ids || !out->mask || !out->eos_index) {
        ember_clip_batch_free(out);
        free(all);
        free(lens);
        return ember_err_set(err, "out of memory tokenizing %d prompts", k);
    }
    out->k = k;
    out->len = len;
    for (int i = 0; i < k; i++) {
        int32_t *row = out->ids + (size_t)i * len, *m = out->mask + (size_t)i * len;
        for (int j = 0; j < len; j++) {
            row[j] = j < lens[i] ? all[(size_t)i * max_len + j] : EMBER_CLIP_PAD;
            m[j] = j < lens[i];
        }
        int e = 0;
        while (row[e] != EMBER_CLIP_EOS) e++; /* every row ends with 49407 */
        out->eos_index[i] = e;
    }
    free(all);
    free(lens);
    return 0;
}

/* ---- decoding --------------------------------------------------------- */

/* Appends s[0..n) to dst as UTF-8, each ill-formed sequence as U+FFFD. */
static size_t lossy_utf8(const unsigned char *s, size_t n, char *dst)
{
    size_t o = 0, i = 0;
    while (i < n) {
        int32_t c;
        long k = s[i] < 0x80 ? 1 : clip_utf8_next(s + i, n - i, &c);
        if (k > 0 && s[i] != 0) {
            memcpy(dst + o, s + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
            continue;
        }
        /* one U+FFFD per maximal subpart (Unicode 15, 3.9; what Rust's
           from_utf8_lossy does): the lead byte and the following bytes
           while they still fit a well-formed sequence. A NUL byte is
           replaced too: the result is a C string. */
        unsigned char b0 = s[i];
        size_t need = b0 >= 0xC2 && b0 <= 0xDF ? 1 : b0 >= 0xE0 && b0 <= 0xEF ? 2 : b0 >= 0xF0 && b0 <= 0xF4 ? 3 : 0;
        unsigned char lo = b0 == 0xE0 ? 0xA0 : b0 == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = b0 == 0xED ? 0x9F : b0 == 0xF4 ? 0x8F : 0xBF;
        i++;
        for (size_t j = 0; j < need && i < n && s[i] >= lo && s[i] <= hi; j++) {
            i++;
            lo = 0x80;
            hi = 0xBF;
        }
        memcpy(dst + o, "\xEF\xBF\xBD", 3);
        o += 3;
    }
    return o;
}

char *ember_clip_decode(const ember_clip_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                        ember_err *err)
{
    if (!t || (!ids && n)) {
        ember_err_set(err, "ember_clip_decode: NULL tokenizer or ids");
        return NULL;
    }
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_ids || !t->tok[ids[i]]) {
            ember_err_set(err, "CLIP decode: id %d (position %zu) is not in the vocabulary", (int)ids[i], i);
            return NULL;
        }
        total += strlen(t->tok[ids[i]]);
    }
    unsigned char *bytes = malloc(total);
    char *txt = malloc(total * 3 + 1);
    if (!bytes || !txt) {
        free(bytes);
        free(txt);
        ember_err_set(err, "out of memory decoding %zu ids", n);
        return NULL;
    }
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip_special && (ids[i] == EMBER_CLIP_BOS || ids[i] == EMBER_CLIP_EOS)) continue;
        const unsigned char *s = (const unsigned char *)t->tok[ids[i]];
        size_t sl = strlen((const char *)s), j = 0;
        while (j < sl) {
            int32_t c;
            long k = s[j] < 0x80 ? (c = s[j], 1) : clip_utf8_next(s + j, sl - j, &c);
            if (k <= 0) k = 1, c = -1;
            if (c >= 0 && c < 324 && t->cp_byte[c] >= 0) {
                bytes[nb++] = (unsigned char)t->cp_byte[c];
            } else { /* not a byte-level symbol: keep its UTF-8 as is */
                memcpy(bytes + nb, s + j, (size_t)k);
                nb += (size_t)k;
            }
            j += (size_t)k;
        }
    }
    size_t o = lossy_utf8(bytes, nb, txt);
    free(bytes);
    /* "</w>" -> " ", then trim */
    size_t w = 0;
    for (size_t r = 0; r < o;) {
        if (r + 4 <= o && memcmp(txt + r, "</w>", 4) == 0) {
            txt[w++] = ' ';
            r += 4;
        } else {
            txt[w++] = txt[r++];
        }
    }
    /* trim as Python's str.strip() does: its whitespace is Unicode's
       White_Space plus U+001C..U+001F */
    size_t a = 0;
    while (a < w) {
        int32_t c = (unsigned char)txt[a];
        long k = c < 0x80 ? 1 : clip_utf8_next((const unsigned char *)txt + a, w - a, &c);
        if (k <= 0 || !(clip_is_space(c) || (c >= 0x1C && c <= 0x1F))) break;
        a += (size_t)k;
    }
    while (w > a) {
        size_t st = w - 1;
        while (st > a && ((unsigned char)txt[st] & 0xC0) == 0x80) st--;
        int32_t c = (unsigned char)txt[st];
        long k = c < 0x80 ? 1 : clip_utf8_next((const unsigned char *)txt + st, w - st, &c);
        if (k <= 0 || !(clip_is_space(c) || (c >= 0x1C && c <= 0x1F))) break;
        w = st;
    }
    memmove(txt, txt + a, w - a);
    txt[w - a] = '\0';
    return txt;
}
