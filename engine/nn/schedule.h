/* schedule.h — learning-rate schedules, as functions of the epoch (the host
 * computes the rate and hands it to the step through the step scalars). */
#ifndef EMBER_NN_SCHEDULE_H
#define EMBER_NN_SCHEDULE_H

#ifdef __cplusplus
extern "C" {
#endif

/* torch.optim.lr_scheduler.MultiStepLR stepped once per epoch: the rate for
 * 0-based `epoch` is base * gamma^(number of milestones <= epoch). The
 * recipe: base 3e-4, milestones {50, 75}, gamma 0.1 (epochs 0-49 at 3e-4,
 * 50-74 at 3e-5, 75-99 at 3e-6). Milestones need not be sorted. */
float ember_lr_multistep(float base, int epoch, const int *milestones, int n_milestones, float gamma);

#ifdef __cplusplus
}
#endif
#endif
