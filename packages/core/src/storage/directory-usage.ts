import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { SnapshotUsage } from '../contracts/storage.js';

/**
 * Bytes and inodes under `dir`, not counting `dir` itself: every entry is an inode,
 * and every non-directory adds its apparent size (as Docker's SizeRw does: directory
 * sizes are the filesystem's business). A file with several hard links counts once.
 * Symlinks are not followed. A missing `dir` counts as empty.
 *
 * The exact usage of a layered driver's snapshot, whose own directory (an upper layer)
 * holds exactly its changes (LayeredSnapshots.usage); a whole-tree snapshot counts its
 * changes against its parent instead (changedUsage).
 */
export async function directoryUsage(dir: string): Promise<SnapshotUsage> {
  const seen = new Set<number>();
  let bytes = 0;
  const pending = [dir];
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    let names: string[];
    try {
      names = await fs.readdir(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && current === dir) return { bytes: 0, inodes: 0 };
      throw err;
    }
    const stats = await Promise.all(names.map((n) => fs.lstat(path.join(current, n))));
    stats.forEach((st, i) => {
      if (st.isDirectory()) pending.push(path.join(current, names[i]!));
      if (seen.has(st.ino)) return;
      seen.add(st.ino);
      if (!st.isDirectory()) bytes += st.size;
    });
  }
  return { bytes, inodes: seen.size };
}
