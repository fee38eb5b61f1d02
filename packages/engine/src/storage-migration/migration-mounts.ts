import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { MountSpec } from '@berth/core';
import { type MountHelperProcess, mountAllAsync, stopMountHelper, unmountAll } from '@berth/native';

/**
 * The mounts a migration makes of both drivers' snapshots (under
 * `storage-migration/mnt/`), for the few seconds each step needs them. Plain specs are
 * mount(2) calls; a spec with a helper (a FUSE driver's, core's MountSpec.helper) is
 * served by its helper process, started here with its log in `storage-migration/logs/`
 * and stopped at unmount. The migration is a short-lived process of its own, so the
 * helpers need no supervision past it: a kill -9 leaves them serving, and the next run's
 * clearing of `mnt/` unmounts their mounts, upon which each helper exits (the helper
 * contract).
 */
export class MigrationMounts {
  private readonly helpers = new Map<string, MountHelperProcess[]>();

  constructor(private readonly logDir: string) {}

  async mount(specs: MountSpec[], target: string): Promise<void> {
    await fs.mkdir(this.logDir, { recursive: true, mode: 0o700 });
    const { helpers } = await mountAllAsync(specs, target, { logPath: path.join(this.logDir, `${path.basename(target)}.log`) });
    if (helpers.length) this.helpers.set(target, helpers);
  }

  /** Unmount `target` and what is below it; its helpers, if any, are gone when this resolves. */
  async unmount(target: string): Promise<void> {
    unmountAll(target);
    const helpers = this.helpers.get(target) ?? [];
    this.helpers.delete(target);
    for (const helper of helpers) await stopMountHelper(helper);
  }
}
