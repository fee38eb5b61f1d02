import { definePlugin } from '@berth/core';
import { NoneNetworkDriver } from './none-network-driver.js';

export { NoneNetworkDriver } from './none-network-driver.js';

/** The `none` network plugin: works on every Linux host, so it never skips. */
export default definePlugin({
  kind: 'network',
  name: 'none',
  description: 'a private network namespace with only the loopback interface',
  init: () => new NoneNetworkDriver(),
});
