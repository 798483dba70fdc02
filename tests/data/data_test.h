/* data_test.h — helpers shared by the engine/data tests: the checks of
 * tests/engine/test_util.h (CHECK, t_failures, t_finish) and a scratch
 * folder with paths in it and recursive removal. */
#ifndef EMBER_DATA_TEST_H
#define EMBER_DATA_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include "test_util.h"

static char scratch[1024];

static inline int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void rm_rf(const char *p) { nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* scratch/name; eight buffers in turn, so a call can take several. */
static inline const char *sp(const char *name)
{
    static char bufs[8][1200];
    static int i = 0;
    char *b = bufs[i++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", scratch, name);
    return b;
}

#endif
