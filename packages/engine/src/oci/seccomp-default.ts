import type { OciSeccomp, OciSeccompArg, OciSeccompSyscall, SeccompArch } from './spec-types.js';

/**
 * berth's default seccomp profile: an allowlist. A syscall not allowed here fails
 * with EPERM (the default action is SCMP_ACT_ERRNO with errno 1):
 *
 * - EPERM rather than ENOSYS, because a program that gets ENOSYS assumes the kernel
 *   lacks the call and may silently take a weaker path, while EPERM says "refused".
 *   The exception is `clone3` without CAP_SYS_ADMIN, which answers ENOSYS on
 *   purpose: its flags live in memory a filter cannot inspect, and glibc falls back
 *   to `clone` (whose flags the filter does check) only on ENOSYS.
 * - Syscalls the runtime's libseccomp does not know are skipped by runc, and runc
 *   answers ENOSYS for syscall numbers newer than any in the filter.
 *
 * The profile is generated for the container's capability set: calls that the
 * kernel would gate by a capability anyway (mount needs CAP_SYS_ADMIN) are allowed
 * only when the container holds that capability, so adding the capability is all a
 * user needs, and a container without it meets two walls instead of one.
 *
 * Never allowed, whatever the capabilities: the kernel keyring (keyctl, add_key,
 * request_key — not namespaced), kexec, userfaultfd unless CAP_SYS_PTRACE,
 * io_uring (a large kernel surface with a history of escapes, and it bypasses
 * this filter for the operations it performs), and obsolete calls (uselib, ustat,
 * sysfs, _sysctl, nfsservctl, vm86, swapon/swapoff).
 *
 * ptrace, process_vm_readv and process_vm_writev are allowed without
 * CAP_SYS_PTRACE on kernels 4.8 and later, as Docker does: before 4.8 a traced
 * process could escape seccomp, from 4.8 on the filter is re-checked after the
 * tracer changes a syscall. The kernel still applies its own ptrace access checks
 * (same uid, Yama), and the pid namespace limits what can be traced to the container.
 */

export interface DefaultSeccompOptions {
  /** The container's capabilities (`CAP_*`); decides the conditional rules. */
  capabilities: readonly string[];
  /** The host's architecture as `uname -m` prints it (`x86_64`, `aarch64`). */
  arch: string;
  /** The host kernel's [major, minor]; only below 4.8 does it change the profile. */
  kernelVersion?: readonly [number, number];
}

/** errno the default action returns: EPERM. */
export const SECCOMP_DENY_ERRNO = 1;
const ENOSYS = 38;

/** The namespace flags of clone(2): NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

/** personality(2) values a container may set: plain Linux, 32-bit, uname26, both, and the query 0xffffffff. */
export const ALLOWED_PERSONALITIES: readonly number[] = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/**
 * One group of syscalls with one reason. `needs` lists capabilities of which the
 * container must hold at least one; `arches` limits the group to some hosts.
 */
interface SyscallGroup {
  why: string;
  names: string[];
  needs?: string[];
  arches?: string[];
}

// biome-ignore format: syscall lists packed by theme
const always: SyscallGroup[] = [
  {
    why: 'files: open, read, write, stat, directories, links',
    names: [
      'open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'read', 'readv', 'pread64', 'preadv', 'preadv2',
      'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'lseek', 'stat', 'fstat', 'lstat', 'newfstatat', 'statx',
      'statfs', 'fstatfs', 'access', 'faccessat', 'faccessat2', 'getdents', 'getdents64', 'getcwd', 'chdir', 'fchdir',
      'mkdir', 'mkdirat', 'rmdir', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'unlink', 'unlinkat',
      'symlink', 'symlinkat', 'readlink', 'readlinkat', 'truncate', 'ftruncate', 'fallocate', 'umask',
      'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'fchown', 'fchownat', 'lchown', 'utime', 'utimes',
      'utimensat', 'futimesat', 'mknod', 'mknodat', 'fcntl', 'flock', 'dup', 'dup2', 'dup3', 'ioctl',
      'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'fadvise64', 'readahead',
      'sendfile', 'splice', 'tee', 'vmsplice', 'copy_file_range', 'pipe', 'pipe2', 'name_to_handle_at',
      'cachestat', 'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch', 'fanotify_mark',
    ],
  },
  {
    why: 'extended attributes',
    names: [
      'getxattr', 'lgetxattr', 'fgetxattr', 'setxattr', 'lsetxattr', 'fsetxattr', 'listxattr', 'llistxattr',
      'flistxattr', 'removexattr', 'lremovexattr', 'fremovexattr', 'getxattrat', 'setxattrat', 'listxattrat',
      'removexattrat',
    ],
  },
  {
    why: 'asynchronous I/O (the classic aio interface, not io_uring)',
    names: ['io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents', 'io_pgetevents'],
  },
  {
    why: 'waiting on many descriptors and event sources',
    names: [
      'select', '_newselect', 'pselect6', 'poll', 'ppoll', 'epoll_create', 'epoll_create1', 'epoll_ctl',
      'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old', 'epoll_pwait', 'epoll_pwait2', 'eventfd', 'eventfd2',
      'signalfd', 'signalfd4', 'timerfd_create', 'timerfd_settime', 'timerfd_gettime',
    ],
  },
  {
    why: 'memory',
    names: [
      'brk', 'mmap', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync', 'mlock', 'mlock2', 'mlockall',
      'munlock', 'munlockall', 'remap_file_pages', 'membarrier', 'memfd_create', 'memfd_secret', 'pkey_alloc',
      'pkey_free', 'pkey_mprotect', 'mseal', 'map_shadow_stack',
    ],
  },
  {
    why: 'processes and threads (clone is filtered separately)',
    names: [
      'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'waitpid', 'set_tid_address',
      'set_robust_list', 'get_robust_list', 'futex', 'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue',
      'rseq', 'restart_syscall', 'getpid', 'getppid', 'gettid', 'getpgid', 'setpgid', 'getpgrp', 'getsid', 'setsid',
      'prctl', 'getrusage', 'getrlimit', 'setrlimit', 'prlimit64', 'times', 'sysinfo', 'uname', 'getcpu',
      'getrandom', 'capget', 'capset', 'seccomp', 'pidfd_open', 'pidfd_send_signal', 'process_mrelease',
      'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self', 'lsm_get_self_attr',
      'lsm_set_self_attr', 'lsm_list_modules', 'ioprio_get', 'ioprio_set', 'uretprobe',
    ],
  },
  {
    why: 'user and group identity (the kernel checks CAP_SETUID/CAP_SETGID itself)',
    names: [
      'getuid', 'geteuid', 'getgid', 'getegid', 'getresuid', 'getresgid', 'getgroups', 'setuid', 'setgid',
      'setreuid', 'setregid', 'setresuid', 'setresgid', 'setfsuid', 'setfsgid', 'setgroups',
    ],
  },
  {
    why: 'signals',
    names: [
      'kill', 'tkill', 'tgkill', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending',
      'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigaltstack', 'pause',
      'alarm', 'getitimer', 'setitimer',
    ],
  },
  {
    why: 'clocks and timers, reading only (setting the clock needs CAP_SYS_TIME below)',
    names: [
      'time', 'gettimeofday', 'clock_gettime', 'clock_getres', 'clock_nanosleep', 'nanosleep', 'adjtimex',
      'clock_adjtime', 'timer_create', 'timer_settime', 'timer_gettime', 'timer_getoverrun', 'timer_delete',
    ],
  },
  {
    why: 'scheduling (raising priority beyond limits needs CAP_SYS_NICE, which the kernel checks)',
    names: [
      'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getparam', 'sched_setparam',
      'sched_getscheduler', 'sched_setscheduler', 'sched_getattr', 'sched_setattr', 'sched_get_priority_max',
      'sched_get_priority_min', 'sched_rr_get_interval', 'getpriority', 'setpriority',
    ],
  },
  {
    why: 'sockets',
    names: [
      'socket', 'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'shutdown', 'getsockname',
      'getpeername', 'getsockopt', 'setsockopt', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'recv', 'recvfrom',
      'recvmsg', 'recvmmsg',
    ],
  },
  {
    why: 'System V and POSIX IPC (private to the container\'s ipc namespace)',
    names: [
      'ipc', 'shmget', 'shmat', 'shmdt', 'shmctl', 'semget', 'semop', 'semtimedop', 'semctl', 'msgget', 'msgsnd',
      'msgrcv', 'msgctl', 'mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedreceive', 'mq_notify', 'mq_getsetattr',
    ],
  },
  {
    why: '32-bit variants, reached by x86 and arm programs on 64-bit hosts',
    names: [
      'chown32', 'fchown32', 'lchown32', 'fcntl64', 'fstat64', 'fstatat64', 'lstat64', 'stat64', 'statfs64',
      'fstatfs64', 'ftruncate64', 'truncate64', '_llseek', 'mmap2', 'sendfile64', 'fadvise64_64', 'getuid32',
      'geteuid32', 'getgid32', 'getegid32', 'getresuid32', 'getresgid32', 'getgroups32', 'setuid32', 'setgid32',
      'setreuid32', 'setregid32', 'setresuid32', 'setresgid32', 'setfsuid32', 'setfsgid32', 'setgroups32',
      'ugetrlimit', 'sigreturn', 'sigprocmask', 'socketcall', 'clock_gettime64', 'clock_getres_time64',
      'clock_nanosleep_time64', 'clock_adjtime64', 'timer_settime64', 'timer_gettime64', 'timerfd_settime64',
      'timerfd_gettime64', 'utimensat_time64', 'pselect6_time64', 'ppoll_time64', 'io_pgetevents_time64',
      'recvmmsg_time64', 'mq_timedsend_time64', 'mq_timedreceive_time64', 'semtimedop_time64',
      'rt_sigtimedwait_time64', 'futex_time64', 'sched_rr_get_interval_time64',
    ],
  },
  {
    why: 'x86 thread-local storage and segment descriptors',
    names: ['arch_prctl', 'modify_ldt', 'get_thread_area', 'set_thread_area'],
    arches: ['x86_64'],
  },
  {
    why: 'arm 32-bit helpers (cache flush, TLS, argument-order variants)',
    names: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
    arches: ['aarch64'],
  },
];

// biome-ignore format: syscall lists packed by theme
const withCapability: SyscallGroup[] = [
  {
    why: 'mounts, namespaces, hostnames, quotas: root of the container needs CAP_SYS_ADMIN for these',
    names: [
      'mount', 'umount', 'umount2', 'unshare', 'setns', 'pivot_root', 'sethostname', 'setdomainname', 'quotactl',
      'quotactl_fd', 'fanotify_init', 'lookup_dcookie', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount',
      'open_tree', 'mount_setattr', 'statmount', 'listmount', 'clone', 'clone3',
    ],
    needs: ['CAP_SYS_ADMIN'],
  },
  { why: 'BPF programs', names: ['bpf'], needs: ['CAP_SYS_ADMIN', 'CAP_BPF'] },
  { why: 'performance counters', names: ['perf_event_open'], needs: ['CAP_SYS_ADMIN', 'CAP_PERFMON'] },
  { why: 'the kernel log', names: ['syslog'], needs: ['CAP_SYS_ADMIN', 'CAP_SYSLOG'] },
  { why: 'reboot (halt the container\'s pid namespace)', names: ['reboot'], needs: ['CAP_SYS_BOOT'] },
  { why: 'kernel modules', names: ['init_module', 'finit_module', 'delete_module'], needs: ['CAP_SYS_MODULE'] },
  {
    why: 'setting the host clock',
    names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
    needs: ['CAP_SYS_TIME'],
  },
  { why: 'process accounting', names: ['acct'], needs: ['CAP_SYS_PACCT'] },
  { why: 'chroot', names: ['chroot'], needs: ['CAP_SYS_CHROOT'] },
  { why: 'file handles bypass directory permissions', names: ['open_by_handle_at'], needs: ['CAP_DAC_READ_SEARCH'] },
  {
    why: 'inspecting other processes beyond ptrace',
    names: ['kcmp', 'pidfd_getfd', 'process_madvise', 'userfaultfd'],
    needs: ['CAP_SYS_PTRACE'],
  },
  { why: 'raw port I/O', names: ['iopl', 'ioperm'], needs: ['CAP_SYS_RAWIO'], arches: ['x86_64'] },
  { why: 'hanging up the terminal', names: ['vhangup'], needs: ['CAP_SYS_TTY_CONFIG'] },
  {
    why: 'NUMA memory placement',
    names: ['mbind', 'set_mempolicy', 'get_mempolicy', 'set_mempolicy_home_node', 'migrate_pages', 'move_pages'],
    needs: ['CAP_SYS_NICE'],
  },
];

const tracing = ['ptrace', 'process_vm_readv', 'process_vm_writev'];

/**
 * The seccomp architectures of a host: the native one plus the compat ABI images use.
 * x86_64 lists i386 but not x32, where Docker's profile lists all three: x32 programs
 * are all but extinct, most distribution kernels build x32 out or leave it off
 * (`syscall.x32=n`), and every architecture in the filter costs the runtime's
 * libseccomp a pass over the whole allowlist at each container start (x32: ~2.5 ms of
 * runc's create here). A syscall made through an architecture not listed kills the
 * thread (libseccomp's bad-arch action): refused, never allowed.
 */
export function seccompArchitectures(arch: string): SeccompArch[] {
  switch (arch) {
    case 'x86_64':
    case 'x64':
      return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'];
    case 'aarch64':
    case 'arm64':
      return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
    default:
      return [];
  }
}

/** `uname -m` name of a Node `process.arch`, for hosts described by Node. */
export function unameArch(nodeArch: string = process.arch): string {
  return { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7l' }[nodeArch] ?? nodeArch;
}

/** berth's default profile for a container with these capabilities on this host. */
export function defaultSeccompProfile(opts: DefaultSeccompOptions): OciSeccomp {
  const caps = new Set(opts.capabilities);
  const arch = unameArch(opts.arch);
  const applies = (g: SyscallGroup) => (!g.arches || g.arches.includes(arch)) && (!g.needs || g.needs.some((c) => caps.has(c)));

  const allowed = new Set<string>();
  for (const group of [...always, ...withCapability]) {
    if (!applies(group)) continue;
    for (const n of group.names) allowed.add(n);
  }
  const [major, minor] = opts.kernelVersion ?? [99, 0];
  if (major > 4 || (major === 4 && minor >= 8) || caps.has('CAP_SYS_PTRACE')) {
    for (const n of tracing) allowed.add(n);
  }

  const syscalls: OciSeccompSyscall[] = [{ names: [...allowed].sort(), action: 'SCMP_ACT_ALLOW' }];
  syscalls.push(...ALLOWED_PERSONALITIES.map((value) => allowWhen('personality', [{ index: 0, value, op: 'SCMP_CMP_EQ' }])));
  if (!caps.has('CAP_SYS_ADMIN')) {
    // Threads and plain processes yes, new namespaces no: flags & mask must be 0.
    syscalls.push(allowWhen('clone', [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]));
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: SECCOMP_DENY_ERRNO,
    architectures: seccompArchitectures(arch),
    syscalls,
  };
}

function allowWhen(name: string, args: OciSeccompArg[]): OciSeccompSyscall {
  return { names: [name], action: 'SCMP_ACT_ALLOW', args };
}
