/*
 * direct-exec: run an exec's process in a running container without a runtime process.
 * The plan (which namespaces, cgroups, ids, capabilities, rlimits, seccomp program, cwd,
 * env, args) is computed by the spawner (plugins/runtime-oci/src/direct-exec-plan.ts) and
 * written as NUL-separated `key\0value\0` pairs; this code only carries it out with
 * syscalls. See README.md "Direct exec".
 */
#ifndef BERTH_DIRECT_EXEC_H
#define BERTH_DIRECT_EXEC_H
#include <stddef.h>
#include <sys/types.h>

/*
 * Read and check PLAN (and the seccomp program it names). 0, or -1 with `msg` set. With
 * `process_later`, PLAN holds only where the process runs (the container part: pid,
 * start-time, ns, cgroups, seccomp) and what it is comes before the start
 * (direct_exec_set_process); else PLAN holds both.
 */
int direct_exec_load(const char *plan_path, int process_later, char *msg, size_t cap);

/*
 * The process part of a plan loaded with `process_later` (`len` bytes of `key\0value\0`
 * pairs at `data`, kept: the plan points into it): only the process's keys (cwd, ids,
 * capabilities, rlimits, args, env...) are taken, never where it runs. Once only.
 * 0, or -1 with `msg` set.
 */
int direct_exec_set_process(char *data, size_t len, char *msg, size_t cap);

/*
 * Start the planned process: clone it (into the container's cgroup2 cgroup, in its pid
 * namespace), let it join the rest and execve. `init_pidfd`: a pidfd of the plan's init
 * from direct_exec_init_pidfd (checked when it was opened), taken over and closed here;
 * -1 to open and check one here. stdio: `in`, `out`, `err` (-1: /dev/null),
 * or with `terminal` a pty made inside the container, whose master is returned in
 * `*master`. Returns the pid once the process has exec'd, or -1 with `msg` set (the
 * process, if any, has been killed and reaped).
 */
pid_t direct_exec_start(int init_pidfd, int in, int out, int err, int terminal, int *master, char *msg, size_t cap);

/*
 * A pidfd of the plan's init (readable once it exits), or -1 when it is gone already or
 * is not the process the plan names any more: what a shim waiting for its `start`
 * watches, so it ends with the container instead of outliving it.
 */
int direct_exec_init_pidfd(void);

#endif
