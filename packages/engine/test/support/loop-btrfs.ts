import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';

/** A btrfs filesystem of a test's own, loop-mounted, and how to let go of it. */
export interface LoopBtrfs {
  /** The loop device it is attached to. */
  readonly device: string;
  /** Unmount it (and what is mounted below it; lazily when busy) and detach the loop device. */
  release(): void;
}

/**
 * Make a btrfs image file `<dir>/btrfs.img` of `size` (truncate's syntax), attach it to a
 * loop device and mount it on `mountPoint` (made when missing). The caller calls
 * `release()` in its `finally` (or after hook), so a failing test leaves no mount and no
 * loop device.
 */
export function mountLoopBtrfs(dir: string, mountPoint: string, size = '256M'): LoopBtrfs {
  const image = path.join(dir, 'btrfs.img');
  execFileSync('truncate', ['-s', size, image]);
  execFileSync('mkfs.btrfs', ['-q', image], { stdio: 'ignore' });
  const device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
  try {
    mkdirSync(mountPoint, { recursive: true });
    execFileSync('mount', ['-t', 'btrfs', device, mountPoint]);
  } catch (err) {
    execFileSync('losetup', ['-d', device]);
    throw err;
  }
  return {
    device,
    release() {
      try {
        execFileSync('umount', ['-R', mountPoint]);
      } catch {
        execFileSync('umount', ['-R', '-l', mountPoint]);
      }
      execFileSync('losetup', ['-d', device]);
    },
  };
}
