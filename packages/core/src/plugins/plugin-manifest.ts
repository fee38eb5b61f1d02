import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import { isPluginKind, type PluginKind, type PluginKinds, pluginKinds } from './plugin-kinds.js';
import { type PluginRequirement, parseRequirement, type RequiredPlugins } from './plugin-requirement.js';

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
  /** The plugins this one declared in `requires`, initialised before it: `ctx.plugins.get('runtime', 'runc')`. */
  plugins: RequiredPlugins;
}

/**
 * A plugin: one implementation of one contract, declared by its package's default
 * export. Lifecycle: the engine reads the manifests it was given (an explicit list),
 * orders them by `requires`, and calls each `init` once at start-up, after the plugins
 * it requires and concurrently with the ones it does not; what `init` returns goes into
 * its kind's registry. `init` returns an instance (never a class for the container to
 * build), so a plugin loaded from its own node_modules, with its own copy of tsyringe
 * and of this package, works.
 *
 * A plugin that cannot serve this host throws `PluginSkipped` with the reason; the
 * daemon keeps running, and `berth plugins ls` shows the plugin as skipped with it.
 * Any other error marks the plugin `error`. A plugin whose requirement is missing,
 * skipped, failed or part of a cycle is skipped without its `init` being called.
 */
export interface PluginManifest<K extends PluginKind = PluginKind> {
  kind: K;
  /** The name operators select it by: `--storage-driver overlay`, `--default-runtime runc`. */
  name: string;
  description: string;
  /** What must initialise first, and all `ctx.plugins` may reach: kinds (`'network'`) or plugins (`'ipam/default'`). */
  requires?: readonly PluginRequirement[];
  init(ctx: PluginContext): Promise<PluginKinds[K]> | PluginKinds[K];
}

/** The manifest of any kind. */
export type AnyPluginManifest = { [K in PluginKind]: PluginManifest<K> }[PluginKind];

const namePattern = /^[a-z0-9][a-z0-9_.-]*$/;

/** Declare a plugin. Checks the manifest's shape so a mistake fails at load, not at first use. */
export function definePlugin<K extends PluginKind>(manifest: PluginManifest<K>): PluginManifest<K> {
  if (!isPluginKind(manifest.kind)) {
    throw new TypeError(`plugin ${manifest.name}: unknown kind "${manifest.kind}" (expected one of ${pluginKinds.join(', ')})`);
  }
  if (typeof manifest.name !== 'string' || !namePattern.test(manifest.name)) {
    throw new TypeError(`plugin name "${manifest.name}" must match ${namePattern}`);
  }
  if (typeof manifest.init !== 'function') {
    throw new TypeError(`plugin ${manifest.kind}/${manifest.name}: init must be a function`);
  }
  if (manifest.requires !== undefined) {
    if (!Array.isArray(manifest.requires)) throw new TypeError(`plugin ${manifest.kind}/${manifest.name}: requires must be an array`);
    for (const requirement of manifest.requires) {
      const { kind, name } = parseRequirement(String(requirement));
      if (!isPluginKind(kind) || (name !== undefined && !namePattern.test(name))) {
        throw new TypeError(
          `plugin ${manifest.kind}/${manifest.name}: requirement "${requirement}" must be a kind (${pluginKinds.join(', ')}) or <kind>/<name>`,
        );
      }
    }
  }
  return Object.freeze({ ...manifest, ...(manifest.requires ? { requires: Object.freeze([...manifest.requires]) } : {}) });
}

/**
 * True when `value` looks like a manifest made by `definePlugin` (any copy of core). The
 * kind is not checked against this copy's table: a plugin of a kind this engine does
 * not know is the host's to report, not a reason to refuse the package.
 */
export function isPluginManifest(value: unknown): value is AnyPluginManifest {
  const v = value as Partial<PluginManifest> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.kind === 'string' &&
    typeof v.name === 'string' &&
    typeof v.init === 'function' &&
    (v.requires === undefined || (Array.isArray(v.requires) && v.requires.every((r) => typeof r === 'string')))
  );
}
