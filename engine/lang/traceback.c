/* traceback.c — the IPython-style traceback of an error: a header, the
 * cell's lines around the error with an arrow, a caret line under the
 * columns at fault, then "ename: message". ANSI colours as IPython uses. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RED "\x1b[0;31m"
#define GREEN "\x1b[0;32m"
#define BRED "\x1b[1;31m"
#define CYAN "\x1b[0;36m"
#define RESET "\x1b[0m"

static int append(json_t *tb, strbuf *b)
{
    char *s = sb_take(b);
    memset(b, 0, sizeof *b);
    if (!s)
        return -1;
    json_t *j = json_string_lossy(s, strlen(s));
    free(s);
    if (!j)
        return -1;
    return json_array_append_new(tb, j);
}

json_t *make_traceback(const char *src, size_t srclen, const lang_error *e, const char *where)
{
    json_t *tb = json_array();
    if (!tb)
        return NULL;
    strbuf b = {0};
    sb_adds(&b, RED "---------------------------------------------------------------------------" RESET);
    if (strcmp(e->ename, "SyntaxError")) {
        /* as IPython: the error's name, and on the right where it came from */
        int pad = 42 - (int)strlen(e->ename);
        sb_addf(&b, "\n" RED "%s" RESET "%*sTraceback (most recent call last)", e->ename, pad > 1 ? pad : 1, "");
    }
    if (append(tb, &b) < 0)
        goto fail;
    if (e->has_pos && src && e->pos <= srclen) {
        int line, col;
        src_line_col(src, e->pos, &line, &col);
        sb_addf(&b, CYAN "%s" RESET ", line %d\n", where, line);
        /* up to two lines of context before the error line */
        size_t starts[3] = {0, 0, 0};
        size_t ls = e->pos;
        while (ls > 0 && src[ls - 1] != '\n')
            ls--;
        int first = line;
        starts[2] = ls;
        for (int k = 1; k >= 0 && first > 1; k--) {
            size_t p = starts[k + 1] - 1; /* the '\n' ending the previous line */
            size_t q = p;
            while (q > 0 && src[q - 1] != '\n')
                q--;
            starts[k] = q;
            first--;
        }
        int nctx = line - first;
        for (int k = 2 - nctx; k <= 2; k++) {
            size_t st = starts[k];
            size_t en = st;
            while (en < srclen && src[en] != '\n')
                en++;
            int ln = line - (2 - k);
            if (k == 2)
                sb_addf(&b, GREEN "----> %d" RESET " ", ln);
            else
                sb_addf(&b, GREEN "%6d" RESET " ", ln);
            sb_add(&b, src + st, en - st);
            sb_adds(&b, "\n");
            if (k == 2) {
                /* the caret line under [pos, end) on this line */
                size_t endpos = e->end > e->pos ? e->end : e->pos + 1;
                if (endpos > en)
                    endpos = en;
                size_t width = e->pos < endpos ? utf8_count(src + e->pos, endpos - e->pos) : 1;
                if (width == 0)
                    width = 1;
                sb_adds(&b, "      "); /* under "----> " */
                int digits = snprintf(NULL, 0, "%d", ln);
                for (int d = 0; d < digits + 1; d++)
                    sb_add(&b, " ", 1);
                for (int c = 1; c < col; c++)
                    sb_add(&b, " ", 1);
                sb_adds(&b, BRED);
                for (size_t w = 0; w < width; w++)
                    sb_add(&b, "^", 1);
                sb_adds(&b, RESET);
            }
        }
        if (append(tb, &b) < 0)
            goto fail;
    }
    sb_addf(&b, RED "%s" RESET ": %s", e->ename, e->msg ? e->msg : "");
    if (append(tb, &b) < 0)
        goto fail;
    return tb;
fail:
    free(b.p);
    json_decref(tb);
    return NULL;
}
