import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDir, InvalidArgument, NotFound, SystemError } from '@berth/core';
import { asyncBytes, type ByteSource } from './byte-source.js';
import { type Digest, Digester, digestHex, isDigest, parseDigest, sha256Digest } from './digest.js';

/** A blob as the store holds it. */
export interface BlobInfo {
  digest: Digest;
  size: number;
}

/**
 * The content-addressed blob store: `<root>/blobs/sha256/<hex>`. Layers, configs and
 * manifests live here under the digest of their bytes.
 *
 * A blob is named only after its bytes have been hashed and checked: `ingest` streams
 * to a temporary file in `<root>/blobs/ingest/` while hashing, compares the digest with
 * the expected one, fsyncs the file, renames it and fsyncs the directory, so a blob is
 * durable under its name before `ingest` returns and anything can refer to it. A crash or
 * a corrupt stream therefore never leaves a blob whose name lies about its content, only
 * a temporary file in `ingest/`, removed at the next `open` (one process owns a data
 * root: whatever is in `ingest/` when it opens was being written by a process that is
 * gone). Blobs are immutable (mode 0444); deleting one is the only change.
 *
 * Which blobs are still needed is the `ImageStore`'s knowledge: it deletes, at open, the
 * blobs no image uses (those of an interrupted load, import or delete).
 */
export class ContentStore {
  /** `<root>/blobs/sha256`: where named blobs live. */
  readonly blobDir: string;
  private readonly ingestDir: string;

  private constructor(root: string) {
    this.blobDir = path.join(root, 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'blobs', 'ingest');
  }

  /**
   * Open (creating when needed) the store under the data root `root`. Removes every
   * temporary ingest file (an ingest never outlives its process); `interruptedIngests`
   * says how many there were.
   */
  static async open(root: string): Promise<ContentStore> {
    const store = new ContentStore(root);
    await fs.mkdir(store.blobDir, { recursive: true, mode: 0o700 });
    await fs.mkdir(store.ingestDir, { recursive: true, mode: 0o700 });
    store.interruptedIngests = await store.removeIngests();
    return store;
  }

  /** How many temporary files of interrupted ingests `open` removed. */
  interruptedIngests = 0;

  /** The file of a blob (whether or not it exists). */
  path(digest: Digest): string {
    return path.join(this.blobDir, digestHex(parseDigest(digest)));
  }

  /**
   * Store what `source` yields. With `expected`, the bytes must hash to it, or the
   * blob is not stored and InvalidArgument names both digests. Storing a blob that
   * already exists is harmless: the same digest is the same content.
   */
  async ingest(source: ByteSource, expected?: Digest): Promise<BlobInfo> {
    if (expected !== undefined) parseDigest(expected);
    const tmp = path.join(this.ingestDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const digester = new Digester();
    const handle = await fs.open(tmp, 'wx', 0o600);
    let named = false;
    try {
      try {
        for await (const chunk of asyncBytes(source)) {
          digester.update(chunk);
          await writeAll(handle, chunk);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      const digest = digester.digest();
      if (expected !== undefined && digest !== expected) {
        throw new InvalidArgument(`blob digest mismatch: expected ${expected}, got ${digest} (${digester.size} bytes)`);
      }
      await fs.chmod(tmp, 0o444);
      await fs.rename(tmp, path.join(this.blobDir, digestHex(digest)));
      named = true;
      await fsyncDir(this.blobDir);
      return { digest, size: digester.size };
    } finally {
      if (!named) await fs.rm(tmp, { force: true });
    }
  }

  /**
   * A scratch file for bytes that are no blob of the store (a layer compressed for a
   * push): a new path in `ingest/`, so a crash leaves it where `open` removes it. The
   * caller creates and writes it, and calls `remove` when done.
   */
  scratchFile(): { path: string; remove(): Promise<void> } {
    const file = path.join(this.ingestDir, `scratch-${Date.now()}-${randomBytes(8).toString('hex')}`);
    return { path: file, remove: () => fs.rm(file, { force: true }) };
  }

  /** `ingest` of bytes held in memory. */
  ingestBytes(data: string | Uint8Array, expected?: Digest): Promise<BlobInfo> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    return this.ingest([bytes], expected);
  }

  async has(digest: Digest): Promise<boolean> {
    try {
      await fs.stat(this.path(digest));
      return true;
    } catch (err) {
      if (isNoEnt(err)) return false;
      throw err;
    }
  }

  /** The blob's size in bytes; NotFound when absent. */
  async size(digest: Digest): Promise<number> {
    try {
      return (await fs.stat(this.path(digest))).size;
    } catch (err) {
      throw this.mapError(err, digest);
    }
  }

  /** A stream of the blob's bytes; NotFound when absent (checked before the stream is returned). */
  async get(digest: Digest): Promise<Readable> {
    const file = this.path(digest);
    try {
      const handle = await fs.open(file, 'r');
      return handle.createReadStream({ highWaterMark: 1 << 20 });
    } catch (err) {
      throw this.mapError(err, digest);
    }
  }

  /** The blob's bytes, checked against its digest (for small blobs: configs, manifests). */
  async readBytes(digest: Digest): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await fs.readFile(this.path(digest));
    } catch (err) {
      throw this.mapError(err, digest);
    }
    const actual = sha256Digest(data);
    if (actual !== digest) throw new SystemError(`blob ${digest} is corrupt: its content hashes to ${actual}`);
    return data;
  }

  /** The blob parsed as JSON; InvalidArgument when it is not JSON. */
  async readJson<T = unknown>(digest: Digest): Promise<T> {
    const data = await this.readBytes(digest);
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch (err) {
      throw new InvalidArgument(`blob ${digest} is not valid JSON: ${(err as Error).message}`);
    }
  }

  /** Remove a blob; NotFound when absent. Not fsynced: a blob that comes back after a power loss is unreferenced, and collected at the next open. */
  async delete(digest: Digest): Promise<void> {
    try {
      await fs.unlink(this.path(digest));
    } catch (err) {
      throw this.mapError(err, digest);
    }
  }

  /** Every blob in the store, in no particular order. */
  async list(): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    for (const name of await fs.readdir(this.blobDir)) {
      const digest = `sha256:${name}`;
      if (!isDigest(digest)) continue;
      try {
        out.push({ digest, size: (await fs.stat(path.join(this.blobDir, name))).size });
      } catch (err) {
        if (!isNoEnt(err)) throw err;
      }
    }
    return out;
  }

  private mapError(err: unknown, digest: Digest): unknown {
    return isNoEnt(err) ? new NotFound(`no such blob: ${digest}`) : err;
  }

  private async removeIngests(): Promise<number> {
    const names = await fs.readdir(this.ingestDir);
    for (const name of names) await fs.rm(path.join(this.ingestDir, name), { force: true, recursive: true });
    return names.length;
  }
}

async function writeAll(handle: fs.FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

function isNoEnt(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}
