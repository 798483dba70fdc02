/* backend_load.c — finds the CUDA backend at run time. The engine links no
 * CUDA library: libember_cuda.so is dlopen'ed the first time a GPU is
 * wanted, so the kernel starts fast and runs where CUDA is absent. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"

#define CUDA_LIB_NAME "libember_cuda.so"

static struct {
    int tried;
    void *handle;
    const ember_backend *be;
    char why[400];
} cuda_state;

/* Directory of the running executable, or "" when unknown. */
static void exe_dir(char *out, size_t len) {
    out[0] = '\0';
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash) return;
    *slash = '\0';
    snprintf(out, len, "%s", path);
}

static void append(char *buf, size_t len, const char *fmt, const char *a, const char *b) {
    size_t used = strlen(buf);
    if (used + 1 >= len) return;
    snprintf(buf + used, len - used, fmt, a, b);
}

static int try_open(const char *path, char *why, size_t whylen) {
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        append(why, whylen, "%s%s", why[0] ? "; " : "", e ? e : path);
        return -1;
    }
    cuda_state.handle = h;
    return 0;
}

static int load_cuda(ember_err *err) {
    char why[1024] = "";
    const char *env = getenv("EMBER_CUDA_LIB");
    int opened = -1;
    if (env && env[0]) {
        /* An explicit choice is the only candidate: silently using another
         * library would hide the user's mistake. */
        opened = try_open(env, why, sizeof why);
    } else {
        char dir[PATH_MAX], path[PATH_MAX + 32];
        exe_dir(dir, sizeof dir);
        if (dir[0]) {
            snprintf(path, sizeof path, "%s/%s", dir, CUDA_LIB_NAME);
            if (access(path, F_OK) == 0) opened = try_open(path, why, sizeof why);
        }
#ifdef EMBER_CUDA_BUILD_DIR
        if (opened) {
            snprintf(path, sizeof path, "%s/%s", EMBER_CUDA_BUILD_DIR, CUDA_LIB_NAME);
            if (access(path, F_OK) == 0) opened = try_open(path, why, sizeof why);
        }
#endif
        if (opened) opened = try_open(CUDA_LIB_NAME, why, sizeof why);
    }
    if (opened) {
        snprintf(cuda_state.why, sizeof cuda_state.why, "%s", why);
        return ember_err_set(err, "CUDA backend not available: %s; using the CPU", cuda_state.why);
    }
    dlerror();
    void *sym = dlsym(cuda_state.handle, EMBER_CUDA_ENTRY);
    if (!sym) {
        snprintf(cuda_state.why, sizeof cuda_state.why, "%s has no symbol %s", CUDA_LIB_NAME,
                 EMBER_CUDA_ENTRY);
        goto fail;
    }
    ember_backend_open_fn open_fn;
    memcpy(&open_fn, &sym, sizeof open_fn);
    ember_err e2;
    ember_err_clear(&e2);
    const ember_backend *be = NULL;
    if (open_fn(&be, &e2)) {
        snprintf(cuda_state.why, sizeof cuda_state.why, "%s", e2.msg[0] ? e2.msg : "it failed to start");
        goto fail;
    }
    if (ember_backend_validate(be, &e2)) {
        snprintf(cuda_state.why, sizeof cuda_state.why, "%s", e2.msg);
        if (be && be->close) be->close(be);
        goto fail;
    }
    cuda_state.be = be;
    return 0;
fail:
    dlclose(cuda_state.handle);
    cuda_state.handle = NULL;
    return ember_err_set(err, "CUDA backend not available: %s; using the CPU", cuda_state.why);
}

int ember_backend_cuda(const ember_backend **out, ember_err *err) {
    *out = NULL;
    if (!cuda_state.tried) {
        cuda_state.tried = 1;
        if (load_cuda(err)) return -1;
    }
    if (!cuda_state.be)
        return ember_err_set(err, "CUDA backend not available: %s; using the CPU", cuda_state.why);
    *out = cuda_state.be;
    return 0;
}

void ember_backend_cuda_unload(void) {
    if (cuda_state.be && cuda_state.be->close) cuda_state.be->close(cuda_state.be);
    if (cuda_state.handle) dlclose(cuda_state.handle);
    memset(&cuda_state, 0, sizeof cuda_state);
}

int ember_backend_for(ember_device dev, const ember_backend **out, ember_err *err) {
    if (dev == EMBER_DEV_CPU) {
        *out = ember_backend_cpu();
        return 0;
    }
    if (dev == EMBER_DEV_CUDA) return ember_backend_cuda(out, err);
    *out = NULL;
    return ember_err_set(err, "unknown device %d", (int)dev);
}
