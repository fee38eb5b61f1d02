import { mkdirSync, rmdirSync } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '../errors.js';
import { type MountInfoEntry, trackingHierarchies } from './mountinfo.js';

/**
 * The directories of the cgroup `relPath` (relative to each hierarchy's root:
 * `berth/shims`) in each tracking hierarchy of `mounts` (trackingHierarchies): where
 * processes that outlive berthd (shims, mount helpers) move. None for an empty path.
 * `what` names the cgroup in the error of a path that would leave the hierarchy.
 */
export function outlivingCgroupDirs(what: string, relPath: string, mounts: MountInfoEntry[]): string[] {
  const rel = relPath.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!rel) return [];
  if (rel.split('/').some((part) => part === '..' || part === '.')) {
    throw new InvalidArgument(`${what} "${relPath}" must be a path inside the cgroup hierarchy, without "." or ".."`);
  }
  return trackingHierarchies(mounts).map((root) => path.join(root, rel));
}

/**
 * Make each of `dirs`; returns those made (or there already). One that cannot be made (a
 * read-only cgroupfs) is left out and told to `cannot`: its processes then stay where
 * they start.
 */
export function makeOutlivingCgroup(dirs: readonly string[], cannot: (dir: string, err: Error) => void): string[] {
  const made: string[] = [];
  for (const dir of dirs) {
    try {
      mkdirSync(dir, { recursive: true });
      made.push(dir);
    } catch (err) {
      cannot(dir, err as Error);
    }
  }
  return made;
}

/** How `removeOutlivingCgroup` waits for what is leaving. */
export interface OutlivingCgroupRemoval {
  /** How long, from the call, a busy directory is tried again. */
  waitMs: number;
  /** The pause between two tries. */
  pollMs: number;
  /** Whether what keeps busy directory `dir` is leaving (worth waiting for); without, any busy directory is waited for. */
  leaving?(dir: string): boolean;
}

/**
 * Remove the cgroup directories `dirs`. One still holding a process (EBUSY) stays, as it
 * must; but one whose processes are on their way out (`leaving`: a shim whose exit is
 * recorded, the last child of a helper that died) is tried again every `pollMs` for up
 * to `waitMs`: without the wait a daemon stopped just after they finished left its
 * cgroup behind. A directory already gone is fine.
 */
export async function removeOutlivingCgroup(dirs: readonly string[], removal: OutlivingCgroupRemoval): Promise<void> {
  const until = Date.now() + removal.waitMs;
  for (const dir of dirs) {
    for (;;) {
      try {
        rmdirSync(dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EBUSY' && Date.now() < until && (removal.leaving?.(dir) ?? true)) {
          await new Promise((resolve) => setTimeout(resolve, removal.pollMs));
          continue;
        }
        // Gone already, or a process that outlives this daemon still lives there.
      }
      break;
    }
  }
}
