/* schedule.c — learning-rate schedules. */
#include "nn/schedule.h"

float ember_lr_multistep(float base, int epoch, const int *milestones, int n_milestones, float gamma) {
    /* Multiply in double, once per passed milestone, as torch does in Python floats. */
    double lr = base;
    for (int i = 0; i < n_milestones; i++)
        if (milestones && epoch >= milestones[i]) lr *= gamma;
    return (float)lr;
}
