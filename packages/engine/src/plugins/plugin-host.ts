import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  type AnyPluginManifest,
  DriverMap,
  type DriverRegistry,
  type EventBus,
  InvalidArgument,
  isPluginSkipped,
  type Logger,
  type NetworkDriver,
  type PluginContext,
  type PluginKind,
  type PluginKinds,
  type PluginStatus,
  type Runtime,
  type StorageDriver,
  type VolumeDriver,
} from '@berth/core';
import { type ResolvedEngineConfig, storagePriority } from '../config.js';

/** The drivers that initialised, by kind and name, and the state of every plugin offered. */
export interface LoadedPlugins {
  storage: StorageDriver;
  networks: DriverRegistry<NetworkDriver>;
  volumes: DriverRegistry<VolumeDriver>;
  runtimes: DriverRegistry<Runtime>;
  statuses: PluginStatus[];
}

/**
 * Initialises the plugins of a config. Storage is chosen as Docker does: the operator's
 * choice wins; otherwise the driver whose state the data root already holds (two at
 * once is an error the operator must settle); otherwise the first in `storagePriority`
 * that initialises. Only the chosen storage driver is initialised, so trying does not
 * leave a second driver's state behind. Every other plugin initialises at start; one
 * that throws `PluginSkipped` is recorded as skipped with its reason, any other error
 * as `error`, and the daemon carries on.
 */
export async function loadPlugins(config: ResolvedEngineConfig, events: EventBus, log: Logger): Promise<LoadedPlugins> {
  const statuses: PluginStatus[] = [];
  const byKind = (kind: PluginKind) => config.plugins.filter((p) => p.kind === kind);
  checkUniqueNames(config.plugins);

  const initOne = async <K extends PluginKind>(manifest: AnyPluginManifest & { kind: K }): Promise<PluginKinds[K] | undefined> => {
    const status: PluginStatus = { kind: manifest.kind, name: manifest.name, status: 'ok', reason: '', description: manifest.description };
    statuses.push(status);
    try {
      const ctx = await contextFor(config, manifest, events, log);
      return (await manifest.init(ctx as PluginContext)) as PluginKinds[K];
    } catch (err) {
      status.status = isPluginSkipped(err) ? 'skipped' : 'error';
      status.reason = err instanceof Error ? err.message : String(err);
      log.warn(`plugin ${manifest.kind}/${manifest.name} ${status.status}: ${status.reason}`);
      events.publish('plugin', 'skip', `${manifest.kind}/${manifest.name}`, { reason: status.reason });
      return undefined;
    }
  };

  const runtimes = new DriverMap<Runtime>('runtime');
  const networks = new DriverMap<NetworkDriver>('network');
  const volumes = new DriverMap<VolumeDriver>('volume');
  await Promise.all([
    ...byKind('runtime').map(async (m) => {
      const r = await initOne(m as AnyPluginManifest & { kind: 'runtime' });
      if (r) runtimes.add(m.name, r);
    }),
    ...byKind('network').map(async (m) => {
      const n = await initOne(m as AnyPluginManifest & { kind: 'network' });
      if (n) networks.add(m.name, n);
    }),
    ...byKind('volume').map(async (m) => {
      const v = await initOne(m as AnyPluginManifest & { kind: 'volume' });
      if (v) volumes.add(m.name, v);
    }),
  ]);

  const storage = await chooseStorage(config, byKind('storage'), statuses, initOne);
  statuses.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  return { storage, networks, volumes, runtimes, statuses };
}

async function chooseStorage(
  config: ResolvedEngineConfig,
  offered: AnyPluginManifest[],
  statuses: PluginStatus[],
  initOne: (m: AnyPluginManifest & { kind: 'storage' }) => Promise<StorageDriver | undefined>,
): Promise<StorageDriver> {
  const notSelected = (m: AnyPluginManifest, chosen: string) =>
    statuses.push({
      kind: 'storage',
      name: m.name,
      status: 'skipped',
      reason: `not selected: this daemon uses ${chosen}`,
      description: m.description,
    });
  const names = offered.map((m) => m.name);
  const pick = async (name: string, why: string): Promise<StorageDriver> => {
    const manifest = offered.find((m) => m.name === name);
    if (!manifest)
      throw new InvalidArgument(`storage driver ${name} ${why}, but no such plugin is loaded (loaded: ${names.join(', ') || 'none'})`);
    const driver = await initOne(manifest as AnyPluginManifest & { kind: 'storage' });
    if (!driver) {
      const status = statuses.find((s) => s.kind === 'storage' && s.name === name);
      throw new InvalidArgument(`storage driver ${name} ${why}, but it cannot be used here: ${status?.reason}`);
    }
    for (const m of offered) if (m.name !== name) notSelected(m, name);
    return driver;
  };

  if (config.storageDriver) return pick(config.storageDriver, 'was chosen');

  const withState: string[] = [];
  for (const name of names) if (await hasState(path.join(config.dataRoot, 'storage', name))) withState.push(name);
  if (withState.length > 1) {
    throw new InvalidArgument(
      `${config.dataRoot} holds state of several storage drivers (${withState.join(', ')}): choose one with --storage-driver`,
    );
  }
  if (withState.length === 1) return pick(withState[0], `holds the state in ${config.dataRoot}`);

  const order = [...storagePriority.filter((n) => names.includes(n)), ...names.filter((n) => !storagePriority.includes(n))];
  for (const name of order) {
    const manifest = offered.find((m) => m.name === name) as AnyPluginManifest & { kind: 'storage' };
    const driver = await initOne(manifest);
    if (driver) {
      for (const m of offered) if (!statuses.some((s) => s.kind === 'storage' && s.name === m.name)) notSelected(m, name);
      return driver;
    }
  }
  throw new InvalidArgument(`no storage driver works on this host (tried ${order.join(', ') || 'none'})`);
}

async function hasState(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir)).length > 0;
  } catch {
    return false;
  }
}

function checkUniqueNames(plugins: AnyPluginManifest[]): void {
  const seen = new Set<string>();
  for (const p of plugins) {
    const key = `${p.kind}/${p.name}`;
    if (seen.has(key)) throw new InvalidArgument(`plugin ${key} is listed twice`);
    seen.add(key);
  }
}

async function contextFor(
  config: ResolvedEngineConfig,
  manifest: AnyPluginManifest,
  events: EventBus,
  log: Logger,
): Promise<PluginContext> {
  const root = path.join(config.dataRoot, manifest.kind, manifest.name);
  const execRoot = path.join(config.execRoot, manifest.kind, manifest.name);
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  await fs.mkdir(execRoot, { recursive: true, mode: 0o700 });
  return {
    root,
    execRoot,
    dataRoot: config.dataRoot,
    cgroupParent: config.cgroupParent,
    config: config.pluginConfig[`${manifest.kind}/${manifest.name}`] ?? {},
    events,
    log: log.child({ plugin: `${manifest.kind}/${manifest.name}` }),
  };
}
