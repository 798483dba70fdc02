/* builtins_math.c — a few math builtins (sqrt, exp, log, floor, ceil)
 * with domain errors as Python's math module reports them. */
#include "internal.h"

#include <math.h>

static lang_value *ret(lang_ctx *cx, lang_value *v) { return v ? v : lang_raise(cx, "MemoryError", "out of memory"); }

static lang_value *b_sqrt(lang_ctx *cx, const lang_args *a)
{
    double x;
    if (lang_arg_number(cx, a, 0, &x) < 0)
        return NULL;
    if (x < 0)
        return lang_arg_error(cx, a, 0, "ValueError", "a number >= 0");
    return ret(cx, lang_float(sqrt(x)));
}

static lang_value *b_exp(lang_ctx *cx, const lang_args *a)
{
    double x;
    if (lang_arg_number(cx, a, 0, &x) < 0)
        return NULL;
    double r = exp(x);
    if (isinf(r) && isfinite(x))
        return lang_raise(cx, "OverflowError", "exp: the result is too large for a float");
    return ret(cx, lang_float(r));
}

static lang_value *b_log(lang_ctx *cx, const lang_args *a)
{
    double x, base = 0;
    if (lang_arg_number(cx, a, 0, &x) < 0)
        return NULL;
    if (!(x > 0))
        return lang_arg_error(cx, a, 0, "ValueError", "a number > 0");
    if (a->v[1]->kind != LANG_NONE) {
        if (lang_arg_number(cx, a, 1, &base) < 0)
            return NULL;
        if (!(base > 0) || base == 1)
            return lang_arg_error(cx, a, 1, "ValueError", "a number > 0 other than 1");
        return ret(cx, lang_float(log(x) / log(base)));
    }
    return ret(cx, lang_float(log(x)));
}

static lang_value *rounding(lang_ctx *cx, const lang_args *a, double (*fn)(double))
{
    if (a->v[0]->kind == LANG_INT)
        return lang_incref(a->v[0]);
    double x;
    if (lang_arg_number(cx, a, 0, &x) < 0)
        return NULL;
    double r = fn(x);
    if (isnan(r))
        return lang_raise(cx, "ValueError", "%s: cannot convert float nan to integer", a->fname);
    if (!(r < 9223372036854775808.0 && r >= -9223372036854775808.0))
        return lang_raise(cx, "OverflowError", "%s: %g does not fit in a 64-bit int", a->fname, x);
    return ret(cx, lang_int((int64_t)r));
}
static lang_value *b_floor(lang_ctx *cx, const lang_args *a) { return rounding(cx, a, floor); }
static lang_value *b_ceil(lang_ctx *cx, const lang_args *a) { return rounding(cx, a, ceil); }

static const lang_builtin math_builtins[] = {
    {"sqrt(x)", "Return the square root of x (a float).", b_sqrt},
    {"exp(x)", "Return e raised to the power x.", b_exp},
    {"log(x, base=none)", "Return the natural logarithm of x, or its logarithm to the given base.", b_log},
    {"floor(x)", "Return the largest int <= x.", b_floor},
    {"ceil(x)", "Return the smallest int >= x.", b_ceil},
};

void register_math_builtins(void) { lang_register_builtins(math_builtins, sizeof math_builtins / sizeof *math_builtins); }
