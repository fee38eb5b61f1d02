import { definePlugin } from '@berth/core';
import { FuseDriver } from './fuse-driver.js';
import { probeFuse } from './fuse-support.js';

export { FUSE_MOUNT_TYPE, FuseDriver, type FuseDriverOptions } from './fuse-driver.js';
export { probeFuse } from './fuse-support.js';
export { type HelperArguments, parseHelperArguments } from './helper-arguments.js';
export { helperCommand } from './helper-command.js';
export { FUSE_MOUNT_OPTIONS, runMountHelper } from './mount-helper.js';

/**
 * The `fuse` storage plugin: overlay's on-disk format served by a union filesystem in
 * userspace, one helper process per mounted snapshot. init mounts a test union through
 * the helper under its root; it skips (PluginSkipped, with the reason) without
 * /dev/fuse, fusermount, libfuse 2 or the patched fuse-native.
 */
export default definePlugin({
  kind: 'storage',
  name: 'fuse',
  description: 'a union filesystem in userspace (FUSE): overlay layers where kernel overlayfs cannot be mounted',
  async init(ctx) {
    await probeFuse(ctx.root);
    return FuseDriver.open(ctx.root, { log: ctx.log });
  },
});
