import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, readFileSync } from 'node:fs';
import { getXattr } from '@berth/native';
import type { ModeChange } from './chmod.js';
import type { Owner } from './chown.js';
import type { CopyPlan } from './copy-plan.js';
import { copiedXattrs } from './copy-writer.js';

/**
 * Files up to this size are read and hashed on the main thread, at once: a thread-pool
 * round trip costs more than the work (1,000 files of 100 bytes: 13 ms read here in a
 * loop, 300 ms through readFile and WebCrypto). The caller gives the event loop a turn
 * every `sliceMs`.
 */
const smallFileLimit = 256 << 10;
/** Files up to this size are read whole and hashed by WebCrypto, off the main thread. */
const wholeFileLimit = 4 << 20;
/** Longest stretch of hashing small files before the event loop gets a turn. */
const sliceMs = 20;
/** Files hashed at once: enough to keep the thread pool busy without holding many buffers. */
const concurrency = 16;

/**
 * The sha256 of files' contents, remembered for one build by (device, inode, size,
 * mtime): a step that sees the same file again (a second COPY of it, a rebuild of the
 * stage) does not read it twice. A file changed in place changes its mtime or size, so
 * a stale entry is never used; the cache lives only as long as the build, whose
 * context does not change under it.
 *
 * Lifecycle: one per build, dropped with it.
 */
export class ContentHashCache {
  private readonly digests = new Map<string, Promise<string>>();
  /** The digests already known (hashed, or told by `remember`): read without a promise. */
  private readonly known = new Map<string, string>();

  /** The hex sha256 of the file at `file`, whose identity is `key`. */
  digest(file: string, key: { dev: number; ino: number; size: number; mtimeMs: number }): Promise<string> {
    const id = `${key.dev}:${key.ino}:${key.size}:${key.mtimeMs}`;
    let digest = this.digests.get(id);
    if (digest === undefined) {
      digest = key.size <= smallFileLimit ? hashSmall(file) : key.size <= wholeFileLimit ? hashWhole(file) : hashStream(file);
      this.digests.set(id, digest);
      digest.then(
        (hex) => this.known.set(id, hex),
        () => this.digests.delete(id),
      );
    }
    return digest;
  }

  /** The digest of the file whose identity is `key`, when it is known already (no reading, no waiting). */
  knownDigest(key: { dev: number; ino: number; size: number; mtimeMs: number }): string | undefined {
    return this.known.get(`${key.dev}:${key.ino}:${key.size}:${key.mtimeMs}`);
  }

  /** Remember the digest of a file whose content was hashed elsewhere (as a context's tar was read). */
  remember(key: { dev: number; ino: number; size: number; mtimeMs: number }, hex: string): void {
    const id = `${key.dev}:${key.ino}:${key.size}:${key.mtimeMs}`;
    this.digests.set(id, Promise.resolve(hex));
    this.known.set(id, hex);
  }

  /** How many files it holds (for tests and logs). */
  get size(): number {
    return this.digests.size;
  }
}

function hashSmall(file: string): Promise<string> {
  try {
    return Promise.resolve(createHash('sha256').update(readFileSync(file)).digest('hex'));
  } catch (err) {
    return Promise.reject(err);
  }
}

async function hashWhole(file: string): Promise<string> {
  // readFile and SubtleCrypto's digest both run on libuv's thread pool.
  const bytes = await fsp.readFile(file);
  return Buffer.from(await crypto.subtle.digest('SHA-256', bytes)).toString('hex');
}

async function hashStream(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** What decides a COPY's result besides its sources: the owner and `--chmod` given. */
export interface CopyHashOptions {
  owner?: Owner;
  chmod?: ModeChange;
}

/**
 * The input digest of a COPY/ADD step for the layer cache (`sha256:<hex>`): for every
 * entry of the plan, in the plan's order (sorted names), its kind, destination path,
 * permission bits after `--chmod`, owner after `--chown`, symlink or hardlink target,
 * `security.capability` and, for a file, the sha256 of its content; plus the
 * directories the plan creates. Never an mtime, an inode or the context's owners: the
 * same content and metadata give the same digest wherever and whenever it was made.
 * Contents are hashed concurrently through `cache`.
 */
export async function hashCopyPlan(plan: CopyPlan, options: CopyHashOptions = {}, cache = new ContentHashCache()): Promise<string> {
  const owner = options.owner ?? { uid: 0, gid: 0 };
  const contents: Array<string | undefined> = new Array(plan.entries.length);
  // The digests known already (a context indexed as it arrived, a file seen before) are
  // taken at once: a thousand awaits of settled promises cost more than the hashing.
  const pending: number[] = [];
  plan.entries.forEach((entry, i) => {
    if (entry.kind !== 'file') return;
    const known = cache.knownDigest(entry);
    if (known === undefined) pending.push(i);
    else contents[i] = known;
  });
  let next = 0;
  let sliceStart = performance.now();
  const worker = async () => {
    while (next < pending.length) {
      const i = pending[next++]!;
      const entry = plan.entries[i]!;
      contents[i] = await cache.digest(entry.source, entry);
      if (performance.now() - sliceStart > sliceMs) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, worker));

  // Every field as `<byte length>:<value>`, gathered and hashed in one update: the same
  // bytes as an update per piece (the digests of existing caches stay valid), without
  // the 24 calls into the hash per file that cost about 3 ms for 1,000 files.
  const parts: string[] = [];
  const field = (value: string) => {
    parts.push(String(Buffer.byteLength(value)), ':', value);
  };
  for (const dir of plan.directories) field(`mkdir ${dir}`);
  const orUnder = new Map(plan.fileOrDirectory.map((f) => [f.entryIndex, f.name]));
  plan.entries.forEach((entry, i) => {
    const mode = options.chmod ? options.chmod(entry.mode, entry.kind === 'directory') : entry.mode;
    const xattrs =
      entry.kind !== 'file'
        ? ''
        : entry.capability !== undefined
          ? `${copiedXattrs[0]}=${entry.capability}`
          : copiedXattrs.map((name) => `${name}=${getXattr(entry.source, name) ?? ''}`).join(',');
    const under = orUnder.get(i);
    field(entry.kind);
    field(entry.target);
    field(under === undefined ? '' : `or-under:${under}`);
    field(mode.toString(8));
    field(entry.kind === 'hardlink' ? '' : `${owner.uid}:${owner.gid}`);
    field(entry.link ?? '');
    field(xattrs);
    field(contents[i] ?? '');
  });
  return `sha256:${createHash('sha256').update(parts.join('')).digest('hex')}`;
}
