import { promises as fs } from 'node:fs';
import {
  type EndpointInfo,
  type EndpointSpec,
  InvalidArgument,
  type Logger,
  type NetworkDriver,
  type NetworkSpec,
  NotFound,
  parseIpv4Prefix,
  runProgram,
} from '@berth/core';
import { placeInterface, type StaticRoute } from './interface-mover.js';
import { MethodNotSupported, type PluginClient } from './plugin-client.js';

/** `NetworkDriver.GetCapabilities`' answer. */
export interface NetworkCapabilities {
  Scope?: string;
  ConnectivityScope?: string;
}

interface JoinResponse {
  InterfaceName?: { SrcName?: string; DstPrefix?: string } | null;
  Gateway?: string;
  GatewayIPv6?: string;
  StaticRoutes?: Array<{ Destination?: string; RouteType?: number; NextHop?: string }> | null;
  DisableGatewayService?: boolean;
}

interface CreateEndpointResponse {
  Interface?: { Address?: string; AddressIPv6?: string; MacAddress?: string } | null;
}

/** Where an attached endpoint's interface lives, to take it out of a still-running container at detach. */
interface Placed {
  netnsPath: string;
  dev: number;
  ino: number;
  ifname: string;
}

/**
 * A Docker network-driver plugin (`NetworkDriver.*` over its socket) as berth's
 * NetworkDriver. The plugin owns its kernel objects and its state; berth keeps the
 * network and endpoint records and, per call:
 *
 * | berth                 | the plugin                                                                  |
 * |-----------------------|-----------------------------------------------------------------------------|
 * | createNetwork         | CreateNetwork (NetworkID, Options: generic driver options, IPv4Data)       |
 * | restoreNetwork        | nothing: the plugin kept the network while berthd was down                  |
 * | restore               | nothing: the plugin kept its endpoints                                      |
 * | attach                | CreateEndpoint (Interface: address, MAC) → Join (SandboxKey) → the interface |
 * |                       | it names (SrcName) moved into the namespace as DstPrefix+n → ProgramExternalConnectivity (optional) |
 * | detach                | RevokeExternalConnectivity (optional) → Leave → DeleteEndpoint              |
 * | deleteNetwork         | DeleteNetwork                                                               |
 *
 * Addresses come from the network's IPAM driver (the engine's or a remote one), as in
 * libnetwork: `usesIpam` is true. The default route is the Join's `Gateway` (none when the
 * plugin names none, or on an `--internal` network), as libnetwork's sandbox does.
 */
export class RemoteNetworkDriver implements NetworkDriver {
  readonly namespaceMode = 'private' as const;
  readonly usesIpam = true;
  private readonly networks = new Map<string, NetworkSpec>();
  private readonly placed = new Map<string, Placed>();

  constructor(
    readonly name: string,
    private readonly client: PluginClient,
    readonly capabilities: NetworkCapabilities,
    private readonly log: Logger,
  ) {}

  async createNetwork(spec: NetworkSpec): Promise<void> {
    const options: Record<string, unknown> = { 'com.docker.network.generic': { ...spec.options }, 'com.docker.network.enable_ipv6': false };
    if (spec.internal) options['com.docker.network.internal'] = true;
    const ipv4Data = spec.ipv4
      ? [
          {
            AddressSpace: 'LocalDefault',
            Pool: spec.ipv4.subnet,
            Gateway: `${spec.ipv4.gateway}/${parseIpv4Prefix(spec.ipv4.subnet).bits}`,
            AuxAddresses: {},
          },
        ]
      : [];
    await this.client.call('NetworkDriver.CreateNetwork', { NetworkID: spec.id, Options: options, IPv4Data: ipv4Data, IPv6Data: [] });
    this.networks.set(spec.id, spec);
  }

  async restoreNetwork(spec: NetworkSpec): Promise<void> {
    this.networks.set(spec.id, spec);
  }

  async deleteNetwork(spec: NetworkSpec): Promise<void> {
    await this.client.call('NetworkDriver.DeleteNetwork', { NetworkID: spec.id });
    this.networks.delete(spec.id);
  }

  async restore(_endpoints: EndpointSpec[]): Promise<void> {}

  async attach(endpoint: EndpointSpec, netnsPath: string | undefined): Promise<EndpointInfo> {
    if (!netnsPath) throw new InvalidArgument(`a ${this.name} endpoint needs the container's network namespace`);
    const network = this.networks.get(endpoint.networkId);
    if (!network) throw new NotFound(`network ${endpoint.networkId} is not known to the ${this.name} plugin driver`);
    const ids = { NetworkID: endpoint.networkId, EndpointID: endpoint.id };
    const address = endpoint.ipAddress ? `${endpoint.ipAddress}/${endpoint.ipPrefixLen}` : '';
    const created = await this.client.call<CreateEndpointResponse>('NetworkDriver.CreateEndpoint', {
      ...ids,
      Interface: { Address: address, AddressIPv6: '', MacAddress: endpoint.macAddress ?? '' },
      Options: {},
    });
    // The plugin may fill in only what berth left empty, as libnetwork insists.
    const answered = created.Interface ?? {};
    if (answered.Address && address && answered.Address !== address) {
      await this.client.call('NetworkDriver.DeleteEndpoint', ids).catch(() => {});
      throw new InvalidArgument(`plugin ${this.name} changed the endpoint's address ${address} to ${answered.Address}`);
    }
    const mac = endpoint.macAddress || answered.MacAddress || undefined;
    let joined = false;
    try {
      const join = await this.client.call<JoinResponse>('NetworkDriver.Join', { ...ids, SandboxKey: netnsPath, Options: {} });
      joined = true;
      const srcName = join.InterfaceName?.SrcName;
      if (!srcName)
        throw new InvalidArgument(`plugin ${this.name} joined endpoint ${endpoint.id} without naming an interface (InterfaceName.SrcName)`);
      const gateway = network.internal || !join.Gateway ? undefined : join.Gateway;
      // berth's networks are IPv4 only: an IPv6 route has no address of the container's to leave from.
      const routes: StaticRoute[] = (join.StaticRoutes ?? [])
        .filter((r) => !String(r.Destination ?? '').includes(':'))
        .map((r) => ({
          destination: String(r.Destination ?? ''),
          routeType: Number(r.RouteType ?? 0),
          ...(r.NextHop ? { nextHop: r.NextHop } : {}),
        }));
      const ifname = await placeInterface({
        srcName,
        dstPrefix: join.InterfaceName?.DstPrefix || 'eth',
        netnsPath,
        ...(address || answered.Address ? { address: address || answered.Address } : {}),
        ...(mac ? { macAddress: mac } : {}),
        ...(gateway ? { gateway } : {}),
        routes,
      });
      const ns = await fs.stat(netnsPath);
      this.placed.set(endpoint.id, { netnsPath, dev: ns.dev, ino: ns.ino, ifname });
      await this.optional('NetworkDriver.ProgramExternalConnectivity', { ...ids, Options: {} });
      return {
        ...(endpoint.ipAddress ? { ipAddress: endpoint.ipAddress, ipPrefixLen: endpoint.ipPrefixLen } : {}),
        ...(gateway ? { gateway } : {}),
        ...(mac ? { macAddress: mac } : {}),
        interfaceName: ifname,
      };
    } catch (err) {
      this.placed.delete(endpoint.id);
      if (joined) await this.client.call('NetworkDriver.Leave', ids).catch(() => {});
      await this.client.call('NetworkDriver.DeleteEndpoint', ids).catch(() => {});
      throw err;
    }
  }

  async detach(endpoint: EndpointSpec): Promise<void> {
    const ids = { NetworkID: endpoint.networkId, EndpointID: endpoint.id };
    await this.takeOut(endpoint.id);
    await this.optional('NetworkDriver.RevokeExternalConnectivity', ids).catch((err) =>
      this.log.warn('plugin could not revoke external connectivity', { plugin: this.name, endpoint: endpoint.id, error: String(err) }),
    );
    // Leave of an endpoint that never joined (a crash mid-attach) is the plugin's to refuse; DeleteEndpoint still goes.
    await this.client
      .call('NetworkDriver.Leave', ids)
      .catch((err) => this.log.debug('plugin refused Leave', { plugin: this.name, endpoint: endpoint.id, error: String(err) }));
    await this.client.call('NetworkDriver.DeleteEndpoint', ids);
  }

  /**
   * A container still running (`network disconnect`) keeps the interface in its namespace
   * unless it is deleted there: only when the namespace is the one attached to (same
   * inode: a pid reused since cannot mislead it).
   */
  private async takeOut(endpointId: string): Promise<void> {
    const placed = this.placed.get(endpointId);
    this.placed.delete(endpointId);
    if (!placed) return;
    const ns = await fs.stat(placed.netnsPath).catch(() => undefined);
    if (!ns || ns.dev !== placed.dev || ns.ino !== placed.ino) return;
    await runProgram('nsenter', [`--net=${placed.netnsPath}`, 'ip', 'link', 'del', placed.ifname]).catch(() => {});
  }

  /** A call dockerd tolerates a plugin not implementing (404). */
  private async optional(method: string, body: unknown): Promise<void> {
    await this.client.call(method, body).catch((err) => {
      if (!(err instanceof MethodNotSupported)) throw err;
    });
  }
}
