import type { DriverDiscovery } from '../contracts/driver-discovery.js';
import type { Ipam } from '../contracts/ipam.js';
import type { NetworkDriver } from '../contracts/network.js';
import type { Runtime } from '../contracts/runtime.js';
import type { StorageDriver } from '../contracts/storage.js';
import type { VolumeDriver } from '../contracts/volume.js';

/**
 * The contract each kind of plugin implements: what its `init` returns, what
 * `ctx.plugins.get(kind, name)` and the kind's `DriverRegistry` hold.
 *
 * Adding a kind is a change to this file only: a member here and a row in
 * `pluginKindTable` below (the compiler refuses one without the other). The plugin host
 * loops over the table, so it initialises the new kind's plugins, gives them a registry,
 * orders them by their `requires` and reports their statuses without a line of its own.
 */
export interface PluginKinds {
  storage: StorageDriver;
  network: NetworkDriver;
  volume: VolumeDriver;
  runtime: Runtime;
  ipam: Ipam;
  discovery: DriverDiscovery;
}
export type PluginKind = keyof PluginKinds;

/**
 * How the engine uses the drivers of one kind.
 * - `use: 'all'`: every plugin of the kind initialises (concurrently, after what it
 *   requires) and the engine's services pick drivers by name (`--runtime crun`).
 * - `use: 'one'`: the engine runs on one driver of the kind, chosen by Docker's rules:
 *   the operator's choice (`flag`); else the one whose state the data root already
 *   holds (`<data-root>/<kind>/<name>` not empty; two at once is an error the operator
 *   settles); else the first of `priority`, then the rest in the order offered, that
 *   initialises. Only the drivers tried are initialised, so trying leaves no second
 *   driver's state behind; the others are reported skipped, "not selected".
 */
export type PluginKindInfo =
  | { readonly description: string; readonly use: 'all' }
  | { readonly description: string; readonly use: 'one'; readonly flag: string; readonly priority: readonly string[] };

/** The table of every kind: one row per member of `PluginKinds`. */
export type PluginKindTable = { readonly [K in PluginKind]: PluginKindInfo };

/** berth's plugin kinds. The order is the order `berth plugins ls` and messages list them in. */
export const pluginKindTable = Object.freeze({
  storage: {
    description: "container filesystems: image layers and containers' snapshots",
    use: 'one',
    flag: '--storage-driver',
    priority: Object.freeze(['overlay', 'btrfs', 'fuse', 'vfs']),
  },
  network: { description: "networks, and containers' endpoints in them", use: 'all' },
  volume: { description: 'named volumes', use: 'all' },
  runtime: { description: 'runs OCI bundles, one shim per container', use: 'all' },
  ipam: { description: "networks' address pools and endpoints' addresses", use: 'all' },
  discovery: { description: 'finds drivers by name at run time (Docker plugins on sockets)', use: 'all' },
} as const satisfies PluginKindTable);

/** Every kind's name, in the table's order. */
export const pluginKinds: readonly PluginKind[] = Object.freeze(Object.keys(pluginKindTable) as PluginKind[]);

/** True when `kind` names a row of the table. */
export function isPluginKind(kind: unknown): kind is PluginKind {
  return typeof kind === 'string' && Object.hasOwn(pluginKindTable, kind);
}
