/* hub.h — files of a Hugging Face model repository (config.json,
 * model.safetensors, vocab.json...), found where Python users already have
 * them or downloaded once, so clipseg("CIDAS/clipseg-rd64-refined") works
 * like from_pretrained.
 *
 * Where a file is looked for, in order:
 *   1. `repo` itself when it is an existing folder (a local checkout or a
 *      save_pretrained() folder): <repo>/<file>;
 *   2. the Hugging Face cache of transformers / huggingface_hub:
 *      $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub, in
 *      its layout models--<org>--<name>/refs/<revision> (a commit hash) and
 *      snapshots/<hash>/<file>;
 *   3. Ember's own cache: $EMBER_DATA/hf/<org>/<name>/<revision>/<file>,
 *      else $XDG_CACHE_HOME/ember/hf/..., else ~/.cache/ember/hf/...;
 *   4. a download (when allowed) from
 *      <endpoint>/<org>/<name>/resolve/<revision>/<file> into Ember's
 *      cache, endpoint = the argument, else $HF_ENDPOINT, else
 *      https://huggingface.co. Ember never writes into the Hugging Face
 *      cache (its layout belongs to huggingface_hub).
 * A file with alternatives (the weights: model.safetensors or
 * pytorch_model.bin) is looked for as each alternative in each place, in
 * that order (ember_hub_file_first). */
#ifndef EMBER_DATA_HUB_H
#define EMBER_DATA_HUB_H

#include <stddef.h>

#include "core/error.h"
#include "data/fetch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ember_hub_opts {
    const char *revision;  /* NULL: "main" */
    const char *endpoint;  /* NULL: $HF_ENDPOINT or https://huggingface.co */
    int download;          /* fetch what is not found (step 4) */
    ember_fetch_progress progress; /* for downloads; may be NULL */
    void *progress_ctx;
    /* Told one line when a download goes on to the next alternative
     * ("model.safetensors is not on <endpoint> for <repo> (not found);
     * downloading pytorch_model.bin instead"); may be NULL. */
    void (*notice)(void *ctx, const char *line);
    void *notice_ctx;
} ember_hub_opts;

/* What ember_hub_file and ember_hub_file_first return, besides 0 and -1,
 * when the file simply is not there: the folder lacks it, it is in no
 * cache and downloads are off, or the server has no such file (HTTP 404
 * or 410, ember_fetch_url's EMBER_FETCH_NOT_FOUND). The message says so as
 * -1's would; a caller for which the file is optional takes this as "use
 * the defaults". */
#define EMBER_HUB_MISSING 1

/* Checks a repository id: "org/name" with letters, digits, '-', '_', '.'
 * (no "..", no leading '.'), at most 96 characters. */
int ember_hub_check_repo(const char *repo, ember_err *err);

/* Finds `file` of `repo` (steps above) and writes its path to out.
 * Returns 0; EMBER_HUB_MISSING when it is in no place (the message names
 * the places looked at and what to do); -1 on other failures (a bad id, a
 * folder that does not exist, a failed download). */
int ember_hub_file(const char *repo, const char *file, const ember_hub_opts *opts, char *out,
                   size_t outlen, ember_err *err);

/* The same for alternatives, best first (model.safetensors, then
 * pytorch_model.bin): in each place of the steps above, the first of the
 * files that is there wins, so a local folder with only pytorch_model.bin
 * is used before a cache; a download tries them in order, going on to the
 * next only when the server has no such file (a network error stops) and
 * saying so through opts->notice. *which (may be NULL) gets the index of
 * the file found. EMBER_HUB_MISSING when none is anywhere. */
int ember_hub_file_first(const char *repo, const char *const *files, size_t nfiles,
                         const ember_hub_opts *opts, char *out, size_t outlen, size_t *which,
                         ember_err *err);

#ifdef __cplusplus
}
#endif
#endif
