import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { asyncBytes, type ByteSource } from '@berth/image';
import { decompressArchive, notATar, peek, startsTar } from './archive-stream.js';
import { type BuildContext, contextOfDirectory, defaultDockerfileName, dockerfileName } from './build-context.js';
import { coalesceChunks } from './coalesce-chunks.js';
import { ContextIndex, type IndexedTar } from './context-index.js';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';
import type { OwnedContextOptions } from './tar-context.js';
import { TarSpool } from './tar-spool.js';
import { unpackArchive } from './unpack-archive.js';
import { makeOwnedDir } from './work-dir.js';

/** A context `POST /build` sent, kept as its tar and an index of it until a step needs its files. */
export interface IndexedBuildContext extends BuildContext {
  /** Every entry of the context, with its content's digest: what COPY plans and hashes against. */
  readonly index: ContextIndex;
  /**
   * Unpack the context into `root` (once; later calls wait for the first). A step that
   * reads files (a COPY that missed the cache, ADD, a bind mount) calls it first.
   */
  ready(): Promise<void>;
}

/**
 * The context of a `POST /build` body (a tar, plain or compressed) without unpacking it:
 * its bytes are kept (`TarSpool`: in memory, or `<dir>/context.tar` when big) while an index of its entries is made
 * and every file hashed (`ContextIndex`); `ready()` unpacks it into `<dir>/root` with
 * `unpackArchive`'s checks when a step needs the files. A cached rebuild of a context of
 * many small files so writes none of them. The Dockerfile and the
 * ignore files are read from the stream. A body that is not a tar, is empty, or holds
 * what an unpacking refuses is an InvalidArgument, and nothing is left on disk.
 *
 * A context whose Dockerfile is not a regular file of the tar (a symlink to it) is
 * unpacked at once and read as a directory is (`contextOfDirectory`).
 */
export async function indexedContextFromTar(body: ByteSource, options: OwnedContextOptions): Promise<BuildContext> {
  const { dir, remove } = await makeOwnedDir(options.workDir, 'context');
  const tarFile = path.join(dir, 'context.tar');
  const root = path.join(dir, 'root');
  try {
    const { compression, stream } = await decompressArchive(coalesceChunks(asyncBytes(body)));
    const { head, stream: replay, cancel } = await peek(stream, 1024);
    if (!startsTar(head)) {
      // Read nothing more: the request is closed with the error.
      await cancel();
      throw notATar('the build context', head, compression);
    }
    const requested = options.dockerfile === undefined ? undefined : dockerfileName(options.dockerfile);
    const candidates = requested === undefined ? [defaultDockerfileName, defaultDockerfileName.toLowerCase()] : [requested];
    const wanted = new Set([...candidates, ...candidates.map((c) => `${c}.dockerignore`), '.dockerignore']);
    const spool = new TarSpool(tarFile);
    const { index, kept } = await recentIndexes.read(replay, spool, wanted);

    let unpacked: Promise<void> | undefined;
    const ready = () => {
      unpacked ??= (async () => {
        await fsp.mkdir(root, { mode: 0o700 });
        await unpackArchive(root, spool.open(), 'the build context');
      })();
      return unpacked;
    };
    const dockerfilePath = candidates.find((c) => index.isFile(c) && kept.has(c));
    if (dockerfilePath === undefined) {
      // Not a plain file of the tar (a symlink, or missing): read as a directory would be, which says which.
      await ready();
      return await contextOfDirectory(root, { ...options, owned: true, cleanup: remove });
    }
    const specific = `${dockerfilePath}.dockerignore`;
    const ignoreFile = kept.has(specific) ? specific : kept.has('.dockerignore') ? '.dockerignore' : undefined;
    const ignore = new IgnoreMatcher(ignoreFile === undefined ? [] : parseDockerignore(kept.get(ignoreFile)!.toString('utf8')));
    let disposed = false;
    const context: IndexedBuildContext = {
      root,
      owned: true,
      dockerfilePath,
      dockerfile: kept.get(dockerfilePath)!,
      ignore,
      ignoreFile,
      index,
      ready,
      async dispose() {
        if (disposed) return;
        disposed = true;
        await unpacked?.catch(() => undefined);
        spool.dispose();
        await remove();
      },
    };
    return context;
  } catch (err) {
    await remove();
    throw err;
  }
}

/** Whether `context` was kept as an index (`indexedContextFromTar`). */
export function isIndexedContext(context: BuildContext): context is IndexedBuildContext {
  return (context as Partial<IndexedBuildContext>).index instanceof ContextIndex;
}

/** Unpack the context's files if it was kept as an index; nothing for a context on disk. */
export async function contextFiles(context: BuildContext): Promise<void> {
  if (isIndexedContext(context)) await context.ready();
}

/** One context read lately: the sha256 of its tar, its first bytes, and what indexing it gave. */
interface RecentIndex extends IndexedTar {
  digest: string;
  /** The names whose content was kept (the Dockerfile and ignore files asked for). */
  wanted: string;
  /** Its first `prefixBytes` bytes (all of it, when shorter). */
  prefix: Buffer;
}

/**
 * The indexes of the last contexts read, by the sha256 of their tar. A rebuild sends the
 * same bytes again (the docker CLI writes the same tar for the same files and mtimes),
 * and indexing them (each header decoded, each file hashed: most of what berthd spent
 * on a cached rebuild of 1,000 small files) gives the same index, so it is taken again.
 *
 * The bytes decide, never a guess: a context whose first bytes are those of one read
 * lately is only hashed and kept as it arrives; when the whole digest matches, the index
 * is that one's; when not, the kept bytes are indexed then (after the upload rather than
 * during it). Any other context is indexed as it arrives, as before, and remembered.
 * The indexes are read-only once made. Holds `capacity` contexts of at most
 * `maxEntries` entries each; one per process.
 */
class RecentIndexes {
  private readonly entries: RecentIndex[] = [];
  private static readonly capacity = 2;
  /** About 300 bytes an entry: two indexes of this many hold a few MiB. */
  private static readonly maxEntries = 20_000;
  private static readonly prefixBytes = 64 << 10;

  async read(source: AsyncIterable<Buffer>, spool: TarSpool, wantedNames: ReadonlySet<string>): Promise<IndexedTar> {
    const wanted = [...wantedNames].sort().join('\0');
    const keep = (name: string) => wantedNames.has(name);
    // Shorter than prefixBytes: the whole context (peek reads that much unless it ends first).
    const { head, stream } = await peek(source, RecentIndexes.prefixBytes);
    const prefix = head.subarray(0, RecentIndexes.prefixBytes);
    const hash = createHash('sha256');
    const seen = this.entries.find((e) => e.wanted === wanted && e.prefix.equals(prefix));
    let result: IndexedTar;
    if (seen) {
      try {
        for await (const chunk of stream) {
          hash.update(chunk);
          await spool.write(chunk);
        }
      } finally {
        await spool.end();
      }
      const digest = hash.digest('hex');
      if (digest === seen.digest) {
        this.remember(seen);
        return seen;
      }
      result = await ContextIndex.read(spool.open(), undefined, keep);
      this.remember({ ...result, digest, wanted, prefix: Buffer.from(prefix) });
      return result;
    }
    async function* hashed(): AsyncGenerator<Buffer> {
      for await (const chunk of stream) {
        hash.update(chunk);
        yield chunk;
      }
    }
    result = await ContextIndex.read(hashed(), spool, keep);
    this.remember({ ...result, digest: hash.digest('hex'), wanted, prefix: Buffer.from(prefix) });
    return result;
  }

  private remember(entry: RecentIndex): void {
    const at = this.entries.indexOf(entry);
    if (at >= 0) this.entries.splice(at, 1);
    if (entry.index.size > RecentIndexes.maxEntries) return;
    this.entries.unshift(entry);
    this.entries.length = Math.min(this.entries.length, RecentIndexes.capacity);
  }
}

const recentIndexes = new RecentIndexes();
