import { existsSync } from 'node:fs';
import { defineVolumePlugin, InvalidArgument, PluginSkipped } from '@berth/volume-kit';
import { LoopVolumeDriver } from './loop-volume-driver.js';
import { DEFAULT_SIZE, parseSize } from './size.js';

export { loopDevicesUnder } from './loop-devices.js';
export { BACKING_PREFIX, LoopVolumeDriver } from './loop-volume-driver.js';
export { DEFAULT_SIZE, parseSize } from './size.js';

/** The host tools the driver runs, and where Debian puts them. */
const TOOLS = ['/usr/sbin/mkfs.ext4', '/usr/sbin/losetup', '/usr/bin/mount', '/usr/bin/umount'];

/**
 * The `loop` volume plugin, loaded by berthd when daemon.json names the package
 * (`"plugins": ["@berth/volume-loop"]`). Its volumes live in the plugin's root,
 * `<data-root>/volume/loop`; `"plugin-config": {"volume/loop": {"default-size": "10G"}}`
 * changes the size of a volume created without `-o size=`. Skipped on a host without
 * loop devices or e2fsprogs.
 */
export default defineVolumePlugin({
  name: 'loop',
  description: 'each volume an ext4 filesystem in a sparse file, loop-mounted, with a hard size quota',
  async create(ctx) {
    if (!existsSync('/dev/loop-control')) throw new PluginSkipped('no /dev/loop-control: this host has no loop devices');
    const missing = TOOLS.filter((t) => !existsSync(t));
    if (missing.length > 0) throw new PluginSkipped(`missing ${missing.join(', ')} (Debian: e2fsprogs, mount)`);
    const configured = ctx.config['default-size'];
    if (configured !== undefined && typeof configured !== 'string') {
      throw new InvalidArgument('plugin-config volume/loop: "default-size" must be a string such as "1G"');
    }
    return new LoopVolumeDriver(ctx.root, configured ? parseSize(configured) : DEFAULT_SIZE).open();
  },
});
