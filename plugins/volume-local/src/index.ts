import * as path from 'node:path';
import { definePlugin } from '@berth/core';
import { LocalVolumeDriver } from './local-volume-driver.js';

export { LocalVolumeDriver } from './local-volume-driver.js';

/**
 * The `local` volume plugin, the default volume driver: named volumes as directories
 * under `<data-root>/volumes`, where Docker keeps its own. Works on every host.
 */
export default definePlugin({
  kind: 'volume',
  name: 'local',
  description: 'named volumes as directories under the data root',
  async init(ctx) {
    const driver = new LocalVolumeDriver(path.join(ctx.dataRoot, 'volumes'), ctx.log);
    await driver.open();
    return driver;
  },
});
