/*
 * berth-shim: one small process per container (the role of containerd-shim / conmon).
 *
 * It runs `<runtime> create` with pipes as the container's stdio, reports the pid
 * on a ready pipe, then owns the container: it copies output to the json-file log and
 * to clients of <state-dir>/shim.sock, feeds stdin from them, reaps the container's
 * init (it is a child subreaper), records exit.json and deletes the runtime state.
 * It detaches from whoever spawned it, so containers outlive a daemon crash.
 * With --terminal the process gets a pty instead of pipes: the runtime sends its master
 * over a console socket (SCM_RIGHTS) and the shim holds it. With --exec the shim is the
 * monitor of one process run in an existing container (`<runtime> exec`), started by the
 * `start` control request instead of at launch.
 * The protocol and the files are described in README.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "direct-exec.h"

#define MAX_OOM_FILES 8
#define MAX_CGROUPS 4
#define LOG_LINE_MAX 16384            /* a longer partial line is flushed on its own */
#define CLIENT_OUT_MAX (8u << 20)     /* a client this far behind is dropped */
#define STDIN_QUEUE_MAX (1u << 20)    /* stop reading clients while stdin is this full */
#define FRAME_MAX (1u << 20)
#define DRAIN_MS 2000

/* Stream 3 carries control requests from a client ("start", "resize", "kill") and their answers;
 * stream 5 the process part of a direct exec's plan (--process-later), sent before its "start". */
enum { STREAM_STDIN = 0, STREAM_STDOUT = 1, STREAM_STDERR = 2, STREAM_CONTROL = 3, STREAM_EXIT = 4, STREAM_PROCESS = 5 };
enum { CONTROL_MAX = 64 };

static struct {
  const char *id, *bundle, *state_dir, *log_path, *runtime, *runtime_root, *exec_fifo;
  const char *runtime_config; /* --runtime-config: the config file create reads instead of the bundle's (crun --config) */
  const char *process; /* --exec: the OCI process JSON of an exec; NULL for a container */
  const char *plan;    /* --exec-plan: run the exec directly (direct-exec.c), not through the runtime */
  const char *hide_mount; /* --hide-mount: a mount the runtime's processes must not see */
  const char *oom_files[MAX_OOM_FILES];
  int n_oom_files;
  const char *cgroups[MAX_CGROUPS]; /* --cgroup: where the shim itself lives */
  int n_cgroups;
  int open_stdin;
  int terminal;           /* --terminal: a pty (console socket) instead of pipes */
  int keep_runtime_state; /* --keep-runtime-state: the spawner removes it after the exit */
  int exec_fifo_write;    /* --exec-fifo-write: the init reads the fifo (crun), start writes it */
  int wait_start;         /* --wait-start (with --exec-plan): run the process at the `start` request */
  int process_later;      /* --process-later (with --wait-start): what to run comes on stream 5 before the start */
  long long log_max_size; /* --log-max-size: rotate the log before it would pass this; 0: never */
  int log_max_files;      /* --log-max-files: the log and its rotated copies .1 ... .N-1 */
} opt;

struct buf {
  char *data;
  size_t len, cap;
};

struct client {
  int fd;
  struct buf out;
  unsigned char hdr[5];
  size_t hdr_have;
  uint32_t payload_left;
  int payload_stream;
  char control[CONTROL_MAX]; /* a control request being received */
  size_t control_len;
  char *process;             /* a process part being received (stream 5) */
  size_t process_len;
};

struct stream {
  int fd;                       /* read end; -1 at EOF */
  const char *name;             /* "stdout" / "stderr" */
  int id;
  char line[LOG_LINE_MAX];
  size_t line_len;
};

static struct client *clients;
static pid_t container_pid;
static int container_reaped; /* the main loop has waited for the init: it has exited */
static size_t n_clients;
static int log_fd = -1;
static long long log_size; /* bytes in the current log file */
static int stdin_fd = -1;        /* write end of the container's stdin; -1 when closed */
static int stdin_close_pending;
static struct buf stdin_queue;
static struct stream streams[2] = {{.fd = -1, .name = "stdout", .id = STREAM_STDOUT},
                                   {.fd = -1, .name = "stderr", .id = STREAM_STDERR}};
static int pipe_in[2] = {-1, -1}, pipe_out[2] = {-1, -1}, pipe_err[2] = {-1, -1};
static int term_fd = -1;          /* the pty master (--terminal), kept for resize */
static int console_lfd = -1;      /* where the runtime sends the pty master */
static char console_path[4096];
static int exec_started, exec_failed; /* --exec: the start request ran, and failed */
/* --process-later: the process part came (stream 5) and was taken, or why it was refused
 * (told as the answer to the start, which then fails as any failed start). */
static int process_given;
static char process_error[512];
/* --wait-start: the `pid` file, made empty at launch; the start writes the pid into it in
 * place (a create and a rename on the exec root's file system cost 0.3-1 ms on a busy
 * disk, and held the shim's loop, and so the report of a short process's exit). */
static int pid_fd = -1;
static int init_watch = -1; /* --wait-start: a pidfd of the container's init until the start */

/* ---------- small helpers ---------- */

static void path_join(char *out, size_t cap, const char *dir, const char *name) {
  snprintf(out, cap, "%s/%s", dir, name);
}

static int buf_append(struct buf *b, const void *data, size_t len) {
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + len) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

static void buf_consume(struct buf *b, size_t n) {
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  if (b->len == 0 && b->cap > 65536) { /* give memory back after a burst */
    free(b->data);
    b->data = NULL;
    b->cap = 0;
  }
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Go's time.RFC3339Nano in UTC: trailing zeros of the fraction trimmed. */
static void rfc3339nano(char *out, size_t cap) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  /* UTC by hand: glibc's gmtime_r loads /etc/localtime at its first call (tzset), a file
   * read on the path of every exec's exit report. Days since the epoch to a civil date
   * (the proleptic Gregorian calendar, in 400-year eras of 146097 days). */
  long long secs = (long long)ts.tv_sec, days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  long long doe = z - era * 146097;
  long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  long long day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
  long long year = yoe + era * 400 + (month <= 2);
  size_t n = (size_t)snprintf(out, cap, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", year, month, day, rem / 3600, rem / 60 % 60,
                              rem % 60);
  if (ts.tv_nsec) {
    char frac[16];
    snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
    size_t f = strlen(frac);
    while (frac[f - 1] == '0') frac[--f] = 0;
    n += (size_t)snprintf(out + n, cap - n, "%s", frac);
  }
  snprintf(out + n, cap - n, "Z");
}

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Write a file by temp name + rename: readers never see half of it. Not fsynced: the
 * state dir is in the exec root, whose content dies with the host by contract (the
 * engine keeps what must last, the exit included, in its own fsynced records). */
static int write_file(const char *dir, const char *name, const char *data) {
  char tmp[4096], final[4096];
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  path_join(final, sizeof final, dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (write_all(fd, data, strlen(data)) < 0) {
    close(fd);
    unlink(tmp);
    return -1;
  }
  close(fd);
  if (rename(tmp, final) < 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* ---------- JSON ---------- */

/* Length of a valid UTF-8 sequence at p (1-4), or 0 when invalid. */
static int utf8_len(const unsigned char *p, size_t avail) {
  unsigned char c = p[0];
  int n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) n = 2, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0) n = 3, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0) n = 4, cp = c & 0x07;
  else return 0;
  if ((size_t)n > avail) return 0;
  for (int i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0; /* overlong */
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/* Append `data` as a JSON string body (no quotes) to out; invalid UTF-8 becomes \ufffd. */
static size_t json_escape(char *out, const unsigned char *data, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    unsigned char c = data[i];
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
      i++;
    } else if (c < 0x20) {
      out[o++] = '\\';
      switch (c) {
        case '\n': out[o++] = 'n'; break;
        case '\r': out[o++] = 'r'; break;
        case '\t': out[o++] = 't'; break;
        case '\b': out[o++] = 'b'; break;
        case '\f': out[o++] = 'f'; break;
        default:
          memcpy(out + o, "u00", 3);
          o += 3;
          out[o++] = hex[c >> 4];
          out[o++] = hex[c & 15];
      }
      i++;
    } else if (c < 0x80) {
      out[o++] = (char)c;
      i++;
    } else {
      int n = utf8_len(data + i, len - i);
      if (n == 0) {
        memcpy(out + o, "\\ufffd", 6);
        o += 6;
        i++;
      } else {
        memcpy(out + o, data + i, (size_t)n);
        o += (size_t)n;
        i += (size_t)n;
      }
    }
  }
  return o;
}

/* ---------- log ---------- */

/* Docker's json-file rotation: <log>.N-2 -> .N-1, ..., <log> -> .1, then a new <log>
 * (with one file, the log is truncated). A reader holding the old file open reads it to
 * its end and then opens the new one. */
static void log_rotate(void) {
  if (opt.log_max_files <= 1) {
    if (ftruncate(log_fd, 0) == 0) log_size = 0;
    return;
  }
  char from[4096], to[4096];
  for (int i = opt.log_max_files - 1; i > 0; i--) {
    if (i == 1) snprintf(from, sizeof from, "%s", opt.log_path);
    else snprintf(from, sizeof from, "%s.%d", opt.log_path, i - 1);
    snprintf(to, sizeof to, "%s.%d", opt.log_path, i);
    if (rename(from, to) < 0 && errno != ENOENT) return; /* keep writing where we are */
  }
  int fd = open(opt.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return;
  close(log_fd);
  log_fd = fd;
  log_size = 0;
}

static void log_entry(const struct stream *s, const char *data, size_t len) {
  static char out[LOG_LINE_MAX * 6 + 256];
  if (log_fd < 0) return;
  char ts[64];
  rfc3339nano(ts, sizeof ts);
  size_t o = 0;
  memcpy(out, "{\"log\":\"", 8);
  o = 8;
  o += json_escape(out + o, (const unsigned char *)data, len);
  o += (size_t)snprintf(out + o, sizeof out - o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", s->name, ts);
  if (opt.log_max_size > 0 && log_size > 0 && log_size + (long long)o > opt.log_max_size) log_rotate();
  if (write_all(log_fd, out, o) == 0) log_size += (long long)o; /* a full disk must not stop the container */
}

static void log_output(struct stream *s, const char *data, size_t len) {
  for (size_t i = 0; i < len; i++) {
    s->line[s->line_len++] = data[i];
    if (data[i] == '\n' || s->line_len == LOG_LINE_MAX) {
      log_entry(s, s->line, s->line_len);
      s->line_len = 0;
    }
  }
}

static void log_flush(struct stream *s) {
  if (s->line_len) log_entry(s, s->line, s->line_len);
  s->line_len = 0;
}

/* ---------- clients ---------- */

static void client_drop(size_t i) {
  close(clients[i].fd);
  free(clients[i].out.data);
  free(clients[i].process);
  clients[i] = clients[--n_clients];
}

/*
 * At the end, after each client got its last frame and our EOF (SHUT_WR): read and
 * discard what they still send until each closes its side, then close them (bounded by
 * `deadline`). Closing at once would make a client's late write (a resize, a stdin frame
 * sent as the process exits) fail with EPIPE, and a client that then drops the
 * connection (Node destroys a socket on a write error) loses the output it had not read
 * yet: the last lines of a terminal. A client reads our EOF only after all output.
 */
static void linger_until_clients_close(long long deadline) {
  while (n_clients > 0) {
    long long left = deadline - now_ms();
    if (left <= 0) break;
    struct pollfd p[64];
    size_t n = n_clients < 64 ? n_clients : 64;
    for (size_t i = 0; i < n; i++) p[i] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
    int r = poll(p, n, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (size_t k = n; k-- > 0;) {
      if (!p[k].revents) continue;
      char sink[4096];
      ssize_t got = recv(clients[k].fd, sink, sizeof sink, MSG_DONTWAIT);
      if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) client_drop(k);
    }
  }
  while (n_clients > 0) client_drop(n_clients - 1);
}

/* Try to send what the client has queued; returns -1 if it must be dropped. */
static int client_flush(struct client *c) {
  while (c->out.len) {
    ssize_t w = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    buf_consume(&c->out, (size_t)w);
  }
  return 0;
}

static void broadcast(int stream, const char *data, size_t len) {
  unsigned char hdr[5] = {(unsigned char)stream, (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8), (unsigned char)len};
  for (size_t i = 0; i < n_clients;) {
    struct client *c = &clients[i];
    if (c->out.len + len + 5 > CLIENT_OUT_MAX || buf_append(&c->out, hdr, 5) < 0 ||
        buf_append(&c->out, data, len) < 0 || client_flush(c) < 0) {
      client_drop(i);
      continue;
    }
    i++;
  }
}

static void stdin_close(void) {
  if (stdin_fd >= 0) close(stdin_fd);
  stdin_fd = -1;
  stdin_close_pending = 0;
  free(stdin_queue.data);
  memset(&stdin_queue, 0, sizeof stdin_queue);
}

static void stdin_flush(void) {
  while (stdin_fd >= 0 && stdin_queue.len) {
    ssize_t w = write(stdin_fd, stdin_queue.data, stdin_queue.len);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      stdin_close(); /* EPIPE: the container closed its stdin */
      return;
    }
    buf_consume(&stdin_queue, (size_t)w);
  }
  if (stdin_close_pending && stdin_queue.len == 0) stdin_close();
}

static void control_request(struct client *c);
static void process_part(struct client *c);

/* Parse the client's frames: stream 0 carries stdin; an empty stream-0 frame closes it;
 * stream 3 carries a control request, answered on stream 3 to that client alone. */
static int client_read(struct client *c) {
  char in[16384];
  ssize_t n = recv(c->fd, in, sizeof in, MSG_DONTWAIT);
  if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
  if (n == 0) return -1;
  size_t i = 0;
  while (i < (size_t)n) {
    if (c->hdr_have < 5) {
      c->hdr[c->hdr_have++] = (unsigned char)in[i++];
      if (c->hdr_have == 5) {
        c->payload_stream = c->hdr[0];
        c->payload_left = (uint32_t)c->hdr[1] << 24 | (uint32_t)c->hdr[2] << 16 | (uint32_t)c->hdr[3] << 8 | c->hdr[4];
        if (c->payload_left > FRAME_MAX) return -1;
        if (c->payload_stream == STREAM_CONTROL && c->payload_left >= CONTROL_MAX) return -1;
        c->control_len = 0;
        if (c->payload_stream == STREAM_PROCESS) {
          /* Only before the start of a monitor that waits for it, once, and never empty. */
          if (!opt.process_later || exec_started || process_given || c->process || c->payload_left == 0) return -1;
          c->process = malloc(c->payload_left);
          c->process_len = 0;
          if (!c->process) return -1;
        }
        if (c->payload_left == 0) {
          if (c->payload_stream == STREAM_STDIN) {
            stdin_close_pending = 1;
            stdin_flush();
          }
          c->hdr_have = 0;
        }
      }
      continue;
    }
    size_t take = (size_t)n - i;
    if (take > c->payload_left) take = c->payload_left;
    if (c->payload_stream == STREAM_STDIN && stdin_fd >= 0 && !stdin_close_pending) buf_append(&stdin_queue, in + i, take);
    if (c->payload_stream == STREAM_CONTROL) {
      memcpy(c->control + c->control_len, in + i, take);
      c->control_len += take;
    }
    if (c->payload_stream == STREAM_PROCESS) {
      memcpy(c->process + c->process_len, in + i, take);
      c->process_len += take;
    }
    i += take;
    c->payload_left -= (uint32_t)take;
    if (c->payload_left == 0) {
      c->hdr_have = 0;
      if (c->payload_stream == STREAM_CONTROL) control_request(c);
      if (c->payload_stream == STREAM_PROCESS) process_part(c);
    }
  }
  stdin_flush();
  return 0;
}

static void client_add(int fd);

static void client_accept(int lfd) {
  int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return;
  client_add(fd);
}

/* A connected client (non-blocking): it receives every output frame from now on. */
static void client_add(int fd) {
  struct client *p = realloc(clients, (n_clients + 1) * sizeof *clients);
  if (!p) {
    close(fd);
    return;
  }
  clients = p;
  memset(&clients[n_clients], 0, sizeof *clients);
  clients[n_clients++].fd = fd;
}

/* ---------- the runtime ---------- */

/*
 * --hide-mount PATH: move the calling process into a mount namespace of its own, a copy
 * of the current one with every mount made a slave (so that nothing done here propagates
 * back, while unmounts on the host still reach the copy), and unmount PATH (detached)
 * there. Called in a runtime's process just before its exec, so the namespace lives as
 * long as that process: the copy of the host's mounts is never held past it. Whether and
 * what to hide is the spawner's decision (runtime-oci: crun on a cgroup v1 host whose
 * empty cgroup2 hierarchy makes crun refuse to run). Returns 0 or -1 with errno set.
 */
static int hide_mount(const char *path) {
  if (unshare(CLONE_NEWNS) < 0) return -1;
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) return -1;
  if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) return -1; /* EINVAL: not a mount here */
  return 0;
}

/* Start the runtime with args; stdio as given (-1: /dev/null). Returns its pid, or -1.
 * A runtime that cannot be given its view of the mounts (--hide-mount) exits 126. */
static pid_t spawn_runtime(char *const argv[], int in, int out, int err) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (opt.hide_mount && hide_mount(opt.hide_mount) < 0) _exit(126);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  dup2(in >= 0 ? in : null, 0);
  dup2(out >= 0 ? out : null, 1);
  dup2(err >= 0 ? err : null, 2);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  execv(argv[0], argv);
  _exit(127);
}

static int wait_runtime(pid_t pid) {
  if (pid < 0) return -1;
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

/*
 * Move this process into each --cgroup directory (cgroup.procs, v1 and v2 alike).
 * Called right after the runtime's create is started, while it boots: a migration
 * waits for the kernel's global cgroup_threadgroup_rwsem to enter writer mode, one RCU
 * grace period (10-30 ms on the 2-core VM of bench/) unless another migration has just
 * done so. The runtime's migration of the container's init, ~10 ms later, then finds
 * that wait (partly) done instead of starting its own. A failure is a `warn` line on
 * the ready fd, not fatal: the shim then stays in its spawner's cgroup.
 */
static void join_cgroups(int ready_fd) {
  char pid[32];
  snprintf(pid, sizeof pid, "%d\n", getpid());
  for (int i = 0; i < opt.n_cgroups; i++) {
    char procs[4096];
    path_join(procs, sizeof procs, opt.cgroups[i], "cgroup.procs");
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    int failed = fd < 0 || write_all(fd, pid, strlen(pid)) < 0;
    int e = errno;
    if (fd >= 0) close(fd);
    if (failed && ready_fd >= 0) dprintf(ready_fd, "warn cannot join cgroup %s: %s\n", opt.cgroups[i], strerror(e));
  }
}

/* Run the runtime with args; stdio as given (-1: /dev/null). Returns the wait status. */
static int run_runtime(char *const argv[], int in, int out, int err) {
  return wait_runtime(spawn_runtime(argv, in, out, err));
}

static void runtime_error(const char *log_file, const char *fallback, char *out, size_t cap);

/* ---------- terminals ---------- */

/* Listen where the runtime connects to send the pty master (`--console-socket`). */
static int console_listen(void) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  path_join(console_path, sizeof console_path, opt.state_dir, "pty.sock");
  if (strlen(console_path) >= sizeof sa.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(sa.sun_path, console_path, strlen(console_path) + 1);
  unlink(console_path);
  console_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (console_lfd < 0 || bind(console_lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(console_lfd, 1) < 0) return -1;
  return 0;
}

static void use_terminal(void);

/* After the runtime succeeded: take the pty master it sent (SCM_RIGHTS) and make it the
 * process's output (read) and stdin (write, with --stdin). Returns 0 or -1. */
static int console_receive(void) {
  struct pollfd p = {.fd = console_lfd, .events = POLLIN};
  int c = poll(&p, 1, 5000) == 1 ? accept4(console_lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
  close(console_lfd);
  console_lfd = -1;
  unlink(console_path);
  if (c < 0) return -1;
  char data[512];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  ssize_t n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
  close(c);
  struct cmsghdr *cm = n < 0 ? NULL : CMSG_FIRSTHDR(&msg);
  if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) return -1;
  memcpy(&term_fd, CMSG_DATA(cm), sizeof term_fd);
  use_terminal();
  return 0;
}

/* The pty master in term_fd becomes the process's output and (with --stdin) its input. */
static void use_terminal(void) {
  /* Three descriptors of one master: resize, reading (closed at EIO: the process and
   * every holder of the pty's other side are gone) and stdin (closed on request). */
  streams[0].fd = fcntl(term_fd, F_DUPFD_CLOEXEC, 3);
  fcntl(streams[0].fd, F_SETFL, O_NONBLOCK);
  if (opt.open_stdin) {
    stdin_fd = fcntl(term_fd, F_DUPFD_CLOEXEC, 3);
    fcntl(stdin_fd, F_SETFL, O_NONBLOCK);
  }
}

/* "resize <rows> <cols>": the pty's window size (the kernel sends SIGWINCH to its foreground group). */
static void resize_terminal(const char *request, char *reply, size_t cap) {
  unsigned rows, cols;
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  if (sscanf(request, "resize %u %u", &rows, &cols) != 2 || rows > 65535 || cols > 65535) {
    snprintf(reply, cap, "error: bad resize request");
  } else if (term_fd < 0) {
    snprintf(reply, cap, "error: the process has no terminal");
  } else {
    ws.ws_row = (unsigned short)rows;
    ws.ws_col = (unsigned short)cols;
    if (ioctl(term_fd, TIOCSWINSZ, &ws) < 0) snprintf(reply, cap, "error: resize: %s", strerror(errno));
    else snprintf(reply, cap, "ok");
  }
}

/* ---------- exec ---------- */

/*
 * --exec, "start": `<runtime> exec --detach --process P --pid-file F [--console-socket S] ID`
 * with the pipes (or the pty) as its stdio. The runtime joins the container's namespaces,
 * cgroups and security settings, starts the process and exits; the process is re-parented
 * to this shim (a child subreaper), which reaps it like a container's init. Answers
 * "ok <pid>" or "error: <the runtime's message>" (then the shim records exit 255 and ends).
 */
static void exec_start_direct(char *reply, size_t cap);

/*
 * --process-later, stream 5: the process part of the plan (direct_exec_set_process), kept
 * for the whole life of the shim (the plan points into it). A part refused is told at the
 * start, which then fails (exit 255 recorded, the shim ends) without running anything.
 */
static void process_part(struct client *c) {
  char *data = c->process;
  size_t len = c->process_len;
  c->process = NULL;
  process_given = 1;
  if (direct_exec_set_process(data, len, process_error, sizeof process_error) < 0) {
    if (!process_error[0]) snprintf(process_error, sizeof process_error, "exec process: refused");
    free(data);
  }
}

static void exec_start(char *reply, size_t cap) {
  if (opt.plan && opt.process_later && (!process_given || process_error[0])) {
    exec_started = exec_failed = 1;
    snprintf(reply, cap, "error: %s", process_given ? process_error : "no process was given to run");
    return;
  }
  if (opt.plan) {
    exec_start_direct(reply, cap);
    return;
  }
  char pid_file[4096], log_file[4096], msg[900];
  path_join(pid_file, sizeof pid_file, opt.state_dir, "pid");
  path_join(log_file, sizeof log_file, opt.state_dir, "runtime-exec.log");
  unlink(log_file);
  exec_started = 1;
  char *argv[24];
  int a = 0;
  argv[a++] = (char *)opt.runtime;
  argv[a++] = "--root";
  argv[a++] = (char *)opt.runtime_root;
  argv[a++] = "--log";
  argv[a++] = log_file;
  argv[a++] = "--log-format";
  argv[a++] = "json";
  argv[a++] = "exec";
  argv[a++] = "--process";
  argv[a++] = (char *)opt.process;
  argv[a++] = "--detach";
  argv[a++] = "--pid-file";
  argv[a++] = pid_file;
  if (opt.terminal) {
    argv[a++] = "--console-socket";
    argv[a++] = console_path;
  }
  argv[a++] = (char *)opt.id;
  argv[a] = NULL;
  pid_t runtime_pid = spawn_runtime(argv, pipe_in[0], pipe_out[1], pipe_err[1]);
  join_cgroups(-1); /* no ready pipe any more: a cgroup it cannot join leaves it where it is */
  int status = wait_runtime(runtime_pid);
  /* The process holds its own copies: EOF on the read ends now means it closed them. */
  if (pipe_out[1] >= 0) close(pipe_out[1]);
  if (pipe_err[1] >= 0) close(pipe_err[1]);
  if (pipe_in[0] >= 0) close(pipe_in[0]);
  pipe_out[1] = pipe_err[1] = pipe_in[0] = -1;
  FILE *pf = status == 0 ? fopen(pid_file, "re") : NULL;
  if (status != 0 || !pf || fscanf(pf, "%d", &container_pid) != 1 || container_pid <= 0) {
    if (pf) fclose(pf);
    container_pid = 0;
    runtime_error(log_file, status == 0 ? "the runtime's exec wrote no pid" : "the runtime's exec failed", msg, sizeof msg);
    snprintf(reply, cap, "error: %s", msg);
    exec_failed = 1;
    return;
  }
  fclose(pf);
  if (opt.terminal && console_receive() < 0) {
    snprintf(reply, cap, "error: the runtime sent no terminal for the process");
    kill(container_pid, SIGKILL); /* reaped by the main loop, which then records its exit */
    return;
  }
  snprintf(reply, cap, "ok %d", container_pid);
}

/*
 * --exec-plan, "start": the process is cloned and exec'd by this shim (direct-exec.c), no
 * runtime process. The answer is the same as the runtime's path: "ok <pid>" once it has
 * exec'd, or "error: <message>" in runc's words (then exit 255 is recorded and the shim
 * ends). The shim joined its own cgroups at launch (join_cgroups_direct).
 */
static void exec_start_direct(char *reply, size_t cap) {
  char msg[900];
  exec_started = 1;
  int master = -1;
  /* A shim that waited for its start watched the init from its launch: that pidfd. */
  pid_t pid = direct_exec_start(init_watch, pipe_in[0], pipe_out[1], pipe_err[1], opt.terminal, &master, msg, sizeof msg);
  init_watch = -1;
  /* The process holds its own copies: EOF on the read ends now means it closed them. */
  if (pipe_out[1] >= 0) close(pipe_out[1]);
  if (pipe_err[1] >= 0) close(pipe_err[1]);
  if (pipe_in[0] >= 0) close(pipe_in[0]);
  pipe_out[1] = pipe_err[1] = pipe_in[0] = -1;
  if (pid < 0) {
    snprintf(reply, cap, "error: %s", msg);
    exec_failed = 1;
    return;
  }
  container_pid = pid;
  if (opt.terminal) {
    term_fd = master;
    use_terminal();
  }
  snprintf(reply, cap, "ok %d", pid);
}

/*
 * --exec-plan: the shim's own cgroups (--cgroup), joined at launch without the kernel's
 * global cgroup migration lock, whose wait (an RCU grace period, 5-30 ms) would else be on
 * the path of the exec: the first process forks the shim straight into the cgroup2 one
 * (clone3 CLONE_INTO_CGROUP), and the shim, one thread, moves itself into each v1 one by
 * writing "0" to its `tasks`. Returns the child's pid as fork does; a cgroup it cannot
 * join is a `warn` line, as join_cgroups has it.
 */
static pid_t fork_into_cgroups(int ready_fd) {
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  int cgroup_fd = -1;
  for (int i = 0; i < opt.n_cgroups && cgroup_fd < 0; i++) {
    struct statfs st;
    if (statfs(opt.cgroups[i], &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
      cgroup_fd = open(opt.cgroups[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
  }
  if (cgroup_fd >= 0) {
    args.flags = CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
  }
  pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && cgroup_fd >= 0) { /* a cgroup2 dir that refuses: stay where we are */
    dprintf(ready_fd, "warn cannot start in a cgroup2 cgroup: %s\n", strerror(errno));
    pid = fork();
  }
  if (pid != 0) {
    if (cgroup_fd >= 0) close(cgroup_fd);
    return pid;
  }
  if (cgroup_fd >= 0) close(cgroup_fd);
  for (int i = 0; i < opt.n_cgroups; i++) {
    struct statfs st;
    if (statfs(opt.cgroups[i], &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) continue;
    char tasks[4096];
    path_join(tasks, sizeof tasks, opt.cgroups[i], "tasks");
    int fd = open(tasks, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) dprintf(ready_fd, "warn cannot join cgroup %s: %s\n", opt.cgroups[i], strerror(errno));
    if (fd >= 0) close(fd);
  }
  return 0;
}

/*
 * --exec, "kill <signal number>": signal the exec's process. It is this shim's child
 * until the main loop reaps it, so the pid cannot name another process meanwhile. Before
 * `start` nothing runs: the monitor is discarded (nothing ran, recorded as exit 255, and
 * the shim ends). After the exit, or a failed start, there is nothing to signal: "ok".
 */
static void kill_process(const char *request, char *reply, size_t cap) {
  int sig;
  if (sscanf(request, "kill %d", &sig) != 1 || sig <= 0 || sig >= NSIG) {
    snprintf(reply, cap, "error: bad kill request");
    return;
  }
  if (!exec_started) {
    exec_started = 1;
    exec_failed = 1;
  } else if (container_pid > 0 && !container_reaped && kill(container_pid, sig) < 0 && errno != ESRCH) {
    snprintf(reply, cap, "error: kill %d: %s", (int)container_pid, strerror(errno));
    return;
  }
  snprintf(reply, cap, "ok");
}

/* Queue one frame for one client. */
static int client_send(struct client *c, int stream, const char *data, size_t len) {
  unsigned char hdr[5] = {(unsigned char)stream, (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8), (unsigned char)len};
  if (buf_append(&c->out, hdr, 5) < 0 || buf_append(&c->out, data, len) < 0) return -1;
  return client_flush(c);
}

/*
 * What `runc start` does, without a Go process (~7 ms): open the runtime's exec fifo, on
 * whose write end the container's init waits; read the byte the init writes before it
 * execs the process (its end is close-on-exec, so EOF follows), then remove the fifo,
 * which is how the runtime tells "created" from "running". Returns 0, -1 with `err` set,
 * or 1 when there is no fifo to open (then the runtime's own start is used).
 */
static int start_via_fifo(const char *fifo, char *err, size_t cap) {
  /* Exited before start, and reaped already (the request came while the pipes drain). */
  if (container_reaped) {
    snprintf(err, cap, "cannot start a container that has stopped");
    return -1;
  }
  int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 1;
    snprintf(err, cap, "open %s: %s", fifo, strerror(errno));
    return -1;
  }
  size_t got = 0;
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      snprintf(err, cap, "poll %s: %s", fifo, strerror(errno));
      break;
    }
    if (r == 0) {
      /* Nothing yet: if the init is gone (a zombie we have not reaped, or none at all:
       * ECHILD), nothing will come. */
      siginfo_t si;
      memset(&si, 0, sizeof si);
      int w = waitid(P_PID, (id_t)container_pid, &si, WEXITED | WNOHANG | WNOWAIT);
      if ((w == 0 && si.si_pid == container_pid) || (w < 0 && errno == ECHILD)) {
        snprintf(err, cap, "cannot start a container that has stopped");
        break;
      }
      continue;
    }
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n > 0) {
      got += (size_t)n;
      continue;
    }
    /* EOF: the init closed its end, by exec (after its byte) or by dying (before it). */
    if (n == 0 && got > 0) {
      close(fd);
      unlink(fifo);
      return 0;
    }
    /* EOF before the byte: the init had the fifo open and died (a second start finds
     * no fifo at all, and `<runtime> start` tells it is running). */
    if (n == 0) snprintf(err, cap, "cannot start a container that has stopped");
    else snprintf(err, cap, "read %s: %s", fifo, strerror(errno));
    break;
  }
  close(fd);
  return -1;
}

/*
 * What `crun start` does, without a crun process: crun's created init waits to read one
 * byte from the exec fifo (the other way round from runc); write it and remove the fifo,
 * which is how crun tells "created" from "running". No reader (ENXIO): the init is gone.
 * Returns 0, -1 with `err` set, or 1 when there is no fifo (then the runtime's own start).
 * crun's start also runs poststart hooks: the spawner passes the fifo only for bundles
 * without them.
 */
static int start_via_fifo_write(const char *fifo, char *err, size_t cap) {
  if (container_reaped) {
    snprintf(err, cap, "cannot start a container that has stopped");
    return -1;
  }
  int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 1;
    if (errno == ENXIO) snprintf(err, cap, "cannot start a container that has stopped");
    else snprintf(err, cap, "open %s: %s", fifo, strerror(errno));
    return -1;
  }
  ssize_t n;
  do n = write(fd, "1", 1);
  while (n < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  if (n != 1) {
    snprintf(err, cap, e == EPIPE ? "cannot start a container that has stopped" : "write %s: %s", fifo, strerror(e));
    return -1;
  }
  unlink(fifo);
  return 0;
}

/* "start": release the container (above; else `<runtime> start <id>`, run from here,
 * which costs the daemon no process of its own) and answer "ok" or "error: <message>". */
static void control_request(struct client *c) {
  char reply[1024];
  c->control[c->control_len < CONTROL_MAX ? c->control_len : CONTROL_MAX - 1] = 0;
  if (c->control_len > 7 && memcmp(c->control, "resize ", 7) == 0) {
    resize_terminal(c->control, reply, sizeof reply);
  } else if (c->control_len > 5 && memcmp(c->control, "kill ", 5) == 0 && opt.process) {
    kill_process(c->control, reply, sizeof reply);
  } else if (c->control_len == 5 && memcmp(c->control, "start", 5) == 0 && opt.process) {
    if (exec_started) snprintf(reply, sizeof reply, "error: the process was started already");
    else exec_start(reply, sizeof reply);
  } else if (c->control_len == 5 && memcmp(c->control, "start", 5) == 0) {
    char msg[900];
    int direct = !opt.exec_fifo        ? 1
                 : opt.exec_fifo_write ? start_via_fifo_write(opt.exec_fifo, msg, sizeof msg)
                                       : start_via_fifo(opt.exec_fifo, msg, sizeof msg);
    if (direct == 0) {
      snprintf(reply, sizeof reply, "ok");
    } else if (direct < 0) {
      snprintf(reply, sizeof reply, "error: %s", msg);
    } else {
      char log_file[4096];
      path_join(log_file, sizeof log_file, opt.state_dir, "runtime-start.log");
      unlink(log_file);
      char *argv[] = {(char *)opt.runtime, "--root", (char *)opt.runtime_root, "--log", log_file,
                      "--log-format", "json", "start", (char *)opt.id, NULL};
      int status = run_runtime(argv, -1, -1, -1);
      if (status == 0) {
        snprintf(reply, sizeof reply, "ok");
      } else {
        runtime_error(log_file, "the runtime's start failed", msg, sizeof msg);
        snprintf(reply, sizeof reply, "error: %s", msg);
      }
    }
  } else {
    snprintf(reply, sizeof reply, "error: unknown control request");
  }
  client_send(c, STREAM_CONTROL, reply, strlen(reply));
  /* A direct exec started on request: its pid file (which a restarted daemon finds it
   * by) comes after the answer, off the exec's path, as at launch. */
  if (opt.plan && container_pid > 0 && !strncmp(reply, "ok ", 3)) {
    char text[32];
    int n = snprintf(text, sizeof text, "%d\n", container_pid);
    /* One write of a few bytes into the empty file: a reader sees it empty or whole. */
    if (pid_fd < 0 || pwrite(pid_fd, text, (size_t)n, 0) != n) write_file(opt.state_dir, "pid", text);
  }
}

/* `<runtime> delete --force ID`: started, so the caller can do other work while it runs. */
static pid_t runtime_delete_start(void) {
  char *argv[] = {(char *)opt.runtime, "--root", (char *)opt.runtime_root, "delete", "--force", (char *)opt.id, NULL};
  return spawn_runtime(argv, -1, -1, -1);
}

static void runtime_delete(void) {
  wait_runtime(runtime_delete_start());
}

/* The runtime's error: the last "msg" of an error-level line of its JSON log, else `fallback`. */
static void runtime_error(const char *log_file, const char *fallback, char *out, size_t cap) {
  snprintf(out, cap, "%s", fallback);
  FILE *f = fopen(log_file, "re");
  if (!f) return;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    if (!strstr(line, "\"level\":\"error\"") && !strstr(line, "\"level\":\"fatal\"")) continue;
    char *m = strstr(line, "\"msg\":\"");
    if (!m) continue;
    m += 7;
    size_t o = 0;
    for (; *m && *m != '"' && o + 1 < cap; m++) {
      if (*m == '\\' && m[1]) {
        m++;
        if (*m == 'u' && strlen(m) >= 5) { /* Go escapes <, >, & as \u003c...; other code points become '?' */
          char hex[5] = {m[1], m[2], m[3], m[4], 0};
          long cp = strtol(hex, NULL, 16);
          out[o++] = cp > 0 && cp < 0x80 ? (char)cp : '?';
          m += 4;
          continue;
        }
        out[o++] = *m == 'n' || *m == 't' || *m == 'r' ? ' ' : *m;
      } else {
        out[o++] = *m;
      }
    }
    out[o] = 0;
  }
  fclose(f);
}

/* ---------- exit ---------- */

static int oom_killed(void) {
  for (int i = 0; i < opt.n_oom_files; i++) {
    FILE *f = fopen(opt.oom_files[i], "re");
    if (!f) continue;
    char line[256];
    long long n = 0;
    while (fgets(line, sizeof line, f)) {
      if (sscanf(line, "oom_kill %lld", &n) == 1 && n > 0) break;
      n = 0;
    }
    fclose(f);
    if (n > 0) return 1;
  }
  return 0;
}

static void fail_ready(int ready_fd, const char *fmt, ...) {
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *p = msg; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  dprintf(ready_fd, "error %s\n", msg);
  close(ready_fd);
  exit(1);
}

static void usage(void) {
  fprintf(stderr,
          "usage: berth-shim --id ID --bundle DIR --state-dir DIR [--log PATH [--log-max-size BYTES --log-max-files N]]\n"
          "                  --runtime PATH --runtime-root DIR [--stdin] [--terminal] [--oom-file PATH]... [--ready-fd N] [--detach] [--exec-fifo PATH]\n"
          "                  [--exec-fifo-write] [--keep-runtime-state] [--cgroup DIR]... [--runtime-config FILE]\n"
          "       berth-shim --exec PROCESS.json --id ID --state-dir DIR --runtime PATH --runtime-root DIR\n"
          "                  [--stdin] [--terminal] [--log PATH] [--ready-fd N] [--detach] [--cgroup DIR]... [--exec-plan PLAN [--wait-start [--process-later]]]\n"
          "       (both also take [--hide-mount PATH])\n"
          "       berth-shim --hide-mount PATH --run RUNTIME [ARG]...\n");
  exit(2);
}

/* `dir` and any parent it lacks (mode 0700), as `mkdir -p`; 0, or -1 with errno set. */
static int make_state_dir(const char *dir) {
  if (mkdir(dir, 0700) == 0 || errno == EEXIST) return 0;
  if (errno != ENOENT) return -1;
  char parent[4096];
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--; /* a trailing slash is not a parent */
  while (n > 0 && dir[n - 1] != '/') n--;
  while (n > 1 && dir[n - 1] == '/') n--;
  if (n == 0 || n >= sizeof parent) return -1; /* errno is still ENOENT */
  memcpy(parent, dir, n);
  parent[n] = 0;
  if (make_state_dir(parent) < 0) return -1;
  return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int main(int argc, char **argv) {
  /* --run: one runtime command (kill, pause, state...) with the same view of the mounts
   * as the runtime processes of the shims, then nothing else: this process becomes it. */
  if (argc >= 5 && !strcmp(argv[1], "--hide-mount") && !strcmp(argv[3], "--run")) {
    if (hide_mount(argv[2]) < 0) {
      fprintf(stderr, "berth-shim: cannot unmount %s in a mount namespace of its own: %s\n", argv[2], strerror(errno));
      return 126;
    }
    execv(argv[4], argv + 4);
    fprintf(stderr, "berth-shim: exec %s: %s\n", argv[4], strerror(errno));
    return 127;
  }
  int ready_fd = 1, detach = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--stdin")) { opt.open_stdin = 1; continue; }
    if (!strcmp(a, "--detach")) { detach = 1; continue; }
    if (!strcmp(a, "--keep-runtime-state")) { opt.keep_runtime_state = 1; continue; }
    if (!strcmp(a, "--exec-fifo-write")) { opt.exec_fifo_write = 1; continue; }
    if (!strcmp(a, "--wait-start")) { opt.wait_start = 1; continue; }
    if (!strcmp(a, "--process-later")) { opt.process_later = 1; continue; }
    if (!strcmp(a, "--terminal")) { opt.terminal = 1; continue; }
    if (!v) usage();
    if (!strcmp(a, "--id")) opt.id = v;
    else if (!strcmp(a, "--bundle")) opt.bundle = v;
    else if (!strcmp(a, "--state-dir")) opt.state_dir = v;
    else if (!strcmp(a, "--log")) opt.log_path = v;
    else if (!strcmp(a, "--runtime")) opt.runtime = v;
    else if (!strcmp(a, "--runtime-root")) opt.runtime_root = v;
    else if (!strcmp(a, "--ready-fd")) ready_fd = atoi(v);
    else if (!strcmp(a, "--exec-fifo")) opt.exec_fifo = v;
    else if (!strcmp(a, "--log-max-size")) opt.log_max_size = atoll(v);
    else if (!strcmp(a, "--log-max-files")) opt.log_max_files = atoi(v);
    else if (!strcmp(a, "--exec")) opt.process = v;
    else if (!strcmp(a, "--exec-plan")) opt.plan = opt.process = v; /* an exec, run without the runtime */
    else if (!strcmp(a, "--oom-file") && opt.n_oom_files < MAX_OOM_FILES) opt.oom_files[opt.n_oom_files++] = v;
    else if (!strcmp(a, "--cgroup") && opt.n_cgroups < MAX_CGROUPS) opt.cgroups[opt.n_cgroups++] = v;
    else if (!strcmp(a, "--hide-mount")) opt.hide_mount = v;
    else if (!strcmp(a, "--runtime-config")) opt.runtime_config = v;
    else usage();
    i++;
  }
  if (!opt.id || !opt.state_dir || !opt.runtime || !opt.runtime_root) usage();
  if (!opt.process && !opt.bundle) usage(); /* an exec has no bundle; without --log nothing is logged */
  if (opt.process_later && (!opt.plan || !opt.wait_start)) usage(); /* the part comes before a start */
  /* Made here when the spawner did not (a monitor made ahead finds nothing of its own
   * there at launch): a directory create off the spawner's event loop. */
  if (make_state_dir(opt.state_dir) < 0) fail_ready(ready_fd, "mkdir %s: %s", opt.state_dir, strerror(errno));
  if (opt.plan) {
    char msg[1024];
    if (direct_exec_load(opt.plan, opt.process_later, msg, sizeof msg) < 0) fail_ready(ready_fd, "%s", msg);
  }

  /* --detach: the first process exits at once, so a spawner that cannot reap us later
   * (posix_spawn from berthd, whose libuv reaps only its own children) waits for it
   * right away; this child is re-parented to init and never becomes its zombie. */
  if (detach) {
    pid_t child = opt.plan ? fork_into_cgroups(ready_fd) : fork();
    if (child < 0) fail_ready(ready_fd, "fork: %s", strerror(errno));
    if (child > 0) _exit(0);
  } else if (opt.plan) {
    join_cgroups(ready_fd); /* not detached (a test's shim): the ordinary migration */
  }

  /* Detach: own session, no controlling terminal, stdio on /dev/null except the ready pipe. */
  ready_fd = fcntl(ready_fd, F_DUPFD_CLOEXEC, 3);
  if (ready_fd < 0) return 1;
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  if (null > 2) close(null);
  setsid();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) fail_ready(ready_fd, "prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));

  /* Children are watched through a signalfd; block SIGCHLD before anything can exit. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) fail_ready(ready_fd, "signalfd: %s", strerror(errno));

  char path[4096];
  path_join(path, sizeof path, opt.state_dir, "shim.pid");
  char pidtext[32];
  snprintf(pidtext, sizeof pidtext, "%d\n", getpid());
  /* A direct exec writes it once its process runs and its spawner is told (below). */
  if (!opt.plan && write_file(opt.state_dir, "shim.pid", pidtext) < 0)
    fail_ready(ready_fd, "write %s: %s", path, strerror(errno));

  if (opt.log_path) {
    log_fd = open(opt.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) fail_ready(ready_fd, "open log %s: %s", opt.log_path, strerror(errno));
    struct stat st;
    log_size = fstat(log_fd, &st) == 0 ? (long long)st.st_size : 0;
  }

  /* With a terminal the runtime's own stdio is /dev/null and the process's is the pty
   * (sent over the console socket; a direct exec makes it itself). */
  if (opt.terminal ? !opt.plan && console_listen() < 0
                   : pipe2(pipe_out, O_CLOEXEC) < 0 || pipe2(pipe_err, O_CLOEXEC) < 0 ||
                         (opt.open_stdin && pipe2(pipe_in, O_CLOEXEC) < 0))
    fail_ready(ready_fd, "%s: %s", opt.terminal ? "console socket" : "pipe", strerror(errno));
  streams[0].fd = pipe_out[0];
  streams[1].fd = pipe_err[0];
  if (pipe_in[1] >= 0) {
    stdin_fd = pipe_in[1];
    fcntl(stdin_fd, F_SETFL, O_NONBLOCK);
  }

  char pid_file[4096], runtime_log[4096];
  path_join(pid_file, sizeof pid_file, opt.state_dir, "pid");
  path_join(runtime_log, sizeof runtime_log, opt.state_dir, "runtime-create.log");
  if (opt.process) {
    /* An exec: nothing runs until a client asks (start), so no output is lost. The shim
     * joins its cgroup then, while the runtime's exec runs (exec_start), as a container's
     * shim does while its create runs: the migration's wait is then off the exec's path. */
  } else {
    unlink(runtime_log);
    char *create_argv[20] = {(char *)opt.runtime, "--root", (char *)opt.runtime_root, "--log", runtime_log,
                             "--log-format", "json", "create", "--bundle", (char *)opt.bundle, "--pid-file", pid_file};
    int a = 12;
    if (opt.runtime_config) {
      create_argv[a++] = "--config";
      create_argv[a++] = (char *)opt.runtime_config;
    }
    if (opt.terminal) {
      create_argv[a++] = "--console-socket";
      create_argv[a++] = console_path;
    }
    create_argv[a++] = (char *)opt.id;
    create_argv[a] = NULL;
    pid_t create_pid = spawn_runtime(create_argv, pipe_in[0], pipe_out[1], pipe_err[1]);
    join_cgroups(ready_fd);
    int status = wait_runtime(create_pid);
    if (pipe_out[1] >= 0) close(pipe_out[1]);
    if (pipe_err[1] >= 0) close(pipe_err[1]);
    if (pipe_in[0] >= 0) close(pipe_in[0]);
    pipe_out[1] = pipe_err[1] = pipe_in[0] = -1;
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      char msg[4096], fallback[256];
      if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
        snprintf(fallback, sizeof fallback, "exec %s: cannot run the runtime", opt.runtime);
      else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 126 && opt.hide_mount)
        snprintf(fallback, sizeof fallback, "cannot unmount %s in a mount namespace for %s", opt.hide_mount, opt.runtime);
      else
        snprintf(fallback, sizeof fallback, "%s create failed with status %d", opt.runtime, status);
      runtime_error(runtime_log, fallback, msg, sizeof msg);
      runtime_delete();
      unlink(pid_file);
      if (console_lfd >= 0) unlink(console_path);
      path_join(path, sizeof path, opt.state_dir, "shim.pid");
      unlink(path);
      fail_ready(ready_fd, "%s", msg);
    }

    FILE *pf = fopen(pid_file, "re");
    if (!pf || fscanf(pf, "%d", &container_pid) != 1 || container_pid <= 0) {
      if (pf) fclose(pf);
      runtime_delete();
      fail_ready(ready_fd, "%s create succeeded but wrote no pid to %s", opt.runtime, pid_file);
    }
    fclose(pf);
    if (opt.terminal && console_receive() < 0) {
      runtime_delete();
      fail_ready(ready_fd, "%s create sent no terminal to %s", opt.runtime, console_path);
    }
  }

  if (opt.plan && opt.wait_start) {
    /* Ready to run, and waiting for the `start` request on the ready socket (its first
     * client): the spawner launched it ahead of the start (at the exec's create), so the
     * launch is off the start's path. Nothing runs until then; if the container's init
     * exits, or the spawner drops the socket before asking, the monitor is discarded
     * (exit 255, nothing ran) and the shim ends. */
    init_watch = direct_exec_init_pidfd();
    if (init_watch < 0) exec_started = exec_failed = 1;
    /* The shim's own pid in the line: shim.pid comes after it, off the launch's path,
     * and a spawner that ends the monitor meanwhile still knows which process to await. */
    dprintf(ready_fd, "created %d\n", (int)getpid());
    fcntl(ready_fd, F_SETFL, O_NONBLOCK);
    client_add(ready_fd);
    ready_fd = -1;
    write_file(opt.state_dir, "shim.pid", pidtext);
    char pid_path[4096];
    path_join(pid_path, sizeof pid_path, opt.state_dir, "pid");
    pid_fd = open(pid_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } else if (opt.plan) {
    /* A direct exec runs at once and its spawner's end of the ready socket is its first
     * client: no connect and no `start` request on the path of every `docker exec` (two
     * round trips between the daemon and the shim). The process's output waits in its
     * pipes until the loop below reads it, so the spawner sees all of it. The files a
     * restarted daemon finds the exec by (shim.pid, pid, shim.sock) come right after the
     * ready line, off the exec's path (each a file created on the exec root's file
     * system); a daemon restarts in far longer than that takes. */
    char reply[1024];
    exec_start_direct(reply, sizeof reply);
    if (exec_failed) dprintf(ready_fd, "exec-error %s\n", reply + strlen("error: "));
    else dprintf(ready_fd, "ok %d\n", container_pid);
    fcntl(ready_fd, F_SETFL, O_NONBLOCK);
    client_add(ready_fd);
    ready_fd = -1;
    write_file(opt.state_dir, "shim.pid", pidtext);
    if (container_pid > 0) {
      char text[32];
      snprintf(text, sizeof text, "%d\n", container_pid);
      write_file(opt.state_dir, "pid", text);
    }
  }

  /* Listen before reporting ready, so the engine can connect the moment it reads "ok". */
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  char sock_path[4096];
  path_join(sock_path, sizeof sock_path, opt.state_dir, "shim.sock");
  unlink(sock_path);
  int bound;
  if (strlen(sock_path) < sizeof sa.sun_path) {
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    bound = bind(lfd, (struct sockaddr *)&sa, sizeof sa);
  } else { /* too long for sun_path: bind relative to the state dir */
    snprintf(sa.sun_path, sizeof sa.sun_path, "shim.sock");
    bound = chdir(opt.state_dir) == 0 ? bind(lfd, (struct sockaddr *)&sa, sizeof sa) : -1;
  }
  if (chdir("/") < 0) { /* never hold the daemon's or the state dir's cwd */ }
  if (lfd < 0 || bound < 0 || listen(lfd, 16) < 0) {
    int e = errno;
    /* A direct exec told its spawner already and goes on with it alone (a restarted
     * daemon will not find it by its socket, and records it lost). */
    if (!opt.plan) {
      runtime_delete();
      fail_ready(ready_fd, "listen on %s: %s", sock_path, strerror(e));
    }
    if (lfd >= 0) close(lfd);
    lfd = -1;
  }

  if (!opt.plan) {
    dprintf(ready_fd, "ok %d\n", container_pid);
    close(ready_fd);
  }

  int exited = 0, exit_status = 0;
  long long drain_deadline = 0;
  struct pollfd *pfds = NULL;
  size_t pfds_cap = 0;
  for (;;) {
    if (exec_failed && !exited) { /* nothing ran: recorded as exit 255 */
      exited = 1;
      exit_status = 255 << 8;
      drain_deadline = now_ms();
    }
    if (exited && ((streams[0].fd < 0 && streams[1].fd < 0) || now_ms() >= drain_deadline)) break;
    size_t want = 6 + n_clients;
    if (want > pfds_cap) {
      struct pollfd *p = realloc(pfds, want * sizeof *pfds);
      if (!p) break;
      pfds = p;
      pfds_cap = want;
    }
    size_t n = 0;
    pfds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    pfds[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
    pfds[n++] = (struct pollfd){.fd = streams[0].fd, .events = POLLIN};
    pfds[n++] = (struct pollfd){.fd = streams[1].fd, .events = POLLIN};
    pfds[n++] = (struct pollfd){.fd = stdin_queue.len ? stdin_fd : -1, .events = POLLOUT};
    pfds[n++] = (struct pollfd){.fd = exec_started ? -1 : init_watch, .events = POLLIN};
    int read_clients = stdin_queue.len < STDIN_QUEUE_MAX;
    for (size_t i = 0; i < n_clients; i++)
      pfds[n++] = (struct pollfd){.fd = clients[i].fd,
                                  .events = (short)((read_clients ? POLLIN : 0) | (clients[i].out.len ? POLLOUT : 0))};
    int timeout = exited ? (int)(drain_deadline - now_ms()) : -1;
    if (exited && timeout < 0) timeout = 0;
    int r = poll(pfds, n, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }

    if (pfds[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {}
      int st;
      pid_t p;
      while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        if (p == container_pid && container_pid > 0 && !exited) {
          exited = 1;
          container_reaped = 1;
          exit_status = st;
          drain_deadline = now_ms() + DRAIN_MS;
        }
      }
    }
    if (pfds[1].revents & POLLIN) client_accept(lfd);
    for (int s = 0; s < 2; s++) {
      if (!(pfds[2 + s].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char chunk[32768];
      ssize_t got = read(streams[s].fd, chunk, sizeof chunk);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        close(streams[s].fd);
        streams[s].fd = -1;
        log_flush(&streams[s]);
        continue;
      }
      log_output(&streams[s], chunk, (size_t)got);
      broadcast(streams[s].id, chunk, (size_t)got);
    }
    if (pfds[4].revents) stdin_flush();
    if (pfds[5].revents && !exec_started) exec_started = exec_failed = 1; /* the init exited first */
    /* Clients: iterate from the end so drops (swap with last) don't skip anyone. */
    size_t polled = n - 6;
    for (size_t k = polled; k-- > 0;) {
      if (k >= n_clients) continue;
      short rev = pfds[6 + k].revents;
      if (!rev) continue;
      if (rev & POLLOUT && client_flush(&clients[k]) < 0) {
        client_drop(k);
        continue;
      }
      if (rev & (POLLIN | POLLHUP | POLLERR) && client_read(&clients[k]) < 0) client_drop(k);
    }
    /* --wait-start: nobody left to ask for the start (the spawner dropped it, or died). */
    if (opt.wait_start && !exec_started && n_clients == 0) exec_started = exec_failed = 1;
  }

  for (int s = 0; s < 2; s++) {
    if (streams[s].fd >= 0) close(streams[s].fd);
    log_flush(&streams[s]);
  }
  stdin_close();

  int code = WIFEXITED(exit_status) ? WEXITSTATUS(exit_status) : WIFSIGNALED(exit_status) ? 128 + WTERMSIG(exit_status) : 255;
  char finished[64], json[256];
  rfc3339nano(finished, sizeof finished);
  /* The oom count is read before the runtime's delete removes the cgroup. */
  snprintf(json, sizeof json, "{\"exitCode\":%d,\"oomKilled\":%s,\"finishedAt\":\"%s\"}\n", code,
           !opt.process && oom_killed() ? "true" : "false", finished);
  /* The delete (a runtime process, ~7 ms) runs while the exit is recorded and told;
   * with --keep-runtime-state the spawner removes the exited container's state itself. */
  pid_t deleting = opt.keep_runtime_state || opt.process ? -1 : runtime_delete_start(); /* an exec's container lives on */
  /* An exec's clients get the record itself first (stream 4, after every output frame):
   * the exit is told without waiting for a file to be created (0.1-1 ms on a busy disk). */
  if (opt.process) broadcast(STREAM_EXIT, json, strlen(json));
  /* Complete for readers at once (rename). Read by the engine when it learns of the
   * exit, or, if it was down, by the next one when it re-adopts the container. */
  write_file(opt.state_dir, "exit.json", json);
  /* From here a new client cannot connect: adopt() falls back to exit.json. */
  unlink(sock_path);
  close(lfd);

  /* Hand connected clients what is still queued (bounded), then EOF tells them the
   * container is done. This comes before the runtime's delete ends so the engine learns
   * of the exit at once; it waits for this process to end (shim.pid) before it treats the
   * container's cgroup and runtime state as gone. */
  long long flush_deadline = now_ms() + DRAIN_MS;
  for (size_t i = 0; i < n_clients; i++) {
    while (clients[i].out.len && now_ms() < flush_deadline) {
      struct pollfd p = {.fd = clients[i].fd, .events = POLLOUT};
      if (poll(&p, 1, (int)(flush_deadline - now_ms())) <= 0 || client_flush(&clients[i]) < 0) break;
    }
    shutdown(clients[i].fd, SHUT_WR);
  }
  linger_until_clients_close(flush_deadline);
  wait_runtime(deleting);
  path_join(path, sizeof path, opt.state_dir, "shim.pid");
  unlink(path);
  return 0;
}
