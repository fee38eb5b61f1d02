import { definePlugin } from '@berth/core';
import { HostNetworkDriver } from './host-network-driver.js';

export { HostNetworkDriver } from './host-network-driver.js';

/** The `host` network plugin: works on every Linux host, so it never skips. */
export default definePlugin({
  kind: 'network',
  name: 'host',
  description: "the host's network namespace, shared",
  init: () => new HostNetworkDriver(),
});
