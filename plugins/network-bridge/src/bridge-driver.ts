import { closeSync, promises as fs, fstatSync, openSync, statSync } from 'node:fs';
import {
  Conflict,
  type EndpointInfo,
  type EndpointSpec,
  InvalidArgument,
  type Logger,
  macFromIpv4,
  type NetworkDriver,
  type NetworkSpec,
  NotFound,
  parseIpv4Prefix,
  runProgram,
  SystemError,
} from '@berth/core';
import { isNoSuchDevice } from './commands.js';
import { createEndpointLinks, deleteHostVeth, routeDefaultThrough } from './endpoint-links.js';
import { bridgeName, checkInterfaceName, hostVethName, networkMtu } from './link-names.js';
import { type FirewalledNetwork, renderRuleset } from './nft-ruleset.js';
import type { ForwardedPort } from './port-rules.js';

/** The driver's settings (daemon.json `plugin-config` `network/bridge`, or berthd's flags). */
export interface BridgeDriverOptions {
  /** berth's nftables table (family `ip`); one per daemon, so daemons on one host never touch each other's rules. */
  table: string;
  /** The MTU of links whose network sets none. */
  mtu: number;
  log: Logger;
}

interface KnownNetwork {
  spec: NetworkSpec;
  bridge: string;
  mtu: number;
}

interface IpLink {
  ifname: string;
  master?: string;
  flags?: string[];
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
  linkinfo?: { info_kind?: string };
}

/**
 * The `bridge` network driver: a Linux bridge per network (holding the gateway address),
 * a veth pair per endpoint (the host side enslaved to the bridge, the other side created
 * directly in the container's namespace under the name the engine chose, `eth0`, `eth1`, …,
 * with its MAC, MTU, address and, on the endpoint that carries it, the default route), and
 * berth's own nftables table for isolation and outbound NAT.
 *
 * Kernel objects and how they are found again without state of the driver's own:
 * - the bridge is named by the network's `com.docker.network.bridge.name` option or
 *   `br-<12 hex of the network id>`; createNetwork adopts one that exists;
 * - the host side of an endpoint is `vb<13 hex of the endpoint id>`: detach deletes it
 *   by name (the kernel deletes both ends; a container that exits takes its end with its
 *   namespace, a grace period after its last process); restore deletes every veth enslaved
 *   to one of the driver's bridges whose endpoint the engine no longer records;
 * - the nftables table is rebuilt whole from the known networks and published ports by
 *   one `nft -f` transaction after each network create or delete and each publish or
 *   revoke (renderRuleset). Until `restore` says which endpoints still run, a rebuild
 *   leaves the chains of published ports as the kernel has them, so containers stay
 *   reachable while berthd starts again;
 * - published ports are DNAT rules in that table (no process of berth's carries their
 *   traffic), and a bridge with published ports gets `route_localnet` (what 127.0.0.1
 *   needs; port-rules.ts says what guards it). The setting goes with the bridge.
 *
 * An endpoint's links are made and deleted through rtnetlink, with no process
 * (endpoint-links.ts); networks, rare, through iproute2's `ip`; the README explains why. Calls that change the firewall are serialised, each
 * rendering the current set of networks.
 */
export class BridgeDriver implements NetworkDriver {
  readonly name = 'bridge';
  readonly namespaceMode = 'private' as const;
  readonly usesIpam = true;
  private readonly networks = new Map<string, KnownNetwork>();
  /** The forwarded ports of each published endpoint, by endpoint id. */
  private readonly published = new Map<string, ForwardedPort[]>();
  /** Whether `published` is the whole truth: after `restore` (or a first publish or revoke in a driver never restored). */
  private portsKnown = false;
  private firewall: Promise<void> = Promise.resolve();
  private hostNetns?: { dev: number; ino: number };

  constructor(private readonly options: BridgeDriverOptions) {}

  async createNetwork(spec: NetworkSpec): Promise<void> {
    if (!spec.ipv4) throw new InvalidArgument(`network ${spec.name}: a bridge network needs an IPv4 subnet`);
    const bridge = bridgeName(spec);
    const mtu = networkMtu(spec, this.options.mtu);
    for (const other of this.networks.values()) {
      if (other.spec.id !== spec.id && other.bridge === bridge) {
        throw new Conflict(`bridge ${bridge} is already used by network ${other.spec.name}`);
      }
    }
    const prefixLen = parseIpv4Prefix(spec.ipv4.subnet).bits;
    const address = `${spec.ipv4.gateway}/${prefixLen}`;
    const existing = await this.link(bridge);
    if (existing && existing.linkinfo?.info_kind !== 'bridge') {
      throw new Conflict(`cannot use ${bridge} for network ${spec.name}: a link of that name exists and is not a bridge`);
    }
    const commands: string[] = [];
    if (!existing) commands.push(`link add name ${bridge} mtu ${mtu} type bridge`);
    const hasAddress = existing?.addr_info?.some((a) => a.family === 'inet' && `${a.local}/${a.prefixlen}` === address);
    if (!hasAddress) commands.push(`addr add ${address} dev ${bridge}`);
    if (!existing?.flags?.includes('UP')) commands.push(`link set ${bridge} up`);
    if (commands.length > 0) {
      try {
        await runProgram('ip', ['-batch', '-'], `${commands.join('\n')}\n`);
      } catch (err) {
        if (!existing) await runProgram('ip', ['link', 'del', bridge]).catch(() => {});
        throw err;
      }
    }
    this.networks.set(spec.id, { spec, bridge, mtu });
    if (!spec.internal) await enableIpForwarding();
    await this.syncFirewall();
  }

  async deleteNetwork(spec: NetworkSpec): Promise<void> {
    const bridge = this.networks.get(spec.id)?.bridge ?? bridgeName(spec);
    this.networks.delete(spec.id);
    for (const [id, ports] of this.published) if (ports[0]?.bridge === bridge) this.published.delete(id);
    await this.syncFirewall();
    await runProgram('ip', ['link', 'del', bridge]).catch((err) => {
      if (!isNoSuchDevice(err)) throw err;
    });
  }

  async restore(endpoints: EndpointSpec[]): Promise<void> {
    this.published.clear();
    for (const endpoint of endpoints) {
      const ports = this.forwardedPorts(endpoint);
      if (ports.length > 0) this.published.set(endpoint.id, ports);
    }
    this.portsKnown = true;
    await this.syncFirewall();
    for (const id of this.published.keys()) await enableHairpin(hostVethName(id)).catch(() => {}); // a veth gone with its container is swept below
    const expected = new Set(endpoints.map((e) => hostVethName(e.id)));
    const bridges = new Set([...this.networks.values()].map((n) => n.bridge));
    const links = JSON.parse((await runProgram('ip', ['-j', 'link', 'show', 'type', 'veth'])) || '[]') as IpLink[];
    for (const link of links) {
      if (link.master === undefined || !bridges.has(link.master) || expected.has(link.ifname)) continue;
      this.options.log.warn('removing a veth of no recorded endpoint', { link: link.ifname, bridge: link.master });
      await runProgram('ip', ['link', 'del', link.ifname]).catch((err) => {
        if (!isNoSuchDevice(err)) throw err;
      });
    }
  }

  async attach(endpoint: EndpointSpec, netnsPath: string | undefined): Promise<EndpointInfo> {
    const network = this.networks.get(endpoint.networkId);
    if (!network) throw new NotFound(`network ${endpoint.networkId} not found`);
    if (!netnsPath) throw new InvalidArgument('a bridge endpoint needs the container network namespace');
    if (!endpoint.ipAddress || endpoint.ipPrefixLen === undefined) {
      throw new InvalidArgument(`endpoint ${endpoint.id}: the bridge driver needs an address from IPAM`);
    }
    const veth = hostVethName(endpoint.id);
    const mac = endpoint.macAddress ?? macFromIpv4(endpoint.ipAddress);
    const ifname = checkInterfaceName(endpoint.interfaceName ?? 'eth0', 'container interface name');
    const { bridge, mtu } = network;
    // One descriptor for every step: the namespace checked is the one the links go into.
    const netnsFd = openSync(netnsPath, 'r');
    try {
      this.refuseHostNamespace(netnsPath, fstatSync(netnsFd));
      await createEndpointLinks({
        veth,
        bridge,
        mtu,
        peerName: ifname,
        mac,
        address: endpoint.ipAddress,
        prefixLen: endpoint.ipPrefixLen,
        // Only one of a container's endpoints carries the default route (the engine decides which).
        gateway: endpoint.defaultRoute !== false ? endpoint.gateway : undefined,
        netnsFd,
      });
    } finally {
      closeSync(netnsFd);
    }
    return {
      ipAddress: endpoint.ipAddress,
      ipPrefixLen: endpoint.ipPrefixLen,
      gateway: endpoint.gateway,
      macAddress: mac,
      interfaceName: ifname,
    };
  }

  async detach(endpoint: EndpointSpec): Promise<void> {
    // The engine revokes first; a caller that did not still gets no port forwarded to a gone address.
    if (this.published.has(endpoint.id)) await this.revoke(endpoint);
    await deleteHostVeth(hostVethName(endpoint.id));
  }

  async routeDefault(endpoint: EndpointSpec, netnsPath: string): Promise<void> {
    if (!endpoint.gateway) throw new InvalidArgument(`endpoint ${endpoint.id}: no gateway to route through (an internal network)`);
    const ifname = checkInterfaceName(endpoint.interfaceName ?? 'eth0', 'container interface name');
    const netnsFd = openSync(netnsPath, 'r');
    try {
      this.refuseHostNamespace(netnsPath, fstatSync(netnsFd));
      await routeDefaultThrough(netnsFd, ifname, endpoint.gateway);
    } finally {
      closeSync(netnsFd);
    }
  }

  async publish(endpoint: EndpointSpec): Promise<void> {
    const network = this.networks.get(endpoint.networkId);
    if (!network) throw new NotFound(`network ${endpoint.networkId} not found`);
    const ports = this.forwardedPorts(endpoint);
    if (network.spec.internal && (endpoint.portBindings?.length ?? 0) > 0) {
      // As Docker: an internal network has no way in or out, so its ports are not forwarded.
      this.options.log.info('ports of an endpoint on an internal network are not published', { endpoint: endpoint.id });
    }
    const before = this.published.get(endpoint.id);
    if (ports.length > 0) this.published.set(endpoint.id, ports);
    else this.published.delete(endpoint.id);
    this.portsKnown = true;
    try {
      await this.syncFirewall();
    } catch (err) {
      // The transaction failed whole: the kernel forwards what it did before, and so do we.
      if (before) this.published.set(endpoint.id, before);
      else this.published.delete(endpoint.id);
      throw err;
    }
    if (ports.length > 0) await enableHairpin(hostVethName(endpoint.id));
  }

  async revoke(endpoint: EndpointSpec): Promise<void> {
    // Nothing known of it is nothing to do; before restore that also keeps the kernel's
    // port rules of the endpoints still to be restored (the engine revokes the others first).
    if (!this.published.delete(endpoint.id)) return;
    await this.syncFirewall();
  }

  /** The bridge a known network uses (tests, inspect). */
  bridgeOf(networkId: string): string | undefined {
    return this.networks.get(networkId)?.bridge;
  }

  private async link(name: string): Promise<IpLink | undefined> {
    try {
      const links = JSON.parse(await runProgram('ip', ['-j', '-d', 'addr', 'show', 'dev', name])) as IpLink[];
      return links[0];
    } catch (err) {
      if (isNoSuchDevice(err)) return undefined;
      throw err;
    }
  }

  /** Never plug a container's eth0 into the host: a namespace that is the host's own is a bug upstream. */
  private refuseHostNamespace(netnsPath: string, target: { dev: number; ino: number }): void {
    this.hostNetns ??= statSync('/proc/self/ns/net');
    const host = this.hostNetns;
    if (host.dev === target.dev && host.ino === target.ino) {
      throw new SystemError(`${netnsPath} is the host's network namespace: refusing to attach a bridge endpoint there`);
    }
  }

  /** An endpoint's bindings as the firewall forwards them; none on an internal or unknown network. */
  private forwardedPorts(endpoint: EndpointSpec): ForwardedPort[] {
    const network = this.networks.get(endpoint.networkId);
    if (!network || network.spec.internal || !endpoint.ipAddress) return [];
    return (endpoint.portBindings ?? []).map((binding) => ({ bridge: network.bridge, address: endpoint.ipAddress!, binding }));
  }

  private syncFirewall(): Promise<void> {
    const next = this.firewall.then(async () => {
      const networks: FirewalledNetwork[] = [...this.networks.values()].map((n) => ({
        bridge: n.bridge,
        subnet: n.spec.ipv4!.subnet,
        internal: n.spec.internal,
      }));
      const ports = this.portsKnown ? [...this.published.values()].flat() : undefined;
      await runProgram('nft', ['-f', '-'], renderRuleset(this.options.table, networks, ports));
      // After the rules, so the guard against 127.0.0.0/8 is in place before the bridge routes it.
      for (const bridge of new Set((ports ?? []).map((p) => p.bridge))) await enableRouteLocalnet(bridge);
    });
    this.firewall = next.catch(() => {});
    return next;
  }
}

/**
 * Let a bridge route 127.0.0.0/8, as dockerd does on its bridge without the userland
 * proxy: a connection to 127.0.0.1:<published port> is DNATed to a container and leaves
 * through the bridge with its loopback source (masqueraded only after routing), and its
 * replies come back to 127.0.0.1 through the bridge. The table's guard drops anything
 * else from the bridge with such an address.
 */
async function enableRouteLocalnet(bridge: string): Promise<void> {
  const file = `/proc/sys/net/ipv4/conf/${bridge}/route_localnet`;
  if ((await fs.readFile(file, 'utf8')).trim() !== '1') await fs.writeFile(file, '1\n');
}

/** Let the bridge send a frame back out of the port it came in by (a container reaching its own published port; port-rules.ts). */
async function enableHairpin(veth: string): Promise<void> {
  await fs.writeFile(`/sys/class/net/${veth}/brport/hairpin_mode`, '1\n');
}

/** Forward IPv4 between interfaces, as dockerd does at start: without it nothing leaves a bridge. */
async function enableIpForwarding(): Promise<void> {
  const file = '/proc/sys/net/ipv4/ip_forward';
  if ((await fs.readFile(file, 'utf8')).trim() !== '1') await fs.writeFile(file, '1\n');
}
