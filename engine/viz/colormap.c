/* colormap.c — the viridis colour map (perceptually uniform, readable in grey
 * and by colour-blind readers), from eleven anchor colours of matplotlib's
 * table, linearly interpolated. */
#include "plot.h"

#include <math.h>

void ember_colormap_viridis(double t, uint8_t rgb[3])
{
    static const uint8_t anchor[11][3] = {
        {68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},
        {42, 120, 142}, {33, 145, 140}, {34, 168, 132}, {68, 191, 112},
        {122, 209, 81}, {189, 223, 38}, {253, 231, 37},
    };
    if (!(t >= 0))
        t = 0; /* also NaN */
    if (t > 1)
        t = 1;
    double p = t * 10.0;
    int i = (int)p;
    if (i >= 10)
        i = 9;
    double f = p - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (uint8_t)lround(anchor[i][c] * (1 - f) + anchor[i + 1][c] * f);
}
