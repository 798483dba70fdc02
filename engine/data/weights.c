/* weights.c — sniffs a weights file and hands it to the reader of its
 * format; the one place that knows which formats exist. */
#define _GNU_SOURCE
#include "data/weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/torch_ckpt.h"

ember_weights_format ember_weights_sniff(const void *head, size_t len)
{
    const uint8_t *p = head;
    if (len == 0) return EMBER_WEIGHTS_EMPTY;
    if (len >= 4 && p[0] == 'P' && p[1] == 'K' && ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6)))
        return EMBER_WEIGHTS_TORCH_ZIP;
    if (ember_torch_is_legacy(head, len)) return EMBER_WEIGHTS_TORCH_LEGACY;
    if (p[0] == 0x80 && len >= 2 && p[1] >= 2 && p[1] <= 5) return EMBER_WEIGHTS_PICKLE;
    if (len >= 9) {
        uint64_t h = 0;
        for (int i = 7; i >= 0; i--) h = h << 8 | p[i];
        size_t i = 8;
        while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\t' || p[i] == '\r')) i++;
        if (h >= 2 && h <= EMBER_ST_MAX_HEADER && i < len && p[i] == '{') return EMBER_WEIGHTS_SAFETENSORS;
    }
    return EMBER_WEIGHTS_UNKNOWN;
}

const char *ember_weights_format_name(ember_weights_format fmt)
{
    switch (fmt) {
    case EMBER_WEIGHTS_EMPTY: return "an empty file";
    case EMBER_WEIGHTS_SAFETENSORS: return "safetensors";
    case EMBER_WEIGHTS_TORCH_ZIP: return "PyTorch checkpoint (zip)";
    case EMBER_WEIGHTS_TORCH_LEGACY: return "legacy PyTorch checkpoint";
    case EMBER_WEIGHTS_PICKLE: return "Python pickle";
    default: return "unknown";
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t l = strlen(s), k = strlen(suffix);
    return l >= k && !strcmp(s + l - k, suffix);
}

int ember_weights_open(ember_st_file *f, const char *path, ember_err *err)
{
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ember_err_set(err, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ember_err_set(err, "cannot stat %s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ember_err_set(err, "%s is a folder; give the weights file in it (model.safetensors or "
                                  "pytorch_model.bin)",
                             path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ember_err_set(err, "%s is not a regular file", path);
    }
    uint8_t head[32];
    size_t n = 0;
    while (n < sizeof head) {
        ssize_t r = pread(fd, head + n, sizeof head - n, (off_t)n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return ember_err_set(err, "cannot read %s: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    switch (ember_weights_sniff(head, n)) {
    case EMBER_WEIGHTS_EMPTY:
        return ember_err_set(err, "%s is empty", path);
    case EMBER_WEIGHTS_SAFETENSORS:
        return ember_st_open(f, path, err);
    case EMBER_WEIGHTS_TORCH_ZIP:
    case EMBER_WEIGHTS_TORCH_LEGACY:
    case EMBER_WEIGHTS_PICKLE:
        return ember_torch_open(f, path, err); /* it explains the formats it refuses */
    default:
        /* a damaged safetensors file gets that reader's precise message */
        if (ends_with(path, ".safetensors")) return ember_st_open(f, path, err);
        return ember_err_set(err,
                             "%s is neither a safetensors file nor a PyTorch checkpoint (torch.save's zip); "
                             "give model.safetensors or pytorch_model.bin",
                             path);
    }
}
