import { asyncBytes, type ByteSource } from '@berth/image';
import { type BuildContext, type ContextOptions, contextOfDirectory } from './build-context.js';
import { unpackArchive } from './unpack-archive.js';
import { makeOwnedDir } from './work-dir.js';

/** Where a context berth unpacks lives: a directory of its own under the build's work directory. */
export interface OwnedContextOptions extends ContextOptions {
  /** The build's work directory (made when missing); the context goes in a fresh directory under it. */
  workDir: string;
}

/**
 * The context of `POST /build`'s body: a tar (plain, gzip, bzip2, xz or zstd, as Docker
 * accepts) unpacked into a directory berth owns, with every layer check (`unpackArchive`).
 * A body that is not a tar, or a hostile one, is an InvalidArgument naming the problem,
 * and nothing is left on disk.
 */
export async function contextFromTar(body: ByteSource, options: OwnedContextOptions): Promise<BuildContext> {
  const { dir, remove } = await makeOwnedDir(options.workDir, 'context');
  try {
    await unpackArchive(dir, asyncBytes(body), 'the build context');
  } catch (err) {
    await remove();
    throw err;
  }
  return contextOfDirectory(dir, { ...options, owned: true, cleanup: remove });
}

/**
 * A context of nothing but a Dockerfile (`docker build - < Dockerfile` as the API sees
 * it once the CLI has decided the body is no tar, or a remote Dockerfile): an empty
 * directory, so `COPY` finds nothing to take.
 */
export async function contextFromDockerfile(content: Buffer, options: OwnedContextOptions): Promise<BuildContext> {
  const { dir, remove } = await makeOwnedDir(options.workDir, 'context');
  return contextOfDirectory(dir, { ...options, given: { content }, owned: true, cleanup: remove });
}
