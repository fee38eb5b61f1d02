import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { HeaderData } from 'tar';

/** Files up to this size are read whole, at once; larger ones are streamed. */
const wholeFileLimit = 1 << 20;
const blockSize = 512;

/** A file added to the context that is not in the directory (a Dockerfile from outside, the `.dockerignore` listing it). */
export interface ExtraFile {
  name: string;
  content: Buffer;
  mode: number;
}

/**
 * The build context `berth build <dir>` sends: every entry of `dir` in sorted order (as
 * the docker CLI walks it), owners 0:0 and no names (npm tar's `portable`), modes and
 * mtimes kept, a second name of an inode as a hard link, sockets left out; then `extra`,
 * which replaces entries of the same name at the top. The daemon applies `.dockerignore`.
 *
 * Written by hand on npm tar's header codec rather than with its `Pack`: `Pack` opens and
 * reads each file through a stream of its own, which made a context of 1,000 small files
 * take about 400 ms to send; here a small file is one synchronous read, as the tar is
 * consumed (the request's pace), and the pieces go out in writes of about 64 KiB. Long
 * names get a pax header, as `Pack` wrote them.
 */
export async function contextTar(dir: string, extra: readonly ExtraFile[] = []): Promise<Readable> {
  // Loaded here, not at start-up: only `build` writes tars.
  const { Header, Pax } = await import('tar');
  const header = (fields: HeaderData): Buffer[] => {
    const block = Buffer.alloc(blockSize);
    const h = new Header(fields);
    const out: Buffer[] = [];
    if (h.encode(block)) {
      out.push(new Pax({ path: fields.path, linkpath: fields.linkpath, mtime: fields.mtime, size: fields.size } as never).encode());
    }
    out.push(block);
    return out;
  };
  const padding = (size: number) => Buffer.alloc((blockSize - (size % blockSize)) % blockSize);
  const skip = new Set(extra.map((e) => e.name));
  const links = new Map<string, string>();

  async function* walk(rel: string): AsyncGenerator<Buffer> {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (rel === '' && skip.has(name)) continue;
      const host = path.join(dir, childRel);
      const st = fs.lstatSync(host);
      const common = { mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000) };
      if (st.isDirectory()) {
        yield* header({ ...common, path: `${childRel}/`, type: 'Directory', size: 0 });
        yield* walk(childRel);
      } else if (st.isSymbolicLink()) {
        yield* header({ ...common, path: childRel, type: 'SymbolicLink', linkpath: fs.readlinkSync(host), size: 0 });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          yield* header({ ...common, path: childRel, type: 'Link', linkpath: first, size: 0 });
          continue;
        }
        if (st.nlink > 1) links.set(key, childRel);
        if (st.size <= wholeFileLimit) {
          const content = fs.readFileSync(host);
          yield* header({ ...common, path: childRel, type: 'File', size: content.length });
          if (content.length > 0) yield content;
          yield padding(content.length);
        } else {
          yield* header({ ...common, path: childRel, type: 'File', size: st.size });
          let sent = 0;
          for await (const chunk of fs.createReadStream(host, { start: 0, end: st.size - 1, highWaterMark: 1 << 20 })) {
            sent += (chunk as Buffer).length;
            yield chunk as Buffer;
          }
          if (sent !== st.size) throw new Error(`${host} changed size while it was sent (${st.size} bytes, then ${sent})`);
          yield padding(st.size);
        }
      } else if (st.isFIFO()) {
        yield* header({ ...common, path: childRel, type: 'FIFO', size: 0 });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const rdev = st.rdev;
        yield* header({
          ...common,
          path: childRel,
          type: st.isCharacterDevice() ? 'CharacterDevice' : 'BlockDevice',
          size: 0,
          // Linux's dev_t: major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31.
          devmaj: Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn)),
          devmin: Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xfff00n)),
        });
      }
    }
  }

  async function* all(): AsyncGenerator<Buffer> {
    yield* walk('');
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    for (const file of extra) {
      yield* header({ path: file.name, mode: file.mode, size: file.content.length, type: 'File', mtime: now, uid: 0, gid: 0 });
      yield file.content;
      yield padding(file.content.length);
    }
    yield Buffer.alloc(blockSize * 2);
  }
  return Readable.from(batched(all()), { objectMode: false });
}

/** Pieces gathered into writes of about 64 KiB: a header, a small file and its padding are not three writes (and three reads for berthd). */
async function* batched(pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const batchSize = 64 << 10;
  let held: Buffer[] = [];
  let size = 0;
  for await (const piece of pieces) {
    if (piece.length === 0) continue;
    held.push(piece);
    size += piece.length;
    if (size >= batchSize) {
      yield held.length === 1 ? held[0]! : Buffer.concat(held, size);
      held = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(held, size);
}
