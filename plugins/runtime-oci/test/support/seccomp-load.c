/*
 * The tests' and bench/seccomp-load.js's seccomp loader: loads a BPF program (a file of
 * struct sock_filter) with seccomp(SECCOMP_SET_MODE_FILTER) under no_new_privs.
 *   seccomp-load FILE call NR [ARG]...  load it, make syscall NR, print "ok <ret>" or "errno <n>"
 *   seccomp-load FILE time N            load it in N forked children, print "median_us <us>"
 *                                       (the seccomp() call alone); exit 1 if any load failed
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: seccomp-load FILE call NR [ARG]... | seccomp-load FILE time N\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
    return 2;
  }
  struct sock_filter *filter = malloc(st.st_size ? st.st_size : 1);
  if (read(fd, filter, st.st_size) != st.st_size) {
    fprintf(stderr, "%s: short read\n", argv[1]);
    return 2;
  }
  struct sock_fprog prog = {.len = st.st_size / 8, .filter = filter};
  if (!strcmp(argv[2], "call")) {
    long a[6] = {0};
    for (int i = 0; i < 6 && 4 + i < argc; i++) a[i] = (long)strtoull(argv[4 + i], NULL, 0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
      fprintf(stderr, "load: %s\n", strerror(errno));
      return 2;
    }
    long r = syscall(strtol(argv[3], NULL, 0), a[0], a[1], a[2], a[3], a[4], a[5]);
    if (r < 0) printf("errno %d\n", errno);
    else printf("ok %ld\n", r);
    return 0;
  }
  /* Each child writes its seccomp() result and time into shared memory: the filter it
   * loaded may refuse or kill any system call after that, its exit included. */
  int n = atoi(argv[3]);
  if (n < 1) n = 1;
  long *times = calloc(n, sizeof *times);
  long *shared = mmap(NULL, 2 * sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return 2;
  for (int i = 0; i < n; i++) {
    shared[0] = -1;
    shared[1] = 0;
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      long t0 = now_ns();
      long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
      shared[1] = now_ns() - t0;
      shared[0] = r < 0 ? errno : 0;
      _exit(0);
    }
    waitpid(pid, NULL, 0);
    if (shared[0] != 0) {
      fprintf(stderr, "the kernel refused the program: %s\n", shared[0] > 0 ? strerror((int)shared[0]) : "no result");
      return 1;
    }
    times[i] = shared[1];
  }
  qsort(times, n, sizeof *times, cmp);
  printf("median_us %ld\n", times[n / 2] / 1000);
  return 0;
}
