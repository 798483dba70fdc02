/* traceback.c — the IPython-style traceback of an error: a header, the
 * cell's lines around the error with an arrow, a caret line under the
 * columns at fault, then "ename: message". ANSI colours as IPython uses.
 *
 * A traceback goes to the front end twice (the error message on IOPub and
 * the execute_reply), so its size must not depend on the cell's: a long line
 * is shown as a window of TB_WINDOW code points around the caret, with "..."
 * on each side that was cut, and the caret stays under the right code point. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RED "\x1b[0;31m"
#define GREEN "\x1b[0;32m"
#define BRED "\x1b[1;31m"
#define CYAN "\x1b[0;36m"
#define RESET "\x1b[0m"

/* Code points of a source line shown at most (the window's width). */
#define TB_WINDOW 120
#define TB_ELLIPSIS "..."
#define TB_ELLIPSIS_COLS 3
_Static_assert(sizeof TB_ELLIPSIS - 1 == TB_ELLIPSIS_COLS, "the caret line pads for the ellipsis");

static int append(json_t *tb, strbuf *b)
{
    size_t len = b->len;
    char *s = sb_take(b);
    memset(b, 0, sizeof *b);
    if (!s)
        return -1;
    json_t *j = json_string_lossy(s, len);
    free(s);
    if (!j)
        return -1;
    return json_array_append_new(tb, j);
}

/* One code point of source as it is echoed. Control characters (a NUL that
 * made the error, an escape that would recolour the terminal) become their
 * Unicode "control picture", still one code point, so the caret stays
 * aligned; tabs stay tabs. */
static void echo_cp(strbuf *b, const char *s, size_t k, uint32_t cp)
{
    char u[4];
    if (cp == '\t' || cp >= 0x20) {
        if (cp == 0x7F)
            sb_add(b, u, utf8_encode(0x2421, u));
        else if (cp == 0xFFFD && k == 1)
            sb_add(b, "\xEF\xBF\xBD", 3); /* a byte that is not UTF-8 */
        else
            sb_add(b, s, k);
    } else {
        sb_add(b, u, utf8_encode(0x2400 + cp, u));
    }
}

/* Byte offset in line[0, len) of code point index cp (clamped to len). */
static size_t cp_offset(const char *line, size_t len, size_t from_byte, size_t from_cp,
                        size_t cp)
{
    size_t i = from_byte, c = from_cp;
    while (i < len && c < cp) {
        uint32_t v;
        i += utf8_decode(line + i, len - i, &v);
        c++;
    }
    return i;
}

/* Echoes code points [ws, we) of line[0, len), with an ellipsis where the
 * line goes on beyond either end of the window. */
static void echo_window(strbuf *b, const char *line, size_t len, size_t ws, size_t we)
{
    size_t a = cp_offset(line, len, 0, 0, ws);
    if (ws > 0 && len > 0)
        sb_adds(b, TB_ELLIPSIS);
    size_t i = a, c = ws;
    while (i < len && c < we) {
        uint32_t cp;
        size_t k = utf8_decode(line + i, len - i, &cp);
        echo_cp(b, line + i, k, cp);
        i += k;
        c++;
    }
    if (i < len)
        sb_adds(b, TB_ELLIPSIS);
}

/* The window [*ws, *we) of code points to show for a line of ncp code points
 * with the caret on [c0, c0 + w): all of it when it fits, else TB_WINDOW code
 * points placed so the caret's start is inside and its span as well as fits. */
static void choose_window(size_t ncp, size_t c0, size_t w, size_t *ws, size_t *we)
{
    /* an error at the end of a line puts the caret just past its last code point */
    size_t total = c0 + 1 > ncp ? c0 + 1 : ncp;
    if (total <= TB_WINDOW) {
        *ws = 0;
        *we = total;
        return;
    }
    size_t shown = w < TB_WINDOW ? w : TB_WINDOW;
    size_t mid = c0 + shown / 2;
    size_t start = mid > TB_WINDOW / 2 ? mid - TB_WINDOW / 2 : 0;
    if (start > total - TB_WINDOW)
        start = total - TB_WINDOW;
    if (start > c0)
        start = c0;
    *ws = start;
    *we = start + TB_WINDOW;
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
        /* the error line's extent and the caret's columns in it */
        size_t le = e->pos;
        while (le < srclen && src[le] != '\n')
            le++;
        size_t c0 = (size_t)col - 1;
        size_t endpos = e->end > e->pos ? e->end : e->pos + 1;
        if (endpos > le)
            endpos = le;
        size_t width = e->pos < endpos ? utf8_count(src + e->pos, endpos - e->pos) : 1;
        if (width == 0)
            width = 1;
        size_t ncp = c0 + utf8_count(src + e->pos, le - e->pos);
        size_t ws, we;
        choose_window(ncp, c0, width, &ws, &we);
        if (c0 + width > we)
            width = we - c0;

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
            echo_window(&b, src + st, en - st, ws, we);
            sb_adds(&b, "\n");
            if (k == 2) {
                /* the caret line under [pos, end) on this line */
                sb_adds(&b, "      "); /* under "----> " */
                int digits = snprintf(NULL, 0, "%d", ln);
                for (int d = 0; d < digits + 1; d++)
                    sb_add(&b, " ", 1);
                for (int d = 0; ws > 0 && d < TB_ELLIPSIS_COLS; d++)
                    sb_add(&b, " ", 1);
                /* a tab above stays a tab below, so the caret lines up */
                size_t i = cp_offset(src + st, en - st, 0, 0, ws);
                for (size_t c = ws; c < c0; c++) {
                    uint32_t cp = ' ';
                    if (i < en - st)
                        i += utf8_decode(src + st + i, en - st - i, &cp);
                    sb_add(&b, cp == '\t' ? "\t" : " ", 1);
                }
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
