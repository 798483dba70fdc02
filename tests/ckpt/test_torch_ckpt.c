/* test_torch_ckpt.c — PyTorch checkpoints (engine/data/torch_ckpt.h,
 * weights.h): files torch.save wrote read bit for bit like their
 * safetensors twins (views, shared storages, conversions, protocol 4,
 * deflate, nested checkpoints), a ViT state dict loading into Ember's ViT
 * through the unchanged safetensors loader, and every hostile or damaged
 * file of tests/fixtures/torch refused with a message that names it once.
 * Args: <fixtures dir> <scratch dir>. Fixtures: tests/ckpt/gen_ckpt_fixtures.py. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/backend.h"
#include "core/safetensors.h"
#include "data/torch_ckpt.h"
#include "data/torch_pickle.h"
#include "data/weights.h"
#include "nn/vit.h"
#include "test_util.h"

static const char *fixtures, *scratch;

static const char *fx(const char *name)
{
    static char bufs[4][1200];
    static int i = 0;
    char *b = bufs[i++ % 4];
    snprintf(b, sizeof bufs[0], "%s/torch/%s", fixtures, name);
    return b;
}

static const char *sp(const char *name)
{
    static char bufs[4][1200];
    static int i = 0;
    char *b = bufs[i++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", scratch, name);
    return b;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

static void put(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, len, f);
    fclose(f);
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static int is_empty(const ember_st_file *f)
{
    return !f->entries && !f->count && !f->owned && !f->map && !f->data && !f->metadata_json;
}

/* What every successful read must satisfy, whatever the file. */
static void check_shape_of(const ember_st_file *f, const char *what)
{
    for (size_t i = 0; i < f->count; i++) {
        const ember_st_entry *e = &f->entries[i];
        CHECK(e->name && e->name[0], "%s: entry %zu has no name", what, i);
        CHECK(e->offset % 64 == 0, "%s: '%s' at offset %zu, not 64-aligned", what, e->name, e->offset);
        CHECK(e->offset + e->nbytes <= f->data_len, "%s: '%s' past the data", what, e->name);
        CHECK(!i || e->offset >= f->entries[i - 1].offset + f->entries[i - 1].nbytes, "%s: '%s' overlaps", what,
              e->name);
        CHECK(ember_st_find(f, e->name) == e, "%s: '%s' not found by name", what, e->name);
        ember_err err = {{0}};
        ember_tensor v;
        CHECK(ember_st_view(f, e->name, &v, &err) == 0, "%s: view of '%s': %s", what, e->name, err.msg);
    }
}

/* The checkpoint must hold exactly the twin's tensors, byte for byte. */
static void check_twin(const char *pt, const char *twin)
{
    ember_st_file a, b;
    ember_err err = {{0}};
    if (ember_weights_open(&a, fx(pt), &err) != 0) {
        CHECK(0, "%s: %s", pt, err.msg);
        return;
    }
    if (ember_st_open(&b, fx(twin), &err) != 0) {
        CHECK(0, "%s: %s", twin, err.msg);
        ember_st_close(&a);
        return;
    }
    check_shape_of(&a, pt);
    CHECK(a.count == b.count, "%s: %zu tensors, its twin %zu", pt, a.count, b.count);
    for (size_t i = 0; i < b.count; i++) {
        const ember_st_entry *y = &b.entries[i], *x = ember_st_find(&a, y->name);
        if (!x) {
            CHECK(0, "%s: no tensor '%s'", pt, y->name);
            continue;
        }
        CHECK(x->dtype == y->dtype, "%s: '%s' is %s, expected %s", pt, y->name, ember_dtype_name(x->dtype),
              ember_dtype_name(y->dtype));
        CHECK(x->ndim == y->ndim && !memcmp(x->shape, y->shape, sizeof x->shape), "%s: '%s' has another shape", pt,
              y->name);
        CHECK(x->nbytes == y->nbytes && !memcmp(a.data + x->offset, b.data + y->offset, y->nbytes),
              "%s: '%s' differs from its twin", pt, y->name);
    }
    ember_st_close(&a);
    ember_st_close(&b);
}

static void test_twins(void)
{
    check_twin("vit_tiny.pt", "vit_tiny.safetensors");
    check_twin("mixed.pt", "mixed.safetensors");
    check_twin("mixed_p4.pt", "mixed.safetensors");
    check_twin("mixed_deflate.pt", "mixed.safetensors");
    check_twin("nested.pt", "nested.safetensors");

    /* the order is the pickle's (a state dict's), and a few spot values */
    ember_st_file f;
    ember_err err = {{0}};
    if (ember_torch_open(&f, fx("mixed.pt"), &err) != 0) {
        CHECK(0, "%s", err.msg);
        return;
    }
    CHECK(f.count > 3 && !strcmp(f.entries[0].name, "a") && !strcmp(f.entries[1].name, "b") &&
              !strcmp(f.entries[2].name, "c"),
          "mixed.pt: not in pickle order");
    const ember_st_entry *h = ember_st_find(&f, "h"), *x = ember_st_find(&f, "x"), *s = ember_st_find(&f, "s"),
                         *e = ember_st_find(&f, "e"), *bl = ember_st_find(&f, "bool"), *i8 = ember_st_find(&f, "i8");
    if (h && x && s && e && bl && i8) {
        float hv[8], xv[6], sv;
        memcpy(hv, f.data + h->offset, sizeof hv);
        memcpy(xv, f.data + x->offset, sizeof xv);
        memcpy(&sv, f.data + s->offset, sizeof sv);
        CHECK(h->dtype == EMBER_F32 && hv[0] == 1.0f && hv[1] == -2.5f && hv[2] == 65504.0f && isinf(hv[5]) &&
                  signbit(hv[6]) && hv[3] > 5.9e-8f && hv[3] < 6.0e-8f,
              "float16 values: %g %g %g %g %g", hv[0], hv[1], hv[2], hv[3], hv[5]);
        CHECK(x->ndim == 2 && x->shape[0] == 2 && x->shape[1] == 3 && xv[0] == 7.5f && xv[5] == 7.5f,
              "the expanded tensor");
        CHECK(s->ndim == 0 && sv == 3.25f, "the scalar");
        CHECK(e->ndim == 2 && e->shape[0] == 0 && e->nbytes == 0, "the empty tensor");
        CHECK(bl->dtype == EMBER_U8 && f.data[bl->offset] == 1 && f.data[bl->offset + 1] == 0, "bool");
        int32_t iv[3];
        memcpy(iv, f.data + i8->offset, sizeof iv);
        CHECK(i8->dtype == EMBER_I32 && iv[0] == -128 && iv[1] == 127 && iv[2] == -1, "int8");
    } else {
        CHECK(0, "mixed.pt: tensors missing");
    }
    ember_st_close(&f);
    ember_st_close(&f); /* twice is safe */

    /* nested: names joined with '.', non-tensors left out */
    if (ember_weights_open(&f, fx("nested.pt"), &err) != 0) {
        CHECK(0, "%s", err.msg);
        return;
    }
    static const char *const present[] = {"model.weight", "model.bias", "optimizer.state.0.exp_avg",
                                          "optimizer.state.1.exp_avg_sq", "optimizer.state.0.step", "history.0",
                                          "history.1.acc", "attr"};
    for (size_t i = 0; i < sizeof present / sizeof *present; i++)
        CHECK(ember_st_find(&f, present[i]) != NULL, "nested.pt: no '%s'", present[i]);
    for (size_t i = 0; i < f.count; i++)
        CHECK(!strstr(f.entries[i].name, "_metadata") && !strstr(f.entries[i].name, "epoch") &&
                  !strstr(f.entries[i].name, "config"),
              "nested.pt: '%s' should not be there", f.entries[i].name);
    ember_st_close(&f);
}

/* Ember's ViT loads a state dict torch.save wrote, through the loader it
 * uses for safetensors (ember_vit_load_safetensors, unchanged). */
static void test_vit_loads(void)
{
    ember_vit_config cfg = ember_vit_default_config();
    cfg.image_size = 16;
    cfg.patch = 4;
    cfg.in_chans = 3;
    cfg.dim = 16;
    cfg.depth = 2;
    cfg.heads = 2;
    cfg.mlp_hidden = 32;
    cfg.num_classes = 10;
    ember_vit vit;
    ember_err err = {{0}};
    ember_st_file pt, twin;
    if (ember_vit_create(&vit, &cfg, ember_backend_cpu(), 1, &err) != 0) {
        CHECK(0, "vit: %s", err.msg);
        return;
    }
    if (ember_weights_open(&pt, fx("vit_tiny.pt"), &err) != 0 ||
        ember_st_open(&twin, fx("vit_tiny.safetensors"), &err) != 0) {
        CHECK(0, "%s", err.msg);
        ember_vit_destroy(&vit);
        return;
    }
    CHECK(ember_vit_load_safetensors(&vit, &pt, "", &err) == 0, "load: %s", err.msg);
    CHECK(pt.count == (size_t)vit.n_params, "%zu tensors for %d parameters", pt.count, vit.n_params);
    for (int i = 0; i < vit.n_params; i++) {
        const ember_vit_param *p = &vit.params[i];
        const ember_st_entry *e = ember_st_find(&twin, p->name);
        float *got = malloc((size_t)p->numel * sizeof *got);
        if (!e || !got) {
            CHECK(0, "no '%s' in the twin", p->name);
            free(got);
            continue;
        }
        CHECK(ember_vit_read_param(&vit, p->name, 0, got, &err) == 0, "%s", err.msg);
        CHECK(e->nbytes == (size_t)p->numel * sizeof *got && !memcmp(got, twin.data + e->offset, e->nbytes),
              "ViT parameter '%s' differs from torch's", p->name);
        free(got);
    }
    ember_st_close(&pt);
    ember_st_close(&twin);
    ember_vit_destroy(&vit);
}

typedef struct {
    const char *file;
    const char *says[3]; /* every one must be in the message */
} refusal;

static const refusal refusals[] = {
    {"bad_os_system.pt", {"refusing to load", "posix.system", "trust"}},
    {"bad_os_system_p4.pt", {"refusing to load", "posix.system", "malicious"}},
    {"bad_os_system_named.pt", {"refusing to load", "os.system"}},
    {"bad_eval.pt", {"refusing to load", "builtins.eval"}},
    {"bad_exec.pt", {"refusing to load", "builtins.exec"}},
    {"bad_popen.pt", {"refusing to load", "subprocess.Popen"}},
    {"bad_gadget_in_sd.pt", {"refusing to load", "posix.system"}},
    {"bad_inst.pt", {"refusing to load", "posix.system"}},
    {"bad_rebuild_args.pt", {"rebuilt from a str, not from a storage", "torch.save"}},
    {"bad_reduce_str.pt", {"REDUCE calls a str"}},
    {"bad_ext.pt", {"EXT1"}},
    {"bad_nostop.pt", {"without STOP"}},
    {"bad_complex.pt", {"refusing to load", "torch.ComplexFloatStorage", "does not rebuild"}},
    {"bad_7d.pt", {"'w' has 7 dimensions"}},
    {"bad_view_oob.pt", {"tensor 'w' reads element 19 of storage '0', which holds 12"}},
    {"bad_short_storage.pt", {"storage '0' holds 32 bytes", "48 bytes"}},
    {"bad_long_storage.pt", {"storage '0' holds 64 bytes", "48 bytes"}},
    {"bad_missing_storage.pt", {"no member archive/data/0"}},
    {"bad_huge_size.pt", {"more than 2^40 elements"}},
    {"bad_huge_storage.pt", {"declares 1152921504606846976 elements"}},
    {"bad_bomb.pt", {"memory bomb"}},
    {"bad_negative_stride.pt", {"negative stride (-1)"}},
    {"bad_negative_offset.pt", {"negative storage offset"}},
    {"bad_key.pt", {"'../../etc/passwd' is not a plain name"}},
    {"bad_dtype_conflict.pt", {"declared twice", "float16"}},
    {"bad_bigendian.pt", {"big-endian"}},
    {"bad_two_names.pt", {"both named 'a.w'"}},
    {"bad_memo.pt", {"memo index 200"}},
    {"bad_memo_long.pt", {"memo index 4294967295 is out of range"}},
    {"bad_deep.pt", {"nested more than 64 levels"}},
    {"bad_marks.pt", {"STOP needs 1 value"}},
    {"bad_cycle.pt", {"inside itself"}},
    {"bad_shared.pt", {"over and over"}},
    {"bad_tensor_root.pt", {"a single tensor"}},
    {"bad_truncated.pt", {"zip"}},
    {"legacy.pt", {"legacy format", "torch.save"}},
    {"torchscript.pt", {"TorchScript", "torch.jit.load"}},
    {"bad_npz.npz", {"without <folder>/data.pkl", "numpy"}},
    {"bad_pickle.pkl", {"bare Python pickle"}},
    {"bad_random.bin", {"neither a safetensors file nor a PyTorch checkpoint"}},
};

static void check_refused(const char *path, const refusal *r, int via_weights)
{
    ember_st_file f;
    memset(&f, 0xA5, sizeof f);
    ember_err err = {{0}};
    int rc = via_weights ? ember_weights_open(&f, path, &err) : ember_torch_open(&f, path, &err);
    CHECK(rc != 0, "%s was accepted", path);
    CHECK(is_empty(&f), "%s: the file is not left empty after a failure", path);
    if (rc == 0) ember_st_close(&f);
    for (int k = 0; k < 3 && r->says[k]; k++)
        CHECK(strstr(err.msg, r->says[k]) != NULL, "%s: '%s' not in: %s", r->file, r->says[k], err.msg);
    CHECK(count_of(err.msg, path) == 1, "%s: the message names the path %d times: %s", r->file, count_of(err.msg, path),
          err.msg);
    ember_st_close(&f);
}

static void test_refusals(void)
{
    for (size_t i = 0; i < sizeof refusals / sizeof *refusals; i++) {
        const refusal *r = &refusals[i];
        check_refused(fx(r->file), r, 1);
        if (strcmp(r->file, "bad_random.bin")) check_refused(fx(r->file), r, 0);
        if (getenv("SHOW_MESSAGES")) {
            ember_st_file f;
            ember_err err = {{0}};
            if (ember_weights_open(&f, fx(r->file), &err)) printf("%-24s %s\n", r->file, err.msg);
        }
    }
}

static void test_open_errors(void)
{
    ember_st_file f;
    ember_err err = {{0}};
    static const refusal empty = {"empty", {"is empty"}}, folder = {"folder", {"is a folder"}},
                         missing = {"missing", {"No such file"}}, text = {"text", {"neither"}},
                         broken_st = {"broken", {"truncated safetensors"}};
    put(sp("empty.pt"), "", 0);
    check_refused(sp("empty.pt"), &empty, 1);
    check_refused(sp("empty.pt"), &empty, 0);
    check_refused(scratch, &folder, 1);
    check_refused(sp("no-such-file.bin"), &missing, 1);
    put(sp("notes.txt"), "just some text, not weights\n", 28);
    check_refused(sp("notes.txt"), &text, 1);
    /* a damaged safetensors file gets the safetensors reader's message */
    size_t n;
    uint8_t *st = slurp(fx("mixed.safetensors"), &n);
    if (st) {
        put(sp("cut.safetensors"), st, 40);
        check_refused(sp("cut.safetensors"), &broken_st, 1);
        free(st);
    }
    /* a safetensors file through the one entry point */
    CHECK(ember_weights_open(&f, fx("mixed.safetensors"), &err) == 0 && f.map && !f.owned, "%s", err.msg);
    ember_st_close(&f);
}

static void test_sniff(void)
{
    size_t n;
    uint8_t *b;
    struct {
        const char *file;
        ember_weights_format fmt;
    } cases[] = {{"mixed.pt", EMBER_WEIGHTS_TORCH_ZIP},
                 {"mixed.safetensors", EMBER_WEIGHTS_SAFETENSORS},
                 {"legacy.pt", EMBER_WEIGHTS_TORCH_LEGACY},
                 {"bad_pickle.pkl", EMBER_WEIGHTS_PICKLE},
                 {"bad_random.bin", EMBER_WEIGHTS_UNKNOWN}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (!(b = slurp(fx(cases[i].file), &n))) {
            CHECK(0, "cannot read %s", cases[i].file);
            continue;
        }
        ember_weights_format got = ember_weights_sniff(b, n < 32 ? n : 32);
        CHECK(got == cases[i].fmt, "%s sniffed as %s", cases[i].file, ember_weights_format_name(got));
        free(b);
    }
    CHECK(ember_weights_sniff("", 0) == EMBER_WEIGHTS_EMPTY, "empty");
}

/* The buffer entry point, and damage at every place of a real file: each
 * read either succeeds with a sane table or fails with a message. */
static void test_damage(void)
{
    static const char *const files[] = {"mixed.pt", "nested.pt", "mixed_deflate.pt"};
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        size_t n;
        uint8_t *b = slurp(fx(files[k]), &n);
        if (!b) {
            CHECK(0, "cannot read %s", files[k]);
            continue;
        }
        ember_st_file f;
        ember_err err = {{0}};
        CHECK(ember_torch_parse_buffer(&f, b, n, NULL, &err) == 0, "%s from memory: %s", files[k], err.msg);
        ember_st_close(&f);
        int accepted = 0;
        for (size_t cut = 0; cut < n; cut += 7) {
            err.msg[0] = 0;
            if (ember_torch_parse_buffer(&f, b, cut, "cut", &err) == 0) {
                accepted++;
                ember_st_close(&f);
            } else {
                CHECK(err.msg[0] && is_empty(&f), "%s cut at %zu: no message", files[k], cut);
            }
        }
        CHECK(accepted == 0, "%s: %d truncations accepted", files[k], accepted);
        uint8_t *c = malloc(n);
        for (size_t i = 0; c && i < n; i++) {
            memcpy(c, b, n);
            c[i] ^= (uint8_t)(0x5a + i);
            err.msg[0] = 0;
            if (ember_torch_parse_buffer(&f, c, n, "flip", &err) == 0) {
                check_shape_of(&f, "a damaged file");
                ember_st_close(&f);
            } else {
                CHECK(err.msg[0] && is_empty(&f), "%s flipped at %zu: no message", files[k], i);
            }
        }
        free(c);
        free(b);
    }
}

/* The unpickler on its own: pickles written here byte by byte. */
static void test_unpickle(void)
{
    ember_torch_index ix;
    ember_err err = {{0}};
    /* protocol 2 dict of ints: no tensors, no error */
    static const uint8_t plain[] = {0x80, 2, '}', 'X', 1, 0, 0, 0, 'a', 'K', 3, 's', '.'};
    CHECK(ember_torch_unpickle(plain, sizeof plain, "p", &ix, &err) == 0 && ix.n_tensors == 0, "%s", err.msg);
    ember_torch_index_free(&ix);
    static const uint8_t empty[] = {0};
    CHECK(ember_torch_unpickle(empty, 0, "p", &ix, &err) != 0 && strstr(err.msg, "without STOP"), "%s", err.msg);
    CHECK(ember_torch_unpickle(empty, 1, NULL, &ix, &err) != 0 && strstr(err.msg, "the checkpoint:"), "%s", err.msg);
    static const uint8_t proto9[] = {0x80, 9, '.'};
    CHECK(ember_torch_unpickle(proto9, sizeof proto9, "p", &ix, &err) != 0 && strstr(err.msg, "protocol 9"), "%s",
          err.msg);
    static const uint8_t longstr[] = {0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f, 'a', '.'};
    CHECK(ember_torch_unpickle(longstr, sizeof longstr, "p", &ix, &err) != 0 && strstr(err.msg, "runs past"), "%s",
          err.msg);
    static const uint8_t appends_low[] = {0x80, 2, ']', '(', 'e', '.'}; /* fine: nothing appended */
    CHECK(ember_torch_unpickle(appends_low, sizeof appends_low, "p", &ix, &err) == 0, "%s", err.msg);
    ember_torch_index_free(&ix);
    static const uint8_t no_target[] = {0x80, 2, '(', 'K', 1, 'e', '.'};
    CHECK(ember_torch_unpickle(no_target, sizeof no_target, "p", &ix, &err) != 0 && strstr(err.msg, "nothing to add"),
          "%s", err.msg);
    static const uint8_t builtins_getattr[] = "\x80\x02" "c__builtin__\ngetattr\n.";
    CHECK(ember_torch_unpickle(builtins_getattr, sizeof builtins_getattr - 1, "x.pt", &ix, &err) != 0 &&
              strstr(err.msg, "'x.pt': it asks to run builtins.getattr"),
          "%s", err.msg);
    static const uint8_t argparse[] = "\x80\x02" "cargparse\nNamespace\n.";
    CHECK(ember_torch_unpickle(argparse, sizeof argparse - 1, "x.pt", &ix, &err) != 0 &&
              strstr(err.msg, "asks for argparse.Namespace, which is not part of a state dict"),
          "%s", err.msg);
    static const uint8_t big[] = {0x80, 2, '}', 'X', 1, 0, 0, 0, 'a', 0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 's', '.'};
    CHECK(ember_torch_unpickle(big, sizeof big, "p", &ix, &err) == 0, "a big int: %s", err.msg);
    ember_torch_index_free(&ix);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fixtures dir> <scratch dir>\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    scratch = argv[2];
    if (mkdir(scratch, 0755) != 0 && errno != EEXIST) {
        perror(scratch);
        return 2;
    }
    test_twins();
    test_vit_loads();
    test_refusals();
    test_open_errors();
    test_sniff();
    test_unpickle();
    test_damage();
    return t_finish("test_torch_ckpt");
}
