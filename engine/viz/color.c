/* color.c — colours as people write them: CSS names ('red',
 * 'cornflowerblue'), matplotlib's tab10 names ('tab:blue'), and hex codes
 * ('#f80', '#ff8800'). See color.h. */
#include "color.h"
#include "viz_util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    uint32_t rgb;
} named;

/* The 148 CSS colour names (CSS Color Module Level 4, the list browsers,
 * matplotlib and Pillow share), sorted for bsearch. */
static const named css[] = {
    {"aliceblue", 0xf0f8ff}, {"antiquewhite", 0xfaebd7}, {"aqua", 0x00ffff},
    {"aquamarine", 0x7fffd4}, {"azure", 0xf0ffff}, {"beige", 0xf5f5dc}, {"bisque", 0xffe4c4},
    {"black", 0x000000}, {"blanchedalmond", 0xffebcd}, {"blue", 0x0000ff},
    {"blueviolet", 0x8a2be2}, {"brown", 0xa52a2a}, {"burlywood", 0xdeb887},
    {"cadetblue", 0x5f9ea0}, {"chartreuse", 0x7fff00}, {"chocolate", 0xd2691e},
    {"coral", 0xff7f50}, {"cornflowerblue", 0x6495ed}, {"cornsilk", 0xfff8dc},
    {"crimson", 0xdc143c}, {"cyan", 0x00ffff}, {"darkblue", 0x00008b}, {"darkcyan", 0x008b8b},
    {"darkgoldenrod", 0xb8860b}, {"darkgray", 0xa9a9a9}, {"darkgreen", 0x006400},
    {"darkgrey", 0xa9a9a9}, {"darkkhaki", 0xbdb76b}, {"darkmagenta", 0x8b008b},
    {"darkolivegreen", 0x556b2f}, {"darkorange", 0xff8c00}, {"darkorchid", 0x9932cc},
    {"darkred", 0x8b0000}, {"darksalmon", 0xe9967a}, {"darkseagreen", 0x8fbc8f},
    {"darkslateblue", 0x483d8b}, {"darkslategray", 0x2f4f4f}, {"darkslategrey", 0x2f4f4f},
    {"darkturquoise", 0x00ced1}, {"darkviolet", 0x9400d3}, {"deeppink", 0xff1493},
    {"deepskyblue", 0x00bfff}, {"dimgray", 0x696969}, {"dimgrey", 0x696969},
    {"dodgerblue", 0x1e90ff}, {"firebrick", 0xb22222}, {"floralwhite", 0xfffaf0},
    {"forestgreen", 0x228b22}, {"fuchsia", 0xff00ff}, {"gainsboro", 0xdcdcdc},
    {"ghostwhite", 0xf8f8ff}, {"gold", 0xffd700}, {"goldenrod", 0xdaa520}, {"gray", 0x808080},
    {"green", 0x008000}, {"greenyellow", 0xadff2f}, {"grey", 0x808080}, {"honeydew", 0xf0fff0},
    {"hotpink", 0xff69b4}, {"indianred", 0xcd5c5c}, {"indigo", 0x4b0082}, {"ivory", 0xfffff0},
    {"khaki", 0xf0e68c}, {"lavender", 0xe6e6fa}, {"lavenderblush", 0xfff0f5},
    {"lawngreen", 0x7cfc00}, {"lemonchiffon", 0xfffacd}, {"lightblue", 0xadd8e6},
    {"lightcoral", 0xf08080}, {"lightcyan", 0xe0ffff}, {"lightgoldenrodyellow", 0xfafad2},
    {"lightgray", 0xd3d3d3}, {"lightgreen", 0x90ee90}, {"lightgrey", 0xd3d3d3},
    {"lightpink", 0xffb6c1}, {"lightsalmon", 0xffa07a}, {"lightseagreen", 0x20b2aa},
    {"lightskyblue", 0x87cefa}, {"lightslategray", 0x778899}, {"lightslategrey", 0x778899},
    {"lightsteelblue", 0xb0c4de}, {"lightyellow", 0xffffe0}, {"lime", 0x00ff00},
    {"limegreen", 0x32cd32}, {"linen", 0xfaf0e6}, {"magenta", 0xff00ff}, {"maroon", 0x800000},
    {"mediumaquamarine", 0x66cdaa}, {"mediumblue", 0x0000cd}, {"mediumorchid", 0xba55d3},
    {"mediumpurple", 0x9370db}, {"mediumseagreen", 0x3cb371}, {"mediumslateblue", 0x7b68ee},
    {"mediumspringgreen", 0x00fa9a}, {"mediumturquoise", 0x48d1cc}, {"mediumvioletred", 0xc71585},
    {"midnightblue", 0x191970}, {"mintcream", 0xf5fffa}, {"mistyrose", 0xffe4e1},
    {"moccasin", 0xffe4b5}, {"navajowhite", 0xffdead}, {"navy", 0x000080}, {"oldlace", 0xfdf5e6},
    {"olive", 0x808000}, {"olivedrab", 0x6b8e23}, {"orange", 0xffa500}, {"orangered", 0xff4500},
    {"orchid", 0xda70d6}, {"palegoldenrod", 0xeee8aa}, {"palegreen", 0x98fb98},
    {"paleturquoise", 0xafeeee}, {"palevioletred", 0xdb7093}, {"papayawhip", 0xffefd5},
    {"peachpuff", 0xffdab9}, {"peru", 0xcd853f}, {"pink", 0xffc0cb}, {"plum", 0xdda0dd},
    {"powderblue", 0xb0e0e6}, {"purple", 0x800080}, {"rebeccapurple", 0x663399},
    {"red", 0xff0000}, {"rosybrown", 0xbc8f8f}, {"royalblue", 0x4169e1},
    {"saddlebrown", 0x8b4513}, {"salmon", 0xfa8072}, {"sandybrown", 0xf4a460},
    {"seagreen", 0x2e8b57}, {"seashell", 0xfff5ee}, {"sienna", 0xa0522d}, {"silver", 0xc0c0c0},
    {"skyblue", 0x87ceeb}, {"slateblue", 0x6a5acd}, {"slategray", 0x708090},
    {"slategrey", 0x708090}, {"snow", 0xfffafa}, {"springgreen", 0x00ff7f},
    {"steelblue", 0x4682b4}, {"tan", 0xd2b48c}, {"teal", 0x008080}, {"thistle", 0xd8bfd8},
    {"tomato", 0xff6347}, {"turquoise", 0x40e0d0}, {"violet", 0xee82ee}, {"wheat", 0xf5deb3},
    {"white", 0xffffff}, {"whitesmoke", 0xf5f5f5}, {"yellow", 0xffff00},
    {"yellowgreen", 0x9acd32},
};

/* matplotlib's default cycle, the colours overlays use unless told. */
static const named tab10[] = {
    {"tab:blue", 0x1f77b4}, {"tab:orange", 0xff7f0e}, {"tab:green", 0x2ca02c},
    {"tab:red", 0xd62728},  {"tab:purple", 0x9467bd}, {"tab:brown", 0x8c564b},
    {"tab:pink", 0xe377c2}, {"tab:gray", 0x7f7f7f},   {"tab:grey", 0x7f7f7f},
    {"tab:olive", 0xbcbd22}, {"tab:cyan", 0x17becf},
};

static int cmp_named(const void *key, const void *item)
{
    return strcmp(key, ((const named *)item)->name);
}

static void set_rgb(uint32_t v, uint8_t rgb[3])
{
    rgb[0] = (uint8_t)(v >> 16);
    rgb[1] = (uint8_t)(v >> 8);
    rgb[2] = (uint8_t)v;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int ember_color_parse(const char *s, uint8_t rgb[3], char *err, size_t errlen)
{
    static const char *hint = "use a CSS colour name such as 'red' or 'orange', 'tab:blue', a hex "
                              "code such as '#ff8800', or [r, g, b] with values from 0 to 255";
    if (!s) {
        viz_seterr(err, errlen, "no colour given; %s", hint);
        return -1;
    }
    if (s[0] == '#') {
        size_t n = strlen(s + 1);
        int ok = n == 3 || n == 6;
        for (size_t i = 1; ok && i <= n; i++)
            ok = hexval(s[i]) >= 0;
        if (!ok) {
            viz_seterr(err, errlen, "'%.40s' is not a hex colour: give '#rgb' or '#rrggbb' with "
                                    "hex digits, e.g. '#ff8800'", s);
            return -1;
        }
        for (int c = 0; c < 3; c++)
            rgb[c] = (uint8_t)(n == 3 ? hexval(s[1 + c]) * 17
                                      : hexval(s[1 + 2 * c]) * 16 + hexval(s[2 + 2 * c]));
        return 0;
    }
    char low[32];
    size_t n = strlen(s);
    if (n > 0 && n < sizeof low) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (s[i] != ' ') /* 'light blue' is 'lightblue' */
                low[k++] = (char)tolower((unsigned char)s[i]);
        low[k] = '\0';
        const named *hit = bsearch(low, css, sizeof css / sizeof *css, sizeof *css, cmp_named);
        if (hit) {
            set_rgb(hit->rgb, rgb);
            return 0;
        }
        for (size_t i = 0; i < sizeof tab10 / sizeof *tab10; i++)
            if (!strcmp(low, tab10[i].name)) {
                set_rgb(tab10[i].rgb, rgb);
                return 0;
            }
    }
    viz_seterr(err, errlen, "'%.40s' is not a colour Ember knows; %s", s, hint);
    return -1;
}
