/**
 * `@berth/volume-kit/conformance`: the cases every volume driver passes, in-process or
 * through `serve()` and a socket (`overServe`). `volumeDriverSuite('mine', (dir) => MyDriver.open(dir))`
 * in a uvu test file.
 */
export { type OverServeOptions, overServe, type ServedFactory } from './over-serve.js';
export { call, ProtocolClient, type WireAnswer } from './protocol-client.js';
export { mountsUnder, VolumeCase, type VolumeDriverFactory } from './volume-case.js';
export { type VolumeDriverSuiteOptions, volumeDriverSuite } from './volume-driver-suite.js';
