// The conformance suite through serve(): the same driver, out of process over Docker's
// volume plugin protocol, reached by the kit's plain protocol client. A "new driver over
// the same state" is the serving process restarted over the same ledger.
import { overServe, volumeDriverSuite } from '../src/conformance/index.js';
import { DirectoryDriver } from './fixtures/directory-driver.js';

const served = overServe(async (state) => new DirectoryDriver(state));
volumeDriverSuite('dir (over serve)', served.makeDriver, {
  tempPrefix: '/tmp/berth-unit-volume-kit-',
  // serve() refuses removal while a mount ID holds the volume, whatever the driver does.
  refusesRemoveWhileMounted: true,
  release: served.release,
});
