/* color.h — colours given as text, for overlays and legends: CSS names
 * ('red', 'cornflowerblue'; case and spaces ignored), matplotlib's tab10
 * names ('tab:blue') and hex codes ('#f80', '#ff8800'). */
#ifndef EMBER_VIZ_COLOR_H
#define EMBER_VIZ_COLOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 0 and the colour in rgb, or -1 with a message in err that says what
 * forms are accepted. */
int ember_color_parse(const char *s, uint8_t rgb[3], char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
