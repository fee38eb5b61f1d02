/*
 * berth_native: the few Linux syscalls Node lacks, as thin N-API wrappers.
 * Policy (which flags, which order, fallbacks) lives in TypeScript (src/);
 * this file only converts arguments, calls the kernel, and turns errno into
 * an Error shaped like Node's own fs errors (code, errno, syscall, path).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <stdbool.h>
#include <libdeflate.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/time.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

extern char **environ;

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6, the same number on every architecture */
#endif

#define PATH_ARG_MAX 4096
#define DATA_ARG_MAX 65536
#define SPAWN_ARGS_MAX 4096

/* An Error like Node's: "EBUSY: device or resource busy, umount2 '/x'". */
static napi_value errno_error(napi_env env, int err, const char *syscall, const char *path, const char *dest) {
  const char *code = strerrorname_np(err);
  char text[256];
  snprintf(text, sizeof text, "%s", strerror(err));
  if (text[0] >= 'A' && text[0] <= 'Z') text[0] = (char)(text[0] - 'A' + 'a');
  char msg[2 * PATH_ARG_MAX + 512];
  if (dest)
    snprintf(msg, sizeof msg, "%s: %s, %s '%s' -> '%s'", code ? code : "EUNKNOWN", text, syscall, path, dest);
  else
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", code ? code : "EUNKNOWN", text, syscall, path);
  napi_value jcode, jmsg, jerr, v;
  napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &jcode);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
  napi_create_error(env, jcode, jmsg, &jerr);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, jerr, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, jerr, "syscall", v);
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, jerr, "path", v);
  if (dest) {
    napi_create_string_utf8(env, dest, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, jerr, "dest", v);
  }
  return jerr;
}

static void throw_errno(napi_env env, int err, const char *syscall, const char *path, const char *dest) {
  napi_throw(env, errno_error(env, err, syscall, path, dest));
}

/* Read argv[i] as a string into buf; null/undefined gives *isnull=1 when allowed. */
static int get_string(napi_env env, napi_value v, char *buf, size_t cap, int nullable, int *isnull, const char *what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (isnull) *isnull = 0;
  if (nullable && (t == napi_null || t == napi_undefined)) {
    if (isnull) *isnull = 1;
    buf[0] = 0;
    return 1;
  }
  if (t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return 0;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len + 1 > cap) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", what);
    return 0;
  }
  napi_get_value_string_utf8(env, v, buf, cap, &len);
  if (strlen(buf) != len) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", what);
    return 0;
  }
  return 1;
}

static int get_number(napi_env env, napi_value v, double *out, double dflt, const char *what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_undefined || t == napi_null) {
    *out = dflt;
    return 1;
  }
  if (t != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return 0;
  }
  napi_get_value_double(env, v, out);
  return 1;
}

/* mount(source|null, target, fstype|null, flags, data|null) */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 5; i++) napi_get_undefined(env, &argv[i]);
  static char source[PATH_ARG_MAX], target[PATH_ARG_MAX], fstype[256], data[DATA_ARG_MAX];
  int nsrc, nfs, ndata;
  double flags;
  if (!get_string(env, argv[0], source, sizeof source, 1, &nsrc, "mount: source must be a string or null")) return NULL;
  if (!get_string(env, argv[1], target, sizeof target, 0, NULL, "mount: target must be a string")) return NULL;
  if (!get_string(env, argv[2], fstype, sizeof fstype, 1, &nfs, "mount: fstype must be a string or null")) return NULL;
  if (!get_number(env, argv[3], &flags, 0, "mount: flags must be a number")) return NULL;
  if (!get_string(env, argv[4], data, sizeof data, 1, &ndata, "mount: data must be a string")) return NULL;
  if (mount(nsrc ? NULL : source, target, nfs ? NULL : fstype, (unsigned long)flags, ndata ? NULL : data) != 0) {
    throw_errno(env, errno, "mount", nsrc ? "none" : source, target);
    return NULL;
  }
  return NULL;
}

/* umount2(target, flags) */
static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 2; i++) napi_get_undefined(env, &argv[i]);
  static char target[PATH_ARG_MAX];
  double flags;
  if (!get_string(env, argv[0], target, sizeof target, 0, NULL, "umount: target must be a string")) return NULL;
  if (!get_number(env, argv[1], &flags, 0, "umount: flags must be a number")) return NULL;
  if (umount2(target, (int)flags) != 0) {
    throw_errno(env, errno, "umount2", target, NULL);
    return NULL;
  }
  return NULL;
}

/* The kernel rejects a nonzero mode unless O_CREAT or O_TMPFILE is asked for (glibc's
 * __O_TMPFILE includes O_DIRECTORY, so testing against it alone would catch O_DIRECTORY). */
static int wants_mode(unsigned long long flags) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/*
 * openInRoot(root, path, flags, mode) -> fd. openat2 with RESOLVE_IN_ROOT: "..",
 * absolute paths and symlinks are resolved as if root were "/", so nothing
 * inside the tree can point the open outside it. Magic links (/proc/x/fd) are refused.
 */
static napi_value js_open_in_root(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 4; i++) napi_get_undefined(env, &argv[i]);
  static char root[PATH_ARG_MAX], path[PATH_ARG_MAX];
  double flags, mode;
  if (!get_string(env, argv[0], root, sizeof root, 0, NULL, "openInRoot: root must be a string")) return NULL;
  if (!get_string(env, argv[1], path, sizeof path, 0, NULL, "openInRoot: path must be a string")) return NULL;
  if (!get_number(env, argv[2], &flags, O_RDONLY, "openInRoot: flags must be a number")) return NULL;
  if (!get_number(env, argv[3], &mode, 0666, "openInRoot: mode must be a number")) return NULL;
  int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    throw_errno(env, errno, "open", root, NULL);
    return NULL;
  }
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (unsigned long long)(unsigned int)flags | O_CLOEXEC;
  if (wants_mode(how.flags)) how.mode = (unsigned long long)mode;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const char *rel = path[0] ? path : ".";
  int fd;
  do {
    fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
  } while (fd < 0 && errno == EAGAIN);
  int err = errno;
  close(rootfd);
  if (fd < 0) {
    char shown[2 * PATH_ARG_MAX + 2];
    snprintf(shown, sizeof shown, "%s%s%s", root, path[0] == '/' ? "" : "/", path);
    throw_errno(env, err, "openat2", shown, NULL);
    return NULL;
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

static void set_number(napi_env env, napi_value obj, const char *name, double value);

/* ---------- operations relative to a directory descriptor (the *at(2) calls Node lacks) ----------
 * Each is one system call on (dirfd, name): the caller holds a descriptor it resolved
 * safely and names one thing in it, so nothing is looked up again from a path a
 * container could change meanwhile. Which flags to pass is the TypeScript side's choice. */

static int get_int(napi_env env, napi_value v, int *out, const char *what) {
  double d;
  if (!get_number(env, v, &d, 0, what)) return 0;
  *out = (int)d;
  return 1;
}

/* Arguments: argv[0] dirfd, argv[1] name, for every *at wrapper. */
static int get_at(napi_env env, napi_value *argv, int *dirfd, char *name, const char *fn) {
  char what[96];
  snprintf(what, sizeof what, "%s: dirfd must be a number", fn);
  if (!get_int(env, argv[0], dirfd, what)) return 0;
  snprintf(what, sizeof what, "%s: name must be a string", fn);
  return get_string(env, argv[1], name, PATH_ARG_MAX, 0, NULL, what);
}

#define AT_ARGS(n, fn)                                         \
  size_t argc = (n);                                           \
  napi_value argv[(n)];                                        \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);        \
  for (size_t i = argc; i < (n); i++) napi_get_undefined(env, &argv[i]); \
  static char name[PATH_ARG_MAX];                              \
  int dirfd;                                                   \
  if (!get_at(env, argv, &dirfd, name, fn)) return NULL;

/* openAt(dirfd, path, flags, mode, resolve) -> fd: openat2(2); O_CLOEXEC always. */
static napi_value js_open_at(napi_env env, napi_callback_info info) {
  AT_ARGS(5, "openAt")
  double flags, mode, resolve;
  if (!get_number(env, argv[2], &flags, O_RDONLY, "openAt: flags must be a number")) return NULL;
  if (!get_number(env, argv[3], &mode, 0, "openAt: mode must be a number")) return NULL;
  if (!get_number(env, argv[4], &resolve, 0, "openAt: resolve must be a number")) return NULL;
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (unsigned long long)(unsigned int)flags | O_CLOEXEC;
  if (wants_mode(how.flags)) how.mode = (unsigned long long)mode;
  how.resolve = (unsigned long long)resolve;
  int fd;
  do {
    fd = (int)syscall(SYS_openat2, dirfd, name[0] ? name : ".", &how, sizeof how);
  } while (fd < 0 && errno == EAGAIN);
  if (fd < 0) {
    throw_errno(env, errno, "openat2", name, NULL);
    return NULL;
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

static void set_bigint(napi_env env, napi_value obj, const char *key, unsigned long long value) {
  napi_value v;
  napi_create_bigint_uint64(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

/* statAt(dirfd, name, flags) -> { dev, ino (bigint), mode, nlink, uid, gid, rdevMajor, rdevMinor, size, atimeMs, mtimeMs }: fstatat(2). */
static napi_value js_stat_at(napi_env env, napi_callback_info info) {
  AT_ARGS(3, "statAt")
  int flags;
  if (!get_int(env, argv[2], &flags, "statAt: flags must be a number")) return NULL;
  struct stat st;
  if (fstatat(dirfd, name, &st, flags) != 0) {
    throw_errno(env, errno, "fstatat", name, NULL);
    return NULL;
  }
  napi_value out;
  napi_create_object(env, &out);
  set_bigint(env, out, "dev", (unsigned long long)st.st_dev);
  set_bigint(env, out, "ino", (unsigned long long)st.st_ino);
  set_number(env, out, "mode", st.st_mode);
  set_number(env, out, "nlink", (double)st.st_nlink);
  set_number(env, out, "uid", st.st_uid);
  set_number(env, out, "gid", st.st_gid);
  set_number(env, out, "rdevMajor", major(st.st_rdev));
  set_number(env, out, "rdevMinor", minor(st.st_rdev));
  set_number(env, out, "size", (double)st.st_size);
  set_number(env, out, "atimeMs", (double)st.st_atim.tv_sec * 1e3 + (double)st.st_atim.tv_nsec / 1e6);
  set_number(env, out, "mtimeMs", (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6);
  return out;
}

/* readlinkAt(dirfd, name) -> string: readlinkat(2) ("" names dirfd itself, an O_PATH descriptor of a link). */
static napi_value js_readlink_at(napi_env env, napi_callback_info info) {
  AT_ARGS(2, "readlinkAt")
  static char target[PATH_ARG_MAX + 1];
  ssize_t n = readlinkat(dirfd, name, target, PATH_ARG_MAX);
  if (n < 0) {
    throw_errno(env, errno, "readlinkat", name, NULL);
    return NULL;
  }
  napi_value out;
  napi_create_string_utf8(env, target, (size_t)n, &out);
  return out;
}

/* readDir(fd) -> names: every entry of an open directory but . and .., from its start. */
static napi_value js_read_dir(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) napi_get_undefined(env, &argv[0]);
  int fd;
  if (!get_int(env, argv[0], &fd, "readDir: fd must be a number")) return NULL;
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR *d = own < 0 ? NULL : fdopendir(own);
  if (!d) {
    int err = errno;
    if (own >= 0) close(own);
    throw_errno(env, err, "fdopendir", "", NULL);
    return NULL;
  }
  rewinddir(d);
  napi_value out;
  napi_create_array(env, &out);
  uint32_t n = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) break;
    if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) continue;
    napi_value v;
    napi_create_string_utf8(env, e->d_name, NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, out, n++, v);
  }
  int err = errno;
  closedir(d);
  if (err) {
    throw_errno(env, err, "readdir", "", NULL);
    return NULL;
  }
  return out;
}

/* mkdirAt(dirfd, name, mode): mkdirat(2). */
static napi_value js_mkdir_at(napi_env env, napi_callback_info info) {
  AT_ARGS(3, "mkdirAt")
  int mode;
  if (!get_int(env, argv[2], &mode, "mkdirAt: mode must be a number")) return NULL;
  if (mkdirat(dirfd, name, (mode_t)mode) != 0) throw_errno(env, errno, "mkdirat", name, NULL);
  return NULL;
}

/* symlinkAt(dirfd, name, target): symlinkat(2). */
static napi_value js_symlink_at(napi_env env, napi_callback_info info) {
  AT_ARGS(3, "symlinkAt")
  static char target[PATH_ARG_MAX];
  if (!get_string(env, argv[2], target, sizeof target, 0, NULL, "symlinkAt: target must be a string")) return NULL;
  if (symlinkat(target, dirfd, name) != 0) throw_errno(env, errno, "symlinkat", name, target);
  return NULL;
}

/* linkAt(dirfd, name, targetDirfd, targetName): linkat(2) without AT_SYMLINK_FOLLOW (a link is linked as itself). */
static napi_value js_link_at(napi_env env, napi_callback_info info) {
  AT_ARGS(4, "linkAt")
  static char target[PATH_ARG_MAX];
  int tfd;
  if (!get_int(env, argv[2], &tfd, "linkAt: targetDirfd must be a number")) return NULL;
  if (!get_string(env, argv[3], target, sizeof target, 0, NULL, "linkAt: targetName must be a string")) return NULL;
  if (linkat(tfd, target, dirfd, name, 0) != 0) throw_errno(env, errno, "linkat", name, target);
  return NULL;
}

/* mknodAt(dirfd, name, mode, major, minor): mknodat(2); mode carries the type (S_IFCHR, S_IFBLK, S_IFIFO). */
static napi_value js_mknod_at(napi_env env, napi_callback_info info) {
  AT_ARGS(5, "mknodAt")
  int mode, maj, min;
  if (!get_int(env, argv[2], &mode, "mknodAt: mode must be a number")) return NULL;
  if (!get_int(env, argv[3], &maj, "mknodAt: major must be a number")) return NULL;
  if (!get_int(env, argv[4], &min, "mknodAt: minor must be a number")) return NULL;
  if (mknodat(dirfd, name, (mode_t)mode, makedev((unsigned)maj, (unsigned)min)) != 0) throw_errno(env, errno, "mknodat", name, NULL);
  return NULL;
}

/* unlinkAt(dirfd, name, flags): unlinkat(2) (AT_REMOVEDIR for a directory). */
static napi_value js_unlink_at(napi_env env, napi_callback_info info) {
  AT_ARGS(3, "unlinkAt")
  int flags;
  if (!get_int(env, argv[2], &flags, "unlinkAt: flags must be a number")) return NULL;
  if (unlinkat(dirfd, name, flags) != 0) throw_errno(env, errno, "unlinkat", name, NULL);
  return NULL;
}

/* chownAt(dirfd, name, uid, gid, flags): fchownat(2). */
static napi_value js_chown_at(napi_env env, napi_callback_info info) {
  AT_ARGS(5, "chownAt")
  double uid, gid;
  int flags;
  if (!get_number(env, argv[2], &uid, 0, "chownAt: uid must be a number")) return NULL;
  if (!get_number(env, argv[3], &gid, 0, "chownAt: gid must be a number")) return NULL;
  if (!get_int(env, argv[4], &flags, "chownAt: flags must be a number")) return NULL;
  if (fchownat(dirfd, name, (uid_t)uid, (gid_t)gid, flags) != 0) throw_errno(env, errno, "fchownat", name, NULL);
  return NULL;
}

/* chmodAt(dirfd, name, mode, flags): fchmodat2(2), which honours AT_SYMLINK_NOFOLLOW (Linux 6.6). */
static napi_value js_chmod_at(napi_env env, napi_callback_info info) {
  AT_ARGS(4, "chmodAt")
  int mode, flags;
  if (!get_int(env, argv[2], &mode, "chmodAt: mode must be a number")) return NULL;
  if (!get_int(env, argv[3], &flags, "chmodAt: flags must be a number")) return NULL;
  if (syscall(SYS_fchmodat2, dirfd, name, (mode_t)mode, flags) != 0) throw_errno(env, errno, "fchmodat2", name, NULL);
  return NULL;
}

static struct timespec timespec_of(double seconds) {
  struct timespec t;
  t.tv_sec = (time_t)seconds;
  t.tv_nsec = (long)((seconds - (double)t.tv_sec) * 1e9);
  if (t.tv_nsec < 0) {
    t.tv_sec -= 1;
    t.tv_nsec += 1000000000L;
  }
  return t;
}

/* utimesAt(dirfd, name, atimeSeconds, mtimeSeconds, flags): utimensat(2). */
static napi_value js_utimes_at(napi_env env, napi_callback_info info) {
  AT_ARGS(5, "utimesAt")
  double atime, mtime;
  int flags;
  if (!get_number(env, argv[2], &atime, 0, "utimesAt: atime must be a number")) return NULL;
  if (!get_number(env, argv[3], &mtime, 0, "utimesAt: mtime must be a number")) return NULL;
  if (!get_int(env, argv[4], &flags, "utimesAt: flags must be a number")) return NULL;
  struct timespec times[2] = {timespec_of(atime), timespec_of(mtime)};
  if (utimensat(dirfd, name, times, flags) != 0) throw_errno(env, errno, "utimensat", name, NULL);
  return NULL;
}

/*
 * utimensAt(dirfd, name, atimeSec, atimeNsec, mtimeSec, mtimeNsec, flags): utimensat(2)
 * with whole seconds and nanoseconds, so nothing is lost to a double and UTIME_NOW /
 * UTIME_OMIT (as nanoseconds) pass through. A FUSE filesystem forwards a caller's
 * utimensat with it.
 */
static napi_value js_utimens_at(napi_env env, napi_callback_info info) {
  AT_ARGS(7, "utimensAt")
  double v[4];
  int flags;
  for (int i = 0; i < 4; i++)
    if (!get_number(env, argv[2 + i], &v[i], 0, "utimensAt: times must be numbers")) return NULL;
  if (!get_int(env, argv[6], &flags, "utimensAt: flags must be a number")) return NULL;
  struct timespec times[2] = {{(time_t)v[0], (long)v[1]}, {(time_t)v[2], (long)v[3]}};
  if (utimensat(dirfd, name, times, flags) != 0) throw_errno(env, errno, "utimensat", name, NULL);
  return NULL;
}

static void set_number(napi_env env, napi_value obj, const char *name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

static void set_function(napi_env env, napi_value obj, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, obj, name, fn);
}


static void free_argv(char **argv, size_t n) {
  for (size_t i = 0; i < n; i++) free(argv[i]);
  free(argv);
}

/* A JS string as a malloc'd C string; NULL (with an exception pending) when it is not one. */
static char *dup_string(napi_env env, napi_value v, const char *what) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return NULL;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  if (!s) {
    napi_throw_error(env, "ENOMEM", what);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", what);
    return NULL;
  }
  return s;
}

/*
 * The first process of a spawnDetached(…, onExit) child, reaped off the caller's path:
 * a pidfd watched by the event loop (readable once the process has exited), then
 * waitpid(WNOHANG) and onExit(status). Lives until its close callback.
 */
struct reap_watch {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  pid_t pid;
  int pidfd;
};

static int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}

static void reap_watch_closed(uv_handle_t *h) {
  struct reap_watch *w = (struct reap_watch *)h->data;
  close(w->pidfd);
  free(w);
}

static void reap_watch_ready(uv_poll_t *p, int status, int events) {
  struct reap_watch *w = (struct reap_watch *)p->data;
  int st = 0;
  pid_t got;
  while ((got = waitpid(w->pid, &st, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (got == 0 && status == 0) return; /* not exited yet (a spurious wake-up): keep watching */
  uv_poll_stop(&w->poll);
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  napi_value cb, global, arg, result;
  napi_get_reference_value(w->env, w->callback, &cb);
  napi_get_global(w->env, &global);
  napi_create_int32(w->env, got == w->pid ? exit_code(st) : 255, &arg);
  napi_delete_reference(w->env, w->callback);
  /* make_callback: from the event loop, so the microtasks it queues run right after. */
  napi_make_callback(w->env, w->context, global, cb, 1, &arg, &result);
  napi_async_destroy(w->env, w->context);
  napi_close_handle_scope(w->env, scope);
  uv_close((uv_handle_t *)&w->poll, reap_watch_closed);
}

/* Watch `pid` (the caller's child) for its exit; 0, or -1 when it cannot (then reap synchronously). */
static int reap_later(napi_env env, pid_t pid, napi_value callback) {
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) return -1;
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return -1;
  struct reap_watch *w = calloc(1, sizeof *w);
  if (!w) {
    close(pidfd);
    return -1;
  }
  w->env = env;
  w->pid = pid;
  w->pidfd = pidfd;
  if (uv_poll_init(loop, &w->poll, pidfd) != 0) {
    close(pidfd);
    free(w);
    return -1;
  }
  w->poll.data = w;
  napi_value name;
  napi_create_string_utf8(env, "berth:spawnDetached", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->context);
  napi_create_reference(env, callback, 1, &w->callback);
  uv_poll_start(&w->poll, UV_READABLE, reap_watch_ready);
  return 0;
}

/*
 * spawnDetached(file, args[], wantReadyFd) -> { pid, status, readyFd? }
 *
 * posix_spawn, which glibc runs as clone(CLONE_VM|CLONE_VFORK): no copy of the
 * caller's page tables, so its cost does not grow with the daemon's heap as fork's
 * does. The child gets /dev/null on 0-2, one end of a CLOEXEC socket pair on fd 3 when
 * asked, no other descriptor, default signal dispositions and an empty signal mask.
 * The program must detach (fork, and let this first process exit at once): the first
 * process is reaped here, so it is never left a zombie of the caller (libuv reaps only
 * the children it spawned itself): synchronously by spawnDetached, when it exits by
 * spawnDetachedAsync (below).
 */
/* What spawn_detached needs, parsed from (file, args[], wantReadyFd): argv[0] is the file. */
struct spawn_job {
  char **argv;
  size_t argc;
  bool want_ready;
  /* results */
  pid_t pid;
  int ready_fd;
  int err;
  const char *syscall;
  /* spawnDetachedAsync */
  napi_async_work work;
  napi_ref done, on_exit;
};

static void spawn_job_free(struct spawn_job *job) {
  free_argv(job->argv, job->argc);
  free(job);
}

/* A job from JS arguments; NULL with an exception pending. */
static struct spawn_job *spawn_job_parse(napi_env env, napi_value file, napi_value args, napi_value want) {
  bool is_array = false;
  napi_is_array(env, args, &is_array);
  if (!is_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spawnDetached: args must be an array of strings");
    return NULL;
  }
  uint32_t nargs = 0;
  napi_get_array_length(env, args, &nargs);
  if (nargs > SPAWN_ARGS_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "spawnDetached: too many args");
    return NULL;
  }
  struct spawn_job *job = calloc(1, sizeof *job);
  char **argv = job ? calloc(nargs + 2, sizeof *argv) : NULL;
  if (!argv) {
    free(job);
    napi_throw_error(env, "ENOMEM", "spawnDetached: out of memory");
    return NULL;
  }
  job->argv = argv;
  job->ready_fd = -1;
  napi_valuetype t;
  napi_typeof(env, want, &t);
  if (t == napi_boolean) napi_get_value_bool(env, want, &job->want_ready);
  if (!(argv[job->argc] = dup_string(env, file, "spawnDetached: file must be a string"))) {
    spawn_job_free(job);
    return NULL;
  }
  job->argc++;
  for (uint32_t i = 0; i < nargs; i++) {
    napi_value v;
    napi_get_element(env, args, i, &v);
    if (!(argv[job->argc] = dup_string(env, v, "spawnDetached: args must be an array of strings"))) {
      spawn_job_free(job);
      return NULL;
    }
    job->argc++;
  }
  return job;
}

/*
 * posix_spawn of the job's program (any thread): `pid` and, when asked, `ready_fd`; or
 * `err` and `syscall` set. No JS.
 */
static void spawn_job_run(struct spawn_job *job) {
  int ready[2] = {-1, -1};
  if (job->want_ready) {
    /* A socket, not a pipe: a program may go on to use it both ways (berth-shim's direct
     * exec makes it its first client's connection). */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ready) < 0) {
      job->err = errno;
      job->syscall = "socketpair";
      return;
    }
    /* adddup2(3, 3) would leave CLOEXEC set on glibc < 2.29: keep the write end off 3. */
    if (ready[1] == 3) {
      int moved = fcntl(3, F_DUPFD_CLOEXEC, 4);
      close(3);
      ready[1] = moved;
    }
    if (ready[1] < 0) {
      job->err = errno;
      job->syscall = "fcntl";
      close(ready[0]);
      return;
    }
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  if (job->want_ready) posix_spawn_file_actions_adddup2(&fa, ready[1], 3);
  /* Nothing of the daemon's leaks into a long-lived child, CLOEXEC or not. */
  posix_spawn_file_actions_addclosefrom_np(&fa, job->want_ready ? 4 : 3);
  /* Every signal back to SIG_DFL (Node ignores SIGPIPE). Every bit, not sigfillset:
   * glibc's leaves out its internal signals 32 and 33, which its spawn then sets to
   * SIG_IGN in the child, and an ignored signal stays ignored through runc into the
   * container. The child runs with all signals blocked until exec, so this is safe. */
  sigset_t all, none;
  memset(&all, 0xff, sizeof all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  pid_t pid = 0;
  int err = posix_spawn(&pid, job->argv[0], &fa, &attr, job->argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (job->want_ready) close(ready[1]);
  if (err != 0) {
    if (job->want_ready) close(ready[0]);
    job->err = err;
    job->syscall = "posix_spawn";
    return;
  }
  job->pid = pid;
  job->ready_fd = ready[0];
}

static int wait_exit_code(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return exit_code(status);
}

/* { pid, status, readyFd? } of a spawned job. */
static napi_value spawn_job_result(napi_env env, struct spawn_job *job, int status) {
  napi_value out;
  napi_create_object(env, &out);
  set_number(env, out, "pid", job->pid);
  set_number(env, out, "status", status);
  if (job->want_ready) set_number(env, out, "readyFd", job->ready_fd);
  return out;
}

/* spawnDetached(file, args[], wantReadyFd) -> { pid, status, readyFd? }: spawned and reaped here. */
static napi_value js_spawn_detached(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value jargv[3];
  napi_get_cb_info(env, info, &argc, jargv, NULL, NULL);
  for (size_t i = argc; i < 3; i++) napi_get_undefined(env, &jargv[i]);
  struct spawn_job *job = spawn_job_parse(env, jargv[0], jargv[1], jargv[2]);
  if (!job) return NULL;
  spawn_job_run(job);
  if (job->err) {
    throw_errno(env, job->err, job->syscall, job->argv[0], NULL);
    spawn_job_free(job);
    return NULL;
  }
  napi_value out = spawn_job_result(env, job, wait_exit_code(job->pid));
  spawn_job_free(job);
  return out;
}

static void spawn_async_execute(napi_env env, void *data) {
  spawn_job_run((struct spawn_job *)data);
}

static void spawn_async_complete(napi_env env, napi_status status, void *data) {
  struct spawn_job *job = data;
  napi_value done, on_exit, global, args[2];
  napi_get_reference_value(env, job->done, &done);
  napi_get_reference_value(env, job->on_exit, &on_exit);
  napi_get_global(env, &global);
  napi_get_null(env, &args[0]);
  napi_get_undefined(env, &args[1]);
  if (status != napi_ok && !job->err) {
    job->err = ECANCELED;
    job->syscall = "posix_spawn";
  }
  if (job->err) {
    args[0] = errno_error(env, job->err, job->syscall, job->argv[0], NULL);
  } else {
    /* The first process: reaped when the event loop sees it exit, or now. */
    int code = reap_later(env, job->pid, on_exit) == 0 ? -1 : wait_exit_code(job->pid);
    args[1] = spawn_job_result(env, job, code);
  }
  napi_delete_reference(env, job->done);
  napi_delete_reference(env, job->on_exit);
  napi_delete_async_work(env, job->work);
  spawn_job_free(job);
  napi_call_function(env, global, done, 2, args, NULL);
}

/*
 * spawnDetachedAsync(file, args[], wantReadyFd, done(err, { pid, status, readyFd? }), onExit(status))
 *
 * As spawnDetached, but the posix_spawn runs on a threadpool thread (a vfork suspends
 * only that thread until the child has exec'd: up to several ms on a busy machine, which
 * the event loop does not wait for), and the first process is reaped when the event loop
 * sees it exit (a pidfd): onExit(exit code), `status` -1. Where no pidfd can be had, it is
 * reaped at once and `status` is its exit code (onExit is not called).
 */
static napi_value js_spawn_detached_async(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value jargv[5];
  napi_get_cb_info(env, info, &argc, jargv, NULL, NULL);
  for (size_t i = argc; i < 5; i++) napi_get_undefined(env, &jargv[i]);
  napi_valuetype t3, t4;
  napi_typeof(env, jargv[3], &t3);
  napi_typeof(env, jargv[4], &t4);
  if (t3 != napi_function || t4 != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spawnDetachedAsync: done and onExit must be functions");
    return NULL;
  }
  struct spawn_job *job = spawn_job_parse(env, jargv[0], jargv[1], jargv[2]);
  if (!job) return NULL;
  napi_value name;
  napi_create_string_utf8(env, "berth:spawnDetachedAsync", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, jargv[3], 1, &job->done);
  napi_create_reference(env, jargv[4], 1, &job->on_exit);
  if (napi_create_async_work(env, NULL, name, spawn_async_execute, spawn_async_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_reference(env, job->done);
    napi_delete_reference(env, job->on_exit);
    spawn_job_free(job);
    napi_throw_error(env, "EIO", "spawnDetachedAsync: cannot queue the spawn");
    return NULL;
  }
  return NULL;
}

/*
 * lgetxattr(path, name) -> string | null: the value of an extended attribute of `path`
 * itself (a final symlink is not followed), null when it has none (ENODATA).
 */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 2; i++) napi_get_undefined(env, &argv[i]);
  static char file[PATH_ARG_MAX], name[256], value[65536];
  if (!get_string(env, argv[0], file, sizeof file, 0, NULL, "lgetxattr: path must be a string")) return NULL;
  if (!get_string(env, argv[1], name, sizeof name, 0, NULL, "lgetxattr: name must be a string")) return NULL;
  ssize_t n = lgetxattr(file, name, value, sizeof value);
  napi_value result;
  if (n < 0) {
    if (errno == ENODATA) {
      napi_get_null(env, &result);
      return result;
    }
    throw_errno(env, errno, "lgetxattr", file, NULL);
    return NULL;
  }
  napi_create_string_latin1(env, value, (size_t)n, &result);
  return result;
}

/* llistxattr(path) -> string[]: the names of the extended attributes of `path` itself. */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) napi_get_undefined(env, &argv[0]);
  static char file[PATH_ARG_MAX], list[65536];
  if (!get_string(env, argv[0], file, sizeof file, 0, NULL, "llistxattr: path must be a string")) return NULL;
  ssize_t n = llistxattr(file, list, sizeof list);
  if (n < 0) {
    throw_errno(env, errno, "llistxattr", file, NULL);
    return NULL;
  }
  napi_value result;
  napi_create_array(env, &result);
  uint32_t count = 0;
  for (ssize_t at = 0; at < n;) {
    size_t len = strnlen(list + at, (size_t)(n - at));
    napi_value name;
    napi_create_string_latin1(env, list + at, len, &name);
    napi_set_element(env, result, count++, name);
    at += (ssize_t)len + 1;
  }
  return result;
}

/* lremovexattr(path, name): lremovexattr(2), a final symlink not followed. */
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 2; i++) napi_get_undefined(env, &argv[i]);
  static char file[PATH_ARG_MAX], name[256];
  if (!get_string(env, argv[0], file, sizeof file, 0, NULL, "lremovexattr: path must be a string")) return NULL;
  if (!get_string(env, argv[1], name, sizeof name, 0, NULL, "lremovexattr: name must be a string")) return NULL;
  if (lremovexattr(file, name) != 0) throw_errno(env, errno, "lremovexattr", file, NULL);
  return NULL;
}

/* A Buffer argument: its bytes and length, or a thrown TypeError naming `what`. */
static int get_buffer(napi_env env, napi_value v, void **data, size_t *len, const char *what) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is || napi_get_buffer_info(env, v, data, len) != napi_ok) {
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  return 1;
}

/* lsetxattr(path, name, value: Buffer): lsetxattr(2), a final symlink not followed. */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 3; i++) napi_get_undefined(env, &argv[i]);
  static char file[PATH_ARG_MAX], name[256];
  void *value;
  size_t len;
  if (!get_string(env, argv[0], file, sizeof file, 0, NULL, "lsetxattr: path must be a string")) return NULL;
  if (!get_string(env, argv[1], name, sizeof name, 0, NULL, "lsetxattr: name must be a string")) return NULL;
  if (!get_buffer(env, argv[2], &value, &len, "lsetxattr: value must be a Buffer")) return NULL;
  if (lsetxattr(file, name, value, len, 0) != 0) throw_errno(env, errno, "lsetxattr", file, NULL);
  return NULL;
}

/* fsetxattr(fd, name, value: Buffer): fsetxattr(2) on an open file or directory. */
static napi_value js_fsetxattr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 3; i++) napi_get_undefined(env, &argv[i]);
  static char name[256];
  int fd;
  void *value;
  size_t len;
  if (!get_int(env, argv[0], &fd, "fsetxattr: fd must be a number")) return NULL;
  if (!get_string(env, argv[1], name, sizeof name, 0, NULL, "fsetxattr: name must be a string")) return NULL;
  if (!get_buffer(env, argv[2], &value, &len, "fsetxattr: value must be a Buffer")) return NULL;
  if (fsetxattr(fd, name, value, len, 0) != 0) throw_errno(env, errno, "fsetxattr", name, NULL);
  return NULL;
}

/* ---------- writeNewFiles: small files made whole on a pool thread ----------
 * A layer is mostly small files, and each of the six calls that make one (open, write,
 * fchown, fchmod, futimens, close) costs a round trip through libuv when made from Node:
 * more than the kernel's work. Here they run back to back, for several files per job. */

#define WRITE_CHUNKS_MAX 64
#define WRITE_FILES_MAX 256

struct new_file {
  char *path;
  struct iovec *iov;
  int iovcnt;
  mode_t mode;
  uid_t uid;
  gid_t gid;
  int chown;
  struct timespec times[2];
  int err;
  const char *failed; /* the system call that failed */
};

struct new_files_job {
  napi_async_work work;
  napi_ref files_ref; /* keeps the Buffers alive while a pool thread writes them */
  napi_ref callback;
  uint32_t n;
  struct new_file *files;
  int failed; /* index of the failed file, or -1 */
};

static void make_new_file(struct new_file *f) {
  int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    f->err = errno;
    f->failed = "open";
    return;
  }
  struct iovec *iov = f->iov;
  int cnt = f->iovcnt;
  while (cnt > 0) {
    ssize_t n = writev(fd, iov, cnt);
    if (n < 0) {
      if (errno == EINTR) continue;
      f->err = errno;
      f->failed = "write";
      break;
    }
    if (n == 0) {
      f->err = EIO;
      f->failed = "write";
      break;
    }
    /* A short write (a full disk, a signal): go on from where it stopped. */
    while (cnt > 0 && (size_t)n >= iov->iov_len) {
      n -= (ssize_t)iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = (char *)iov->iov_base + n;
      iov->iov_len -= (size_t)n;
    }
  }
  /* chown before chmod: chown clears the setuid and setgid bits. */
  if (!f->err && f->chown && fchown(fd, f->uid, f->gid) != 0) {
    f->err = errno;
    f->failed = "fchown";
  }
  if (!f->err && fchmod(fd, f->mode) != 0) {
    f->err = errno;
    f->failed = "fchmod";
  }
  if (!f->err && futimens(fd, f->times) != 0) {
    f->err = errno;
    f->failed = "futimens";
  }
  if (close(fd) != 0 && !f->err) {
    f->err = errno;
    f->failed = "close";
  }
}

/* In order; the first failure stops the job (the files after it are not made). */
static void new_files_execute(napi_env env, void *data) {
  (void)env;
  struct new_files_job *job = data;
  for (uint32_t i = 0; i < job->n; i++) {
    make_new_file(&job->files[i]);
    if (job->files[i].err) {
      job->failed = (int)i;
      return;
    }
  }
}

static void free_new_files_job(struct new_files_job *job) {
  for (uint32_t i = 0; i < job->n; i++) {
    free(job->files[i].path);
    free(job->files[i].iov);
  }
  free(job->files);
  free(job);
}

static napi_value new_files_error(napi_env env, struct new_files_job *job) {
  struct new_file *f = &job->files[job->failed];
  return errno_error(env, f->err, f->failed, f->path, NULL);
}

static void new_files_complete(napi_env env, napi_status status, void *data) {
  struct new_files_job *job = data;
  napi_value cb, global, arg;
  napi_get_reference_value(env, job->callback, &cb);
  napi_get_global(env, &global);
  if (job->failed >= 0) arg = new_files_error(env, job);
  else if (status != napi_ok) arg = errno_error(env, ECANCELED, "open", job->n ? job->files[0].path : "", NULL);
  else napi_get_null(env, &arg);
  napi_delete_reference(env, job->files_ref);
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free_new_files_job(job);
  napi_call_function(env, global, cb, 1, &arg, NULL);
}

static int get_named_number(napi_env env, napi_value obj, const char *key, double *out, const char *what) {
  napi_value v;
  napi_get_named_property(env, obj, key, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) {
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  napi_get_value_double(env, v, out);
  return 1;
}

/* Read one { path, chunks, mode, uid, gid, chown, atime, mtime } (times in seconds). */
static int get_new_file(napi_env env, napi_value spec, struct new_file *f) {
  static char path[PATH_ARG_MAX];
  napi_value v;
  napi_get_named_property(env, spec, "path", &v);
  if (!get_string(env, v, path, sizeof path, 0, NULL, "writeNewFiles: path must be a string")) return 0;
  if (!(f->path = strdup(path))) {
    napi_throw_error(env, "ENOMEM", "writeNewFiles: out of memory");
    return 0;
  }
  napi_value chunks;
  bool is_array;
  uint32_t n = 0;
  napi_get_named_property(env, spec, "chunks", &chunks);
  if (napi_is_array(env, chunks, &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "writeNewFiles: chunks must be an array of Buffers");
    return 0;
  }
  napi_get_array_length(env, chunks, &n);
  if (n > WRITE_CHUNKS_MAX) {
    napi_throw_range_error(env, NULL, "writeNewFiles: too many chunks");
    return 0;
  }
  if (n > 0 && !(f->iov = calloc(n, sizeof *f->iov))) {
    napi_throw_error(env, "ENOMEM", "writeNewFiles: out of memory");
    return 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value chunk;
    void *bytes;
    size_t len;
    napi_get_element(env, chunks, i, &chunk);
    if (!get_buffer(env, chunk, &bytes, &len, "writeNewFiles: chunks must be an array of Buffers")) return 0;
    if (len == 0) continue;
    f->iov[f->iovcnt].iov_base = bytes;
    f->iov[f->iovcnt].iov_len = len;
    f->iovcnt++;
  }
  double mode, uid, gid, atime, mtime;
  if (!get_named_number(env, spec, "mode", &mode, "writeNewFiles: mode must be a number")) return 0;
  if (!get_named_number(env, spec, "uid", &uid, "writeNewFiles: uid must be a number")) return 0;
  if (!get_named_number(env, spec, "gid", &gid, "writeNewFiles: gid must be a number")) return 0;
  if (!get_named_number(env, spec, "atime", &atime, "writeNewFiles: atime must be a number")) return 0;
  if (!get_named_number(env, spec, "mtime", &mtime, "writeNewFiles: mtime must be a number")) return 0;
  bool chown;
  napi_get_named_property(env, spec, "chown", &v);
  if (napi_get_value_bool(env, v, &chown) != napi_ok) {
    napi_throw_type_error(env, NULL, "writeNewFiles: chown must be a boolean");
    return 0;
  }
  f->mode = (mode_t)mode;
  f->uid = (uid_t)uid;
  f->gid = (gid_t)gid;
  f->chown = chown;
  f->times[0] = timespec_of(atime);
  f->times[1] = timespec_of(mtime);
  return 1;
}

/*
 * writeNewFiles(files: Array<{ path, chunks: Buffer[], mode, uid, gid, chown: boolean,
 * atime, mtime (seconds) }>, callback?(err | null)): for each file in order, create it
 * (O_EXCL, O_NOFOLLOW: never an existing file, never through a final symlink), write the
 * chunks, fchown when asked, fchmod, futimens, close. With a callback, on a pool thread
 * (the chunks must not change until it is called); without, on this thread, a failure
 * thrown. The first failure stops the rest and names its call and path.
 */
static napi_value js_write_new_files(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 2; i++) napi_get_undefined(env, &argv[i]);
  bool is_array;
  uint32_t n = 0;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "writeNewFiles: files must be an array");
    return NULL;
  }
  napi_get_array_length(env, argv[0], &n);
  if (n > WRITE_FILES_MAX) {
    napi_throw_range_error(env, NULL, "writeNewFiles: too many files");
    return NULL;
  }
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function && t != napi_undefined) {
    napi_throw_type_error(env, NULL, "writeNewFiles: callback must be a function");
    return NULL;
  }
  struct new_files_job *job = calloc(1, sizeof *job);
  if (job) job->files = calloc(n ? n : 1, sizeof *job->files);
  if (!job || !job->files) {
    free(job);
    napi_throw_error(env, "ENOMEM", "writeNewFiles: out of memory");
    return NULL;
  }
  job->failed = -1;
  for (uint32_t i = 0; i < n; i++) {
    napi_value spec;
    napi_get_element(env, argv[0], i, &spec);
    job->n = i + 1; /* what free_new_files_job frees */
    if (!get_new_file(env, spec, &job->files[i])) {
      free_new_files_job(job);
      return NULL;
    }
  }
  if (t == napi_undefined) {
    new_files_execute(env, job);
    if (job->failed >= 0) napi_throw(env, new_files_error(env, job));
    free_new_files_job(job);
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "berth:writeNewFiles", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[0], 1, &job->files_ref);
  napi_create_reference(env, argv[1], 1, &job->callback);
  if (napi_create_async_work(env, NULL, name, new_files_execute, new_files_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_reference(env, job->files_ref);
    napi_delete_reference(env, job->callback);
    free_new_files_job(job);
    napi_throw_error(env, NULL, "writeNewFiles: could not queue the work");
  }
  return NULL;
}

/* ---------- netlinkTransact: rtnetlink requests on a pool thread ----------
 * The bridge driver configures links, addresses and routes through rtnetlink. The
 * messages are encoded in TypeScript (the policy); this is the plumbing: a NETLINK_ROUTE
 * socket, in another network namespace when asked, each request sent and its answers
 * read until the kernel's acknowledgement (or the end of a dump), the first refusal
 * reported with its errno and the kernel's extended-ack text. */

#define NETLINK_REQUESTS_MAX 64
#define NETLINK_RECV_BYTES 65536
#define NETLINK_EXTACK_MAX 256
#define NETLINK_RECV_TIMEOUT_SECONDS 30

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLMSGERR_ATTR_MSG
#define NLMSGERR_ATTR_MSG 1
#endif

struct netlink_reply {
  char *bytes;
  size_t len, cap;
};

struct netlink_job {
  napi_async_work work;
  napi_ref requests_ref; /* keeps the request Buffers alive while a pool thread sends them */
  napi_ref callback;
  int netns_fd; /* -1: the calling thread's namespace */
  uint32_t n;
  struct iovec *requests;
  struct netlink_reply *replies;
  int err;             /* errno of the failure, 0 when every request was acknowledged */
  const char *failed;  /* the call that failed: "netlink" for a refused request */
  int failed_index;    /* the request the kernel refused, or -1 */
  char extack[NETLINK_EXTACK_MAX];
};

struct netns_socket {
  int netns_fd;
  int fd;
  int err;
  const char *failed;
};

/* A thread of its own enters the namespace and opens the socket there, then ends: a
 * socket belongs to the namespace it was created in for its whole life, and no thread
 * that goes on serving others (a pool thread) is ever moved. */
static void *netns_socket_thread(void *arg) {
  struct netns_socket *s = arg;
  if (setns(s->netns_fd, CLONE_NEWNET) != 0) {
    s->err = errno;
    s->failed = "setns";
    return NULL;
  }
  s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s->fd < 0) {
    s->err = errno;
    s->failed = "socket";
  }
  return NULL;
}

static int netlink_socket(struct netlink_job *job) {
  int fd;
  if (job->netns_fd < 0) {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
      job->err = errno;
      job->failed = "socket";
      return -1;
    }
  } else {
    struct netns_socket s = { job->netns_fd, -1, 0, NULL };
    pthread_t thread;
    int rc = pthread_create(&thread, NULL, netns_socket_thread, &s);
    if (rc != 0) {
      job->err = rc;
      job->failed = "pthread_create";
      return -1;
    }
    pthread_join(thread, NULL);
    if (s.err) {
      job->err = s.err;
      job->failed = s.failed;
      return -1;
    }
    fd = s.fd;
  }
  int on = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on); /* only for better messages: ignore a kernel without it */
  /* A request without NLM_F_ACK is never answered with an end: the thread gives up
   * (EAGAIN, "recv") rather than wait for ever. The kernel's slowest answers (a link
   * deleted under load) take a fraction of a second. */
  struct timeval limit = { .tv_sec = NETLINK_RECV_TIMEOUT_SECONDS, .tv_usec = 0 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  return fd;
}

static int netlink_append(struct netlink_reply *r, const void *bytes, size_t len) {
  if (r->len + len > r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 4096;
    while (cap < r->len + len) cap *= 2;
    char *grown = realloc(r->bytes, cap);
    if (!grown) return 0;
    r->bytes = grown;
    r->cap = cap;
  }
  memcpy(r->bytes + r->len, bytes, len);
  r->len += len;
  return 1;
}

/* The kernel's text for a refusal, from the extended-ack attributes after the error. */
static void netlink_extack(struct netlink_job *job, const struct nlmsghdr *h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return;
  const struct nlmsgerr *e = NLMSG_DATA(h);
  size_t offset = NLMSG_HDRLEN + sizeof *e;
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) offset += NLMSG_ALIGN(e->msg.nlmsg_len) - sizeof e->msg;
  while (offset + NLA_HDRLEN <= h->nlmsg_len) {
    const struct nlattr *a = (const struct nlattr *)((const char *)h + offset);
    if (a->nla_len < NLA_HDRLEN || offset + a->nla_len > h->nlmsg_len) return;
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      snprintf(job->extack, sizeof job->extack, "%.*s", (int)(a->nla_len - NLA_HDRLEN), (const char *)a + NLA_HDRLEN);
      return;
    }
    offset += NLA_ALIGN(a->nla_len);
  }
}

/* Send request i and read until its acknowledgement or the end of its dump; 0 on a failure. */
static int netlink_request(struct netlink_job *job, int fd, uint32_t i, char *buf) {
  const struct iovec *req = &job->requests[i];
  const struct nlmsghdr *sent = req->iov_base;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  for (;;) {
    if (sendto(fd, req->iov_base, req->iov_len, 0, (struct sockaddr *)&kernel, sizeof kernel) >= 0) break;
    if (errno == EINTR) continue;
    job->err = errno;
    job->failed = "sendto";
    return 0;
  }
  for (;;) {
    ssize_t got = recv(fd, buf, NETLINK_RECV_BYTES, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      job->err = errno;
      job->failed = "recv";
      return 0;
    }
    size_t left = (size_t)got;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != sent->nlmsg_seq) continue; /* an answer to an earlier request of this socket */
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e)) {
          job->err = EPROTO;
          job->failed = "recv";
          return 0;
        }
        if (e->error == 0) return 1;
        job->err = -e->error;
        job->failed = "netlink";
        job->failed_index = (int)i;
        netlink_extack(job, h);
        return 0;
      }
      if (h->nlmsg_type == NLMSG_DONE) {
        int status = h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) ? *(int *)NLMSG_DATA(h) : 0;
        if (status == 0) return 1;
        job->err = -status;
        job->failed = "netlink";
        job->failed_index = (int)i;
        return 0;
      }
      if (!netlink_append(&job->replies[i], h, h->nlmsg_len)) {
        job->err = ENOMEM;
        job->failed = "recv";
        return 0;
      }
    }
  }
}

static void netlink_execute(napi_env env, void *data) {
  (void)env;
  struct netlink_job *job = data;
  char *buf = malloc(NETLINK_RECV_BYTES);
  if (!buf) {
    job->err = ENOMEM;
    job->failed = "socket";
    return;
  }
  int fd = netlink_socket(job);
  if (fd >= 0) {
    for (uint32_t i = 0; i < job->n; i++)
      if (!netlink_request(job, fd, i, buf)) break;
    close(fd);
  }
  free(buf);
}

static void free_netlink_job(struct netlink_job *job) {
  if (job->replies)
    for (uint32_t i = 0; i < job->n; i++) free(job->replies[i].bytes);
  free(job->replies);
  free(job->requests);
  free(job);
}

/* The failure as an Error shaped like Node's ("EEXIST: file exists, netlink 'RTNETLINK: File exists'"), with `index`. */
static napi_value netlink_error(napi_env env, struct netlink_job *job) {
  napi_value err = errno_error(env, job->err, job->failed, job->extack, NULL);
  napi_value index;
  napi_create_int32(env, job->failed_index, &index);
  napi_set_named_property(env, err, "index", index);
  return err;
}

static napi_value netlink_replies(napi_env env, struct netlink_job *job) {
  napi_value list;
  napi_create_array_with_length(env, job->n, &list);
  for (uint32_t i = 0; i < job->n; i++) {
    napi_value b;
    napi_create_buffer_copy(env, job->replies[i].len, job->replies[i].len ? job->replies[i].bytes : "", NULL, &b);
    napi_set_element(env, list, i, b);
  }
  return list;
}

static void netlink_complete(napi_env env, napi_status status, void *data) {
  struct netlink_job *job = data;
  napi_value cb, global, args[2];
  napi_get_reference_value(env, job->callback, &cb);
  napi_get_global(env, &global);
  napi_get_null(env, &args[1]);
  if (job->err) args[0] = netlink_error(env, job);
  else if (status != napi_ok) args[0] = errno_error(env, ECANCELED, "netlink", "", NULL);
  else {
    napi_get_null(env, &args[0]);
    args[1] = netlink_replies(env, job);
  }
  napi_delete_reference(env, job->requests_ref);
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free_netlink_job(job);
  napi_call_function(env, global, cb, 2, args, NULL);
}

/*
 * netlinkTransact(netnsFd, requests: Buffer[], callback?(err, replies?: Buffer[])): open a
 * NETLINK_ROUTE socket (in the network namespace of netnsFd, or this thread's when it is
 * -1), send each request in order (each one nlmsghdr message; the caller sets its flags,
 * NLM_F_ACK or NLM_F_DUMP, and a sequence number of its own) and collect what the kernel
 * answers to it until its acknowledgement or NLMSG_DONE. Resolves with one Buffer of
 * answer messages per request. The first refusal stops the rest: an Error with `code`
 * and `errno`, `syscall` "netlink", `path` the kernel's extended-ack text, `index` the
 * request. With a callback, on a pool thread; without, on this thread, returning the
 * replies or throwing.
 */
static napi_value js_netlink_transact(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 3; i++) napi_get_undefined(env, &argv[i]);
  int netns_fd;
  if (!get_int(env, argv[0], &netns_fd, "netlinkTransact: netnsFd must be a number")) return NULL;
  bool is_array;
  uint32_t n = 0;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "netlinkTransact: requests must be an array of Buffers");
    return NULL;
  }
  napi_get_array_length(env, argv[1], &n);
  if (n > NETLINK_REQUESTS_MAX) {
    napi_throw_range_error(env, NULL, "netlinkTransact: too many requests");
    return NULL;
  }
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t != napi_function && t != napi_undefined) {
    napi_throw_type_error(env, NULL, "netlinkTransact: callback must be a function");
    return NULL;
  }
  struct netlink_job *job = calloc(1, sizeof *job);
  if (job) {
    job->requests = calloc(n ? n : 1, sizeof *job->requests);
    job->replies = calloc(n ? n : 1, sizeof *job->replies);
  }
  if (!job || !job->requests || !job->replies) {
    if (job) free_netlink_job(job);
    napi_throw_error(env, "ENOMEM", "netlinkTransact: out of memory");
    return NULL;
  }
  job->n = n;
  job->netns_fd = netns_fd;
  job->failed_index = -1;
  for (uint32_t i = 0; i < n; i++) {
    napi_value b;
    void *bytes;
    size_t len;
    napi_get_element(env, argv[1], i, &b);
    if (!get_buffer(env, b, &bytes, &len, "netlinkTransact: requests must be an array of Buffers")) {
      free_netlink_job(job);
      return NULL;
    }
    if (len < NLMSG_HDRLEN || ((struct nlmsghdr *)bytes)->nlmsg_len != len) {
      free_netlink_job(job);
      napi_throw_range_error(env, NULL, "netlinkTransact: each request is one netlink message whose nlmsg_len is its length");
      return NULL;
    }
    job->requests[i].iov_base = bytes;
    job->requests[i].iov_len = len;
  }
  if (t == napi_undefined) {
    netlink_execute(env, job);
    napi_value result = NULL;
    if (job->err) napi_throw(env, netlink_error(env, job));
    else result = netlink_replies(env, job);
    free_netlink_job(job);
    return result;
  }
  napi_value name;
  napi_create_string_utf8(env, "berth:netlinkTransact", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &job->requests_ref);
  napi_create_reference(env, argv[2], 1, &job->callback);
  if (napi_create_async_work(env, NULL, name, netlink_execute, netlink_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_reference(env, job->requests_ref);
    napi_delete_reference(env, job->callback);
    free_netlink_job(job);
    napi_throw_error(env, NULL, "netlinkTransact: could not queue the work");
  }
  return NULL;
}

/*
 * gzipMember(input: Buffer, level, callback(err, output)): `input` as one complete gzip
 * member (RFC 1952: header, deflate stream, CRC-32, size), compressed with libdeflate on a
 * pool thread. libdeflate compresses whole buffers only, so a stream is sent as a series
 * of members, which every gzip reader concatenates (RFC 1952 section 2.2); at level 1 it
 * is about twice zlib's level-1 speed for fewer bytes. The input must not change until
 * the callback runs. Deterministic: the same input and level give the same bytes.
 */
struct gzip_job {
  napi_async_work work;
  napi_ref input_ref; /* keeps the input Buffer alive while a pool thread reads it */
  napi_ref callback;
  const void *input;
  size_t input_len;
  int level;      /* compress: libdeflate's level */
  int decompress; /* 1: gunzipMember */
  size_t out_size; /* decompress: the member's uncompressed size (its ISIZE) */
  void *output;
  size_t output_len;
  int err;
};

/*
 * The gzip header of a member gzipMember writes: FEXTRA with one subfield, 'B' 'M', whose
 * 4 bytes are the member's total length (little-endian), so a reader knows where a member
 * ends before inflating it and can inflate members on several threads (as BGZF's 'BC').
 */
#define MEMBER_HEADER 20
#define MEMBER_TRAILER 8

static void put_le32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static void gzip_compress(struct gzip_job *job) {
  struct libdeflate_compressor *c = libdeflate_alloc_compressor(job->level);
  if (!c) {
    job->err = ENOMEM;
    return;
  }
  size_t bound = libdeflate_deflate_compress_bound(c, job->input_len);
  unsigned char *out = malloc(MEMBER_HEADER + bound + MEMBER_TRAILER);
  if (!out) {
    job->err = ENOMEM;
    libdeflate_free_compressor(c);
    return;
  }
  size_t n = libdeflate_deflate_compress(c, job->input, job->input_len, out + MEMBER_HEADER, bound);
  libdeflate_free_compressor(c);
  size_t total = MEMBER_HEADER + n + MEMBER_TRAILER;
  /* n == 0 cannot happen with a bound-sized output; a member over 4 GiB is not ours to make. */
  if (n == 0 || total > UINT32_MAX || job->input_len > UINT32_MAX) {
    free(out);
    job->err = n == 0 ? ENOSPC : EFBIG;
    return;
  }
  static const unsigned char head[12] = {0x1f, 0x8b, 8, 4 /* FEXTRA */, 0, 0, 0, 0 /* no mtime */, 0, 255 /* OS unknown */, 8, 0 /* XLEN */};
  memcpy(out, head, sizeof head);
  out[12] = 'B';
  out[13] = 'M';
  out[14] = 4;
  out[15] = 0;
  put_le32(out + 16, (uint32_t)total);
  put_le32(out + MEMBER_HEADER + n, libdeflate_crc32(0, job->input, job->input_len));
  put_le32(out + MEMBER_HEADER + n + 4, (uint32_t)job->input_len);
  job->output = out;
  job->output_len = total;
}

static void gzip_decompress(struct gzip_job *job) {
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  job->output = malloc(job->out_size ? job->out_size : 1);
  if (!d || !job->output) {
    job->err = ENOMEM;
  } else {
    size_t in_used = 0, out_used = 0;
    enum libdeflate_result r =
        libdeflate_gzip_decompress_ex(d, job->input, job->input_len, job->output, job->out_size, &in_used, &out_used);
    /* One whole member, its CRC and size checked by libdeflate, nothing before or after it. */
    if (r != LIBDEFLATE_SUCCESS || in_used != job->input_len || out_used != job->out_size) job->err = EBADMSG;
    else job->output_len = out_used;
  }
  if (d) libdeflate_free_decompressor(d);
  if (job->err) {
    free(job->output);
    job->output = NULL;
  }
}

static void gzip_execute(napi_env env, void *data) {
  (void)env;
  struct gzip_job *job = data;
  if (job->decompress) gzip_decompress(job);
  else gzip_compress(job);
}

static void free_output(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* "gzipMember: cannot allocate memory", with the errno's name as code. */
static napi_value gzip_error(napi_env env, int err, int decompress) {
  const char *code = strerrorname_np(err);
  char msg[256];
  if (err == EBADMSG) snprintf(msg, sizeof msg, "gunzipMember: not one whole gzip member of the size given (corrupt or truncated)");
  else snprintf(msg, sizeof msg, "%s: %s", decompress ? "gunzipMember" : "gzipMember", strerror(err));
  napi_value jcode, jmsg, jerr;
  napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &jcode);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
  napi_create_error(env, jcode, jmsg, &jerr);
  return jerr;
}

static void gzip_complete(napi_env env, napi_status status, void *data) {
  struct gzip_job *job = data;
  napi_value cb, global, args[2];
  napi_get_reference_value(env, job->callback, &cb);
  napi_get_global(env, &global);
  napi_get_null(env, &args[0]);
  napi_get_undefined(env, &args[1]);
  if (status != napi_ok && !job->err) job->err = ECANCELED;
  if (job->err) {
    args[0] = gzip_error(env, job->err, job->decompress);
    free(job->output);
  } else if (job->output_len == 0) {
    void *unused;
    free(job->output);
    napi_create_buffer(env, 0, &unused, &args[1]);
  } else if (napi_create_external_buffer(env, job->output_len, job->output, free_output, NULL, &args[1]) != napi_ok) {
    /* A runtime that forbids external buffers: copy instead. */
    bool pending;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    void *copy;
    if (napi_create_buffer_copy(env, job->output_len, job->output, &copy, &args[1]) != napi_ok)
      args[0] = gzip_error(env, ENOMEM, job->decompress);
    free(job->output);
  }
  napi_delete_reference(env, job->input_ref);
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free(job);
  napi_call_function(env, global, cb, 2, args, NULL);
}

static napi_value js_gzip_member(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 3; i++) napi_get_undefined(env, &argv[i]);
  void *input;
  size_t len;
  if (!get_buffer(env, argv[0], &input, &len, "gzipMember: input must be a Buffer")) return NULL;
  double level;
  if (!get_number(env, argv[1], &level, 1, "gzipMember: level must be a number")) return NULL;
  if (level < 1 || level > 12 || level != (int)level) {
    napi_throw_range_error(env, NULL, "gzipMember: level must be an integer from 1 to 12");
    return NULL;
  }
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "gzipMember: callback must be a function");
    return NULL;
  }
  struct gzip_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, "ENOMEM", "gzipMember: out of memory");
    return NULL;
  }
  job->input = input;
  job->input_len = len;
  job->level = (int)level;
  napi_value name;
  napi_create_string_utf8(env, "berth:gzipMember", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[0], 1, &job->input_ref);
  napi_create_reference(env, argv[2], 1, &job->callback);
  if (napi_create_async_work(env, NULL, name, gzip_execute, gzip_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_reference(env, job->input_ref);
    napi_delete_reference(env, job->callback);
    free(job);
    napi_throw_error(env, NULL, "gzipMember: could not queue the work");
  }
  return NULL;
}

/*
 * gunzipMember(input: Buffer, size, callback(err, output)): `input` is exactly one gzip
 * member whose uncompressed size is `size` (the member's ISIZE); inflated by libdeflate on
 * a pool thread, its CRC-32 and size checked. Anything else (corrupt, truncated, bytes
 * after the member, another size) is an error. The input must not change until the
 * callback runs.
 */
static napi_value js_gunzip_member(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = argc; i < 3; i++) napi_get_undefined(env, &argv[i]);
  void *input;
  size_t len;
  if (!get_buffer(env, argv[0], &input, &len, "gunzipMember: input must be a Buffer")) return NULL;
  double size;
  if (!get_number(env, argv[1], &size, -1, "gunzipMember: size must be a number")) return NULL;
  if (size < 0 || size > (double)UINT32_MAX || size != (double)(uint64_t)size) {
    napi_throw_range_error(env, NULL, "gunzipMember: size must be an integer from 0 to 2^32-1");
    return NULL;
  }
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "gunzipMember: callback must be a function");
    return NULL;
  }
  struct gzip_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, "ENOMEM", "gunzipMember: out of memory");
    return NULL;
  }
  job->input = input;
  job->input_len = len;
  job->decompress = 1;
  job->out_size = (size_t)size;
  napi_value name;
  napi_create_string_utf8(env, "berth:gunzipMember", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[0], 1, &job->input_ref);
  napi_create_reference(env, argv[2], 1, &job->callback);
  if (napi_create_async_work(env, NULL, name, gzip_execute, gzip_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_reference(env, job->input_ref);
    napi_delete_reference(env, job->callback);
    free(job);
    napi_throw_error(env, NULL, "gunzipMember: could not queue the work");
  }
  return NULL;
}

/*
 * trimMalloc(): glibc's malloc_trim(0): hand the free pages of every malloc arena back
 * to the kernel. Returns whether any memory was released. Never fails.
 */
static napi_value js_trim_malloc(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, malloc_trim(0) == 1, &result);
  return result;
}

/*
 * socketInNetns(netnsPath, tcp, address, port): a socket made inside another network
 * namespace, bound to address:port (IP_FREEBIND, so an address not yet up binds), listening
 * when tcp; returns its descriptor (CLOEXEC, non-blocking). The calling thread enters the
 * namespace with setns(2) and returns to its own before this returns: nothing else runs on
 * the thread meanwhile, and a socket keeps the namespace it was made in for its life.
 */
static napi_value js_socket_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char nspath[PATH_ARG_MAX], address[64];
  bool tcp = false;
  double port = 0;
  if (!get_string(env, argv[0], nspath, sizeof nspath, 0, NULL, "netnsPath must be a string")) return NULL;
  napi_get_value_bool(env, argv[1], &tcp);
  if (!get_string(env, argv[2], address, sizeof address, 0, NULL, "address must be a string")) return NULL;
  if (!get_number(env, argv[3], &port, 0, "port must be a number")) return NULL;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) {
    throw_errno(env, EINVAL, "inet_pton", address, NULL);
    return NULL;
  }
  int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0) {
    throw_errno(env, errno, "open", "/proc/thread-self/ns/net", NULL);
    return NULL;
  }
  int target = open(nspath, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(own);
    throw_errno(env, err, "open", nspath, NULL);
    return NULL;
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(own);
    close(target);
    throw_errno(env, err, "setns", nspath, NULL);
    return NULL;
  }
  close(target);
  int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int err = fd < 0 ? errno : 0;
  const char *failed = fd < 0 ? "socket" : NULL;
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
      err = errno;
      failed = "bind";
    } else if (tcp && listen(fd, 128) != 0) {
      err = errno;
      failed = "listen";
    }
  }
  /* Back to our own namespace whatever happened: failing that, the thread would be lost. */
  if (setns(own, CLONE_NEWNET) != 0) abort();
  close(own);
  if (failed) {
    if (fd >= 0) close(fd);
    throw_errno(env, err, failed, nspath, NULL);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

void register_copy_tree(napi_env env, napi_value exports); /* copy_tree.c */

NAPI_MODULE_INIT() {
  register_copy_tree(env, exports);
  set_function(env, exports, "mount", js_mount);
  set_function(env, exports, "umount", js_umount);
  set_function(env, exports, "openInRoot", js_open_in_root);
  set_function(env, exports, "spawnDetached", js_spawn_detached);
  set_function(env, exports, "spawnDetachedAsync", js_spawn_detached_async);
  set_function(env, exports, "lgetxattr", js_lgetxattr);
  set_function(env, exports, "lsetxattr", js_lsetxattr);
  set_function(env, exports, "fsetxattr", js_fsetxattr);
  set_function(env, exports, "llistxattr", js_llistxattr);
  set_function(env, exports, "lremovexattr", js_lremovexattr);
  set_function(env, exports, "utimensAt", js_utimens_at);
  set_function(env, exports, "openAt", js_open_at);
  set_function(env, exports, "statAt", js_stat_at);
  set_function(env, exports, "readlinkAt", js_readlink_at);
  set_function(env, exports, "readDir", js_read_dir);
  set_function(env, exports, "mkdirAt", js_mkdir_at);
  set_function(env, exports, "symlinkAt", js_symlink_at);
  set_function(env, exports, "linkAt", js_link_at);
  set_function(env, exports, "mknodAt", js_mknod_at);
  set_function(env, exports, "unlinkAt", js_unlink_at);
  set_function(env, exports, "chownAt", js_chown_at);
  set_function(env, exports, "chmodAt", js_chmod_at);
  set_function(env, exports, "utimesAt", js_utimes_at);
  napi_value resolve;
  napi_create_object(env, &resolve);
  set_number(env, resolve, "NO_XDEV", RESOLVE_NO_XDEV);
  set_number(env, resolve, "NO_MAGICLINKS", RESOLVE_NO_MAGICLINKS);
  set_number(env, resolve, "NO_SYMLINKS", RESOLVE_NO_SYMLINKS);
  set_number(env, resolve, "BENEATH", RESOLVE_BENEATH);
  set_number(env, resolve, "IN_ROOT", RESOLVE_IN_ROOT);
  napi_set_named_property(env, exports, "RESOLVE", resolve);
  napi_value at;
  napi_create_object(env, &at);
  set_number(env, at, "FDCWD", AT_FDCWD);
  set_number(env, at, "SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW);
  set_number(env, at, "EMPTY_PATH", AT_EMPTY_PATH);
  set_number(env, at, "REMOVEDIR", AT_REMOVEDIR);
  napi_set_named_property(env, exports, "AT", at);
  set_function(env, exports, "trimMalloc", js_trim_malloc);
  set_function(env, exports, "socketInNetns", js_socket_in_netns);
  set_function(env, exports, "writeNewFiles", js_write_new_files);
  set_function(env, exports, "gzipMember", js_gzip_member);
  set_function(env, exports, "gunzipMember", js_gunzip_member);
  set_function(env, exports, "netlinkTransact", js_netlink_transact);
  napi_value ms;
  napi_create_object(env, &ms);
  set_number(env, ms, "RDONLY", MS_RDONLY);
  set_number(env, ms, "NOSUID", MS_NOSUID);
  set_number(env, ms, "NODEV", MS_NODEV);
  set_number(env, ms, "NOEXEC", MS_NOEXEC);
  set_number(env, ms, "SYNCHRONOUS", MS_SYNCHRONOUS);
  set_number(env, ms, "REMOUNT", MS_REMOUNT);
  set_number(env, ms, "MANDLOCK", MS_MANDLOCK);
  set_number(env, ms, "DIRSYNC", MS_DIRSYNC);
  set_number(env, ms, "NOATIME", MS_NOATIME);
  set_number(env, ms, "NODIRATIME", MS_NODIRATIME);
  set_number(env, ms, "BIND", MS_BIND);
  set_number(env, ms, "MOVE", MS_MOVE);
  set_number(env, ms, "REC", MS_REC);
  set_number(env, ms, "UNBINDABLE", MS_UNBINDABLE);
  set_number(env, ms, "PRIVATE", MS_PRIVATE);
  set_number(env, ms, "SLAVE", MS_SLAVE);
  set_number(env, ms, "SHARED", MS_SHARED);
  set_number(env, ms, "RELATIME", MS_RELATIME);
  set_number(env, ms, "STRICTATIME", MS_STRICTATIME);
  napi_set_named_property(env, exports, "MS", ms);
  set_number(env, exports, "MNT_DETACH", MNT_DETACH);
  set_number(env, exports, "MNT_FORCE", MNT_FORCE);
  set_number(env, exports, "O_PATH", O_PATH);
  return exports;
}
