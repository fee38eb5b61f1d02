export type { EngineConfig, ResolvedEngineConfig } from './config.js';
export { storagePriority } from './config.js';
export { createEngine, type Engine } from './engine.js';
export { apiVersion, minApiVersion } from './system/system-service.js';
