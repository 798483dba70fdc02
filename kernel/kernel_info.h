/* kernel_info.h — the kernel_info_reply content, the same on shell and control. */
#ifndef EMBER_KERNEL_KERNEL_INFO_H
#define EMBER_KERNEL_KERNEL_INFO_H
#include <jansson.h>
#include "kernel.h"
json_t *ember_kernel_info(const ember_kernel *k);
#endif
