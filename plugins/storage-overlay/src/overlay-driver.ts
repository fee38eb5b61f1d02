import { rmSync } from 'node:fs';
import * as path from 'node:path';
import {
  backingFilesystem,
  type DriverStatus,
  LayeredDriver,
  LayeredSnapshots,
  type LayeredUnion,
  type Logger,
  type MountSpec,
  NotImplemented,
  type StorageCapabilities,
} from '@berth/core';
import { getXattr } from '@berth/native';
import { dTypeSupport } from './backing-filesystem.js';

/**
 * mount(2) copies at most one page of option data, NUL included; a longer string is
 * cut, and a cut path could name the wrong directory. Measured on Linux 6.18: 4095
 * characters mount, 4096 fail with EINVAL.
 */
export const MAX_MOUNT_DATA = 4095;

/** Options of OverlayDriver beyond its root. */
export interface OverlayDriverOptions {
  /** Added to every overlay mount (init passes `index=off` etc. when the module enables them by default). */
  extraOptions?: string[];
  /** The kernel's overlay takes `volatile` (Linux 5.10+): volatile snapshots use it. */
  volatile?: boolean;
  log?: Logger;
}

/**
 * The `overlay` storage driver: kernel overlayfs over core's LayeredSnapshots, which keeps
 * the snapshots (each `<root>/snapshots/<id>` holding `fs`, the whole tree of a snapshot
 * without parent or the upper layer of one with parents, and `work` for an active
 * snapshot with parents; `<root>/metadata.json` the records), their crash safety and the
 * binds, and reads an upper layer's changes (LayeredDriver answers every call but status
 * from it). What is overlay's own is the union mount:
 * - active with parents: overlay, `lowerdir` = the parents' `fs`, nearest first, with
 *   its own `fs` as upperdir and `work` as workdir;
 * - view of two parents or more: a lowerdir-only (hence read-only) overlay.
 *
 * Ids are small integers so lowerdir paths stay short: the whole option string must
 * fit in one page (MAX_MOUNT_DATA). Under `/var/lib/berth/storage/overlay` a container
 * mounts on up to 84 layers (measured; a few fewer once ids grow to 5 digits); deeper
 * chains are refused with NotImplemented rather than mounted wrong.
 */
export class OverlayDriver extends LayeredDriver {
  readonly name = 'overlay';
  /**
   * Usage is exact (the upper holds exactly the changes); changes read the upper (the
   * differ's fast path). A volatile snapshot (PrepareOptions) with parents is an overlay
   * mounted `volatile` where the kernel supports it; without parents it is a bind, which
   * has nothing to skip. overlay has no quota of its own (Docker's needs xfs project
   * quotas): refused, never ignored.
   */
  readonly capabilities: StorageCapabilities;

  private constructor(
    private readonly root: string,
    snapshots: LayeredSnapshots,
    volatile: boolean,
  ) {
    super(snapshots);
    this.capabilities = { usage: 'exact', volatile, sizeQuota: false, nativeDiff: true };
  }

  /** Load the driver's state from `root` (created if missing) and remove leftovers of a crash. */
  static async open(root: string, options: OverlayDriverOptions = {}): Promise<OverlayDriver> {
    const absolute = path.resolve(root);
    const extraOptions = options.extraOptions ?? [];
    const volatile = options.volatile === true;
    const snapshots = await LayeredSnapshots.open(absolute, {
      driver: 'overlay',
      volatile,
      log: options.log,
      unionMounts: (union) => overlayMounts(absolute, union, extraOptions),
      isOpaque: (dir) => getXattr(dir, 'trusted.overlay.opaque') === 'y',
      // A volatile mount leaves work/work/incompat/volatile behind, and overlay refuses to
      // mount that upper again until it is gone: what it guards against (writes lost in a
      // crash) is what a volatile snapshot accepts, so the marker goes.
      beforeRemount: (union) => {
        if (union.kind === 'active' && union.volatile)
          rmSync(path.join(union.work, 'work', 'incompat', 'volatile'), { recursive: true, force: true });
      },
    });
    return new OverlayDriver(absolute, snapshots, volatile);
  }

  async status(): Promise<DriverStatus> {
    const filesystem = await backingFilesystem(this.root);
    return [
      ['Backing Filesystem', filesystem],
      ['Supports d_type', dTypeSupport(filesystem)],
      // index, redirect_dir and metacopy are pinned off when the module enables them (OverlaySupport).
      ['Using metacopy', 'false'],
      ['Native Overlay Diff', 'true'],
    ];
  }
}

/** The overlay mount of `union` under `root`; refused when its options would not fit in one page. */
function overlayMounts(root: string, union: LayeredUnion, extraOptions: readonly string[]): MountSpec[] {
  const options = [`lowerdir=${union.lowers.join(':')}`];
  if (union.kind === 'active') options.push(`upperdir=${union.upper}`, `workdir=${union.work}`);
  options.push(...extraOptions);
  const data = options.join(',');
  if (data.length > MAX_MOUNT_DATA) {
    throw new NotImplemented(
      `overlay cannot mount a chain of ${union.lowers.length} layers under ${root}: its mount options take ` +
        `${data.length} bytes and the kernel accepts ${MAX_MOUNT_DATA} (a shorter data root allows deeper chains)`,
    );
  }
  if (union.kind === 'view') options.push('ro');
  if (union.kind === 'active' && union.volatile) options.push('volatile');
  return [{ type: 'overlay', source: 'overlay', options }];
}
