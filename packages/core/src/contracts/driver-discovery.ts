import type { PluginKind, PluginKinds } from '../plugins/plugin-kinds.js';

/** A driver a discovery found, with what `berth plugins ls` says of it. */
export interface DiscoveredDriver<T> {
  driver: T;
  /** Where it was found and what it is: `Docker plugin at unix:///run/docker/plugins/weave.sock`. */
  description: string;
}

/**
 * Finds drivers that no plugin registered at start-up, by name, when the engine first
 * needs one: Docker's plugin discovery (`/run/docker/plugins/<name>.sock`, spec files),
 * where the driver is a process of its own that may start after berthd. Lifecycle:
 *
 * 1. A `discovery` plugin initialises like any other and lands in the `discovery` kind's
 *    registry; it looks nothing up at start-up.
 * 2. When the engine looks up a driver of a kind in `kinds` that its registry does not
 *    hold (`docker network create -d weave`, `--ipam-driver`, a recorded network's driver
 *    after a restart), it asks each discovery in turn: `find(kind, name)`. The first
 *    that answers wins; the engine adds the driver to the kind's registry under `name`
 *    (so `plugins ls` lists it and later lookups find it there) and uses it.
 * 3. `find` resolves `undefined` when it knows no plugin of that name or the plugin does
 *    not serve the kind (the engine then answers 404 `plugin "<name>" not found`), and
 *    throws a core error with the reason when it found one that cannot be used (its
 *    process is not running, its activation failed): the engine passes that error on,
 *    and asks again at the next lookup.
 *
 * A discovery owns no kernel object; the drivers it returns own theirs.
 */
export interface DriverDiscovery {
  /** The kinds it can find drivers of (`['network', 'ipam']`). */
  readonly kinds: readonly PluginKind[];
  find<K extends PluginKind>(kind: K, name: string): Promise<DiscoveredDriver<PluginKinds[K]> | undefined>;
}
