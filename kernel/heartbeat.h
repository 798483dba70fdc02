/* heartbeat.h — the heartbeat thread: echoes every ping on the hb REP socket. */
#ifndef EMBER_KERNEL_HEARTBEAT_H
#define EMBER_KERNEL_HEARTBEAT_H
#include "kernel.h"
void *ember_heartbeat_main(void *kernel);
#endif
