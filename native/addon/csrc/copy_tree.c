/*
 * copyTree: a directory's content copied into an empty directory on a pool thread, for
 * the pre-population of a volume from an image. Every name is opened relative to a
 * directory descriptor with O_NOFOLLOW (and fstatat with AT_SYMLINK_NOFOLLOW), so a
 * symlink in the source is copied as a symlink and never followed, and nothing is ever
 * created through one in the target: the copy cannot read or write outside the two trees.
 * From Node each of the ten or so calls per file is a round trip through the pool, which
 * costs more than the kernel's work; here they run back to back, on the pool thread and
 * as many more threads of the job's own as asked.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sys/syscall.h>
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
#define COPY_THREADS_MAX 8
#define COPY_SMALL_FILE (64 * 1024)

/*
 * How the work is shared: a queue of directories. A worker takes one, makes each entry
 * in the target (a file copied, a subdirectory made and queued), then completes it. A
 * directory's owner, mode, xattrs and times are set when its last subdirectory is done
 * (`pending` counts its listing and its queued subdirectories), since making entries in
 * it changes its times. A directory is named by its path relative to the roots and
 * opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a queue of thousands
 * holds no descriptors and no path can lead out through a symlink.
 *
 * Hard links: the first name of an inode met is copied; the others are linked at the
 * end, once every copy exists (another worker may still be writing the first), and the
 * directories that received a link get their times back.
 */
struct dir_task {
  struct dir_task *next, *parent;
  int pending; /* guarded by the job's lock */
  struct stat st;
  char *rel; /* "" for the root */
};

struct link_entry {
  dev_t dev;
  ino_t ino;
  char *path; /* the first copy, relative to the target root */
};

struct deferred_link {
  char *path, *target; /* relative to the target root */
  size_t parent_index; /* the directory the link goes in: its times are set again after */
};

struct dir_times {
  char *rel;
  struct timespec times[2];
};

struct copy_job {
  napi_async_work work;
  napi_ref callback;
  int src_root, dst_root;
  int threads;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  struct dir_task *queue;
  int finished; /* the root directory is complete (or the copy failed) */
  struct link_entry *links;
  size_t nlinks, links_cap;
  struct deferred_link *deferred;
  size_t ndeferred, deferred_cap;
  struct dir_times *linked_dirs;
  size_t nlinked_dirs, linked_dirs_cap;
  double entries, skipped;
  int err;
  const char *failed;
  char failed_path[COPY_PATH_MAX];
};

/* One worker's buffers: the path of the entry at hand (for errors and links), xattrs. */
struct worker {
  struct copy_job *job;
  char path[COPY_PATH_MAX];
  char xattr_names[XATTR_LIST_MAX_BYTES];
  char xattr_value[XATTR_VALUE_MAX_BYTES];
  char buf[COPY_CHUNK];
  double entries, skipped;
};

static int fail(struct worker *w, int err, const char *syscall) {
  struct copy_job *job = w->job;
  pthread_mutex_lock(&job->lock);
  if (!job->err) {
    job->err = err;
    job->failed = syscall;
    snprintf(job->failed_path, sizeof job->failed_path, "%s", w->path[0] ? w->path : ".");
    job->finished = 1; /* stop the others: a failed copy is removed by the caller */
    pthread_cond_broadcast(&job->wake);
  }
  pthread_mutex_unlock(&job->lock);
  return -1;
}

static int failed(struct copy_job *job) {
  pthread_mutex_lock(&job->lock);
  int err = job->err;
  pthread_mutex_unlock(&job->lock);
  return err;
}

/* Grow `*items` (of `size` bytes each) to hold one more; 0 on success. */
static int reserve(void **items, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return 0;
  size_t grown_cap = *cap ? *cap * 2 : 64;
  void *grown = realloc(*items, grown_cap * size);
  if (!grown) return -1;
  *items = grown;
  *cap = grown_cap;
  return 0;
}

/* Open `rel` (a directory under `root`) without following any symlink on the way. */
static int open_beneath(int root, const char *rel, int flags) {
  if (!rel[0]) return openat(root, ".", flags | O_DIRECTORY | O_CLOEXEC);
  struct open_how how = {
    .flags = (uint64_t)(flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  return (int)syscall(SYS_openat2, root, rel, &how, sizeof how);
}

/* Every extended attribute of `src` set on `dst` (both open). A target filesystem without xattrs is no error. */
static int copy_xattrs(struct worker *w, int src, int dst) {
  ssize_t len = flistxattr(src, w->xattr_names, XATTR_LIST_MAX_BYTES);
  if (len < 0) {
    if (errno == ENOTSUP) return 0;
    return fail(w, errno, "flistxattr");
  }
  for (char *name = w->xattr_names; name < w->xattr_names + len; name += strlen(name) + 1) {
    ssize_t n = fgetxattr(src, name, w->xattr_value, XATTR_VALUE_MAX_BYTES);
    if (n < 0) {
      if (errno == ENODATA) continue; /* removed meanwhile */
      return fail(w, errno, "fgetxattr");
    }
    if (fsetxattr(dst, name, w->xattr_value, (size_t)n, 0) != 0) {
      if (errno == ENOTSUP) continue;
      return fail(w, errno, "fsetxattr");
    }
  }
  return 0;
}

/* Owner, then mode (chown clears setuid and setgid), then xattrs (chown clears security.capability), then times. */
static int copy_metadata(struct worker *w, int src, int dst, const struct stat *st) {
  if (fchown(dst, st->st_uid, st->st_gid) != 0) return fail(w, errno, "fchown");
  if (fchmod(dst, st->st_mode & 07777) != 0) return fail(w, errno, "fchmod");
  if (copy_xattrs(w, src, dst) != 0) return -1;
  struct timespec times[2] = {st->st_atim, st->st_mtim};
  if (futimens(dst, times) != 0) return fail(w, errno, "futimens");
  return 0;
}

static int copy_data(struct worker *w, int src, int dst, off_t size) {
  /*
   * A small file by read and write: copy_file_range's setup costs more than the copy of a
   * few KiB (10,100 files from an overlayfs root, interleaved: best 189 ms against 305,
   * median 947 against 1544); above 64 KiB it copies in the kernel (or shares extents).
   */
  int use_range = size > COPY_SMALL_FILE;
  off_t done = 0;
  while (use_range) {
    ssize_t n = copy_file_range(src, NULL, dst, NULL, (size_t)COPY_CHUNK * 64, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* Across filesystems on older kernels, or a filesystem without it: plain reads and writes. */
      if ((errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) && done == 0) {
        use_range = 0;
        break;
      }
      return fail(w, errno, "copy_file_range");
    }
    if (n == 0) return 0;
    done += n;
  }
  for (;;) {
    ssize_t n = read(src, w->buf, COPY_CHUNK);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(w, errno, "read");
    }
    if (n == 0) return 0;
    for (ssize_t off = 0; off < n;) {
      ssize_t wr = write(dst, w->buf + off, (size_t)(n - off));
      if (wr < 0) {
        if (errno == EINTR) continue;
        return fail(w, errno, "write");
      }
      off += wr;
    }
  }
}

/*
 * A file with other names: 1 when an earlier name was copied (this one is deferred, to
 * be linked at the end), 0 when this is the first (the caller copies it), -1 on failure.
 */
static int claim_link(struct worker *w, const struct stat *st, size_t parent_len, const struct timespec *parent_times) {
  struct copy_job *job = w->job;
  int rc = 0;
  pthread_mutex_lock(&job->lock);
  struct link_entry *first = NULL;
  for (size_t i = 0; i < job->nlinks; i++)
    if (job->links[i].ino == st->st_ino && job->links[i].dev == st->st_dev) {
      first = &job->links[i];
      break;
    }
  if (!first) {
    char *copy = strdup(w->path);
    if (!copy || reserve((void **)&job->links, &job->links_cap, job->nlinks, sizeof *job->links) != 0) {
      free(copy);
      rc = -1;
    } else {
      job->links[job->nlinks++] = (struct link_entry){st->st_dev, st->st_ino, copy};
    }
  } else {
    /* The directory gets its times again after its links are made. */
    size_t dir = job->nlinked_dirs;
    for (size_t i = 0; i < job->nlinked_dirs; i++)
      if (strlen(job->linked_dirs[i].rel) == parent_len && strncmp(job->linked_dirs[i].rel, w->path, parent_len) == 0) {
        dir = i;
        break;
      }
    char *path = strdup(w->path), *target = strdup(first->path), *rel = NULL;
    if (dir == job->nlinked_dirs) rel = strndup(w->path, parent_len);
    if (!path || !target || (dir == job->nlinked_dirs && !rel) ||
        reserve((void **)&job->deferred, &job->deferred_cap, job->ndeferred, sizeof *job->deferred) != 0 ||
        (dir == job->nlinked_dirs &&
         reserve((void **)&job->linked_dirs, &job->linked_dirs_cap, job->nlinked_dirs, sizeof *job->linked_dirs) != 0)) {
      free(path);
      free(target);
      free(rel);
      rc = -1;
    } else {
      if (dir == job->nlinked_dirs) {
        job->linked_dirs[dir].rel = rel;
        job->linked_dirs[dir].times[0] = parent_times[0];
        job->linked_dirs[dir].times[1] = parent_times[1];
        job->nlinked_dirs++;
      }
      job->deferred[job->ndeferred++] = (struct deferred_link){path, target, dir};
      rc = 1;
    }
  }
  pthread_mutex_unlock(&job->lock);
  if (rc < 0) return fail(w, ENOMEM, "malloc");
  return rc;
}

static int copy_file(struct worker *w, int src_dir, int dst_dir, const char *name, const struct stat *st) {
  int src = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (src < 0) return fail(w, errno, "openat");
  int dst = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (dst < 0) {
    close(src);
    return fail(w, errno, "openat");
  }
  int rc = 0;
  if (st->st_size > 0) rc = copy_data(w, src, dst, st->st_size);
  if (rc == 0) rc = copy_metadata(w, src, dst, st);
  close(src);
  if (close(dst) != 0 && rc == 0) rc = fail(w, errno, "close");
  return rc;
}

static int copy_symlink(struct worker *w, int src_dir, int dst_dir, const char *name, const struct stat *st) {
  char target[COPY_PATH_MAX];
  ssize_t n = readlinkat(src_dir, name, target, sizeof target - 1);
  if (n < 0) return fail(w, errno, "readlinkat");
  target[n] = 0;
  if (symlinkat(target, dst_dir, name) != 0) return fail(w, errno, "symlinkat");
  if (fchownat(dst_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) != 0) return fail(w, errno, "fchownat");
  struct timespec times[2] = {st->st_atim, st->st_mtim};
  if (utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) return fail(w, errno, "utimensat");
  return 0;
}

/* A device node or a fifo: made anew (never opened: opening a fifo would block), with its owner, mode, xattrs and times. */
static int copy_special(struct worker *w, int src_dir, int dst_dir, const char *name, const struct stat *st) {
  if (mknodat(dst_dir, name, st->st_mode & (S_IFMT | 0600), st->st_rdev) != 0) return fail(w, errno, "mknodat");
  if (fchownat(dst_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) != 0) return fail(w, errno, "fchownat");
  if (fchmodat(dst_dir, name, st->st_mode & 07777, 0) != 0) return fail(w, errno, "fchmodat");
  /* Through O_PATH descriptors: the xattr calls work on them without opening the node itself. */
  int src = openat(src_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  int dst = src < 0 ? -1 : openat(dst_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  int rc = 0;
  if (src >= 0 && dst >= 0) {
    char proc_src[64], proc_dst[64];
    snprintf(proc_src, sizeof proc_src, "/proc/self/fd/%d", src);
    snprintf(proc_dst, sizeof proc_dst, "/proc/self/fd/%d", dst);
    ssize_t len = listxattr(proc_src, w->xattr_names, XATTR_LIST_MAX_BYTES);
    for (char *x = w->xattr_names; len > 0 && x < w->xattr_names + len; x += strlen(x) + 1) {
      ssize_t v = getxattr(proc_src, x, w->xattr_value, XATTR_VALUE_MAX_BYTES);
      if (v >= 0 && setxattr(proc_dst, x, w->xattr_value, (size_t)v, 0) != 0 && errno != ENOTSUP && errno != EPERM) {
        rc = fail(w, errno, "setxattr");
        break;
      }
    }
  }
  if (src >= 0) close(src);
  if (dst >= 0) close(dst);
  if (rc != 0) return rc;
  struct timespec times[2] = {st->st_atim, st->st_mtim};
  if (utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) return fail(w, errno, "utimensat");
  return 0;
}

static void enqueue(struct copy_job *job, struct dir_task *task) {
  pthread_mutex_lock(&job->lock);
  task->next = job->queue;
  job->queue = task;
  pthread_cond_signal(&job->wake);
  pthread_mutex_unlock(&job->lock);
}

/* One of `task`'s parts is done (its listing, or a subdirectory); the last sets its metadata and completes its parent. */
static void complete(struct worker *w, struct dir_task *task) {
  struct copy_job *job = w->job;
  while (task) {
    pthread_mutex_lock(&job->lock);
    int left = --task->pending;
    pthread_mutex_unlock(&job->lock);
    if (left > 0) return;
    if (!failed(job)) {
      snprintf(w->path, sizeof w->path, "%s", task->rel);
      int src = open_beneath(job->src_root, task->rel, O_RDONLY);
      int dst = src < 0 ? -1 : open_beneath(job->dst_root, task->rel, O_RDONLY);
      if (src < 0 || dst < 0) fail(w, errno, "openat2");
      else copy_metadata(w, src, dst, &task->st);
      if (src >= 0) close(src);
      if (dst >= 0) close(dst);
    }
    struct dir_task *parent = task->parent;
    free(task->rel);
    free(task);
    if (!parent) {
      pthread_mutex_lock(&job->lock);
      job->finished = 1;
      pthread_cond_broadcast(&job->wake);
      pthread_mutex_unlock(&job->lock);
    }
    task = parent;
  }
}

/* Make every entry of `task`'s directory in the target; its subdirectories are queued. */
static void copy_listing(struct worker *w, struct dir_task *task) {
  struct copy_job *job = w->job;
  snprintf(w->path, sizeof w->path, "%s", task->rel);
  int src_dir = open_beneath(job->src_root, task->rel, O_RDONLY);
  if (src_dir < 0) {
    fail(w, errno, "openat2");
    return;
  }
  int dst_dir = open_beneath(job->dst_root, task->rel, O_RDONLY);
  if (dst_dir < 0) {
    fail(w, errno, "openat2");
    close(src_dir);
    return;
  }
  DIR *dir = fdopendir(src_dir);
  if (!dir) {
    fail(w, errno, "fdopendir");
    close(src_dir);
    close(dst_dir);
    return;
  }
  size_t base = strlen(task->rel);
  struct timespec dir_times[2] = {task->st.st_atim, task->st.st_mtim};
  struct dirent *e;
  while (!failed(job)) {
    errno = 0;
    if (!(e = readdir(dir))) {
      if (errno) fail(w, errno, "readdir");
      break;
    }
    const char *name = e->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    if (base + strlen(name) + 2 > sizeof w->path) {
      fail(w, ENAMETOOLONG, "openat");
      break;
    }
    snprintf(w->path, sizeof w->path, "%s%s%s", task->rel, base ? "/" : "", name);
    struct stat st;
    if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      fail(w, errno, "fstatat");
      break;
    }
    int rc = 0;
    switch (st.st_mode & S_IFMT) {
    case S_IFDIR: {
      /* 0700 until its content is in: nobody else walks into a half-made directory. */
      if (mkdirat(dst_dir, name, 0700) != 0) {
        rc = fail(w, errno, "mkdirat");
        break;
      }
      struct dir_task *child = calloc(1, sizeof *child);
      if (!child || !(child->rel = strdup(w->path))) {
        free(child);
        rc = fail(w, ENOMEM, "malloc");
        break;
      }
      child->parent = task;
      child->pending = 1;
      child->st = st;
      pthread_mutex_lock(&job->lock);
      task->pending++;
      pthread_mutex_unlock(&job->lock);
      enqueue(job, child);
      break;
    }
    case S_IFREG:
      /* A later name of a hard-linked file is linked at the end (claim_link 1): nothing to copy now. */
      if (st.st_nlink > 1 && (rc = claim_link(w, &st, base, dir_times)) != 0) {
        if (rc > 0) rc = 0;
        break;
      }
      rc = copy_file(w, src_dir, dst_dir, name, &st);
      break;
    case S_IFLNK:
      rc = copy_symlink(w, src_dir, dst_dir, name, &st);
      break;
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
      rc = copy_special(w, src_dir, dst_dir, name, &st);
      break;
    default:
      /* A socket: meaningless without the process that listened on it; Docker's copy skips it too. */
      w->skipped++;
      continue;
    }
    if (rc != 0) break;
    w->entries++;
  }
  closedir(dir);
  close(dst_dir);
}

static void *work_loop(void *arg) {
  struct worker *w = arg;
  struct copy_job *job = w->job;
  for (;;) {
    pthread_mutex_lock(&job->lock);
    while (!job->queue && !job->finished) pthread_cond_wait(&job->wake, &job->lock);
    struct dir_task *task = job->queue;
    if (task) job->queue = task->next;
    pthread_mutex_unlock(&job->lock);
    if (!task) return NULL; /* finished, nothing left to drain */
    if (!failed(job)) copy_listing(w, task);
    complete(w, task);
  }
}

/* The deferred names of hard-linked files, then the times of the directories they went in. */
static void make_links(struct worker *w) {
  struct copy_job *job = w->job;
  for (size_t i = 0; i < job->ndeferred && !job->err; i++) {
    struct deferred_link *l = &job->deferred[i];
    snprintf(w->path, sizeof w->path, "%s", l->path);
    const char *slash = strrchr(l->path, '/');
    const char *tslash = strrchr(l->target, '/');
    char dir_rel[COPY_PATH_MAX], tdir_rel[COPY_PATH_MAX];
    snprintf(dir_rel, sizeof dir_rel, "%.*s", slash ? (int)(slash - l->path) : 0, l->path);
    snprintf(tdir_rel, sizeof tdir_rel, "%.*s", tslash ? (int)(tslash - l->target) : 0, l->target);
    int dir = open_beneath(job->dst_root, dir_rel, O_PATH);
    int tdir = dir < 0 ? -1 : open_beneath(job->dst_root, tdir_rel, O_PATH);
    if (dir < 0 || tdir < 0) fail(w, errno, "openat2");
    else if (linkat(tdir, tslash ? tslash + 1 : l->target, dir, slash ? slash + 1 : l->path, 0) != 0) fail(w, errno, "linkat");
    if (dir >= 0) close(dir);
    if (tdir >= 0) close(tdir);
  }
  for (size_t i = 0; i < job->nlinked_dirs && !job->err; i++) {
    snprintf(w->path, sizeof w->path, "%s", job->linked_dirs[i].rel);
    int dir = open_beneath(job->dst_root, job->linked_dirs[i].rel, O_RDONLY);
    if (dir < 0) fail(w, errno, "openat2");
    else if (futimens(dir, job->linked_dirs[i].times) != 0) fail(w, errno, "futimens");
    if (dir >= 0) close(dir);
  }
}

static void copy_execute(napi_env env, void *data) {
  (void)env;
  struct copy_job *job = data;
  struct worker *workers = calloc((size_t)job->threads, sizeof *workers);
  struct dir_task *root = calloc(1, sizeof *root);
  if (!workers || !root || !(root->rel = strdup(""))) {
    free(workers);
    if (root) free(root->rel);
    free(root);
    job->err = ENOMEM;
    job->failed = "malloc";
    return;
  }
  for (int i = 0; i < job->threads; i++) workers[i].job = job;
  /* The root takes the source directory's owner, mode, xattrs and times, as any directory. */
  if (fstat(job->src_root, &root->st) != 0) {
    fail(&workers[0], errno, "fstat");
    free(root->rel);
    free(root);
    free(workers);
    return;
  }
  root->pending = 1;
  job->queue = root;
  pthread_t threads[COPY_THREADS_MAX];
  int started = 0;
  for (int i = 1; i < job->threads; i++) {
    if (pthread_create(&threads[i], NULL, work_loop, &workers[i]) != 0) break;
    started = i;
  }
  work_loop(&workers[0]); /* this pool thread works too */
  for (int i = 1; i <= started; i++) pthread_join(threads[i], NULL);
  /* After a failure, directories queued while the workers stopped: freed (with the parents they complete). */
  while (job->queue) {
    struct dir_task *task = job->queue;
    job->queue = task->next;
    complete(&workers[0], task);
  }
  if (!job->err) make_links(&workers[0]);
  for (int i = 0; i < job->threads; i++) {
    job->entries += workers[i].entries;
    job->skipped += workers[i].skipped;
  }
  free(workers);
}

static void free_copy_job(struct copy_job *job) {
  for (size_t i = 0; i < job->nlinks; i++) free(job->links[i].path);
  free(job->links);
  for (size_t i = 0; i < job->ndeferred; i++) {
    free(job->deferred[i].path);
    free(job->deferred[i].target);
  }
  free(job->deferred);
  for (size_t i = 0; i < job->nlinked_dirs; i++) free(job->linked_dirs[i].rel);
  free(job->linked_dirs);
  pthread_mutex_destroy(&job->lock);
  pthread_cond_destroy(&job->wake);
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
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t src, dst, threads;
  napi_valuetype t = napi_undefined;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &src) != napi_ok || napi_get_value_int32(env, argv[1], &dst) != napi_ok) {
    napi_throw_type_error(env, NULL, "copyTree: the descriptors must be numbers");
    return NULL;
  }
  if (napi_get_value_int32(env, argv[2], &threads) != napi_ok || threads < 1 || threads > COPY_THREADS_MAX) {
    napi_throw_range_error(env, NULL, "copyTree: threads must be 1 to 8");
    return NULL;
  }
  napi_typeof(env, argv[3], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "copyTree: callback must be a function");
    return NULL;
  }
  struct copy_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, "ENOMEM", "copyTree: out of memory");
    return NULL;
  }
  pthread_mutex_init(&job->lock, NULL);
  pthread_cond_init(&job->wake, NULL);
  job->src_root = src;
  job->dst_root = dst;
  job->threads = threads;
  napi_value name;
  napi_create_string_utf8(env, "berth:copyTree", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[3], 1, &job->callback);
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
