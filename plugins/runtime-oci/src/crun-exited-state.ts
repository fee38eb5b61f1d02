import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { isAlive, removeCgroup } from './runc-exited-state.js';

/**
 * What `crun delete` does for a container whose init has exited, without a crun process
 * (~5 ms, and its mount namespace, on the path of every `run --rm`): remove the
 * container's cgroup in every v1 hierarchy and crun's state directory `<root>/<id>`.
 *
 * crun's `status` file records the init's pid and start time and the cgroup path
 * (cgroupfs form, relative to each hierarchy). Only for an init that is gone and a
 * cgroupfs path; anything else (no status, a format this does not know, a systemd cgroup,
 * a cgroup that stays busy) returns false, and the caller runs `crun delete --force`.
 * `hierarchies` are the mount points of the v1 hierarchies crun creates the cgroup in
 * (every cgroup v1 mount: the controllers and `name=systemd`).
 */
export async function removeExitedCrunState(stateRoot: string, id: string, hierarchies: readonly string[]): Promise<boolean> {
  const dir = path.join(stateRoot, id);
  let status: CrunStatus;
  try {
    status = JSON.parse(readFileSync(path.join(dir, 'status'), 'utf8')) as CrunStatus;
  } catch {
    return false;
  }
  const cgroup = status['cgroup-path'];
  if (status['systemd-cgroup'] !== false || typeof cgroup !== 'string' || !cgroup.startsWith('/')) return false;
  if (cgroup.split('/').includes('..') || hierarchies.length === 0) return false;
  if (isAlive(status.pid, status['process-start-time'])) return false;
  const removed = await Promise.all(hierarchies.map((h) => removeCgroup(path.join(h, cgroup))));
  if (removed.includes(false)) return false;
  rmSync(dir, { recursive: true, force: true });
  return true;
}

/** The fields of crun's `status` file this reads. */
interface CrunStatus {
  pid?: number;
  'process-start-time'?: number;
  'cgroup-path'?: string;
  'systemd-cgroup'?: boolean;
}
