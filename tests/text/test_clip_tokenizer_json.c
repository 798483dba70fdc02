/* test_clip_tokenizer_json.c — the CLIP tokenizer read from a
 * tokenizers-library tokenizer.json (ember_clip_tokenizer_load_json), the
 * one tokenizer file of a processor saved by transformers 5.
 *
 *   test_clip_tokenizer_json <shared data dir> <fixtures dir> <scratch dir>
 *     builds tokenizer.json from the shared vocab.json and merges.txt in
 *     the layout transformers 5 writes (tests/fixtures/README.md says how
 *     that layout was checked; the C side does not depend on the layout,
 *     only on the content), in both forms the tokenizers library has
 *     written merges ("a b" strings, ["a", "b"] pairs) and with both
 *     "normalized" flags of the special tokens, and checks the ids of every
 *     string of tests/fixtures/clip_tokens.json: normalized=true gives
 *     "ids" (what vocab.json + merges.txt give), normalized=false gives
 *     "ids_specials_raw" where the fixture records them (transformers 5's
 *     own tokenizer read back from such a file), else "ids". Exits 77
 *     when the shared data is missing.
 *   test_clip_tokenizer_json --synthetic <scratch dir>
 *     needs no shared data: a hand-made vocabulary, and a tokenizer.json of
 *     another kind refused at each stage with a message naming it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"
#include "text/clip_tokenizer.h"

static char scratch[1200];

static const char *sp(const char *name)
{
    static char bufs[4][1300];
    static int i = 0;
    char *b = bufs[i++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", scratch, name);
    return b;
}

static const char CLIP_SPLIT[] =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/* tokenizer.json as transformers 5 writes it for CLIP (the same keys and
 * values; the caller's vocab object and merges array are stolen). */
static json_t *clip_doc(json_t *vocab, json_t *merges, int normalized)
{
    json_t *added = json_array();
    const char *names[2] = {"<|startoftext|>", "<|endoftext|>"};
    for (int i = 0; i < 2; i++)
        json_array_append_new(added, json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", 49406 + i, "content",
                                               names[i], "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized",
                                               normalized, "special", 1));
    return json_pack(
        "{s:s, s:n, s:n, s:o,"
        " s:{s:s, s:[{s:s}, {s:s, s:{s:s}, s:s}, {s:s}]},"
        " s:{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]},"
        " s:{s:s, s:[s, i], s:[s, i], s:b, s:b},"
        " s:{s:s, s:b, s:b, s:b},"
        " s:{s:s, s:n, s:s, s:s, s:s, s:b, s:b, s:b, s:o, s:o}}",
        "version", "1.0", "truncation", "padding", "added_tokens", added,
        "normalizer", "type", "Sequence", "normalizers", "type", "NFC", "type", "Replace", "pattern", "Regex", "\\s+",
        "content", " ", "type", "Lowercase",
        "pre_tokenizer", "type", "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex", CLIP_SPLIT,
        "behavior", "Removed", "invert", 1, "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
        "use_regex", 1,
        "post_processor", "type", "RobertaProcessing", "sep", "<|endoftext|>", 49407, "cls", "<|startoftext|>",
        49406, "trim_offsets", 0, "add_prefix_space", 0,
        "decoder", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1,
        "model", "type", "BPE", "dropout", "unk_token", "<|endoftext|>", "continuing_subword_prefix", "",
        "end_of_word_suffix", "</w>", "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 0, "vocab", vocab,
        "merges", merges);
}

/* merges.txt's lines (after "#version") as "a b" strings or ["a", "b"] pairs. */
static json_t *merges_from_text(const char *text, int pairs)
{
    json_t *m = json_array();
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        size_t n = (size_t)(end - p);
        if (n && p[n - 1] == '\r') n--;
        if (n && strncmp(p, "#version", 8)) {
            const char *spc = memchr(p, ' ', n);
            if (pairs && spc)
                json_array_append_new(m, json_pack("[s#, s#]", p, (int)(spc - p), spc + 1, (int)(p + n - spc - 1)));
            else
                json_array_append_new(m, json_stringn(p, n));
        }
        p = nl ? nl + 1 : end;
    }
    return m;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

static int ids_equal(const int32_t *a, size_t na, const json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) != na) return 0;
    for (size_t i = 0; i < na; i++)
        if (json_integer_value(json_array_get(arr, i)) != a[i]) return 0;
    return 1;
}

/* Every fixture string; returns how many were checked. */
static int check_cases(const ember_clip_tokenizer *t, const json_t *cases, int raw, const char *what)
{
    size_t i;
    json_t *c;
    int checked = 0, raw_used = 0;
    json_array_foreach(cases, i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        const json_t *want = json_object_get(c, "ids"), *want_raw = json_object_get(c, "ids_specials_raw");
        if (raw && want_raw) {
            want = want_raw;
            raw_used++;
        }
        int32_t ids[EMBER_CLIP_CONTEXT];
        int n = 0;
        ember_err err = {{0}};
        if (ember_clip_tokenize(t, text, ids, EMBER_CLIP_CONTEXT, &n, &err) != 0) {
            CHECK(0, "%s: case %zu: %s", what, i, err.msg);
            continue;
        }
        int same = ids_equal(ids, (size_t)n, want);
        CHECK(same, "%s: case %zu: ids differ from transformers for \"%s\"", what, i, text);
        if (!same) {
            fprintf(stderr, "  mine:");
            for (int k = 0; k < n; k++) fprintf(stderr, " %d", ids[k]);
            fprintf(stderr, "\n");
        }
        checked++;
    }
    CHECK(!raw || raw_used >= 1, "%s: the fixture has no ids_specials_raw case", what);
    printf("%s: %d strings equal to transformers (%d where normalized=false changes them)\n", what, checked,
           raw_used);
    return checked;
}

static int run_fixtures(const char *shared, const char *fixtures)
{
    char vocab_path[1300], merges_path[1300], fx[1300];
    snprintf(vocab_path, sizeof vocab_path, "%s/clip-tokenizer/vocab.json", shared);
    snprintf(merges_path, sizeof merges_path, "%s/clip-tokenizer/merges.txt", shared);
    snprintf(fx, sizeof fx, "%s/clip_tokens.json", fixtures);
    struct stat st;
    if (stat(vocab_path, &st) != 0 || stat(merges_path, &st) != 0) {
        printf("SKIP: %s or %s is missing (the shared test data; set EMBER_SHARED_DATA)\n", vocab_path,
               merges_path);
        return 77;
    }
    json_error_t je;
    json_t *doc = json_load_file(fx, 0, &je);
    char *merges_text = slurp(merges_path);
    if (!doc || !merges_text) {
        fprintf(stderr, "cannot read %s or %s\n", fx, merges_path);
        return 1;
    }
    ember_err err = {{0}};
    ember_clip_tokenizer *ref = ember_clip_tokenizer_load(vocab_path, merges_path, &err);
    CHECK(ref != NULL, "vocab.json + merges.txt: %s", err.msg);
    /* (pairs, normalized=false): what transformers 5 writes for CIDAS's
     * files copied without tokenizer_config.json; (strings, true): older
     * tokenizers with CIDAS's settings. */
    static const struct {
        int pairs, normalized;
        const char *what;
    } forms[] = {{1, 0, "tokenizer.json (pairs, normalized=false)"},
                 {0, 1, "tokenizer.json (strings, normalized=true)"}};
    for (size_t f = 0; f < sizeof forms / sizeof *forms && ref; f++) {
        json_t *vocab = json_load_file(vocab_path, 0, &je);
        json_t *tj = clip_doc(vocab, merges_from_text(merges_text, forms[f].pairs), forms[f].normalized);
        const char *path = sp("tokenizer.json");
        CHECK(tj && json_dump_file(tj, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0, "writing %s", path);
        json_decref(tj);
        ember_clip_tokenizer *t = ember_clip_tokenizer_load_json(path, &err);
        CHECK(t != NULL, "%s: %s", forms[f].what, err.msg);
        if (!t) continue;
        CHECK(ember_clip_vocab_size(t) == 49408, "%s: %d tokens", forms[f].what, ember_clip_vocab_size(t));
        int differ = 0;
        for (int32_t id = 0; id < 49408; id++) {
            const char *a = ember_clip_token_str(t, id), *b = ember_clip_token_str(ref, id);
            differ += !a || !b || strcmp(a, b);
        }
        CHECK(differ == 0, "%s: %d ids name other tokens than vocab.json", forms[f].what, differ);
        CHECK(check_cases(t, json_object_get(doc, "cases"), !forms[f].normalized, forms[f].what) >= 100,
              "too few fixture strings");
        ember_clip_tokenizer_free(t);
    }
    ember_clip_tokenizer_free(ref);
    free(merges_text);
    json_decref(doc);
    return t_finish("test_clip_tokenizer_json");
}

/* ---- a hand-made vocabulary and files of another kind ------------------ */

static int b2u(int b)
{
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    int n = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= '!' && i <= '~') || (i >= 0xA1 && i <= 0xAC) || i >= 0xAE)) n++;
    return 256 + n;
}

/* The 512 byte symbols, "ca", "cat</w>", the special tokens. */
static json_t *synth_vocab(void)
{
    json_t *v = json_object();
    for (int w = 0; w < 2; w++)
        for (int b = 0; b < 256; b++) {
            int cp = b2u(b);
            char s[16];
            int n = cp < 0x80 ? (s[0] = (char)cp, 1) : (s[0] = (char)(0xC0 | (cp >> 6)), s[1] = (char)(0x80 | (cp & 0x3F)), 2);
            snprintf(s + n, sizeof s - (size_t)n, "%s", w ? "</w>" : "");
            json_object_set_new(v, s, json_integer(w * 256 + b));
        }
    json_object_set_new(v, "ca", json_integer(512));
    json_object_set_new(v, "cat</w>", json_integer(513));
    json_object_set_new(v, "<|startoftext|>", json_integer(49406));
    json_object_set_new(v, "<|endoftext|>", json_integer(49407));
    return v;
}

static json_t *synth_doc(int pairs, int normalized)
{
    return clip_doc(synth_vocab(), merges_from_text("#version: 0.2\nc a\nca t</w>\n", pairs), normalized);
}

/* The file with `edit` applied must be refused with `needle` in the message. */
static void expect_refused(void (*edit)(json_t *), const char *needle, const char *what)
{
    json_t *d = synth_doc(1, 0);
    edit(d);
    const char *path = sp("bad.json");
    json_dump_file(d, path, JSON_INDENT(1));
    json_decref(d);
    ember_err err = {{0}};
    ember_clip_tokenizer *t = ember_clip_tokenizer_load_json(path, &err);
    CHECK(t == NULL, "%s: loaded", what);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg, needle);
    CHECK(strstr(err.msg, path) != NULL && !strstr(strstr(err.msg, path) + 1, path),
          "%s: the path once: %s", what, err.msg);
    ember_clip_tokenizer_free(t);
}

static json_t *at(json_t *d, const char *a, const char *b) { return json_object_get(json_object_get(d, a), b); }
static void nfkc(json_t *d) { json_object_set_new(json_array_get(at(d, "normalizer", "normalizers"), 0), "type", json_string("NFKC")); }
static void no_lower(json_t *d) { json_array_remove(at(d, "normalizer", "normalizers"), 2); }
static void gpt2_pre(json_t *d) { json_object_set_new(d, "pre_tokenizer", json_pack("{s:s, s:b}", "type", "ByteLevel", "add_prefix_space", 0)); }
static void other_split(json_t *d)
{
    json_t *split = json_array_get(at(d, "pre_tokenizer", "pretokenizers"), 0);
    json_object_set_new(split, "pattern", json_pack("{s:s}", "Regex", "\\w+|[^\\w\\s]+"));
}
static void prefix_space(json_t *d) { json_object_set_new(json_array_get(at(d, "pre_tokenizer", "pretokenizers"), 1), "add_prefix_space", json_true()); }
static void wordpiece(json_t *d) { json_object_set_new(json_object_get(d, "model"), "type", json_string("WordPiece")); }
static void no_suffix(json_t *d) { json_object_set_new(json_object_get(d, "model"), "end_of_word_suffix", json_string("")); }
static void prefix(json_t *d) { json_object_set_new(json_object_get(d, "model"), "continuing_subword_prefix", json_string("##")); }
static void dropout(json_t *d) { json_object_set_new(json_object_get(d, "model"), "dropout", json_real(0.1)); }
static void fallback(json_t *d) { json_object_set_new(json_object_get(d, "model"), "byte_fallback", json_true()); }
static void no_post(json_t *d) { json_object_set_new(d, "post_processor", json_null()); }
static void bert_post(json_t *d) { json_object_set_new(d, "post_processor", json_pack("{s:s, s:[s, i], s:[s, i]}", "type", "BertProcessing", "sep", "[SEP]", 102, "cls", "[CLS]", 101)); }
static void extra_token(json_t *d)
{
    json_array_append_new(json_object_get(d, "added_tokens"),
                          json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", 49408, "content", "<mask>",
                                    "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1));
}
static void lstrip(json_t *d) { json_object_set_new(json_array_get(json_object_get(d, "added_tokens"), 1), "lstrip", json_true()); }
static void mixed_norm(json_t *d) { json_object_set_new(json_array_get(json_object_get(d, "added_tokens"), 1), "normalized", json_true()); }
static void one_special(json_t *d) { json_array_remove(json_object_get(d, "added_tokens"), 0); }
static void bad_merge(json_t *d) { json_array_set_new(at(d, "model", "merges"), 0, json_pack("[s, s, s]", "c", "a", "t")); }
static void unknown_merge(json_t *d) { json_array_set_new(at(d, "model", "merges"), 1, json_pack("[s, s]", "x\xc3\xa9", "q")); }
static void space_merge(json_t *d) { json_array_set_new(at(d, "model", "merges"), 0, json_string("c a t")); }
static void no_merges(json_t *d) { json_array_clear(at(d, "model", "merges")); }
static void vocab_list(json_t *d) { json_object_set_new(json_object_get(d, "model"), "vocab", json_array()); }
static void not_object(json_t *d) { json_object_clear(d); }

static int run_synthetic(void)
{
    ember_err err = {{0}};
    /* both merge forms and both flags load the same tokenizer */
    ember_clip_tokenizer *t[4] = {0};
    for (int k = 0; k < 4; k++) {
        json_t *d = synth_doc(k & 1, k >> 1);
        json_dump_file(d, sp("tok.json"), JSON_INDENT(2));
        json_decref(d);
        t[k] = ember_clip_tokenizer_load_json(sp("tok.json"), &err);
        CHECK(t[k] != NULL, "synthetic form %d: %s", k, err.msg);
    }
    for (int k = 0; k < 4 && t[k]; k++) {
        int32_t ids[16];
        int n = 0;
        OK(ember_clip_tokenize(t[k], "Cat", ids, 16, &n, &err_));
        CHECK(n == 3 && ids[1] == 513, "form %d: \"Cat\" is %d ids, id %d", k, n, ids[1]);
        /* typed exactly, the special token is one id whatever the flag */
        OK(ember_clip_tokenize(t[k], "cat<|endoftext|>cat", ids, 16, &n, &err_));
        CHECK(n == 5 && ids[1] == 513 && ids[2] == 49407 && ids[3] == 513, "form %d: special typed: n %d", k, n);
        /* normalized=false: only the text as typed counts; upper case is
         * ordinary text (split as "<|", "endoftext", "|>") */
        OK(ember_clip_tokenize(t[k], "<|ENDOFTEXT|>", ids, 16, &n, &err_));
        if (k >> 1)
            CHECK(n == 3 && ids[1] == 49407, "form %d (normalized): <|ENDOFTEXT|> is %d ids", k, n);
        else
            CHECK(n > 3 && ids[1] != 49407, "form %d (raw): <|ENDOFTEXT|> became the special token", k);
        /* each stretch between raw specials is normalised on its own */
        OK(ember_clip_tokenize(t[k], "CAT\t<|startoftext|>  T", ids, 16, &n, &err_));
        CHECK(n == 5 && ids[1] == 513 && ids[2] == 49406 && ids[3] == 256 + 't', "form %d: n %d [%d %d %d]", k, n,
              ids[1], ids[2], ids[3]);
    }
    for (int k = 0; k < 4; k++) ember_clip_tokenizer_free(t[k]);

    remove(sp("missing.json"));
    CHECK(ember_clip_tokenizer_load_json(sp("missing.json"), &err) == NULL && strstr(err.msg, "cannot open"),
          "missing: %s", err.msg);
    FILE *f = fopen(sp("trunc.json"), "w");
    if (f) {
        fputs("{\"model\": {\"type\": \"BPE\", ", f);
        fclose(f);
    }
    CHECK(ember_clip_tokenizer_load_json(sp("trunc.json"), &err) == NULL && strstr(err.msg, "not valid JSON"),
          "truncated: %s", err.msg);

    expect_refused(nfkc, "normalizer", "NFKC");
    expect_refused(no_lower, "normalizer", "no lower-casing");
    expect_refused(gpt2_pre, "pre_tokenizer (ByteLevel)", "GPT-2's pre-tokenizer");
    expect_refused(other_split, "Split is not CLIP's", "another split pattern");
    expect_refused(prefix_space, "add_prefix_space false", "add_prefix_space");
    expect_refused(wordpiece, "WordPiece model", "WordPiece");
    expect_refused(no_suffix, "end_of_word_suffix", "no </w>");
    expect_refused(prefix, "continuing_subword_prefix", "## prefix");
    expect_refused(dropout, "dropout", "BPE dropout");
    expect_refused(fallback, "byte_fallback", "byte fallback");
    expect_refused(no_post, "post_processor (null)", "no post-processor");
    expect_refused(bert_post, "post_processor (BertProcessing)", "BERT's post-processor");
    expect_refused(extra_token, "\"<mask>\"", "an extra added token");
    expect_refused(lstrip, "lstrip", "lstrip");
    expect_refused(mixed_norm, "differ in \"normalized\"", "mixed normalized");
    expect_refused(one_special, "lacks <|startoftext|>", "no <|startoftext|>");
    expect_refused(bad_merge, "model.merges[0]", "a merge of three");
    expect_refused(unknown_merge, "the left token is not in the vocabulary", "unknown merge token");
    expect_refused(space_merge, "model.merges[0]", "a string merge of three");
    expect_refused(no_merges, "holds no merges", "no merges");
    expect_refused(vocab_list, "model.vocab must be an object", "vocab as a list");
    expect_refused(not_object, "not byte-level BPE", "an empty object");
    return t_finish("test_clip_tokenizer_json --synthetic");
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
