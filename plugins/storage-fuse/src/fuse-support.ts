import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PluginSkipped } from '@berth/core';
import { loadFuse } from './fuse-binding.js';
import { helperCommand } from './helper-command.js';

/** Characters a lowerdir/upperdir cannot hold: the helper's options are split on `,` and lowerdir on `:`. */
const unusablePathChars = /[,:]/;

/** How long the probe waits for the helper's `ready` line. */
const PROBE_READY_MS = 10_000;

/** Whether `name` is an executable file in a directory of PATH. */
async function onPath(name: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    try {
      await fs.access(path.join(dir, name), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

/**
 * Decide whether the union filesystem can serve mounts under `root`, and throw
 * PluginSkipped with the reason when not: no /dev/fuse (or not openable), no
 * fusermount (libfuse needs it for auto_unmount, which keeps a dead helper from leaving
 * "Transport endpoint is not connected"), the patched fuse-native not built or
 * libfuse.so.2 missing, a data root path the helper's options cannot carry, or a real
 * test mount through the helper that fails. The probe's directories live in
 * `root/.probe-*` and are removed whatever happens.
 */
export async function probeFuse(root: string): Promise<void> {
  if (unusablePathChars.test(root))
    throw new PluginSkipped(`fuse: the data root ${root} contains , or : which the mount helper's options cannot carry`);
  try {
    const handle = await fs.open('/dev/fuse', 'r+');
    await handle.close();
  } catch (err) {
    throw new PluginSkipped(`fuse: cannot open /dev/fuse: ${(err as Error).message} (no FUSE in this kernel or container)`);
  }
  if (!(await onPath('fusermount')) && !(await onPath('fusermount3'))) {
    throw new PluginSkipped('fuse: no fusermount or fusermount3 on PATH (Debian: apt-get install fuse3)');
  }
  try {
    loadFuse();
  } catch (err) {
    throw new PluginSkipped(`fuse: cannot load the patched fuse-native and libfuse.so.2: ${(err as Error).message}`);
  }
  for (const stale of (await fs.readdir(root)).filter((n) => n.startsWith('.probe-'))) {
    await fs.rm(path.join(root, stale), { recursive: true, force: true }).catch(() => undefined);
  }
  const probe = path.join(root, `.probe-${randomBytes(4).toString('hex')}`);
  const dir = (name: string) => path.join(probe, name);
  try {
    for (const name of ['lower', 'upper', 'work', 'merged']) await fs.mkdir(dir(name), { recursive: true });
    await fs.writeFile(path.join(dir('lower'), 'a'), 'a');
    await withHelper(dir('merged'), [`lowerdir=${dir('lower')}`, `upperdir=${dir('upper')}`, `workdir=${dir('work')}`], async () => {
      await fs.writeFile(path.join(dir('merged'), 'b'), 'b');
      await fs.rm(path.join(dir('merged'), 'a'));
      const upper = (await fs.readdir(dir('upper'))).sort();
      const merged = await fs.readdir(dir('merged'));
      if (merged.join() !== 'b' || upper.join() !== 'a,b') {
        throw new Error(`the merged view shows [${merged.join(', ')}] and the upper [${upper.join(', ')}]`);
      }
    });
  } catch (err) {
    throw new PluginSkipped(`fuse: a test mount under ${root} failed: ${(err as Error).message}`);
  } finally {
    await fs.rm(probe, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Run the mount helper on `target`, wait for `ready`, run `body`, then SIGTERM it and wait for its exit. */
async function withHelper(target: string, options: string[], body: () => Promise<void>): Promise<void> {
  const [file, ...prefix] = helperCommand();
  const child = spawn(file!, [...prefix, 'berth-fuse-probe', target, '-o', options.join(',')], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the mount helper gave no "ready" in ${PROBE_READY_MS} ms: ${stderr.trim()}`)),
        PROBE_READY_MS,
      );
      const ready = child.stdio[3] as NodeJS.ReadableStream;
      let line = '';
      ready.on('data', (d: Buffer) => {
        line += d.toString();
        if (line.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the mount helper exited with status ${code}: ${stderr.trim()}`));
      });
    });
    await body();
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}
