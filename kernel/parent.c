/* parent.c — see parent.h. Polling getppid() needs no signals and no help
 * from the parent: once the parent exits, the kernel is re-parented (to init
 * or a subreaper) and getppid() stops matching. */
#include "parent.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

pid_t ember_parent_from_env(void)
{
    const char *s = getenv("JPY_PARENT_PID");
    if (!s || !*s)
        return 0;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v <= 1)
        return 0;
    /* Our parent is the pid named, or it has already died and we belong to
     * init. Any other parent (a wrapper that did not exec, a stale
     * environment) means the variable is not about us: watching it would
     * shut the kernel down at once. */
    pid_t now = getppid();
    if (now != (pid_t)v && now != 1)
        return 0;
    return (pid_t)v;
}

int ember_parent_gone(pid_t parent)
{
    return parent > 0 && getppid() != parent;
}
