/**
 * Dependency-injection tokens. Strings rather than symbols, so that two copies of
 * `@berth/core` (a plugin with its own node_modules) still agree on them.
 */
export const Tokens = {
  /** The storage driver chosen for this daemon: `StorageDriver`. */
  StorageDriver: 'berth.StorageDriver',
  /** Every network driver that initialised, by name: `Map<string, NetworkDriver>`. */
  NetworkDrivers: 'berth.NetworkDrivers',
  /** Every volume driver that initialised, by name: `Map<string, VolumeDriver>`. */
  VolumeDrivers: 'berth.VolumeDrivers',
  /** Every runtime that initialised, by name: `Map<string, Runtime>`. */
  Runtimes: 'berth.Runtimes',
  /** The engine's event bus: `EventBus`. */
  Events: 'berth.Events',
  /** The logger: `Logger`. */
  Logger: 'berth.Logger',
  /** The resolved engine configuration: `EngineConfig` of `@berth/engine`. */
  Config: 'berth.Config',
} as const;
