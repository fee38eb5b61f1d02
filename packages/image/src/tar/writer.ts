import { Readable } from 'node:stream';
import type { TarEntryType } from './entry.js';
import { tarHeader } from './header.js';
import { encodePax } from './pax.js';

/** One entry to write. Only `path` and `type` are required. */
export interface TarWriteEntry {
  path: string;
  type: TarEntryType;
  /** Permission bits (default 0644 for files, 0755 for directories, 0777 for symlinks). */
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Default: the epoch, so archives are reproducible unless asked otherwise. */
  mtime?: Date;
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
  /** The content of a file; `size` is required with a stream, and the stream must match it. */
  body?: Uint8Array | string | AsyncIterable<Uint8Array> | (() => Promise<AsyncIterable<Uint8Array>>);
  size?: number;
  xattrs?: Record<string, string | Uint8Array>;
}

const blockSize = 512;
const typeName: Record<TarEntryType, string> = {
  file: 'File',
  directory: 'Directory',
  symlink: 'SymbolicLink',
  hardlink: 'Link',
  'char-device': 'CharacterDevice',
  'block-device': 'BlockDevice',
  fifo: 'FIFO',
};

/**
 * Write a tar stream (POSIX ustar, with a pax header when a name, a number or an
 * xattr does not fit) from entries produced lazily: bodies are pulled one at a time,
 * so an archive of many large layers streams in constant memory. Deterministic: the
 * same entries give the same bytes. Ends with the two end-of-archive blocks.
 */
export function writeTar(entries: Iterable<TarWriteEntry> | AsyncIterable<TarWriteEntry>): Readable {
  return Readable.from(tarChunks(entries), { objectMode: false });
}

/** The chunks of `writeTar`, for callers that compose generators. */
export async function* tarChunks(entries: Iterable<TarWriteEntry> | AsyncIterable<TarWriteEntry>): AsyncGenerator<Buffer> {
  let paxCount = 0;
  for await (const entry of entries) {
    let body: Iterable<Uint8Array> | AsyncIterable<Uint8Array> | undefined;
    let size = 0;
    if (entry.type === 'file') {
      if (entry.body === undefined || typeof entry.body === 'string' || entry.body instanceof Uint8Array) {
        const bytes = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body);
        size = bytes.length;
        body = [bytes];
      } else {
        if (entry.size === undefined) throw new Error(`tar entry ${entry.path}: size is required with a streamed body`);
        size = entry.size;
        body = typeof entry.body === 'function' ? await entry.body() : entry.body;
      }
    }
    const mtime = entry.mtime ?? new Date(0);
    const header = new (tarHeader())({
      path: entry.path,
      type: typeName[entry.type] as never,
      mode: entry.mode ?? (entry.type === 'directory' ? 0o755 : entry.type === 'symlink' ? 0o777 : 0o644),
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      size,
      mtime: new Date(Math.floor(mtime.getTime() / 1000) * 1000),
      linkpath: entry.linkpath ?? '',
      uname: entry.uname ?? '',
      gname: entry.gname ?? '',
      devmaj: entry.devmajor ?? 0,
      devmin: entry.devminor ?? 0,
    });
    const block = Buffer.alloc(blockSize);
    const needPax = header.encode(block, 0) || (entry.xattrs !== undefined && Object.keys(entry.xattrs).length > 0);
    if (needPax) {
      const records: Array<[string, string | Uint8Array]> = [['path', entry.path]];
      if (entry.linkpath) records.push(['linkpath', entry.linkpath]);
      records.push(['size', String(size)], ['uid', String(entry.uid ?? 0)], ['gid', String(entry.gid ?? 0)]);
      for (const [k, v] of Object.entries(entry.xattrs ?? {})) records.push([`SCHILY.xattr.${k}`, v]);
      const data = encodePax(records);
      const paxHeader = new (tarHeader())({
        path: `PaxHeaders.${paxCount++}/${entry.path.replace(/\/+$/, '').split('/').pop()!.slice(0, 80)}`,
        type: 'ExtendedHeader',
        mode: 0o644,
        size: data.length,
        mtime: header.mtime!,
        uid: 0,
        gid: 0,
      });
      const paxBlock = Buffer.alloc(blockSize);
      paxHeader.encode(paxBlock, 0);
      yield paxBlock;
      yield data;
      const pad = padding(data.length);
      if (pad.length > 0) yield pad;
    }
    yield block;
    if (body !== undefined) {
      let written = 0;
      for await (const chunk of body) {
        written += chunk.length;
        if (written > size) throw new Error(`tar entry ${entry.path}: body is longer than its size ${size}`);
        if (chunk.length > 0) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
      if (written !== size) throw new Error(`tar entry ${entry.path}: body has ${written} bytes, size says ${size}`);
      const pad = padding(size);
      if (pad.length > 0) yield pad;
    }
  }
  yield Buffer.alloc(blockSize * 2);
}

function padding(size: number): Buffer {
  return Buffer.alloc((blockSize - (size % blockSize)) % blockSize);
}
