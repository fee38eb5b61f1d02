import { promises as fs } from 'node:fs';
import { PluginSkipped, runProgram } from '@berth/core';

/** statfs(2)'s f_type of btrfs (BTRFS_SUPER_MAGIC). */
const BTRFS_SUPER_MAGIC = 0x9123683e;

/** What init found out about the host. */
export interface BtrfsSupport {
  /** Quotas are enabled on the filesystem: `--storage-opt size=` can be enforced. */
  quota: boolean;
  /** Why quotas are off, when they are. */
  quotaError?: string;
}

/**
 * Check that `root` is on btrfs and that btrfs-progs' `btrfs` runs; throw PluginSkipped
 * with the reason otherwise (an explicit `--storage-driver btrfs` then fails at start
 * with it). Then turn quotas on for the filesystem (`btrfs quota enable`, idempotent), as
 * size limits need them; a filesystem that refuses keeps the driver, without sizeQuota.
 */
export async function probeBtrfs(root: string): Promise<BtrfsSupport> {
  const stats = await fs.statfs(root);
  if (stats.type !== BTRFS_SUPER_MAGIC) {
    throw new PluginSkipped(`btrfs: the data root ${root} is not on a btrfs filesystem (statfs type 0x${stats.type.toString(16)})`);
  }
  try {
    await runProgram('btrfs', ['--version']);
  } catch (err) {
    throw new PluginSkipped(`btrfs: the btrfs program (btrfs-progs) does not run: ${(err as Error).message}`);
  }
  try {
    await runProgram('btrfs', ['quota', 'enable', root]);
    return { quota: true };
  } catch (err) {
    return { quota: false, quotaError: (err as Error).message };
  }
}
