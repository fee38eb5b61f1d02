import type { DiscoveredDriver, DriverDiscovery, Logger, PluginKind, PluginKinds } from '@berth/core';
import { MethodNotSupported, PluginClient } from './plugin-client.js';
import { formatAddress, locatePlugin, type PluginDirs } from './plugin-locator.js';
import { type AddressSpaces, type IpamCapabilities, RemoteIpam } from './remote-ipam.js';
import { type NetworkCapabilities, RemoteNetworkDriver } from './remote-network-driver.js';
import { RemoteVolumeDriver, volumeCapabilities } from './remote-volume-driver.js';

/** The `Implements` entry of each kind this discovery serves, as Docker names the protocols. */
const protocols: Partial<Record<PluginKind, string>> = { network: 'NetworkDriver', ipam: 'IpamDriver', volume: 'VolumeDriver' };

/** Settings of the discovery (plugin-config `discovery/docker`). */
export interface DockerPluginDiscoveryOptions extends PluginDirs {
  /** How long one call to a plugin may take before it counts as not answering. */
  timeoutMs: number;
  log: Logger;
}

/**
 * Docker's legacy plugin discovery as core's DriverDiscovery: asked for a network driver,
 * an IPAM driver or a volume driver by name, it locates the plugin (`locatePlugin`: sockets, then spec
 * files), activates it (`POST /Plugin.Activate`, whose `Implements` must list the
 * protocol of the kind asked for) and returns the adapter: `RemoteNetworkDriver` after
 * `NetworkDriver.GetCapabilities`, `RemoteIpam` after `IpamDriver.GetDefaultAddressSpaces`
 * (and `IpamDriver.GetCapabilities`, which a plugin may lack), `RemoteVolumeDriver` after
 * `VolumeDriver.Capabilities` (which a plugin may lack too). It remembers nothing
 * itself: the engine keeps what it returns in the kind's registry, and asks again for
 * a name it has not got, so a plugin that was not running is found once it runs.
 */
export class DockerPluginDiscovery implements DriverDiscovery {
  readonly kinds: readonly PluginKind[] = ['network', 'ipam', 'volume'];

  constructor(private readonly options: DockerPluginDiscoveryOptions) {}

  async find<K extends PluginKind>(kind: K, name: string): Promise<DiscoveredDriver<PluginKinds[K]> | undefined> {
    const protocol = protocols[kind];
    if (!protocol) return undefined;
    const address = await locatePlugin(name, this.options);
    if (!address) return undefined;
    const client = new PluginClient(name, address, this.options.timeoutMs);
    const activation = await client.call<{ Implements?: unknown }>('Plugin.Activate');
    const implemented = Array.isArray(activation.Implements) ? activation.Implements.map(String) : [];
    if (!implemented.includes(protocol)) {
      this.options.log.debug('plugin does not implement the protocol asked for', { plugin: name, protocol, implements: implemented });
      return undefined;
    }
    const description = `Docker ${protocol} plugin at ${formatAddress(address)}`;
    const log = this.options.log.child({ plugin: name });
    if (kind === 'volume') {
      const driver = new RemoteVolumeDriver(name, client, await volumeCapabilities(client), log);
      return { driver: driver as unknown as PluginKinds[K], description };
    }
    if (kind === 'network') {
      const capabilities = await client.call<NetworkCapabilities>('NetworkDriver.GetCapabilities');
      return { driver: new RemoteNetworkDriver(name, client, capabilities, log) as unknown as PluginKinds[K], description };
    }
    const capabilities = await client.call<IpamCapabilities>('IpamDriver.GetCapabilities').catch((err) => {
      if (err instanceof MethodNotSupported) return {};
      throw err;
    });
    const spaces = await client.call<AddressSpaces>('IpamDriver.GetDefaultAddressSpaces');
    return { driver: new RemoteIpam(name, client, spaces, capabilities, log) as unknown as PluginKinds[K], description };
  }
}
