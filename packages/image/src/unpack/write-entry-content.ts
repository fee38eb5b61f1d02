import { closeSync, fchmodSync, fchownSync, futimesSync, write, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import type { TarEntry } from '../tar/entry.js';

/** Files larger than this write their data through the thread pool. */
const asyncWriteThreshold = 1 << 20;

const writeAsync = promisify(write);

/**
 * Write a regular file's tar entry to `fd`, the file just made for it: its content, then
 * its owner (when `sameOwner`), mode and times, then `finish(fd)` (what else the caller
 * sets through the descriptor: the engine's extended attributes), and close `fd` whatever
 * happens. Resolves with the bytes written. Small files (most of a layer) are written
 * with synchronous calls: through the thread pool, the write round trips cost more than
 * the work. Large ones write their data asynchronously, so a slow disk does not stall
 * the event loop. Used by applyLayer and the engine's descriptor-only extraction.
 */
export async function writeEntryContent(fd: number, entry: TarEntry, sameOwner: boolean, finish?: (fd: number) => void): Promise<number> {
  let size = 0;
  try {
    for await (const chunk of entry.body) {
      let offset = 0;
      while (offset < chunk.length) {
        offset +=
          entry.size > asyncWriteThreshold
            ? (await writeAsync(fd, chunk, offset, chunk.length - offset, null)).bytesWritten
            : writeSync(fd, chunk, offset, chunk.length - offset);
      }
      size += chunk.length;
    }
    // chown before chmod: chown clears setuid/setgid bits (and a file capability, so one is set last).
    if (sameOwner) fchownSync(fd, entry.uid, entry.gid);
    fchmodSync(fd, entry.mode);
    futimesSync(fd, entry.atime ?? entry.mtime, entry.mtime);
    finish?.(fd);
  } finally {
    closeSync(fd);
  }
  return size;
}
