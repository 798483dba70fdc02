/* complete_util.h — "code with a | marking the cursor" helpers shared by
 * the completion and inspection tests. */
#ifndef EMBER_COMPLETE_UTIL_H
#define EMBER_COMPLETE_UTIL_H
#include <string.h>

/* Removes the first '|' from marked into out; returns the cursor position
 * in code points (the end when there is no '|'). */
static int split_cursor(const char *marked, char *out, size_t size)
{
    const char *bar = strchr(marked, '|');
    size_t k = bar ? (size_t)(bar - marked) : strlen(marked);
    snprintf(out, size, "%.*s%s", (int)k, marked, bar ? bar + 1 : "");
    int cp = 0;
    for (size_t j = 0; j < k; j++)
        if (((unsigned char)out[j] & 0xC0) != 0x80)
            cp++;
    return cp;
}
#endif
