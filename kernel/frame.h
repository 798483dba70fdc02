/* frame.h — byte buffers shared by the wire layer: borrowed views of received
 * ZeroMQ frames, and owned buffers for frames being built. */
#ifndef EMBER_KERNEL_FRAME_H
#define EMBER_KERNEL_FRAME_H

#include <stddef.h>

/* A borrowed view. */
typedef struct ember_frame {
    const unsigned char *data;
    size_t len;
} ember_frame;

/* An owned buffer (malloc'd). */
typedef struct ember_buf {
    unsigned char *data;
    size_t len;
} ember_buf;

int ember_buf_set(ember_buf *b, const void *data, size_t len);
void ember_buf_free(ember_buf *b);

#endif
