import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { asyncBytes, type ByteSource, peek } from '@berth/image';
import { decompressArchive, notATar, startsTar } from './archive-stream.js';
import { type BuildContext, contextOfDirectory, defaultDockerfileName, dockerfileName } from './build-context.js';
import { coalesceChunks } from './coalesce-chunks.js';
import { ContextIndex } from './context-index.js';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';
import type { RecentIndexes } from './recent-indexes.js';
import type { OwnedContextOptions } from './tar-context.js';
import { TarSpool } from './tar-spool.js';
import { unpackArchive } from './unpack-archive.js';
import { makeOwnedDir } from './work-dir.js';

/** Where an indexed context lives, and the indexes it may take again. */
export interface IndexedContextOptions extends OwnedContextOptions {
  /** The indexes of the last contexts read (the engine's, one per engine); without, every context is indexed anew. */
  recentIndexes?: RecentIndexes;
}

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
 * what an unpacking refuses is an InvalidArgument, and nothing is left on disk. With
 * `recentIndexes`, a rebuild's context (the same bytes again) takes its index again.
 *
 * A context whose Dockerfile is not a regular file of the tar (a symlink to it) is
 * unpacked at once and read as a directory is (`contextOfDirectory`).
 */
export async function indexedContextFromTar(body: ByteSource, options: IndexedContextOptions): Promise<BuildContext> {
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
    const keep = (name: string) => wanted.has(name);
    const { index, kept } = options.recentIndexes
      ? await options.recentIndexes.read(replay, spool, wanted)
      : await ContextIndex.read(replay, spool, keep);

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
