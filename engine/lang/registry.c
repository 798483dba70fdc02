/* registry.c — the process-wide table of builtins, and the parser of their
 * signature strings (the one place a builtin's parameters are described). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define REGISTRY_MAX 1024

/* Fixed storage: registration happens at start-up, before any engine runs,
 * and the table lives as long as the process (nothing to free). */
static const lang_builtin *registry[REGISTRY_MAX];
static size_t registry_n;

void lang_builtin_name(const lang_builtin *def, char *buf, size_t size)
{
    const char *s = def->signature;
    size_t n = strcspn(s, "(");
    snprintf(buf, size, "%.*s", (int)n, s);
}

static int is_ident(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9'); }

int sig_parse(const char *s, sig *out)
{
    memset(out, 0, sizeof *out);
    out->rest = -1;
    size_t i = 0;
    while (is_ident((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= sizeof out->name || s[i] != '(')
        return -1;
    memcpy(out->name, s, i);
    i++;
    int kwonly = 0;
    for (;;) {
        while (s[i] == ' ')
            i++;
        if (s[i] == ')')
            break;
        if (out->np >= SIG_MAX_PARAMS)
            return -1;
        int star = 0;
        if (s[i] == '*') {
            star = 1;
            i++;
        }
        size_t st = i;
        while (is_ident((unsigned char)s[i]))
            i++;
        size_t len = i - st;
        if (len == 0 || len >= sizeof out->p[0].name)
            return -1;
        if (star) {
            if (out->rest >= 0)
                return -1;
            out->rest = (int)out->np;
            memcpy(out->rest_name, s + st, len);
            out->rest_name[len] = 0;
            kwonly = 1;
        } else {
            sig_param *p = &out->p[out->np++];
            memcpy(p->name, s + st, len);
            p->name[len] = 0;
            p->kwonly = kwonly;
            while (s[i] == ' ')
                i++;
            if (s[i] == '=') {
                i++;
                while (s[i] == ' ')
                    i++;
                size_t ds = i;
                int depth = 0;
                char q = 0;
                for (; s[i]; i++) {
                    char c = s[i];
                    if (q) {
                        if (c == '\\' && s[i + 1])
                            i++;
                        else if (c == q)
                            q = 0;
                        continue;
                    }
                    if (c == '\'' || c == '"')
                        q = c;
                    else if (c == '[' || c == '(')
                        depth++;
                    else if ((c == ']' || c == ')') && depth > 0)
                        depth--;
                    else if ((c == ',' || c == ')') && depth == 0)
                        break;
                }
                if (!s[i] || i == ds)
                    return -1;
                p->dflt = s + ds;
                p->dflt_len = i - ds;
                while (p->dflt_len > 0 && p->dflt[p->dflt_len - 1] == ' ')
                    p->dflt_len--;
            } else if (!kwonly) {
                /* a required positional parameter after one with a default is a mistake */
                for (size_t k = 0; k + 1 < out->np; k++)
                    if (out->p[k].dflt && !out->p[k].kwonly)
                        return -1;
            }
        }
        while (s[i] == ' ')
            i++;
        if (s[i] == ',') {
            i++;
            continue;
        }
        if (s[i] != ')')
            return -1;
    }
    return 0;
}

int lang_register_builtins(const lang_builtin *defs, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        sig sg;
        if (!defs[i].fn || !defs[i].doc || sig_parse(defs[i].signature, &sg) < 0) {
            fprintf(stderr, "ember: builtin signature does not parse: %s\n",
                    defs[i].signature ? defs[i].signature : "(null)");
            rc = -1;
            continue;
        }
        size_t k;
        for (k = 0; k < registry_n; k++) {
            if (registry[k] == &defs[i])
                break;
            char name[64];
            lang_builtin_name(registry[k], name, sizeof name);
            if (!strcmp(name, sg.name)) {
                registry[k] = &defs[i]; /* replaces */
                break;
            }
        }
        if (k < registry_n)
            continue;
        if (registry_n >= REGISTRY_MAX) {
            fprintf(stderr, "ember: builtin registry full (%d)\n", REGISTRY_MAX);
            return -1;
        }
        registry[registry_n++] = &defs[i];
    }
    return rc;
}

const lang_builtin *lang_find_builtin(const char *name)
{
    for (size_t k = 0; k < registry_n; k++) {
        char n[64];
        lang_builtin_name(registry[k], n, sizeof n);
        if (!strcmp(n, name))
            return registry[k];
    }
    return NULL;
}

const lang_builtin *lang_builtin_at(size_t i) { return i < registry_n ? registry[i] : NULL; }
