/* interrupt.h — SIGINT (interrupt_mode "signal") and interrupt_request
 * (mode "message") both end up in ember_interrupt(): a flag the engine polls. */
#ifndef EMBER_KERNEL_INTERRUPT_H
#define EMBER_KERNEL_INTERRUPT_H
#include <ember/engine.h>
/* Installs the SIGINT handler for engine and ignores SIGPIPE. */
int ember_interrupt_install(ember_engine *engine);
/* Blocks SIGINT in the calling thread (threads created next inherit it), so
 * only the main thread takes the signal; ember_interrupt_unblock undoes it. */
void ember_interrupt_block(void);
void ember_interrupt_unblock(void);
#endif
