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
 *      cache (its layout belongs to huggingface_hub). */
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
} ember_hub_opts;

/* Checks a repository id: "org/name" with letters, digits, '-', '_', '.'
 * (no "..", no leading '.'), at most 96 characters. */
int ember_hub_check_repo(const char *repo, ember_err *err);

/* Finds `file` of `repo` (steps above) and writes its path to out. A file
 * that is in no place, with download off or a failed download, is an error
 * naming the places looked at and what to do. */
int ember_hub_file(const char *repo, const char *file, const ember_hub_opts *opts, char *out,
                   size_t outlen, ember_err *err);

#ifdef __cplusplus
}
#endif
#endif
