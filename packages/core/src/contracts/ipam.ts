import type { Ipv4Pool } from './network.js';

/** What a network create asks of IPAM: `--subnet`, `--gateway`, `--ip-range`, each optional. */
export interface Ipv4PoolRequest {
  subnet?: string;
  gateway?: string;
  ipRange?: string;
}

/**
 * IP address management, the engine's own concern beside the network drivers (as
 * libnetwork's IPAM beside its drivers): which subnet a network gets and which address
 * each endpoint gets, never twice. It holds its reservations in memory only; the engine's
 * network and endpoint records are the durable truth it is rebuilt from. Lifecycle:
 *
 * 1. At engine start, `restorePool(networkId, pool)` for every recorded network, then
 *    `restoreAddress(networkId, address)` for every recorded endpoint: what was handed
 *    out before a restart or crash stays taken.
 * 2. `requestPool(networkId, request)` when a network is created: the requested subnet
 *    (refused when it overlaps another network's or is malformed) or a free one from the
 *    configured default pools that no route of the host covers; the gateway defaults to the
 *    subnet's first address.
 * 3. `requestAddress(networkId, preferred)` when an endpoint is made (a container's
 *    start): the `--ip` asked for (refused when taken or outside the subnet/range), or
 *    the lowest free address of the range. `releaseAddress` when the endpoint goes.
 * 4. `releasePool(networkId)` when the network is removed.
 *
 * Every method may be asynchronous so that a remote IPAM (Docker's IpamDriver protocol)
 * fits the same shape.
 */
export interface Ipam {
  restorePool(networkId: string, pool: Ipv4Pool): void;
  restoreAddress(networkId: string, address: string): void;
  requestPool(networkId: string, request: Ipv4PoolRequest): Promise<Ipv4Pool>;
  releasePool(networkId: string): Promise<void>;
  requestAddress(networkId: string, preferred?: string): Promise<string>;
  releaseAddress(networkId: string, address: string): Promise<void>;
}
