import { type BuildContext, contextOfDirectory } from './build-context.js';
import { type CloneOptions, cloneGit, parseGitSource } from './git-source.js';
import type { OwnedContextOptions } from './tar-context.js';
import { makeOwnedDir } from './work-dir.js';

/**
 * The context of a git repository (`docker build <git URL>`, the API's `remote`):
 * `<repository>#<ref>:<subdir>` checked out into a directory berth owns (`cloneGit`),
 * the subdirectory as the root, `.git` removed unless `keepGitDir`. A failing clone
 * leaves nothing behind.
 */
export async function contextFromGit(remote: string, options: OwnedContextOptions & CloneOptions): Promise<BuildContext> {
  const source = parseGitSource(remote);
  const { dir, remove } = await makeOwnedDir(options.workDir, 'git');
  let root: string;
  try {
    root = await cloneGit(source, dir, options);
  } catch (err) {
    await remove();
    throw err;
  }
  return contextOfDirectory(root, { ...options, owned: true, cleanup: remove });
}
