import { type ApiServer, createApiServer, defaultServerLimits } from '@berth/api';
import type { AnyPluginManifest, EngineApi, Logger, PluginStatus } from '@berth/core';
import type { EngineConfig } from '@berth/engine';
import { type DaemonConfig, defaultRegistryCertsDir } from './daemon-config.js';
import { connectionBudget, openFileLimit } from './fd-limit.js';
import { MemoryReclaimer } from './memory-reclaimer.js';
import { removePidfile, writePidfile } from './pidfile.js';
import { loadThirdPartyPlugins } from './third-party-plugins.js';
import { acceptsConnections, bindSocket, prepareSocketPath, removeSocket } from './unix-socket.js';

/** What berthd needs from `@berth/engine`: an EngineApi that can be closed. */
export type DaemonEngine = EngineApi & { close(): Promise<void> };

/** The parts berthd wires together; tests replace them. */
export interface DaemonParts {
  createEngine(config: EngineConfig): Promise<DaemonEngine>;
  builtinPlugins: readonly AnyPluginManifest[];
  version: string;
  /** Gives malloc's free pages back to the kernel after a burst (`@berth/native`'s `trimMalloc`); tests leave it out. */
  trimMalloc?: () => boolean;
}

/** A started berthd. `stop()` is idempotent and resolves when everything is released. */
export interface RunningDaemon {
  readonly engine: DaemonEngine;
  readonly sockets: readonly string[];
  stop(): Promise<void>;
}

/** `storage/overlay ok, runtime/crun skipped (cgroups …)`: the plugins' states in one phrase. */
export function describePlugins(statuses: readonly PluginStatus[]): string {
  return statuses.map((p) => `${p.kind}/${p.name} ${p.status}${p.status === 'ok' || !p.reason ? '' : ` (${p.reason})`}`).join(', ');
}

/** The EngineConfig createEngine receives for a daemon config. Pure. */
export function engineConfigFor(config: DaemonConfig, plugins: AnyPluginManifest[], log: Logger, version: string): EngineConfig {
  const engineConfig: EngineConfig = {
    dataRoot: config.dataRoot,
    execRoot: config.execRoot,
    cgroupParent: config.cgroupParent,
    plugins,
    pluginConfig: config.pluginConfig,
    logger: log,
    serverVersion: version,
  };
  if (config.storageDriver !== undefined) engineConfig.storageDriver = config.storageDriver;
  if (config.defaultRuntime !== undefined) engineConfig.defaultRuntime = config.defaultRuntime;
  if (config.logDriver !== undefined) engineConfig.logDriver = config.logDriver;
  if (config.logOpts !== undefined) engineConfig.logOpts = config.logOpts;
  if (config.defaultBridge.name !== undefined || config.defaultBridge.bip !== undefined) engineConfig.defaultBridge = config.defaultBridge;
  if (config.defaultAddressPools !== undefined) engineConfig.defaultAddressPools = config.defaultAddressPools;
  // Registries' own CAs and client certificates, where dockerd keeps them in /etc/docker/certs.d.
  engineConfig.registry = { certsDir: defaultRegistryCertsDir, ...config.registry };
  return engineConfig;
}

/**
 * Starts berthd: pid file, socket checks (before any state is touched, so a second
 * daemon fails fast), the engine, then the API on every socket. On a failure half-way
 * it releases what it took, in reverse order, and rethrows.
 */
export async function startDaemon(config: DaemonConfig, parts: DaemonParts, log: Logger): Promise<RunningDaemon> {
  const undo: Array<() => Promise<void>> = [];
  const rollback = async () => {
    for (const step of undo.reverse()) await step().catch((err: unknown) => log.warn('cleanup step failed', { error: String(err) }));
  };
  try {
    const plugins = [
      ...parts.builtinPlugins,
      ...loadThirdPartyPlugins(config.plugins, parts.builtinPlugins, { configFile: config.configFile }),
    ];
    await writePidfile(config.pidfile, {
      // A daemon still answering on one of our sockets is running, not exiting: refuse at once.
      serving: async () => {
        for (const socket of config.hosts) if (await acceptsConnections(socket)) return true;
        return false;
      },
      onWait: (pid, ms) => log.info(`berthd pid ${pid} (named by ${config.pidfile}) is still exiting; waiting up to ${ms / 1000} s for it`),
    });
    undo.push(() => removePidfile(config.pidfile));
    for (const socket of config.hosts) await prepareSocketPath(socket);

    const engine = await parts.createEngine(engineConfigFor(config, plugins, log.child({ component: 'engine' }), parts.version));
    undo.push(() => engine.close());

    const wanted = config.apiLimits.maxConnections ?? defaultServerLimits.maxConnections;
    const fdLimit = openFileLimit();
    const budget = connectionBudget(wanted, config.hosts.length, fdLimit);
    if (budget.clipped) {
      log.warn(
        `api-max-connections ${wanted} does not fit the file descriptor limit of ${fdLimit} (connections may use half of it): using ${budget.max} per socket; raise LimitNOFILE (ulimit -n) to allow more`,
      );
    }
    const limits = { ...config.apiLimits, maxConnections: budget.max };
    const servers: ApiServer[] = [];
    for (const socket of config.hosts) {
      const api = createApiServer(engine, { serverVersion: parts.version, logger: log.child({ component: 'api' }), limits });
      await bindSocket(socket, () => api.listen(socket));
      servers.push(api);
      undo.push(async () => {
        await api.close();
        await removeSocket(socket);
      });
    }

    // Quiet: fewer than 100 connections accepted since the last check, so a collection's pause hurts nobody.
    let lastAccepted = 0;
    const reclaimer = new MemoryReclaimer({
      log,
      ...(parts.trimMalloc ? { trimMalloc: parts.trimMalloc } : {}),
      quiet: () => {
        const accepted = servers.reduce((n, api) => n + api.connectionStats().accepted, 0);
        const quiet = accepted - lastAccepted < 100;
        lastAccepted = accepted;
        return quiet;
      },
    });
    reclaimer.start();
    undo.push(async () => reclaimer.stop());

    log.info(
      `berthd ${parts.version} listening on ${config.hosts.map((h) => `unix://${h}`).join(', ')}; plugins: ${describePlugins(engine.plugins())}`,
      { dataRoot: config.dataRoot, execRoot: config.execRoot, pid: process.pid },
    );

    let stopping: Promise<void> | undefined;
    return {
      engine,
      sockets: config.hosts,
      stop() {
        stopping ??= (async () => {
          log.info('berthd shutting down; containers keep running under their shims');
          await rollback();
          log.info('berthd stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await rollback();
    throw err;
  }
}
