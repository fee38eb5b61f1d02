import { type BuildContext, contextOfDirectory } from './build-context.js';
import { fetchUrl } from './http-fetch.js';
import type { OwnedContextOptions } from './tar-context.js';
import { unpackArchive } from './unpack-archive.js';
import { makeOwnedDir } from './work-dir.js';

/**
 * The context of a URL that is not a git repository (`docker build http://host/ctx.tar.gz`):
 * a tar (any compression Docker accepts) unpacked into a directory berth owns, or, when
 * the body is no archive, that body as the Dockerfile of an empty context (Docker's
 * remote Dockerfile). A failed download or a hostile tar leaves nothing behind.
 */
export async function contextFromUrl(url: string, options: OwnedContextOptions & { signal?: AbortSignal }): Promise<BuildContext> {
  const { dir, remove } = await makeOwnedDir(options.workDir, 'url');
  try {
    const fetched = await fetchUrl(url, options.signal);
    const outcome = await unpackArchive(dir, fetched.body, `the build context from ${url}`, true);
    if (outcome.kind === 'not-tar') {
      return await contextOfDirectory(dir, { ...options, given: { content: outcome.content }, owned: true, cleanup: remove });
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return contextOfDirectory(dir, { ...options, owned: true, cleanup: remove });
}
