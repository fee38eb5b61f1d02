import type { Ipv4Pool } from './network.js';

/** What a network create asks of IPAM: `--subnet`, `--gateway`, `--ip-range`, each optional, and `--ipam-opt`. */
export interface Ipv4PoolRequest {
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  /** `--ipam-opt k=v` (`IPAM.Options`): the IPAM driver's own settings; the default IPAM takes none and ignores them, as libnetwork's. */
  options?: Record<string, string>;
}

/**
 * IP address management, a plugin kind of its own beside the network drivers (as
 * libnetwork's IPAM beside its drivers): which subnet a network gets and which address
 * each endpoint gets, never twice. A network names its IPAM driver when it is created
 * (`docker network create --ipam-driver <name> --ipam-opt k=v`, `IPAM.Driver` in the API;
 * `default` without it) and keeps it for its life; the engine finds the driver in the
 * `ipam` kind's DriverRegistry (`driverRegistryToken('ipam')`), where `default` is the
 * engine's own (`DefaultIpam`, unless a plugin or the embedder brings one of that name),
 * or through a `DriverDiscovery` (a Docker IPAM plugin on a socket). The engine's network
 * and endpoint records are the durable truth: an IPAM that keeps its reservations in
 * memory is rebuilt from them; one that keeps them itself (a remote IPAM) ignores the
 * restore calls or uses them to learn its pool ids back. Lifecycle:
 *
 * 1. At engine start, `restorePool(networkId, pool)` for every recorded network of this
 *    IPAM (the pool as `requestPool` returned it, `poolId` included), then
 *    `restoreAddress(networkId, address)` for every recorded endpoint: what was handed out
 *    before a restart or crash stays taken. A network whose create or removal a crash cut
 *    short is restored, then its addresses and its pool released.
 * 2. `requestPool(networkId, request)` when a network is created: the requested subnet
 *    (refused when it overlaps another network's or is malformed) or a free one of the
 *    IPAM's own choosing (the default IPAM: from the configured default pools, skipping
 *    what a host route covers); the gateway defaults to the subnet's first address. The
 *    engine records the answer before the network driver sees it.
 * 3. `requestAddress(networkId, preferred)` when an endpoint is made (a container's
 *    start): the `--ip` asked for (refused when taken or outside the subnet/range), or
 *    a free address of the range. `releaseAddress` when the endpoint goes.
 * 4. `releasePool(networkId)` when the network is removed (its endpoints are gone).
 *
 * Every request method may be asynchronous so that a remote IPAM (Docker's IpamDriver
 * protocol) fits the same shape; a refusal is one of core's errors naming the problem.
 */
export interface Ipam {
  restorePool(networkId: string, pool: Ipv4Pool): void;
  restoreAddress(networkId: string, address: string): void;
  requestPool(networkId: string, request: Ipv4PoolRequest): Promise<Ipv4Pool>;
  releasePool(networkId: string): Promise<void>;
  requestAddress(networkId: string, preferred?: string): Promise<string>;
  releaseAddress(networkId: string, address: string): Promise<void>;
}

/** The name of the engine's built-in IPAM driver, the one a network without `--ipam-driver` uses. */
export const defaultIpamName = 'default';
