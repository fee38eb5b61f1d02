import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Logger, readMountInfo, trackingHierarchies } from '@berth/core';

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
    const until = Date.now() + (serving ? 0 : waitMs);
    for (const dir of this.dirs ?? this.paths()) {
      for (;;) {
        try {
          rmdirSync(dir);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EBUSY' && Date.now() < until) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            continue;
          }
          // In use by a helper that outlives this engine, or gone.
        }
        break;
      }
    }
    this.dirs = undefined;
  }

  /** The directory in each tracking hierarchy (none without a usable cgroup parent). */
  private paths(): string[] {
    const rel = (this.cgroupParent ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
    if (!rel || rel.split('/').some((part) => part === '..' || part === '.')) return [];
    return trackingHierarchies(readMountInfo()).map((root) => path.join(root, rel, 'mount-helpers'));
  }

  private open(): string[] {
    if (this.dirs) return this.dirs;
    this.dirs = [];
    for (const dir of this.paths()) {
      try {
        mkdirSync(dir, { recursive: true });
        this.dirs.push(dir);
      } catch (err) {
        this.log.warn('cannot make the mount helpers cgroup; helpers stay in the daemon cgroup there', {
          dir,
          error: (err as Error).message,
        });
      }
    }
    return this.dirs;
  }
}
