import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import { hostname } from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Conflict, fsyncDir, NotFound, writeFileAtomic, writeJsonAtomic } from '@berth/core';
import { type Digest, digester, parseDigest } from '../digest.js';
import { pumpFile } from './file-pump.js';
import {
  type BlobReader,
  DigestMismatch,
  type ManifestRecord,
  type ReferrerDescriptor,
  type RegistryStorage,
  type StoredBlob,
  type SweepOutcome,
  UploadOffsetMismatch,
  type UploadSession,
} from './registry-storage.js';

// Streams (manifests, uploads being hashed) read 1 MiB at a time: a 10 MB blob in 10 reads instead of 160.
const READ_CHUNK = 1 << 20;

/**
 * RegistryStorage on a local (or shared: NFS, a volume mounted by every replica)
 * filesystem. Layout under the root:
 *
 * ```
 * blobs/<alg>/<2 hex>/<hex>                  a blob's content; its mtime is its last claim
 * blobs/.swept/<alg>-<hex>                   a blob a sweep is deciding on (see sweepBlob)
 * uploads/<uuid>/state.json                  {repository, startedAt}
 * uploads/<uuid>/data                        the bytes received; its size is the offset
 * repositories/<name>/_layers/<alg>/<hex>    empty: the blob is in this repository
 * repositories/<name>/_manifests/<alg>/<hex> {mediaType, size}: a manifest of this repository
 * repositories/<name>/_tags/<tag>            the digest the tag points at
 * repositories/<name>/_referrers/<alg>/<subject hex>/<alg>-<hex>  a referrer's descriptor
 * tmp/                                       blobs being written, before verification
 * gc.lock                                    the collector's lock: {pid, host, startedAt}
 * ```
 *
 * Repository name components never start with `_` (the spec's grammar), so the
 * `_layers`-style directories cannot collide with a nested repository. Every publish is
 * a rename of a fsynced file (blobs, records, tags through writeFileAtomic), so a crash
 * leaves the old state or the new; what it can leave is a file in `tmp/` or an upload
 * session, which the collector removes once stale.
 */
export class FilesystemStorage implements RegistryStorage {
  private readonly blobsDir: string;
  private readonly sweptDir: string;
  private readonly uploadsDir: string;
  private readonly reposDir: string;
  private readonly tmpDir: string;

  private constructor(readonly root: string) {
    this.blobsDir = path.join(root, 'blobs');
    this.sweptDir = path.join(this.blobsDir, '.swept');
    this.uploadsDir = path.join(root, 'uploads');
    this.reposDir = path.join(root, 'repositories');
    this.tmpDir = path.join(root, 'tmp');
  }

  /** Opens (creating when needed) the storage at `root`. */
  static async open(root: string): Promise<FilesystemStorage> {
    const s = new FilesystemStorage(path.resolve(root));
    for (const dir of [s.blobsDir, s.sweptDir, s.uploadsDir, s.reposDir, s.tmpDir]) await fs.mkdir(dir, { recursive: true });
    return s;
  }

  private blobPath(d: Digest): string {
    return path.join(this.blobsDir, d.algorithm, d.hex.slice(0, 2), d.hex);
  }

  private sweptPath(d: Digest): string {
    return path.join(this.sweptDir, `${d.algorithm}-${d.hex}`);
  }

  private repoDir(repository: string, ...rest: string[]): string {
    return path.join(this.reposDir, repository, ...rest);
  }

  // --- blobs ---

  async openBlob(digest: Digest): Promise<BlobReader | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.blobPath(digest), 'r');
    } catch (err) {
      if (!isMissing(err) || !(await this.unsweep(digest))) return undefined;
      try {
        handle = await fs.open(this.blobPath(digest), 'r');
      } catch (again) {
        if (isMissing(again)) return undefined;
        throw again;
      }
    }
    const { size } = await handle.stat();
    let used = false;
    return {
      size,
      stream(start = 0, end = size - 1) {
        used = true;
        // The stream owns the descriptor from here: it closes it at its end or destruction.
        return createReadStream('', { fd: handle, start, end, highWaterMark: READ_CHUNK, autoClose: true, emitClose: true });
      },
      async writeTo(dest, start = 0, end = size - 1) {
        used = true;
        try {
          if (end >= start) await pumpFile(handle, start, end, dest);
        } finally {
          await handle.close();
        }
      },
      async close() {
        if (!used) await handle.close();
      },
    };
  }

  async statBlob(digest: Digest): Promise<number | undefined> {
    try {
      return (await fs.stat(this.blobPath(digest))).size;
    } catch (err) {
      if (!isMissing(err)) throw err;
      if (!(await this.unsweep(digest))) return undefined;
      return (await fs.stat(this.blobPath(digest))).size;
    }
  }

  async readBlob(digest: Digest, limit: number): Promise<Buffer | undefined> {
    const reader = await this.openBlob(digest);
    if (!reader) return undefined;
    if (reader.size > limit) {
      await reader.close();
      throw new Error(`blob ${digest.text} is ${reader.size} bytes, more than ${limit}`);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of reader.stream()) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async writeBlob(expected: Digest, source: Readable): Promise<number> {
    const tmp = path.join(this.tmpDir, `blob-${randomBytes(8).toString('hex')}`);
    const hash = digester(expected.algorithm);
    let size = 0;
    try {
      const out = createWriteStream(tmp, { flags: 'wx' });
      source.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
      });
      await pipeline(source, out);
      const actual = `${expected.algorithm}:${hash.digest('hex')}`;
      if (actual !== expected.text) throw new DigestMismatch(expected.text, actual);
      await this.publish(tmp, expected);
      return size;
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  /** fsyncs `file` and renames it to the blob's place (or drops it when the blob is there already), then claims the blob. */
  private async publish(file: string, digest: Digest): Promise<void> {
    if (await this.claimBlob(digest)) return;
    const handle = await fs.open(file, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const target = this.blobPath(digest);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(file, target);
    await fsyncDir(path.dirname(target));
    const now = new Date();
    await fs.utimes(target, now, now);
  }

  async claimBlob(digest: Digest): Promise<boolean> {
    const now = new Date();
    try {
      await fs.utimes(this.blobPath(digest), now, now);
      return true;
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    // A sweep may be holding it: take it back (the claim then wins, see sweepBlob).
    if (!(await this.unsweep(digest))) return false;
    try {
      await fs.utimes(this.blobPath(digest), now, now);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** Moves a blob a sweep holds back to its place; false when no sweep holds it. */
  private async unsweep(digest: Digest): Promise<boolean> {
    try {
      await fs.rename(this.sweptPath(digest), this.blobPath(digest));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  // --- repositories ---

  async linkBlob(repository: string, digest: Digest): Promise<void> {
    const link = this.repoDir(repository, '_layers', digest.algorithm, digest.hex);
    await fs.mkdir(path.dirname(link), { recursive: true });
    // An empty file; creating it is atomic, and an existing one is the same link.
    await (await fs.open(link, 'a')).close();
  }

  async hasBlobLink(repository: string, digest: Digest): Promise<boolean> {
    return exists(this.repoDir(repository, '_layers', digest.algorithm, digest.hex));
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<boolean> {
    return removed(this.repoDir(repository, '_layers', digest.algorithm, digest.hex));
  }

  async listBlobLinks(repository: string): Promise<Digest[]> {
    return this.digestsUnder(this.repoDir(repository, '_layers'));
  }

  /** The digests named by `<dir>/<alg>/<hex>` files. */
  private async digestsUnder(dir: string): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const alg of await listDir(dir)) {
      for (const hex of await listDir(path.join(dir, alg))) {
        const d = parseDigest(`${alg}:${hex}`);
        if (d) out.push(d);
      }
    }
    return out;
  }

  async listRepositories(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const entries = await listDirents(dir);
      if (entries.some((e) => e.name === '_layers' || e.name === '_manifests')) found.push(prefix);
      for (const e of entries) {
        if (e.isDirectory() && !e.name.startsWith('_')) await walk(path.join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name);
      }
    };
    await walk(this.reposDir, '');
    return found.filter((n) => n !== '').sort();
  }

  async repositoryExists(repository: string): Promise<boolean> {
    return (await exists(this.repoDir(repository, '_layers'))) || exists(this.repoDir(repository, '_manifests'));
  }

  // --- manifests, tags, referrers ---

  async putManifest(repository: string, record: ManifestRecord): Promise<void> {
    const d = parseDigest(record.digest)!;
    const file = this.repoDir(repository, '_manifests', d.algorithm, d.hex);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeJsonAtomic(file, { mediaType: record.mediaType, size: record.size }, 0o644);
  }

  async getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    const text = await readText(this.repoDir(repository, '_manifests', digest.algorithm, digest.hex));
    if (text === undefined) return undefined;
    const { mediaType, size } = JSON.parse(text) as { mediaType: string; size: number };
    return { digest: digest.text, mediaType, size };
  }

  async deleteManifest(repository: string, digest: Digest): Promise<boolean> {
    const record = this.repoDir(repository, '_manifests', digest.algorithm, digest.hex);
    if (!(await exists(record))) return false;
    // Tags first: cut short here, the manifest is merely untagged, never a tag pointing at nothing.
    for (const tag of await this.listTags(repository)) {
      if ((await this.getTag(repository, tag))?.text === digest.text) await this.deleteTag(repository, tag);
    }
    return removed(record);
  }

  async listManifests(repository: string): Promise<ManifestRecord[]> {
    const out: ManifestRecord[] = [];
    for (const d of await this.digestsUnder(this.repoDir(repository, '_manifests'))) {
      const record = await this.getManifest(repository, d);
      if (record) out.push(record);
    }
    return out;
  }

  async setTag(repository: string, tag: string, digest: Digest): Promise<void> {
    const file = this.repoDir(repository, '_tags', tag);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, digest.text, 0o644);
  }

  async getTag(repository: string, tag: string): Promise<Digest | undefined> {
    const text = await readText(this.repoDir(repository, '_tags', tag));
    return text === undefined ? undefined : parseDigest(text.trim());
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return removed(this.repoDir(repository, '_tags', tag));
  }

  async listTags(repository: string): Promise<string[]> {
    return (await listDir(this.repoDir(repository, '_tags'))).filter((t) => !t.startsWith('.')).sort();
  }

  private referrerDir(repository: string, subject: Digest): string {
    return this.repoDir(repository, '_referrers', subject.algorithm, subject.hex);
  }

  async addReferrer(repository: string, subject: Digest, referrer: ReferrerDescriptor): Promise<void> {
    const d = parseDigest(referrer.digest)!;
    const dir = this.referrerDir(repository, subject);
    await fs.mkdir(dir, { recursive: true });
    await writeJsonAtomic(path.join(dir, `${d.algorithm}-${d.hex}`), referrer, 0o644);
  }

  async removeReferrer(repository: string, subject: Digest, referrer: Digest): Promise<void> {
    await removed(path.join(this.referrerDir(repository, subject), `${referrer.algorithm}-${referrer.hex}`));
  }

  async listReferrers(repository: string, subject: Digest): Promise<ReferrerDescriptor[]> {
    const dir = this.referrerDir(repository, subject);
    const out: ReferrerDescriptor[] = [];
    for (const name of (await listDir(dir)).sort()) {
      if (name.startsWith('.')) continue;
      const text = await readText(path.join(dir, name));
      if (text !== undefined) out.push(JSON.parse(text) as ReferrerDescriptor);
    }
    return out;
  }

  // --- upload sessions ---

  private uploadDir(id: string): string {
    return path.join(this.uploadsDir, id);
  }

  async createUpload(repository: string): Promise<UploadSession> {
    const id = randomUUID();
    const dir = this.uploadDir(id);
    const startedAt = new Date();
    await fs.mkdir(dir);
    await (await fs.open(path.join(dir, 'data'), 'wx')).close();
    await writeJsonAtomic(path.join(dir, 'state.json'), { repository, startedAt: startedAt.toISOString() }, 0o644);
    return { id, repository, size: 0, startedAt, updatedAt: startedAt };
  }

  async getUpload(repository: string, id: string): Promise<UploadSession | undefined> {
    // The id is a path component: only a UUID may reach the filesystem.
    if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
    const session = await this.readUpload(id);
    return session?.repository === repository ? session : undefined;
  }

  private async readUpload(id: string): Promise<UploadSession | undefined> {
    const text = await readText(path.join(this.uploadDir(id), 'state.json'));
    if (text === undefined) return undefined;
    const state = JSON.parse(text) as { repository: string; startedAt: string };
    try {
      const st = await fs.stat(path.join(this.uploadDir(id), 'data'));
      return { id, repository: state.repository, size: st.size, startedAt: new Date(state.startedAt), updatedAt: st.mtime };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  private async requireUpload(repository: string, id: string): Promise<UploadSession> {
    const session = await this.getUpload(repository, id);
    if (!session) throw new NotFound(`no such upload: ${id}`);
    return session;
  }

  async appendUpload(repository: string, id: string, source: Readable, expectedOffset?: number): Promise<UploadSession> {
    const session = await this.requireUpload(repository, id);
    if (expectedOffset !== undefined && expectedOffset !== session.size) {
      source.resume();
      throw new UploadOffsetMismatch(session.size, expectedOffset);
    }
    await pipeline(source, createWriteStream(path.join(this.uploadDir(id), 'data'), { flags: 'a' }));
    return this.requireUpload(repository, id);
  }

  async completeUpload(repository: string, id: string, digest: Digest): Promise<number> {
    const session = await this.requireUpload(repository, id);
    const data = path.join(this.uploadDir(id), 'data');
    const hash = digester(digest.algorithm);
    try {
      await pipeline(createReadStream(data, { highWaterMark: READ_CHUNK }), async (chunks: AsyncIterable<Buffer>) => {
        for await (const chunk of chunks) hash.update(chunk);
      });
      const actual = `${digest.algorithm}:${hash.digest('hex')}`;
      if (actual !== digest.text) {
        await this.cancelUpload(repository, id);
        throw new DigestMismatch(digest.text, actual);
      }
      await this.publish(data, digest);
    } catch (err) {
      // Another replica finished (or cancelled) the same session first: to this request it is gone.
      if (isMissing(err)) throw new NotFound(`no such upload: ${id}`);
      throw err;
    }
    await this.linkBlob(repository, digest);
    await fs.rm(this.uploadDir(id), { recursive: true, force: true });
    return session.size;
  }

  async cancelUpload(repository: string, id: string): Promise<boolean> {
    if (!(await this.getUpload(repository, id))) return false;
    await fs.rm(this.uploadDir(id), { recursive: true, force: true });
    return true;
  }

  async listUploads(): Promise<UploadSession[]> {
    const out: UploadSession[] = [];
    for (const id of await listDir(this.uploadsDir)) {
      const session = await this.readUpload(id);
      if (session) out.push(session);
      else {
        // A session cut short between mkdir and its state record: date it by the directory.
        const st = await fs.stat(this.uploadDir(id)).catch(() => undefined);
        if (st) out.push({ id, repository: '', size: 0, startedAt: st.mtime, updatedAt: st.mtime });
      }
    }
    return out;
  }

  async expireUpload(id: string): Promise<void> {
    await fs.rm(this.uploadDir(id), { recursive: true, force: true });
  }

  async removeStaleTemporaries(cutoff: Date): Promise<number> {
    let count = 0;
    for (const name of await listDir(this.tmpDir)) {
      const file = path.join(this.tmpDir, name);
      const st = await fs.stat(file).catch(() => undefined);
      if (st && st.mtimeMs < cutoff.getTime()) {
        await fs.rm(file, { force: true });
        count++;
      }
    }
    return count;
  }

  // --- garbage collection ---

  async *listBlobs(): AsyncIterable<StoredBlob> {
    for (const alg of await listDir(this.blobsDir)) {
      if (alg.startsWith('.')) continue;
      for (const prefix of await listDir(path.join(this.blobsDir, alg))) {
        for (const hex of await listDir(path.join(this.blobsDir, alg, prefix))) {
          const digest = parseDigest(`${alg}:${hex}`);
          if (!digest) continue;
          const st = await fs.stat(this.blobPath(digest)).catch(() => undefined);
          if (st) yield { digest: digest.text, claimedAt: st.mtime };
        }
      }
    }
  }

  /**
   * The sweep's protocol against claimBlob, with renames as the atomic steps: move the
   * blob aside, then look at its claim time on the moved file (the same inode, so a claim
   * that reached the blob before the move shows). Claimed since `cutoff`: move it back.
   * Else delete it. A claim after the move finds the blob gone from its place and moves
   * it back itself (unsweep); whichever of that rename and the sweep's unlink runs first
   * decides, and both sides see the outcome.
   */
  async sweepBlob(digest: Digest, cutoff: Date): Promise<SweepOutcome> {
    const place = this.blobPath(digest);
    const aside = this.sweptPath(digest);
    const before = await fs.stat(place).catch(() => undefined);
    if (!before) return 'absent';
    if (before.mtimeMs >= cutoff.getTime()) return 'kept';
    try {
      await fs.rename(place, aside);
    } catch (err) {
      if (isMissing(err)) return 'absent';
      throw err;
    }
    const moved = await fs.stat(aside).catch(() => undefined);
    if (!moved) return 'kept'; // a claim took it back already
    if (moved.mtimeMs >= cutoff.getTime()) {
      await this.unsweep(digest);
      return 'kept';
    }
    try {
      await fs.unlink(aside);
    } catch (err) {
      if (isMissing(err)) return 'kept';
      throw err;
    }
    await fsyncDir(this.sweptDir);
    return 'deleted';
  }

  async recoverSweep(): Promise<number> {
    let count = 0;
    for (const name of await listDir(this.sweptDir)) {
      const dash = name.indexOf('-');
      const digest = parseDigest(`${name.slice(0, dash)}:${name.slice(dash + 1)}`);
      if (!digest) continue;
      await fs.mkdir(path.dirname(this.blobPath(digest)), { recursive: true });
      if (await this.unsweep(digest)) count++;
    }
    return count;
  }

  async lockCollector(): Promise<() => Promise<void>> {
    const file = path.join(this.root, 'gc.lock');
    const mine = JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.writeFile(file, mine, { flag: 'wx' });
        return async () => {
          if ((await readText(file)) === mine) await fs.rm(file, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = JSON.parse((await readText(file)) ?? '{}') as { pid?: number; host?: string; startedAt?: string };
      // A holder on this host that is no longer alive was killed: its lock is stale.
      if (holder.host === hostname() && typeof holder.pid === 'number' && !isAlive(holder.pid)) {
        await fs.rm(file, { force: true });
        continue;
      }
      throw new Conflict(
        `garbage collection already running on ${holder.host ?? '?'} (pid ${holder.pid ?? '?'}, since ${holder.startedAt ?? '?'})`,
      );
    }
    throw new Conflict('garbage collection lock is contended');
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

async function removed(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

async function listDirents(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}
