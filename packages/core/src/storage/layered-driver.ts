import type { MountSpec } from '../contracts/mount.js';
import type {
  DriverStatus,
  PrepareOptions,
  SnapshotChange,
  SnapshotInfo,
  SnapshotOptions,
  SnapshotUsage,
  StorageCapabilities,
  StorageDriver,
} from '../contracts/storage.js';
import type { LayeredSnapshots } from './layered-snapshots.js';

/**
 * The base of a storage driver whose snapshots are core's LayeredSnapshots (overlay's
 * on-disk format): every StorageDriver call but `status` is the store's.
 * A driver extends it with its name, capabilities, status, and a static `open` that
 * opens the store with its union mount (overlay: kernel overlayfs; fuse: its mount
 * helper) and its reader of the opaque xattr. As PredefinedNetworkDriver is to
 * network drivers.
 *
 * Lifecycle: the driver's `open` builds it on an opened store; `close` waits for the
 * store's background deletions.
 */
export abstract class LayeredDriver implements StorageDriver {
  abstract readonly name: string;
  abstract readonly capabilities: StorageCapabilities;

  protected constructor(protected readonly snapshots: LayeredSnapshots) {}

  abstract status(): Promise<DriverStatus>;

  async prepare(key: string, parent?: string, options: PrepareOptions = {}): Promise<MountSpec[]> {
    return this.snapshots.prepare(key, parent, options);
  }

  async view(key: string, parent?: string, options: SnapshotOptions = {}): Promise<MountSpec[]> {
    return this.snapshots.view(key, parent, options);
  }

  async mounts(key: string): Promise<MountSpec[]> {
    return this.snapshots.mounts(key);
  }

  /** The committed record carries the labels given here, not the active snapshot's (StorageDriver). */
  async commit(name: string, key: string, options: SnapshotOptions = {}): Promise<void> {
    await this.snapshots.commit(name, key, options);
  }

  /** The directory is renamed away now and deleted in the background: a container's upper layer can be large. */
  async remove(key: string): Promise<void> {
    await this.snapshots.remove(key);
  }

  /** Waits for the background deletions of removed snapshots. */
  async close(): Promise<void> {
    await this.snapshots.close();
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return this.snapshots.stat(key);
  }

  async usage(key: string): Promise<SnapshotUsage> {
    return this.snapshots.usage(key);
  }

  async walk(): Promise<SnapshotInfo[]> {
    return this.snapshots.walk();
  }

  /** The differ's fast path: the upper layer holds exactly what changed (upperLayerChanges). */
  async changes(key: string): Promise<SnapshotChange[]> {
    return this.snapshots.changes(key);
  }
}
