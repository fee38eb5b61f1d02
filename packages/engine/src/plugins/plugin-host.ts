import { existsSync, promises as fs, realpathSync } from 'node:fs';
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
  type PluginKindInfo,
  type PluginKinds,
  type PluginStatus,
  pluginKindTable,
  type RequiredPlugins,
  type Runtime,
  readMountInfo,
  requiredPlugins,
  type StorageDriver,
  type VolumeDriver,
} from '@berth/core';
import type { ResolvedEngineConfig } from '../config.js';
import { chooseDriver } from './driver-choice.js';
import { type PluginGraph, pluginGraph, pluginKey, type ResolvedRequirement } from './plugin-graph.js';

/**
 * The drivers that initialised, by kind and name, and the state of every plugin offered.
 * `statuses` is one array kept up to date (sorted by kind, then name): a driver added or
 * removed at run time shows in it, so `engine.plugins()` returning it stays true.
 */
export interface LoadedPlugins {
  /** The storage driver the engine runs on (chosen with Docker's rules). */
  storage: StorageDriver;
  networks: DriverRegistry<NetworkDriver>;
  volumes: DriverRegistry<VolumeDriver>;
  runtimes: DriverRegistry<Runtime>;
  statuses: PluginStatus[];
  /** The registry of any kind of the table (storage's holds the chosen driver only, and takes no other). */
  registry<K extends PluginKind>(kind: K): DriverRegistry<PluginKinds[K]>;
  /**
   * A driver found after start-up (a Docker plugin discovered on a socket): added to its
   * kind's registry, listed in `statuses` as ok with `description`, announced with a
   * `plugin enable` event. Adding to a registry directly does the same, with a generic
   * description; removing from one marks the status skipped and publishes `plugin disable`.
   * `announce: false` adds it without the event: a driver the engine itself brings at
   * start-up (the built-in `ipam/default`), which, like the plugins, is not news.
   */
  addDriver<K extends PluginKind>(
    kind: K,
    name: string,
    driver: PluginKinds[K],
    description: string,
    options?: { announce?: boolean },
  ): void;
}

/** Options of the host, for embedders and tests. */
export interface PluginHostOptions {
  /** The kinds the host knows; core's `pluginKindTable` by default. A test adds a kind here without touching the host. */
  kinds?: Readonly<Record<string, PluginKindInfo>>;
}

/** How a plugin's initialisation ended. */
type Outcome = { ok: true; driver: unknown } | { ok: false; status: 'skipped' | 'error'; reason: string };

/**
 * Initialises the plugins of a config, looping over the kind table: a kind the engine
 * uses every driver of initialises them all; a kind it uses one driver of (storage) gets
 * that driver chosen with Docker's rules (`chooseDriver`). Plugins initialise
 * concurrently, each after what it declared in `requires`; a requirement that is not
 * loaded, skipped, failed, or part of a cycle skips the plugin with a reason naming it.
 * One that throws `PluginSkipped` (of any copy of core) is recorded as skipped with its
 * reason, any other error as `error`, and the daemon carries on. Only a kind the engine
 * needs one driver of and cannot get stops the start (InvalidArgument).
 */
/**
 * What the host suggests for storage: btrfs where the data root is on a btrfs filesystem
 * (its snapshots are native there), nothing otherwise (overlay first, as the kind's
 * priority says). The data root's filesystem is the mount holding its nearest existing
 * directory.
 */
function storagePreference(dataRoot: string): { names: string[]; why: string } | undefined {
  let dir = path.resolve(dataRoot);
  while (!existsSync(dir) && dir !== path.dirname(dir)) dir = path.dirname(dir);
  try {
    dir = realpathSync(dir);
  } catch {
    return undefined;
  }
  let best: { mountPoint: string; fstype: string } | undefined;
  for (const m of readMountInfo()) {
    const inside = dir === m.mountPoint || dir.startsWith(m.mountPoint === '/' ? '/' : `${m.mountPoint}/`);
    if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best?.fstype === 'btrfs' ? { names: ['btrfs'], why: `the data root ${dataRoot} is on btrfs` } : undefined;
}

export async function loadPlugins(
  config: ResolvedEngineConfig,
  events: EventBus,
  log: Logger,
  options: PluginHostOptions = {},
): Promise<LoadedPlugins> {
  const kinds: Readonly<Record<string, PluginKindInfo>> = options.kinds ?? pluginKindTable;
  checkUniqueNames(config.plugins);
  const statuses: PluginStatus[] = [];
  const outcomes = new Map<string, Outcome>();
  const record = (m: AnyPluginManifest, outcome: Outcome, quiet = false) => {
    outcomes.set(pluginKey(m), outcome);
    const base = { kind: m.kind, name: m.name, description: m.description };
    statuses.push(outcome.ok ? { ...base, status: 'ok', reason: '' } : { ...base, status: outcome.status, reason: outcome.reason });
    if (outcome.ok || quiet) return;
    log.warn(`plugin ${pluginKey(m)} ${outcome.status}: ${outcome.reason}`);
    events.publish('plugin', 'skip', pluginKey(m), { reason: outcome.reason });
  };

  const registries = new Map<string, DriverMap<unknown>>();
  for (const [kind, info] of Object.entries(kinds)) {
    registries.set(
      kind,
      new DriverMap(kind, info.use === 'one' ? { fixed: `the engine runs on the ${kind} driver chosen at start-up` } : {}),
    );
  }
  const known = config.plugins.filter((m) => Object.hasOwn(kinds, m.kind));
  for (const m of config.plugins.filter((p) => !Object.hasOwn(kinds, p.kind))) {
    record(m, {
      ok: false,
      status: 'error',
      reason: `unknown plugin kind "${m.kind}" (this engine knows ${Object.keys(kinds).join(', ')})`,
    });
  }
  const graph: PluginGraph = pluginGraph(known, kinds);
  const lookup = (kind: PluginKind) => registries.get(kind);

  // Every plugin starts at most once; what depends on it awaits the same promise.
  const started = new Map<string, Promise<Outcome>>();
  const initialise = (m: AnyPluginManifest): Promise<Outcome> => {
    let p = started.get(pluginKey(m));
    if (!p) {
      p = attempt(m).then((outcome) => {
        // Into the registry before anything waiting on it resumes, so its ctx.plugins finds it.
        if (outcome.ok && kinds[m.kind].use === 'all') registries.get(m.kind)!.add(m.name, outcome.driver);
        record(m, outcome);
        return outcome;
      });
      started.set(pluginKey(m), p);
    }
    return p;
  };
  const attempt = async (m: AnyPluginManifest): Promise<Outcome> => {
    const cycle = graph.cycles.get(pluginKey(m));
    if (cycle) return { ok: false, status: 'skipped', reason: cycle };
    const unmet = await Promise.all((graph.requirements.get(pluginKey(m)) ?? []).map(unmetReason));
    const first = unmet.find((reason) => reason !== undefined);
    if (first) return { ok: false, status: 'skipped', reason: first };
    try {
      const ctx = await contextFor(config, m, events, log, requiredPlugins(pluginKey(m), m.requires ?? [], lookup));
      return { ok: true, driver: await m.init(ctx) };
    } catch (err) {
      return { ok: false, status: isPluginSkipped(err) ? 'skipped' : 'error', reason: err instanceof Error ? err.message : String(err) };
    }
  };

  // A kind the engine uses one driver of: the choice, once; a candidate's outcome is known when it is made.
  const choices = new Map<string, Promise<void>>();
  const choose = (kind: string): Promise<void> => {
    let p = choices.get(kind);
    if (!p) {
      p = chooseOne(kind);
      choices.set(kind, p);
    }
    return p;
  };
  const chooseOne = async (kind: string): Promise<void> => {
    const info = kinds[kind] as Extract<PluginKindInfo, { use: 'one' }>;
    const candidates = known.filter((m) => m.kind === kind);
    try {
      const chosen = await chooseDriver({
        kind,
        flag: info.flag,
        priority: info.priority,
        explicit: operatorChoice(config, kind),
        ...(kind === 'storage' ? { preferred: storagePreference(config.dataRoot) } : {}),
        dataRoot: config.dataRoot,
        candidates,
        attempt: async (m) => {
          const outcome = await initialise(m);
          return outcome.ok ? outcome : { ok: false, reason: outcome.reason };
        },
      });
      registries.get(kind)!.addChosen(chosen.name, chosen.driver);
      // Which and why, for the log and for `docker info` / `berth plugins ls`.
      const status = statuses.find((st) => st.kind === kind && st.name === chosen.name && st.status === 'ok');
      if (status) status.reason = `chosen: ${chosen.why}`;
      log.info(`${kind} driver ${chosen.name}: ${chosen.why}`);
      for (const m of chosen.untried)
        record(m, { ok: false, status: 'skipped', reason: `not selected: this daemon uses ${chosen.name}` }, true);
    } catch (err) {
      // The start fails with this error; what waits on a candidate hears it too.
      for (const m of candidates) if (!outcomes.has(pluginKey(m))) outcomes.set(pluginKey(m), failure(err));
      throw err;
    }
  };

  const outcomeOf = async (m: AnyPluginManifest): Promise<Outcome> => {
    if (kinds[m.kind].use === 'all') return initialise(m);
    await choose(m.kind).catch(() => undefined);
    return outcomes.get(pluginKey(m)) ?? { ok: false, status: 'skipped', reason: `no ${m.kind} driver was chosen` };
  };
  const unmetReason = async (req: ResolvedRequirement): Promise<string | undefined> => {
    if (req.targets.length === 0) {
      return req.named
        ? `requires ${req.requirement}, which is not loaded`
        : `requires ${req.requirement}, but no ${req.kind} plugin is loaded`;
    }
    const results = await Promise.all(req.targets.map(outcomeOf));
    const why = (o: Outcome) => (o.ok ? 'initialised' : `${o.status === 'error' ? 'failed' : 'was skipped'}: ${o.reason}`);
    if (req.named) return results[0].ok ? undefined : `requires ${req.requirement}, which ${why(results[0])}`;
    if (results.some((o) => o.ok)) return undefined;
    return `requires ${req.requirement}, but none initialised (${req.targets.map((t, i) => `${pluginKey(t)} ${why(results[i])}`).join('; ')})`;
  };

  const work = [
    ...known.filter((m) => kinds[m.kind].use === 'all').map((m) => initialise(m)),
    ...Object.keys(kinds)
      .filter((kind) => kinds[kind].use === 'one')
      .map(choose),
  ];
  // Everything settles before a failure is thrown, so no init is left running behind it.
  const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
  if (failed) {
    // A start that fails (an explicit storage driver that cannot work here) leaves nothing
    // behind: what the engine's close would close goes now (a runtime's shim cgroups).
    for (const m of known) {
      const outcome = outcomes.get(pluginKey(m));
      if (!outcome?.ok || (m.kind !== 'runtime' && m.kind !== 'storage')) continue;
      await (outcome.driver as { close?(): Promise<void> }).close?.().catch(() => undefined);
    }
    throw failed.reason;
  }
  sortStatuses(statuses);

  const descriptions = new Map<string, string>();
  const unannounced = new Set<string>();
  for (const [kind, registry] of registries) {
    registry.onChange((change, name) => {
      const key = `${kind}/${name}`;
      const at = statuses.findIndex((s) => s.kind === kind && s.name === name);
      const status: PluginStatus =
        change === 'added'
          ? { kind, name, status: 'ok', reason: '', description: descriptions.get(key) ?? `${kind} driver added at run time` }
          : { kind, name, status: 'skipped', reason: 'removed at run time', description: at >= 0 ? statuses[at].description : '' };
      if (at >= 0) statuses[at] = status;
      else statuses.push(status);
      sortStatuses(statuses);
      if (!unannounced.has(key)) events.publish('plugin', change === 'added' ? 'enable' : 'disable', key, { kind, name });
    });
  }

  const registry = <K extends PluginKind>(kind: K): DriverRegistry<PluginKinds[K]> => {
    const r = registries.get(kind);
    if (!r) throw new InvalidArgument(`unknown plugin kind "${kind}" (this engine knows ${Object.keys(kinds).join(', ')})`);
    return r as DriverRegistry<PluginKinds[K]>;
  };
  return {
    storage: registry('storage').values().next().value!,
    networks: registry('network'),
    volumes: registry('volume'),
    runtimes: registry('runtime'),
    statuses,
    registry,
    addDriver(kind, name, driver, description, options = {}) {
      const key = `${kind}/${name}`;
      descriptions.set(key, description);
      if (options.announce === false) unannounced.add(key);
      try {
        registry(kind).add(name, driver);
      } finally {
        descriptions.delete(key);
        unannounced.delete(key);
      }
    },
  };
}

/** The kinds of core's table the engine runs on one driver of. */
type OneDriverKind = { [K in PluginKind]: (typeof pluginKindTable)[K]['use'] extends 'one' ? K : never }[PluginKind];

/**
 * Where the engine config holds the operator's choice for each kind the engine uses one
 * driver of. A kind that becomes `use: 'one'` in core's table does not compile until it
 * has its line here.
 */
const operatorChoices: { readonly [K in OneDriverKind]: (config: ResolvedEngineConfig) => string | undefined } = {
  storage: (config) => config.storageDriver,
};

/** The operator's choice for `kind`, when the engine config has one. */
function operatorChoice(config: ResolvedEngineConfig, kind: string): string | undefined {
  return Object.hasOwn(operatorChoices, kind) ? operatorChoices[kind as OneDriverKind](config) : undefined;
}

function failure(err: unknown): Outcome {
  return { ok: false, status: 'skipped', reason: err instanceof Error ? err.message : String(err) };
}

function sortStatuses(statuses: PluginStatus[]): void {
  statuses.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}

function checkUniqueNames(plugins: readonly AnyPluginManifest[]): void {
  const seen = new Set<string>();
  for (const p of plugins) {
    const key = pluginKey(p);
    if (seen.has(key)) throw new InvalidArgument(`plugin ${key} is listed twice`);
    seen.add(key);
  }
}

async function contextFor(
  config: ResolvedEngineConfig,
  manifest: AnyPluginManifest,
  events: EventBus,
  log: Logger,
  plugins: RequiredPlugins,
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
    config: config.pluginConfig[pluginKey(manifest)] ?? {},
    events,
    log: log.child({ plugin: pluginKey(manifest) }),
    plugins,
  };
}
