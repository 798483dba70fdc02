/* bind.c — registers the viz builtins with the language (modules.c calls
 * register_viz_builtins), and carries the one LeakSanitizer suppression
 * that drawing text in a sanitized kernel needs (see the end of the file). */
#include "bind.h"

void register_viz_builtins(void)
{
    register_viz_image_builtins();
    register_viz_plot_builtins();
    register_viz_table_builtins();
    register_viz_progress_builtins();
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VIZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(VIZ_ASAN)
#define VIZ_ASAN 1
#endif

#ifdef VIZ_ASAN
/* fontconfig (2.14, Debian 12) leaks a few hundred bytes once while parsing
 * its configuration in FcInit; the leak is inside the library and happens in
 * any process that draws a plot. LeakSanitizer reads this hook at exit, so
 * every sanitized binary that links the bindings (the kernel under `make
 * asan`, the language tests) ignores that one leak without needing
 * LSAN_OPTIONS. The fast unwinder stops at the library's first frame, hence
 * the module name (the same rule as tests/viz/lsan.supp). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }
/* Without this LSan writes a "Suppressions used" table into its log file
 * even when nothing leaked, and the test harness counts any log as a report. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "print_suppressions=0"; }
#endif
