// The volume-driver conformance suite of @berth/volume-kit against the local driver, in-process.
import { volumeDriverSuite } from '@berth/volume-kit/conformance';
import { LocalVolumeDriver } from '../src/index.js';

// A plain directory: its mount makes nothing a delete could go through, so removal while
// mounted is the engine's to refuse (it does, 409 naming the containers), not the driver's.
volumeDriverSuite(
  'local',
  async (root) => {
    const driver = new LocalVolumeDriver(root);
    await driver.open();
    return driver;
  },
  { tempPrefix: '/tmp/berth-unit-volume-local-conformance-', refusesRemoveWhileMounted: false },
);
