import { InvalidArgument } from '@berth/core';
import type { ByteSource } from '@berth/image';
import type { BuildContext } from './build-context.js';
import { contextFromGit } from './git-context.js';
import { isGitUrl } from './git-source.js';
import { indexedContextFromTar } from './indexed-context.js';
import type { RecentIndexes } from './recent-indexes.js';
import { contextFromUrl } from './url-context.js';

/** What `POST /build` says about its context: the `remote` and `dockerfile` parameters and the body. */
export interface BuildContextRequest {
  /** The `remote` query parameter: a git URL or an http(s) URL; empty or absent for a context in the body. */
  remote?: string;
  /** The `dockerfile` query parameter. */
  dockerfile?: string;
  /** The request body (a tar in any compression Docker accepts); read only when there is no `remote`. */
  body: ByteSource;
  /** The build's work directory, where the context is made. */
  workDir: string;
  /** Aborted when the client goes away: a download stops. */
  signal?: AbortSignal;
  /** The indexes a body's tar may take again (a rebuild sends the same bytes): the engine's own. */
  recentIndexes?: RecentIndexes;
}

/**
 * The build context of a `POST /build`, chosen as Docker's `remotecontext.Detect` does: no
 * `remote`, the body's tar; a git URL (`isGitUrl`), a checkout; another http(s) URL, a
 * download (a tar, or a Dockerfile alone); berth also takes an absolute path, a git
 * repository on the daemon's host (`/srv/app.git#v1:sub`). Anything else (`client-session`, BuildKit's
 * own transport, or a bare word) is an InvalidArgument naming it.
 */
export async function openBuildContext(request: BuildContextRequest): Promise<BuildContext> {
  const remote = request.remote ?? '';
  const options = { workDir: request.workDir, dockerfile: request.dockerfile };
  // The body's tar is indexed, not unpacked, until a step needs its files (indexed-context.ts).
  if (remote === '') return indexedContextFromTar(request.body, { ...options, recentIndexes: request.recentIndexes });
  // An absolute path is a git repository on berthd's host (a bare one, or a work tree):
  // what the tests and local use give; Docker takes URLs only.
  if (isGitUrl(remote) || isLocalRepository(remote)) return contextFromGit(remote, options);
  if (/^https?:\/\//i.test(remote)) return contextFromUrl(remote, { ...options, signal: request.signal });
  throw new InvalidArgument(
    `unable to prepare context: unsupported remote ${JSON.stringify(remote)}: give a git or http(s) URL, or send the context as the body`,
  );
}

/** Whether `remote` names a repository by its absolute path on this host (`#ref:subdir` allowed). */
function isLocalRepository(remote: string): boolean {
  return remote.startsWith('/') && !remote.startsWith('//');
}
