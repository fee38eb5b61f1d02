import { closeSync, constants, promises as fs } from 'node:fs';
import { inject, injectable, type MountSpec, type StorageDriver, StorageDriverToken, token } from '@berth/core';
import { AT, isMountPoint, O_PATH, openAt } from '@berth/native';
import { type ContainerLocks, ContainerLocksToken } from '../containers/container-locks.js';
import { type ContainerPaths, ContainerPathsToken } from '../containers/container-paths.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type DriverMounts, DriverMountsToken } from './driver-mounts.js';

/**
 * A container's root filesystem for one operation that reads or writes its files from
 * the host (`docker cp`, `export`, `commit`, a build's COPY): mounted on its usual mount
 * point if it is not (a stopped container's; read-only unless the operation writes) and
 * unmounted after, opened as a descriptor every path of the operation is resolved from,
 * all under the container's lock, so it cannot start, exit or go meanwhile. Owns no state.
 */
@injectable()
export class ContainerRoots {
  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(StorageDriverToken) private readonly storage: StorageDriver,
    @inject(ContainerPathsToken) private readonly paths: ContainerPaths,
    @inject(ContainerLocksToken) private readonly locks: ContainerLocks,
    @inject(DriverMountsToken) private readonly mounts: DriverMounts,
  ) {}

  /**
   * Run `fn` on the container's mounted root, open as a descriptor. The descriptors `fn`
   * opened on the root (`root.hold`) are closed after it. NotFound if the container was
   * removed meanwhile.
   */
  withRoot<T>(record: ContainerRecord, writable: boolean, fn: (root: OpenRoot) => Promise<T>): Promise<T> {
    return this.locks.run(record.id, async () => {
      this.store.get(record.id);
      const rootfs = this.paths.rootfs(record.id);
      const mountHere = !isMountPoint(rootfs);
      if (mountHere) {
        const mounts = await this.storage.mounts(record.id);
        await this.mounts.mount(writable ? mounts : readOnly(mounts), rootfs, {
          kind: 'operation',
          purpose: `files of container ${record.id}`,
        });
      }
      try {
        const root = await OpenRoot.open(rootfs);
        try {
          return await fn(root);
        } finally {
          root.close();
        }
      } finally {
        if (mountHere) await this.mounts.unmount(rootfs);
      }
    });
  }
}

/**
 * A container's mounted root, open (O_PATH) for the length of one operation: the
 * descriptor every path of the operation is resolved from, its host path (to tell where
 * a symlink leads), and the descriptors the operation holds beneath it, closed with it.
 */
export class OpenRoot {
  private readonly held: number[] = [];

  private constructor(
    readonly fd: number,
    readonly hostPath: string,
  ) {}

  static async open(rootfs: string): Promise<OpenRoot> {
    const hostPath = await fs.realpath(rootfs);
    return new OpenRoot(openAt(AT.FDCWD, hostPath, O_PATH | constants.O_DIRECTORY), hostPath);
  }

  /** Close `fd` with the root. */
  hold(fd: number): void {
    this.held.push(fd);
  }

  close(): void {
    for (const fd of this.held.splice(0)) closeSync(fd);
    closeSync(this.fd);
  }
}

/** The same mounts, read-only. */
function readOnly(mounts: MountSpec[]): MountSpec[] {
  return mounts.map((m) => ({ ...m, options: [...m.options.filter((o) => o !== 'rw'), 'ro'] }));
}

export const ContainerRootsToken = token<ContainerRoots>('ContainerRoots');
