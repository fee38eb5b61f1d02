import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { runProgram, SystemError } from '@berth/volume-kit';

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

/**
 * Detaches `device` and waits until the kernel has let go of its file. The kernel may
 * finish a detach after `losetup -d` returns (a device still held a moment by the
 * unmount that preceded it is marked to detach itself; recent kernels tear it down
 * asynchronously): callers go on as if it were gone (a remove deletes the file, a
 * leak check looks), so it must be.
 */
export async function detachLoop(device: string): Promise<void> {
  const backing = `/sys/block/${path.basename(device)}/loop/backing_file`;
  const before = await fs.readFile(backing, 'utf8').catch(() => '');
  await runProgram('losetup', ['-d', device]);
  for (let waited = 0; waited < 5000; waited += 20) {
    const now = await fs.readFile(backing, 'utf8').catch(() => '');
    if (now === '' || now !== before) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new SystemError(`loop device ${device} is still attached to ${before.trim()} 5 s after its detach`);
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
