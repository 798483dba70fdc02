/* help.c — help texts, built from the one table entry each builtin and
 * method carries (signature + docstring); used by help(), inspect and
 * the completion's docs alike. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void add_func(strbuf *b, const lang_builtin *def, const lang_type *owner)
{
    if (owner)
        sb_addf(b, "%s.", owner->name);
    sb_adds(b, def->signature);
    sb_adds(b, "\n\n");
    sb_adds(b, def->doc);
}

/* The first sentence of a docstring. */
static void add_summary(strbuf *b, const char *doc)
{
    size_t n = strcspn(doc, "\n");
    const char *dot = doc;
    while ((dot = strstr(dot, ". ")) && (size_t)(dot - doc) < n) {
        n = (size_t)(dot - doc) + 1;
        break;
    }
    sb_add(b, doc, n);
}

char *help_text(const lang_value *v)
{
    strbuf b = {0};
    if (v->kind == LANG_FUNC) {
        add_func(&b, v->as.func.def, v->as.func.self ? v->as.func.owner : NULL);
        return sb_take(&b);
    }
    const lang_type *t = lang_type_of(v);
    sb_adds(&b, t->doc ? t->doc : t->name);
    if (t->nmethods) {
        sb_addf(&b, "\n\nMethods of %s:\n", t->name);
        for (size_t i = 0; i < t->nmethods; i++) {
            sb_addf(&b, "  %s.%s\n      ", t->name, t->methods[i].signature);
            add_summary(&b, t->methods[i].doc);
            sb_adds(&b, "\n");
        }
    }
    return sb_take(&b);
}

char *help_index(void)
{
    strbuf b = {0};
    sb_adds(&b, "Ember builtins (help(name) tells more about one; Shift+Tab inside a call shows its signature):\n\n");
    for (size_t i = 0; lang_builtin_at(i); i++) {
        const lang_builtin *def = lang_builtin_at(i);
        sb_addf(&b, "  %s\n      ", def->signature);
        add_summary(&b, def->doc);
        sb_adds(&b, "\n");
    }
    sb_adds(&b, "\nValues: none, true/false, int (64-bit), float, str '...', list [a, b]. "
                "help(3), help('') or help([]) describe a type and its methods.\n");
    return sb_take(&b);
}
