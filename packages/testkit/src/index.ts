export { storageDriverSuite, type StorageDriverSuiteOptions } from './storage-driver-suite.js';
export { runStorageCase, type StorageCase, type StorageDriverFactory } from './storage-case.js';
export { rejectsWith, rejectsWithCode } from './expect-error.js';
