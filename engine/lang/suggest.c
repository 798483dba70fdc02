/* suggest.c — "Did you mean ...?": the closest known name by
 * Damerau-Levenshtein distance (optimal string alignment). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUGGEST_MAX_LEN 63

size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN)
        return (size_t)-1;
    size_t d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

void suggest_init(suggester *s, const char *word)
{
    memset(s, 0, sizeof *s);
    s->word = word;
    s->best_d = (size_t)-1;
}

void suggest_add(void *acc, const char *cand)
{
    suggester *s = acc;
    if (!strcmp(cand, s->word))
        return;
    size_t d = edit_distance(s->word, cand);
    if (d < s->best_d) {
        s->best_d = d;
        snprintf(s->buf, sizeof s->buf, "%s", cand);
        s->best = s->buf;
    }
}

const char *suggest_result(suggester *s)
{
    if (!s->best)
        return NULL;
    size_t len = strlen(s->word);
    size_t limit = len <= 3 ? 1 : len <= 8 ? 2 : 3;
    if (s->best_d > limit || s->best_d >= len)
        return NULL;
    return s->best;
}
