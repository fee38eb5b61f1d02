import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  type Logger,
  type MountInfoEntry,
  makeOutlivingCgroup,
  outlivingCgroupDirs,
  readMountInfo,
  removeOutlivingCgroup,
} from '@berth/core';
import { stateFiles } from './shim-state.js';

/**
 * The cgroup berth-shim processes move into: `<cgroup-parent>/shims` by default, in the
 * hierarchies a service manager tracks processes by: cgroup2 (the whole tree on a v2
 * host, /sys/fs/cgroup/unified on a hybrid one) and v1's `name=systemd`.
 *
 * Why: a shim must outlive berthd, but it starts in berthd's cgroup, and systemd
 * stopping a service kills every process in the service's cgroup (KillMode=control-group),
 * shims and with them the containers' stdio included. containerd's runc shim has its
 * `ShimCgroup` option and Podman moves conmon out of the service for the same reason.
 * No resource controllers are joined: a shim is idle and under 1 MiB.
 *
 * The shim joins while the runtime it has just started boots (native/shim/README.md):
 * the migration waits for the kernel's cgroup migration lock, an RCU grace period, and
 * the runtime's own migration of the container's init then finds that wait done.
 *
 * Lifecycle: `open` makes the directories at plugin init (a hierarchy where that fails,
 * e.g. a read-only cgroupfs, is left out with a warning: shims then stay where they
 * start); `close` removes them when the daemon stops, unless a shim still monitors a
 * process there (it waits a moment for shims that are finishing).
 */
export class ShimCgroup {
  private constructor(
    /** The cgroup directories, one per hierarchy. Empty: shims stay in the daemon's cgroup. */
    readonly dirs: readonly string[],
  ) {}

  /** No cgroup of their own: shims stay in the cgroup of the daemon that starts them. */
  static none(): ShimCgroup {
    return new ShimCgroup([]);
  }

  /**
   * Make `relPath` (relative to each hierarchy's root: `berth/shims`) in each tracking
   * hierarchy of `mounts`. `relPath` must stay inside the hierarchy.
   */
  static open(relPath: string, log: Logger, mounts: MountInfoEntry[] = readMountInfo()): ShimCgroup {
    const dirs = makeOutlivingCgroup(outlivingCgroupDirs('shim cgroup', relPath, mounts), (dir, err) =>
      log.warn('cannot make the shim cgroup; shims stay in the daemon cgroup there', { dir, error: err.message }),
    );
    return new ShimCgroup(dirs);
  }

  /**
   * Remove the directories. One that a shim still monitoring a process is in (EBUSY)
   * stays, as it must. One that holds only shims that are finishing (their exit recorded:
   * they linger for their clients, then leave, and init reaps them) is removed once they
   * are gone, waiting up to `waitMs`: without the wait a daemon stopped right after a
   * container or exec exited left the cgroup behind.
   */
  async close(waitMs = 1000): Promise<void> {
    // A directory a running container's (or exec's) shim lives in stays.
    await removeOutlivingCgroup(this.dirs, { waitMs, pollMs: 10, leaving: onlyFinishingShims });
  }
}

/**
 * Whether every process in the cgroup `dir` is a berth-shim whose exit is recorded
 * (`exit.json` in its `--state-dir`), or already gone: one that is not, or a process
 * that is not a shim, keeps the cgroup for good.
 */
function onlyFinishingShims(dir: string): boolean {
  let pids: string[];
  try {
    pids = readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return false;
  }
  return pids.every((pid) => {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      return true; // gone meanwhile
    }
    if (argv.length <= 1 && !argv[0]) return true; // a zombie, reaped soon
    if (!argv[0]!.endsWith('berth-shim')) return false;
    const i = argv.indexOf('--state-dir');
    return i > 0 && existsSync(path.join(argv[i + 1]!, stateFiles.exit));
  });
}
