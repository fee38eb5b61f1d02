import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  Conflict,
  type DriverVolume,
  InvalidArgument,
  KeyedLock,
  NotFound,
  readMountInfo,
  runProgram,
  type VolumeDriver,
  type VolumeMountContext,
  writeJsonAtomic,
} from '@berth/volume-kit';
import { attachLoop, detachLoop, loopDevicesUnder } from './loop-devices.js';
import { DEFAULT_SIZE, parseSize } from './size.js';

/** Docker's rule for volume names: one path component, never `.` or `..`. */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const CREATING = '.creating-';
const REMOVING = '.removing-';
/** Every backing file's name starts so: a leak check finds them in /sys/block/loop*\/loop/backing_file. */
export const BACKING_PREFIX = 'berth-loop-';

/** What `volume.json` keeps of a volume. */
interface VolumeFile {
  readonly size: number;
  readonly createdAt: string;
}

/**
 * The `loop` volume driver: each volume an ext4 filesystem in a sparse file of its own,
 * loop-mounted while a container uses it, so its size is a hard quota (past it, ENOSPC;
 * what was written stays).
 *
 * ```
 * <root>/<name>/volume.json               { size, createdAt }
 * <root>/<name>/berth-loop-<name>.img     the filesystem, sparse: it takes what is written
 * <root>/<name>/mnt                       where it is mounted (the path containers get)
 * ```
 *
 * Options: `size` (`-o size=1G`; default 1G; 16M to 16T), nothing else.
 *
 * Crash safety: a volume is made under `.creating-*` and renamed once its filesystem is
 * whole, removed by a rename to `.removing-*` before the delete; `open()` deletes both
 * kinds of leftovers and detaches the loop devices of its files that nothing mounts (an
 * attach whose mount a kill interrupted). A mount still there after a crash is kept by
 * `mount` (idempotent); the engine unmounts the ones no running container holds.
 * Calls for one name run one at a time.
 */
export class LoopVolumeDriver implements VolumeDriver {
  readonly name = 'loop';
  readonly scope = 'local';
  private readonly lock = new KeyedLock();

  constructor(
    readonly root: string,
    private readonly defaultSize = DEFAULT_SIZE,
  ) {}

  /** Makes the root, deletes what a crash left half made or half removed, detaches unmounted loop devices of ours. */
  async open(): Promise<this> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const entry of await fs.readdir(this.root)) {
      if (entry.startsWith(CREATING) || entry.startsWith(REMOVING)) {
        await this.releaseUnder(path.join(this.root, entry));
        await fs.rm(path.join(this.root, entry), { recursive: true, force: true });
      }
    }
    const mountedDevices = new Set(readMountInfo().map((m) => m.source));
    for (const loop of await loopDevicesUnder(this.root)) {
      if (!mountedDevices.has(loop.device)) await detachLoop(loop.device);
    }
    return this;
  }

  async create(name: string, options: Readonly<Record<string, string>>): Promise<DriverVolume> {
    checkName(name);
    let size = this.defaultSize;
    for (const [key, value] of Object.entries(options)) {
      if (key === 'size') size = parseSize(value);
      else throw new InvalidArgument(`invalid option ${JSON.stringify(key)} for the loop volume driver (it takes size)`);
    }
    return this.lock.run(name, async () => {
      const existing = await this.find(name);
      if (existing) return existing;
      const temp = path.join(this.root, `${CREATING}${name}-${randomBytes(4).toString('hex')}`);
      try {
        await fs.mkdir(path.join(temp, 'mnt'), { recursive: true, mode: 0o700 });
        const image = path.join(temp, imageName(name));
        const handle = await fs.open(image, 'wx', 0o600);
        await handle.truncate(size);
        await handle.close();
        // -m 0: no blocks reserved for root, the whole size is the container's. The file
        // is sparse, so the tables need no zeroing now (nor at mount: noinit_itable).
        await runProgram('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'nodiscard,lazy_itable_init=1,lazy_journal_init=1', image]);
        await writeJsonAtomic(path.join(temp, 'volume.json'), { size, createdAt: new Date().toISOString() } satisfies VolumeFile);
        await fs.rename(temp, this.dirOf(name));
      } catch (err) {
        await fs.rm(temp, { recursive: true, force: true });
        throw err;
      }
      return (await this.find(name))!;
    });
  }

  async get(name: string): Promise<DriverVolume> {
    checkName(name);
    const found = await this.find(name);
    if (!found) throw new NotFound(`no such volume: ${name}`);
    return found;
  }

  async list(): Promise<DriverVolume[]> {
    const entries = await fs.readdir(this.root).catch(() => [] as string[]);
    const found = await Promise.all(entries.filter((e) => VOLUME_NAME.test(e)).map((e) => this.find(e)));
    return found.filter((v): v is DriverVolume => v !== undefined);
  }

  async remove(name: string): Promise<void> {
    await this.lock.run(name, async () => {
      await this.get(name);
      if (this.deviceMountedAt(this.mountpointOf(name))) throw new Conflict(`remove ${name}: volume is in use (mounted)`);
      const gone = path.join(this.root, `${REMOVING}${name}-${randomBytes(4).toString('hex')}`);
      await fs.rename(this.dirOf(name), gone);
      await this.releaseUnder(gone);
      await fs.rm(gone, { recursive: true, force: true });
    });
  }

  async mount(name: string, _ctx: VolumeMountContext): Promise<string> {
    return this.lock.run(name, async () => {
      await this.get(name);
      const target = this.mountpointOf(name);
      // Still mounted (a mount after a crash, or called again): keep it, as the contract asks.
      if (this.deviceMountedAt(target)) return target;
      const image = path.join(this.dirOf(name), imageName(name));
      // A device left attached by a mount a kill interrupted: ours to detach first.
      for (const loop of await loopDevicesUnder(this.dirOf(name))) await detachLoop(loop.device);
      const device = await attachLoop(image);
      try {
        await runProgram('mount', ['-t', 'ext4', '-o', 'nosuid,nodev,noinit_itable', device, target]);
      } catch (err) {
        await detachLoop(device);
        throw err;
      }
      return target;
    });
  }

  async unmount(name: string, _ctx: VolumeMountContext): Promise<void> {
    await this.lock.run(name, async () => {
      await this.get(name);
      const target = this.mountpointOf(name);
      const device = this.deviceMountedAt(target);
      if (device) {
        await runProgram('umount', [target]);
        // Detached by device, and only when the kernel has not already (autoclear).
        if ((await loopDevicesUnder(this.dirOf(name))).some((l) => l.device === device)) await detachLoop(device);
      }
    });
  }

  /** Unmounts and detaches whatever of ours is under `dir` (a volume being deleted, a leftover). */
  private async releaseUnder(dir: string): Promise<void> {
    const prefix = `${dir}/`;
    for (const m of readMountInfo()
      .filter((e) => e.mountPoint.startsWith(prefix))
      .reverse()) {
      await runProgram('umount', [m.mountPoint]);
    }
    for (const loop of await loopDevicesUnder(dir)) await detachLoop(loop.device);
  }

  /** The loop device mounted at `target`, if any. */
  private deviceMountedAt(target: string): string | undefined {
    return readMountInfo().find((m) => m.mountPoint === target)?.source;
  }

  private dirOf(name: string): string {
    return path.join(this.root, name);
  }

  private mountpointOf(name: string): string {
    return path.join(this.dirOf(name), 'mnt');
  }

  private async find(name: string): Promise<DriverVolume | undefined> {
    const file = path.join(this.dirOf(name), 'volume.json');
    let meta: VolumeFile;
    try {
      meta = JSON.parse(await fs.readFile(file, 'utf8')) as VolumeFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const image = path.join(this.dirOf(name), imageName(name));
    const used = existsSync(image) ? (await fs.stat(image)).blocks * 512 : 0;
    return {
      name,
      mountpoint: this.mountpointOf(name),
      createdAt: meta.createdAt,
      status: { size: meta.size, allocated: used, mounted: this.deviceMountedAt(this.mountpointOf(name)) !== undefined },
    };
  }
}

function imageName(name: string): string {
  return `${BACKING_PREFIX}${name}.img`;
}

function checkName(name: string): void {
  if (!VOLUME_NAME.test(name) || name.includes('..')) throw new InvalidArgument(`invalid volume name ${JSON.stringify(name)}`);
}
