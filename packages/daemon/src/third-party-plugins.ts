import { createRequire } from 'node:module';
import * as path from 'node:path';
import { type AnyPluginManifest, isPluginManifest } from '@berth/core';

/** A plugin package named in daemon.json that cannot be used. */
export class PluginLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginLoadError';
  }
}

/**
 * Loads third-party plugin packages named in daemon.json (`"plugins": ["berth-volume-nfs"]`)
 * with require, resolving from the config file's directory, then the working directory,
 * then berthd's own node_modules. A package's default export (or `module.exports`) is
 * one manifest or an array of them. A name clash with another plugin is an error: an
 * operator must never wonder which `overlay` is running.
 */
export function loadThirdPartyPlugins(
  names: readonly string[],
  builtin: readonly AnyPluginManifest[],
  options: { configFile?: string; cwd?: string } = {},
): AnyPluginManifest[] {
  const bases = [
    ...(options.configFile ? [path.join(path.dirname(options.configFile), 'daemon.json')] : []),
    path.join(options.cwd ?? process.cwd(), 'noop.js'),
    __filename,
  ];
  const taken = new Map(builtin.map((m) => [`${m.kind}/${m.name}`, 'built-in']));
  const loaded: AnyPluginManifest[] = [];
  for (const name of names) {
    const mod = requireFirst(name, bases);
    const exported = (mod && typeof mod === 'object' && 'default' in mod ? (mod as { default: unknown }).default : mod) as unknown;
    const manifests = Array.isArray(exported) ? exported : [exported];
    if (manifests.length === 0 || !manifests.every(isPluginManifest)) {
      throw new PluginLoadError(
        `plugin package "${name}" does not export a plugin manifest (a definePlugin() result, or an array of them)`,
      );
    }
    for (const m of manifests) {
      const key = `${m.kind}/${m.name}`;
      const owner = taken.get(key);
      if (owner)
        throw new PluginLoadError(
          `plugin ${key} from "${name}" clashes with the ${owner === 'built-in' ? 'built-in' : `one from "${owner}"`}`,
        );
      taken.set(key, name);
      loaded.push(m);
    }
  }
  return loaded;
}

function requireFirst(name: string, bases: string[]): unknown {
  let firstError: unknown;
  for (const base of bases) {
    const req = createRequire(base);
    let resolved: string;
    try {
      resolved = req.resolve(name);
    } catch (err) {
      firstError ??= err;
      continue;
    }
    try {
      return req(resolved);
    } catch (err) {
      throw new PluginLoadError(`plugin package "${name}" failed to load: ${(err as Error).message}`);
    }
  }
  throw new PluginLoadError(
    `plugin package "${name}" not found: ${(firstError as Error | undefined)?.message.split('\n')[0] ?? 'no such module'}`,
  );
}
