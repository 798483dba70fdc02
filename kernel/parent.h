/* parent.h — noticing that the process which started the kernel has died, so
 * a kernel whose front end crashed or was killed does not live on as an
 * orphan. jupyter_client names that process in JPY_PARENT_PID; ipykernel
 * watches it the same way. */
#ifndef EMBER_KERNEL_PARENT_H
#define EMBER_KERNEL_PARENT_H

#include <sys/types.h>

/* The pid to watch, from JPY_PARENT_PID: 0 when unset, malformed, 1 (a
 * kernel started by init has no parent to lose), or not our parent. */
pid_t ember_parent_from_env(void);
/* 1 when a watched parent is gone (we were re-parented), else 0. */
int ember_parent_gone(pid_t parent);

#endif
