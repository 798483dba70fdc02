/* bind_clipseg.c — text-prompted segmentation in the language: clipseg()
 * loads a CLIPSeg checkpoint with its tokenizer and pre-processing settings
 * (a local folder, the Hugging Face cache, or a download), and segment()
 * runs it on one image for several prompts, giving a masks value. */
#include "seg/bind.h"
#include "data/hub.h"
#include "nn/clipseg.h"
#include "text/clip_tokenizer.h"
#include "viz/bind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROMPTS 64

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
    const char *file;
    int interrupted;
} fetch_ui;

static int fetch_progress(void *ctx, uint64_t done, uint64_t total)
{
    fetch_ui *ui = ctx;
    if (!ui->pb && total > (2u << 20)) {
        char desc[160];
        snprintf(desc, sizeof desc, "downloading %s", ui->file);
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

/* One file of the model: its path in out, or -1 with an error raised. */
static int model_file(lang_ctx *cx, const char *repo, const char *file, const char *revision,
                      int download, int optional, char *out, size_t outlen)
{
    fetch_ui ui = {.cx = cx, .file = file};
    ember_hub_opts o = {.revision = revision, .download = download, .progress = fetch_progress,
                        .progress_ctx = &ui};
    ember_err err;
    ember_err_clear(&err);
    int rc = ember_hub_file(repo, file, &o, out, outlen, &err);
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
    /* an optional file that simply is not there: the caller uses defaults */
    if (optional && (strstr(err.msg, "is not on this machine") || strstr(err.msg, "has no") ||
                     strstr(err.msg, "404")))
        return 1;
    lang_raise(cx, "OSError", "clipseg: %s", err.msg);
    return -1;
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

    char weights[1200], config[1200], vocab[1200], merges[1200], pre[1200];
    int rc;
    if (model_file(cx, repo, "vocab.json", revision, download, 0, vocab, sizeof vocab) != 0 ||
        model_file(cx, repo, "merges.txt", revision, download, 0, merges, sizeof merges) != 0)
        return NULL;
    if ((rc = model_file(cx, repo, "config.json", revision, download, 1, config, sizeof config)) < 0)
        return NULL;
    int have_config = rc == 0;
    if ((rc = model_file(cx, repo, "preprocessor_config.json", revision, download, 1, pre, sizeof pre)) < 0)
        return NULL;
    int have_pre = rc == 0;
    if (model_file(cx, repo, "model.safetensors", revision, download, 0, weights, sizeof weights) != 0)
        return NULL;

    seg_model *m = calloc(1, sizeof *m);
    if (!m)
        return lang_raise(cx, "MemoryError", "clipseg: out of memory");
    snprintf(m->name, sizeof m->name, "%s", repo);
    m->norm = ember_seg_default_norm();
    ember_err err;
    ember_err_clear(&err);
    if (have_pre && ember_seg_read_norm(pre, &m->norm, &err) != 0) {
        free(m);
        return lang_raise(cx, "ValueError", "clipseg: %s", err.msg);
    }
    m->tok = ember_clip_tokenizer_load(vocab, merges, &err);
    if (!m->tok) {
        free(m);
        return lang_raise(cx, "ValueError", "clipseg: %s", err.msg);
    }
    /* The GPU when asked for (or, with 'auto', when there is one), else the CPU. */
    m->be = ember_backend_cpu();
    if (strcmp(device, "cpu")) {
        const ember_backend *gpu = NULL;
        ember_err gerr;
        if (ember_backend_cuda(&gpu, &gerr) == 0) {
            m->be = gpu;
        } else if (!strcmp(device, "cuda")) {
            ember_clip_tokenizer_free(m->tok);
            free(m);
            return lang_raise(cx, "RuntimeError", "clipseg: no usable GPU: %s", gerr.msg);
        }
    }
    if (ember_clipseg_load(&m->net, m->be, weights, NULL, have_config ? config : NULL,
                           m->norm.size, &err) != 0) {
        if (m->be->device == EMBER_DEV_CUDA && strcmp(device, "cuda")) {
            /* 'auto': a GPU that cannot take the model is no reason to fail */
            char line[700];
            int len = snprintf(line, sizeof line, "clipseg: the GPU could not take the model (%s); "
                               "using the CPU\n", err.msg);
            lang_write(cx, "stderr", line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1));
            m->be = ember_backend_cpu();
            ember_err_clear(&err);
            if (ember_clipseg_load(&m->net, m->be, weights, NULL, have_config ? config : NULL,
                                   m->norm.size, &err) == 0)
                goto loaded;
        }
        ember_clip_tokenizer_free(m->tok);
        free(m);
        return lang_raise(cx, strstr(err.msg, "out of memory") ? "MemoryError" : "ValueError",
                          "clipseg: %s", err.msg);
    }
loaded:;
    lang_value *v = lang_object(&seg_model_type, m);
    return v ? v : lang_raise(cx, "MemoryError", "clipseg: out of memory");
}

/* ---- segment() ---- */

static lang_value *b_segment(lang_ctx *cx, const lang_args *a)
{
    seg_model *m = model_of(a->v[0]);
    if (!m)
        return lang_arg_error(cx, a, 0, "TypeError", "a segmenter from clipseg()");
    const ember_image *img = viz_image_of(a->v[1]);
    if (!img)
        return lang_arg_error(cx, a, 1, "TypeError", "an image (e.g. load_image(path or url))");
    const lang_value *pv = a->v[2];
    const char *texts[MAX_PROMPTS];
    int k = 0;
    if (pv->kind == LANG_STR) {
        texts[k++] = pv->as.str.ptr;
    } else if (pv->kind == LANG_LIST && pv->as.list.len >= 1 && pv->as.list.len <= MAX_PROMPTS) {
        for (size_t i = 0; i < pv->as.list.len; i++) {
            const lang_value *s = pv->as.list.items[i];
            if (s->kind != LANG_STR)
                return lang_raise(cx, "TypeError", "segment: prompt %zu is %s, not a string", i,
                                  lang_type_name(s));
            if (s->as.str.len == 0)
                return lang_raise(cx, "ValueError", "segment: prompt %zu is empty; describe what to find, e.g. 'a cat'", i);
            texts[k++] = s->as.str.ptr;
        }
    } else {
        return lang_arg_error(cx, a, 2, "TypeError", "a string or a list of 1 to 64 strings");
    }

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
     "model.safetensors, vocab.json, merges.txt (and config.json, preprocessor_config.json). The "
     "files come from that folder, the Hugging Face cache (~/.cache/huggingface/hub), or Ember's "
     "cache (~/.cache/ember/hf), downloaded there once when download is true ($HF_ENDPOINT is "
     "honoured). device='auto' uses the GPU when there is one.",
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
}
