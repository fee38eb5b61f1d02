import {
  type DriverDiscovery,
  DriverMap,
  type DriverRegistry,
  EventBus,
  type Ipam,
  type NetworkDriver,
  type PluginKind,
  type PluginKinds,
  silentLogger,
} from '@berth/core';
import type { ResolvedEngineConfig } from '../../src/config.js';
import { DefaultIpam } from '../../src/networks/default-ipam.js';
import { HostPortAllocator } from '../../src/networks/host-ports.js';
import { NetworkService } from '../../src/networks/network-service.js';
import { NetworkStore } from '../../src/networks/network-store.js';
import { DriverLookup } from '../../src/plugins/driver-lookup.js';

/** The engine config a network test needs: its data root, the tests' pools of 10.199.0.0/16 and a default bridge name. */
export function networkTestConfig(
  dataRoot: string,
  {
    pools = [{ base: '10.199.0.0/22', size: 24 }],
    bridge = 'bunitx',
  }: { pools?: Array<{ base: string; size: number }>; bridge?: string } = {},
): ResolvedEngineConfig {
  return { dataRoot, defaultAddressPools: pools, defaultBridge: { name: bridge } } as unknown as ResolvedEngineConfig;
}

/** The plugin registries a NetworkService looks drivers up in. */
export type DriverRegistries = <K extends PluginKind>(kind: K) => DriverRegistry<PluginKinds[K]>;

/**
 * Registries holding `bridge` as the `bridge` driver, `others` under their names, and the
 * engine's DefaultIpam as `default`, seeing no host route.
 */
export function networkRegistries(config: ResolvedEngineConfig, bridge: NetworkDriver, others: NetworkDriver[] = []): DriverRegistries {
  const networks = new DriverMap<NetworkDriver>('network');
  networks.add('bridge', bridge);
  for (const other of others) networks.add(other.name, other);
  const ipam = new DefaultIpam(config);
  ipam.routes = () => [];
  const ipams = new DriverMap<Ipam>('ipam');
  ipams.add('default', ipam);
  const maps = { network: networks, ipam: ipams, discovery: new DriverMap<DriverDiscovery>('discovery') } as Record<
    string,
    DriverMap<unknown>
  >;
  return <K extends PluginKind>(kind: K) => maps[kind] as unknown as DriverRegistry<PluginKinds[K]>;
}

/** A NetworkService over a fresh store in `config.dataRoot`, with its collaborators as the tests give them (a new bus and allocator otherwise). */
export function networkService(
  config: ResolvedEngineConfig,
  registries: DriverRegistries,
  { events = new EventBus(), ports = new HostPortAllocator(silentLogger) }: { events?: EventBus; ports?: HostPortAllocator } = {},
): NetworkService {
  return new NetworkService(
    new NetworkStore(config),
    new DriverLookup(registries),
    config,
    { nameOf: () => 'c' },
    events,
    silentLogger,
    ports,
  );
}
