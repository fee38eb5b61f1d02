import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PluginSkipped } from '@berth/core';
import { copyTree } from './copy-tree.js';

/**
 * Check that the copy vfs relies on works under `root`: GNU cp with `-a --reflink=auto`
 * (BusyBox's cp, for one, lacks --reflink). Throws PluginSkipped with the reason
 * otherwise. The probe directory `root/.probe-*` is removed whatever happens.
 */
export async function probeVfs(root: string): Promise<void> {
  const probe = path.join(root, `.probe-${randomBytes(4).toString('hex')}`);
  try {
    // Not recursive: Node reports EROFS from a recursive mkdir as ENOENT.
    await fs.mkdir(probe);
    await fs.mkdir(path.join(probe, 'source'));
    await fs.writeFile(path.join(probe, 'source', 'file'), 'probe');
    await copyTree(path.join(probe, 'source'), path.join(probe, 'copy'));
    if ((await fs.readFile(path.join(probe, 'copy', 'file'), 'utf8')) !== 'probe') throw new Error('the copy differs from its source');
  } catch (err) {
    throw new PluginSkipped(`vfs: a test copy (cp -a --reflink=auto) under ${root} failed: ${(err as Error).message}`);
  } finally {
    await fs.rm(probe, { recursive: true, force: true });
  }
}
