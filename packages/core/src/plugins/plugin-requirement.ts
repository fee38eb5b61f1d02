import { NotFound, SystemError } from '../errors.js';
import type { PluginKind, PluginKinds } from './plugin-kinds.js';

/**
 * What a plugin needs before its `init` runs, declared in its manifest's `requires`
 * (after containerd's `Registration.Requires`):
 * - a kind, `'network'`: every plugin of that kind has initialised (or given up) first,
 *   and at least one of them works; `ctx.plugins.all('network')` then holds them all,
 *   and `ctx.plugins.get('network', name)` any of them.
 * - a kind and a name, `'runtime/runc'`: that plugin has initialised first, and works;
 *   `ctx.plugins.get('runtime', 'runc')` returns it.
 * When a requirement cannot be met (not loaded, skipped, failed, or in a cycle), the
 * plugin is skipped with a reason naming it: `requires network/bridge, which was skipped: …`.
 */
export type PluginRequirement = PluginKind | `${PluginKind}/${string}`;

/** A requirement split into its kind and, for `kind/name`, its name. */
export function parseRequirement(requirement: string): { kind: string; name?: string } {
  const slash = requirement.indexOf('/');
  return slash < 0 ? { kind: requirement } : { kind: requirement.slice(0, slash), name: requirement.slice(slash + 1) };
}

/**
 * What a plugin reaches of other plugins: `ctx.plugins` in its `init`. Only what its
 * manifest declared in `requires` is reachable; anything else throws a SystemError
 * naming the undeclared requirement (a plugin that could reach any plugin would
 * initialise in an order nobody declared). It may be kept past `init`: `all(kind)` is
 * the kind's live registry, so drivers added at run time show in it.
 */
export interface RequiredPlugins {
  /** The driver `kind/name`. Needs `kind` or `kind/name` in `requires`; an absent driver is NotFound. */
  get<K extends PluginKind>(kind: K, name: string): PluginKinds[K];
  /** Every driver of `kind` that works, by name. Needs `kind` in `requires`. */
  all<K extends PluginKind>(kind: K): ReadonlyMap<string, PluginKinds[K]>;
}

/**
 * The `RequiredPlugins` of the plugin `owner` (`volume/nfs`), which declared `requires`,
 * over `lookup` (the drivers of a kind, by name). The plugin host builds one per plugin
 * over its registries; a test builds one over plain maps.
 */
export function requiredPlugins(
  owner: string,
  requires: readonly string[],
  lookup: (kind: PluginKind) => ReadonlyMap<string, unknown> | undefined,
): RequiredPlugins {
  const declared = new Set(requires);
  const undeclared = (wanted: string, hint: string) =>
    new SystemError(
      `plugin ${owner} reached ${wanted}, which it did not declare in requires (${hint}; declared: ${requires.join(', ') || 'nothing'})`,
    );
  const drivers = (kind: PluginKind) => lookup(kind) ?? new Map<string, unknown>();
  return {
    get<K extends PluginKind>(kind: K, name: string): PluginKinds[K] {
      if (!declared.has(kind) && !declared.has(`${kind}/${name}`))
        throw undeclared(`${kind}/${name}`, `add '${kind}/${name}' or '${kind}'`);
      const driver = drivers(kind).get(name);
      if (driver === undefined)
        throw new NotFound(`no ${kind} plugin named ${name} (have: ${[...drivers(kind).keys()].join(', ') || 'none'})`);
      return driver as PluginKinds[K];
    },
    all<K extends PluginKind>(kind: K): ReadonlyMap<string, PluginKinds[K]> {
      if (!declared.has(kind)) throw undeclared(`every ${kind} plugin`, `add '${kind}'`);
      return drivers(kind) as ReadonlyMap<string, PluginKinds[K]>;
    },
  };
}
