import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import * as path from 'node:path';

const cgroupRoot = '/sys/fs/cgroup';

/**
 * Remove the cgroup every container's cgroup lives under (`berth` by default), in
 * every v1 hierarchy and in v2, where it is empty. The runtime creates it with the
 * first container and removes only each container's own cgroup, so the daemon tidies
 * the parent when it stops. rmdir of a cgroup that still has children fails (EBUSY),
 * so running containers, which outlive the daemon, keep theirs.
 */
export function removeEmptyParentCgroups(parent: string): void {
  const rel = parent.replace(/^\/+/, '');
  if (!rel || rel.includes('..')) return;
  const candidates = existsSync(path.join(cgroupRoot, 'cgroup.controllers'))
    ? [path.join(cgroupRoot, rel)]
    : readdirSync(cgroupRoot).map((hierarchy) => path.join(cgroupRoot, hierarchy, rel));
  for (const dir of candidates) {
    try {
      rmdirSync(dir);
    } catch {
      // absent, or still in use by a running container: both are fine
    }
  }
}
