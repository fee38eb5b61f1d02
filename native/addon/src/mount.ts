import { readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgument, type MountSpec, readMountInfo } from '@berth/core';
import { binding } from './binding.js';

/** mount(2) flags, read from the kernel headers at build time. */
export const MS = binding.MS as {
  readonly RDONLY: number;
  readonly NOSUID: number;
  readonly NODEV: number;
  readonly NOEXEC: number;
  readonly REMOUNT: number;
  readonly BIND: number;
  readonly REC: number;
  readonly PRIVATE: number;
  readonly SLAVE: number;
  readonly SHARED: number;
  readonly NOATIME: number;
  readonly RELATIME: number;
  readonly STRICTATIME: number;
  readonly NODIRATIME: number;
  readonly SYNCHRONOUS: number;
  readonly DIRSYNC: number;
  readonly UNBINDABLE: number;
};

/** umount2(2) flag: detach now, finish when no longer busy. */
export const MNT_DETACH: number = binding.MNT_DETACH;

/**
 * mount(2). Throws an Error with `code` (errno name), `syscall`, `path` (source) and
 * `dest` (target), e.g. `EINVAL: invalid argument, mount 'overlay' -> '/x'`.
 */
export function mount(source: string, target: string, fstype: string | null, flags: number, data?: string): void {
  binding.mount(source, target, fstype, flags, data ?? null);
}

/** umount2(2). */
export function umount(target: string, flags = 0): void {
  binding.umount(target, flags);
}

/** How each mount(8) option word changes the flags: set these bits, clear those. */
const flagOptions: Record<string, { set: number; clear: number }> = {
  ro: { set: MS.RDONLY, clear: 0 },
  rw: { set: 0, clear: MS.RDONLY },
  nosuid: { set: MS.NOSUID, clear: 0 },
  suid: { set: 0, clear: MS.NOSUID },
  nodev: { set: MS.NODEV, clear: 0 },
  dev: { set: 0, clear: MS.NODEV },
  noexec: { set: MS.NOEXEC, clear: 0 },
  exec: { set: 0, clear: MS.NOEXEC },
  noatime: { set: MS.NOATIME, clear: 0 },
  atime: { set: 0, clear: MS.NOATIME },
  nodiratime: { set: MS.NODIRATIME, clear: 0 },
  diratime: { set: 0, clear: MS.NODIRATIME },
  relatime: { set: MS.RELATIME, clear: 0 },
  norelatime: { set: 0, clear: MS.RELATIME },
  strictatime: { set: MS.STRICTATIME, clear: 0 },
  nostrictatime: { set: 0, clear: MS.STRICTATIME },
  sync: { set: MS.SYNCHRONOUS, clear: 0 },
  async: { set: 0, clear: MS.SYNCHRONOUS },
  dirsync: { set: MS.DIRSYNC, clear: 0 },
  remount: { set: MS.REMOUNT, clear: 0 },
  bind: { set: MS.BIND, clear: 0 },
  rbind: { set: MS.BIND | MS.REC, clear: 0 },
  defaults: { set: 0, clear: 0 },
};

/** Propagation changes are a separate mount(2) call each; the kernel refuses them mixed with other flags. */
const propagationOptions: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** A MountSpec turned into the calls mount(2) needs. */
export interface MountPlan {
  flags: number;
  data: string;
  propagation: number[];
  /** Flags for the MS_REMOUNT|MS_BIND call a bind mount needs to apply ro/nosuid/... (0: none). */
  bindRemountFlags: number;
}

/** Translate mount(8)-style options into flags, data and follow-up calls. Pure; exported for tests. */
export function planMount(spec: MountSpec): MountPlan {
  let flags = spec.type === 'bind' || spec.type === 'rbind' ? MS.BIND : 0;
  if (spec.type === 'rbind') flags |= MS.REC;
  const data: string[] = [];
  const propagation: number[] = [];
  for (const option of spec.options) {
    const f = flagOptions[option];
    if (f) {
      flags = (flags | f.set) & ~f.clear;
      continue;
    }
    const p = propagationOptions[option];
    if (p !== undefined) {
      propagation.push(p);
      continue;
    }
    data.push(option);
  }
  // A bind mount ignores every flag but MS_REC on the first call; the rest needs a remount.
  const perMount = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.NODIRATIME | MS.RELATIME | MS.STRICTATIME;
  const bindRemountFlags = flags & MS.BIND && !(flags & MS.REMOUNT) ? flags & perMount : 0;
  return { flags, data: data.join(','), propagation, bindRemountFlags };
}

/**
 * Perform one MountSpec on `target`. Option words that are flags (ro, nosuid, bind,
 * rbind, private...) become flags; the rest (lowerdir=..., size=...) join into data.
 * A bind mount with ro/nosuid/nodev/noexec is followed by the MS_REMOUNT|MS_BIND
 * call that applies them; if that fails the bind is undone.
 */
export function mountSpec(spec: MountSpec, target: string): void {
  if (spec.helper !== undefined) {
    throw new InvalidArgument(`a ${spec.type} mount on ${target} is performed by its helper ${spec.helper[0]}: use mountAllAsync`);
  }
  const plan = planMount(spec);
  const isBind = (plan.flags & MS.BIND) !== 0;
  const fstype = isBind || spec.type === 'none' || spec.type === '' ? null : spec.type;
  if (!createsMount(spec, plan) && !(plan.flags & MS.REMOUNT)) {
    // Only a propagation change (type "none", options ["rprivate"]): no mount to make.
    for (const p of plan.propagation) binding.mount('none', target, null, p, null);
    return;
  }
  binding.mount(spec.source || 'none', target, fstype, plan.flags, plan.data || null);
  try {
    if (plan.bindRemountFlags) {
      binding.mount('none', target, null, MS.REMOUNT | MS.BIND | plan.bindRemountFlags, null);
    }
    for (const p of plan.propagation) binding.mount('none', target, null, p, null);
  } catch (err) {
    if (!(plan.flags & MS.REMOUNT)) detachQuietly(target);
    throw err;
  }
}

/** Perform specs in order on one target; on failure undo what was mounted (most recent first) and rethrow. */
export function mountAll(specs: MountSpec[], target: string): void {
  let done = 0;
  try {
    for (const spec of specs) {
      mountSpec(spec, target);
      if (createsMount(spec, planMount(spec))) done++;
    }
  } catch (err) {
    for (; done > 0; done--) detachQuietly(target);
    throw err;
  }
}

/** False for a remount or a bare propagation change, which add no mount to undo. */
function createsMount(spec: MountSpec, plan: MountPlan): boolean {
  if (plan.flags & MS.REMOUNT) return false;
  if (plan.flags & MS.BIND) return true;
  return !(spec.type === 'none' || spec.type === '') || plan.data !== '' || plan.propagation.length === 0;
}

function detachQuietly(target: string): void {
  try {
    binding.umount(target, 0);
  } catch {
    try {
      binding.umount(target, MNT_DETACH);
    } catch {
      // Nothing more to undo: report the original error.
    }
  }
}

/**
 * The canonical path of `p` without touching what may be mounted on it: the parent's
 * realpath joined with the last name, unless that name is a symlink (then followed). A
 * lookup of a mount point's own inode would ask its filesystem, and a FUSE server that
 * hangs would hang the caller (a dead one answers ENOTCONN); readlink of a name that is
 * no symlink answers EINVAL from the cached inode, never asking the server.
 */
function canonical(p: string): string | null {
  const abs = resolve(p);
  if (abs === '/') return '/';
  let parent: string;
  try {
    parent = realpathSync(dirname(abs));
  } catch {
    return null;
  }
  const joined = join(parent, basename(abs));
  try {
    readlinkSync(joined);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EINVAL' || code === 'ENOTCONN' ? joined : null;
  }
  try {
    return realpathSync(joined);
  } catch {
    return null;
  }
}

/** True when `path` is the mount point of some mount in this namespace (bind mounts of a directory on itself included). */
export function isMountPoint(path: string): boolean {
  const real = canonical(path);
  if (real === null) return false;
  return readMountInfo().some((m) => m.mountPoint === real);
}

/**
 * Unmount `target` and every mount below it, deepest first, as /proc/self/mountinfo
 * lists them; a busy mount is detached lazily (MNT_DETACH). Stacked mounts on one
 * path are all removed. No error when nothing is mounted there or the path is gone.
 */
export function unmountAll(target: string): void {
  const root = canonical(target);
  if (root === null) return;
  const prefix = root === '/' ? '/' : `${root}/`;
  // Each pass removes what it sees; repeat for stacks and for mounts revealed underneath.
  for (let pass = 0; pass < 64; pass++) {
    const below = readMountInfo()
      .map((m, order) => ({ ...m, order }))
      .filter((m) => m.mountPoint === root || m.mountPoint.startsWith(prefix));
    if (below.length === 0) return;
    below.sort((a, b) => depth(b.mountPoint) - depth(a.mountPoint) || b.order - a.order);
    for (const m of below) {
      try {
        binding.umount(m.mountPoint, 0);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EINVAL' || code === 'ENOENT') continue; // already gone with a parent
        if (code !== 'EBUSY') throw err;
        binding.umount(m.mountPoint, MNT_DETACH);
      }
    }
  }
  throw new Error(`unmountAll: mounts under ${root} keep reappearing`);
}

function depth(p: string): number {
  let n = 0;
  for (const c of p) if (c === '/') n++;
  return n;
}
