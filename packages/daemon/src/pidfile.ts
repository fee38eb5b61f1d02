import { promises as fs } from 'node:fs';
import * as path from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes our pid. A pid file naming a live process other than us means another berthd
 * (dockerd refuses the same way); a stale one is replaced.
 */
export async function writePidfile(file: string, pid = process.pid): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  try {
    const old = Number((await fs.readFile(file, 'utf8')).trim());
    if (Number.isInteger(old) && old > 0 && old !== pid && alive(old)) {
      throw new Error(`pid file found, ensure berthd is not running or delete ${file} (it names running process ${old})`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.writeFile(file, `${pid}\n`, { mode: 0o644 });
}

/** Removes the pid file if it is still ours. */
export async function removePidfile(file: string, pid = process.pid): Promise<void> {
  try {
    if (Number((await fs.readFile(file, 'utf8')).trim()) !== pid) return;
    await fs.rm(file, { force: true });
  } catch {
    // Already gone: nothing to do.
  }
}
