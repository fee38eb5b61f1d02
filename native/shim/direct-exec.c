/*
 * direct-exec: what `<runtime> exec` does for a running container, done by the exec's
 * shim itself with syscalls, so no runtime process (6-9 ms of crun, more of runc) is on
 * the path of every `docker exec`. Every decision (which namespaces, which cgroups, ids,
 * capabilities, rlimits, which seccomp program) is the spawner's, written in the plan;
 * a container this cannot serve exactly (a user namespace, an LSM label, a seccomp
 * program it cannot get) is never given a plan and goes through the runtime.
 *
 * Order, and why:
 *  - the shim joins the container's pid namespace for its children only (setns on a
 *    pidfd of the init: it stays in its own), then clone3()s the process into the init's
 *    cgroup2 cgroup (CLONE_INTO_CGROUP: no migration, so no wait for the kernel's global
 *    cgroup migration lock, an RCU grace period of 5-30 ms);
 *  - the child makes itself non-dumpable before it enters anything (a container process
 *    must not ptrace it nor open /proc/<pid>/exe, the host's shim binary: the runc
 *    CVE-2019-5736 class; execve of the user's program makes it dumpable again);
 *  - it joins each v1 cgroup by writing "0" (itself, one thread) to `tasks`, which the
 *    kernel does without that global lock, while still in the host's mount namespace;
 *  - it joins every other namespace of the init in one setns (the mount namespace, which
 *    changes its root and cwd, among them);
 *  - the terminal is a pty of the container's devpts (its /dev/ptmx), its master sent to
 *    the shim; stdio, session, rlimits, cwd;
 *  - no_new_privs; without it the seccomp program is loaded now, while the process still
 *    has CAP_SYS_ADMIN (as runc does); the bounding set, groups, gid, uid (keeping the
 *    capabilities across), then the capability sets and the ambient set, the umask;
 *  - every descriptor above 2 is closed at exec (close_range), the signal mask and the
 *    shim's ignored signals reset, and with no_new_privs the seccomp program is loaded
 *    last, right before execve (the filter then sees only the execve);
 *  - an error before execve is written on a close-on-exec pipe: EOF on it means the exec
 *    happened.
 */
#define _GNU_SOURCE
#include "direct-exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define PLAN_MAX (1u << 20)
#define LIST_MAX 256
#define RLIMITS_MAX 32

static struct {
  char *data; /* the plan file; every string below points into it */
  pid_t pid;  /* the container's init */
  unsigned long long start_time;
  int ns;                /* CLONE_NEW* flags to join, CLONE_NEWPID included */
  const char *cgroup2;   /* the init's cgroup2 directory, or NULL */
  const char *tasks[LIST_MAX];
  int task_fds[LIST_MAX]; /* opened at load: the start writes, no path walk on its way */
  int n_tasks;
  int cgroup2_fd;         /* the cgroup2 directory, opened at load (O_PATH), or -1 */
  int has_oom_score_adj, oom_score_adj;
  struct { int resource; struct rlimit limit; } rlimits[RLIMITS_MAX];
  int n_rlimits;
  const char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t groups[LIST_MAX];
  int n_groups;
  mode_t umask;
  int no_new_privs;
  uint64_t bounding, effective, permitted, inheritable, ambient;
  int cap_last; /* the kernel's highest capability: the bounding set's drops stop there */
  struct sock_filter *filter; /* the seccomp program, or NULL */
  unsigned short filter_len;
  char *args[LIST_MAX + 1];
  int n_args;
  char *env[4 * LIST_MAX + 1];
  int n_env;
  unsigned short rows, cols;
} plan;

static int set_msg(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_msg(char *msg, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, cap, fmt, ap);
  va_end(ap);
  return -1;
}

/* Go's error texts are lower case ("no such file or directory"): clients match them. */
static const char *go_strerror(int e, char *buf, size_t cap) {
  snprintf(buf, cap, "%s", strerror(e));
  if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z')) buf[0] = (char)(buf[0] - 'A' + 'a');
  return buf;
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end) return -1;
  *out = v;
  return 0;
}

static int parse_int(const char *s, long long min, long long max, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int load_filter(const char *file, char *msg, size_t cap) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return set_msg(msg, cap, "open seccomp program %s: %s", file, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) || st.st_size > BPF_MAXINSNS * (off_t)sizeof(struct sock_filter)) {
    close(fd);
    return set_msg(msg, cap, "seccomp program %s is not a BPF program", file);
  }
  plan.filter = malloc((size_t)st.st_size);
  ssize_t got = plan.filter ? read(fd, plan.filter, (size_t)st.st_size) : -1;
  close(fd);
  if (got != st.st_size) return set_msg(msg, cap, "read seccomp program %s: short read", file);
  plan.filter_len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
  return 0;
}

/* Keys of the process part: what one exec runs, as opposed to where (the container part). */
static int is_process_key(const char *key) {
  static const char *const keys[] = {"oom-score-adj", "rlimit", "cwd", "uid", "gid", "group", "umask", "no-new-privs",
                                     "cap-bounding", "cap-effective", "cap-permitted", "cap-inheritable", "cap-ambient",
                                     "arg", "env", "console-rows", "console-cols"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (!strcmp(key, keys[i])) return 1;
  return 0;
}

/*
 * Parse `len` bytes of `key\0value\0` pairs at `data` (kept: the plan points into it) into
 * the plan. With `process_only`, only the process part's keys are taken: a process part
 * given later (direct_exec_set_process) cannot change where the process runs.
 */
static int parse_plan(char *data, size_t len, int process_only, const char *what, char *msg, size_t cap) {
  if (len == 0 || data[len - 1] != 0) return set_msg(msg, cap, "%s: malformed", what);
  for (char *p = data; p < data + len;) {
    char *key = p;
    p += strlen(p) + 1;
    if (p >= data + len) return set_msg(msg, cap, "exec plan: %s without a value", key);
    char *value = p;
    p += strlen(p) + 1;
    uint64_t u;
    long long v;
    int bad = 0;
    if (process_only && !is_process_key(key)) return set_msg(msg, cap, "%s: key %s is not the process's", what, key);
    if (!strcmp(key, "pid")) bad = parse_int(value, 1, INT32_MAX, &v) || !(plan.pid = (pid_t)v);
    else if (!strcmp(key, "start-time")) bad = parse_u64(value, &u) || ((plan.start_time = u), 0);
    else if (!strcmp(key, "ns")) bad = parse_int(value, 0, INT32_MAX, &v) || ((plan.ns = (int)v), 0);
    else if (!strcmp(key, "cgroup2")) plan.cgroup2 = value;
    else if (!strcmp(key, "tasks")) bad = plan.n_tasks >= LIST_MAX || ((plan.tasks[plan.n_tasks++] = value), 0);
    else if (!strcmp(key, "oom-score-adj")) bad = parse_int(value, -1000, 1000, &v) || ((plan.oom_score_adj = (int)v), (plan.has_oom_score_adj = 1), 0);
    else if (!strcmp(key, "rlimit")) {
      unsigned long long soft, hard;
      int res, used = 0;
      bad = plan.n_rlimits >= RLIMITS_MAX || sscanf(value, "%d %llu %llu%n", &res, &soft, &hard, &used) != 3 || value[used] != 0;
      if (!bad) plan.rlimits[plan.n_rlimits++] = (typeof(plan.rlimits[0])){res, {soft, hard}};
    } else if (!strcmp(key, "cwd")) plan.cwd = value;
    else if (!strcmp(key, "uid")) bad = parse_int(value, 0, UINT32_MAX - 1, &v) || ((plan.uid = (uid_t)v), 0);
    else if (!strcmp(key, "gid")) bad = parse_int(value, 0, UINT32_MAX - 1, &v) || ((plan.gid = (gid_t)v), 0);
    else if (!strcmp(key, "group")) bad = plan.n_groups >= LIST_MAX || parse_int(value, 0, UINT32_MAX - 1, &v) || ((plan.groups[plan.n_groups++] = (gid_t)v), 0);
    else if (!strcmp(key, "umask")) bad = parse_int(value, 0, 0777, &v) || ((plan.umask = (mode_t)v), 0);
    else if (!strcmp(key, "no-new-privs")) plan.no_new_privs = !strcmp(value, "1");
    else if (!strcmp(key, "cap-bounding")) bad = parse_u64(value, &plan.bounding);
    else if (!strcmp(key, "cap-effective")) bad = parse_u64(value, &plan.effective);
    else if (!strcmp(key, "cap-permitted")) bad = parse_u64(value, &plan.permitted);
    else if (!strcmp(key, "cap-inheritable")) bad = parse_u64(value, &plan.inheritable);
    else if (!strcmp(key, "cap-ambient")) bad = parse_u64(value, &plan.ambient);
    else if (!strcmp(key, "seccomp")) {
      if (load_filter(value, msg, cap) < 0) return -1;
    } else if (!strcmp(key, "arg")) bad = plan.n_args >= LIST_MAX || ((plan.args[plan.n_args++] = value), 0);
    else if (!strcmp(key, "env")) bad = plan.n_env >= 4 * LIST_MAX || ((plan.env[plan.n_env++] = value), 0);
    else if (!strcmp(key, "console-rows")) bad = parse_int(value, 0, 65535, &v) || ((plan.rows = (unsigned short)v), 0);
    else if (!strcmp(key, "console-cols")) bad = parse_int(value, 0, 65535, &v) || ((plan.cols = (unsigned short)v), 0);
    else return set_msg(msg, cap, "exec plan: unknown key %s", key);
    if (bad) return set_msg(msg, cap, "exec plan: bad %s: %s", key, value);
  }
  return 0;
}

/*
 * The init's cgroups, opened once at load rather than at each start (nine v1 `tasks` files
 * and a cgroup2 directory: ~0.1 ms of path walks off the exec's path). They stay valid as
 * long as the cgroups do, that is while the container runs; the start checks the init.
 */
static int open_cgroups(char *msg, size_t cap) {
  plan.cgroup2_fd = -1;
  if (plan.cgroup2) {
    plan.cgroup2_fd = open(plan.cgroup2, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (plan.cgroup2_fd < 0) return set_msg(msg, cap, "open cgroup %s: %s", plan.cgroup2, strerror(errno));
  }
  for (int i = 0; i < plan.n_tasks; i++) {
    plan.task_fds[i] = open(plan.tasks[i], O_WRONLY | O_CLOEXEC);
    if (plan.task_fds[i] < 0) return set_msg(msg, cap, "join cgroup %s: %s", plan.tasks[i], strerror(errno));
  }
  return 0;
}

/* The kernel's highest capability number (63 when it cannot be read: the drops past it then fail with EINVAL, as before). */
static int kernel_cap_last(void) {
  char text[16] = {0};
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
  if (fd >= 0) close(fd);
  long long v;
  if (n > 0 && text[n - 1] == '\n') text[n - 1] = 0;
  return n > 0 && parse_int(text, 0, 63, &v) == 0 ? (int)v : 63;
}

int direct_exec_load(const char *plan_path, int process_later, char *msg, size_t cap) {
  int fd = open(plan_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return set_msg(msg, cap, "open exec plan %s: %s", plan_path, strerror(errno));
  plan.data = malloc(PLAN_MAX + 1);
  size_t len = 0;
  for (;;) {
    ssize_t n = plan.data ? read(fd, plan.data + len, PLAN_MAX - len) : -1;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
    if (len == PLAN_MAX) break;
  }
  close(fd);
  if (!plan.data || len == PLAN_MAX) return set_msg(msg, cap, "exec plan %s: malformed", plan_path);
  plan.data[len] = 0;
  plan.umask = 022;
  plan.cap_last = kernel_cap_last();
  if (parse_plan(plan.data, len, 0, plan_path, msg, cap) < 0) return -1;
  if (!plan.pid) return set_msg(msg, cap, "exec plan %s: pid is required", plan_path);
  if (open_cgroups(msg, cap) < 0) return -1;
  if (process_later) {
    if (plan.cwd || plan.n_args) return set_msg(msg, cap, "exec plan %s: a process part comes at the start, not here", plan_path);
    return 0;
  }
  if (!plan.cwd || plan.n_args == 0) return set_msg(msg, cap, "exec plan %s: pid, cwd and arg are required", plan_path);
  return 0;
}

int direct_exec_set_process(char *data, size_t len, char *msg, size_t cap) {
  if (plan.cwd || plan.n_args) return set_msg(msg, cap, "the exec's process was given already");
  if (parse_plan(data, len, 1, "exec process", msg, cap) < 0) return -1;
  if (!plan.cwd || plan.n_args == 0) return set_msg(msg, cap, "exec process: cwd and arg are required");
  return 0;
}

/* The init still is the process the plan names (a pid can be reused once it is reaped). */
static int same_start_time(pid_t pid, unsigned long long expected) {
  char path[64], stat[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return 0;
  stat[n] = 0;
  char *p = strrchr(stat, ')'); /* comm may hold spaces and parentheses */
  if (!p) return 0;
  unsigned long long start = 0;
  /* After ") ": field 3 (state) ... field 22 (starttime): skip 19 fields. */
  p += 2;
  for (int field = 3; field < 22 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  return p && sscanf(p, "%llu", &start) == 1 && start == expected;
}

/* ---------- the child ---------- */

/* Report `text` to the shim on the error pipe and end. */
static void child_fail(int errpipe, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void child_fail(int errpipe, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof text - 1) n = sizeof text - 1;
  if (write(errpipe, text, (size_t)n) < 0) { /* nothing more to say */ }
  _exit(126);
}

static int send_fd(int sock, int fd) {
  char byte = 0;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &m, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static const char *plan_env(const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < plan.n_env; i++)
    if (!strncmp(plan.env[i], name, n) && plan.env[i][n] == '=') return plan.env[i] + n + 1;
  return NULL;
}

static void load_seccomp(int errpipe) {
  struct sock_fprog prog = {.len = plan.filter_len, .filter = plan.filter};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) child_fail(errpipe, "load the seccomp program: %s", strerror(errno));
}

/*
 * execve args[0]: a name with a slash as it is, else looked up in the process's own
 * PATH (not the shim's) as runc's exec.LookPath does: the first regular file with an
 * execute bit. Errors in runc's words, which the docker CLI turns into 126/127.
 */
static void exec_process(int errpipe) {
  const char *file = plan.args[0];
  char e[128];
  if (strchr(file, '/')) {
    execve(file, plan.args, plan.env);
    int err = errno;
    if (err == ENOENT) child_fail(errpipe, "exec: \"%s\": stat %s: %s", file, file, go_strerror(err, e, sizeof e));
    child_fail(errpipe, "exec: \"%s\": %s", file, go_strerror(err, e, sizeof e));
  }
  const char *path = plan_env("PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  char candidate[4096];
  for (const char *p = path;;) {
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == 0) snprintf(candidate, sizeof candidate, "./%s", file);
    else snprintf(candidate, sizeof candidate, "%.*s/%s", (int)n, p, file);
    struct stat st;
    if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
      execve(candidate, plan.args, plan.env);
      child_fail(errpipe, "exec: \"%s\": %s", file, go_strerror(errno, e, sizeof e));
    }
    if (!end) break;
    p = end + 1;
  }
  child_fail(errpipe, "exec: \"%s\": executable file not found in $PATH", file);
}

static void child(int pidfd, int errpipe, int in, int out, int err, int terminal, int console_sock) {
  char e[128];
  /* Before entering anything: never ptrace-able nor /proc/<pid>/exe-openable from inside. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) child_fail(errpipe, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
  /* The init's v1 cgroups: "0" is this thread, moved without the global migration lock. */
  for (int i = 0; i < plan.n_tasks; i++) {
    if (write(plan.task_fds[i], "0", 1) != 1) child_fail(errpipe, "join cgroup %s: %s", plan.tasks[i], strerror(errno));
  }
  if (plan.has_oom_score_adj) {
    char v[16];
    int n = snprintf(v, sizeof v, "%d", plan.oom_score_adj);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, v, (size_t)n) != n) child_fail(errpipe, "write oom_score_adj: %s", strerror(errno));
    close(fd);
  }
  int others = plan.ns & ~CLONE_NEWPID;
  if (others && setns(pidfd, others) < 0) child_fail(errpipe, "join the namespaces of the container's init: %s", strerror(errno));
  close(pidfd);

  if (setsid() < 0) child_fail(errpipe, "setsid: %s", strerror(errno));
  if (terminal) {
    /* The container's devpts: its /dev/ptmx, after the mount namespace is joined. */
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) child_fail(errpipe, "open /dev/ptmx: %s", strerror(errno));
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) child_fail(errpipe, "unlock the pty: %s", strerror(errno));
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0) child_fail(errpipe, "open the pty's slave: %s", strerror(errno));
    if (plan.rows || plan.cols) {
      struct winsize ws = {.ws_row = plan.rows, .ws_col = plan.cols};
      ioctl(master, TIOCSWINSZ, &ws);
    }
    if (fchown(slave, plan.uid, (gid_t)-1) < 0) { /* a devpts that refuses: the process still holds it */ }
    if (send_fd(console_sock, master) < 0) child_fail(errpipe, "send the pty to the shim: %s", strerror(errno));
    close(master);
    close(console_sock);
    if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) child_fail(errpipe, "dup2: %s", strerror(errno));
    if (ioctl(0, TIOCSCTTY, 0) < 0) child_fail(errpipe, "set the controlling terminal: %s", strerror(errno));
    if (slave > 2) close(slave);
  } else {
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) child_fail(errpipe, "dup2: %s", strerror(errno));
  }

  for (int i = 0; i < plan.n_rlimits; i++)
    if (setrlimit(plan.rlimits[i].resource, &plan.rlimits[i].limit) < 0)
      child_fail(errpipe, "setrlimit %d: %s", plan.rlimits[i].resource, strerror(errno));
  if (chdir(plan.cwd) < 0) child_fail(errpipe, "chdir to cwd (\"%s\") set in config.json failed: %s", plan.cwd, go_strerror(errno, e, sizeof e));

  /* Nothing above 2 reaches the process (the error pipe goes at exec, as it must). */
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) child_fail(errpipe, "close_range: %s", strerror(errno));
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);

  if (plan.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(errpipe, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
  if (!plan.no_new_privs && plan.filter) load_seccomp(errpipe);

  for (int cap = 0; cap <= plan.cap_last; cap++)
    if (!(plan.bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      child_fail(errpipe, "drop capability %d from the bounding set: %s", cap, strerror(errno));
  if (setgroups((size_t)plan.n_groups, plan.groups) < 0) child_fail(errpipe, "setgroups: %s", strerror(errno));
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) child_fail(errpipe, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
  if (setresgid(plan.gid, plan.gid, plan.gid) < 0) child_fail(errpipe, "setgid %u: %s", plan.gid, strerror(errno));
  if (setresuid(plan.uid, plan.uid, plan.uid) < 0) child_fail(errpipe, "setuid %u: %s", plan.uid, strerror(errno));
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2] = {
      {(uint32_t)plan.effective, (uint32_t)plan.permitted, (uint32_t)plan.inheritable},
      {(uint32_t)(plan.effective >> 32), (uint32_t)(plan.permitted >> 32), (uint32_t)(plan.inheritable >> 32)},
  };
  if (syscall(SYS_capset, &header, data) < 0) child_fail(errpipe, "capset: %s", strerror(errno));
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap < 64; cap++)
    if ((plan.ambient & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      child_fail(errpipe, "raise ambient capability %d: %s", cap, strerror(errno));
  umask(plan.umask);

  if (plan.no_new_privs && plan.filter) load_seccomp(errpipe);
  exec_process(errpipe);
}

/* ---------- the shim's side ---------- */

static int receive_fd(int sock) {
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) != 1) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

int direct_exec_init_pidfd(void) {
  int pidfd = (int)syscall(SYS_pidfd_open, plan.pid, 0); /* always close-on-exec */
  if (pidfd >= 0 && !same_start_time(plan.pid, plan.start_time)) {
    close(pidfd);
    return -1;
  }
  return pidfd;
}

pid_t direct_exec_start(int init_pidfd, int in, int out, int err, int terminal, int *master, char *msg, size_t cap) {
  /* Checked against the plan's start time when it was opened; readable once the init exited. */
  int pidfd = init_pidfd >= 0 ? init_pidfd : direct_exec_init_pidfd();
  struct pollfd exited = {.fd = pidfd, .events = POLLIN};
  if (pidfd < 0 || poll(&exited, 1, 0) != 0) {
    if (pidfd >= 0) close(pidfd);
    return set_msg(msg, cap, "cannot exec in a container that has stopped");
  }
  /* Children of this shim are born in the container's pid namespace; the shim is not in it. */
  if ((plan.ns & CLONE_NEWPID) && setns(pidfd, CLONE_NEWPID) < 0) {
    int e = errno;
    close(pidfd);
    return set_msg(msg, cap, "join the pid namespace of the container's init: %s", strerror(e));
  }
  int cgroup_fd = plan.cgroup2_fd;
  int errpipe[2], console[2] = {-1, -1};
  if (pipe2(errpipe, O_CLOEXEC) < 0 || (terminal && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0)) {
    int e = errno;
    close(pidfd);
    if (cgroup_fd >= 0) close(cgroup_fd);
    return set_msg(msg, cap, "pipe: %s", strerror(e));
  }
  int null = -1;
  if (!terminal && (in < 0 || out < 0 || err < 0)) null = open("/dev/null", O_RDWR | O_CLOEXEC);
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
  }
  pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    close(errpipe[0]);
    if (console[0] >= 0) close(console[0]);
    child(pidfd, errpipe[1], in >= 0 ? in : null, out >= 0 ? out : null, err >= 0 ? err : null, terminal, console[1]);
  }
  int e = errno;
  close(pidfd);
  if (cgroup_fd >= 0) close(cgroup_fd);
  if (null >= 0) close(null);
  close(errpipe[1]);
  if (console[1] >= 0) close(console[1]);
  if (pid < 0) {
    close(errpipe[0]);
    if (console[0] >= 0) close(console[0]);
    return set_msg(msg, cap, "clone3: %s", strerror(e));
  }
  /* EOF: the process exec'd (the pipe is close-on-exec) or died; a message: it failed. */
  char text[1024];
  size_t got = 0;
  for (;;) {
    ssize_t n = read(errpipe[0], text + got, sizeof text - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
    if (got == sizeof text - 1) break;
  }
  close(errpipe[0]);
  text[got] = 0;
  if (!text[0] && terminal) {
    *master = receive_fd(console[0]);
    if (*master < 0) snprintf(text, sizeof text, "the process sent no terminal");
  }
  if (console[0] >= 0) close(console[0]);
  if (text[0]) {
    /* Reaped here: left to the caller's loop, which ends at once after a failed start, it
     * would outlive the shim as a zombie of the container's init. */
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    return set_msg(msg, cap, "exec failed: unable to start container process: %s", text);
  }
  return pid;
}
