/* bind_clipseg.c — text-prompted segmentation in the language: clipseg()
 * loads a CLIPSeg checkpoint (model.safetensors or pytorch_model.bin) with
 * its tokenizer (vocab.json + merges.txt, or tokenizer.json) and
 * pre-processing settings (preprocessor_config.json, or transformers 5's
 * processor_config.json) from a local folder, the Hugging Face cache or a
 * download, and segment() runs it on one image for several prompts, giving
 * a masks value. */
#include "seg/bind.h"
#include "seg/segmenter.h"
#include "data/hub.h"
#include "data/weights.h"
#include "nn/clipseg.h"
#include "text/clip_tokenizer.h"
#include "viz/bind.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seg_model {
    ember_clipseg *net;
    ember_clip_tokenizer *tok;
    ember_seg_norm norm;
    const ember_backend *be;
    char name[512];
    int64_t params;
} seg_model;

static void model_free(void *data)
{
    seg_model *m = data;
    ember_clipseg_free(m->net);
    ember_clip_tokenizer_free(m->tok);
    free(m);
}

static const lang_type seg_model_type;

static seg_model *model_of(const lang_value *v)
{
    if (!v || v->kind != LANG_OBJECT || v->as.obj.type != &seg_model_type)
        return NULL;
    return v->as.obj.data;
}

const ember_clip_tokenizer *seg_model_tokenizer(const lang_value *v, int *max_len)
{
    const seg_model *m = model_of(v);
    if (!m)
        return NULL;
    *max_len = ember_clipseg_get_config(m->net)->text_positions;
    return m->tok;
}

static char *model_repr(const lang_value *self)
{
    const seg_model *m = model_of(self);
    const ember_clipseg_config *c = ember_clipseg_get_config(m->net);
    int s = ember_clipseg_input_size(m->net);
    char *out = NULL;
    if (asprintf(&out,
                 "CLIPSeg('%s'): vision %d layers x %d, text %d layers x %d, decoder %d, "
                 "input %dx%d, %s",
                 m->name, c->vision_layers, c->vision_width, c->text_layers, c->text_width,
                 c->reduce_dim, s, s, m->be->device == EMBER_DEV_CUDA ? "cuda" : "cpu") < 0)
        return NULL;
    return out;
}

static lang_value *model_getattr(lang_ctx *cx, lang_value *self, const char *name)
{
    (void)cx;
    const seg_model *m = model_of(self);
    if (!strcmp(name, "name"))
        return lang_cstr(m->name);
    if (!strcmp(name, "input_size"))
        return lang_int(ember_clipseg_input_size(m->net));
    if (!strcmp(name, "device"))
        return lang_cstr(m->be->device == EMBER_DEV_CUDA ? "cuda" : "cpu");
    return NULL;
}

static void model_attr_names(const lang_value *self, void (*add)(void *acc, const char *name), void *acc)
{
    (void)self;
    add(acc, "name");
    add(acc, "input_size");
    add(acc, "device");
}

static const lang_type seg_model_type = {
    .name = "segmenter",
    .doc = "segmenter: a CLIPSeg model with its tokenizer and image settings, made by clipseg(). "
           "segment(model, image, prompts) runs it. Attributes: name, input_size, device.",
    .free = model_free,
    .repr = model_repr,
    .getattr = model_getattr,
    .attr_names = model_attr_names,
};

/* ---- clipseg() ---- */

typedef struct fetch_ui {
    lang_ctx *cx;
    progress_bar *pb;
    const char *const *files; /* the alternatives being looked for */
    size_t file;              /* the one a download is fetching */
    int interrupted;
} fetch_ui;

static int fetch_progress(void *ctx, uint64_t done, uint64_t total)
{
    fetch_ui *ui = ctx;
    if (!ui->pb && total > (2u << 20)) {
        char desc[160];
        snprintf(desc, sizeof desc, "downloading %s", ui->files[ui->file]);
        ui->pb = progress_bar_start(ui->cx, &(progress_bar_opts){.desc = desc, .unit = "MB",
                                                                 .total = (double)total / 1e6});
    }
    progress_bar_update(ui->pb, (double)done / 1e6);
    if (lang_check_interrupt(ui->cx) < 0) {
        ui->interrupted = 1;
        return 1;
    }
    return 0;
}

/* The hub goes on to the next alternative: say so, and name that file on
 * its progress bar. */
static void fetch_notice(void *ctx, const char *line)
{
    fetch_ui *ui = ctx;
    ui->file++;
    char buf[1200];
    int len = snprintf(buf, sizeof buf, "clipseg: %s\n", line);
    lang_write(ui->cx, "stderr", buf, (size_t)(len < (int)sizeof buf ? len : (int)sizeof buf - 1));
}

/* The first of `files` (alternatives, best first) that the model has: its
 * path in out and its index in *which. 0; 1 when none is there and
 * `optional` (the caller uses defaults; `missing`, when not NULL, gets the
 * message that says where it looked); -1 with an error raised. */
static int model_file_first(lang_ctx *cx, const char *repo, const char *const *files, size_t nfiles,
                            const char *revision, int download, int optional, char *out, size_t outlen,
                            size_t *which, ember_err *missing)
{
    fetch_ui ui = {.cx = cx, .files = files};
    ember_hub_opts o = {.revision = revision, .download = download, .progress = fetch_progress,
                        .progress_ctx = &ui, .notice = fetch_notice, .notice_ctx = &ui};
    ember_err err;
    ember_err_clear(&err);
    int rc = ember_hub_file_first(repo, files, nfiles, &o, out, outlen, which, &err);
    if (ui.pb)
        progress_bar_finish(ui.pb, rc == 0 ? PROGRESS_OK
                                   : ui.interrupted ? PROGRESS_INTERRUPTED
                                                    : PROGRESS_ERROR);
    if (rc == 0)
        return 0;
    if (ui.interrupted) {
        if (!lang_error_pending(cx))
            lang_raise(cx, "KeyboardInterrupt", "download interrupted");
        return -1;
    }
    if (optional && rc == EMBER_HUB_MISSING) {
        if (missing)
            *missing = err;
        return 1;
    }
    lang_raise(cx, strstr(err.msg, "does not exist") ? "FileNotFoundError" : "OSError", "clipseg: %s",
               err.msg);
    return -1;
}

/* One file of the model (see model_file_first). */
static int model_file(lang_ctx *cx, const char *repo, const char *file, const char *revision,
                      int download, int optional, char *out, size_t outlen)
{
    return model_file_first(cx, repo, &file, 1, revision, download, optional, out, outlen, NULL, NULL);
}

/* A sharded checkpoint (an index naming several files) is refused: the
 * loaders take one file, and CLIPSeg (600 MB) is never sharded by
 * save_pretrained's default size. The message says how many files and
 * how to make one. */
static lang_value *refuse_sharded(lang_ctx *cx, const char *index)
{
    json_error_t je;
    json_t *root = json_load_file(index, 0, &je);
    json_t *map = json_object_get(root, "weight_map");
    size_t shards = 0;
    json_t *seen = json_is_object(map) ? json_object() : NULL; /* the distinct file names */
    const char *k;
    json_t *v;
    if (seen) {
        json_object_foreach(map, k, v) {
            if (json_is_string(v))
                json_object_set_new(seen, json_string_value(v), json_true());
        }
        shards = json_object_size(seen);
        json_decref(seen);
    }
    json_decref(root);
    char count[64] = "";
    if (shards)
        snprintf(count, sizeof count, " in %zu files", shards);
    return lang_raise(cx, "ValueError",
                      "clipseg: %s indexes a sharded checkpoint%s; Ember reads weights in one file "
                      "(model.safetensors or pytorch_model.bin): save the model again in one, e.g. "
                      "CLIPSegForImageSegmentation.from_pretrained(folder).save_pretrained(out, "
                      "max_shard_size='10GB')",
                      index, count);
}

/* Image settings from processor_config.json (what transformers 5 saves
 * instead of preprocessor_config.json): its "image_processor" object holds
 * the keys preprocessor_config.json has at its top level, and is read as
 * that file is, its messages naming "<path> (image_processor)". 0, 1 when
 * the file has no such section (the defaults stay), -1 with err set. */
static int read_processor_norm(const char *path, ember_seg_norm *norm, ember_err *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return ember_err_set(err, "%s: not readable JSON (%s, line %d)", path, je.text, je.line);
    json_t *section = json_is_object(root) ? json_object_get(root, "image_processor") : NULL;
    if (!json_is_object(root) || !section) {
        int rc = json_is_object(root) ? 1 : ember_err_set(err, "%s: expected a JSON object", path);
        json_decref(root);
        return rc;
    }
    if (!json_is_object(section)) {
        json_decref(root);
        return ember_err_set(err, "%s: image_processor must be a JSON object (the image settings)", path);
    }
    char *text = json_dumps(section, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return ember_err_set(err, "%s: out of memory", path);
    char where[1300];
    snprintf(where, sizeof where, "%s (image_processor)", path);
    int rc = ember_seg_read_norm_json(text, strlen(text), where, norm, err);
    free(text);
    return rc;
}

static lang_value *b_clipseg(lang_ctx *cx, const lang_args *a)
{
    const char *repo, *revision, *device;
    int download;
    if (lang_arg_str(cx, a, 0, &repo) < 0 || lang_arg_str(cx, a, 1, &revision) < 0 ||
        lang_arg_bool(cx, a, 2, &download) < 0 || lang_arg_str(cx, a, 3, &device) < 0)
        return NULL;
    if (strcmp(device, "cpu") && strcmp(device, "auto") && strcmp(device, "cuda"))
        return lang_arg_error(cx, a, 3, "ValueError", "'auto', 'cpu' or 'cuda'");

    char weights[1200], config[1200], tok_path[1200], merges[1200], pre[1200];
    int rc;
    size_t tok_kind, pre_kind, weights_kind;
    /* The tokenizer: vocab.json and merges.txt, the files CIDAS's
     * checkpoint was published with, else tokenizer.json, all a processor
     * saved by transformers 5 has. */
    static const char *const tok_files[] = {"vocab.json", "tokenizer.json"};
    if (model_file_first(cx, repo, tok_files, 2, revision, download, 0, tok_path, sizeof tok_path, &tok_kind,
                         NULL) != 0 ||
        (tok_kind == 0 && model_file(cx, repo, "merges.txt", revision, download, 0, merges, sizeof merges) != 0))
        return NULL;
    if ((rc = model_file(cx, repo, "config.json", revision, download, 1, config, sizeof config)) < 0)
        return NULL;
    int have_config = rc == 0;
    /* The image settings: preprocessor_config.json, else the
     * "image_processor" section of transformers 5's processor_config.json. */
    static const char *const pre_files[] = {"preprocessor_config.json", "processor_config.json"};
    if ((rc = model_file_first(cx, repo, pre_files, 2, revision, download, 1, pre, sizeof pre, &pre_kind, NULL)) < 0)
        return NULL;
    int have_pre = rc == 0;
    ember_err err;
    ember_err_clear(&err);
    if (have_config) {
        /* Read first, so a value Ember does not implement stops clipseg()
         * before 600 MB of weights are downloaded or read (the load reads it
         * again). */
        ember_clipseg_config probe;
        ember_clipseg_config_default(&probe);
        if (ember_clipseg_config_read_json(&probe, config, &err) != 0)
            return lang_raise(cx, "ValueError", "clipseg: %s", err.msg);
        /* The text tower pools at the end-of-text token config.json names:
         * the tokenizer's (49407), or 2, which transformers reads as "the
         * argmax of the ids", the same token (49407 is CLIP's largest id;
         * clip_tokenizer.h). Another id would pool a token this tokenizer
         * never ends a prompt with. */
        int eos_id = probe.text_eos_token_id;
        if (eos_id >= 0 && eos_id != EMBER_CLIP_EOS && eos_id != 2)
            return lang_raise(cx, "ValueError",
                              "clipseg: %s: text_config.eos_token_id is %d, but Ember's CLIP "
                              "tokenizer ends prompts with %d (<|endoftext|>); supported: %d, or 2 "
                              "(older configs: pooling at the largest id, the same token)",
                              config, eos_id, EMBER_CLIP_EOS, EMBER_CLIP_EOS);
    }

    /* The weights: model.safetensors, else a PyTorch checkpoint, in each
     * place clipseg() looks (a download falls back on a 404 and says so).
     * When neither is anywhere, an index of shards is looked for only to
     * refuse it clearly; else the message says where the weights were
     * looked for. */
    static const char *const weight_files[] = {"model.safetensors", "pytorch_model.bin"};
    static const char *const index_files[] = {"model.safetensors.index.json", "pytorch_model.bin.index.json"};
    ember_err missing;
    if ((rc = model_file_first(cx, repo, weight_files, 2, revision, download, 1, weights, sizeof weights,
                               &weights_kind, &missing)) < 0)
        return NULL;
    if (rc == 1) {
        ember_hub_opts io = {.revision = revision, .download = download};
        ember_err ierr;
        if (ember_hub_file_first(repo, index_files, 2, &io, weights, sizeof weights, NULL, &ierr) == 0)
            return refuse_sharded(cx, weights);
        return lang_raise(cx, "OSError", "clipseg: %s", missing.msg);
    }

    seg_model *m = calloc(1, sizeof *m);
    if (!m)
        return lang_raise(cx, "MemoryError", "clipseg: out of memory");
    snprintf(m->name, sizeof m->name, "%s", repo);
    m->norm = ember_seg_default_norm();
    if (have_pre && (pre_kind == 0 ? ember_seg_read_norm(pre, &m->norm, &err)
                                   : read_processor_norm(pre, &m->norm, &err)) < 0) {
        free(m);
        return lang_raise(cx, "ValueError", "clipseg: %s", err.msg);
    }
    m->tok = tok_kind == 0 ? ember_clip_tokenizer_load(tok_path, merges, &err)
                           : ember_clip_tokenizer_load_json(tok_path, &err);
    if (!m->tok) {
        free(m);
        return lang_raise(cx, "ValueError", "clipseg: %s", err.msg);
    }
    /* Opened once (a PyTorch checkpoint is converted here), for the GPU
     * and, if that fails, the CPU; its messages name the path. */
    ember_st_file wf;
    if (ember_weights_open(&wf, weights, &err) != 0) {
        ember_clip_tokenizer_free(m->tok);
        free(m);
        return lang_raise(cx, strstr(err.msg, "out of memory") ? "MemoryError" : "ValueError",
                          "clipseg: loading CLIPSeg weights: %s", err.msg);
    }
    /* The GPU when asked for (or, with 'auto', when there is one), else the CPU. */
    m->be = ember_backend_cpu();
    if (strcmp(device, "cpu")) {
        const ember_backend *gpu = NULL;
        ember_err gerr;
        if (ember_backend_cuda(&gpu, &gerr) == 0) {
            m->be = gpu;
        } else if (!strcmp(device, "cuda")) {
            ember_st_close(&wf);
            ember_clip_tokenizer_free(m->tok);
            free(m);
            return lang_raise(cx, "RuntimeError", "clipseg: no usable GPU: %s", gerr.msg);
        }
    }
    const char *cfg_path = have_config ? config : NULL;
    rc = ember_clipseg_load_file(&m->net, m->be, &wf, weights, NULL, cfg_path, m->norm.size, &err);
    if (rc != 0 && m->be->device == EMBER_DEV_CUDA && strcmp(device, "cuda")) {
        /* 'auto': a GPU that cannot take the model is no reason to fail */
        char line[700];
        int len = snprintf(line, sizeof line, "clipseg: the GPU could not take the model (%s); "
                           "using the CPU\n", err.msg);
        lang_write(cx, "stderr", line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
        m->be = ember_backend_cpu();
        ember_err_clear(&err);
        rc = ember_clipseg_load_file(&m->net, m->be, &wf, weights, NULL, cfg_path, m->norm.size, &err);
    }
    ember_st_close(&wf);
    if (rc != 0) {
        ember_clip_tokenizer_free(m->tok);
        free(m);
        return lang_raise(cx, strstr(err.msg, "out of memory") ? "MemoryError" : "ValueError",
                          "clipseg: %s", err.msg);
    }
    lang_value *v = lang_object(&seg_model_type, m);
    return v ? v : lang_raise(cx, "MemoryError", "clipseg: out of memory");
}

/* ---- segment() ---- */

/* A prompt the tokenizer cannot take as a C string: one holding a NUL
 * character would be cut there silently. */
static int has_nul(const lang_value *s) { return strlen(s->as.str.ptr) != s->as.str.len; }

int seg_read_prompts(lang_ctx *cx, const lang_args *a, size_t i, const char **texts, int *k, int allow_empty)
{
    const lang_value *pv = a->v[i];
    *k = 0;
    if (pv->kind == LANG_STR) {
        if (!allow_empty && pv->as.str.len == 0) {
            lang_raise(cx, "ValueError", "%s: the prompt is empty; describe what to find, e.g. 'a cat'", a->fname);
            return -1;
        }
        if (has_nul(pv)) {
            lang_raise(cx, "ValueError", "%s: the prompt holds a NUL character ('\\0'); remove it", a->fname);
            return -1;
        }
        texts[(*k)++] = pv->as.str.ptr;
        return 0;
    }
    if (pv->kind != LANG_LIST || pv->as.list.len < 1 || pv->as.list.len > SEG_MAX_PROMPTS) {
        lang_arg_error(cx, a, i, "TypeError", "a string or a list of 1 to 64 strings");
        return -1;
    }
    for (size_t j = 0; j < pv->as.list.len; j++) {
        const lang_value *s = pv->as.list.items[j];
        if (s->kind != LANG_STR) {
            lang_raise(cx, "TypeError", "%s: prompt %zu is %s, not a string", a->fname, j, lang_type_name(s));
            return -1;
        }
        if (!allow_empty && s->as.str.len == 0) {
            lang_raise(cx, "ValueError", "%s: prompt %zu is empty; describe what to find, e.g. 'a cat'",
                       a->fname, j);
            return -1;
        }
        if (has_nul(s)) {
            lang_raise(cx, "ValueError", "%s: prompt %zu holds a NUL character ('\\0'); remove it", a->fname, j);
            return -1;
        }
        texts[(*k)++] = s->as.str.ptr;
    }
    return 0;
}

static lang_value *b_segment(lang_ctx *cx, const lang_args *a)
{
    seg_model *m = model_of(a->v[0]);
    if (!m)
        return lang_arg_error(cx, a, 0, "TypeError", "a segmenter from clipseg()");
    const ember_image *img = viz_image_of(a->v[1]);
    if (!img)
        return lang_arg_error(cx, a, 1, "TypeError", "an image (e.g. load_image(path or url))");
    const char *texts[SEG_MAX_PROMPTS];
    int k = 0;
    if (seg_read_prompts(cx, a, 2, texts, &k, 0) != 0)
        return NULL;

    ember_clip_batch batch;
    ember_err err;
    ember_err_clear(&err);
    const ember_clipseg_config *c = ember_clipseg_get_config(m->net);
    if (ember_clip_tokenize_batch(m->tok, texts, k, c->text_positions, 0, &batch, &err) != 0)
        return lang_raise(cx, "ValueError", "segment: %s", err.msg);
    int s = m->norm.size, o = ember_clipseg_output_size(m->net);
    float *pixels = malloc((size_t)3 * s * s * sizeof *pixels);
    float *logits = malloc((size_t)k * o * o * sizeof *logits);
    seg_mask *masks = calloc((size_t)k, sizeof *masks);
    lang_value *result = NULL;
    if (!pixels || !logits || !masks) {
        lang_raise(cx, "MemoryError", "segment: out of memory");
        goto out;
    }
    if (ember_seg_preprocess(img, &m->norm, pixels, &err) != 0 ||
        ember_clipseg_forward(m->net, pixels, batch.ids, batch.eos_index, k, batch.len, logits, NULL,
                              &err) != 0) {
        /* The forward stops between ops when the user interrupts. */
        if (lang_check_interrupt(cx) == 0)
            lang_raise(cx, strstr(err.msg, "out of memory") ? "MemoryError" : "RuntimeError",
                       "segment: %s", err.msg);
        goto out;
    }
    for (int i = 0; i < k; i++) {
        masks[i].w = masks[i].h = o;
        masks[i].img_w = img->width;
        masks[i].img_h = img->height;
        snprintf(masks[i].prompt, sizeof masks[i].prompt, "%s", texts[i]);
        masks[i].prob = malloc((size_t)o * o * sizeof(float));
        if (!masks[i].prob) {
            for (int j = 0; j < i; j++)
                free(masks[j].prob);
            lang_raise(cx, "MemoryError", "segment: out of memory");
            goto out;
        }
        ember_seg_sigmoid(logits + (size_t)i * o * o, (size_t)o * o, masks[i].prob);
    }
    result = seg_masks_value(cx, masks, (size_t)k, img); /* takes every prob */
out:
    free(pixels);
    free(logits);
    free(masks);
    ember_clip_batch_free(&batch);
    return result;
}

static const lang_builtin model_builtins[] = {
    {"clipseg(model='CIDAS/clipseg-rd64-refined', revision='main', download=true, device='auto')",
     "A CLIPSeg text-prompted segmentation model, like CLIPSegForImageSegmentation.from_pretrained "
     "with its CLIPSegProcessor. model is a Hugging Face model id or a local folder holding "
     "model.safetensors (or pytorch_model.bin, read without running anything), vocab.json and "
     "merges.txt (or tokenizer.json), and config.json and preprocessor_config.json (or "
     "transformers 5's processor_config.json). The files come from that folder, the Hugging Face "
     "cache (~/.cache/huggingface/hub), or Ember's cache (~/.cache/ember/hf), downloaded there "
     "once when download is true ($HF_ENDPOINT is honoured; pytorch_model.bin when the hub has no "
     "model.safetensors). The config and image settings are honoured, and a setting Ember does "
     "not implement (e.g. hidden_act 'gelu_new') is refused by name. device='auto' uses the GPU "
     "when there is one. tokenize(model, text) shows the token ids it feeds.",
     b_clipseg},
    {"segment(model, image, prompts)",
     "Where each prompt is in the image: runs the CLIPSeg model (resize to its input size, "
     "normalise, tokenize, forward, sigmoid) and returns the masks, one per prompt, shown beside "
     "the image; masks[0] is the first mask; overlay(image, masks) tints them on the image. "
     "prompts is a string or a list of strings.",
     b_segment},
};

void register_seg_model_builtins(void)
{
    lang_register_builtins(model_builtins, sizeof model_builtins / sizeof *model_builtins);
    register_seg_tokens_builtins();
}
