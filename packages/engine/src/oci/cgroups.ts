import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';

/**
 * Facts about the host's cgroups that change the spec, and the cgroup path berth
 * gives a container. Paths are cgroupfs style (`/<parent>/<id>`), which runc
 * resolves under each v1 controller's mount or under the v2 root.
 */

export type CgroupVersion = 1 | 2;

/** The parent cgroup of every berth container unless the request names another. */
export const DEFAULT_CGROUP_PARENT = 'berth';

/** v2 when the unified hierarchy is mounted at `root` itself (it has cgroup.controllers); v1 (or hybrid) otherwise. */
export function detectCgroupVersion(root = '/sys/fs/cgroup'): CgroupVersion {
  return existsSync(path.join(root, 'cgroup.controllers')) ? 2 : 1;
}

/**
 * Whether memory+swap can be limited. v1: the memory controller has
 * memory.memsw.limit_in_bytes (swap accounting is on). v2: this process's own
 * cgroup has memory.swap.max (the root cgroup never shows it, so look at ours).
 */
export function detectSwapAccounting(version: CgroupVersion, root = '/sys/fs/cgroup', selfCgroupFile = '/proc/self/cgroup'): boolean {
  if (version === 1) return existsSync(path.join(root, 'memory', 'memory.memsw.limit_in_bytes'));
  let own = '/';
  try {
    const line = readFileSync(selfCgroupFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (line) own = line.slice(3);
  } catch {
    // no /proc: fall back to the root, which answers "no"
  }
  return existsSync(path.join(root, own, 'memory.swap.max'));
}

/**
 * `/<parent>/<id>`. The parent may be nested (`a/b`) and is taken relative to the
 * cgroup root whether or not it starts with `/`; `.` and `..` are refused so a
 * request cannot place a container outside its parent.
 */
export function cgroupsPathFor(id: string, parent: string = DEFAULT_CGROUP_PARENT): string {
  const parts = parent.split('/').filter((p) => p !== '');
  for (const part of [...parts, id]) {
    if (part === '.' || part === '..' || part.includes('\0')) {
      throw new InvalidArgument(`invalid cgroup parent ${JSON.stringify(parent)}: "." and ".." are not allowed`);
    }
  }
  if (id === '' || id.includes('/')) throw new InvalidArgument(`invalid container id for a cgroup: ${JSON.stringify(id)}`);
  return `/${[...parts, id].join('/')}`;
}
