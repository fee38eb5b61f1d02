import {
  formatIpv4Prefix,
  type Ipam,
  type Ipv4Pool,
  type Ipv4PoolRequest,
  type Logger,
  NotFound,
  parseIpv4,
  parseIpv4Prefix,
  prefixContains,
  SystemError,
} from '@berth/core';
import type { PluginClient } from './plugin-client.js';

/** `IpamDriver.GetDefaultAddressSpaces`' answer. */
export interface AddressSpaces {
  LocalDefaultAddressSpace?: string;
  GlobalDefaultAddressSpace?: string;
}

/** `IpamDriver.GetCapabilities`' answer (absent when the plugin does not implement it). */
export interface IpamCapabilities {
  RequiresMACAddress?: boolean;
  RequiresRequestReplay?: boolean;
}

/** What libnetwork passes to ask IPAM for a network's gateway rather than a container's address. */
const requestAddressType = 'RequestAddressType';
const gatewayAddressType = 'com.docker.network.gateway';

interface KnownPool {
  poolId: string;
  subnet: string;
  gateway: string;
}

/**
 * A Docker IPAM plugin (`IpamDriver.*` over its socket) as berth's Ipam. The plugin keeps
 * its reservations itself, across berthd's restarts; berth records each network's pool
 * (with the plugin's `PoolID`) and each endpoint's address, so after a restart
 * `restorePool` only learns the PoolID back and `restoreAddress` calls nothing.
 *
 * | berth            | the plugin                                                                     |
 * |------------------|--------------------------------------------------------------------------------|
 * | requestPool      | RequestPool (AddressSpace: its local default, Pool: --subnet, SubPool: --ip-range, Options: --ipam-opt), then the gateway: `--gateway`, or the pool's `com.docker.network.gateway` data, or RequestAddress with `RequestAddressType: com.docker.network.gateway` |
 * | requestAddress   | RequestAddress (PoolID, Address: --ip or empty)                               |
 * | releaseAddress   | ReleaseAddress                                                                 |
 * | releasePool      | ReleaseAddress of the gateway (a refusal is ignored: a gateway from the pool's data was never requested), then ReleasePool |
 *
 * Answers are checked: a pool that is not an IPv4 CIDR, an address outside the pool, is
 * an error naming the plugin (the request is given back first).
 */
export class RemoteIpam implements Ipam {
  private readonly pools = new Map<string, KnownPool>();

  constructor(
    readonly name: string,
    private readonly client: PluginClient,
    readonly addressSpaces: AddressSpaces,
    readonly capabilities: IpamCapabilities,
    private readonly log: Logger,
  ) {}

  restorePool(networkId: string, pool: Ipv4Pool): void {
    if (pool.poolId) this.pools.set(networkId, { poolId: pool.poolId, subnet: pool.subnet, gateway: pool.gateway });
  }

  restoreAddress(_networkId: string, _address: string): void {}

  async requestPool(networkId: string, request: Ipv4PoolRequest): Promise<Ipv4Pool> {
    const answer = await this.client.call<{ PoolID?: unknown; Pool?: unknown; Data?: Record<string, string> | null }>(
      'IpamDriver.RequestPool',
      {
        AddressSpace: this.addressSpaces.LocalDefaultAddressSpace ?? '',
        Pool: request.subnet ?? '',
        SubPool: request.ipRange ?? '',
        Options: request.options ?? {},
        V6: false,
      },
    );
    const poolId = typeof answer.PoolID === 'string' ? answer.PoolID : '';
    const release = () => this.client.call('IpamDriver.ReleasePool', { PoolID: poolId }).catch(() => {});
    let subnet: string;
    try {
      if (!poolId) throw new Error('no PoolID');
      subnet = formatIpv4Prefix(parseIpv4Prefix(String(answer.Pool ?? ''), 'pool'));
    } catch (err) {
      if (poolId) await release();
      throw new SystemError(`IPAM plugin ${this.name} answered RequestPool with no usable pool: ${(err as Error).message}`);
    }
    const known: KnownPool = { poolId, subnet, gateway: '' };
    try {
      const fromData = answer.Data?.[gatewayAddressType];
      if (request.gateway) known.gateway = await this.request(known, request.gateway, true);
      else if (fromData) known.gateway = this.check(known, fromData);
      else known.gateway = await this.request(known, '', true);
    } catch (err) {
      await release();
      throw err;
    }
    this.pools.set(networkId, known);
    return { subnet, gateway: known.gateway, ...(request.ipRange ? { ipRange: request.ipRange } : {}), poolId };
  }

  async releasePool(networkId: string): Promise<void> {
    const known = this.pools.get(networkId);
    if (!known) throw new NotFound(`IPAM plugin ${this.name} has no pool recorded for network ${networkId}`);
    await this.client
      .call('IpamDriver.ReleaseAddress', { PoolID: known.poolId, Address: known.gateway })
      .catch((err) => this.log.debug('IPAM plugin refused to release the gateway', { plugin: this.name, error: String(err) }));
    await this.client.call('IpamDriver.ReleasePool', { PoolID: known.poolId });
    this.pools.delete(networkId);
  }

  async requestAddress(networkId: string, preferred?: string): Promise<string> {
    return this.request(this.pool(networkId), preferred ?? '', false);
  }

  async releaseAddress(networkId: string, address: string): Promise<void> {
    await this.client.call('IpamDriver.ReleaseAddress', { PoolID: this.pool(networkId).poolId, Address: address });
  }

  private pool(networkId: string): KnownPool {
    const known = this.pools.get(networkId);
    if (!known) throw new NotFound(`IPAM plugin ${this.name} has no pool recorded for network ${networkId}`);
    return known;
  }

  private async request(pool: KnownPool, preferred: string, gateway: boolean): Promise<string> {
    const answer = await this.client.call<{ Address?: unknown }>('IpamDriver.RequestAddress', {
      PoolID: pool.poolId,
      Address: preferred,
      Options: gateway ? { [requestAddressType]: gatewayAddressType } : {},
    });
    try {
      return this.check(pool, String(answer.Address ?? ''));
    } catch (err) {
      if (typeof answer.Address === 'string' && answer.Address) {
        await this.client.call('IpamDriver.ReleaseAddress', { PoolID: pool.poolId, Address: answer.Address.split('/')[0] }).catch(() => {});
      }
      throw err;
    }
  }

  /** An `a.b.c.d/n` (or bare) address of the pool, as the bare address. */
  private check(pool: KnownPool, text: string): string {
    const address = text.split('/')[0] ?? '';
    let inside = false;
    try {
      inside = prefixContains(parseIpv4Prefix(pool.subnet), parseIpv4(address));
    } catch {}
    if (!inside) throw new SystemError(`IPAM plugin ${this.name} handed out "${text}", which is not an address of its pool ${pool.subnet}`);
    return address;
  }
}
