import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/**
 * A fresh directory named after `purpose` under the build's work directory `workDir`
 * (which the executor owns and removes as a whole after the build, or after a crash at
 * the next start), and the function that removes it again.
 */
export async function makeOwnedDir(workDir: string, purpose: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  await fsp.mkdir(workDir, { recursive: true, mode: 0o700 });
  const dir = await fsp.mkdtemp(path.join(workDir, `${purpose}-`));
  return { dir, remove: () => fsp.rm(dir, { recursive: true, force: true }) };
}
