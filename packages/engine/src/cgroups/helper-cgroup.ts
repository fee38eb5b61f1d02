import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isBerthError, type Logger, makeOutlivingCgroup, outlivingCgroupDirs, readMountInfo, removeOutlivingCgroup } from '@berth/core';

/**
 * The cgroup mount helpers move into: `<cgroup-parent>/mount-helpers` in each hierarchy a
 * service manager tracks processes by (every cgroup2 mount, v1's `name=systemd`), no
 * resource controller joined.
 *
 * Why: a helper must outlive berthd (it serves a running container's root filesystem), but
 * it starts in berthd's cgroup, and systemd stopping or restarting the service kills every
 * process of that cgroup (KillMode=control-group): the containers would lose their root
 * filesystems. The runtime moves its shims out for the same reason (runtime-oci's
 * ShimCgroup). A helper is moved as soon as it is spawned, so that what it starts is
 * mostly born in the new cgroup, and again with everything it started once it is ready
 * (what it forked while the first move waited for the kernel).
 *
 * Lifecycle: the directories are made with the first helper (a host that never runs one
 * never gets them); `close` removes them when empty (one still holding a running
 * container's helper stays, as that container's own cgroup does). A hierarchy where the
 * directory cannot be made or joined is logged and left out: the helper then stays where
 * it started.
 */
export class HelperCgroup {
  private dirs: string[] | undefined;

  constructor(
    private readonly cgroupParent: string | undefined,
    private readonly log: Logger,
  ) {}

  /** Move process `pid` into the helpers' cgroup (made on first use). */
  join(pid: number): void {
    for (const dir of this.open()) {
      try {
        writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
      } catch (err) {
        this.log.warn('cannot move a mount helper out of the daemon cgroup', { dir, pid, error: (err as Error).message });
      }
    }
  }

  /**
   * Move `pid` and every process it started (its descendants, through each thread's
   * `children`) into the helpers' cgroup: a child forked while `join` waited for the
   * kernel's migration (an RCU grace period on cgroup v1) was born in the old cgroup.
   */
  joinTree(pid: number): void {
    const seen = new Set<number>();
    const walk = (p: number) => {
      if (seen.has(p)) return;
      seen.add(p);
      this.join(p);
      let tasks: string[];
      try {
        tasks = readdirSync(`/proc/${p}/task`);
      } catch {
        return; // gone
      }
      for (const task of tasks) {
        try {
          for (const child of readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim().split(' ')) if (child) walk(Number(child));
        } catch {
          // The thread ended meanwhile.
        }
      }
    };
    walk(pid);
  }

  /**
   * Remove the directories where empty, also those an earlier engine made (its helpers
   * gone since); EBUSY (a helper still there) and absent are fine. `serving` is whether
   * any helper still serves a mount: when none does, what is left in the cgroup are the
   * last processes of helpers that ended (a FUSE helper's clean-up child checking its dead
   * mount), so the removal is tried again for up to `waitMs` while they leave; without
   * the wait an engine closed just after a helper died left the cgroup behind.
   */
  async close(serving: boolean, waitMs = 1000): Promise<void> {
    // One in use by a helper that outlives this engine stays.
    await removeOutlivingCgroup(this.dirs ?? this.paths(), { waitMs: serving ? 0 : waitMs, pollMs: 20 });
    this.dirs = undefined;
  }

  /** The directory in each tracking hierarchy (none without a usable cgroup parent). */
  private paths(): string[] {
    try {
      return outlivingCgroupDirs('cgroup parent', this.cgroupParent ?? '', readMountInfo()).map((dir) => path.join(dir, 'mount-helpers'));
    } catch (err) {
      if (isBerthError(err, 'InvalidArgument')) return []; // a parent outside the hierarchy: helpers stay where they start
      throw err;
    }
  }

  private open(): string[] {
    this.dirs ??= makeOutlivingCgroup(this.paths(), (dir, err) =>
      this.log.warn('cannot make the mount helpers cgroup; helpers stay in the daemon cgroup there', { dir, error: err.message }),
    );
    return this.dirs;
  }
}
