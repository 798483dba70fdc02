/* test_clip_tokenizer.c — engine/text's CLIP tokenizer against Hugging Face.
 *
 *   test_clip_tokenizer <shared data dir> <fixtures dir> <scratch dir>
 *     ids, truncation, batches and decoding for every string of
 *     tests/fixtures/clip_tokens.json (written by gen_tokenizer_fixtures.py
 *     from transformers), with the real CLIP vocabulary; invalid UTF-8; the
 *     speed on long texts (printed, not asserted). Exits 77 (skipped) when
 *     the shared data is missing.
 *   test_clip_tokenizer --synthetic <scratch dir>
 *     needs no shared data: a tiny hand-made vocabulary checks BPE's merge
 *     order by hand, and broken vocabulary and merges files must give clear
 *     errors. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "test_util.h"
#include "text/clip_tokenizer.h"

static char scratch[1024];

static const char *sp(const char *name)
{
    static char bufs[4][1200];
    static int i = 0;
    char *b = bufs[i++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", scratch, name);
    return b;
}

static int write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fputs(s, f);
    return fclose(f);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int ids_equal(const int32_t *a, size_t na, json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) != na) return 0;
    for (size_t i = 0; i < na; i++)
        if (json_integer_value(json_array_get(arr, i)) != a[i]) return 0;
    return 1;
}

static void print_ids(const char *label, const int32_t *a, size_t n)
{
    fprintf(stderr, "  %s:", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", a[i]);
    fprintf(stderr, "\n");
}

/* ---- against Hugging Face ----------------------------------------------- */

static void test_cases(const ember_clip_tokenizer *t, json_t *cases)
{
    size_t i;
    json_t *c;
    int checked = 0, decoded = 0;
    json_array_foreach(cases, i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        json_t *want = json_object_get(c, "ids");
        int32_t ids[EMBER_CLIP_CONTEXT];
        int n = 0;
        ember_err err = {{0}};
        if (ember_clip_tokenize(t, text, ids, EMBER_CLIP_CONTEXT, &n, &err) != 0) {
            CHECK(0, "case %zu (%s): %s", i, text, err.msg);
            continue;
        }
        int same = ids_equal(ids, (size_t)n, want);
        CHECK(same, "case %zu: ids differ from transformers for \"%s\"", i, text);
        if (!same) print_ids("mine", ids, (size_t)n);
        checked++;

        /* the untruncated encoding agrees with the truncated one */
        int32_t *all = NULL;
        size_t na = 0;
        if (ember_clip_encode(t, text, &all, &na, &err) != 0) {
            CHECK(0, "case %zu: encode: %s", i, err.msg);
        } else {
            json_t *nu = json_object_get(c, "n_untruncated");
            size_t expect = nu ? (size_t)json_integer_value(nu) : (size_t)n - 2;
            CHECK(na == expect, "case %zu: encode gave %zu ids, expected %zu", i, na, expect);
            CHECK(na < 75 ? na + 2 == (size_t)n : n == EMBER_CLIP_CONTEXT, "case %zu: lengths %zu / %d", i, na,
                  n);
            CHECK(n <= 2 || memcmp(all, ids + 1, (size_t)(n - 2) * sizeof *ids) == 0,
                  "case %zu: encode and tokenize disagree on the first tokens", i);
            free(all);
        }

        /* decode(ids) as tokenizer.decode(ids, skip_special_tokens=True) */
        const char *dwant = json_string_value(json_object_get(c, "decoded"));
        char *d = ember_clip_decode(t, ids, (size_t)n, 1, &err);
        CHECK(d != NULL, "case %zu: decode: %s", i, err.msg);
        if (d && dwant) {
            CHECK(strcmp(d, dwant) == 0, "case %zu: decoded \"%s\", transformers \"%s\"", i, d, dwant);
            decoded++;
        }
        free(d);
    }
    printf("clip fixtures: %d strings tokenized, %d decoded, compared with transformers\n", checked,
           decoded);
    CHECK(checked >= 60, "only %d fixture strings", checked);
}

/* decode of arbitrary ids, with and without the special tokens */
static void test_decodes(const ember_clip_tokenizer *t, json_t *decodes)
{
    size_t i;
    json_t *d;
    int n = 0;
    json_array_foreach(decodes, i, d) {
        json_t *arr = json_object_get(d, "ids");
        int32_t ids[16];
        size_t k = json_array_size(arr);
        if (k > 16) continue;
        for (size_t j = 0; j < k; j++) ids[j] = (int32_t)json_integer_value(json_array_get(arr, j));
        for (int keep = 0; keep < 2; keep++) {
            const char *want = json_string_value(json_object_get(d, keep ? "with_special" : "text"));
            ember_err err = {{0}};
            char *got = ember_clip_decode(t, ids, k, !keep, &err);
            CHECK(got && want && strcmp(got, want) == 0, "decode %zu (specials %d): \"%s\", transformers \"%s\"", i,
                  keep, got ? got : err.msg, want ? want : "?");
            free(got);
            n++;
        }
    }
    CHECK(n >= 40, "only %d decode fixtures", n);
}

/* Shorter limits cut the text tokens and keep the end token. */
static void test_truncation(const ember_clip_tokenizer *t, json_t *cases)
{
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        json_t *want = json_object_get(c, "ids");
        size_t nw = json_array_size(want);
        if (nw < 8) continue;
        const char *text = json_string_value(json_object_get(c, "text"));
        for (int max_len = 2; max_len <= 6; max_len++) {
            int32_t ids[8];
            int n = 0;
            OK(ember_clip_tokenize(t, text, ids, max_len, &n, &err_));
            CHECK(n == max_len, "max_len %d gave %d ids", max_len, n);
            CHECK(ids[0] == EMBER_CLIP_BOS && ids[n - 1] == EMBER_CLIP_EOS, "max_len %d: not wrapped", max_len);
            for (int j = 1; j < n - 1; j++)
                CHECK(ids[j] == json_integer_value(json_array_get(want, (size_t)j)),
                      "max_len %d: id %d differs for \"%.30s\"", max_len, j, text);
        }
    }
    int32_t ids[4];
    int n = 7;
    ember_err err = {{0}};
    CHECK(ember_clip_tokenize(t, "a cat", ids, 1, &n, &err) == -1 && strstr(err.msg, "max_len"),
          "max_len 1 accepted (%s)", err.msg);
}

static void test_batches(const ember_clip_tokenizer *t, json_t *batches)
{
    size_t bi;
    json_t *b;
    json_array_foreach(batches, bi, b) {
        json_t *texts = json_object_get(b, "texts");
        int k = (int)json_array_size(texts);
        const char *tx[8];
        for (int i = 0; i < k && i < 8; i++) tx[i] = json_string_value(json_array_get(texts, (size_t)i));
        for (int fixed = 0; fixed < 2; fixed++) {
            json_t *wid = json_object_get(b, fixed ? "input_ids_77" : "input_ids");
            json_t *wmask = json_object_get(b, fixed ? "attention_mask_77" : "attention_mask");
            ember_clip_batch out;
            ember_err err = {{0}};
            if (ember_clip_tokenize_batch(t, tx, k, EMBER_CLIP_CONTEXT, fixed ? EMBER_CLIP_CONTEXT : 0, &out,
                                          &err) != 0) {
                CHECK(0, "batch %zu: %s", bi, err.msg);
                continue;
            }
            CHECK(out.k == k, "batch %zu: k %d", bi, out.k);
            int len = (int)json_array_size(json_array_get(wid, 0));
            CHECK(out.len == len, "batch %zu fixed %d: padded to %d, transformers %d", bi, fixed, out.len, len);
            for (int i = 0; i < k && out.len == len; i++) {
                const int32_t *row = out.ids + (size_t)i * len, *m = out.mask + (size_t)i * len;
                CHECK(ids_equal(row, (size_t)len, json_array_get(wid, (size_t)i)), "batch %zu row %d: ids", bi, i);
                CHECK(ids_equal(m, (size_t)len, json_array_get(wmask, (size_t)i)), "batch %zu row %d: mask", bi,
                      i);
                /* the pooling position is torch's argmax(ids): the first maximum */
                int am = 0;
                for (int j = 1; j < len; j++)
                    if (row[j] > row[am]) am = j;
                CHECK(out.eos_index[i] == am, "batch %zu row %d: eos_index %d, argmax %d", bi, i,
                      out.eos_index[i], am);
            }
            ember_clip_batch_free(&out);
        }
    }
    /* padding shorter than a prompt is refused; so is an empty batch */
    const char *tx[2] = {"a cat", "a remote control"};
    ember_clip_batch out;
    ember_err err = {{0}};
    CHECK(ember_clip_tokenize_batch(t, tx, 2, 77, 4, &out, &err) == -1 && strstr(err.msg, "padding to 4"),
          "pad_to 4 accepted (%s)", err.msg);
    CHECK(out.ids == NULL, "failed batch left arrays");
    CHECK(ember_clip_tokenize_batch(t, tx, 0, 77, 0, &out, &err) == -1, "empty batch accepted");
    const char *bad[2] = {"a cat", "bad \xff byte"};
    CHECK(ember_clip_tokenize_batch(t, bad, 2, 77, 0, &out, &err) == -1 && strstr(err.msg, "prompt 2 of 2"),
          "invalid prompt in a batch: %s", err.msg);
}

static void test_invalid_utf8(const ember_clip_tokenizer *t)
{
    static const struct {
        const char *s;
        size_t offset;
    } bad[] = {
        {"\xff", 0},
        {"abc\x80", 3},                /* lone continuation byte */
        {"caf\xc3", 3},                /* truncated sequence */
        {"x\xe2\x82", 1},              /* truncated three-byte sequence */
        {"\xc0\xaf", 0},               /* overlong '/' */
        {"ok \xe0\x80\xaf", 3},        /* overlong, three bytes */
        {"\xed\xa0\x80", 0},           /* UTF-16 surrogate */
        {"a cat \xf4\x90\x80\x80", 6}, /* above U+10FFFF */
        {"\xf8\x88\x80\x80\x80", 0},   /* five-byte form */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t ids[77];
        int n = 5;
        ember_err err = {{0}};
        int rc = ember_clip_tokenize(t, bad[i].s, ids, 77, &n, &err);
        char where[64];
        snprintf(where, sizeof where, "offset %zu", bad[i].offset);
        CHECK(rc == -1 && strstr(err.msg, "not valid UTF-8") && strstr(err.msg, where),
              "invalid UTF-8 case %zu: rc %d, \"%s\"", i, rc, err.msg);
        CHECK(n == 0, "invalid UTF-8 case %zu: n = %d", i, n);
        int32_t *all = (int32_t *)1;
        size_t na = 9;
        CHECK(ember_clip_encode(t, bad[i].s, &all, &na, &err) == -1 && all == NULL && na == 0,
              "encode accepted invalid UTF-8 case %zu", i);
    }
    ember_err err = {{0}};
    int32_t bad_id = 60000;
    CHECK(ember_clip_decode(t, &bad_id, 1, 0, &err) == NULL && strstr(err.msg, "60000"),
          "decode of id 60000: %s", err.msg);
    char *s = ember_clip_decode(t, (const int32_t[]){49406, 2368, 49407}, 3, 0, &err);
    CHECK(s && strcmp(s, "<|startoftext|>cat <|endoftext|>") == 0, "decode with specials: %s", s ? s : err.msg);
    free(s);
    CHECK(ember_clip_token_str(t, 2368) && strcmp(ember_clip_token_str(t, 2368), "cat</w>") == 0,
          "token 2368 is not cat</w>");
    CHECK(ember_clip_token_str(t, -1) == NULL && ember_clip_token_str(t, 49408) == NULL, "token_str range");
}

/* Tokens per second on long inputs: printed for the report, not asserted
 * beyond finishing and agreeing with a piecewise encoding. */
static void test_speed(const ember_clip_tokenizer *t, json_t *cases)
{
    const char *para = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        if (json_object_get(c, "n_untruncated") && strlen(json_string_value(json_object_get(c, "text"))) > 1000)
            para = json_string_value(json_object_get(c, "text"));
    }
    CHECK(para != NULL, "no long paragraph among the fixtures");
    if (!para) return;
    size_t pl = strlen(para), reps = 100 * 1024 / (pl + 1) + 1;
    char *big = malloc(reps * (pl + 1) + 1);
    char *word = malloc(100 * 1024 + 1);
    char *uni = malloc(100 * 1024 + 8);
    if (!big || !word || !uni) {
        CHECK(0, "out of memory");
        free(big), free(word), free(uni);
        return;
    }
    for (size_t r = 0; r < reps; r++) {
        memcpy(big + r * (pl + 1), para, pl);
        big[r * (pl + 1) + pl] = ' ';
    }
    big[reps * (pl + 1)] = '\0';
    /* one 100 KB "word": BPE over a single very long symbol sequence */
    for (size_t j = 0; j < 100 * 1024; j++) word[j] = "abcdefghijklmnopqrstuvwxyz"[(j * 7 + j / 26) % 26];
    word[100 * 1024] = '\0';
    /* mixed scripts, accents, emoji */
    static const char *bits[] = {"caf\xc3\xa9 ", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e ", "\xf0\x9f\x90\x88 ",
                                 "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 ", "CAFE\xcc\x81 ", "42 "};
    size_t u = 0;
    for (size_t j = 0; u < 100 * 1024; j++) {
        const char *b = bits[j % 6];
        memcpy(uni + u, b, strlen(b));
        u += strlen(b);
    }
    uni[u] = '\0';
    const char *texts[3] = {big, word, uni};
    const char *names[3] = {"English prose", "one long word", "mixed scripts"};
    for (int k = 0; k < 3; k++) {
        int32_t *ids = NULL;
        size_t n = 0;
        ember_err err = {{0}};
        double t0 = now();
        int rc = ember_clip_encode(t, texts[k], &ids, &n, &err);
        double dt = now() - t0;
        CHECK(rc == 0 && n > 0, "%s: %s", names[k], err.msg);
        printf("clip speed: %s, %zu bytes -> %zu tokens in %.1f ms: %.2f M tokens/s, %.1f MB/s\n", names[k],
               strlen(texts[k]), n, dt * 1e3, (double)n / dt / 1e6, (double)strlen(texts[k]) / dt / 1e6);
        if (k == 0 && rc == 0) {
            /* the prose repeated reps times is the paragraph's ids reps times */
            int32_t *one = NULL;
            size_t n1 = 0;
            OK(ember_clip_encode(t, para, &one, &n1, &err_));
            CHECK(n == n1 * reps, "prose: %zu tokens, expected %zu x %zu", n, n1, reps);
            for (size_t j = 0; one && j < n && n == n1 * reps; j++)
                if (ids[j] != one[j % n1]) {
                    CHECK(0, "prose: token %zu differs", j);
                    break;
                }
            free(one);
        }
        /* truncated tokenization stops early: a long text costs what 75 tokens cost */
        int32_t tr[77];
        int nt = 0;
        t0 = now();
        OK(ember_clip_tokenize(t, texts[k], tr, 77, &nt, &err_));
        double dt2 = now() - t0;
        CHECK(nt == 77 && (k == 1 || memcmp(tr + 1, ids, 75 * sizeof *ids) == 0), "%s: truncated ids", names[k]);
        printf("clip speed: %s, tokenize(max_len 77): %.2f ms\n", names[k], dt2 * 1e3);
        free(ids);
    }
    free(big);
    free(word);
    free(uni);
}

/* OpenAI's bpe_simple_vocab_16e6.txt.gz gives the same vocabulary and ids. */
static void test_openai_file(const ember_clip_tokenizer *t, const char *shared, json_t *cases)
{
    char gz[1200];
    snprintf(gz, sizeof gz, "%s/clip-tokenizer/bpe_simple_vocab_16e6.txt.gz", shared);
    ember_err err = {{0}};
    ember_clip_tokenizer *o = ember_clip_tokenizer_load_openai(gz, &err);
    CHECK(o != NULL, "load_openai: %s", err.msg);
    if (!o) return;
    CHECK(ember_clip_vocab_size(o) == 49408, "openai vocabulary of %d tokens", ember_clip_vocab_size(o));
    int differ = 0;
    for (int32_t id = 0; id < 49408; id++) {
        const char *a = ember_clip_token_str(t, id), *b = ember_clip_token_str(o, id);
        if (!a || !b || strcmp(a, b) != 0) differ++;
    }
    CHECK(differ == 0, "%d ids name different tokens in vocab.json and the OpenAI file", differ);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        int32_t ids[EMBER_CLIP_CONTEXT];
        int n = 0;
        OK(ember_clip_tokenize(o, json_string_value(json_object_get(c, "text")), ids, EMBER_CLIP_CONTEXT, &n, &err_));
        CHECK(ids_equal(ids, (size_t)n, json_object_get(c, "ids")), "openai file: case %zu differs", i);
    }
    ember_clip_tokenizer_free(o);
    printf("clip: OpenAI's bpe_simple_vocab_16e6.txt.gz gives the same vocabulary and ids\n");
}

static int run_fixtures(const char *shared, const char *fixtures)
{
    char vocab[1200], merges[1200], fx[1200];
    snprintf(vocab, sizeof vocab, "%s/clip-tokenizer/vocab.json", shared);
    snprintf(merges, sizeof merges, "%s/clip-tokenizer/merges.txt", shared);
    snprintf(fx, sizeof fx, "%s/clip_tokens.json", fixtures);
    struct stat st;
    if (stat(vocab, &st) != 0 || stat(merges, &st) != 0) {
        printf("SKIP: %s or %s is missing (the shared test data; set EMBER_SHARED_DATA)\n", vocab, merges);
        return 77;
    }
    json_error_t je;
    json_t *doc = json_load_file(fx, 0, &je);
    if (!doc) {
        fprintf(stderr, "cannot read %s: %s (line %d)\n", fx, je.text, je.line);
        return 1;
    }
    ember_err err = {{0}};
    double t0 = now();
    ember_clip_tokenizer *t = ember_clip_tokenizer_load(vocab, merges, &err);
    double dt = now() - t0;
    CHECK(t != NULL, "load: %s", err.msg);
    if (t) {
        printf("clip tokenizer loaded in %.1f ms\n", dt * 1e3);
        CHECK(ember_clip_vocab_size(t) == 49408, "vocabulary of %d tokens", ember_clip_vocab_size(t));
        test_cases(t, json_object_get(doc, "cases"));
        test_truncation(t, json_object_get(doc, "cases"));
        test_batches(t, json_object_get(doc, "batches"));
        test_decodes(t, json_object_get(doc, "decodes"));
        test_invalid_utf8(t);
        test_speed(t, json_object_get(doc, "cases"));
        test_openai_file(t, shared, json_object_get(doc, "cases"));
    }
    ember_clip_tokenizer_free(t);
    json_decref(doc);
    return t_finish("test_clip_tokenizer");
}

/* ---- a hand-made vocabulary ------------------------------------------- */

/* GPT-2's bytes-to-unicode table, written out independently of the library. */
static int b2u(int b)
{
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    int n = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= '!' && i <= '~') || (i >= 0xA1 && i <= 0xAC) || i >= 0xAE)) n++;
    return 256 + n;
}

/* A vocabulary of the 512 byte symbols (ids 0-511), `extra` tokens from 512
 * on, and the two special tokens, as JSON; leaves out byte `skip` (-1: none). */
static char *synth_vocab(const char *const *extra, int n_extra, int skip)
{
    size_t cap = 64 * 1024, o = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    o += (size_t)snprintf(s + o, cap - o, "{");
    for (int w = 0; w < 2; w++)
        for (int b = 0; b < 256; b++) {
            if (b == skip) continue;
            int cp = b2u(b);
            char ch[8];
            if (b == '"' || b == '\\') snprintf(ch, sizeof ch, "\\%c", b);
            else if (cp < 0x80) snprintf(ch, sizeof ch, "%c", cp);
            else snprintf(ch, sizeof ch, "%c%c", 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F));
            o += (size_t)snprintf(s + o, cap - o, "\"%s%s\": %d, ", ch, w ? "</w>" : "", w * 256 + b);
        }
    for (int i = 0; i < n_extra; i++) o += (size_t)snprintf(s + o, cap - o, "\"%s\": %d, ", extra[i], 512 + i);
    snprintf(s + o, cap - o, "\"<|startoftext|>\": 49406, \"<|endoftext|>\": 49407}");
    return s;
}

static void expect_load_error(const char *vocab_text, const char *merges_text, const char *needle, const char *what)
{
    const char *v = sp("v.json"), *m = sp("m.txt");
    if (vocab_text) write_text(v, vocab_text);
    else remove(v);
    if (merges_text) write_text(m, merges_text);
    else remove(m);
    ember_err err = {{0}};
    ember_clip_tokenizer *t = ember_clip_tokenizer_load(v, m, &err);
    CHECK(t == NULL, "%s: loaded", what);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg, needle);
    ember_clip_tokenizer_free(t);
}

static int run_synthetic(void)
{
    static const char *const extra[] = {"ca", "cat</w>", "at</w>", "aa", "aaa", "aaaa</w>", "aa</w>", "ab", "abc</w>", "bc</w>"};
    const int ne = (int)(sizeof extra / sizeof extra[0]);
    char *vocab = synth_vocab(extra, ne, -1);
    CHECK(vocab != NULL, "out of memory");
    if (!vocab) return t_finish("test_clip_tokenizer --synthetic");
    /* rank order: "a a" before "aa a"; "b c</w>" (rank 5) before "a b" (rank 6),
       so "abc" is a + bc</w> -> no merge "a bc</w>" -> stays two tokens */
    const char *merges = "#version: 0.2\n"
                         "c a\n"
                         "ca t</w>\n"
                         "a a\n"
                         "aa a\n"
                         "a t</w>\n"
                         "b c</w>\n"
                         "a b\n"
                         "ab c</w>\n"
                         "aa aa</w>\n"
                         "a a</w>\n";
    /* "aa aa</w>" needs "aaaa</w>" and "aa</w>" from "a a</w>" (rank 9) */
    write_text(sp("v.json"), vocab);
    write_text(sp("m.txt"), merges);
    ember_err err = {{0}};
    ember_clip_tokenizer *t = ember_clip_tokenizer_load(sp("v.json"), sp("m.txt"), &err);
    CHECK(t != NULL, "synthetic load: %s", err.msg);
    if (t) {
        CHECK(ember_clip_vocab_size(t) == 512 + ne + 2, "vocab size %d", ember_clip_vocab_size(t));
        static const struct {
            const char *text;
            const char *toks[6];
        } cases[] = {
            {"cat", {"cat</w>"}},
            {"CAT", {"cat</w>"}},
            {"at", {"at</w>"}},
            {"abc", {"a", "bc</w>"}},        /* b c</w> outranks a b */
            {"aaaa", {"aaa", "a</w>"}},      /* a a, then aa a, then nothing for aaa a</w> */
            {"aa", {"aa</w>"}},              /* a a</w> is the only merge that applies */
            {"ca at", {"c", "a</w>", "at</w>"}}, /* no merge "c a</w>" */
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            int32_t *ids = NULL;
            size_t n = 0;
            OK(ember_clip_encode(t, cases[i].text, &ids, &n, &err_));
            size_t k = 0, want_n = 0;
            const char *const *want = cases[i].toks;
            while (want_n < 6 && want[want_n]) want_n++;
            CHECK(n == want_n, "synthetic \"%s\": %zu tokens, expected %zu", cases[i].text, n, want_n);
            for (k = 0; k < n && k < want_n; k++) {
                const char *got = ember_clip_token_str(t, ids[k]);
                CHECK(got && strcmp(got, want[k]) == 0, "synthetic \"%s\" token %zu: %s, expected %s", cases[i].text,
                      k, got ? got : "?", want[k]);
            }
            free(ids);
        }
        char *d = ember_clip_decode(t, (const int32_t[]){49406, 513, 512, 256 + 'a', 49407}, 5, 1,
                                    &err);
        CHECK(d && strcmp(d, "cat caa") == 0, "synthetic decode: \"%s\"", d ? d : err.msg);
        free(d);
    }
    ember_clip_tokenizer_free(t);

    /* broken files */
    char *no_z = synth_vocab(extra, ne, 'z');
    expect_load_error(NULL, merges, "cannot open the CLIP vocabulary", "missing vocab.json");
    expect_load_error(vocab, NULL, "cannot open the CLIP merges", "missing merges.txt");
    expect_load_error("{\"a\": 1, \"b\": ", merges, "not valid JSON", "truncated vocab.json");
    expect_load_error("[1, 2, 3]", merges, "non-empty JSON object", "vocab.json as an array");
    expect_load_error("{}", merges, "non-empty JSON object", "empty vocab.json");
    expect_load_error("{\"a\": \"1\"}", merges, "not an integer", "string id");
    expect_load_error("{\"a\": -3}", merges, "out of range", "negative id");
    expect_load_error("{\"a\": 1, \"a\": 2}", merges, "not valid JSON", "duplicate key");
    expect_load_error("{\"a\": 1, \"b\": 1}", merges, "belongs to two tokens", "duplicate id");
    if (no_z) expect_load_error(no_z, merges, "lacks the byte-level symbol \"z\"", "missing byte symbol");
    expect_load_error(vocab, "#version: 0.2\nc a\nca\nca t</w>\n", "line 3 (\"ca\")", "merge without a space");
    expect_load_error(vocab, "#version: 0.2\nc a t\n", "two tokens separated by one space", "three parts");
    expect_load_error(vocab, "#version: 0.2\n\nc a\n", "line 2", "empty line");
    expect_load_error(vocab, "#version: 0.2\n c\n", "line 2", "leading space");
    expect_load_error(vocab, "#version: 0.2\nc a\nx\xc3\xa9 q\n", "the left token is not in the vocabulary",
                      "unknown left token");
    expect_load_error(vocab, "#version: 0.2\nc b\n", "the merged token is not in the vocabulary",
                      "merge result missing");
    expect_load_error(vocab, "#version: 0.2\n", "hold no merges", "no merges");
    free(no_z);
    /* OpenAI's file format: missing, not CLIP's, too short */
    ember_err e2 = {{0}};
    remove(sp("bpe.txt.gz"));
    CHECK(ember_clip_tokenizer_load_openai(sp("bpe.txt.gz"), &e2) == NULL && strstr(e2.msg, "cannot open"),
          "missing OpenAI file: %s", e2.msg);
    write_text(sp("bpe.txt.gz"), "just one line");
    CHECK(ember_clip_tokenizer_load_openai(sp("bpe.txt.gz"), &e2) == NULL && strstr(e2.msg, "not CLIP's"),
          "one-line OpenAI file: %s", e2.msg);
    write_text(sp("bpe.txt.gz"), "title\ni n\nt h\n");
    CHECK(ember_clip_tokenizer_load_openai(sp("bpe.txt.gz"), &e2) == NULL && strstr(e2.msg, "hold 2 merges"),
          "short OpenAI file: %s", e2.msg);
    /* Windows line ends and a file without a final newline load */
    write_text(sp("v.json"), vocab);
    write_text(sp("m.txt"), "#version: 0.2\r\nc a\r\nca t</w>");
    t = ember_clip_tokenizer_load(sp("v.json"), sp("m.txt"), &err);
    CHECK(t != NULL, "CRLF merges: %s", err.msg);
    if (t) {
        int32_t ids[4];
        int n = 0;
        OK(ember_clip_tokenize(t, "Cat", ids, 4, &n, &err_));
        CHECK(n == 3 && ids[1] == 513, "CRLF merges: n %d id %d", n, ids[1]);
    }
    ember_clip_tokenizer_free(t);
    free(vocab);
    return t_finish("test_clip_tokenizer --synthetic");
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--synthetic") == 0) {
        snprintf(scratch, sizeof scratch, "%s", argv[2]);
        mkdir(scratch, 0755);
        return run_synthetic();
    }
    if (argc != 4) {
        fprintf(stderr, "usage: %s <shared data dir> <fixtures dir> <scratch dir>\n"
                        "       %s --synthetic <scratch dir>\n",
                argv[0], argv[0]);
        return 2;
    }
    snprintf(scratch, sizeof scratch, "%s", argv[3]);
    mkdir(scratch, 0755);
    return run_fixtures(argv[1], argv[2]);
}
