export { type EngineApiFactory, type EngineApiSuiteOptions, type EngineApiUnderTest, engineApiSuite } from './engine-api-suite.js';
export { errorOf, rejectsWith, rejectsWithCode } from './expect-error.js';
export { pluginContext } from './plugin-context.js';
export { runStorageCase, type StorageCase, type StorageDriverFactory } from './storage-case.js';
export { type StorageDriverSuiteOptions, storageDriverSuite } from './storage-driver-suite.js';
export { claimTestBlock, releaseTestBlock, TEST_BLOCK_CLAIMS } from './test-blocks.js';
export { type TestNetns, testNetns } from './test-netns.js';
export { treeSnapshot } from './tree.js';
