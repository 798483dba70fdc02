/* bind_table.c — table(rows, header=...): a table value that shows as an
 * HTML table in the notebook and as aligned columns in plain text (metrics,
 * model summaries, per-class accuracy), and saves as CSV. */
#include "bind.h"
#include "fileio/tabular.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CELLS 100000

typedef struct viz_table {
    char *title;
    size_t rows, cols;
    char **header; /* cols strings, or NULL */
    char **cells;  /* rows*cols strings ("" for a short row) */
    int *numeric;  /* per column: every cell a number, so it is right-aligned */
} viz_table;

static void table_free(void *data)
{
    viz_table *t = data;
    for (size_t i = 0; t->header && i < t->cols; i++)
        free(t->header[i]);
    for (size_t i = 0; t->cells && i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->header);
    free(t->cells);
    free(t->numeric);
    free(t->title);
    free(t);
}

static const viz_table *table_of(const lang_value *v) { return v->as.obj.data; }

/* Display width: code points (continuation bytes do not count). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void pad(lang_strbuf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lang_sb_add(b, " ", 1);
}

static char *table_repr(const lang_value *self)
{
    const viz_table *t = table_of(self);
    size_t *w = calloc(t->cols ? t->cols : 1, sizeof *w);
    if (!w)
        return NULL;
    for (size_t c = 0; c < t->cols; c++) {
        if (t->header)
            w[c] = text_width(t->header[c]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t x = text_width(t->cells[r * t->cols + c]);
            w[c] = x > w[c] ? x : w[c];
        }
    }
    lang_strbuf b = {0};
    if (t->title) {
        lang_sb_adds(&b, t->title);
        lang_sb_adds(&b, "\n");
    }
    for (size_t r = 0; r < t->rows + (t->header ? 2 : 0); r++) {
        int is_head = t->header && r == 0, is_rule = t->header && r == 1;
        size_t row = r - (t->header ? 2 : 0);
        for (size_t c = 0; c < t->cols; c++) {
            if (c)
                lang_sb_adds(&b, "  ");
            if (is_rule) {
                for (size_t i = 0; i < w[c]; i++)
                    lang_sb_adds(&b, "-");
                continue;
            }
            const char *s = is_head ? t->header[c] : t->cells[row * t->cols + c];
            size_t gap = w[c] - text_width(s);
            int last = c + 1 == t->cols;
            if (t->numeric[c] && !is_head)
                pad(&b, gap);
            lang_sb_adds(&b, s);
            if ((!t->numeric[c] || is_head) && !last)
                pad(&b, gap);
        }
        if (r + 1 < t->rows + (t->header ? 2 : 0))
            lang_sb_adds(&b, "\n");
    }
    free(w);
    return lang_sb_take(&b);
}

static json_t *table_mime(const lang_value *self)
{
    const viz_table *t = table_of(self);
    lang_strbuf b = {0};
    /* JupyterLab and nbconvert style plain <table>s; only alignment is ours */
    lang_sb_adds(&b, "<table class=\"ember-table\">");
    if (t->title) {
        lang_sb_adds(&b, "<caption>");
        lang_sb_html(&b, t->title);
        lang_sb_adds(&b, "</caption>");
    }
    if (t->header) {
        lang_sb_adds(&b, "<thead><tr>");
        for (size_t c = 0; c < t->cols; c++) {
            lang_sb_adds(&b, t->numeric[c] ? "<th style=\"text-align:right\">" : "<th style=\"text-align:left\">");
            lang_sb_html(&b, t->header[c]);
            lang_sb_adds(&b, "</th>");
        }
        lang_sb_adds(&b, "</tr></thead>");
    }
    lang_sb_adds(&b, "<tbody>");
    for (size_t r = 0; r < t->rows; r++) {
        lang_sb_adds(&b, "<tr>");
        for (size_t c = 0; c < t->cols; c++) {
            lang_sb_adds(&b, t->numeric[c] ? "<td style=\"text-align:right\">" : "<td style=\"text-align:left\">");
            lang_sb_html(&b, t->cells[r * t->cols + c]);
            lang_sb_adds(&b, "</td>");
        }
        lang_sb_adds(&b, "</tr>");
    }
    lang_sb_adds(&b, "</tbody></table>");
    return lang_sb_html_bundle(&b);
}

static int table_len(lang_ctx *cx, lang_value *self, int64_t *out)
{
    (void)cx;
    *out = (int64_t)table_of(self)->rows;
    return 0;
}

/* save(path): .csv, the cells as shown (the header first when there is one). */
static lang_value *m_table_save(lang_ctx *cx, const lang_args *a)
{
    const viz_table *t = table_of(a->self);
    const char *path;
    if (viz_save_path(cx, a, &path) < 0)
        return NULL;
    char ext[16];
    viz_save_ext(path, ext, sizeof ext);
    if (strcmp(ext, ".csv"))
        return viz_save_unsupported(cx, a->fname, path, "a table", ".csv");
    ember_csv c = {0};
    for (size_t k = 0; t->header && k < t->cols; k++)
        ember_csv_str(&c, t->header[k]);
    if (t->header)
        ember_csv_end_row(&c);
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t k = 0; k < t->cols; k++)
            ember_csv_str(&c, t->cells[r * t->cols + k]);
        ember_csv_end_row(&c);
    }
    ember_ferr err;
    if (ember_csv_save(&c, path, &err) != 0)
        return viz_save_error(cx, a->fname, &err);
    return lang_none();
}

static const lang_builtin table_methods[] = {
    {"save(path)",
     "Write the table to a .csv file at path: the header, then one line per row, each cell as "
     "shown. save(table, path) is the same.",
     m_table_save},
};

static const lang_type viz_table_type = {
    .name = "table",
    .doc = "table: rows of values shown as an HTML table in the notebook (aligned columns as "
           "plain text). Made by table(rows, header=...). len(t) is the number of rows; "
           "t.save(path) writes it as .csv.",
    .free = table_free,
    .repr = table_repr,
    .mime = table_mime,
    .len = table_len,
    .methods = table_methods,
    .nmethods = sizeof table_methods / sizeof *table_methods,
};

/* A cell's text: strings as they are, other values as their repr (none
 * leaves the cell empty). Numbers mark their column for right alignment. */
static char *cell_text(const lang_value *v, int *numeric)
{
    *numeric = v->kind == LANG_INT || v->kind == LANG_FLOAT;
    if (v->kind == LANG_NONE)
        return strdup("");
    return lang_to_str(v);
}

static lang_value *b_table(lang_ctx *cx, const lang_args *a)
{
    const lang_value *rows = a->v[0], *header = a->v[1];
    const char *title = NULL;
    if (a->v[2]->kind != LANG_NONE && lang_arg_str(cx, a, 2, &title) < 0)
        return NULL;
    if (rows->kind != LANG_LIST)
        return lang_arg_error(cx, a, 0, "TypeError", "a list of rows (each a list of values)");
    size_t nr = rows->as.list.len, nc = 0;
    for (size_t r = 0; r < nr; r++) {
        const lang_value *row = rows->as.list.items[r];
        if (row->kind != LANG_LIST)
            return lang_raise(cx, "TypeError", "table: row %zu is %s, not a list of values", r,
                              lang_type_name(row));
        nc = row->as.list.len > nc ? row->as.list.len : nc;
    }
    if (header->kind != LANG_NONE) {
        if (header->kind != LANG_LIST)
            return lang_arg_error(cx, a, 1, "TypeError", "none or a list of column names");
        nc = header->as.list.len > nc ? header->as.list.len : nc;
    }
    if (nc == 0)
        return lang_raise(cx, "ValueError", "table: no columns (give rows with values, or a header)");
    if (nr * nc > MAX_CELLS)
        return lang_raise(cx, "ValueError", "table: at most %d cells, got %zu", MAX_CELLS, nr * nc);
    viz_table *t = calloc(1, sizeof *t);
    if (!t)
        return lang_raise(cx, "MemoryError", "table: out of memory");
    t->rows = nr;
    t->cols = nc;
    t->cells = calloc(nr * nc + 1, sizeof *t->cells);
    t->numeric = calloc(nc, sizeof *t->numeric);
    t->title = title ? strdup(title) : NULL;
    int oom = !t->cells || !t->numeric || (title && !t->title);
    if (!oom && header->kind != LANG_NONE) {
        t->header = calloc(nc, sizeof *t->header);
        oom = !t->header;
        for (size_t c = 0; !oom && c < nc; c++) {
            int num;
            t->header[c] = c < header->as.list.len ? cell_text(header->as.list.items[c], &num) : strdup("");
            oom = !t->header[c];
        }
    }
    for (size_t c = 0; !oom && c < nc; c++)
        t->numeric[c] = nr > 0;
    for (size_t r = 0; !oom && r < nr; r++) {
        const lang_value *row = rows->as.list.items[r];
        for (size_t c = 0; !oom && c < nc; c++) {
            int num = 0;
            char *s = c < row->as.list.len ? cell_text(row->as.list.items[c], &num) : strdup("");
            t->cells[r * nc + c] = s;
            oom = !s;
            if (!num && !(c >= row->as.list.len || row->as.list.items[c]->kind == LANG_NONE))
                t->numeric[c] = 0;
        }
    }
    if (oom) {
        table_free(t);
        return lang_raise(cx, "MemoryError", "table: out of memory");
    }
    lang_value *v = lang_object(&viz_table_type, t);
    return v ? v : lang_raise(cx, "MemoryError", "table: out of memory");
}

lang_value *viz_table_value(lang_ctx *cx, const char *fname, lang_value *rows, lang_value *header)
{
    static const char *const names[] = {"rows", "header", "title"};
    lang_value *v[3] = {rows, header ? header : lang_none(), lang_none()};
    lang_args a = {.fname = fname, .names = names, .v = v, .n = 3};
    return b_table(cx, &a);
}

static const lang_builtin table_builtins[] = {
    {"table(rows, header=none, title=none)",
     "A table of values: rows is a list of rows, each a list of values; header names the "
     "columns. Shows as an HTML table in the notebook and as aligned columns in plain text; "
     "columns of numbers are right-aligned. Example: table([['cat', 0.91], ['dog', 0.84]], "
     "header=['class', 'accuracy']).",
     b_table},
};

void register_viz_table_builtins(void)
{
    lang_register_builtins(table_builtins, sizeof table_builtins / sizeof *table_builtins);
}
