import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  type EngineApi,
  EventBus,
  EventBusToken,
  LoggerToken,
  NetworkDriversToken,
  type PluginStatus,
  RuntimesToken,
  ServiceContainer,
  StorageDriverToken,
  type SystemInfo,
  silentLogger,
  token,
  type VersionInfo,
  VolumeDriversToken,
} from '@berth/core';
import { removeEmptyParentCgroups } from './cgroups/parent-cgroup.js';
import type { EngineConfig, ResolvedEngineConfig } from './config.js';
import { ContainerService } from './containers/container-service.js';
import { ImageService } from './images/image-service.js';
import { loadPlugins } from './plugins/plugin-host.js';
import { ContainerStore } from './state/container-store.js';
import { SystemService } from './system/system-service.js';

/** A running engine: the EngineApi plus its DI container and shutdown. */
export interface Engine extends EngineApi {
  readonly containers: ContainerService;
  readonly images: ImageService;
  /** The DI container the engine's parts are registered in, for embedders who add their own. */
  readonly di: ServiceContainer;
  readonly config: ResolvedEngineConfig;
  /** Stop serving; running containers keep running under their shims. */
  close(): Promise<void>;
}

const EngineConfigToken = token<ResolvedEngineConfig>('EngineConfig');

function resolveConfig(config: EngineConfig): ResolvedEngineConfig {
  return {
    dataRoot: path.resolve(config.dataRoot),
    execRoot: path.resolve(config.execRoot),
    storageDriver: config.storageDriver,
    defaultRuntime: config.defaultRuntime ?? 'runc',
    cgroupParent: config.cgroupParent ?? 'berth',
    plugins: config.plugins,
    pluginConfig: config.pluginConfig ?? {},
    logger: config.logger ?? silentLogger,
    serverVersion: config.serverVersion ?? '0.1.0',
  };
}

/**
 * The composition root. Initialises the configured plugins (an explicit list: nothing
 * registers itself by being imported), binds what they return to core's tokens in a
 * child DI container, loads state, re-adopts running containers, and returns the engine.
 *
 * ```ts
 * const engine = await createEngine({ dataRoot, execRoot, plugins: [overlay, vfs, runc, none, host] });
 * ```
 */
export async function createEngine(input: EngineConfig): Promise<Engine> {
  const config = resolveConfig(input);
  const log = config.logger;
  await fs.mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  await fs.mkdir(config.execRoot, { recursive: true, mode: 0o700 });
  const events = new EventBus();
  const plugins = await loadPlugins(config, events, log);

  const di = ServiceContainer.create();
  di.register(EngineConfigToken, { useValue: config });
  di.register(EventBusToken, { useValue: events });
  di.register(LoggerToken, { useValue: log });
  di.register(StorageDriverToken, { useValue: plugins.storage });
  di.register(RuntimesToken, { useValue: plugins.runtimes });
  di.register(NetworkDriversToken, { useValue: plugins.networks });
  di.register(VolumeDriversToken, { useValue: plugins.volumes });

  if (!plugins.runtimes.has(config.defaultRuntime)) {
    const status = plugins.statuses.find((s) => s.kind === 'runtime' && s.name === config.defaultRuntime);
    log.warn(`default runtime ${config.defaultRuntime} is not available${status ? `: ${status.reason}` : ''}`);
  }

  const store = new ContainerStore(path.join(config.dataRoot, 'containers'), log);
  await store.load((id, err) => log.error('unreadable container record skipped', { id, error: String(err) }));
  const images = new ImageService(config.dataRoot, plugins.storage, events, log, (imageId) => containers.usersOf(imageId));
  await images.init();
  const containers = new ContainerService(config, store, images, plugins.storage, plugins.runtimes, plugins.networks, events, log);
  await containers.recover();
  const system = new SystemService(config, plugins.statuses, plugins.storage);

  return {
    config,
    di,
    events,
    containers,
    images,
    version(): VersionInfo {
      return system.version();
    },
    async info(): Promise<SystemInfo> {
      const all = store.all();
      const running = all.filter((r) => r.state.Running && !r.state.Paused).length;
      const paused = all.filter((r) => r.state.Paused).length;
      const runtimes: Record<string, { path: string }> = {};
      for (const [name, runtime] of plugins.runtimes) runtimes[name] = { path: (await runtime.describe()).path };
      return system.info({ running, paused, stopped: all.length - running - paused, images: await images.count() }, runtimes);
    },
    plugins(): PluginStatus[] {
      return plugins.statuses;
    },
    async close() {
      containers.close();
      events.removeAllListeners();
      await store.drain();
      await plugins.storage.close?.();
      for (const runtime of plugins.runtimes.values()) await runtime.close?.();
      removeEmptyParentCgroups(config.cgroupParent);
    },
  };
}
