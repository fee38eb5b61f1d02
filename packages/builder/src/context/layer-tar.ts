import { closeSync, constants, createReadStream, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { type TarWriteEntry, writeTar } from '@berth/image';
import { getXattr } from '@berth/native';
import { copiedXattrs } from './copy-writer.js';
import { specialFileEntry } from './special-file-entry.js';

/** Files up to this size are read with one synchronous call. */
const syncReadLimit = 1 << 20;

/** Options of `writeLayerTar`. */
export interface LayerTarOptions {
  /**
   * `SOURCE_DATE_EPOCH` in seconds: every mtime later than it is written as it, so a
   * rebuild at another time gives the same bytes. Without it mtimes are kept (seconds).
   */
  sourceDateEpoch?: number;
}

/**
 * The layer tar of the directory `dir` (a step's changes), written so that the same tree
 * gives the same bytes whenever and wherever it was made: entries in byte order of
 * their names (a directory before what is in it), names relative (`a/b`, directories
 * `a/`), mtimes in whole seconds clamped to `sourceDateEpoch`, no atime or ctime,
 * numeric uid/gid without user or group names, permission bits with setuid/setgid/sticky,
 * `security.capability` as the pax `SCHILY.xattr` record (the one xattr Docker keeps),
 * hardlinks as links to the first name in that order, pax headers only when a value
 * does not fit ustar and then named `PaxHeaders.<n>/<base>` (`@berth/image`'s writer).
 * Sockets, which a tar cannot hold, are left out. The stream reads each file when it
 * gets to it; `dir` must not change meanwhile.
 */
export function writeLayerTar(dir: string, options: LayerTarOptions = {}): Readable {
  return writeTar(layerEntries(dir, options));
}

function* layerEntries(dir: string, options: LayerTarOptions): Generator<TarWriteEntry> {
  const links = new Map<string, string>();
  const clamp = (st: Stats): Date => {
    const seconds = Math.floor(st.mtimeMs / 1000);
    const epoch = options.sourceDateEpoch;
    return new Date((epoch !== undefined && seconds > epoch ? epoch : seconds) * 1000);
  };
  function* walk(rel: string): Generator<TarWriteEntry> {
    const names = readdirSync(path.join(dir, rel)).sort(byBytes);
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const host = path.join(dir, childRel);
      const st = lstatSync(host);
      const common = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: clamp(st) };
      if (st.isDirectory()) {
        yield { ...common, path: `${childRel}/`, type: 'directory', xattrs: xattrsOf(host) };
        yield* walk(childRel);
        continue;
      }
      if (st.isSymbolicLink()) {
        yield { ...common, path: childRel, type: 'symlink', linkpath: readlinkSync(host) };
        continue;
      }
      if (st.isSocket()) continue;
      if (st.nlink > 1 && !st.isDirectory()) {
        const key = `${st.dev}:${st.ino}`;
        const first = links.get(key);
        if (first !== undefined) {
          yield { ...common, path: childRel, type: 'hardlink', linkpath: first };
          continue;
        }
        links.set(key, childRel);
      }
      if (st.isFile()) {
        yield { ...common, path: childRel, type: 'file', size: st.size, xattrs: xattrsOf(host), body: async () => fileBody(host, st.size) };
      } else {
        const special = specialFileEntry(st, childRel, common);
        if (special) yield special;
      }
    }
  }
  yield* walk('');
}

/** Names compared as UTF-8 bytes, the order Go's and GNU tar's sorted writers agree on. */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function xattrsOf(host: string): Record<string, Uint8Array> | undefined {
  let xattrs: Record<string, Uint8Array> | undefined;
  for (const name of copiedXattrs) {
    const value = getXattr(host, name);
    if (value === null) continue;
    xattrs ??= {};
    xattrs[name] = Buffer.from(value, 'latin1');
  }
  return xattrs;
}

/** The file's bytes, exactly `size` of them (the header's promise), read when the writer gets to it. */
async function* fileBody(host: string, size: number): AsyncGenerator<Uint8Array> {
  if (size === 0) return;
  const fd = openSync(host, constants.O_RDONLY | constants.O_NOFOLLOW);
  let read = 0;
  try {
    if (size <= syncReadLimit) {
      // A small file costs more in thread-pool round trips than in reading: one synchronous read.
      const bytes = Buffer.allocUnsafe(size);
      while (read < size) {
        const n = readSync(fd, bytes, read, size - read, read);
        if (n === 0) break;
        read += n;
      }
      yield bytes.subarray(0, read);
      if (read < size) yield Buffer.alloc(size - read);
      return;
    }
    for await (const chunk of createReadStream('', { fd, autoClose: false, start: 0, end: size - 1, highWaterMark: 1 << 20 })) {
      read += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  } finally {
    closeSync(fd);
  }
  if (read < size) yield Buffer.alloc(size - read);
}
