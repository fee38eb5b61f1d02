import { type BigIntStats, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { SnapshotChange } from '../contracts/storage.js';

/**
 * The generic half of the differ: what the tree at `dir` changes over the tree at
 * `base` (everything added without one), by StorageDriver.changes' rules, from the two
 * trees alone. Entries are compared by type, mode, owner, size, device, mtime and link
 * target (a copy or a snapshot keeps them all, so an untouched entry compares equal); a
 * directory is modified when its own mode, owner or mtime changed or when anything
 * below it changed, and opaque (SnapshotChange.opaque) when every entry `base` held in
 * it is gone. `base` is a mounted view of the parent, or a driver's own copy of it.
 */
export async function treeChanges(dir: string, base: string | undefined): Promise<SnapshotChange[]> {
  const changes: SnapshotChange[] = [];
  /** Compares the directory `rel`; true when anything below it changed. */
  const compare = async (rel: string, added: boolean): Promise<{ changed: boolean; opaque: boolean }> => {
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
        if (below.changed || !before.isDirectory() || !sameDirectory(before, st)) {
          changes.push(below.opaque ? { path: entry, kind: 'modified', opaque: true } : { path: entry, kind: 'modified' });
          changed = true;
        }
      } else if (!(await sameEntry(before, st, path.join(base!, entry), path.join(dir, entry)))) {
        changes.push({ path: entry, kind: 'modified' });
        changed = true;
      }
    }
    let opaque = false;
    if (!added && base !== undefined) {
      const kept = new Set(names);
      const old = await fs.readdir(path.join(base, rel)).catch(() => [] as string[]);
      let deleted = 0;
      for (const name of old) {
        if (kept.has(name)) continue;
        changes.push({ path: path.posix.join(rel, name), kind: 'deleted' });
        deleted++;
        changed = true;
      }
      opaque = old.length > 0 && deleted === old.length;
    }
    return { changed, opaque };
  };
  await compare('/', base === undefined);
  return sortChanges(changes);
}

/** Changes sorted by path, byte order (the contract's order, and a layer tar's). */
export function sortChanges(changes: SnapshotChange[]): SnapshotChange[] {
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
