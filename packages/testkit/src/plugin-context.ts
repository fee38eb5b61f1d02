import { EventBus, type PluginContext, silentLogger } from '@berth/core';

/**
 * The context a plugin's `init` gets from the engine, for a plugin under test: every
 * directory is `root`, the config is empty, events go to a bus of its own, logs nowhere,
 * and the cgroup parent is one no test makes cgroups under. `overrides` replaces fields.
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
    ...overrides,
  };
}
