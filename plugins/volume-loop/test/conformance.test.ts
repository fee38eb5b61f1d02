// The volume-driver conformance suite of @berth/volume-kit against the loop driver, on
// real loop devices and ext4. After each case the suite has unmounted and removed every
// volume through the driver; `release` then fails the case if a loop device of its
// directory is still attached (and detaches it, so the machine is left clean).

import { volumeDriverSuite } from '@berth/volume-kit/conformance';
import * as assert from 'uvu/assert';
import { LoopVolumeDriver, loopDevicesUnder } from '../src/index.js';
import { detachLoop } from '../src/loop-devices.js';

volumeDriverSuite('loop', (root) => new LoopVolumeDriver(root, 32 * 1024 * 1024).open(), {
  tempPrefix: '/tmp/berth-unit-volume-loop-',
  createOptions: { size: '24M' },
  badOptions: [
    { options: { 'conformance-unknown-option': 'x' }, names: 'conformance-unknown-option' },
    { options: { size: 'lots' }, names: 'size' },
    { options: { size: '1M' }, names: 'size' },
  ],
  release: async (dir) => {
    const leaked = await loopDevicesUnder(dir);
    for (const loop of leaked) await detachLoop(loop.device);
    assert.equal(leaked, [], 'loop devices left attached');
  },
});
