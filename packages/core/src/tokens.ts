import type { NetworkDriver } from './contracts/network.js';
import type { Runtime } from './contracts/runtime.js';
import type { StorageDriver } from './contracts/storage.js';
import type { VolumeDriver } from './contracts/volume.js';
import { token } from './di.js';
import type { EventBus } from './events.js';
import type { Logger } from './logger.js';
import type { DriverRegistry } from './plugins/driver-registry.js';

// The tokens of core's own types. Each package declares the tokens of its own
// services beside their interfaces (the engine's are in @berth/engine).

/** The engine's event bus. */
export const EventBusToken = token<EventBus>('EventBus');
/** The engine's logger; services make children of it. */
export const LoggerToken = token<Logger>('Logger');
/** The storage driver chosen for this engine. */
export const StorageDriverToken = token<StorageDriver>('StorageDriver');
/** Every runtime that initialised, by name. */
export const RuntimesToken = token<DriverRegistry<Runtime>>('Runtimes');
/** Every network driver that initialised, by name. */
export const NetworkDriversToken = token<DriverRegistry<NetworkDriver>>('NetworkDrivers');
/** Every volume driver that initialised, by name. */
export const VolumeDriversToken = token<DriverRegistry<VolumeDriver>>('VolumeDrivers');
