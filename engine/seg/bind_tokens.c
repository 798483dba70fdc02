/* bind_tokens.c — tokenize(model, text): the ids a segmenter's CLIP
 * tokenizer gives, exactly as segment() feeds them to the text tower
 * (<|startoftext|> ... <|endoftext|>, truncated to the tower's positions,
 * several prompts padded with <|endoftext|> to the longest), shown as a
 * small table of ids, vocabulary tokens and the text each stands for, so a
 * user can compare them with CLIPTokenizer's and see how a prompt was cut. */
#include "seg/segmenter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seg_tokens {
    int k, len;   /* prompts; ids per row (the longest, when padded) */
    int single;   /* text was one string: attributes are flat lists */
    int32_t *ids; /* k * len, padded with EMBER_CLIP_PAD */
    int *n;       /* k: ids before the padding */
    int *eos;     /* k: where the text tower pools (the first <|endoftext|>) */
    char **texts; /* k */
    char **tokens; /* k * len: vocabulary strings ("cat</w>"), as convert_ids_to_tokens */
    char **pieces; /* k * len: the text of each id alone ("cat"), as decode([id]) */
} seg_tokens;

static void tokens_free(void *data)
{
    seg_tokens *t = data;
    for (int i = 0; t->texts && i < t->k; i++)
        free(t->texts[i]);
    for (size_t i = 0; i < (size_t)t->k * (size_t)t->len; i++) {
        if (t->pieces)
            free(t->pieces[i]);
        if (t->tokens)
            free(t->tokens[i]);
    }
    free(t->texts);
    free(t->pieces);
    free(t->tokens);
    free(t->ids);
    free(t->n);
    free(t->eos);
    free(t);
}

static const seg_tokens *tokens_of(const lang_value *v) { return v->as.obj.data; }

/* Code points, for column widths. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* s with control characters as their Unicode pictures (U+2400 + c, U+2421
 * for DEL), so a piece such as "\x01" cannot break the table's lines. */
static void add_visible(lang_strbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) {
            unsigned cp = c == 0x7f ? 0x2421 : 0x2400 + c;
            char u[4] = {(char)(0xE0 | (cp >> 12)), (char)(0x80 | ((cp >> 6) & 0x3F)), (char)(0x80 | (cp & 0x3F)), 0};
            lang_sb_adds(b, u);
        } else {
            lang_sb_add(b, s, 1);
        }
    }
}

static void pad(lang_strbuf *b, size_t n)
{
    while (n--)
        lang_sb_adds(b, " ");
}

/* One prompt's line above its table. */
static void caption(lang_strbuf *b, const seg_tokens *t, int r, int html)
{
    lang_value *sv = lang_cstr(t->texts[r]); /* quoted as the language shows a str */
    char *q = sv ? lang_repr(sv) : NULL;
    if (sv)
        lang_decref(sv);
    const char *text = q ? q : "?";
    char tail[96];
    snprintf(tail, sizeof tail, ": %d ids, pooled at %d", t->n[r], t->eos[r]);
    if (html) {
        lang_sb_html(b, text);
        lang_sb_html(b, tail);
    } else {
        add_visible(b, text);
        lang_sb_adds(b, tail);
    }
    free(q);
}

static char *tokens_repr(const lang_value *self)
{
    const seg_tokens *t = tokens_of(self);
    lang_strbuf b = {0};
    if (t->k > 1)
        lang_sb_addf(&b, "tokens of %d prompts, padded with %d to %d ids as segment() feeds them\n", t->k,
                     EMBER_CLIP_PAD, t->len);
    for (int r = 0; r < t->k; r++) {
        if (r)
            lang_sb_adds(&b, "\n\n");
        lang_sb_adds(&b, "tokens of ");
        caption(&b, t, r, 0);
        size_t wt = 5, wi = 5; /* "token", "id" right-aligned in 5 */
        for (int j = 0; j < t->n[r]; j++) {
            size_t x = width(t->tokens[(size_t)r * t->len + j]);
            wt = x > wt ? x : wt;
        }
        lang_sb_addf(&b, "\n%4s  %*s  %s", "pos", (int)wi, "id", "token");
        pad(&b, wt - 5);
        lang_sb_adds(&b, "  piece");
        for (int j = 0; j < t->n[r]; j++) {
            size_t at = (size_t)r * t->len + j;
            lang_sb_addf(&b, "\n%4d  %*d  ", j, (int)wi, (int)t->ids[at]);
            add_visible(&b, t->tokens[at]);
            pad(&b, wt - width(t->tokens[at]));
            lang_sb_adds(&b, "  ");
            add_visible(&b, t->pieces[at]);
        }
    }
    return lang_sb_take(&b);
}

static json_t *tokens_mime(const lang_value *self)
{
    const seg_tokens *t = tokens_of(self);
    lang_strbuf b = {0};
    lang_sb_adds(&b, "<div class=\"ember-tokens\">");
    if (t->k > 1)
        lang_sb_addf(&b, "<p>%d prompts, padded with %d to %d ids as segment() feeds them</p>", t->k,
                     EMBER_CLIP_PAD, t->len);
    for (int r = 0; r < t->k; r++) {
        lang_sb_adds(&b, "<table class=\"ember-table\"><caption>");
        caption(&b, t, r, 1);
        lang_sb_adds(&b, "</caption><thead><tr><th style=\"text-align:right\">pos</th>"
                         "<th style=\"text-align:right\">id</th><th style=\"text-align:left\">token</th>"
                         "<th style=\"text-align:left\">piece</th></tr></thead><tbody>");
        for (int j = 0; j < t->n[r]; j++) {
            size_t at = (size_t)r * t->len + j;
            lang_sb_addf(&b, "<tr><td style=\"text-align:right\">%d</td><td style=\"text-align:right\">%d</td>"
                             "<td style=\"text-align:left\"><code>", j, (int)t->ids[at]);
            lang_sb_html(&b, t->tokens[at]);
            lang_sb_adds(&b, "</code></td><td style=\"text-align:left\">");
            lang_sb_html(&b, t->pieces[at]);
            lang_sb_adds(&b, "</td></tr>");
        }
        lang_sb_adds(&b, "</tbody></table>");
    }
    lang_sb_adds(&b, "</div>");
    return lang_sb_html_bundle(&b);
}

/* Row r of a k * len table of ints or strings, as a list. */
static lang_value *row_list(const seg_tokens *t, int r, int which)
{
    lang_value *l = lang_list_new((size_t)t->len);
    if (!l)
        return NULL;
    for (int j = 0; j < t->len; j++) {
        size_t at = (size_t)r * t->len + j;
        lang_value *x = which == 0 ? lang_int(t->ids[at]) : lang_cstr(which == 1 ? t->tokens[at] : t->pieces[at]);
        if (!x) {
            lang_decref(l);
            return NULL;
        }
        lang_list_set(l, (size_t)j, x);
    }
    return l;
}

/* A flat list for one prompt, a list of rows for several. */
static lang_value *table_list(const seg_tokens *t, int which)
{
    if (t->single)
        return row_list(t, 0, which);
    lang_value *l = lang_list_new((size_t)t->k);
    if (!l)
        return NULL;
    for (int r = 0; r < t->k; r++) {
        lang_value *x = row_list(t, r, which);
        if (!x) {
            lang_decref(l);
            return NULL;
        }
        lang_list_set(l, (size_t)r, x);
    }
    return l;
}

static lang_value *tokens_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    const seg_tokens *t = tokens_of(self);
    lang_value *v = NULL;
    if (!strcmp(name, "ids"))
        v = table_list(t, 0);
    else if (!strcmp(name, "tokens"))
        v = table_list(t, 1);
    else if (!strcmp(name, "pieces"))
        v = table_list(t, 2);
    else if (!strcmp(name, "text") && t->single)
        v = lang_cstr(t->texts[0]);
    else if (!strcmp(name, "text")) {
        v = lang_list_new((size_t)t->k);
        for (int r = 0; v && r < t->k; r++) {
            lang_value *s = lang_cstr(t->texts[r]);
            if (!s) {
                lang_decref(v);
                v = NULL;
                break;
            }
            lang_list_set(v, (size_t)r, s);
        }
    } else
        return NULL;
    return v ? v : lang_raise(cx, "MemoryError", "tokens.%s: out of memory", name);
}

static void tokens_attr_names(const lang_value *self, void (*add)(void *acc, const char *name), void *acc)
{
    (void)self;
    add(acc, "ids");
    add(acc, "tokens");
    add(acc, "pieces");
    add(acc, "text");
}

static const lang_type seg_tokens_type = {
    .name = "tokens",
    .doc = "tokens: the CLIP token ids of one prompt or several, as segment() feeds them to the "
           "model, made by tokenize(model, text). Shown as a table of ids, vocabulary tokens and the "
           "text of each. Attributes: ids (a list of ints; for several prompts a list of rows padded "
           "with 49407 to the longest), tokens (the vocabulary strings, as CLIPTokenizer's "
           "convert_ids_to_tokens), pieces (the text of each id), text.",
    .free = tokens_free,
    .repr = tokens_repr,
    .mime = tokens_mime,
    .getattr = tokens_getattr,
    .attr_names = tokens_attr_names,
};

static lang_value *b_tokenize(lang_ctx *cx, const lang_args *a)
{
    int max_len = 0;
    const ember_clip_tokenizer *tok = seg_model_tokenizer(a->v[0], &max_len);
    if (!tok)
        return lang_arg_error(cx, a, 0, "TypeError", "a segmenter from clipseg()");
    const char *texts[SEG_MAX_PROMPTS];
    int k = 0;
    if (seg_read_prompts(cx, a, 1, texts, &k, 1) != 0)
        return NULL;
    ember_clip_batch batch;
    ember_err err;
    ember_err_clear(&err);
    if (ember_clip_tokenize_batch(tok, texts, k, max_len, 0, &batch, &err) != 0)
        return lang_raise(cx, "ValueError", "tokenize: %s", err.msg);
    seg_tokens *t = calloc(1, sizeof *t);
    size_t cells = (size_t)batch.k * (size_t)batch.len;
    if (!t)
        goto oom;
    t->k = batch.k;
    t->len = batch.len;
    t->single = a->v[1]->kind == LANG_STR;
    t->ids = batch.ids;
    batch.ids = NULL;
    t->n = calloc((size_t)k, sizeof *t->n);
    t->eos = calloc((size_t)k, sizeof *t->eos);
    t->texts = calloc((size_t)k, sizeof *t->texts);
    t->tokens = calloc(cells, sizeof *t->tokens);
    t->pieces = calloc(cells, sizeof *t->pieces);
    if (!t->n || !t->eos || !t->texts || !t->tokens || !t->pieces)
        goto oom;
    for (int r = 0; r < k; r++) {
        if (!(t->texts[r] = strdup(texts[r])))
            goto oom;
        t->eos[r] = batch.eos_index[r];
        for (int j = 0; j < t->len; j++)
            t->n[r] += batch.mask[(size_t)r * t->len + j] != 0;
    }
    for (size_t i = 0; i < cells; i++) {
        /* Copies: the value may outlive the segmenter and its tokenizer.
         * Every id came from this tokenizer, so both always exist. */
        const char *s = ember_clip_token_str(tok, t->ids[i]);
        t->tokens[i] = strdup(s ? s : "");
        t->pieces[i] = ember_clip_decode(tok, &t->ids[i], 1, 0, &err);
        if (!t->tokens[i] || !t->pieces[i])
            goto oom;
    }
    ember_clip_batch_free(&batch);
    lang_value *v = lang_object(&seg_tokens_type, t);
    return v ? v : lang_raise(cx, "MemoryError", "tokenize: out of memory");
oom:
    ember_clip_batch_free(&batch);
    if (t)
        tokens_free(t);
    return lang_raise(cx, "MemoryError", "tokenize: out of memory");
}

static const lang_builtin tokens_builtins[] = {
    {"tokenize(model, text)",
     "The CLIP token ids of text (a string or a list of up to 64 strings) under a segmenter's "
     "tokenizer, exactly as segment() feeds them: 49406 (<|startoftext|>), the text's ids, 49407 "
     "(<|endoftext|>), cut to the text tower's 77 positions; several prompts are padded with 49407 "
     "to the longest. The same ids as transformers' CLIPTokenizer. Shows a table of each id, its "
     "vocabulary token and the text it stands for; .ids gives the ids (a list of ints, or of rows "
     "for several prompts), .tokens the vocabulary strings, .pieces their text. Example: "
     "tokenize(seg, 'a cat').ids",
     b_tokenize},
};

void register_seg_tokens_builtins(void)
{
    lang_register_builtins(tokens_builtins, sizeof tokens_builtins / sizeof *tokens_builtins);
}
