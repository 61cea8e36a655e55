/*
 * proctree.c - descendants of a process from /proc/<pid>/stat (see proctree.h).
 *
 * Field 4 of /proc/<pid>/stat is the parent pid; it follows the command name in parentheses,
 * which may itself contain spaces and parentheses, so parsing starts after the last ')'.
 */
#include "proctree.h"

#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct pp {
    pid_t pid, ppid;
} pp;

int gp_proc_ppid(pid_t *ppid, pid_t pid)
{
    char path[64], buf[1024];
    ssize_t n;
    int fd;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return gp_error_setf(GP_ENOTFOUND, "process %d is gone", (int)pid);
    do
        n = read(fd, buf, sizeof(buf) - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return gp_error_setf(GP_ENOTFOUND, "process %d is gone", (int)pid);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    char state;
    int parent;
    if (!rp || sscanf(rp + 1, " %c %d", &state, &parent) != 2)
        return gp_error_setf(GP_ERROR, "cannot parse %s", path);
    *ppid = (pid_t)parent;
    return 0;
}

bool gp_proc_is_descendant(pid_t pid, pid_t root)
{
    for (int steps = 0; steps < 256 && pid > 1; steps++) {
        pid_t ppid;
        if (gp_proc_ppid(&ppid, pid) < 0) return false;
        if (ppid == root) return true;
        pid = ppid;
    }
    return false;
}

static int by_ppid(const void *a, const void *b)
{
    const pp *x = a, *y = b;
    return (x->ppid > y->ppid) - (x->ppid < y->ppid);
}

int gp_proctree_descendants(pid_t **out, size_t *n, pid_t root)
{
    DIR *d = NULL;
    struct dirent *de;
    pp *all = NULL;
    pid_t *found = NULL;
    size_t nall = 0, cap = 0, nfound = 0, head = 0;
    int error = 0;

    *out = NULL;
    *n = 0;
    if (!(d = opendir("/proc")))
        return gp_error_setf(GP_ERROR, "cannot read /proc: %s", strerror(errno));
    while ((de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        pid_t ppid;
        if (*end || pid <= 0 || end == de->d_name) continue;
        if (gp_proc_ppid(&ppid, (pid_t)pid) < 0) continue; /* exited meanwhile */
        if (nall == cap) {
            size_t ncap = cap ? cap * 2 : 512;
            pp *np;
            if (ncap > GP_PROCTREE_MAX) break;
            if (!(np = realloc(all, ncap * sizeof(*np)))) goto oom;
            all = np;
            cap = ncap;
        }
        all[nall].pid = (pid_t)pid;
        all[nall++].ppid = ppid;
    }
    qsort(all, nall, sizeof(*all), by_ppid);
    if (!(found = malloc((nall ? nall : 1) * sizeof(*found)))) goto oom;
    /* breadth first: the children of root, then theirs */
    for (pid_t parent = root;;) {
        size_t lo = 0, hi = nall;
        while (lo < hi) { /* first entry with ppid >= parent */
            size_t mid = (lo + hi) / 2;
            if (all[mid].ppid < parent)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t i = lo; i < nall && all[i].ppid == parent && nfound < nall; i++)
            found[nfound++] = all[i].pid;
        if (head == nfound) break;
        parent = found[head++];
    }
    if (nfound) {
        *out = found;
        *n = nfound;
        found = NULL;
    }
    goto done;
oom:
    error = gp_error_setf(GP_ERROR, "out of memory");
done:
    if (d) closedir(d);
    free(all);
    free(found);
    return error;
}
