import { randomBytes } from 'node:crypto';
import { promises as fs, realpathSync, renameSync } from 'node:fs';
import * as path from 'node:path';
import { Conflict } from '../errors.js';
import type { Logger } from '../logger.js';
import { readMountInfo } from './mountinfo.js';

/** The name prefix of a directory renamed out of the way by BackgroundRemoval. */
export const REMOVING_PREFIX = '.removing-';

/**
 * Removes directories the way containerd's snapshotters do: rename the directory out of
 * the way (one syscall: from then on it is gone for every reader of its path), then
 * delete the renamed tree in the background. A container's writable layer or its log can
 * be gigabytes; the caller waits for a rename, not for the delete.
 *
 * Lifecycle: `remove(dir)` as often as needed; `drain()` before the owner closes, so no
 * deletion outlives it. A crash leaves `<parent>/.removing-*` directories: the owner
 * deletes them when it opens (`isLeftover` tells them apart from its own entries).
 * Deletion errors are logged, never thrown: the path is already free.
 */
export class BackgroundRemoval {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly log?: Logger) {}

  /**
   * Rename `dir` to `<parent>/.removing-<name>-<random>` and start deleting it. Returns
   * once the rename is done; a `dir` that does not exist is nothing to do.
   */
  remove(dir: string): void {
    // A recursive delete would go through a mount and delete what it shows (an image
    // layer, a host directory): refuse while anything is mounted at or below `dir`.
    const mounted = mountPointsUnder(dir);
    if (mounted.length > 0) throw new Conflict(`cannot remove ${dir}: ${mounted[0]} is still mounted`);
    const trash = path.join(path.dirname(dir), `${REMOVING_PREFIX}${path.basename(dir)}-${randomBytes(4).toString('hex')}`);
    try {
      renameSync(dir, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.deleteLater(trash);
  }

  /** Start deleting a leftover `.removing-*` directory (found when the owner opens). */
  deleteLater(dir: string): void {
    const mounted = mountPointsUnder(dir);
    if (mounted.length > 0) {
      this.log?.error('not deleting a removed directory: something is mounted in it', { dir, mountPoint: mounted[0] });
      return;
    }
    const done: Promise<void> = fs
      .rm(dir, { recursive: true, force: true })
      .catch((err: unknown) => this.log?.warn('cannot delete a removed directory', { dir, error: String(err) }))
      .finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  /** Resolves once every deletion started so far has finished. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Whether a directory entry is one of ours, left by a crash before its deletion ended. */
  static isLeftover(name: string): boolean {
    return name.startsWith(REMOVING_PREFIX);
  }
}

/** Mount points of this mount namespace at or below `dir` (none when `dir` does not exist). */
function mountPointsUnder(dir: string): string[] {
  let root: string;
  try {
    root = realpathSync(dir);
  } catch {
    return [];
  }
  const prefix = root === '/' ? '/' : `${root}/`;
  return readMountInfo()
    .map((m) => m.mountPoint)
    .filter((point) => point === root || point.startsWith(prefix));
}
