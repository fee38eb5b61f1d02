/**
 * `@berth/volume-kit/conformance`: the cases every volume driver passes, in-process or
 * through an adapter over a socket. `volumeDriverSuite('mine', (dir) => MyDriver.open(dir))`
 * in a uvu test file.
 */
export { mountsUnder, VolumeCase, type VolumeDriverFactory } from './volume-case.js';
export { type VolumeDriverSuiteOptions, volumeDriverSuite } from './volume-driver-suite.js';
