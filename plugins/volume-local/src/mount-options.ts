import * as path from 'node:path';
import { InvalidArgument, type MountSpec } from '@berth/core';

/**
 * The `-o` options of Docker's local driver: `type` (a filesystem type, `tmpfs`, or `none`
 * for a bind), `device` (what to mount: a host path for a bind, `tmpfs`, a block device)
 * and `o` (mount(8) options: `bind`, `ro`, `size=64m`, `uid=1000`, ...). Given any of
 * them, the volume is a mount on its `_data` made when it is mounted for a container,
 * not a plain directory.
 */
export interface LocalVolumeOptions {
  type: string;
  device: string;
  o: string[];
}

const KEYS = new Set(['type', 'device', 'o']);

/** mount(8) words without a value that the kernel takes as flags (or tmpfs as options). */
const FLAG_WORDS = new Set([
  'bind',
  'rbind',
  'ro',
  'rw',
  'nosuid',
  'suid',
  'nodev',
  'dev',
  'noexec',
  'exec',
  'noatime',
  'atime',
  'nodiratime',
  'diratime',
  'relatime',
  'norelatime',
  'strictatime',
  'sync',
  'async',
  'dirsync',
  'defaults',
]);

/** Words with a value, and what the value must look like (a number, a size, an octal mode). */
const VALUE_WORDS: Record<string, RegExp> = {
  size: /^\d+[kmgKMG%]?$/,
  nr_inodes: /^\d+[kmgKMG]?$/,
  nr_blocks: /^\d+[kmgKMG]?$/,
  uid: /^\d+$/,
  gid: /^\d+$/,
  mode: /^[0-7]{3,4}$/,
};

/**
 * Check a create's options; undefined for none (a plain directory). Every problem is an
 * InvalidArgument naming the option: an unknown key, a `type` or `device` without the
 * other, an unknown or malformed `o` word, a bind whose device is not an absolute path.
 */
export function parseLocalOptions(options: Readonly<Record<string, string>>): LocalVolumeOptions | undefined {
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) throw new InvalidArgument(`invalid option for the local volume driver: ${JSON.stringify(key)}`);
  }
  if (Object.keys(options).length === 0) return undefined;
  const type = options.type ?? '';
  const device = options.device ?? '';
  if (type === '') throw new InvalidArgument('the local volume driver needs the option "type" with "device" and "o"');
  if (device === '') throw new InvalidArgument('the local volume driver needs the option "device" with "type"');
  if (!/^[a-z0-9_.]+$/.test(type)) throw new InvalidArgument(`invalid option type=${JSON.stringify(type)} for the local volume driver`);
  const o = (options.o ?? '').split(',').filter((w) => w !== '');
  for (const word of o) {
    const eq = word.indexOf('=');
    if (eq < 0) {
      if (!FLAG_WORDS.has(word)) throw new InvalidArgument(`invalid mount option o=${word} for the local volume driver`);
      continue;
    }
    const key = word.slice(0, eq);
    const pattern = VALUE_WORDS[key];
    if (!pattern) throw new InvalidArgument(`invalid mount option o=${word} for the local volume driver`);
    if (!pattern.test(word.slice(eq + 1))) throw new InvalidArgument(`invalid value in mount option o=${word} for the local volume driver`);
  }
  const bind = o.includes('bind') || o.includes('rbind');
  if (bind && !path.isAbsolute(device)) {
    throw new InvalidArgument(`invalid option device=${JSON.stringify(device)}: a bind needs an absolute host path`);
  }
  return { type, device, o };
}

/** The mount that makes the volume's `_data`. */
export function localMountSpec(opts: LocalVolumeOptions): MountSpec {
  return { type: opts.type, source: opts.device, options: opts.o };
}
