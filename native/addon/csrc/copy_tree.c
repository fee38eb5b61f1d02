/*
 * copyTree: a directory's content copied into an empty directory on a pool thread, for
 * the pre-population of a volume from an image. Every name is opened relative to a
 * directory descriptor with O_NOFOLLOW (and fstatat with AT_SYMLINK_NOFOLLOW), so a
 * symlink in the source is copied as a symlink and never followed, and nothing is ever
 * created through one in the target: the copy cannot read or write outside the two trees.
 * From Node each of the ten or so calls per file is a round trip through the pool, which
 * costs more than the kernel's work; here they run back to back.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define COPY_PATH_MAX 4096
#define XATTR_LIST_MAX_BYTES 65536
#define XATTR_VALUE_MAX_BYTES 65536
#define COPY_CHUNK (1 << 20)

/* A file with several names: the first copy's path (relative to the target root), so the next names link to it. */
struct link_entry {
  dev_t dev;
  ino_t ino;
  char *path;
};

struct copy_job {
  napi_async_work work;
  napi_ref callback;
  int src_root, dst_root;
  /* The relative path of the entry being copied, for hard links and for errors. */
  char path[COPY_PATH_MAX];
  struct link_entry *links;
  size_t nlinks, links_cap;
  char *xattr_names, *xattr_value;
  double entries, skipped;
  int err;
  const char *failed;
  char failed_path[COPY_PATH_MAX];
};

static int fail(struct copy_job *job, int err, const char *syscall) {
  if (!job->err) {
    job->err = err;
    job->failed = syscall;
    snprintf(job->failed_path, sizeof job->failed_path, "%s", job->path[0] ? job->path : ".");
  }
  return -1;
}

static struct link_entry *find_link(struct copy_job *job, dev_t dev, ino_t ino) {
  for (size_t i = 0; i < job->nlinks; i++)
    if (job->links[i].ino == ino && job->links[i].dev == dev) return &job->links[i];
  return NULL;
}

static int remember_link(struct copy_job *job, dev_t dev, ino_t ino) {
  if (job->nlinks == job->links_cap) {
    size_t cap = job->links_cap ? job->links_cap * 2 : 64;
    struct link_entry *grown = realloc(job->links, cap * sizeof *grown);
    if (!grown) return fail(job, ENOMEM, "malloc");
    job->links = grown;
    job->links_cap = cap;
  }
  char *copy = strdup(job->path);
  if (!copy) return fail(job, ENOMEM, "malloc");
  job->links[job->nlinks++] = (struct link_entry){dev, ino, copy};
  return 0;
}

/* Every extended attribute of `src` set on `dst` (both open). A target filesystem without xattrs is no error. */
static int copy_xattrs(struct copy_job *job, int src, int dst) {
  ssize_t len = flistxattr(src, job->xattr_names, XATTR_LIST_MAX_BYTES);
  if (len < 0) {
    if (errno == ENOTSUP) return 0;
    return fail(job, errno, "flistxattr");
  }
  for (char *name = job->xattr_names; name < job->xattr_names + len; name += strlen(name) + 1) {
    ssize_t n = fgetxattr(src, name, job->xattr_value, XATTR_VALUE_MAX_BYTES);
    if (n < 0) {
      if (errno == ENODATA) continue; /* removed meanwhile */
      return fail(job, errno, "fgetxattr");
    }
    if (fsetxattr(dst, name, job->xattr_value, (size_t)n, 0) != 0) {
      if (errno == ENOTSUP) continue;
      return fail(job, errno, "fsetxattr");
    }
  }
  return 0;
}

/* Owner, then mode (chown clears setuid and setgid), then xattrs (chown clears security.capability), then times. */
static int copy_metadata(struct copy_job *job, int src, int dst, const struct stat *st) {
  if (fchown(dst, st->st_uid, st->st_gid) != 0) return fail(job, errno, "fchown");
  if (fchmod(dst, st->st_mode & 07777) != 0) return fail(job, errno, "fchmod");
  if (copy_xattrs(job, src, dst) != 0) return -1;
  struct timespec times[2] = {st->st_atim, st->st_mtim};
  if (futimens(dst, times) != 0) return fail(job, errno, "futimens");
  return 0;
}

static int copy_data(struct copy_job *job, int src, int dst, off_t size) {
  int use_range = 1;
  off_t done = 0;
  while (use_range) {
    ssize_t n = copy_file_range(src, NULL, dst, NULL, COPY_CHUNK * 64, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* Across filesystems on older kernels, or a filesystem without it: plain reads and writes. */
      if ((errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) && done == 0) {
        use_range = 0;
        break;
      }
      return fail(job, errno, "copy_file_range");
    }
    if (n == 0) return 0;
    done += n;
  }
  (void)size;
  static __thread char *buf;
  if (!buf && !(buf = malloc(COPY_CHUNK))) return fail(job, ENOMEM, "malloc");
  for (;;) {
    ssize_t n = read(src, buf, COPY_CHUNK);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(job, errno, "read");
    }
    if (n == 0) return 0;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(dst, buf + off, (size_t)(n - off));
      if (w < 0) {
        if (errno == EINTR) continue;
        return fail(job, errno, "write");
      }
      off += w;
    }
  }
}

static int copy_file(struct copy_job *job, int src_dir, int dst_dir, const char *name, const struct stat *st) {
  if (st->st_nlink > 1) {
    struct link_entry *first = find_link(job, st->st_dev, st->st_ino);
    if (first) {
      if (linkat(job->dst_root, first->path, dst_dir, name, 0) != 0) return fail(job, errno, "linkat");
      return 0;
    }
  }
  int src = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (src < 0) return fail(job, errno, "openat");
  int dst = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (dst < 0) {
    close(src);
    return fail(job, errno, "openat");
  }
  int rc = 0;
  if (st->st_size > 0) rc = copy_data(job, src, dst, st->st_size);
  if (rc == 0) rc = copy_metadata(job, src, dst, st);
  close(src);
  if (close(dst) != 0 && rc == 0) rc = fail(job, errno, "close");
  if (rc == 0 && st->st_nlink > 1) rc = remember_link(job, st->st_dev, st->st_ino);
  return rc;
}

static int copy_symlink(struct copy_job *job, int src_dir, int dst_dir, const char *name, const struct stat *st) {
  char target[COPY_PATH_MAX];
  ssize_t n = readlinkat(src_dir, name, target, sizeof target - 1);
  if (n < 0) return fail(job, errno, "readlinkat");
  target[n] = 0;
  if (symlinkat(target, dst_dir, name) != 0) return fail(job, errno, "symlinkat");
  if (fchownat(dst_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) != 0) return fail(job, errno, "fchownat");
  struct timespec times[2] = {st->st_atim, st->st_mtim};
  if (utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) return fail(job, errno, "utimensat");
  return 0;
}

/* A device node or a fifo: made anew (never opened: opening a fifo would block), with its owner, mode, xattrs and times. */
static int copy_special(struct copy_job *job, int src_dir, int dst_dir, const char *name, const struct stat *st) {
  if (mknodat(dst_dir, name, st->st_mode & (S_IFMT | 0600), st->st_rdev) != 0) return fail(job, errno, "mknodat");
  if (fchownat(dst_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) != 0) return fail(job, errno, "fchownat");
  if (fchmodat(dst_dir, name, st->st_mode & 07777, 0) != 0) return fail(job, errno, "fchmodat");
  /* Through O_PATH descriptors: the xattr calls work on them without opening the node itself. */
  int src = openat(src_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  int dst = src < 0 ? -1 : openat(dst_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (src >= 0 && dst >= 0) {
    char proc_src[64], proc_dst[64];
    snprintf(proc_src, sizeof proc_src, "/proc/self/fd/%d", src);
    snprintf(proc_dst, sizeof proc_dst, "/proc/self/fd/%d", dst);
    ssize_t len = listxattr(proc_src, job->xattr_names, XATTR_LIST_MAX_BYTES);
    for (char *x = job->xattr_names; len > 0 && x < job->xattr_names + len; x += strlen(x) + 1) {
      ssize_t v = getxattr(proc_src, x, job->xattr_value, XATTR_VALUE_MAX_BYTES);
      if (v >= 0 && setxattr(proc_dst, x, job->xattr_value, (size_t)v, 0) != 0 && errno != ENOTSUP && errno != EPERM) {
        fail(job, errno, "setxattr");
        break;
      }
    }
  }
  if (src >= 0) close(src);
  if (dst >= 0) close(dst);
  if (job->err) return -1;
  struct timespec times[2] = {st->st_atim, st->st_mtim};
  if (utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) return fail(job, errno, "utimensat");
  return 0;
}

static int copy_dir(struct copy_job *job, int src_dir, int dst_dir);

static int copy_subdir(struct copy_job *job, int src_dir, int dst_dir, const char *name, const struct stat *st) {
  /* 0700 until its content is in: nobody else walks into a half-made directory. */
  if (mkdirat(dst_dir, name, 0700) != 0) return fail(job, errno, "mkdirat");
  int src = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (src < 0) return fail(job, errno, "openat");
  int dst = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dst < 0) {
    close(src);
    return fail(job, errno, "openat");
  }
  int rc = copy_dir(job, src, dst);
  /* The directory's times last: making its entries changed them. */
  if (rc == 0) rc = copy_metadata(job, src, dst, st);
  close(src);
  close(dst);
  return rc;
}

/* The entries of `src_dir` copied into `dst_dir`; `job->path` names `src_dir` relative to the root. */
static int copy_dir(struct copy_job *job, int src_dir, int dst_dir) {
  int list_fd = dup(src_dir);
  if (list_fd < 0) return fail(job, errno, "dup");
  DIR *dir = fdopendir(list_fd);
  if (!dir) {
    close(list_fd);
    return fail(job, errno, "fdopendir");
  }
  rewinddir(dir);
  size_t base = strlen(job->path);
  int rc = 0;
  struct dirent *e;
  while (rc == 0) {
    errno = 0;
    if (!(e = readdir(dir))) {
      if (errno) rc = fail(job, errno, "readdir");
      break;
    }
    const char *name = e->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    if (base + strlen(name) + 2 > sizeof job->path) {
      rc = fail(job, ENAMETOOLONG, "openat");
      break;
    }
    if (base) job->path[base] = '/';
    strcpy(job->path + base + (base ? 1 : 0), name);
    struct stat st;
    if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      rc = fail(job, errno, "fstatat");
      break;
    }
    switch (st.st_mode & S_IFMT) {
    case S_IFDIR:
      rc = copy_subdir(job, src_dir, dst_dir, name, &st);
      break;
    case S_IFREG:
      rc = copy_file(job, src_dir, dst_dir, name, &st);
      break;
    case S_IFLNK:
      rc = copy_symlink(job, src_dir, dst_dir, name, &st);
      break;
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
      rc = copy_special(job, src_dir, dst_dir, name, &st);
      break;
    default:
      /* A socket: meaningless without the process that listened on it; Docker's copy skips it too. */
      job->skipped++;
      job->path[base] = 0;
      continue;
    }
    job->entries++;
    job->path[base] = 0;
  }
  closedir(dir);
  return rc;
}

static void copy_execute(napi_env env, void *data) {
  (void)env;
  struct copy_job *job = data;
  job->path[0] = 0;
  if (copy_dir(job, job->src_root, job->dst_root) != 0) return;
  /* The root takes the source directory's owner, mode, xattrs and times, as the copy of any directory. */
  struct stat st;
  if (fstat(job->src_root, &st) != 0) {
    fail(job, errno, "fstat");
    return;
  }
  copy_metadata(job, job->src_root, job->dst_root, &st);
}

static void free_copy_job(struct copy_job *job) {
  for (size_t i = 0; i < job->nlinks; i++) free(job->links[i].path);
  free(job->links);
  free(job->xattr_names);
  free(job->xattr_value);
  free(job);
}

static napi_value copy_error(napi_env env, struct copy_job *job) {
  const char *code = strerrorname_np(job->err);
  char text[128], msg[COPY_PATH_MAX + 256];
  snprintf(text, sizeof text, "%s", strerror(job->err));
  if (text[0] >= 'A' && text[0] <= 'Z') text[0] = (char)(text[0] - 'A' + 'a');
  snprintf(msg, sizeof msg, "%s: %s, %s '%s'", code ? code : "EUNKNOWN", text, job->failed, job->failed_path);
  napi_value jcode, jmsg, jerr, v;
  napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &jcode);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
  napi_create_error(env, jcode, jmsg, &jerr);
  napi_create_int32(env, -job->err, &v);
  napi_set_named_property(env, jerr, "errno", v);
  napi_create_string_utf8(env, job->failed, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, jerr, "syscall", v);
  napi_create_string_utf8(env, job->failed_path, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, jerr, "path", v);
  return jerr;
}

static void copy_complete(napi_env env, napi_status status, void *data) {
  struct copy_job *job = data;
  napi_value cb, global, args[2];
  napi_get_reference_value(env, job->callback, &cb);
  napi_get_global(env, &global);
  napi_get_null(env, &args[0]);
  napi_get_null(env, &args[1]);
  if (job->err) args[0] = copy_error(env, job);
  else if (status != napi_ok) {
    job->err = ECANCELED;
    job->failed = "copyTree";
    args[0] = copy_error(env, job);
  } else {
    napi_create_object(env, &args[1]);
    napi_value v;
    napi_create_double(env, job->entries, &v);
    napi_set_named_property(env, args[1], "entries", v);
    napi_create_double(env, job->skipped, &v);
    napi_set_named_property(env, args[1], "skipped", v);
  }
  napi_delete_reference(env, job->callback);
  napi_delete_async_work(env, job->work);
  free_copy_job(job);
  napi_call_function(env, global, cb, 2, args, NULL);
}

/*
 * copyTree(srcDirFd, dstDirFd, callback(err | null, { entries, skipped })): on a pool
 * thread, copy the entries of the directory open at srcDirFd into the (empty) directory
 * open at dstDirFd, then give the target the source's owner, mode, xattrs and times. The
 * descriptors stay open and the caller's (it closes them after the callback). Directories,
 * regular files (data, owner, mode, xattrs, times), symlinks (as symlinks), device nodes
 * and fifos are copied; sockets are skipped and counted; a file with several names within
 * the tree is copied once and linked for the others. The first failure stops the copy and
 * names its call and the path relative to the source; what was made stays, for the
 * caller to remove.
 */
static napi_value js_copy_tree(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t src, dst;
  napi_valuetype t = napi_undefined;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &src) != napi_ok || napi_get_value_int32(env, argv[1], &dst) != napi_ok) {
    napi_throw_type_error(env, NULL, "copyTree: the descriptors must be numbers");
    return NULL;
  }
  napi_typeof(env, argv[2], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "copyTree: callback must be a function");
    return NULL;
  }
  struct copy_job *job = calloc(1, sizeof *job);
  if (job) {
    job->xattr_names = malloc(XATTR_LIST_MAX_BYTES);
    job->xattr_value = malloc(XATTR_VALUE_MAX_BYTES);
  }
  if (!job || !job->xattr_names || !job->xattr_value) {
    if (job) free_copy_job(job);
    napi_throw_error(env, "ENOMEM", "copyTree: out of memory");
    return NULL;
  }
  job->src_root = src;
  job->dst_root = dst;
  napi_value name;
  napi_create_string_utf8(env, "berth:copyTree", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[2], 1, &job->callback);
  if (napi_create_async_work(env, NULL, name, copy_execute, copy_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_reference(env, job->callback);
    free_copy_job(job);
    napi_throw_error(env, NULL, "copyTree: could not queue the work");
  }
  return NULL;
}

/* Called by the module's init in berth_native.c. */
void register_copy_tree(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "copyTree", NAPI_AUTO_LENGTH, js_copy_tree, NULL, &fn);
  napi_set_named_property(env, exports, "copyTree", fn);
}
