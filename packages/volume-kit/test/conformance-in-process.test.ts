// The conformance suite against the kit's test driver, in-process: the suite's own check.
import { volumeDriverSuite } from '../src/conformance/index.js';
import { DirectoryDriver } from './fixtures/directory-driver.js';

// A plain directory has nothing a delete could go through: removal while mounted is the engine's to refuse.
volumeDriverSuite('dir (in-process)', async (root) => new DirectoryDriver(root), {
  tempPrefix: '/tmp/berth-unit-volume-kit-',
  refusesRemoveWhileMounted: false,
});
