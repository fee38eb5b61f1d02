import { type BigIntStats, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { SnapshotUsage } from '../contracts/storage.js';

/**
 * What the tree at `dir` adds over the tree at `base`, for a driver whose snapshots are
 * whole trees (vfs's copies, btrfs's snapshots), by the contract's exact usage rule: an entry counts when `base` has nothing at its path or something different
 * there (type, mode, owner, size, device or mtime; a directory counts too when its
 * mtime changed, as `docker diff` reports it changed). Each counted entry is an inode,
 * and a counted non-directory adds its apparent size; hard links count once; the root
 * itself is not counted. Deletions add nothing. Without `base`, everything counts.
 *
 * This gives the same figures as an overlay upper layer holding the same changes
 * (where a changed directory is a copied-up directory).
 */
export async function changedUsage(dir: string, base: string | undefined): Promise<SnapshotUsage> {
  const seen = new Set<bigint>();
  let inodes = 0;
  let bytes = 0;
  const pending = [''];
  for (let rel = pending.pop(); rel !== undefined; rel = pending.pop()) {
    const names = await fs.readdir(path.join(dir, rel));
    await Promise.all(
      names.map(async (name) => {
        const entry = path.join(rel, name);
        const st = await fs.lstat(path.join(dir, entry), { bigint: true });
        if (st.isDirectory()) pending.push(entry);
        // Marked before the next await, so two links to one inode in a directory count once.
        if (seen.has(st.ino)) return;
        seen.add(st.ino);
        const before = base === undefined ? undefined : await fs.lstat(path.join(base, entry), { bigint: true }).catch(() => undefined);
        if (before && same(before, st)) return;
        inodes++;
        if (!st.isDirectory()) bytes += Number(st.size);
      }),
    );
  }
  return { bytes, inodes };
}

function same(a: BigIntStats, b: BigIntStats): boolean {
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.size === b.size && a.rdev === b.rdev && a.mtimeNs === b.mtimeNs;
}
