import { promises as fs, readFileSync, rmdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { processStartTime } from '@berth/core';

/**
 * What `runc delete` does for a container whose init has exited, without a runc process
 * (~7 ms of Go start-up on the path of every `run --rm`): remove the container's cgroups
 * and runc's state directory `<root>/<id>`.
 *
 * runc's `delete` of a stopped container is exactly that (libcontainer `destroy`: remove
 * the cgroup paths recorded in state.json, then the state directory; berth's bundles
 * have no poststop hooks, which it would also run). Only for an init that is gone: when
 * state.json names a process that is still alive (same pid and start time; a created
 * container whose init waits on its exec fifo), or anything is not as expected (no
 * state.json, a format this does not know, a cgroup that stays busy), it returns false
 * and the caller runs `runc delete --force`, which also kills.
 */
export async function removeExitedRuncState(stateRoot: string, id: string): Promise<boolean> {
  const dir = path.join(stateRoot, id);
  let state: RuncState;
  try {
    state = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as RuncState;
  } catch {
    return false;
  }
  const paths = state.cgroup_paths;
  if (state.id !== id || typeof paths !== 'object' || paths === null) return false;
  if (isAlive(state.init_process_pid, state.init_process_start)) return false;
  const cgroups = Object.values(paths);
  // Only what a cgroupfs at the usual place holds: anything else is runc's to judge.
  if (!cgroups.every((p) => typeof p === 'string' && p.startsWith('/sys/fs/cgroup/') && !p.includes('/../'))) return false;
  const removed = await Promise.all(cgroups.map((p) => removeCgroup(p as string)));
  if (removed.includes(false)) return false;
  // state.json and little else: synchronous, as the rmdirs above (~0.1 ms), rather than
  // queued behind whatever fills libuv's threadpool (a removal's background deletes).
  rmSync(dir, { recursive: true, force: true });
  return true;
}

/** The fields of runc's state.json (libcontainer `State`) this reads. */
interface RuncState {
  id?: string;
  init_process_pid?: number;
  init_process_start?: number;
  cgroup_paths?: Record<string, unknown> | null;
}

/** Whether `pid` is still the process runc started: running, or a zombie not yet reaped. */
export function isAlive(pid: number | undefined, start: number | undefined): boolean {
  return pid !== undefined && pid > 0 && processStartTime(pid) === start;
}

/**
 * rmdir a cgroup; gone already counts as done. EBUSY while the last processes of the
 * container finish exiting (the kernel kills the rest of a pid namespace when its init
 * dies): retried for up to ~200 ms, as runc does. The first attempt is synchronous: an
 * rmdir of an empty cgroup takes 20-50 µs, where the threadpool round trip of fs.rmdir
 * waited 2-3 ms behind other work on the path of `run --rm` (measured in berthd).
 */
export async function removeCgroup(dir: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (attempt === 0) rmdirSync(dir);
      else await fs.rmdir(dir);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY' || attempt >= 20) return false;
      // Child cgroups (a container that made its own, as systemd or a nested engine do)
      // never go by waiting: runc removes them recursively.
      if (await hasChildCgroups(dir)) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function hasChildCgroups(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir, { withFileTypes: true })).some((entry) => entry.isDirectory());
  } catch {
    return false;
  }
}
