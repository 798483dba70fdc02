/* cifar10.h — CIFAR-10 in its official binary layout: parse records, read
 * the official archive (cifar-10-binary.tar.gz) or its extracted folder,
 * and find / download / verify it in a cache folder.
 *
 * Record: 1 label byte, then 1024 red, 1024 green, 1024 blue bytes, rows top
 * to bottom (3073 bytes). Files: cifar-10-batches-bin/data_batch_<k>.bin
 * (train, any number of them, read in k order), test_batch.bin (test),
 * batches.meta.txt (class names, one a line). Any number of records per file
 * is accepted (the official files hold 10,000; ../shared/data holds a
 * subset); a file whose size is not a multiple of 3073, a label >= 10 or a
 * missing split is an error naming the file. */
#ifndef EMBER_DATA_CIFAR10_H
#define EMBER_DATA_CIFAR10_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"
#include "data/fetch.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_CIFAR10_RECORD 3073
#define EMBER_CIFAR10_URL "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
#define EMBER_CIFAR10_MD5 "c32a1d4ab5d03f1284b67883e8d87530"
#define EMBER_CIFAR10_ARCHIVE "cifar-10-binary.tar.gz"

typedef enum { EMBER_CIFAR10_TRAIN = 0, EMBER_CIFAR10_TEST = 1 } ember_cifar10_split;

/* Appends the records in buf (len bytes, a multiple of 3073) to ds, which
 * must have been set up by an earlier call or be zeroed (then it is set to
 * 32x32x3, 10 classes named as the official meta file). `what` names the
 * source in errors. */
int ember_cifar10_append_records(ember_dataset *ds, const uint8_t *buf, size_t len,
                                 const char *what, ember_err *err);

/* Reads one split from a .tar.gz (or .tar) archive laid out as the official
 * one, streaming it (libarchive). Class names from batches.meta.txt when
 * present. *out is written only on success. */
int ember_cifar10_read_archive(const char *archive_path, ember_cifar10_split split,
                               ember_dataset *out, ember_err *err);
/* The same from an extracted folder (the one holding data_batch_1.bin, or its
 * parent holding cifar-10-batches-bin/). */
int ember_cifar10_read_dir(const char *dir, ember_cifar10_split split, ember_dataset *out,
                           ember_err *err);

/* Where the data comes from, for ember_cifar10_load. */
typedef struct ember_cifar10_source {
    /* A .tar.gz/.tar archive, an extracted folder, or a cache folder that
     * holds cifar-10-binary.tar.gz. NULL: $EMBER_DATA/cifar10, else
     * $XDG_CACHE_HOME/ember/cifar10, else ~/.cache/ember/cifar10. */
    const char *root;
    int download;          /* fetch the archive into the cache folder when missing */
    const char *url;       /* NULL: EMBER_CIFAR10_URL */
    /* Expected md5 of the archive (32 hex digits), checked when the archive
     * is downloaded and when it is read from the cache folder. NULL: the
     * official md5 when url is the official one, else no check. */
    const char *md5;
    ember_fetch_progress progress; /* may be NULL */
    void *progress_ctx;
} ember_cifar10_source;

/* Finds (downloading and verifying when asked) and reads one split. The
 * error says what was tried and what to do (pass root=, allow download, check
 * the network...). */
int ember_cifar10_load(const ember_cifar10_source *src, ember_cifar10_split split,
                       ember_dataset *out, ember_err *err);

#ifdef __cplusplus
}
#endif
#endif
