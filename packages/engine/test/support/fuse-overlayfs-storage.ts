import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  type DriverStatus,
  definePlugin,
  type MountSpec,
  PluginSkipped,
  type PrepareOptions,
  type SnapshotChange,
  type SnapshotInfo,
  type SnapshotOptions,
  type SnapshotUsage,
  type StorageCapabilities,
  type StorageDriver,
} from '@berth/core';
import { OverlayDriver } from '@berth/storage-overlay';

/** Debian's fuse-overlayfs behind core's MountSpec.helper convention (test/fixtures). */
export const fuseOverlayfsHelper = path.resolve(__dirname, '../../../../test/fixtures/fuse-overlayfs-helper.sh');

/** The name the test driver registers under (its state lives in `<data-root>/storage/<name>`). */
export const fuseOverlayfsTestDriverName = 'fuse-overlayfs-test';

/**
 * A storage driver for the engine's mount-helper tests, until storage-fuse exists: the
 * overlay driver's snapshots (the same layout on disk), whose union mounts are served by
 * fuse-overlayfs as a mount helper instead of kernel overlayfs, so a container's rootfs is
 * a real FUSE filesystem served by a process the engine supervises. Bind mounts (an
 * image's single layer viewed, an empty snapshot) stay bind mounts. Options kernel
 * overlayfs has and fuse-overlayfs does not (volatile, index=off, ...) are dropped.
 */
class FuseOverlayfsTestDriver implements StorageDriver {
  constructor(
    readonly name: string,
    private readonly overlay: OverlayDriver,
  ) {}

  get capabilities(): StorageCapabilities {
    return this.overlay.capabilities;
  }

  async prepare(key: string, parent?: string, options?: PrepareOptions): Promise<MountSpec[]> {
    return toFuse(await this.overlay.prepare(key, parent, options));
  }

  async view(key: string, parent?: string, options?: SnapshotOptions): Promise<MountSpec[]> {
    return toFuse(await this.overlay.view(key, parent, options));
  }

  async mounts(key: string): Promise<MountSpec[]> {
    return toFuse(await this.overlay.mounts(key));
  }

  commit(name: string, key: string, options?: SnapshotOptions): Promise<void> {
    return this.overlay.commit(name, key, options);
  }

  remove(key: string): Promise<void> {
    return this.overlay.remove(key);
  }

  stat(key: string): Promise<SnapshotInfo> {
    return this.overlay.stat(key);
  }

  usage(key: string): Promise<SnapshotUsage> {
    return this.overlay.usage(key);
  }

  changes(key: string): Promise<SnapshotChange[]> {
    return this.overlay.changes(key);
  }

  walk(): Promise<SnapshotInfo[]> {
    return this.overlay.walk();
  }

  async status(): Promise<DriverStatus> {
    return [['Backing', 'fuse-overlayfs (test driver)'], ...(await this.overlay.status())];
  }

  close(): Promise<void> {
    return this.overlay.close();
  }
}

const fuseOverlayfsOptions = /^(lowerdir|upperdir|workdir)=|^(ro|rw)$/;

function toFuse(specs: MountSpec[]): MountSpec[] {
  return specs.map((spec) =>
    spec.type === 'overlay'
      ? {
          type: 'fuse.fuse-overlayfs',
          source: 'fuse-overlayfs',
          options: spec.options.filter((o) => fuseOverlayfsOptions.test(o)),
          helper: [fuseOverlayfsHelper],
        }
      : spec,
  );
}

/**
 * The plugin, under `name` (`fuse` stands in for storage-fuse in the choice rule's
 * tests): pass it in an engine's `plugins`. It skips, with the reason, where FUSE cannot
 * be used (no /dev/fuse, no fuse-overlayfs).
 */
export function fuseOverlayfsTestPlugin(name = fuseOverlayfsTestDriverName) {
  return definePlugin({
    kind: 'storage',
    name,
    description: 'test only: overlay snapshots served by fuse-overlayfs as a mount helper',
    async init(ctx) {
      for (const needed of ['/dev/fuse', '/usr/bin/fuse-overlayfs']) {
        if (!existsSync(needed)) throw new PluginSkipped(`${name}: ${needed} is missing`);
      }
      return new FuseOverlayfsTestDriver(name, await OverlayDriver.open(ctx.root, { log: ctx.log }));
    },
  });
}

/** The plugin under its own name: pass it with `storageDriver: fuseOverlayfsTestDriverName`. */
export const fuseOverlayfsTestStorage = fuseOverlayfsTestPlugin();
