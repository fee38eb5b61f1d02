import * as path from 'node:path';
import {
  backingFilesystem,
  type DriverStatus,
  LayeredDriver,
  LayeredSnapshots,
  type LayeredUnion,
  type Logger,
  type MountSpec,
  type StorageCapabilities,
} from '@berth/core';
import { getXattr } from '@berth/native';
import { helperCommand } from './helper-command.js';
import { OPAQUE_XATTR } from './union-layers.js';

/** The mount type of a union served by the helper (`fuse.<subtype>` as mountinfo shows it). */
export const FUSE_MOUNT_TYPE = 'fuse.berth';

/** Options of FuseDriver beyond its root. */
export interface FuseDriverOptions {
  log?: Logger;
  /** The helper's argv prefix (default: this Node and the compiled mount-helper-main.js). */
  helper?: readonly string[];
}

/**
 * The `fuse` storage driver: overlay's layout and on-disk format (core's LayeredSnapshots,
 * as the overlay driver keeps them), served by a union filesystem in userspace
 * (UnionFilesystem) instead of the kernel's overlayfs. Each snapshot is
 * `<root>/snapshots/<id>` holding `fs` (its own files: the whole tree without a parent,
 * the upper layer with one) and, for active snapshots with parents, `work` (where the
 * helper makes copy-ups before renaming them into place). A layer's `fs` is the same
 * bytes kernel overlayfs would have left (whiteouts are 0:0 character devices, opaque
 * directories carry `trusted.overlay.opaque=y`).
 *
 * Its own is the union mount (binds are the store's):
 * - active with parents: `fuse.berth`, served by the mount helper (MountSpec.helper),
 *   options `lowerdir=<parents' fs, nearest first>`, `upperdir`, `workdir`;
 * - view of two parents or more: a lowerdir-only (read-only) `fuse.berth` mount.
 * No depth limit of its own: the lowerdirs travel in the helper's argv, not in mount(2)'s
 * one page of option data.
 *
 * Crash safety, labels, removal in the background and the changes read from an upper
 * layer are the store's (LayeredSnapshots); LayeredDriver answers every call but status from it.
 */
export class FuseDriver extends LayeredDriver {
  readonly name = 'fuse';
  /** Usage is exact (the upper holds exactly the changes); changes read the upper; volatile skips fsync. */
  readonly capabilities: StorageCapabilities = { usage: 'exact', volatile: true, sizeQuota: false, nativeDiff: true };

  private constructor(
    private readonly root: string,
    snapshots: LayeredSnapshots,
    private readonly helper: readonly string[],
  ) {
    super(snapshots);
  }

  /** Load the driver's state from `root` (created if missing) and remove leftovers of a crash. */
  static async open(root: string, options: FuseDriverOptions = {}): Promise<FuseDriver> {
    const absolute = path.resolve(root);
    const helper = options.helper ?? helperCommand();
    const snapshots = await LayeredSnapshots.open(absolute, {
      driver: 'fuse',
      volatile: true,
      log: options.log,
      unionMounts: (union) => fuseMounts(union, helper),
      isOpaque: (dir) => getXattr(dir, OPAQUE_XATTR) === 'y',
    });
    return new FuseDriver(absolute, snapshots, helper);
  }

  async status(): Promise<DriverStatus> {
    return [
      ['Backing Filesystem', await backingFilesystem(this.root)],
      ['Mount Helper', this.helper.join(' ')],
      ['FUSE Library', 'libfuse 2 through fuse-native 2.2.6 (patched)'],
      ['Native Overlay Diff', 'true'],
    ];
  }
}

/** The helper's mount of `union`: the lowerdirs travel in its argv, so there is no depth limit. */
function fuseMounts(union: LayeredUnion, helper: readonly string[]): MountSpec[] {
  const options = [`lowerdir=${union.lowers.join(':')}`];
  if (union.kind === 'active') options.push(`upperdir=${union.upper}`, `workdir=${union.work}`);
  if (union.kind === 'view') options.push('ro');
  if (union.kind === 'active' && union.volatile) options.push('volatile');
  return [{ type: FUSE_MOUNT_TYPE, source: 'berth-fuse', options, helper: [...helper] }];
}
