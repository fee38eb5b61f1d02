import { definePlugin } from '@berth/core';
import { VfsDriver } from './vfs-driver.js';
import { probeVfs } from './vfs-support.js';

export { VfsDriver } from './vfs-driver.js';
export { probeVfs } from './vfs-support.js';

/** The `vfs` storage plugin: full copies, any filesystem. Skips only when GNU cp is missing. */
export default definePlugin({
  kind: 'storage',
  name: 'vfs',
  description: 'a full copy per snapshot: slow and large, but works on any filesystem',
  async init(ctx) {
    await probeVfs(ctx.root);
    return VfsDriver.open(ctx.root, { log: ctx.log });
  },
});
