import { definePlugin, InvalidArgument, PluginSkipped, runProgram } from '@berth/core';
import { BridgeDriver } from './bridge-driver.js';
import { checkTableName } from './nft-ruleset.js';

export { BridgeDriver, type BridgeDriverOptions } from './bridge-driver.js';
export { bridgeName, bridgeNameOption, checkInterfaceName, hostVethName, mtuOption } from './link-names.js';
export { renderRuleset } from './nft-ruleset.js';
export type { ForwardedPort } from './port-rules.js';

/** The default nftables table: one per daemon, `berth` for the host's berthd. */
export const defaultTable = 'berth';

/**
 * The `bridge` network plugin. Config (`plugin-config` `network/bridge`): `table` (the
 * nftables table, default `berth`) and `mtu` (default 1500). Skipped where `ip` or `nft`
 * is missing.
 */
export default definePlugin({
  kind: 'network',
  name: 'bridge',
  description: 'a Linux bridge per network, veth pairs into containers, outbound NAT with nftables',
  async init(ctx) {
    for (const [tool, version] of [
      ['ip', '-V'],
      ['nft', '--version'],
    ] as const) {
      await runProgram(tool, [version]).catch(() => {
        throw new PluginSkipped(`${tool} not found (install iproute2 and nftables)`);
      });
    }
    const table = String(ctx.config.table ?? defaultTable);
    try {
      checkTableName(table);
    } catch (err) {
      throw new InvalidArgument(`plugin-config network/bridge: ${(err as Error).message}`);
    }
    const mtu = Number(ctx.config.mtu ?? 1500);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)
      throw new InvalidArgument(`plugin-config network/bridge: invalid mtu ${ctx.config.mtu}`);
    return new BridgeDriver({ table, mtu, log: ctx.log });
  },
});
