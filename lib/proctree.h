/*
 * proctree.h - the process tree below a process, read from /proc (Linux).
 *
 * Used by `gpuproof-cli run` to tell whether a process that NVML reports on a GPU belongs to the
 * test command: every process is a descendant of the CLI (which makes itself a child subreaper,
 * so orphaned grandchildren stay in its tree). A snapshot: processes come and go while it is
 * read, so a caller that needs "ever a descendant" keeps the union of snapshots.
 */
#ifndef GP_PROCTREE_H
#define GP_PROCTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define GP_PROCTREE_MAX 4194304 /* pid_max's ceiling on Linux */

/*
 * The pids of every process below `root` (children, their children, ...; not root itself), in
 * no particular order. *out is malloc'ed (caller frees; NULL when *n is 0). GP_ERROR when /proc
 * cannot be read.
 */
int gp_proctree_descendants(pid_t **out, size_t *n, pid_t root);

/* True when `pid` is below `root` now: its parent chain reaches root (at most 256 steps). */
bool gp_proc_is_descendant(pid_t pid, pid_t root);

/* The parent pid of `pid` from /proc/<pid>/stat; GP_ENOTFOUND when the process is gone. */
int gp_proc_ppid(pid_t *ppid, pid_t pid);

#endif
