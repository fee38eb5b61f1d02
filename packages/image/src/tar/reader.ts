import { InvalidArgument } from '@berth/core';
import { asyncBytes, type ByteSource } from '../byte-source.js';
import { ByteReader } from './byte-reader.js';
import type { TarEntry, TarEntryType } from './entry.js';
import { type DecodedHeader, decodeHeader } from './header.js';
import { type PaxRecords, parsePax } from './pax.js';

/** Options of `readTar`. */
export interface ReadTarOptions {
  /**
   * Keep reading after the end-of-archive blocks until the stream ends (default true).
   * A layer's diffID covers every byte of the uncompressed stream, padding included,
   * so whoever hashes the stream needs all of it consumed.
   */
  drain?: boolean;
  /**
   * Most bytes accepted after the end-of-archive blocks (default 1 MiB). Writers pad to
   * a record (10 KiB for GNU tar); a stream that goes on for gigabytes after its end (a
   * gzip of zeros) is refused instead of being read through.
   */
  maxTrailingBytes?: number;
}

/** Pax and GNU long-name bodies larger than this are refused rather than buffered... */
const maxMetaSize = 1 << 20;
/** ...and so are more than this in all before one entry (a run of extended headers). */
const maxMetaTotal = 4 << 20;
const defaultMaxTrailing = 1 << 20;
const blockSize = 512;

const typeByFlag: Record<string, TarEntryType> = {
  '0': 'file',
  '': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char-device',
  '4': 'block-device',
  '5': 'directory',
  D: 'directory',
  '6': 'fifo',
};

/**
 * Read a tar stream entry by entry (ustar, pax, GNU long names; the formats Docker,
 * Podman, GNU tar and npm tar write). Each entry's body is a stream of its own, read
 * straight from the input: nothing is buffered beyond a chunk, so the consumer's pace
 * is the reader's pace. A stream that ends on an entry boundary without end-of-archive
 * blocks is accepted (the docker CLI sends such tars); one that ends inside an entry
 * is an InvalidArgument, as is a header with a bad checksum or an entry type berth
 * does not handle (sparse files, tape volumes).
 */
export async function* readTar(source: ByteSource, options: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(asyncBytes(source)[Symbol.asyncIterator]());
  let globalPax: PaxRecords = new Map();
  let pax: PaxRecords | undefined;
  let longPath: string | undefined;
  let longLink: string | undefined;
  // Bytes of extended headers held for the next entry, and of global ones held for all.
  let metaHeld = 0;
  let globalHeld = 0;
  try {
    for (;;) {
      const offset = reader.position;
      const block = await reader.read(blockSize);
      if (block.length === 0) break;
      if (block.length < blockSize) throw new InvalidArgument(`invalid tar: stream ends inside the header at byte ${offset}`);
      if (isZeroBlock(block)) break;
      let header: DecodedHeader;
      try {
        header = decodeHeader(block);
      } catch (err) {
        headerNumber(block, 124, 12, offset); // its message, when the size is what is wrong
        throw new InvalidArgument(`invalid tar: unreadable header at byte ${offset}: ${(err as Error).message}`);
      }
      if (!header.cksumValid) throw new InvalidArgument(`invalid tar: header checksum mismatch at byte ${offset}`);
      const flag = block[156] === 0 ? '' : String.fromCharCode(block[156]!);
      // The size field as written: npm's codec zeroes it when the 100-byte name field
      // happens to end in "/" (it then takes a file for an old-style directory), even when
      // a GNU long name or pax path gives the real name, and the body would be misread.
      const headerSize = headerNumber(block, 124, 12, offset);
      if (flag === 'x' || flag === 'X' || flag === 'g' || flag === 'L' || flag === 'K') {
        const data = await readMeta(reader, headerSize, offset);
        if (flag === 'g') globalHeld += data.length;
        else metaHeld += data.length;
        if (metaHeld > maxMetaTotal || globalHeld > maxMetaTotal) {
          throw new InvalidArgument(`invalid tar: extended headers before byte ${reader.position} exceed ${maxMetaTotal} bytes`);
        }
        if (flag === 'x' || flag === 'X') pax = mergeRecords(pax ?? new Map(), parsePax(data, `at byte ${offset}`));
        else if (flag === 'g') globalPax = mergeRecords(globalPax, parsePax(data, `at byte ${offset}`));
        else if (flag === 'L') longPath = cString(data);
        else longLink = cString(data);
        continue;
      }
      const path = text(pax, 'path') ?? longPath ?? header.path ?? '';
      // Old (pre-POSIX) tars mark a directory as a NUL-type file named with a trailing
      // "/"; Go's archive/tar (Docker's reader) reads it so, only for that type flag.
      const type = flag === '' && path.endsWith('/') ? 'directory' : typeByFlag[flag];
      if (type === undefined) {
        throw new InvalidArgument(`invalid tar: unsupported entry type ${JSON.stringify(flag)} for ${JSON.stringify(path)}`);
      }
      const value = (key: string): Buffer | undefined => pax?.get(key) ?? globalPax.get(key);
      // Pax numbers are decimal (Go's archive/tar refuses the rest too): no hex, exponents,
      // signs or blanks; ids and device numbers fit in 32 bits, times in a Date.
      const num = (key: string): number | undefined => {
        const v = value(key);
        if (v === undefined) return undefined;
        const s = v.toString('latin1');
        const n = Number(s);
        if (!/^[0-9]{1,10}$/.test(s) || n > 0xfffffffe) {
          throw new InvalidArgument(`invalid tar: pax ${key} of ${JSON.stringify(path)} is not a valid number: ${JSON.stringify(s)}`);
        }
        return n;
      };
      const time = (key: string): Date | undefined => {
        const v = value(key);
        if (v === undefined) return undefined;
        const s = v.toString('latin1');
        const date = new Date(Number(s) * 1000);
        if (!/^-?[0-9]{1,15}(\.[0-9]{1,9})?$/.test(s) || Number.isNaN(date.getTime())) {
          throw new InvalidArgument(`invalid tar: pax ${key} of ${JSON.stringify(path)} is not a valid time: ${JSON.stringify(s)}`);
        }
        return date;
      };
      // Like Go's archive/tar (what Docker reads with), only files and GNU dump dirs have
      // bodies; a size from a global pax header would be meaningless, so only a local one counts.
      const paxSize = pax?.get('size')?.toString('latin1');
      if (paxSize !== undefined && !/^[0-9]{1,16}$/.test(paxSize)) {
        throw new InvalidArgument(`invalid tar: pax size of ${JSON.stringify(path)} is not a valid number: ${JSON.stringify(paxSize)}`);
      }
      const bodySize = flag === 'D' ? headerSize : type === 'file' ? (paxSize !== undefined ? Number(paxSize) : headerSize) : 0;
      if (!Number.isSafeInteger(bodySize) || bodySize < 0) throw new InvalidArgument(`invalid tar: bad size for ${JSON.stringify(path)}`);
      const xattrs = new Map<string, Buffer>();
      for (const records of [globalPax, pax ?? new Map<string, Buffer>()]) {
        for (const [k, v] of records) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
      }
      if (value('GNU.sparse.major') !== undefined || value('GNU.sparse.size') !== undefined) {
        throw new InvalidArgument(`invalid tar: sparse file ${JSON.stringify(path)} is not supported`);
      }
      const linkpath = type === 'symlink' || type === 'hardlink' ? (text(pax, 'linkpath') ?? longLink ?? header.linkpath ?? '') : undefined;
      const entrySize = type === 'file' ? bodySize : 0;
      const body = new EntryBody(reader, bodySize, path);
      const entry: TarEntry = {
        path,
        type,
        mode: (num('mode') ?? header.mode ?? 0) & 0o7777,
        uid: num('uid') ?? header.uid ?? 0,
        gid: num('gid') ?? header.gid ?? 0,
        size: entrySize,
        mtime: time('mtime') ?? header.mtime ?? new Date(0),
        devmajor: num('SCHILY.devmajor') ?? header.devmaj ?? 0,
        devminor: num('SCHILY.devminor') ?? header.devmin ?? 0,
        xattrs,
        body: type === 'file' ? body : emptyBody(),
      };
      for (const [what, n] of [
        ['uid', entry.uid],
        ['gid', entry.gid],
        ['device major', entry.devmajor],
        ['device minor', entry.devminor],
      ] as const) {
        if (!Number.isSafeInteger(n) || n < 0 || n > 0xfffffffe) {
          throw new InvalidArgument(`invalid tar: ${what} of ${JSON.stringify(path)} is out of range: ${n}`);
        }
      }
      const uname = text(pax, 'uname') ?? text(globalPax, 'uname') ?? header.uname;
      const gname = text(pax, 'gname') ?? text(globalPax, 'gname') ?? header.gname;
      if (uname) entry.uname = uname;
      if (gname) entry.gname = gname;
      const atime = time('atime');
      if (atime) entry.atime = atime;
      if (linkpath !== undefined) {
        if (linkpath === '') throw new InvalidArgument(`invalid tar: link ${JSON.stringify(path)} has no target`);
        entry.linkpath = linkpath;
      }
      if (path === '') throw new InvalidArgument(`invalid tar: entry at byte ${offset} has no name`);
      if (path.includes('\0') || linkpath?.includes('\0')) {
        throw new InvalidArgument(`invalid tar: entry at byte ${offset} has a NUL byte in its name or link target`);
      }
      pax = undefined;
      metaHeld = 0;
      longPath = undefined;
      longLink = undefined;
      yield entry;
      await body.finish();
    }
    if (options.drain !== false) {
      const limit = options.maxTrailingBytes ?? defaultMaxTrailing;
      const trailing = await reader.drain(limit);
      if (trailing > limit) {
        throw new InvalidArgument(
          `invalid tar: more than ${limit} bytes follow the end of the archive at byte ${reader.position - trailing}`,
        );
      }
    }
  } finally {
    await reader.close();
  }
}

/** The body of one entry: a single-use stream over the next `size` bytes, then padding. */
class EntryBody implements AsyncIterable<Buffer> {
  private remaining: number;
  private finished = false;
  private started = false;

  constructor(
    private readonly reader: ByteReader,
    private readonly size: number,
    private readonly path: string,
  ) {
    this.remaining = size;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.started) throw new Error(`tar entry ${this.path}: body read twice`);
    this.started = true;
    while (this.remaining > 0) {
      if (this.finished) throw new Error(`tar entry ${this.path}: body read after the next entry`);
      const chunk = await this.reader.readSome(this.remaining);
      if (chunk.length === 0) throw this.truncated();
      this.remaining -= chunk.length;
      yield chunk;
    }
  }

  /** Skip what the consumer did not read, and the padding to the next block. */
  async finish(): Promise<void> {
    this.finished = true;
    const padding = (blockSize - (this.size % blockSize)) % blockSize;
    const want = this.remaining + padding;
    const skipped = await this.reader.skip(want);
    // A stream may end right after the last body byte (no padding, no end blocks).
    if (skipped < this.remaining) throw this.truncated();
    this.remaining = 0;
  }

  private truncated(): InvalidArgument {
    return new InvalidArgument(`invalid tar: stream ends inside ${JSON.stringify(this.path)} (${this.size} bytes expected)`);
  }
}

async function* emptyBody(): AsyncGenerator<Buffer> {}

async function readMeta(reader: ByteReader, size: number, offset: number): Promise<Buffer> {
  if (size > maxMetaSize) throw new InvalidArgument(`invalid tar: extended header at byte ${offset} is too large (${size} bytes)`);
  const data = await reader.read(size);
  if (data.length < size) throw new InvalidArgument(`invalid tar: stream ends inside the extended header at byte ${offset}`);
  const padding = (blockSize - (size % blockSize)) % blockSize;
  await reader.skip(padding);
  return Buffer.from(data);
}

function mergeRecords(into: PaxRecords, from: PaxRecords): PaxRecords {
  for (const [k, v] of from) into.set(k, v);
  return into;
}

function text(records: PaxRecords | undefined, key: string): string | undefined {
  const v = records?.get(key);
  return v === undefined ? undefined : v.toString('utf8');
}

function cString(data: Buffer): string {
  const nul = data.indexOf(0);
  return (nul >= 0 ? data.subarray(0, nul) : data).toString('utf8');
}

/**
 * A numeric header field: octal digits (NUL- or space-terminated), or GNU's base-256
 * (first byte 0x80) for values that do not fit. A negative or unsafe value, or a
 * field that is neither, is refused: a size must never be guessed.
 */
function headerNumber(block: Buffer, start: number, length: number, offset: number): number {
  const field = block.subarray(start, start + length);
  if (field[0]! & 0x80) {
    if (field[0] === 0xff) throw new InvalidArgument(`invalid tar: negative size in the header at byte ${offset}`);
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    if (!Number.isSafeInteger(n)) throw new InvalidArgument(`invalid tar: size too large in the header at byte ${offset}`);
    return n;
  }
  const digits = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits)) throw new InvalidArgument(`invalid tar: bad size field in the header at byte ${offset}`);
  return Number.parseInt(digits, 8);
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}
