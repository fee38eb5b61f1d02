import { readFileSync } from 'node:fs';
import {
  Conflict,
  formatIpv4,
  formatIpv4Prefix,
  InvalidArgument,
  type Ipam,
  type Ipv4Pool,
  type Ipv4PoolRequest,
  type Ipv4Prefix,
  inject,
  injectable,
  NotFound,
  parseIpv4,
  parseIpv4Prefix,
  prefixContains,
  prefixesOverlap,
  prefixSize,
  SystemError,
} from '@berth/core';
import { EngineConfigToken, type ResolvedEngineConfig } from '../config.js';

/** A base prefix carved into subnets of `size` bits (daemon.json `default-address-pools`). */
export interface AddressPool {
  base: string;
  size: number;
}

/** Docker's default pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s. */
export const dockerDefaultPools: readonly AddressPool[] = Object.freeze([
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: '192.168.0.0/16', size: 20 },
]);

interface Reservation {
  subnet: Ipv4Prefix;
  gateway: number;
  range: Ipv4Prefix;
  taken: Set<number>;
}

/**
 * The prefixes the host routes (`/proc/net/route`, every table the kernel lists there),
 * without the default route: a subnet overlapping one would shadow or be shadowed by the
 * host's own networks, so pools skip them (as dockerd does).
 */
export function hostRoutes(): Ipv4Prefix[] {
  let text: string;
  try {
    text = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return [];
  }
  const routes: Ipv4Prefix[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8) continue;
    // Little-endian hex words.
    const le = (hex: string) => Buffer.from(hex, 'hex').readUInt32LE(0);
    const mask = le(cols[7]!);
    const bits = Math.clz32(~mask >>> 0); // a contiguous mask: its leading ones
    if (bits === 0) continue;
    routes.push({ base: (le(cols[1]!) & mask) >>> 0, bits });
  }
  return routes;
}

/**
 * The engine's default IPAM (core's `Ipam`): pools from `--subnet` or carved from the
 * configured default pools, skipping any subnet another network holds or a host route
 * covers; addresses handed out lowest free first within the network's range, never twice,
 * the network address, the broadcast address and the gateway excluded. In memory only:
 * NetworkService rebuilds it from the network and endpoint records at start.
 */
@injectable()
export class DefaultIpam implements Ipam {
  private readonly reservations = new Map<string, Reservation>();
  private readonly pools: readonly AddressPool[];
  /** The host's routes, read each time a pool is chosen; tests put their own. */
  routes: () => Ipv4Prefix[] = hostRoutes;

  constructor(@inject(EngineConfigToken) config: ResolvedEngineConfig) {
    this.pools = config.defaultAddressPools;
  }

  restorePool(networkId: string, pool: Ipv4Pool): void {
    this.reservations.set(networkId, reservationOf(pool));
  }

  restoreAddress(networkId: string, address: string): void {
    this.reservations.get(networkId)?.taken.add(parseIpv4(address));
  }

  async requestPool(networkId: string, request: Ipv4PoolRequest): Promise<Ipv4Pool> {
    if (this.reservations.has(networkId)) throw new Conflict(`network ${networkId} already has an address pool`);
    let subnet: Ipv4Prefix;
    if (request.subnet) {
      subnet = parseIpv4Prefix(request.subnet, 'subnet');
      if (subnet.bits > 30) throw new InvalidArgument(`invalid subnet ${request.subnet}: a network needs at least a /30`);
      for (const other of this.reservations.values()) {
        if (prefixesOverlap(other.subnet, subnet)) {
          throw new Conflict(
            `Pool overlaps with other one on this address space: ${request.subnet} overlaps ${formatIpv4Prefix(other.subnet)}`,
          );
        }
      }
    } else {
      if (request.gateway || request.ipRange) throw new InvalidArgument('--gateway and --ip-range need --subnet');
      subnet = this.freeSubnet();
    }
    const pool: Ipv4Pool = { subnet: formatIpv4Prefix(subnet), gateway: '' };
    if (request.ipRange) {
      const range = parseIpv4Prefix(request.ipRange, 'ip-range');
      if (range.bits < subnet.bits || !prefixContains(subnet, range.base)) {
        throw new InvalidArgument(`invalid ip-range ${request.ipRange}: it is not inside subnet ${pool.subnet}`);
      }
      pool.ipRange = formatIpv4Prefix(range);
    }
    if (request.gateway) {
      const gateway = parseIpv4(request.gateway, 'gateway');
      if (!usable(subnet, gateway))
        throw new InvalidArgument(`invalid gateway ${request.gateway}: it is not a host address of subnet ${pool.subnet}`);
      pool.gateway = request.gateway;
    } else {
      pool.gateway = formatIpv4(subnet.base + 1);
    }
    this.reservations.set(networkId, reservationOf(pool));
    return pool;
  }

  async releasePool(networkId: string): Promise<void> {
    this.reservations.delete(networkId);
  }

  async requestAddress(networkId: string, preferred?: string): Promise<string> {
    const r = this.reservations.get(networkId);
    if (!r) throw new NotFound(`network ${networkId} has no address pool`);
    if (preferred) {
      const address = parseIpv4(preferred, 'IPv4 address');
      if (!usable(r.subnet, address) || address === r.gateway) {
        throw new InvalidArgument(
          `invalid IPv4 address ${preferred}: it is not a free host address of subnet ${formatIpv4Prefix(r.subnet)}`,
        );
      }
      if (r.taken.has(address)) throw new Conflict(`Address already in use: ${preferred}`);
      r.taken.add(address);
      return preferred;
    }
    const first = r.range.base;
    const end = r.range.base + prefixSize(r.range);
    for (let a = first; a < end; a++) {
      if (!usable(r.subnet, a) || a === r.gateway || r.taken.has(a)) continue;
      r.taken.add(a);
      return formatIpv4(a);
    }
    throw new SystemError(`no available IPv4 addresses on this network's address pools: ${formatIpv4Prefix(r.range)}`);
  }

  async releaseAddress(networkId: string, address: string): Promise<void> {
    this.reservations.get(networkId)?.taken.delete(parseIpv4(address));
  }

  private freeSubnet(): Ipv4Prefix {
    const routes = this.routes();
    for (const pool of this.pools) {
      const base = parseIpv4Prefix(pool.base, 'default address pool');
      if (pool.size < base.bits || pool.size > 30)
        throw new InvalidArgument(`invalid default address pool ${pool.base}: size ${pool.size}`);
      const step = 2 ** (32 - pool.size);
      for (let n = base.base; n < base.base + prefixSize(base); n += step) {
        const candidate = { base: n, bits: pool.size };
        if ([...this.reservations.values()].some((r) => prefixesOverlap(r.subnet, candidate))) continue;
        if (routes.some((route) => prefixesOverlap(route, candidate))) continue;
        return candidate;
      }
    }
    throw new SystemError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  }
}

/** A host address of the subnet: neither its network nor its broadcast address. */
function usable(subnet: Ipv4Prefix, address: number): boolean {
  return prefixContains(subnet, address) && address !== subnet.base && address !== subnet.base + prefixSize(subnet) - 1;
}

function reservationOf(pool: Ipv4Pool): Reservation {
  const subnet = parseIpv4Prefix(pool.subnet);
  return {
    subnet,
    gateway: parseIpv4(pool.gateway),
    range: pool.ipRange ? parseIpv4Prefix(pool.ipRange) : subnet,
    taken: new Set(),
  };
}
