/**
 * The IPv4 addressing of a network: what the engine's IPAM reserved for it (a subnet, the
 * gateway the driver gives its bridge, and the range addresses are handed out from).
 */
export interface Ipv4Pool {
  /** `a.b.c.d/n`. */
  subnet: string;
  /** An address of the subnet: the bridge's own address, the containers' default route. */
  gateway: string;
  /** A CIDR inside `subnet` that container addresses come from (`--ip-range`); the whole subnet without it. */
  ipRange?: string;
  /**
   * The IPAM driver's own name for the pool, when it has one (a remote IPAM's `PoolID`):
   * recorded with the network and handed back to `Ipam.restorePool` after a restart, so
   * the pool can still be released. Absent for the default IPAM.
   */
  poolId?: string;
}

/**
 * A network as the engine records it (its network store, keyed by `id`); drivers see it
 * when asked to create, delete or restore it, and keep no other copy they depend on.
 */
export interface NetworkSpec {
  /** 64 hex digits, chosen by the engine; stable for the network's life. */
  id: string;
  name: string;
  /** The driver's name (`bridge`, `none`, `host`, a plugin's). */
  driver: string;
  /** Driver options (`-o com.docker.network.bridge.name=br1`, `com.docker.network.driver.mtu`). */
  options: Record<string, string>;
  labels: Record<string, string>;
  /** `--internal`: no route out of the network and nothing forwarded to or from elsewhere. */
  internal: boolean;
  /** The IPv4 pool from the network's IPAM driver; absent for networks whose driver hands out no addresses (none, host). */
  ipv4?: Ipv4Pool;
  /** The IPAM driver the pool and addresses come from (`--ipam-driver`): `default` when absent. */
  ipamDriver?: string;
  /** `--ipam-opt`: the IPAM driver's options, as the network was created with them. */
  ipamOptions?: Record<string, string>;
}

/**
 * A container's endpoint on one network. The engine writes it down (with the address its
 * IPAM chose) before it asks the driver to attach, and forgets it after detach, so a crash
 * at any point leaves a record from which the endpoint can be removed or restored.
 *
 * Published ports will be a field of their own (`portBindings`), published and revoked
 * by steps of their own after attach and before detach; DNS names are `aliases`.
 */
export interface EndpointSpec {
  networkId: string;
  /** The endpoint id: unique per (network, container), 64 hex digits. Drivers name their kernel objects after it. */
  id: string;
  containerId: string;
  /** Names the container answers to on this network (its name, its hostname, `--network-alias`). */
  aliases: string[];
  /** The address the engine's IPAM assigned (the `--ip` asked for, or the next free); absent on none/host. */
  ipAddress?: string;
  /** The prefix length of the network's subnet, for the interface's address. */
  ipPrefixLen?: number;
  /** The network's gateway as this endpoint sees it; absent on an internal network (no route out). */
  gateway?: string;
  /**
   * Whether this endpoint carries the container's default route (via `gateway`). A
   * container on several networks has one default route: the engine gives it to the
   * endpoint of the highest `GwPriority`, the first in the container's network order among
   * equals, skipping internal networks, and sets `false` on the others. Absent: the
   * endpoint carries it when it has a gateway (a caller that knows of one network only).
   */
  defaultRoute?: boolean;
  /** `--mac-address`; without it the driver derives one (bridge: Docker's 02:42 followed by the IPv4 address). */
  macAddress?: string;
  /**
   * The interface's name inside the container, chosen by the engine as Docker's sandbox
   * does: `eth0`, `eth1`, … in the order the container joins its networks (a network
   * connected while it runs takes the next index). Absent in records of an older berth (`eth0`).
   */
  interfaceName?: string;
}

/** What a driver reports after attaching an endpoint (empty for none/host). */
export interface EndpointInfo {
  ipAddress?: string;
  ipPrefixLen?: number;
  gateway?: string;
  macAddress?: string;
  interfaceName?: string;
}

/**
 * How a driver's containers get their network namespace:
 * - `host`: the container shares the host's namespace; no `net` namespace in the spec.
 * - `private`: the runtime creates a new namespace (with only `lo`); after the
 *   container is created and before it starts, the engine calls `attach()` with that
 *   namespace's path (`/proc/<pid>/ns/net`) so the driver can plug interfaces into it.
 */
export type NetworkNamespaceMode = 'host' | 'private';

/**
 * A network driver connects containers to networks. Addresses are not its concern: the
 * network's IPAM driver (core's `Ipam`, a plugin kind of its own) reserves each network's
 * pool and each endpoint's address, and the driver configures what it is given. Drivers
 * are found by name in the `network` kind's DriverRegistry (built-in and npm plugins, at
 * start-up) or, for a name no plugin registered, through the `DriverDiscovery` plugins (a
 * Docker plugin on a socket), when a network of that driver is first created or used.
 * Lifecycle:
 *
 * 1. `createNetwork(spec)` when a network of this driver is created, and again for every
 *    network the engine knows at each daemon start (predefined ones included), unless the
 *    driver has `restoreNetwork`, which is called instead at start. `createNetwork` must
 *    then be idempotent: a kernel object that already exists is adopted, not an error.
 * 2. `restore(endpoints)` once per daemon start, after every `createNetwork`: the
 *    endpoints of this driver the engine still records (those of containers that kept
 *    running while berthd was down). The driver rebuilds what it keeps in memory and
 *    removes the kernel objects of endpoints it made that are not in the list (what a
 *    crash in the middle of an attach or detach left).
 * 3. For each container on the network, at each start: `attach(endpoint, netnsPath)`
 *    after the runtime has created the container's namespace and before its process
 *    starts (the engine writes /etc/hosts once attach has returned, when the address is
 *    in place); `detach(endpoint)` when the run ends. `detach` of an unknown or
 *    half-attached endpoint is a no-op for what is absent, so cleanup after a crash can
 *    call it blindly. A container on several networks gets one attach per network, one
 *    after another in its network order, each with its own `interfaceName` (eth0, eth1,
 *    …); only the endpoint whose `defaultRoute` is set installs the default route.
 *    Connecting a running container to another network (`network connect`) is the same
 *    attach into the namespace of its running process, and `network disconnect` the same
 *    detach while it runs: the driver must remove the interface from the live namespace
 *    (bridge: deleting the host end of the veth pair takes the container's end with it).
 * 4. `deleteNetwork(spec)` when the network is removed; the engine refuses this while
 *    endpoints remain (409), and calls it again after a crash cut a removal short, so it
 *    is idempotent too.
 *
 * A driver owns every kernel object it makes (links, addresses, firewall rules) and must
 * leave none behind after `detach`/`deleteNetwork`.
 *
 * What is not here yet, and where it fits:
 * - Published ports: steps of their own between attach and detach (publish after attach,
 *   revoke before detach, both given `EndpointSpec.portBindings`), so a driver without
 *   ports keeps this shape.
 * - The embedded DNS server: the engine's, fed from its endpoint records (`aliases` per
 *   network); drivers take no part.
 *
 * A remote driver (Docker's `NetworkDriver.*` protocol over a socket, @berth/discovery-docker)
 * maps one to one: createNetwork → CreateNetwork, attach → CreateEndpoint + Join (the
 * plugin names a host interface, which the adapter moves into `netnsPath` and renames),
 * detach → Leave + DeleteEndpoint, deleteNetwork → DeleteNetwork; `restoreNetwork` and
 * `restore` call nothing (the remote keeps its state across berthd's restarts). A remote
 * IPAM (`IpamDriver.*`) implements core's `Ipam`.
 */
export interface NetworkDriver {
  /** The driver's name as `docker network create -d` selects it. */
  readonly name: string;
  readonly namespaceMode: NetworkNamespaceMode;
  /**
   * Whether networks of this driver get addresses from the engine's IPAM (bridge: yes;
   * none, host: no). Without it `NetworkSpec.ipv4` and the endpoint's address stay absent.
   */
  readonly usesIpam: boolean;
  createNetwork(spec: NetworkSpec): Promise<void>;
  /**
   * Optional: at daemon start, for a network the engine recorded as made, in place of
   * `createNetwork`. For a driver whose networks live outside berthd (a remote plugin keeps
   * its own), which a second create would duplicate or refuse.
   */
  restoreNetwork?(spec: NetworkSpec): Promise<void>;
  deleteNetwork(spec: NetworkSpec): Promise<void>;
  restore(endpoints: EndpointSpec[]): Promise<void>;
  attach(endpoint: EndpointSpec, netnsPath: string | undefined): Promise<EndpointInfo>;
  detach(endpoint: EndpointSpec): Promise<void>;
  /**
   * Give the container's default route to this attached endpoint (via its `gateway`): the
   * endpoint that had it was disconnected while the container runs, or one of a higher
   * `GwPriority` left. Optional: a driver without it leaves the container without a default
   * route until its next start.
   */
  routeDefault?(endpoint: EndpointSpec, netnsPath: string): Promise<void>;
}
