import type { DriverDiscovery } from './contracts/driver-discovery.js';
import type { Ipam } from './contracts/ipam.js';
import type { NetworkDriver } from './contracts/network.js';
import type { Runtime } from './contracts/runtime.js';
import type { StorageDriver } from './contracts/storage.js';
import type { VolumeDriver } from './contracts/volume.js';
import { type Token, token } from './di.js';
import type { EventBus } from './events.js';
import type { Logger } from './logger.js';
import type { DriverRegistry } from './plugins/driver-registry.js';
import type { PluginKind, PluginKinds } from './plugins/plugin-kinds.js';

// The tokens of core's own types. Each package declares the tokens of its own
// services beside their interfaces (the engine's are in @berth/engine).

/** The engine's event bus. */
export const EventBusToken = token<EventBus>('EventBus');
/** The engine's logger; services make children of it. */
export const LoggerToken = token<Logger>('Logger');
/**
 * The engine's built-in IPAM, the `default` of the `ipam` registry (the engine registers
 * its DefaultIpam; an embedder may register another before createEngine fills in the
 * defaults, and an `ipam` plugin named `default` takes its place).
 */
export const IpamToken = token<Ipam>('Ipam');
/** The storage driver chosen for this engine. */
export const StorageDriverToken = token<StorageDriver>('StorageDriver');

/**
 * The drivers of one plugin kind, by name. The engine registers one per kind of
 * `pluginKindTable`, so a new kind is reachable by its token with no code of its own:
 * `@inject(driverRegistryToken('ipam')) ipams: DriverRegistry<Ipam>`.
 */
export function driverRegistryToken<K extends PluginKind>(kind: K): Token<DriverRegistry<PluginKinds[K]>> {
  return token<DriverRegistry<PluginKinds[K]>>(`DriverRegistry.${kind}`);
}

/** Every runtime that initialised, by name. */
export const RuntimesToken: Token<DriverRegistry<Runtime>> = driverRegistryToken('runtime');
/** Every network driver that initialised, by name. */
export const NetworkDriversToken: Token<DriverRegistry<NetworkDriver>> = driverRegistryToken('network');
/** Every volume driver that initialised, by name. */
export const VolumeDriversToken: Token<DriverRegistry<VolumeDriver>> = driverRegistryToken('volume');
/** Every IPAM driver, by name (`default`, plugins', discovered ones). */
export const IpamDriversToken: Token<DriverRegistry<Ipam>> = driverRegistryToken('ipam');
/** The discoveries asked for a driver no registry holds. */
export const DriverDiscoveriesToken: Token<DriverRegistry<DriverDiscovery>> = driverRegistryToken('discovery');
