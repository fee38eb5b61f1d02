import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  BackgroundRemoval,
  type DriverVolume,
  InvalidArgument,
  type Logger,
  NotFound,
  type VolumeDriver,
  type VolumeMountContext,
  writeJsonAtomic,
} from '@berth/core';
import { isMountPoint, mountSpec, unmountAll } from '@berth/native';
import { type LocalVolumeOptions, localMountSpec, parseLocalOptions } from './mount-options.js';

/** A volume's name is one path component Docker's rule allows; the engine checks it too, a driver trusts nobody. */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** The prefix of a volume's directory while it is made: renamed to its name once whole. */
const CREATING_PREFIX = '.creating-';

/**
 * The `local` volume driver: each volume a directory under `<data-root>/volumes`, laid
 * out as Docker's local driver lays it out:
 *
 * ```
 * <data-root>/volumes/<name>/_data       the volume's content, what containers mount (0755 root:root)
 * <data-root>/volumes/<name>/opts.json   the options it was created with
 * ```
 *
 * (the engine's own records live beside them in `volumes/_records`, a name no volume can
 * have.) Crash safety: a volume is made as `.creating-<name>-<random>` and renamed to its
 * name once whole, and removed by a rename to `.removing-*` before the delete
 * (BackgroundRemoval), so a volume directory is always whole; the leftovers of either are
 * deleted at start-up.
 *
 * Options, as Docker's local driver: `type`, `device` and `o` make the volume a mount on
 * its `_data` (`type=tmpfs,device=tmpfs,o=size=64m,uid=1000`; `type=none,o=bind,device=/host/dir`;
 * `type=ext4,device=/dev/sdb1`), checked at create (mount-options.ts: an unknown key or
 * `o` word is refused by name; a bind's device must exist) and performed by `mount`,
 * undone by `unmount` (the engine calls them once for the first and after the last
 * container, and keeps that count). `mount` is idempotent: after a crash the mount may
 * still be there, and is then kept. A tmpfs volume's content goes with its unmount, as
 * under Docker.
 *
 * A plain directory needs no mount: `mount` returns `_data`, `unmount` does nothing (the
 * engine bind-mounts the path).
 */
export class LocalVolumeDriver implements VolumeDriver {
  readonly name = 'local';
  readonly scope = 'local';
  private readonly removal: BackgroundRemoval;

  constructor(
    private readonly root: string,
    log?: Logger,
  ) {
    this.removal = new BackgroundRemoval(log);
  }

  /** Make the root and delete what a crash left (volumes half made, half removed). */
  async open(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o701 });
    for (const entry of await fs.readdir(this.root)) {
      if (entry.startsWith(CREATING_PREFIX)) await fs.rm(path.join(this.root, entry), { recursive: true, force: true });
      else if (BackgroundRemoval.isLeftover(entry)) this.removal.deleteLater(path.join(this.root, entry));
    }
  }

  async create(name: string, options: Readonly<Record<string, string>>): Promise<DriverVolume> {
    checkName(name);
    const parsed = parseLocalOptions(options);
    if (parsed && (parsed.o.includes('bind') || parsed.o.includes('rbind')) && !existsSync(parsed.device)) {
      throw new InvalidArgument(`invalid option device=${JSON.stringify(parsed.device)}: no such file or directory on the host`);
    }
    const dir = this.dirOf(name);
    const existing = await this.stat(name);
    if (existing) return existing;
    const temp = path.join(this.root, `${CREATING_PREFIX}${name}-${randomBytes(4).toString('hex')}`);
    try {
      await fs.mkdir(temp, { mode: 0o701 });
      await fs.mkdir(path.join(temp, '_data'), { mode: 0o755 });
      await writeJsonAtomic(path.join(temp, 'opts.json'), { ...options });
      await fs.rename(temp, dir);
    } catch (err) {
      await fs.rm(temp, { recursive: true, force: true });
      // Made meanwhile by a concurrent create of the same name: that one stands.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        const made = await this.stat(name);
        if (made) return made;
      }
      throw err;
    }
    return (await this.stat(name))!;
  }

  async get(name: string): Promise<DriverVolume> {
    checkName(name);
    const found = await this.stat(name);
    if (!found) throw new NotFound(`get ${name}: no such volume`);
    return found;
  }

  async list(): Promise<DriverVolume[]> {
    const out: DriverVolume[] = [];
    for (const entry of await fs.readdir(this.root).catch(() => [] as string[])) {
      if (!VOLUME_NAME.test(entry)) continue;
      const found = await this.stat(entry);
      if (found) out.push(found);
    }
    return out;
  }

  async remove(name: string): Promise<void> {
    checkName(name);
    if (!(await this.stat(name))) throw new NotFound(`get ${name}: no such volume`);
    // Refuses (Conflict) while anything is mounted in it: a delete never goes through a mount.
    this.removal.remove(this.dirOf(name));
  }

  async mount(name: string, _ctx: VolumeMountContext): Promise<string> {
    const data = (await this.get(name)).mountpoint!;
    const opts = await this.optionsOf(name);
    if (opts && !isMountPoint(data)) mountSpec(localMountSpec(opts), data);
    return data;
  }

  async unmount(name: string, _ctx: VolumeMountContext): Promise<void> {
    const data = (await this.get(name)).mountpoint!;
    if ((await this.optionsOf(name)) && isMountPoint(data)) unmountAll(data);
  }

  /** Resolves once every removal started so far has finished deleting. */
  drain(): Promise<void> {
    return this.removal.drain();
  }

  /** The mount options a volume was created with; undefined for a plain directory. */
  private async optionsOf(name: string): Promise<LocalVolumeOptions | undefined> {
    const text = await fs.readFile(path.join(this.dirOf(name), 'opts.json'), 'utf8').catch(() => '{}');
    return parseLocalOptions(JSON.parse(text) as Record<string, string>);
  }

  private dirOf(name: string): string {
    return path.join(this.root, name);
  }

  private async stat(name: string): Promise<DriverVolume | undefined> {
    const data = path.join(this.dirOf(name), '_data');
    try {
      const st = await fs.lstat(data);
      if (!st.isDirectory()) return undefined;
      return { name, mountpoint: data, createdAt: st.birthtime.getTime() > 0 ? st.birthtime.toISOString() : st.ctime.toISOString() };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}

function checkName(name: string): void {
  if (!VOLUME_NAME.test(name) || name.includes('..')) throw new InvalidArgument(`invalid volume name ${JSON.stringify(name)}`);
}
