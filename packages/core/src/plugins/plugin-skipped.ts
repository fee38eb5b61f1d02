/**
 * The brand of a `PluginSkipped`: a registered symbol, so the engine recognises the
 * skip of a plugin built against another copy of `@berth/core` (its own node_modules),
 * where `instanceof` would see an ordinary error and report the plugin as failed.
 */
const brand = Symbol.for('berth.plugin-skipped');

/**
 * Thrown from a plugin's `init` when the plugin cannot work on this host (a missing
 * tool, a kernel without the feature). The host records the plugin as `skipped` with
 * `reason`, and the daemon carries on; any other error marks it `error`.
 */
export class PluginSkipped extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PluginSkipped';
  }
}
Object.defineProperty(PluginSkipped.prototype, brand, { value: true });

/** True when `err` is a `PluginSkipped` of any copy of `@berth/core`. */
export function isPluginSkipped(err: unknown): err is PluginSkipped {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { [brand]?: unknown })[brand] === true &&
    typeof (err as { reason?: unknown }).reason === 'string'
  );
}
