import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { readMountInfo, type VolumeDriver, type VolumeMountContext } from '@berth/core';

const run = promisify(execFile);

/** Makes a driver whose state lives in `dir`; called again over the same `dir` to play a restart. */
export type VolumeDriverFactory = (dir: string) => Promise<VolumeDriver>;

/**
 * One conformance case's world: an empty directory of its own, the drivers made over it,
 * and a record of the mounts the case left, so the cleanup undoes them through the
 * driver (as the engine would) before it checks that nothing stayed mounted.
 */
export class VolumeCase {
  readonly drivers: VolumeDriver[] = [];
  private readonly mounted = new Map<string, VolumeMountContext>();
  private containers = 0;

  constructor(
    readonly dir: string,
    private readonly factory: VolumeDriverFactory,
  ) {}

  /** The driver most recently made. */
  get driver(): VolumeDriver {
    const d = this.drivers[this.drivers.length - 1];
    if (!d) throw new Error('no driver made yet');
    return d;
  }

  /** A new driver over the same state, the previous one abandoned as a kill -9 would (no close, no unmount). */
  async restart(): Promise<VolumeDriver> {
    const d = await this.factory(path.join(this.dir, 'state'));
    this.drivers.push(d);
    return d;
  }

  /** A mount context of a container of its own. */
  context(readOnly = false): VolumeMountContext {
    this.containers += 1;
    return { containerId: `conformance-${this.containers.toString().padStart(4, '0')}`, readOnly };
  }

  async mount(name: string, ctx: VolumeMountContext = this.context()): Promise<string> {
    const where = await this.driver.mount(name, ctx);
    this.mounted.set(name, ctx);
    return where;
  }

  async unmount(name: string, ctx?: VolumeMountContext): Promise<void> {
    const c = ctx ?? this.mounted.get(name) ?? this.context();
    await this.driver.unmount(name, c);
    this.mounted.delete(name);
  }

  /**
   * After the case, pass or fail: unmount what the case left mounted and remove every
   * volume, through the latest driver; then the mounts still under the case's directory
   * are a leak: they are undone (so the next case starts clean) and reported.
   */
  async cleanup(release?: (dir: string) => Promise<void>): Promise<string[]> {
    const problems: string[] = [];
    if (this.drivers.length > 0) {
      for (const [name, ctx] of this.mounted) {
        await this.driver.unmount(name, ctx).catch((err: Error) => problems.push(`unmount ${name}: ${err.message}`));
      }
      this.mounted.clear();
      const volumes = await this.driver.list().catch(() => []);
      for (const v of volumes) await this.driver.remove(v.name).catch((err: Error) => problems.push(`remove ${v.name}: ${err.message}`));
    }
    const leaked = mountsUnder(this.dir);
    for (const m of leaked.reverse()) await run('umount', ['-l', m]).catch(() => {});
    if (leaked.length > 0) problems.push(`left mounted after unmount and remove: ${leaked.join(', ')}`);
    if (release) await release(this.dir).catch((err: Error) => problems.push(`release: ${err.message}`));
    await fs.rm(this.dir, { recursive: true, force: true }).catch((err: Error) => problems.push(`rm ${this.dir}: ${err.message}`));
    return problems;
  }
}

/** The mount points at or below `dir` in this mount namespace. */
export function mountsUnder(dir: string): string[] {
  const prefix = `${dir}/`;
  return readMountInfo()
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(prefix));
}
