import { EventBus, type PluginContext, requiredPlugins, silentLogger } from '@berth/core';

/**
 * The context a plugin's `init` gets from the engine, for a plugin under test: every
 * directory is `root`, the config is empty, events go to a bus of its own, logs nowhere,
 * the cgroup parent is one no test makes cgroups under, and `plugins` reaches nothing (as
 * for a manifest that declares no `requires`). `overrides` replaces fields; a plugin with
 * requirements gets `plugins: requiredPlugins('kind/name', requires, (kind) => drivers)`.
 */
export function pluginContext(root: string, overrides: Partial<PluginContext> = {}): PluginContext {
  return {
    root,
    execRoot: root,
    dataRoot: root,
    cgroupParent: 'berth-unused',
    config: {},
    events: new EventBus(),
    log: silentLogger,
    plugins: requiredPlugins('plugin/under-test', [], () => undefined),
    ...overrides,
  };
}
