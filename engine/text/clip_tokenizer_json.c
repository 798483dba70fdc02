/* clip_tokenizer_json.c — the CLIP tokenizer from a tokenizers-library
 * tokenizer.json, the one file a processor saved by transformers 5 keeps
 * (it writes no vocab.json or merges.txt). The file describes a whole
 * pipeline; Ember implements CLIP's (clip_tokenizer.h), so every stage
 * that changes ids is checked to be CLIP's and anything else is refused by
 * name rather than tokenized differently from transformers:
 *
 *   normalizer     Sequence[NFC, Replace(\s+ -> " "), Lowercase]
 *   pre_tokenizer  Sequence[Split(CLIP's pattern, Removed, invert),
 *                  ByteLevel(add_prefix_space false, use_regex true)]
 *   model          BPE with end_of_word_suffix "</w>", no
 *                  continuing_subword_prefix, no dropout, no byte
 *                  fallback, merges applied (ignore_merges false)
 *   post_processor RobertaProcessing or TemplateProcessing wrapping a
 *                  prompt in <|startoftext|> ... <|endoftext|>
 *   added_tokens   exactly <|startoftext|> 49406 and <|endoftext|> 49407,
 *                  without lstrip / rstrip / single_word; their
 *                  "normalized" flag is honoured (see specials_raw in
 *                  clip_tokenizer.c)
 *
 * Ignored, because they do not change the ids Ember feeds the model: the
 * decoder (Ember decodes as CLIP does, for display only), truncation and
 * padding (segment() truncates to the text tower's positions and pads to
 * the longest prompt, as CLIPSegProcessor is called), unk_token and
 * fuse_unk (every byte is in CLIP's vocabulary, so BPE never yields an
 * unknown token), and the file's version.
 *
 * Merges are "left right" strings (tokenizers before 0.20) or
 * ["left", "right"] pairs (0.20 and later, what transformers 5 writes). */
#include "text/clip_tokenizer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "text_internal.h"

/* CLIP's split pattern as the CLIP converter of transformers writes it. */
static const char CLIP_SPLIT[] =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

static const char *jstr(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int is_type(const json_t *obj, const char *type)
{
    const char *t = jstr(obj, "type");
    return json_is_object(obj) && t && !strcmp(t, type);
}

/* A boolean that must have one value when present (absent: the library's
 * default, which is that value). */
static int flag_is(const json_t *obj, const char *key, int want)
{
    const json_t *v = json_object_get(obj, key);
    return !v || (json_is_boolean(v) && json_is_true(v) == want);
}

/* What an object's "type" is, for messages. */
static const char *type_of(const json_t *v)
{
    const char *t = json_is_object(v) ? jstr(v, "type") : NULL;
    return t ? t : json_is_null(v) ? "null" : "not an object with a type";
}

#define NOT_CLIP "; Ember implements CLIP's tokenizer only (as CLIPTokenizer saves it)"

static int check_normalizer(const json_t *n, const char *path, ember_err *err)
{
    const json_t *list = json_object_get(n, "normalizers");
    const json_t *rep = json_array_get(list, 1), *pat = json_object_get(rep, "pattern");
    const char *re = json_is_object(pat) ? jstr(pat, "Regex") : NULL, *content = jstr(rep, "content");
    if (is_type(n, "Sequence") && json_array_size(list) == 3 && is_type(json_array_get(list, 0), "NFC") &&
        is_type(rep, "Replace") && re && !strcmp(re, "\\s+") && content && !strcmp(content, " ") &&
        is_type(json_array_get(list, 2), "Lowercase"))
        return 0;
    return ember_err_set(err,
                         "the tokenizer '%s' has another normalizer (%s) than CLIP's (NFC, whitespace "
                         "runs to one space, lower-case)" NOT_CLIP,
                         path, type_of(n));
}

static int check_pre_tokenizer(const json_t *p, const char *path, ember_err *err)
{
    const json_t *list = json_object_get(p, "pretokenizers");
    const json_t *split = json_array_get(list, 0), *bl = json_array_get(list, 1);
    const json_t *pat = json_object_get(split, "pattern");
    const char *re = json_is_object(pat) ? jstr(pat, "Regex") : NULL, *beh = jstr(split, "behavior");
    if (!is_type(p, "Sequence") || json_array_size(list) != 2 || !is_type(split, "Split") ||
        !is_type(bl, "ByteLevel"))
        return ember_err_set(err,
                             "the tokenizer '%s' splits text with another pre_tokenizer (%s) than "
                             "CLIP's (its split pattern, then byte-level)" NOT_CLIP,
                             path, type_of(p));
    if (!re || strcmp(re, CLIP_SPLIT) || !beh || strcmp(beh, "Removed") || !flag_is(split, "invert", 1) ||
        !json_object_get(split, "invert"))
        return ember_err_set(err,
                             "the tokenizer '%s': pre_tokenizer's Split is not CLIP's (pattern "
                             "\"%.80s\", behavior %s)" NOT_CLIP,
                             path, re ? re : "(not a regex)", beh ? beh : "(none)");
    if (!flag_is(bl, "add_prefix_space", 0) || !flag_is(bl, "use_regex", 1))
        return ember_err_set(err,
                             "the tokenizer '%s': pre_tokenizer's ByteLevel must have "
                             "add_prefix_space false and use_regex true, as CLIP's" NOT_CLIP,
                             path);
    return 0;
}

/* [name, id] of RobertaProcessing's cls / sep. */
static int pair_is(const json_t *pair, const char *name, int id)
{
    const json_t *s = json_array_get(pair, 0), *i = json_array_get(pair, 1);
    return json_array_size(pair) == 2 && json_is_string(s) && !strcmp(json_string_value(s), name) &&
           json_is_integer(i) && json_integer_value(i) == id;
}

/* TemplateProcessing's single template: [SpecialToken bos, Sequence A,
 * SpecialToken eos]. */
static int template_is_clip(const json_t *pp)
{
    const json_t *single = json_object_get(pp, "single");
    if (json_array_size(single) != 3) return 0;
    const json_t *a = json_object_get(json_array_get(single, 0), "SpecialToken");
    const json_t *b = json_object_get(json_array_get(single, 1), "Sequence");
    const json_t *c = json_object_get(json_array_get(single, 2), "SpecialToken");
    const char *ia = jstr(a, "id"), *ib = jstr(b, "id"), *ic = jstr(c, "id");
    return ia && ib && ic && !strcmp(ia, "<|startoftext|>") && !strcmp(ib, "A") && !strcmp(ic, "<|endoftext|>");
}

static int check_post_processor(const json_t *pp, const char *path, ember_err *err)
{
    if (is_type(pp, "RobertaProcessing") && pair_is(json_object_get(pp, "cls"), "<|startoftext|>", EMBER_CLIP_BOS) &&
        pair_is(json_object_get(pp, "sep"), "<|endoftext|>", EMBER_CLIP_EOS))
        return 0;
    if (is_type(pp, "TemplateProcessing") && template_is_clip(pp)) return 0;
    return ember_err_set(err,
                         "the tokenizer '%s': its post_processor (%s) does not wrap a prompt in "
                         "<|startoftext|> (%d) ... <|endoftext|> (%d) as CLIP's does" NOT_CLIP,
                         path, type_of(pp), EMBER_CLIP_BOS, EMBER_CLIP_EOS);
}

static int check_model(const json_t *m, const char *path, ember_err *err)
{
    if (!is_type(m, "BPE"))
        return ember_err_set(err, "the tokenizer '%s' is a %s model, not byte-level BPE" NOT_CLIP, path,
                             type_of(m));
    const char *suffix = jstr(m, "end_of_word_suffix"), *prefix = jstr(m, "continuing_subword_prefix");
    const json_t *dropout = json_object_get(m, "dropout");
    if (!suffix || strcmp(suffix, "</w>"))
        return ember_err_set(err, "the tokenizer '%s': model.end_of_word_suffix is %s%s%s, CLIP's is \"</w>\"" NOT_CLIP,
                             path, suffix ? "\"" : "", suffix ? suffix : "missing", suffix ? "\"" : "");
    if (prefix && prefix[0])
        return ember_err_set(err, "the tokenizer '%s': model.continuing_subword_prefix is \"%.40s\"; CLIP's has none" NOT_CLIP,
                             path, prefix);
    if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0))
        return ember_err_set(err, "the tokenizer '%s': model.dropout is set; BPE dropout (random merges, for "
                                  "training) is not implemented",
                             path);
    if (!flag_is(m, "byte_fallback", 0) || !flag_is(m, "ignore_merges", 0))
        return ember_err_set(err, "the tokenizer '%s': model.byte_fallback and model.ignore_merges must be "
                                  "false, as CLIP's" NOT_CLIP,
                             path);
    if (!json_is_object(json_object_get(m, "vocab")) || !json_is_array(json_object_get(m, "merges")))
        return ember_err_set(err, "the tokenizer '%s': model.vocab must be an object and model.merges a list",
                             path);
    return 0;
}

/* The two special tokens, and how they are matched. */
static int read_added_tokens(ember_clip_tokenizer *t, const json_t *added, const char *path, ember_err *err)
{
    if (!json_is_array(added))
        return ember_err_set(err, "the tokenizer '%s': added_tokens must be a list", path);
    int seen_bos = 0, seen_eos = 0, normalized = -1;
    size_t i;
    const json_t *a;
    json_array_foreach(added, i, a) {
        const char *content = jstr(a, "content");
        const json_t *id = json_object_get(a, "id");
        int is_bos = content && !strcmp(content, "<|startoftext|>"), is_eos = content && !strcmp(content, "<|endoftext|>");
        long long idv = json_is_integer(id) ? (long long)json_integer_value(id) : -1;
        if (!(is_bos && idv == EMBER_CLIP_BOS) && !(is_eos && idv == EMBER_CLIP_EOS))
            return ember_err_set(err,
                                 "the tokenizer '%s': added token %zu is \"%.60s\" (id %lld); Ember's "
                                 "CLIP tokenizer knows only <|startoftext|> (%d) and <|endoftext|> (%d)",
                                 path, i, content ? content : "(not a string)", idv, EMBER_CLIP_BOS,
                                 EMBER_CLIP_EOS);
        if (!flag_is(a, "lstrip", 0) || !flag_is(a, "rstrip", 0) || !flag_is(a, "single_word", 0))
            return ember_err_set(err,
                                 "the tokenizer '%s': added token %s has lstrip, rstrip or single_word "
                                 "set; CLIP's special tokens have none of them",
                                 path, content);
        const json_t *nv = json_object_get(a, "normalized");
        int n = nv ? json_is_true(nv) : 0; /* the library writes it; a special token's default is false */
        if (normalized >= 0 && n != normalized)
            return ember_err_set(err,
                                 "the tokenizer '%s': <|startoftext|> and <|endoftext|> differ in "
                                 "\"normalized\"; Ember needs them alike",
                                 path);
        normalized = n;
        seen_bos |= is_bos;
        seen_eos |= is_eos;
    }
    if (!seen_bos || !seen_eos)
        return ember_err_set(err, "the tokenizer '%s': added_tokens lacks %s; CLIP's has <|startoftext|> (%d) "
                                  "and <|endoftext|> (%d)",
                             path, seen_bos ? "<|endoftext|>" : "<|startoftext|>", EMBER_CLIP_BOS, EMBER_CLIP_EOS);
    clip_tok_set_specials_raw(t, normalized == 0);
    return 0;
}

static int read_merges(ember_clip_tokenizer *t, const json_t *merges, const char *path, ember_err *err)
{
    size_t n = json_array_size(merges);
    if (n == 0) return ember_err_set(err, "the tokenizer '%s' holds no merges (model.merges is empty)", path);
    if (clip_tok_merges_reserve(t, n, err) != 0) return -1;
    size_t i;
    const json_t *m;
    json_array_foreach(merges, i, m) {
        const char *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        char shown[128];
        if (json_is_string(m)) { /* "left right" */
            const char *s = json_string_value(m), *sp = strchr(s, ' ');
            size_t len = json_string_length(m);
            if (sp && sp != s && sp[1] && !strchr(sp + 1, ' ') && strlen(s) == len) {
                a = s;
                na = (size_t)(sp - s);
                b = sp + 1;
                nb = len - na - 1;
            }
            snprintf(shown, sizeof shown, "\"%.60s\"", s);
        } else if (json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) { /* ["left", "right"] */
            a = json_string_value(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            na = strlen(a);
            nb = strlen(b);
            snprintf(shown, sizeof shown, "[\"%.40s\", \"%.40s\"]", a, b);
            if (!na || !nb || na != json_string_length(json_array_get(m, 0)) ||
                nb != json_string_length(json_array_get(m, 1)))
                a = NULL;
        } else {
            snprintf(shown, sizeof shown, "a %s", json_is_array(m) ? "list that is not two strings" : "non-string");
        }
        if (!a)
            return ember_err_set(err,
                                 "the tokenizer '%s', model.merges[%zu] (%s): expected \"left right\" "
                                 "or [\"left\", \"right\"]",
                                 path, i, shown);
        int rc = clip_tok_add_merge(t, a, na, b, nb);
        if (rc < 0) return ember_err_set(err, "out of memory loading the CLIP merges");
        if (rc > 0)
            return ember_err_set(err, "the tokenizer '%s', model.merges[%zu] (%s): %s", path, i, shown,
                                 clip_tok_merge_problem(rc));
    }
    return 0;
}

ember_clip_tokenizer *ember_clip_tokenizer_load_json(const char *path, ember_err *err)
{
    if (!path) {
        ember_err_set(err, "ember_clip_tokenizer_load_json: the path is NULL");
        return NULL;
    }
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        FILE *f = fopen(path, "rb");
        if (!f)
            ember_err_set(err, "cannot open the tokenizer '%s': %s", path, strerror(errno));
        else
            ember_err_set(err, "the tokenizer '%s' is not valid JSON (line %d, column %d: %s)", path, je.line,
                          je.column, je.text);
        if (f) fclose(f);
        return NULL;
    }
    ember_clip_tokenizer *t = NULL;
    const json_t *model = json_object_get(root, "model");
    if (!json_is_object(root)) {
        ember_err_set(err, "the tokenizer '%s' must be a JSON object (the tokenizers library's tokenizer.json)", path);
        goto fail;
    }
    if (check_model(model, path, err) != 0 || check_normalizer(json_object_get(root, "normalizer"), path, err) != 0 ||
        check_pre_tokenizer(json_object_get(root, "pre_tokenizer"), path, err) != 0 ||
        check_post_processor(json_object_get(root, "post_processor"), path, err) != 0)
        goto fail;
    if (!(t = clip_tok_new(err))) goto fail;
    if (clip_tok_set_vocab(t, json_object_get(model, "vocab"), path, err) != 0 ||
        read_added_tokens(t, json_object_get(root, "added_tokens"), path, err) != 0 ||
        read_merges(t, json_object_get(model, "merges"), path, err) != 0)
        goto fail;
    json_decref(root);
    return t;
fail:
    ember_clip_tokenizer_free(t);
    json_decref(root);
    return NULL;
}
