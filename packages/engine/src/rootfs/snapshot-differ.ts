import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { inject, injectable, type SnapshotChange, type StorageDriver, StorageDriverToken, snapshotChanges, token } from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import { type DriverMounts, DriverMountsToken } from './driver-mounts.js';

/**
 * What a container's writable snapshot changed against its image: core's generic differ
 * (`snapshotChanges`: the driver's fast path where it has one, else the snapshot and a
 * view of its parent compared as trees), with the mounts it needs made under
 * `<data-root>/tmp` (cleared at start: LayerUnpacker.removeInterrupted) and undone after.
 * `docker diff`, `commit` and a build step's layer all read it. Owns no state.
 */
@injectable()
export class SnapshotDiffer {
  private readonly tmp: string;

  constructor(
    @inject(StorageDriverToken) private readonly storage: StorageDriver,
    @inject(EngineConfigToken) config: ResolvedEngineConfig,
    @inject(DriverMountsToken) private readonly mounts: DriverMounts,
  ) {
    this.tmp = path.join(config.dataRoot, 'tmp');
  }

  /** The changes of the snapshot `key` (a container's id), sorted by path. */
  changes(key: string): Promise<SnapshotChange[]> {
    return snapshotChanges(this.storage, key, {
      mount: async (mounts) => {
        const dir = path.join(this.tmp, `differ-${randomBytes(8).toString('hex')}`);
        await fs.mkdir(dir, { recursive: true });
        await this.mounts.mount(mounts, dir, { kind: 'operation', purpose: `a diff of ${key}` });
        return dir;
      },
      unmount: async (dir) => {
        await this.mounts.unmount(dir); // never a recursive delete through a mount: rmdir only once this succeeded
        await fs.rmdir(dir);
      },
    });
  }
}

export const SnapshotDifferToken = token<SnapshotDiffer>('SnapshotDiffer');
