/**
 * `@berth/volume-kit`: write a volume driver once, as core's `VolumeDriver`, then load it
 * in berthd (`defineVolumePlugin`) or serve it to any Docker engine (`serve`). The
 * conformance suite is `@berth/volume-kit/conformance`. What an author needs from core
 * (the contract's types, the error classes, and the few helpers a driver on Linux keeps
 * needing: an atomic JSON write, the mount table, running a host tool) is re-exported,
 * so a driver imports this package alone.
 */
export {
  Conflict,
  type DriverVolume,
  InvalidArgument,
  isBerthError,
  type Logger,
  type MountInfoEntry,
  NotFound,
  type PluginContext,
  PluginSkipped,
  readMountInfo,
  runProgram,
  SystemError,
  type VolumeDriver,
  type VolumeMountContext,
  writeJsonAtomic,
} from '@berth/core';
export { defineVolumePlugin, type VolumePluginDeclaration } from './define-volume-plugin.js';
export { errorFromWire, PLUGIN_CONTENT_TYPE, wireMessage } from './docker-protocol.js';
export { KeyedLock } from './keyed-lock.js';
export { type ServeOptions, serve, type VolumeServer } from './serve.js';
