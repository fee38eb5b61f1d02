import {
  inject,
  injectable,
  isBerthError,
  type Logger,
  LoggerToken,
  type MountSpec,
  ownerLabels,
  type PrepareOptions,
  type SnapshotInfo,
  SnapshotLabels,
  type StorageCapabilities,
  type StorageDriver,
  StorageDriverToken,
  token,
} from '@berth/core';
import { isMountPoint } from '@berth/native';
import { type ContainerPaths, ContainerPathsToken } from '../containers/container-paths.js';
import { type LayerUnpacker, LayerUnpackerToken } from '../images/layer-unpacker.js';
import { type DriverMounts, DriverMountsToken } from './driver-mounts.js';

/**
 * Containers' root filesystems: a writable snapshot of the storage driver on top of the
 * image's layers (unpacked on first use), mounted on `containers/<id>/rootfs` from
 * create until the container exits or is removed (through DriverMounts: a FUSE rootfs's
 * helper is supervised there). Owns the snapshot and the mount; never the record. Recovery asks it to remove snapshots no record owns.
 */
@injectable()
export class RootFilesystems {
  constructor(
    @inject(StorageDriverToken) private readonly storage: StorageDriver,
    @inject(LayerUnpackerToken) private readonly layers: LayerUnpacker,
    @inject(ContainerPathsToken) private readonly paths: ContainerPaths,
    @inject(LoggerToken) private readonly log: Logger,
    @inject(DriverMountsToken) private readonly mounts: DriverMounts,
  ) {}

  /** What the storage driver can do (sizeQuota decides whether `--storage-opt size=` is accepted). */
  get capabilities(): StorageCapabilities {
    return this.storage.capabilities;
  }

  /** The storage driver's name, as records and inspect show it. */
  get driverName(): string {
    return this.storage.name;
  }

  /**
   * Create container `id`'s writable snapshot on top of `imageId`'s layers and return the
   * mounts that show it. `volatile`: an --rm container's layer goes at its exit or after
   * a crash, so it need not be durable. `sizeBytes`: `--storage-opt size=`, for a driver with sizeQuota.
   */
  async prepare(id: string, imageId: string, options: { volatile: boolean; sizeBytes?: number | undefined }): Promise<MountSpec[]> {
    const top = await this.layers.ensureLayers(imageId);
    const prepare: PrepareOptions = { volatile: options.volatile, labels: ownerLabels('container', id) };
    if (options.sizeBytes !== undefined) prepare.sizeBytes = options.sizeBytes;
    return this.storage.prepare(id, top, prepare);
  }

  /** Mount `mounts` (from prepare) as container `id`'s root filesystem. */
  mount(id: string, mounts: MountSpec[]): Promise<void> {
    return this.mounts.mount(mounts, this.paths.rootfs(id), { kind: 'container', id });
  }

  /**
   * Mount the root filesystem unless it is mounted already (a restart after an exit; a
   * FUSE rootfs a previous engine's helper still serves is adopted, never mounted over).
   */
  async ensureMounted(id: string): Promise<void> {
    if (!isMountPoint(this.paths.rootfs(id))) await this.mount(id, await this.storage.mounts(id));
  }

  /**
   * Listen to root filesystems lost under their container: the helper serving a FUSE
   * rootfs died (DriverMounts has removed the dead mount by then). `message` names the
   * helper and ends with the last lines of its log; `atStart`: found dead at engine start.
   */
  onLost(listener: (id: string, message: string, atStart: boolean) => void | Promise<void>): void {
    this.mounts.onDeath((owner, message, atStart) => (owner.kind === 'container' ? listener(owner.id, message, atStart) : undefined));
  }

  /** Unmount the root filesystem, its helper (if any) gone when this resolves; nothing mounted is fine. */
  unmount(id: string): Promise<void> {
    return this.mounts.unmount(this.paths.rootfs(id));
  }

  /** Delete the snapshot (unmount first); a snapshot already gone is fine. */
  async remove(id: string): Promise<void> {
    try {
      await this.storage.remove(id);
    } catch (err) {
      if (!isBerthError(err, 'NotFound')) throw err;
    }
  }

  /**
   * After a crash: remove the writable layers of containers whose record is gone (a crash
   * in the middle of a create or a removal), unmounting them first. Ownership comes from
   * each snapshot's owner labels, never from the shape of its key; a snapshot without
   * owner labels was written before berth labelled them, and only an active one keyed by
   * a container id without a record is taken for a container's.
   */
  async removeOrphans(exists: (containerId: string) => boolean): Promise<void> {
    for (const snapshot of await this.storage.walk()) {
      const container = orphanContainer(snapshot, exists);
      if (!container) continue;
      this.log.warn('removing the writable layer of a container that no longer exists', { id: container, key: snapshot.key });
      await this.unmount(container);
      await this.remove(snapshot.key).catch((err) =>
        this.log.error('cannot remove an orphan container layer', { id: container, key: snapshot.key, error: String(err) }),
      );
    }
  }
}

/** The container a snapshot is the writable layer of, when that container no longer exists. */
function orphanContainer(snapshot: SnapshotInfo, exists: (containerId: string) => boolean): string | undefined {
  const kind = snapshot.labels[SnapshotLabels.ownerKind];
  if (kind === 'container') {
    const owner = snapshot.labels[SnapshotLabels.ownerId];
    return owner && !exists(owner) ? owner : undefined;
  }
  const unlabelled = kind === undefined && snapshot.kind === 'active' && /^[0-9a-f]{64}$/.test(snapshot.key);
  return unlabelled && !exists(snapshot.key) ? snapshot.key : undefined;
}

export const RootFilesystemsToken = token<RootFilesystems>('RootFilesystems');
