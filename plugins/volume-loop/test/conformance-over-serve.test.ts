// The same conformance suite with the loop driver out of process: served by the kit's
// serve() over Docker's volume plugin protocol, as `berth-volume-loop` serves it to a
// Docker engine, and reached through a socket.

import { overServe, volumeDriverSuite } from '@berth/volume-kit/conformance';
import * as assert from 'uvu/assert';
import { LoopVolumeDriver, loopDevicesUnder } from '../src/index.js';
import { detachLoop } from '../src/loop-devices.js';

const served = overServe((root) => new LoopVolumeDriver(root, 32 * 1024 * 1024).open(), {
  release: async (dir) => {
    const leaked = await loopDevicesUnder(dir);
    for (const loop of leaked) await detachLoop(loop.device);
    assert.equal(leaked, [], 'loop devices left attached');
  },
});

volumeDriverSuite('loop (over serve)', served.makeDriver, {
  tempPrefix: '/tmp/berth-unit-volume-loop-served-',
  createOptions: { size: '24M' },
  badOptions: [
    { options: { 'conformance-unknown-option': 'x' }, names: 'conformance-unknown-option' },
    { options: { size: 'lots' }, names: 'size' },
  ],
  release: served.release,
});
