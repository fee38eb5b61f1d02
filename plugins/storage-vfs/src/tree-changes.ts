import { type BigIntStats, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { SnapshotChange } from '@berth/core';

/**
 * What the tree at `dir` changes over the tree at `base` (everything added without one),
 * with the StorageDriver.changes rules, for a driver that stores full copies: entries
 * are compared by type, mode, owner, size, device, mtime and link target (a copy keeps
 * them all, so an untouched entry compares equal); a directory is modified when its own
 * mode, owner or mtime changed or when anything below it changed.
 */
export async function treeChanges(dir: string, base: string | undefined): Promise<SnapshotChange[]> {
  const changes: SnapshotChange[] = [];
  /** Compares the directory `rel`; true when anything below it changed. */
  const compare = async (rel: string, added: boolean): Promise<boolean> => {
    const names = await fs.readdir(path.join(dir, rel));
    let changed = false;
    for (const name of names) {
      const entry = path.posix.join(rel, name);
      const st = await fs.lstat(path.join(dir, entry), { bigint: true });
      const before = added || base === undefined ? undefined : await lstatOrNothing(path.join(base, entry));
      if (!before) {
        changes.push({ path: entry, kind: 'added' });
        if (st.isDirectory()) await compare(entry, true);
        changed = true;
      } else if (st.isDirectory()) {
        const below = await compare(entry, !before.isDirectory());
        if (below || !before.isDirectory() || !sameDirectory(before, st)) {
          changes.push({ path: entry, kind: 'modified' });
          changed = true;
        }
      } else if (!(await sameEntry(before, st, path.join(base!, entry), path.join(dir, entry)))) {
        changes.push({ path: entry, kind: 'modified' });
        changed = true;
      }
    }
    if (!added && base !== undefined) {
      const kept = new Set(names);
      for (const name of await fs.readdir(path.join(base, rel)).catch(() => [])) {
        if (kept.has(name)) continue;
        changes.push({ path: path.posix.join(rel, name), kind: 'deleted' });
        changed = true;
      }
    }
    return changed;
  };
  await compare('/', base === undefined);
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function lstatOrNothing(file: string): Promise<BigIntStats | undefined> {
  return fs.lstat(file, { bigint: true }).catch(() => undefined);
}

function sameDirectory(a: BigIntStats, b: BigIntStats): boolean {
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtimeNs === b.mtimeNs;
}

async function sameEntry(a: BigIntStats, b: BigIntStats, fileA: string, fileB: string): Promise<boolean> {
  const same = a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.size === b.size && a.rdev === b.rdev && a.mtimeNs === b.mtimeNs;
  if (!same || !a.isSymbolicLink()) return same;
  return (await fs.readlink(fileA)) === (await fs.readlink(fileB));
}
