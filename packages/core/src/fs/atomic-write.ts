import { randomBytes } from 'node:crypto';
import { closeSync, fsync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Write `data` to `file` so that a crash leaves either the old content or the new,
 * never a mix: write a temporary file beside it, fsync it, rename it over, fsync the
 * directory. Every state record of berth is written this way.
 *
 * The two fsyncs, which wait for the disk, run on libuv's threadpool; the steps that
 * only touch the page cache (open, write, close, rename of a small file: microseconds)
 * run inline. Done all asynchronously, the eight round trips through the threadpool
 * queued behind whatever else it was doing (a removal's background deletes, a layer
 * being unpacked) and made one record write take 2-4 ms on the path of `run --rm`.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(tmp, 'wx', mode);
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    await fsyncFd(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/**
 * Delete the temporary files that `writeFileAtomic(file, …)` calls cut short by a crash
 * left beside `file` (`.<name>.<random>.tmp`): the write they belonged to never happened,
 * and `file` holds the state before it. For an owner to call when it opens its state.
 */
export async function removeAtomicLeftovers(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of names) {
    if (name.startsWith(prefix) && name.endsWith('.tmp') && /^[0-9a-f]{12}$/.test(name.slice(prefix.length, -4))) {
      rmSync(path.join(dir, name), { force: true });
    }
  }
}

/** `writeFileAtomic` of a value as pretty JSON. */
export function writeJsonAtomic(file: string, value: unknown, mode = 0o600): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/** fsync a directory, so a rename or unlink inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}
