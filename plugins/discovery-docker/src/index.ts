import { definePlugin, InvalidArgument } from '@berth/core';
import { DockerPluginDiscovery } from './docker-plugin-discovery.js';
import { defaultSocketDirs, defaultSpecDirs } from './plugin-locator.js';

export { DockerPluginDiscovery, type DockerPluginDiscoveryOptions } from './docker-plugin-discovery.js';
export { placeInterface } from './interface-mover.js';
export { MethodNotSupported, PluginClient, PluginRefused, pluginMediaType } from './plugin-client.js';
export { defaultSocketDirs, defaultSpecDirs, formatAddress, locatePlugin, type PluginAddress, type PluginDirs } from './plugin-locator.js';
export { RemoteIpam } from './remote-ipam.js';
export { RemoteNetworkDriver } from './remote-network-driver.js';
export {
  type ConnectVolumePluginOptions,
  connectVolumePlugin,
  RemoteVolumeDriver,
  type VolumeCapabilities,
  volumeCapabilities,
} from './remote-volume-driver.js';

/** A list of absolute directories from the plugin's config, or the default. */
function dirList(value: unknown, key: string, fallback: readonly string[]): string[] {
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value) || !value.every((d) => typeof d === 'string' && d.startsWith('/'))) {
    throw new InvalidArgument(`plugin-config discovery/docker: ${key} must be a list of absolute directories`);
  }
  return [...value];
}

/**
 * The `docker` discovery plugin: Docker's remote network-driver, IPAM and volume plugins,
 * found by name where dockerd finds them (and in berth's own directories). Config
 * (`plugin-config` `discovery/docker`): `socketDirs` (default `/run/docker/plugins`,
 * `/run/berth/plugins`), `specDirs` (default `/etc/docker/plugins`,
 * `/usr/lib/docker/plugins`, `/etc/berth/plugins`), `timeoutMs` (one call, default 30000). Works on every host:
 * it looks nothing up until the engine asks for a driver no other plugin has.
 */
export default definePlugin({
  kind: 'discovery',
  name: 'docker',
  description: "Docker's remote NetworkDriver, IpamDriver and VolumeDriver plugins on /run/docker/plugins sockets and spec files",
  init(ctx) {
    const timeoutMs = Number(ctx.config.timeoutMs ?? 30_000);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
      throw new InvalidArgument(`plugin-config discovery/docker: invalid timeoutMs ${ctx.config.timeoutMs}`);
    return new DockerPluginDiscovery({
      socketDirs: dirList(ctx.config.socketDirs, 'socketDirs', defaultSocketDirs),
      specDirs: dirList(ctx.config.specDirs, 'specDirs', defaultSpecDirs),
      timeoutMs,
      log: ctx.log,
    });
  },
});
