import {
  type DriverRegistry,
  driverRegistryToken,
  NotFound,
  type PluginKind,
  type PluginKinds,
  type ServiceContainer,
  token,
} from '@berth/core';

/**
 * Finds a driver by kind and name: in the kind's registry (what plugins registered at
 * start-up, or what an earlier lookup discovered), else through the `discovery` plugins
 * (core's `DriverDiscovery`: a Docker plugin on a socket, which may have started after
 * berthd). A discovered driver is added to its kind's registry, so `plugins ls` lists it
 * and the next lookup is a map read. Concurrent lookups of one name share one discovery,
 * so a plugin is activated once. A discovery that fails (the plugin's process is not
 * running) is not remembered: the next lookup asks again.
 */
export class DriverLookup {
  private readonly pending = new Map<string, Promise<unknown>>();

  /**
   * @param registry the registry of a kind (the engine's, from its DI container).
   * @param describe how a discovered driver is added (the plugin host's `addDriver`, which
   *   keeps its description for the statuses); a plain `registry.add` without it.
   */
  constructor(
    private readonly registry: <K extends PluginKind>(kind: K) => DriverRegistry<PluginKinds[K]>,
    private readonly add: <K extends PluginKind>(kind: K, name: string, driver: PluginKinds[K], description: string) => void = (
      kind,
      name,
      driver,
    ) => registry(kind).add(name, driver),
  ) {}

  /** The engine's lookup over the registries of its DI container. */
  static of(di: ServiceContainer, add?: ConstructorParameters<typeof DriverLookup>[1]): DriverLookup {
    return new DriverLookup((kind) => di.resolve(driverRegistryToken(kind)), add);
  }

  /** The registry of a kind, for what iterates every driver (restore at start-up). */
  drivers<K extends PluginKind>(kind: K): DriverRegistry<PluginKinds[K]> {
    return this.registry(kind);
  }

  /** The driver if a registry holds it already: no discovery (synchronous paths, inspect). */
  loaded<K extends PluginKind>(kind: K, name: string): PluginKinds[K] | undefined {
    return this.registry(kind).get(name);
  }

  /** The driver, discovered if need be; NotFound `plugin "<name>" not found` as dockerd's when nothing has it. */
  async get<K extends PluginKind>(kind: K, name: string): Promise<PluginKinds[K]> {
    const found = await this.find(kind, name);
    if (found === undefined) throw new NotFound(`plugin "${name}" not found`);
    return found;
  }

  /** The driver, discovered if need be, or undefined when no registry and no discovery has it. */
  find<K extends PluginKind>(kind: K, name: string): Promise<PluginKinds[K] | undefined> {
    const known = this.registry(kind).get(name);
    if (known !== undefined) return Promise.resolve(known);
    const key = `${kind}/${name}`;
    let p = this.pending.get(key) as Promise<PluginKinds[K] | undefined> | undefined;
    if (!p) {
      p = this.discover(kind, name).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async discover<K extends PluginKind>(kind: K, name: string): Promise<PluginKinds[K] | undefined> {
    for (const discovery of this.registry('discovery').values()) {
      if (!discovery.kinds.includes(kind)) continue;
      const found = await discovery.find(kind, name);
      if (found === undefined) continue;
      // Added meanwhile by someone else (a plugin registered at run time): theirs stands.
      const registered = this.registry(kind).get(name);
      if (registered !== undefined) return registered;
      this.add(kind, name, found.driver, found.description);
      return found.driver;
    }
    return undefined;
  }
}

export const DriverLookupToken = token<DriverLookup>('DriverLookup');
