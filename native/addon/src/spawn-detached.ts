import { binding } from './binding.js';

/** What `spawnDetached` is asked for. */
export interface SpawnDetachedOptions {
  /**
   * Give the child one end of a UNIX socket pair as fd 3 and return the other: read its
   * ready line from it, and, for a program that keeps using it (berth-shim's direct exec),
   * talk to it on it afterwards.
   */
  readyFd?: boolean;
}

/** A program started by `spawnDetached`; its first process has already exited and been reaped. */
export interface SpawnedDetached {
  /** The pid of the first process (gone by now; its detached child carries on). */
  pid: number;
  /** That first process's exit status: its exit code, or 128 + the signal that ended it. */
  status: number;
  /** This side of the ready socket pair (CLOEXEC, blocking) when `readyFd` was asked; the caller closes it. */
  readyFd?: number;
}

/**
 * Starts a program that detaches itself, without fork from this (large) process:
 * posix_spawn, which glibc runs with CLONE_VM|CLONE_VFORK, so the cost does not grow
 * with the heap, where child_process.spawn forks and copies the page tables (~6 ms
 * at berthd's size). The child gets /dev/null on stdin/stdout/stderr, the ready pipe
 * on fd 3 if asked (a socket) and no other descriptor, default signal dispositions (Node ignores
 * SIGPIPE) and an empty signal mask. `file` is a path (no PATH lookup); the
 * environment is this process's.
 *
 * Contract: the program must fork at once and let its first process exit (berth-shim
 * `--detach`). That first process is waited for synchronously, so it never lingers as
 * a zombie (libuv reaps only children it spawned), and the long-lived child is
 * re-parented to init. A program that does not exit at once blocks the caller until it does.
 *
 * Throws an fs-style error (`ENOENT: no such file or directory, posix_spawn '/x'`)
 * when the program cannot be run.
 */
export function spawnDetached(file: string, args: string[], options: SpawnDetachedOptions = {}): SpawnedDetached {
  const out = binding.spawnDetached(file, args, options.readyFd === true);
  return out.readyFd === undefined ? { pid: out.pid, status: out.status } : out;
}

/** A program started by `spawnDetachedAsync`: its first process may still be running. */
export interface SpawningDetached {
  /** The pid of the first process. */
  pid: number;
  /** This side of the ready socket pair, as in SpawnedDetached. */
  readyFd?: number;
  /** The first process's exit status, once the event loop has seen it exit and reaped it. */
  exited: Promise<number>;
}

/**
 * As spawnDetached, but the caller's thread waits for nothing: the posix_spawn runs on a
 * threadpool thread (its vfork suspends that thread until the child has exec'd, 1-7 ms
 * per berth-shim measured in berthd on a busy machine), and the first process (its fork,
 * its exit) is reaped when the event loop sees it exit (a pidfd), which `exited` tells.
 * Where no pidfd can be had (a kernel before 5.3), it is reaped as soon as the spawn is
 * done. Either way it is never left a zombie. Rejects as spawnDetached throws.
 */
export function spawnDetachedAsync(file: string, args: string[], options: SpawnDetachedOptions = {}): Promise<SpawningDetached> {
  let resolveExit!: (status: number) => void;
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  return new Promise((resolve, reject) => {
    binding.spawnDetachedAsync(
      file,
      args,
      options.readyFd === true,
      (err, out) => {
        if (err || !out) return reject(err ?? new Error('spawnDetachedAsync: no result'));
        if (out.status >= 0) resolveExit(out.status);
        resolve(out.readyFd === undefined ? { pid: out.pid, exited } : { pid: out.pid, readyFd: out.readyFd, exited });
      },
      resolveExit,
    );
  });
}
