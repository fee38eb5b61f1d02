import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { processAlive } from '@berth/core';

/** How long a restart waits for the berthd named by the pid file to finish exiting. */
export const defaultExitWaitMs = 15_000;

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (processAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

export interface PidfileOptions {
  /** Our pid (tests). */
  pid?: number;
  /** How long to wait for an exiting daemon; default 15 s. */
  exitWaitMs?: number;
  /** True when the process the file names is serving (it answers on our sockets): it is running, not exiting, and is refused at once. */
  serving?: () => Promise<boolean>;
  /** Called once when the wait begins, so the operator sees why start-up pauses. */
  onWait?: (pid: number, ms: number) => void;
}

/**
 * Writes our pid. A pid file naming a live process other than us means another berthd
 * (dockerd refuses the same way): refused at once when it still serves; when it no
 * longer does it is taken to be exiting (a restart right after SIGTERM, while it closes
 * the engine) and waited for, up to `exitWaitMs`, then refused naming the pid. A stale
 * file (no such process, or a zombie) is replaced.
 */
export async function writePidfile(file: string, options: PidfileOptions = {}): Promise<void> {
  const pid = options.pid ?? process.pid;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  let old: number | undefined;
  try {
    old = Number((await fs.readFile(file, 'utf8')).trim());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (old !== undefined && Number.isInteger(old) && old > 0 && old !== pid && processAlive(old)) {
    const refuse = (why: string) =>
      new Error(`pid file found, ensure berthd is not running or delete ${file} (it names running process ${old}${why})`);
    if (options.serving && (await options.serving())) throw refuse(', which is serving');
    const ms = options.exitWaitMs ?? defaultExitWaitMs;
    options.onWait?.(old, ms);
    if (!(await waitForExit(old, ms))) throw refuse(`, which did not exit within ${ms / 1000} s`);
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
