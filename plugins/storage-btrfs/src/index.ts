import { definePlugin } from '@berth/core';
import { BtrfsDriver } from './btrfs-driver.js';
import { probeBtrfs } from './btrfs-support.js';

export { BtrfsDriver, type BtrfsDriverOptions, deleteSubvolume } from './btrfs-driver.js';
export { type BtrfsSupport, probeBtrfs } from './btrfs-support.js';

/**
 * The `btrfs` storage plugin: subvolumes and snapshots on a data root that is on btrfs.
 * Skips (PluginSkipped, with the reason) anywhere else; enables quotas at start.
 */
export default definePlugin({
  kind: 'storage',
  name: 'btrfs',
  description: 'btrfs subvolumes and snapshots: copy-on-write layers, size limits by qgroups',
  async init(ctx) {
    const support = await probeBtrfs(ctx.root);
    if (!support.quota) ctx.log.warn('btrfs quotas could not be enabled: --storage-opt size= is refused', { error: support.quotaError });
    return BtrfsDriver.open(ctx.root, { quota: support.quota, log: ctx.log });
  },
});
