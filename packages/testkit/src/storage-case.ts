import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { MountSpec, StorageDriver } from '@berth/core';
import { type MountHelperProcess, mountAllAsync, stopMountHelper, unmountAll } from '@berth/native';

/** Builds the driver under test on a directory it owns. */
export type StorageDriverFactory = (root: string) => Promise<StorageDriver>;

/** What each case of the storage suite gets: a driver on a fresh root and a place to mount. */
export interface StorageCase {
  /** The case's temporary directory; the driver's root and the mount points are inside. */
  readonly dir: string;
  /** The driver's root, `<dir>/root`. */
  readonly root: string;
  /** The driver under test (replaced by `reopen`). */
  driver: StorageDriver;
  /** Perform `mounts` on a new directory under `dir` and return it; the case unmounts it at the end. */
  mount(mounts: MountSpec[]): Promise<string>;
  /**
   * Unmount a directory returned by `mount` now. A helper that served it exits on its
   * own once unmounted (the helper contract); the case's cleanup stops any still there.
   */
  unmount(target: string): void;
  /** Close the driver and build a new one on the same root, as after a daemon restart. */
  reopen(): Promise<StorageDriver>;
}

/**
 * Run `body` in a fresh temporary directory (`mkdtemp(tempPrefix)`) with a new driver,
 * then, whatever happened, stop every mount helper a mount started (specs with a
 * `helper`, their logs beside the mount point), unmount everything under the directory, close the driver
 * and delete the directory (after `clearRoot(root)`, for what a plain recursive delete
 * cannot remove: btrfs's read-only subvolumes). A cleanup failure fails the case (a leaked mount must not
 * pass unnoticed) unless the body already failed, whose error wins.
 */
export async function runStorageCase(
  tempPrefix: string,
  makeDriver: StorageDriverFactory,
  body: (c: StorageCase) => Promise<void>,
  clearRoot?: (root: string) => Promise<void>,
): Promise<void> {
  const dir = await fs.mkdtemp(tempPrefix);
  const root = path.join(dir, 'root');
  let mounts = 0;
  const helpers: MountHelperProcess[] = [];
  let driver: StorageDriver | undefined;
  let failure: unknown;
  try {
    await fs.mkdir(root);
    driver = await makeDriver(root);
    const c: StorageCase = {
      dir,
      root,
      driver,
      async mount(specs) {
        const target = path.join(dir, `mnt-${++mounts}`);
        await fs.mkdir(target);
        await mountAllAsync(specs, target, { logPath: `${target}.log`, onSpawn: (h) => helpers.push(h) });
        return target;
      },
      unmount(target) {
        unmountAll(target);
      },
      async reopen() {
        await c.driver.close?.();
        driver = c.driver = await makeDriver(root);
        return c.driver;
      },
    };
    await body(c);
  } catch (err) {
    failure = err;
  }
  const cleanup: unknown[] = [];
  for (const h of helpers) await stopMountHelper(h).catch((err: unknown) => cleanup.push(err));
  try {
    unmountAll(dir);
  } catch (err) {
    cleanup.push(err);
  }
  try {
    await driver?.close?.();
  } catch (err) {
    cleanup.push(err);
  }
  if (cleanup.length === 0 && clearRoot) await clearRoot(root).catch((err: unknown) => cleanup.push(err));
  if (cleanup.length === 0) {
    await fs.rm(dir, { recursive: true, force: true }).catch((err: unknown) => cleanup.push(err));
  }
  if (failure !== undefined) throw failure;
  if (cleanup.length > 0) throw cleanup[0];
}
