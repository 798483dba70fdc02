/* history.h — the execution history kept on disk, one JSON object per line,
 * under the Jupyter data dir (ember/history.jsonl), so history_request sees
 * earlier sessions after a restart. Each kernel start is a new session. */
#ifndef EMBER_KERNEL_HISTORY_H
#define EMBER_KERNEL_HISTORY_H

#include <stddef.h>
#include <jansson.h>

typedef struct ember_history {
    char *path;   /* NULL: history is off (the data dir could not be used) */
    int fd;       /* append-only */
    int session;
} ember_history;

/* Finds the data dir ($JUPYTER_DATA_DIR, $XDG_DATA_HOME/jupyter or
 * ~/.local/share/jupyter), creates ember/ in it and takes the next session
 * number. dir may be NULL (use the environment). On failure history is off
 * and err says why; the kernel runs on without it. */
int ember_history_open(ember_history *h, const char *dir, char *err, size_t errlen);
void ember_history_close(ember_history *h);

/* Records one cell: input_len bytes of input (which may hold a NUL);
 * output (text/plain of its result) may be NULL. */
int ember_history_append(ember_history *h, int line, const char *input, size_t input_len,
                         const char *output);

/* Answers a history_request: returns a new array of [session, line, input]
 * or [session, line, [input, output]], or NULL with err set. */
json_t *ember_history_query(const ember_history *h, json_t *request, char *err, size_t errlen);

#endif
