import { randomBytes } from 'node:crypto';
import {
  Conflict,
  defaultIpamName,
  type EventBus,
  EventBusToken,
  type Filters,
  Forbidden,
  formatIpv4Prefix,
  InvalidArgument,
  type Ipam,
  type Ipv4PoolRequest,
  inject,
  injectable,
  type Logger,
  LoggerToken,
  macFromIpv4,
  type NetworkCreateRequest,
  type NetworkDriver,
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
import type { NetworkAttachment } from '../containers/network-attachments.js';
import { type DriverLookup, DriverLookupToken } from '../plugins/driver-lookup.js';
import { elapsed } from '../runs/timing.js';
import { type ContainerNames, ContainerNamesToken } from './container-names.js';
import { hostRoutes } from './default-ipam.js';
import { EndpointReleases } from './endpoint-releases.js';
import { matchesNetworkFilters as matches } from './network-filters.js';
import type { EndpointRecord, NetworkRecord } from './network-record.js';
import { type NetworkStore, NetworkStoreToken } from './network-store.js';
import { networkInspect } from './network-views.js';
import { RestoreLedger } from './restore-ledger.js';

/** Docker's predefined networks, in the order they are made: each exists when its driver is loaded. */
const predefined = ['bridge', 'none', 'host'] as const;
const bridgeNameOption = 'com.docker.network.bridge.name';

/**
 * The engine's networks (the `NetworksApi` facade) and containers' endpoints on them.
 * Owns the network model (NetworkStore), asks each network's IPAM driver for its pool and
 * addresses and its network driver for kernel objects; both are found by name through
 * DriverLookup (registered plugins, or Docker plugins discovered on sockets; one that
 * was not running at start is given its networks and pools at first use, RestoreLedger). Every
 * change writes its record ahead, so a crash at any point is undone or finished by
 * `recover`:
 *
 * - create: `creating` record → IPAM pool → `creating` record with the pool →
 *   driver.createNetwork → `ready`; recovery deletes a `creating` network from the driver,
 *   releases its pool and forgets it. (A crash between a remote IPAM's answer and the
 *   second write leaves that pool with the remote: its id was never known to berth.)
 * - remove: `removing` record → driver.deleteNetwork → IPAM release → record deleted;
 *   recovery finishes a `removing` network.
 * - a container's start: for each of its networks in order (`attachAll`), address from
 *   IPAM → endpoint record → driver.attach (`eth0`, `eth1`, …; one endpoint carries the
 *   default route); its end: driver.detach → IPAM release → record deleted, for each.
 *   `network connect`/`disconnect` of a running container (`connectRunning`,
 *   `disconnectRunning`) do the same for one network, the caller (NetworkConnections)
 *   writing the container's record after a connect and before a disconnect. `sweep` (after
 *   run recovery) detaches every endpoint its container does not hold (not running, or a
 *   network its record does not list); the drivers then `restore` the endpoints that stay.
 * - a container's removal: the same end, in the background (`detachLater`, tracked by
 *   EndpointReleases) so that the removal does not wait for the kernel; the record stays
 *   until the driver has detached, so a crash meanwhile leaves an endpoint of a container
 *   that does not exist, which `sweep` releases. An address is handed out, and a network
 *   removed, only once the releases under way on that network have settled.
 *
 * Changes to networks are serialised (one queue); endpoints of different containers go
 * side by side (IPAM is synchronous inside, so no address is handed out twice).
 */
@injectable()
export class NetworkService implements Omit<NetworksApi, 'connect' | 'disconnect'> {
  private queue: Promise<unknown> = Promise.resolve();
  /** Which drivers were given which networks since start (a plugin discovered late is given them at first use). */
  private readonly ledger = new RestoreLedger();
  private readonly releases = new EndpointReleases();
  /** The index of the next interface per running container (`eth<n>`): Docker's never reuses one while the namespace lives. */
  private readonly nextInterface = new Map<string, number>();

  constructor(
    @inject(NetworkStoreToken) private readonly store: NetworkStore,
    @inject(DriverLookupToken) private readonly lookup: DriverLookup,
    @inject(EngineConfigToken) private readonly config: ResolvedEngineConfig,
    @inject(ContainerNamesToken) private readonly names: ContainerNames,
    @inject(EventBusToken) private readonly events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
  ) {}

  /**
   * Start-up, before runs are recovered: read the records, undo or finish what a crash
   * cut short, give IPAM every pool and address back, have each driver make (adopt) its
   * networks, and make the predefined networks that do not exist yet.
   */
  async recover(): Promise<void> {
    await this.store.load((file, err) => this.log.error('unreadable network record skipped', { file, error: String(err) }));
    for (const record of this.store.list()) {
      // A Docker plugin's driver is discovered here, so its networks work again after a restart.
      const driver = await this.lookup.find('network', record.driver).catch((err) => {
        this.log.warn('network driver not available', { name: record.name, driver: record.driver, error: String(err) });
        return undefined;
      });
      const ipam = await this.ipamDriverOf(record).catch((err) => {
        this.log.warn('IPAM driver not available', { name: record.name, driver: record.ipamDriver, error: String(err) });
        return undefined;
      });
      if (record.state !== 'ready') {
        this.log.warn(record.state === 'creating' ? 'undoing an interrupted network create' : 'finishing an interrupted network removal', {
          id: record.id,
          name: record.name,
        });
        for (const endpoint of this.store.endpointsOf(record.id)) {
          if (endpoint.ipAddress) await ipam?.releaseAddress(record.id, endpoint.ipAddress).catch(() => {});
          await this.store.deleteEndpoint(endpoint);
        }
        await driver
          ?.deleteNetwork(record)
          .catch((err) => this.log.warn('driver could not delete a network', { id: record.id, error: String(err) }));
        if (record.ipv4) {
          await ipam
            ?.releasePool(record.id)
            .catch((err) => this.log.warn('IPAM could not release a pool', { id: record.id, error: String(err) }));
        }
        await this.store.delete(record.id);
        continue;
      }
      if (!driver) {
        this.log.warn('network of a driver that is not loaded', { id: record.id, name: record.name, driver: record.driver });
        continue;
      }
      await this.networkDriverOf(record).catch((err) =>
        this.log.error('cannot restore a network', { name: record.name, error: String(err) }),
      );
    }
    for (const name of predefined) {
      if (!this.lookup.loaded('network', name) || this.findByName(name)) continue;
      await this.createNetwork(this.predefinedRequest(name), true).catch((err) =>
        this.log.error(`cannot create the predefined network ${name}`, { error: String(err) }),
      );
    }
  }

  /**
   * After runs were recovered: detach every endpoint that `keep` refuses — one of a
   * container that is not running (a crash between attach and the run's first record, or
   * a run that ended while berthd was down), or of a network its record no longer lists (a
   * `network disconnect` cut short is finished; a `network connect` cut before its record
   * was written is undone) — then let each driver restore the endpoints that stay.
   */
  async sweep(keep: (endpoint: EndpointRecord, network: NetworkRecord) => boolean): Promise<void> {
    const kept = new Map<string, EndpointRecord[]>();
    for (const network of this.store.list()) {
      for (const endpoint of this.store.endpointsOf(network.id)) {
        if (keep(endpoint, network)) {
          // The interface index goes on from the highest the run has, as dockerd's restored sandbox does.
          const next = interfaceIndex(endpoint.interfaceName) + 1;
          if (next > (this.nextInterface.get(endpoint.containerId) ?? 0)) this.nextInterface.set(endpoint.containerId, next);
          const list = kept.get(network.driver) ?? [];
          list.push(endpoint);
          kept.set(network.driver, list);
        } else {
          this.log.warn('removing an endpoint its container does not hold', {
            network: network.name,
            container: endpoint.containerId,
          });
          await this.releaseEndpoint(network, endpoint);
        }
      }
    }
    for (const [name, driver] of this.lookup.drivers('network')) {
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
    const configs = request.IPAM?.Config ?? [];
    if (configs.length > 1) throw new InvalidArgument('berth supports one IPv4 subnet per network');
    const config = configs[0] ?? {};
    if (config.AuxiliaryAddresses && Object.keys(config.AuxiliaryAddresses).length > 0) {
      throw new InvalidArgument('--aux-address is not supported by berth yet');
    }
    // Attachable only matters to swarm-scoped networks; dockerd stores it on a local one (docker-compose v1 asks for it).
    for (const field of ['Ingress', 'ConfigOnly'] as const) {
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
        ipamDriver: request.IPAM?.Driver || defaultIpamName,
        ...(request.Attachable ? { attachable: true } : {}),
        ipam: {
          ...(config.Subnet ? { subnet: config.Subnet } : {}),
          ...(config.Gateway ? { gateway: config.Gateway } : {}),
          ...(config.IPRange ? { ipRange: config.IPRange } : {}),
          ...(request.IPAM?.Options && Object.keys(request.IPAM.Options).length > 0 ? { options: { ...request.IPAM.Options } } : {}),
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
      await this.releases.settled(record.id);
      await this.removeRecord(record);
    });
  }

  prune(filters: Filters = {}): Promise<NetworksPruneReport> {
    return this.serialised(async () => {
      await this.releases.settled();
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
      return this.lookup.loaded('network', this.resolveMode(mode).driver)?.namespaceMode === 'host';
    } catch {
      return false;
    }
  }

  /** Whether two network names are one network (`default` and `bridge`, a name and its id); false when either is unknown. */
  sameNetwork(a: string, b: string): boolean {
    const x = this.findMode(a);
    return x !== undefined && x.id === this.findMode(b)?.id;
  }

  /**
   * The networks of a container's attachments, resolved and checked before anything is
   * made: NotFound for a network or driver that is missing, InvalidArgument for a mix
   * Docker refuses (the host's namespace or `none` beside another network). A network
   * named twice counts once.
   */
  async plan(attachments: NetworkAttachment[]): Promise<PlannedAttachment[]> {
    const planned: PlannedAttachment[] = [];
    for (const attachment of attachments) {
      const network = this.resolveMode(attachment.network);
      const driver = await this.driverOf(network);
      if (planned.some((p) => p.network.id === network.id)) continue;
      if (!driver.usesIpam && (attachment.ipv4Address || attachment.macAddress)) {
        throw new InvalidArgument(
          `network ${network.name} (driver ${network.driver}) has no addresses: --ip and --mac-address need a bridge network`,
        );
      }
      planned.push({ network, driver, attachment });
    }
    if (planned.length > 1) {
      if (planned.some((p) => p.driver.namespaceMode === 'host')) {
        throw new InvalidArgument(
          'container sharing network namespace with another container or host cannot be connected to any other network',
        );
      }
      if (planned.some((p) => p.network.driver === 'none')) {
        throw new InvalidArgument('container cannot be connected to multiple networks with one of the networks in private (none) mode');
      }
    }
    return planned;
  }

  /**
   * Attach a started container (its process `pid`) to each of its networks, one after
   * another in its order: an address from IPAM, the endpoint written down, then the
   * driver, which names the interface `eth0`, `eth1`, … in that order. The default route
   * goes through the endpoint of the highest `GwPriority` (the first among equals) whose
   * network has a way out. On failure nothing stays: every endpoint made is undone.
   */
  async attachAll(record: ContainerRecord, pid: number): Promise<EndpointRecord[]> {
    const planned = await this.plan(record.networks);
    const route = defaultRouteChoice(planned.map((p) => ({ network: p.network, priority: p.attachment.gwPriority ?? 0 })));
    const made: Array<{ network: NetworkRecord; endpoint: EndpointRecord }> = [];
    let index = 0;
    try {
      for (const [i, { network, driver, attachment }] of planned.entries()) {
        const endpoint = await this.attachEndpoint(record, { network, driver, attachment }, pid, `eth${index}`, i === route);
        if (endpoint.info?.interfaceName) index++;
        made.push({ network, endpoint });
      }
    } catch (err) {
      for (const { network, endpoint } of made.reverse()) await this.releaseEndpoint(network, endpoint);
      throw err;
    }
    this.nextInterface.set(record.id, index);
    for (const { network } of made) {
      this.events.publish('network', 'connect', network.id, { container: record.id, name: network.name, type: network.driver });
    }
    return made.map((m) => m.endpoint);
  }

  /**
   * `network connect` of a running container: one more endpoint, attached into the
   * namespace of its process as the next `ethN`. Forbidden (dockerd's 403) when it has an
   * endpoint on the network already. It takes the default route when it has none yet, or
   * when its `GwPriority` is above that of the endpoint that has it.
   */
  async connectRunning(record: ContainerRecord, attachment: NetworkAttachment, pid: number): Promise<EndpointRecord> {
    const network = this.resolveMode(attachment.network);
    if (this.store.endpointsOf(network.id).some((e) => e.containerId === record.id)) {
      throw new Forbidden(`endpoint with name ${record.name} already exists in network ${network.name}`);
    }
    const current = this.endpointsOf(record.id);
    const [planned] = (await this.plan([...current.map((c) => ({ network: c.network.id })), attachment])).slice(current.length);
    if (!planned) throw new Forbidden(`endpoint with name ${record.name} already exists in network ${network.name}`);
    const routed = current.find((c) => carriesDefaultRoute(c.endpoint));
    const takesRoute = hasWayOut(network) && (!routed || (attachment.gwPriority ?? 0) > (routed.endpoint.gwPriority ?? 0));
    const used = current.map((c) => interfaceIndex(c.endpoint.interfaceName) + 1);
    const index = Math.max(this.nextInterface.get(record.id) ?? 0, ...used, 0);
    const endpoint = await this.attachEndpoint(record, planned, pid, `eth${index}`, takesRoute);
    if (endpoint.info?.interfaceName) this.nextInterface.set(record.id, index + 1);
    if (takesRoute && routed) {
      // The driver replaced the route; the record of the endpoint that had it says so too.
      routed.endpoint.defaultRoute = false;
      await this.store.saveEndpoint(routed.endpoint);
    }
    this.events.publish('network', 'connect', network.id, { container: record.id, name: network.name, type: network.driver });
    return endpoint;
  }

  /**
   * `network disconnect` of a running container (its process `pid`): its endpoint on the
   * network is detached (the interface leaves its namespace) and forgotten. When that
   * endpoint carried the default route, the endpoint of the highest `GwPriority` left (the
   * lowest interface among equals) takes it over, as dockerd's sandbox does. False when
   * the container has no endpoint there.
   */
  async disconnectRunning(containerId: string, networkId: string, pid: number): Promise<boolean> {
    const endpoint = this.store.endpointsOf(networkId).find((e) => e.containerId === containerId);
    const network = this.store.get(networkId);
    if (!endpoint || !network) return false;
    await this.releaseEndpoint(network, endpoint);
    this.events.publish('network', 'disconnect', network.id, { container: containerId, name: network.name, type: network.driver });
    if (carriesDefaultRoute(endpoint)) await this.moveDefaultRoute(containerId, pid);
    return true;
  }

  /** Route a running container's traffic out through the best endpoint it has left; logged, not thrown, when that fails. */
  private async moveDefaultRoute(containerId: string, pid: number): Promise<void> {
    const left = this.endpointsOf(containerId).sort(
      (a, b) => interfaceIndex(a.endpoint.interfaceName) - interfaceIndex(b.endpoint.interfaceName),
    );
    const choice = defaultRouteChoice(left.map((l) => ({ network: l.network, priority: l.endpoint.gwPriority ?? 0 })));
    const next = left[choice];
    if (!next) return;
    try {
      const driver = await this.networkDriverOf(next.network);
      if (!driver?.routeDefault) throw new Error(`driver ${next.network.driver} cannot move a default route`);
      await driver.routeDefault(next.endpoint, `/proc/${pid}/ns/net`);
      next.endpoint.defaultRoute = true;
      await this.store.saveEndpoint(next.endpoint);
    } catch (err) {
      this.log.warn('the default route could not move to another network', {
        id: containerId,
        network: next.network.name,
        error: String(err),
      });
    }
  }

  /** Make one endpoint: an address from IPAM, the record written ahead, then the driver; undone on failure. */
  private async attachEndpoint(
    record: ContainerRecord,
    { network, driver, attachment }: PlannedAttachment,
    pid: number,
    interfaceName: string,
    defaultRoute: boolean,
  ): Promise<EndpointRecord> {
    const endpoint: EndpointRecord = {
      networkId: network.id,
      id: randomBytes(32).toString('hex'),
      containerId: record.id,
      aliases: [record.name, ...(attachment.aliases ?? [])],
      interfaceName,
      ...(attachment.gwPriority ? { gwPriority: attachment.gwPriority } : {}),
    };
    if (driver.usesIpam && network.ipv4) {
      // A removed container's address comes back once its link is gone, never before: wait
      // for the releases under way here (usually none: they started while this run's CLI did).
      await this.releases.settled(network.id);
      endpoint.ipAddress = await (await this.ipamOf(network)).requestAddress(network.id, attachment.ipv4Address || undefined);
      endpoint.ipPrefixLen = parseIpv4Prefix(network.ipv4.subnet).bits;
      if (!network.internal) endpoint.gateway = network.ipv4.gateway;
      endpoint.defaultRoute = defaultRoute && endpoint.gateway !== undefined;
      // Docker's MAC from the address unless one was asked for: decided here, so the record
      // written ahead holds everything inspect shows and attach needs no second write.
      endpoint.macAddress = attachment.macAddress ? parseMacAddress(attachment.macAddress) : macFromIpv4(endpoint.ipAddress);
    }
    try {
      const began = performance.now();
      await this.store.saveEndpoint(endpoint);
      const recorded = elapsed(began);
      this.log.debug('network endpoint recorded', { id: record.id, network: network.name, address: endpoint.ipAddress ?? '' });
      endpoint.info = await driver.attach(endpoint, driver.namespaceMode === 'host' ? undefined : `/proc/${pid}/ns/net`);
      this.log.debug('network endpoint attached', {
        id: record.id,
        network: network.name,
        address: endpoint.ipAddress ?? '',
        recordMs: recorded,
        ms: elapsed(began),
      });
    } catch (err) {
      await this.releaseEndpoint(network, endpoint);
      throw err;
    }
    return endpoint;
  }

  /**
   * Release a removed container's endpoints in the background (see the class comment):
   * returns at once; failures are logged, and a release cut short by a crash is finished
   * by `sweep` at the next start. The container must be gone or going (its process ended,
   * its record being deleted): nothing may attach it again.
   */
  detachLater(containerId: string): void {
    for (const endpoint of this.store.endpointsOfContainer(containerId)) {
      const network = this.store.get(endpoint.networkId);
      if (!network || this.releases.isReleasing(network.id, endpoint.id)) continue;
      this.log.debug('network endpoint release started', { id: containerId, network: network.name });
      this.releases.track(network.id, endpoint.id, () =>
        this.releaseEndpoint(network, endpoint).catch((err) =>
          this.log.error('cannot release the endpoint of a removed container', {
            id: containerId,
            network: network.name,
            error: String(err),
          }),
        ),
      );
      // Now, as Docker orders them (die, disconnect, destroy): the API no longer shows the endpoint.
      this.events.publish('network', 'disconnect', network.id, { container: containerId, name: network.name, type: network.driver });
    }
  }

  /** Resolves once every endpoint release under way in the background has settled (shutdown). */
  releasesSettled(): Promise<void> {
    return this.releases.settled();
  }

  /** Detach a container from every network it has an endpoint on; what is already gone is skipped. */
  async detach(containerId: string): Promise<void> {
    this.nextInterface.delete(containerId);
    for (const endpoint of this.store.endpointsOfContainer(containerId)) {
      const network = this.store.get(endpoint.networkId);
      if (!network) continue;
      if (this.releases.isReleasing(network.id, endpoint.id)) {
        await this.releases.settled(network.id); // released once only: its address may be someone else's by now
        continue;
      }
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
    const began = performance.now();
    const unavailable = (what: string) => (err: unknown) => {
      this.log.warn(`${what} not available to release an endpoint`, { network: network.name, id: endpoint.id, error: String(err) });
      return undefined;
    };
    const driver = await this.networkDriverOf(network).catch(unavailable('network driver'));
    await driver
      ?.detach(endpoint)
      .catch((err) => this.log.warn('driver could not detach an endpoint', { id: endpoint.id, error: String(err) }));
    const detached = elapsed(began);
    if (endpoint.ipAddress) {
      const ipam = await this.ipamDriverOf(network).catch(unavailable('IPAM driver'));
      await ipam
        ?.releaseAddress(network.id, endpoint.ipAddress)
        .catch((err) => this.log.warn('IPAM could not release an address', { id: endpoint.id, error: String(err) }));
    }
    await this.store.deleteEndpoint(endpoint);
    this.log.debug('network endpoint released', {
      id: endpoint.containerId,
      network: network.name,
      driverMs: detached,
      ms: elapsed(began),
    });
  }

  /** A network's driver, discovered if need be; NotFound naming the network when there is none. */
  private async driverOf(network: NetworkRecord): Promise<NetworkDriver> {
    const driver = await this.networkDriverOf(network);
    if (!driver) throw new NotFound(`network ${network.name}: driver ${network.driver} is not loaded`);
    return driver;
  }

  /** A network's IPAM driver, discovered if need be; NotFound naming the network when there is none. */
  private async ipamOf(network: NetworkRecord): Promise<Ipam> {
    const ipam = await this.ipamDriverOf(network);
    if (!ipam) throw new NotFound(`network ${network.name}: IPAM driver ${network.ipamDriver ?? defaultIpamName} is not loaded`);
    return ipam;
  }

  /**
   * A ready network's driver (undefined when no plugin has it), given the network first
   * if it has not been since start: `restoreNetwork`, or an idempotent `createNetwork`.
   */
  private async networkDriverOf(network: NetworkRecord): Promise<NetworkDriver | undefined> {
    const driver = await this.lookup.find('network', network.driver);
    if (driver && !this.ledger.has(driver, network.id)) {
      await (driver.restoreNetwork ? driver.restoreNetwork(network) : driver.createNetwork(network));
      this.ledger.mark(driver, network.id);
    }
    return driver;
  }

  /** A network's IPAM driver (undefined when no plugin has it), given back the network's pool and addresses first if it has not been since start. */
  private async ipamDriverOf(network: NetworkRecord): Promise<Ipam | undefined> {
    const ipam = await this.lookup.find('ipam', network.ipamDriver ?? defaultIpamName);
    if (ipam && !this.ledger.has(ipam, network.id)) {
      if (network.ipv4) ipam.restorePool(network.id, network.ipv4);
      for (const endpoint of this.store.endpointsOf(network.id)) {
        if (endpoint.ipAddress) ipam.restoreAddress(network.id, endpoint.ipAddress);
      }
      this.ledger.mark(ipam, network.id);
    }
    return ipam;
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
    if (name !== 'bridge') return { name, driver: name, options: {}, labels: {}, internal: false, ipamDriver: defaultIpamName, ipam: {} };
    const options = {
      [bridgeNameOption]: this.config.defaultBridge.name,
      'com.docker.network.bridge.default_bridge': 'true',
      'com.docker.network.bridge.enable_icc': 'true',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
    };
    return { name, driver: 'bridge', options, labels: {}, internal: false, ipamDriver: defaultIpamName, ipam: this.defaultBridgePool() };
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
      const driver = await this.lookup.get('network', request.driver);
      if (!driver.usesIpam && (Object.keys(request.ipam).length > 0 || request.ipamDriver !== defaultIpamName)) {
        throw new InvalidArgument(
          `the ${request.driver} driver hands out no addresses: --subnet, --gateway, --ip-range and --ipam-driver need a network driver that does`,
        );
      }
      // Before anything is made, as dockerd: an unknown IPAM driver is a 404 that leaves nothing.
      const ipam = driver.usesIpam ? await this.lookup.get('ipam', request.ipamDriver) : undefined;
      const record: NetworkRecord = {
        id: randomBytes(32).toString('hex'),
        name: request.name,
        driver: request.driver,
        options: request.options,
        labels: request.labels,
        internal: request.internal,
        ...(request.attachable ? { attachable: true } : {}),
        created: new Date().toISOString(),
        state: 'creating',
        ipamRequest: request.ipam,
        ...(request.ipamDriver !== defaultIpamName ? { ipamDriver: request.ipamDriver } : {}),
        ...(request.ipam.options ? { ipamOptions: request.ipam.options } : {}),
        predefined: isPredefined,
      };
      if (ipam) {
        if (request.ipam.subnet) {
          // A subnet the host already routes would shadow the host's own network.
          const asked = parseIpv4Prefix(request.ipam.subnet);
          const route = hostRoutes().find((r) => prefixesOverlap(r, asked));
          if (route && !isPredefined) {
            throw new Conflict(`subnet ${request.ipam.subnet} overlaps ${formatIpv4Prefix(route)}, which the host routes already`);
          }
        }
      }
      try {
        await this.store.save(record);
        this.log.debug('network create written ahead', { id: record.id, name: record.name });
        if (ipam) {
          record.ipv4 = await ipam.requestPool(record.id, request.ipam);
          this.ledger.mark(ipam, record.id);
          await this.store.save(record);
        }
        await driver.createNetwork(record);
        this.ledger.mark(driver, record.id);
        record.state = 'ready';
        await this.store.save(record);
      } catch (err) {
        await driver.deleteNetwork(record).catch(() => {});
        if (record.ipv4) await ipam?.releasePool(record.id).catch(() => {});
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
    // Found before anything is written: a plugin that is not running fails the removal, which can be asked again.
    const driver = await this.networkDriverOf(record);
    const ipam = record.ipv4 ? await this.ipamDriverOf(record) : undefined;
    record.state = 'removing';
    await this.store.save(record);
    this.log.debug('network removal written ahead', { id: record.id, name: record.name });
    await driver?.deleteNetwork(record);
    if (record.ipv4) await ipam?.releasePool(record.id);
    await this.store.delete(record.id);
    this.events.publish('network', 'destroy', record.id, { name: record.name, type: record.driver });
  }

  private inspectRecord(record: NetworkRecord): NetworkInspect {
    // An endpoint whose release is under way belongs to a container that is gone already.
    const endpoints = this.store.endpointsOf(record.id).filter((e) => !this.releases.isReleasing(record.id, e.id));
    return networkInspect(record, endpoints, (id) => this.names.nameOf(id) ?? '');
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => {});
    return next;
  }
}

/** An attachment with its network and driver, checked. */
export interface PlannedAttachment {
  network: NetworkRecord;
  driver: NetworkDriver;
  attachment: NetworkAttachment;
}

/** Whether a network gives its endpoints a gateway (a way out): not internal, with addresses. */
function hasWayOut(network: NetworkRecord): boolean {
  return !network.internal && network.ipv4 !== undefined;
}

/** Whether an endpoint holds its container's default route (records of an older berth: any with a gateway). */
function carriesDefaultRoute(endpoint: EndpointRecord): boolean {
  return endpoint.gateway !== undefined && endpoint.defaultRoute !== false;
}

/** The `N` of `ethN`; -1 for none. */
function interfaceIndex(name: string | undefined): number {
  const m = /^eth(\d+)$/.exec(name ?? '');
  return m ? Number(m[1]) : -1;
}

/** The index of the network that carries the default route: the highest priority with a way out, the first among equals; -1 for none. */
export function defaultRouteChoice(networks: Array<{ network: NetworkRecord; priority: number }>): number {
  let best = -1;
  networks.forEach(({ network, priority }, i) => {
    if (hasWayOut(network) && (best < 0 || priority > networks[best]!.priority)) best = i;
  });
  return best;
}

/** A network about to be created. */
interface NewNetwork {
  name: string;
  driver: string;
  options: Record<string, string>;
  labels: Record<string, string>;
  internal: boolean;
  /** The IPAM driver's name (`default` unless `--ipam-driver`). */
  ipamDriver: string;
  attachable?: boolean;
  ipam: Ipv4PoolRequest;
}

export const NetworkServiceToken = token<NetworkService>('NetworkService');
