import type { NetworkDriver } from './contracts/network.js';
import type { Runtime } from './contracts/runtime.js';
import type { StorageDriver } from './contracts/storage.js';
import type { VolumeDriver } from './contracts/volume.js';
import type { EventBus } from './events.js';
import type { Logger } from './logger.js';

/** The contract each kind of plugin implements. */
export interface PluginKinds {
  storage: StorageDriver;
  network: NetworkDriver;
  volume: VolumeDriver;
  runtime: Runtime;
}
export type PluginKind = keyof PluginKinds;
export const pluginKinds: readonly PluginKind[] = ['storage', 'network', 'volume', 'runtime'];

/** What the engine gives a plugin's `init`. */
export interface PluginContext {
  /** A directory the plugin owns for persistent state: `<data-root>/<kind>/<name>`, created. */
  root: string;
  /** A directory for state that dies with the host (sockets, pids): `<exec-root>/<kind>/<name>`, created. */
  execRoot: string;
  /** The daemon's data root, for plugins that must name paths outside their own root. */
  dataRoot: string;
  /**
   * The cgroup every container goes under (`--cgroup-parent`, default `berth`), relative
   * to each hierarchy's root. A plugin that makes cgroups of its own makes them below it,
   * so one daemon's cgroups stay together and the daemon can tidy them at close.
   */
  cgroupParent: string;
  /** The plugin's section of the daemon config (daemon.json `"plugin-config": {"<kind>/<name>": {...}}`), `{}` when absent. */
  config: Readonly<Record<string, unknown>>;
  events: EventBus;
  log: Logger;
}

/**
 * A plugin: one implementation of one contract, declared by its package's default
 * export. The engine calls `init` once at start-up and binds what it returns to the
 * kind's token. `init` returns an instance (never a class for the container to build),
 * so a plugin loaded from its own node_modules, with its own copy of tsyringe, works.
 *
 * A plugin that cannot serve this host throws `PluginSkipped` with the reason; the
 * daemon keeps running, and `berth plugins ls` shows the plugin as skipped with it.
 * Any other error marks the plugin `error`.
 */
export interface PluginManifest<K extends PluginKind = PluginKind> {
  kind: K;
  /** The name operators select it by: `--storage-driver overlay`, `--default-runtime runc`. */
  name: string;
  description: string;
  init(ctx: PluginContext): Promise<PluginKinds[K]> | PluginKinds[K];
}

/** The manifest of any kind. */
export type AnyPluginManifest = { [K in PluginKind]: PluginManifest<K> }[PluginKind];

const namePattern = /^[a-z0-9][a-z0-9_.-]*$/;

/** Declare a plugin. Checks the manifest's shape so a mistake fails at load, not at first use. */
export function definePlugin<K extends PluginKind>(manifest: PluginManifest<K>): PluginManifest<K> {
  if (!pluginKinds.includes(manifest.kind)) {
    throw new TypeError(`plugin ${manifest.name}: unknown kind "${manifest.kind}" (expected one of ${pluginKinds.join(', ')})`);
  }
  if (typeof manifest.name !== 'string' || !namePattern.test(manifest.name)) {
    throw new TypeError(`plugin name "${manifest.name}" must match ${namePattern}`);
  }
  if (typeof manifest.init !== 'function') {
    throw new TypeError(`plugin ${manifest.kind}/${manifest.name}: init must be a function`);
  }
  return Object.freeze({ ...manifest });
}

/** True when `value` looks like a manifest made by `definePlugin` (any copy of core). */
export function isPluginManifest(value: unknown): value is AnyPluginManifest {
  const v = value as Partial<PluginManifest> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.name === 'string' &&
    typeof v.init === 'function' &&
    pluginKinds.includes(v.kind as PluginKind)
  );
}
