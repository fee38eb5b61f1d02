import { definePlugin } from '@berth/core';
import { OverlayDriver } from './overlay-driver.js';
import { probeOverlay } from './overlay-support.js';

export { MAX_MOUNT_DATA, OverlayDriver, type OverlayDriverOptions } from './overlay-driver.js';
export { type OverlaySupport, probeOverlay } from './overlay-support.js';

/**
 * The `overlay` storage plugin. init mounts a test overlay under its root; it skips
 * (PluginSkipped, with the reason) when the kernel lacks overlayfs or the filesystem
 * under the data root cannot carry an upper layer.
 */
export default definePlugin({
  kind: 'storage',
  name: 'overlay',
  description: 'kernel overlayfs: layers shared, a thin writable layer per container',
  async init(ctx) {
    const support = await probeOverlay(ctx.root);
    return OverlayDriver.open(ctx.root, { extraOptions: support.extraOptions, volatile: support.volatile, log: ctx.log });
  },
});
