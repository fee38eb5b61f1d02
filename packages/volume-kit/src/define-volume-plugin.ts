import { definePlugin, type PluginContext, type PluginManifest, type VolumeDriver } from '@berth/core';

/** What an author declares to have berthd load a driver in-process. */
export interface VolumePluginDeclaration {
  /** The driver's name, as users select it: `docker volume create -d <name>`. */
  readonly name: string;
  readonly description: string;
  /**
   * Makes the driver, once, at berthd's start. `ctx.root` is a directory the plugin owns
   * for persistent state (`<data-root>/volume/<name>`), `ctx.execRoot` one that dies with
   * the host, `ctx.config` the plugin's section of daemon.json (`"plugin-config":
   * {"volume/<name>": {...}}`), `ctx.log` its logger. Throw core's `PluginSkipped` when
   * the host cannot serve it (a missing tool): berthd carries on without it.
   */
  create(ctx: PluginContext): Promise<VolumeDriver> | VolumeDriver;
}

const METHODS = ['create', 'get', 'list', 'remove', 'mount', 'unmount'] as const;

/**
 * The manifest berthd loads when the package is named in daemon.json's `"plugins"`:
 * `export default defineVolumePlugin({ name: 'loop', description, create: (ctx) => new LoopDriver(ctx.root) })`.
 * It checks at start what a typo would otherwise break at the first `docker volume`
 * command: the object has every method of `VolumeDriver`, and its `name` is the plugin's.
 */
export function defineVolumePlugin(declaration: VolumePluginDeclaration): PluginManifest<'volume'> {
  return definePlugin({
    kind: 'volume',
    name: declaration.name,
    description: declaration.description,
    async init(ctx) {
      const driver = await declaration.create(ctx);
      const missing = METHODS.filter((m) => typeof (driver as unknown as Record<string, unknown>)?.[m] !== 'function');
      if (missing.length > 0) {
        throw new TypeError(`volume plugin ${declaration.name}: the driver lacks ${missing.join(', ')} of VolumeDriver`);
      }
      if (driver.name !== declaration.name) {
        throw new TypeError(`volume plugin ${declaration.name}: its driver is named ${JSON.stringify(driver.name)}; the two must match`);
      }
      if (driver.scope !== 'local' && driver.scope !== 'global') {
        throw new TypeError(`volume plugin ${declaration.name}: scope must be "local" or "global", not ${JSON.stringify(driver.scope)}`);
      }
      return driver;
    },
  });
}
