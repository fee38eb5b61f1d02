import { randomBytes } from 'node:crypto';
import { promises as fs, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { isPluginSkipped, PluginSkipped } from '@berth/core';

/** What init learnt about overlayfs on this host. */
export interface OverlaySupport {
  /** Options added to every overlay mount to pin features the module may enable by default. */
  extraOptions: string[];
  /** Whether overlay takes the `volatile` mount option here (Linux 5.10+). */
  volatile: boolean;
}

/**
 * Module parameters that, when on by default, make layers that are unsafe to share or
 * to export as tar diffs: `index` ties a lower layer to one upper (mounting it under
 * another upper then fails), `redirect_dir` and `metacopy` store renames and metadata-
 * only copies as xattrs that a plain walk of the upper layer does not see. Docker turns
 * them off the same way; we pass `=off` only when the module's default is on, to keep
 * the mount data (limited to one page) short.
 */
const pinnedOff = ['index', 'redirect_dir', 'metacopy'];

/** Characters that cannot appear in an overlay lowerdir/upperdir given as mount(2) data. */
const unusablePathChars = /[,:\\]/;

/**
 * Decide whether overlay works under `root`, by mounting one: the kernel must know
 * overlayfs, and the filesystem under `root` must serve as an upper layer (xattrs,
 * d_type, O_TMPFILE; overlay on overlay, for one, does not). Throws PluginSkipped with
 * the reason otherwise. The probe lives in `root/.probe-*` and is unmounted and removed
 * whatever happens; leftovers of an earlier crash are cleaned first.
 */
export async function probeOverlay(root: string): Promise<OverlaySupport> {
  if (unusablePathChars.test(root)) {
    throw new PluginSkipped(`overlay: the data root ${root} contains one of , : \\ which overlay mount options cannot carry`);
  }
  const filesystems = await fs.readFile('/proc/filesystems', 'utf8');
  if (!/\toverlay$/m.test(filesystems)) {
    throw new PluginSkipped('overlay: the kernel does not support overlayfs (no "overlay" in /proc/filesystems)');
  }
  let native: typeof import('@berth/native');
  try {
    // Loaded here, not at the top, so a missing addon makes the plugin skip with the reason.
    native = require('@berth/native') as typeof import('@berth/native');
  } catch (err) {
    throw new PluginSkipped(`overlay: cannot mount without @berth/native: ${(err as Error).message}`);
  }

  for (const stale of (await fs.readdir(root)).filter((n) => n.startsWith('.probe-'))) {
    native.unmountAll(path.join(root, stale, 'merged'));
    await fs.rm(path.join(root, stale), { recursive: true, force: true });
  }
  let extraOptions: string[] = [];
  let volatile = false;
  const probe = path.join(root, `.probe-${randomBytes(4).toString('hex')}`);
  const dir = (name: string) => path.join(probe, name);
  try {
    for (const name of ['lower1', 'lower2', 'upper', 'work', 'merged']) await fs.mkdir(dir(name), { recursive: true });
    await fs.writeFile(path.join(dir('lower1'), 'a'), 'a');
    await fs.writeFile(path.join(dir('lower2'), 'b'), 'b');
    native.mountAll(
      [
        {
          type: 'overlay',
          source: 'overlay',
          options: [`lowerdir=${dir('lower2')}:${dir('lower1')}`, `upperdir=${dir('upper')}`, `workdir=${dir('work')}`],
        },
      ],
      dir('merged'),
    );
    await fs.writeFile(path.join(dir('merged'), 'c'), 'c');
    await fs.rm(path.join(dir('merged'), 'a'));
    const upper = await fs.readdir(dir('upper'));
    const merged = (await fs.readdir(dir('merged'))).sort();
    if (merged.join() !== 'b,c' || !upper.includes('c') || !upper.includes('a')) {
      throw new Error(`the merged view shows [${merged.join(', ')}] and the upper [${upper.join(', ')}]`);
    }
    // Read only now: the module's parameters appear once the mount has loaded it.
    extraOptions = await pinnedOptions();
    volatile = probeVolatile(native, dir);
  } catch (err) {
    if (isPluginSkipped(err)) throw err;
    throw new PluginSkipped(`overlay: a test mount under ${root} failed: ${(err as Error).message}`);
  } finally {
    native.unmountAll(dir('merged'));
    await fs.rm(probe, { recursive: true, force: true });
  }
  return { extraOptions, volatile };
}

/** Whether a `volatile` overlay mounts (a kernel without it refuses the unknown option). */
function probeVolatile(native: typeof import('@berth/native'), dir: (name: string) => string): boolean {
  const target = dir('volatile-merged');
  try {
    for (const name of ['volatile-upper', 'volatile-work', 'volatile-merged']) mkdirSync(dir(name));
    native.mountAll(
      [
        {
          type: 'overlay',
          source: 'overlay',
          options: [`lowerdir=${dir('lower1')}`, `upperdir=${dir('volatile-upper')}`, `workdir=${dir('volatile-work')}`, 'volatile'],
        },
      ],
      target,
    );
    return true;
  } catch {
    return false;
  } finally {
    native.unmountAll(target);
  }
}

async function pinnedOptions(): Promise<string[]> {
  const options: string[] = [];
  for (const name of pinnedOff) {
    const value = await fs.readFile(`/sys/module/overlay/parameters/${name}`, 'utf8').catch(() => 'N');
    if (value.trim() === 'Y') options.push(`${name}=off`);
  }
  return options;
}
