import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { runProgram } from '@berth/volume-kit';

/** A loop device and the file it is attached to. */
export interface LoopDevice {
  readonly device: string;
  readonly file: string;
}

/**
 * Loop devices are machine-wide: what this driver attaches it detaches itself, always by
 * device (`losetup -d /dev/loopN`), never by a search that could take another user's.
 * Attaching is `losetup --find --show`, the kernel's atomic choice of a free device.
 */
export async function attachLoop(file: string): Promise<string> {
  return (await runProgram('losetup', ['--find', '--show', file])).trim();
}

export async function detachLoop(device: string): Promise<void> {
  await runProgram('losetup', ['-d', device]);
}

/**
 * The attached loop devices whose backing file is inside `dir` (from
 * /sys/block/loop*\/loop/backing_file; a deleted file shows as `<path> (deleted)`):
 * what a leak check or a restart's sweep looks for.
 */
export async function loopDevicesUnder(dir: string): Promise<LoopDevice[]> {
  const prefix = `${path.resolve(dir)}/`;
  const out: LoopDevice[] = [];
  for (const entry of await fs.readdir('/sys/block').catch(() => [] as string[])) {
    if (!entry.startsWith('loop')) continue;
    const backing = await fs.readFile(`/sys/block/${entry}/loop/backing_file`, 'utf8').catch(() => '');
    const file = backing.trim().replace(/ \(deleted\)$/, '');
    if (file.startsWith(prefix)) out.push({ device: `/dev/${entry}`, file });
  }
  return out;
}
