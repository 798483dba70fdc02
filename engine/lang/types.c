/* types.c — the type descriptors of the plain values (none, bool, int,
 * float, builtin functions): their names and help text. str and list live
 * in str_methods.c and list_methods.c with their methods. */
#include "internal.h"

#include <stdlib.h>

static char *no_repr(const lang_value *v) { return lang_repr(v); }

const lang_type lang_none_type = {
    .name = "none",
    .doc = "none: the absence of a value (also written None). A cell whose last value is none shows nothing.",
    .repr = no_repr,
};
const lang_type lang_bool_type = {
    .name = "bool",
    .doc = "bool: true or false (also written True / False). Counts as 1 / 0 in arithmetic.",
    .repr = no_repr,
};
const lang_type lang_int_type = {
    .name = "int",
    .doc = "int: a 64-bit signed integer. Arithmetic that leaves the 64-bit range raises OverflowError; "
           "/ always gives a float, // and % round towards minus infinity as in Python.",
    .repr = no_repr,
};
const lang_type lang_float_type = {
    .name = "float",
    .doc = "float: a 64-bit IEEE double, shown with the fewest digits that read back exactly (0.1, 1e-05).",
    .repr = no_repr,
};
const lang_type lang_func_type = {
    .name = "builtin",
    .doc = "builtin: a function provided by the engine. help(f) shows its signature and docstring.",
    .repr = no_repr,
};
