import { randomBytes } from 'node:crypto';
import {
  Conflict,
  type DriverRegistry,
  type EventBus,
  EventBusToken,
  type Filters,
  Forbidden,
  formatIpv4Prefix,
  InvalidArgument,
  type Ipam,
  IpamToken,
  type Ipv4PoolRequest,
  inject,
  injectable,
  type Logger,
  LoggerToken,
  macFromIpv4,
  type NetworkCreateRequest,
  type NetworkDriver,
  NetworkDriversToken,
  type NetworkInspect,
  type NetworksApi,
  type NetworksPruneReport,
  NotFound,
  parseIpv4,
  parseIpv4Prefix,
  parseMacAddress,
  prefixesOverlap,
  token,
} from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { type ContainerNames, ContainerNamesToken } from './container-names.js';
import { hostRoutes } from './default-ipam.js';
import { type HostPortAllocator, HostPortAllocatorToken } from './host-ports.js';
import { matchesNetworkFilters as matches } from './network-filters.js';
import type { EndpointRecord, NetworkRecord } from './network-record.js';
import { type NetworkStore, NetworkStoreToken } from './network-store.js';
import { networkInspect } from './network-views.js';
import { portRequests } from './port-requests.js';

/** Docker's predefined networks, in the order they are made: each exists when its driver is loaded. */
const predefined = ['bridge', 'none', 'host'] as const;
const bridgeNameOption = 'com.docker.network.bridge.name';

/**
 * The engine's networks (the `NetworksApi` facade) and containers' endpoints on them.
 * Owns the network model (NetworkStore), asks IPAM for pools and addresses and the
 * network drivers for kernel objects. Every change writes its record ahead, so a crash
 * at any point is undone or finished by `recover`:
 *
 * - create: `creating` record (with the pool) → driver.createNetwork → `ready`;
 *   recovery deletes a `creating` network from the driver and forgets it.
 * - remove: `removing` record → driver.deleteNetwork → IPAM release → record deleted;
 *   recovery finishes a `removing` network.
 * - a container's start: address from IPAM and host ports held (HostPortAllocator) →
 *   endpoint record (with both) → driver.attach → driver.publish; its end:
 *   driver.revoke → driver.detach → IPAM and host ports released → record deleted.
 *   `sweep` (after run recovery) detaches every endpoint of a container that is not
 *   running; the drivers then `restore` the endpoints that stay (their ports held again).
 *
 * Changes to networks are serialised (one queue); endpoints of different containers go
 * side by side (IPAM is synchronous inside, so no address is handed out twice).
 */
@injectable()
export class NetworkService implements NetworksApi {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    @inject(NetworkStoreToken) private readonly store: NetworkStore,
    @inject(IpamToken) private readonly ipam: Ipam,
    @inject(NetworkDriversToken) private readonly drivers: DriverRegistry<NetworkDriver>,
    @inject(EngineConfigToken) private readonly config: ResolvedEngineConfig,
    @inject(ContainerNamesToken) private readonly names: ContainerNames,
    @inject(EventBusToken) private readonly events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
    @inject(HostPortAllocatorToken) private readonly ports: HostPortAllocator,
  ) {}

  /**
   * Start-up, before runs are recovered: read the records, undo or finish what a crash
   * cut short, give IPAM every pool and address back, have each driver make (adopt) its
   * networks, and make the predefined networks that do not exist yet.
   */
  async recover(): Promise<void> {
    await this.store.load((file, err) => this.log.error('unreadable network record skipped', { file, error: String(err) }));
    for (const record of this.store.list()) {
      const driver = this.drivers.get(record.driver);
      if (record.state !== 'ready') {
        this.log.warn(record.state === 'creating' ? 'undoing an interrupted network create' : 'finishing an interrupted network removal', {
          id: record.id,
          name: record.name,
        });
        for (const endpoint of this.store.endpointsOf(record.id)) await this.store.deleteEndpoint(endpoint);
        await driver
          ?.deleteNetwork(record)
          .catch((err) => this.log.warn('driver could not delete a network', { id: record.id, error: String(err) }));
        await this.store.delete(record.id);
        continue;
      }
      if (record.ipv4) this.ipam.restorePool(record.id, record.ipv4);
      for (const endpoint of this.store.endpointsOf(record.id)) {
        if (endpoint.ipAddress) this.ipam.restoreAddress(record.id, endpoint.ipAddress);
      }
      if (!driver) {
        this.log.warn('network of a driver that is not loaded', { id: record.id, name: record.name, driver: record.driver });
        continue;
      }
      await driver
        .createNetwork(record)
        .catch((err) => this.log.error('cannot restore a network', { name: record.name, error: String(err) }));
    }
    for (const name of predefined) {
      if (!this.drivers.has(name) || this.findByName(name)) continue;
      await this.createNetwork(this.predefinedRequest(name), true).catch((err) =>
        this.log.error(`cannot create the predefined network ${name}`, { error: String(err) }),
      );
    }
  }

  /**
   * After runs were recovered: detach every endpoint whose container is not running (a
   * crash between attach and the run's first record, or a run that ended while berthd
   * was down), then let each driver restore the endpoints that stay.
   */
  async sweep(isRunning: (containerId: string) => boolean): Promise<void> {
    const kept = new Map<string, EndpointRecord[]>();
    for (const network of this.store.list()) {
      for (const endpoint of this.store.endpointsOf(network.id)) {
        if (isRunning(endpoint.containerId)) {
          const list = kept.get(network.driver) ?? [];
          list.push(endpoint);
          kept.set(network.driver, list);
          if (endpoint.portBindings?.length)
            await this.ports.hold(this.names.nameOf(endpoint.containerId) ?? endpoint.containerId, endpoint.portBindings);
        } else {
          this.log.warn('removing the endpoint of a container that is not running', {
            network: network.name,
            container: endpoint.containerId,
          });
          await this.releaseEndpoint(network, endpoint);
        }
      }
    }
    for (const [name, driver] of this.drivers) {
      await driver
        .restore(kept.get(name) ?? [])
        .catch((err) => this.log.error('driver could not restore its endpoints', { driver: name, error: String(err) }));
    }
  }

  async create(request: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    if (!request || typeof request.Name !== 'string' || request.Name === '') throw new InvalidArgument('network name is required');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(request.Name)) {
      throw new InvalidArgument(`invalid network name "${request.Name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    if ((predefined as readonly string[]).includes(request.Name)) {
      throw new Forbidden(`${request.Name} is a pre-defined network and cannot be created`);
    }
    if (request.EnableIPv6) throw new InvalidArgument('IPv6 networks are not supported by berth yet (--ipv6)');
    if (request.IPAM?.Driver && request.IPAM.Driver !== 'default')
      throw new InvalidArgument(`IPAM driver ${request.IPAM.Driver} not found: berth has only "default"`);
    const configs = request.IPAM?.Config ?? [];
    if (configs.length > 1) throw new InvalidArgument('berth supports one IPv4 subnet per network');
    const config = configs[0] ?? {};
    if (config.AuxiliaryAddresses && Object.keys(config.AuxiliaryAddresses).length > 0) {
      throw new InvalidArgument('--aux-address is not supported by berth yet');
    }
    for (const field of ['Attachable', 'Ingress', 'ConfigOnly'] as const) {
      if (request[field]) throw new InvalidArgument(`${field} networks are not supported by berth (no swarm)`);
    }
    if (request.ConfigFrom?.Network) throw new InvalidArgument('--config-from is not supported by berth');
    const id = await this.createNetwork(
      {
        name: request.Name,
        driver: request.Driver || 'bridge',
        options: { ...(request.Options ?? {}) },
        labels: { ...(request.Labels ?? {}) },
        internal: request.Internal === true,
        ipam: {
          ...(config.Subnet ? { subnet: config.Subnet } : {}),
          ...(config.Gateway ? { gateway: config.Gateway } : {}),
          ...(config.IPRange ? { ipRange: config.IPRange } : {}),
        },
      },
      false,
    );
    return { Id: id, Warning: '' };
  }

  list(filters: Filters = {}): NetworkInspect[] {
    return this.store
      .list()
      .filter((n) => n.state === 'ready' && matches(n, filters))
      .map((n) => this.inspectRecord(n));
  }

  inspect(idOrName: string): NetworkInspect {
    return this.inspectRecord(this.find(idOrName));
  }

  remove(idOrName: string): Promise<void> {
    return this.serialised(async () => {
      const record = this.find(idOrName);
      if (record.predefined) throw new Forbidden(`${record.name} is a pre-defined network and cannot be removed`);
      await this.removeRecord(record);
    });
  }

  prune(filters: Filters = {}): Promise<NetworksPruneReport> {
    return this.serialised(async () => {
      const deleted: string[] = [];
      for (const record of this.store.list()) {
        if (record.predefined || record.state !== 'ready' || !matches(record, filters, true)) continue;
        if (this.store.endpointsOf(record.id).length > 0) continue;
        await this.removeRecord(record);
        deleted.push(record.name);
      }
      return { NetworksDeleted: deleted };
    });
  }

  /** The network a container's network mode names (`default` is `bridge` where it exists, else `none`); NotFound otherwise. */
  resolveMode(mode: string): NetworkRecord {
    if (mode === '' || mode === 'default') return this.find(this.findByName('bridge') ? 'bridge' : 'none');
    return this.find(mode);
  }

  /** Whether a mode names a network whose driver shares the host's namespace; false for an unknown one. */
  isHostMode(mode: string): boolean {
    try {
      return this.drivers.get(this.resolveMode(mode).driver)?.namespaceMode === 'host';
    } catch {
      return false;
    }
  }

  /** The driver of a mode's network, checked before a start takes anything; NotFound when either is missing. */
  driverOfMode(mode: string): NetworkDriver {
    const network = this.resolveMode(mode);
    const driver = this.drivers.get(network.driver);
    if (!driver) throw new NotFound(`network ${network.name}: driver ${network.driver} is not loaded`);
    return driver;
  }

  /**
   * Attach a started container (its process `pid`) to the network of its mode: an
   * address from IPAM (the requested `--ip`), the endpoint written down, then the driver.
   * On failure nothing stays: the driver's half, the address and the record are undone.
   */
  async attach(record: ContainerRecord, pid: number): Promise<{ network: NetworkRecord; endpoint: EndpointRecord }> {
    const network = this.resolveMode(record.networkMode);
    const driver = this.drivers.get(network.driver);
    if (!driver) throw new NotFound(`network ${network.name}: driver ${network.driver} is not loaded`);
    const requestedIp = record.endpointRequest?.ipv4Address;
    const mac = record.config.MacAddress;
    if (!driver.usesIpam && (requestedIp || mac)) {
      throw new InvalidArgument(
        `network ${network.name} (driver ${network.driver}) has no addresses: --ip and --mac-address need a bridge network`,
      );
    }
    const endpoint: EndpointRecord = {
      networkId: network.id,
      id: randomBytes(32).toString('hex'),
      containerId: record.id,
      aliases: [record.name, ...(record.endpointRequest?.aliases ?? [])],
    };
    if (driver.usesIpam && network.ipv4) {
      endpoint.ipAddress = await this.ipam.requestAddress(network.id, requestedIp || undefined);
      endpoint.ipPrefixLen = parseIpv4Prefix(network.ipv4.subnet).bits;
      if (!network.internal) endpoint.gateway = network.ipv4.gateway;
      // Docker's MAC from the address unless one was asked for: decided here, so the record
      // written ahead holds everything inspect shows and attach needs no second write.
      endpoint.macAddress = mac ? parseMacAddress(mac) : macFromIpv4(endpoint.ipAddress);
    }
    try {
      // Host ports are held before the record is written, so it names only ports berth owns.
      // As dockerd, a container's ports are published once, on its first endpoint with a
      // way out (an internal network has none), whatever other networks it joins.
      const publishes =
        driver.publish && !network.internal && !this.store.endpointsOfContainer(record.id).some((e) => e.portBindings?.length);
      const requests = publishes ? portRequests(record.config.ExposedPorts, record.hostConfig) : [];
      if (requests.length > 0) endpoint.portBindings = await this.ports.reserve(record.name, requests);
      await this.store.saveEndpoint(endpoint);
      this.log.debug('network endpoint recorded', { id: record.id, network: network.name, address: endpoint.ipAddress ?? '' });
      endpoint.info = await driver.attach(endpoint, driver.namespaceMode === 'host' ? undefined : `/proc/${pid}/ns/net`);
      if (endpoint.portBindings) await driver.publish!(endpoint);
    } catch (err) {
      await this.releaseEndpoint(network, endpoint);
      throw err;
    }
    this.events.publish('network', 'connect', network.id, { container: record.id, name: network.name, type: network.driver });
    return { network, endpoint };
  }

  /** Detach a container from every network it has an endpoint on; what is already gone is skipped. */
  async detach(containerId: string): Promise<void> {
    for (const endpoint of this.store.endpointsOfContainer(containerId)) {
      const network = this.store.get(endpoint.networkId);
      if (!network) continue;
      await this.releaseEndpoint(network, endpoint);
      this.events.publish('network', 'disconnect', network.id, { container: containerId, name: network.name, type: network.driver });
    }
  }

  /** A container's endpoints with their networks, for inspect. */
  endpointsOf(containerId: string): Array<{ network: NetworkRecord; endpoint: EndpointRecord }> {
    const found: Array<{ network: NetworkRecord; endpoint: EndpointRecord }> = [];
    for (const endpoint of this.store.endpointsOfContainer(containerId)) {
      const network = this.store.get(endpoint.networkId);
      if (network) found.push({ network, endpoint });
    }
    return found;
  }

  /** The network a mode names, or undefined (inspect of a stopped container, whose network may be gone). */
  findMode(mode: string): NetworkRecord | undefined {
    try {
      return this.resolveMode(mode);
    } catch {
      return undefined;
    }
  }

  /** The gateway of the default bridge network (`--add-host name:host-gateway`), when there is one. */
  hostGateway(): string | undefined {
    return this.findByName('bridge')?.ipv4?.gateway;
  }

  private async releaseEndpoint(network: NetworkRecord, endpoint: EndpointRecord): Promise<void> {
    const driver = this.drivers.get(network.driver);
    await driver
      ?.revoke?.(endpoint)
      .catch((err) => this.log.warn('driver could not revoke published ports', { id: endpoint.id, error: String(err) }));
    this.ports.release(endpoint.portBindings);
    await driver
      ?.detach(endpoint)
      .catch((err) => this.log.warn('driver could not detach an endpoint', { id: endpoint.id, error: String(err) }));
    if (endpoint.ipAddress) await this.ipam.releaseAddress(network.id, endpoint.ipAddress);
    await this.store.deleteEndpoint(endpoint);
  }

  private find(idOrName: string): NetworkRecord {
    const all = this.store.list().filter((n) => n.state === 'ready');
    const exact = all.find((n) => n.id === idOrName) ?? all.find((n) => n.name === idOrName);
    if (exact) return exact;
    const byPrefix = idOrName.length > 0 ? all.filter((n) => n.id.startsWith(idOrName)) : [];
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw new NotFound(`network ${idOrName} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
    throw new NotFound(`network ${idOrName} not found`);
  }

  private findByName(name: string): NetworkRecord | undefined {
    return this.store.list().find((n) => n.name === name && n.state === 'ready');
  }

  private predefinedRequest(name: (typeof predefined)[number]): NewNetwork {
    if (name !== 'bridge') return { name, driver: name, options: {}, labels: {}, internal: false, ipam: {} };
    const options = {
      [bridgeNameOption]: this.config.defaultBridge.name,
      'com.docker.network.bridge.default_bridge': 'true',
      'com.docker.network.bridge.enable_icc': 'true',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
    };
    return { name, driver: 'bridge', options, labels: {}, internal: false, ipam: this.defaultBridgePool() };
  }

  /** daemon.json `bip` (`172.17.0.1/16`): the subnet it lies in, with itself as the gateway. */
  private defaultBridgePool(): Ipv4PoolRequest {
    const bip = this.config.defaultBridge.bip;
    if (!bip) return {};
    const m = /^([\d.]+)\/(\d{1,2})$/.exec(bip);
    if (!m) throw new InvalidArgument(`invalid bip "${bip}": expected an address with its prefix length, 172.17.0.1/16`);
    const bits = Number(m[2]);
    const address = parseIpv4(m[1]!, 'bip');
    const base = bits === 0 ? 0 : (address & ((0xffffffff << (32 - bits)) >>> 0)) >>> 0;
    return { subnet: formatIpv4Prefix({ base, bits }), gateway: m[1]! };
  }

  private createNetwork(request: NewNetwork, isPredefined: boolean): Promise<string> {
    return this.serialised(async () => {
      if (this.findByName(request.name)) throw new Conflict(`network with name ${request.name} already exists`);
      const driver = this.drivers.get(request.driver);
      if (!driver) throw new NotFound(`plugin "${request.driver}" not found`);
      if (!driver.usesIpam && Object.keys(request.ipam).length > 0) {
        throw new InvalidArgument(
          `the ${request.driver} driver hands out no addresses: --subnet, --gateway and --ip-range need a bridge network`,
        );
      }
      const record: NetworkRecord = {
        id: randomBytes(32).toString('hex'),
        name: request.name,
        driver: request.driver,
        options: request.options,
        labels: request.labels,
        internal: request.internal,
        created: new Date().toISOString(),
        state: 'creating',
        ipamRequest: request.ipam,
        predefined: isPredefined,
      };
      if (driver.usesIpam) {
        if (request.ipam.subnet) {
          // A subnet the host already routes would shadow the host's own network.
          const asked = parseIpv4Prefix(request.ipam.subnet);
          const route = hostRoutes().find((r) => prefixesOverlap(r, asked));
          if (route && !isPredefined) {
            throw new Conflict(`subnet ${request.ipam.subnet} overlaps ${formatIpv4Prefix(route)}, which the host routes already`);
          }
        }
        record.ipv4 = await this.ipam.requestPool(record.id, request.ipam);
      }
      try {
        await this.store.save(record);
        this.log.debug('network create written ahead', { id: record.id, name: record.name });
        await driver.createNetwork(record);
        record.state = 'ready';
        await this.store.save(record);
      } catch (err) {
        await driver.deleteNetwork(record).catch(() => {});
        if (record.ipv4) await this.ipam.releasePool(record.id);
        await this.store.delete(record.id);
        throw err;
      }
      // The predefined networks are the daemon's own, made at start: dockerd publishes no event for them either.
      if (!isPredefined) this.events.publish('network', 'create', record.id, { name: record.name, type: record.driver });
      return record.id;
    });
  }

  private async removeRecord(record: NetworkRecord): Promise<void> {
    const endpoints = this.store.endpointsOf(record.id);
    if (endpoints.length > 0) {
      throw new Conflict(`error while removing network: network ${record.name} id ${record.id} has active endpoints`);
    }
    record.state = 'removing';
    await this.store.save(record);
    this.log.debug('network removal written ahead', { id: record.id, name: record.name });
    const driver = this.drivers.get(record.driver);
    await driver?.deleteNetwork(record);
    if (record.ipv4) await this.ipam.releasePool(record.id);
    await this.store.delete(record.id);
    this.events.publish('network', 'destroy', record.id, { name: record.name, type: record.driver });
  }

  private inspectRecord(record: NetworkRecord): NetworkInspect {
    return networkInspect(record, this.store.endpointsOf(record.id), (id) => this.names.nameOf(id) ?? '');
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => {});
    return next;
  }
}

/** A network about to be created. */
interface NewNetwork {
  name: string;
  driver: string;
  options: Record<string, string>;
  labels: Record<string, string>;
  internal: boolean;
  ipam: Ipv4PoolRequest;
}

export const NetworkServiceToken = token<NetworkService>('NetworkService');
