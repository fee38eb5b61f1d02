import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';

/**
 * A btrfs filesystem of a test's own: a sparse 2 GiB image file in
 * `/tmp/berth-unit-storage-btrfs-*`, made with mkfs.btrfs, attached to a loop device and
 * mounted on `<dir>/mnt`. `destroy()` unmounts it, detaches that loop device (by device,
 * never by file name) and deletes the directory; it is safe to call whatever state
 * `create` reached, and twice.
 */
export class LoopBtrfs {
  private device: string | undefined;
  private mounted = false;

  private constructor(
    readonly dir: string,
    readonly mountPoint: string,
  ) {}

  /** Where the filesystem will be mounted, known before it is: a tempPrefix can point into it. */
  static plan(): LoopBtrfs {
    const dir = mkdtempSync('/tmp/berth-unit-storage-btrfs-');
    const loop = new LoopBtrfs(dir, path.join(dir, 'mnt'));
    // A suite past its time limit exits without running its after hooks: the loop device must not outlive it.
    process.once('exit', () => {
      try {
        loop.destroy();
      } catch {
        // Reported by the runner's leak check, which sees the mount.
      }
    });
    return loop;
  }

  create(): void {
    const image = path.join(this.dir, 'btrfs.img');
    execFileSync('truncate', ['-s', '2G', image]);
    execFileSync('mkfs.btrfs', ['-q', image], { stdio: 'ignore' });
    this.device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
    mkdirSync(this.mountPoint);
    execFileSync('mount', ['-t', 'btrfs', this.device, this.mountPoint]);
    this.mounted = true;
  }

  destroy(): void {
    const errors: unknown[] = [];
    if (this.mounted) {
      try {
        // Recursive: a failed case may have left a bind mount inside.
        execFileSync('umount', ['-R', this.mountPoint]);
        this.mounted = false;
      } catch (err) {
        errors.push(err);
        try {
          execFileSync('umount', ['-R', '-l', this.mountPoint]);
          this.mounted = false;
        } catch (lazyErr) {
          errors.push(lazyErr);
        }
      }
    }
    if (this.device && !this.mounted) {
      try {
        execFileSync('losetup', ['-d', this.device]);
        waitDetached(this.device);
        this.device = undefined;
      } catch (err) {
        errors.push(err);
      }
    }
    if (!this.mounted) rmSync(this.dir, { recursive: true, force: true });
    if (errors.length > 0) throw errors[0];
  }
}

/**
 * `losetup -d` of a device whose filesystem the kernel is still releasing only marks it
 * for autoclear: wait (up to 5 s) until it has no backing file, so the runner's leak
 * check after the suite does not see it.
 */
function waitDetached(device: string): void {
  const backing = `/sys/block/${path.basename(device)}/loop/backing_file`;
  const until = Date.now() + 5000;
  while (existsSync(backing) && Date.now() < until) execFileSync('sleep', ['0.05']);
}
