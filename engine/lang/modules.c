/* modules.c — the one place that lists which builtin tables are registered.
 * An engine module (tensors, data, models, plots) adds its registration
 * call here; nothing else in the language needs to change. */
#include "internal.h"

#ifdef EMBER_HAVE_VIZ
#include "bind.h" /* engine/viz: images, plots, tables, progress bars */
#endif

void register_modules(void)
{
    register_core_builtins();
    register_math_builtins();
#ifdef EMBER_HAVE_VIZ
    register_viz_builtins();
#endif
}
