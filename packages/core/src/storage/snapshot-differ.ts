import { randomBytes } from 'node:crypto';
import type { MountSpec } from '../contracts/mount.js';
import { ownerLabels } from '../contracts/snapshot-labels.js';
import type { PrepareOptions, SnapshotChange, StorageDriver } from '../contracts/storage.js';
import { InvalidArgument } from '../errors.js';
import { treeChanges } from './tree-changes.js';

/**
 * Mounts for the differ, performed by its caller (core touches no mount): the engine
 * mounts on a directory of its own, the conformance suite on its case directory.
 */
export interface SnapshotMounter {
  /** Perform `mounts` read-only on a new directory and return its path. */
  mount(mounts: MountSpec[]): Promise<string>;
  /** Undo a `mount`; called once per directory, also when the diff failed. */
  unmount(dir: string): Promise<void> | void;
}

/**
 * The differ's changes of the active snapshot `key` (StorageDriver.changes' rules):
 * the driver's fast path when it has one (capabilities.nativeDiff), else the snapshot
 * and a view of its parent mounted read-only and compared as trees (treeChanges). The
 * view is labelled `differ` for `key`, so one a crash leaves behind is recognised and
 * removed at the next start; it is removed here whatever happens.
 */
export async function snapshotChanges(driver: StorageDriver, key: string, mounter: SnapshotMounter): Promise<SnapshotChange[]> {
  if (driver.changes) return driver.changes(key);
  const info = await driver.stat(key);
  if (info.kind !== 'active') throw new InvalidArgument(`snapshot ${key} is a ${info.kind}: only an active snapshot has changes`);
  const viewKey = `differ-${randomBytes(8).toString('hex')}`;
  const mounted: string[] = [];
  let viewMade = false;
  try {
    const dir = await mounter.mount(readOnlyMounts(await driver.mounts(key)));
    mounted.push(dir);
    let base: string | undefined;
    if (info.parent !== undefined) {
      const view = await driver.view(viewKey, info.parent, { labels: ownerLabels('differ', key) });
      viewMade = true;
      base = await mounter.mount(readOnlyMounts(view));
      mounted.push(base);
    }
    return await treeChanges(dir, base);
  } finally {
    for (const dir of mounted.reverse()) await mounter.unmount(dir);
    if (viewMade) await driver.remove(viewKey);
  }
}

/** The same mounts, read-only (a bind's `rw` dropped, `ro` added). */
export function readOnlyMounts(mounts: MountSpec[]): MountSpec[] {
  return mounts.map((m) => ({ ...m, options: [...m.options.filter((o) => o !== 'rw' && o !== 'ro'), 'ro'] }));
}

/**
 * PrepareOptions.sizeBytes checked for a driver: undefined when not asked; the number
 * when the driver enforces quotas; InvalidArgument naming the driver otherwise, or for
 * a size that is not a positive integer.
 */
export function checkSizeOption(driver: string, canEnforce: boolean, options: PrepareOptions): number | undefined {
  const size = options.sizeBytes;
  if (size === undefined) return undefined;
  if (!canEnforce) throw new InvalidArgument(`--storage-opt size is not supported by the ${driver} storage driver`);
  if (!Number.isSafeInteger(size) || size <= 0)
    throw new InvalidArgument(`--storage-opt size must be a positive number of bytes, not ${size}`);
  return size;
}
