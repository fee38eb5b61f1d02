import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { BundleSpec } from './bundle-spec.js';

/** True on a pure cgroup v2 host (the unified hierarchy at /sys/fs/cgroup). */
export function isCgroupV2(): boolean {
  return existsSync('/sys/fs/cgroup/cgroup.controllers');
}

/** The bundle's `linux.cgroupsPath` in cgroupfs form (`/berth/<id>`; empty: `/<id>`); undefined for a systemd-style one. */
function cgroupfsPath(spec: BundleSpec | undefined, id: string): string | undefined {
  if (!spec) return undefined;
  const p = spec.linux?.cgroupsPath || `/${id}`;
  return p.includes(':') ? undefined : path.posix.join('/', p);
}

/** A container's v1 devices cgroup directory (undefined on a v2 host or for a systemd-style cgroups path). */
export function devicesCgroupDir(spec: BundleSpec | undefined, id: string): string | undefined {
  const rel = cgroupfsPath(spec, id);
  if (!rel || isCgroupV2()) return undefined;
  return path.posix.join('/sys/fs/cgroup/devices', rel);
}

/**
 * The files whose `oom_kill N` counter tells that the kernel OOM-killed a process of
 * the container, from the bundle's `linux.cgroupsPath` as runc's cgroupfs driver reads
 * it (`/berth/<id>`; empty means `/<id>`). v1: memory.oom_control; v2: memory.events.
 * A systemd-style path (`slice:prefix:name`) gives none: oomKilled then stays false.
 */
export function oomFiles(spec: BundleSpec | undefined, id: string): string[] {
  const rel = cgroupfsPath(spec, id);
  if (!rel) return [];
  if (isCgroupV2()) return [path.posix.join('/sys/fs/cgroup', rel, 'memory.events')];
  return [path.posix.join('/sys/fs/cgroup/memory', rel, 'memory.oom_control')];
}
