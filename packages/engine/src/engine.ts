import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  defaultIpamName,
  driverRegistryToken,
  type EngineApi,
  EventBus,
  EventBusToken,
  IpamToken,
  LoggerToken,
  pluginKinds,
  ServiceContainer,
  StorageDriverToken,
  silentLogger,
} from '@berth/core';
import { ImageStore } from '@berth/image';
import { BuildServiceToken } from './build/build-service.js';
import { BuildWorkerToken } from './build/engine-build-worker.js';
import { removeEmptyParentCgroups } from './cgroups/parent-cgroup.js';
import { type EngineConfig, EngineConfigToken, type ResolvedEngineConfig } from './config.js';
import { HostFactsToken, readHostFacts } from './containers/container-bundles.js';
import { ContainerLifecycleToken } from './containers/container-lifecycle.js';
import { ContainerServiceToken } from './containers/container-service.js';
import { NetworkConnectionsToken } from './containers/network-connections.js';
import { DnsServiceToken } from './dns/dns-service.js';
import { ExecServiceToken } from './exec/exec-service.js';
import { HealthMonitorToken } from './health/health-monitor.js';
import { ImageServiceToken } from './images/image-service.js';
import { ImageStoreToken } from './images/image-store-token.js';
import { LayerUnpackerToken } from './images/layer-unpacker.js';
import { checkLogConfig } from './io/log-config.js';
import { dockerDefaultPools } from './networks/default-ipam.js';
import { HostPortAllocatorToken } from './networks/host-ports.js';
import { NetworkServiceToken } from './networks/network-service.js';
import { networksApi } from './networks/networks-api.js';
import { DriverLookup, DriverLookupToken } from './plugins/driver-lookup.js';
import { loadPlugins } from './plugins/plugin-host.js';
import { ContainerFilesystemsToken } from './rootfs/container-filesystems.js';
import { DriverMountsToken } from './rootfs/driver-mounts.js';
import { RootFilesystemsToken } from './rootfs/root-filesystems.js';
import { RestartPoliciesToken } from './runs/restart-policy.js';
import { RunSupervisorToken } from './runs/run-supervisor.js';
import { registerEngineServices } from './services.js';
import { ContainerStoreToken } from './state/container-store.js';
import { ContainerMonitorToken } from './stats/container-monitor.js';
import { refuseWhileMigrating } from './storage-migration/migration-journal.js';
import { PluginStatusSourceToken, SystemServiceToken } from './system/system-service.js';
import { VolumeServiceToken } from './volumes/volume-service.js';
import { volumesApi } from './volumes/volumes-api.js';

/** A running engine: the EngineApi plus the container it was assembled in, its config and its shutdown. */
export interface Engine extends EngineApi {
  /** The DI container the engine's services were resolved from: `engine.di.resolve(ContainerStoreToken)`. */
  readonly di: ServiceContainer;
  readonly config: ResolvedEngineConfig;
  /** Stop serving; running containers keep running under their shims. */
  close(): Promise<void>;
}

function resolveConfig(config: EngineConfig): ResolvedEngineConfig {
  // The operator's log defaults are checked once, here, as every create would check them.
  checkLogConfig(config.logDriver ?? 'json-file', config.logOpts ?? {});
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
    logDriver: config.logDriver ?? 'json-file',
    logOpts: config.logOpts ?? {},
    defaultBridge: {
      name: config.defaultBridge?.name || 'berth0',
      ...(config.defaultBridge?.bip ? { bip: config.defaultBridge.bip } : {}),
    },
    defaultAddressPools: config.defaultAddressPools?.length ? config.defaultAddressPools : [...dockerDefaultPools],
    registry: config.registry ?? {},
  };
}

/**
 * The composition root. Makes one DI container for this engine, lets the embedder's
 * `configure` register its own implementation of any token, fills in the defaults for
 * the rest (the event bus and logger, the plugins' drivers — an explicit list: nothing
 * registers itself by being imported —, the image store, every engine service), then
 * resolves: loads the container records, removes what a crash left, re-adopts running
 * containers, and returns the engine.
 *
 * ```ts
 * const engine = await createEngine({
 *   dataRoot, execRoot, plugins: [overlay, vfs, runc, none, host],
 *   configure: (di) => di.register(EventBusToken, { useValue: myBus }),
 * });
 * ```
 */
export async function createEngine(input: EngineConfig): Promise<Engine> {
  const config = resolveConfig(input);
  // A data root whose storage is half on one driver and half on another is opened by nobody.
  await refuseWhileMigrating(config.dataRoot);
  await fs.mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  await fs.mkdir(config.execRoot, { recursive: true, mode: 0o700 });

  const di = ServiceContainer.create();
  di.register(EngineConfigToken, { useValue: config });
  input.configure?.(di);

  di.registerDefault(EventBusToken, { useFactory: () => new EventBus() });
  di.registerDefault(LoggerToken, { useValue: config.logger });
  di.registerDefault(HostFactsToken, { useFactory: () => readHostFacts() });
  const events = di.resolve(EventBusToken);
  const log = di.resolve(LoggerToken);

  let plugins: Awaited<ReturnType<typeof loadPlugins>>;
  try {
    plugins = await loadPlugins(config, events, log);
  } catch (err) {
    // A refused start (no storage driver can serve) leaves no cgroup behind: the plugins
    // that initialised were closed, so the parent is empty.
    removeEmptyParentCgroups(config.cgroupParent);
    throw err;
  }
  // Without the operator's choice: crun where its plugin runs, else runc.
  if (input.defaultRuntime === undefined && plugins.runtimes.has('crun')) config.defaultRuntime = 'crun';
  if (!plugins.runtimes.has(config.defaultRuntime)) {
    const status = plugins.statuses.find((s) => s.kind === 'runtime' && s.name === config.defaultRuntime);
    log.warn(`default runtime ${config.defaultRuntime} is not available${status ? `: ${status.reason}` : ''}`);
  }
  di.registerDefault(StorageDriverToken, { useValue: plugins.storage });
  for (const kind of pluginKinds) di.registerDefault(driverRegistryToken(kind), { useValue: plugins.registry(kind) });
  di.registerDefault(PluginStatusSourceToken, { useValue: { statuses: () => plugins.statuses } });
  // Opening the image store reads its records: asynchronous, so done here, and only when
  // the embedder brought none.
  if (!di.isRegistered(ImageStoreToken)) di.register(ImageStoreToken, { useValue: await ImageStore.open(config.dataRoot, { log }) });
  // Discovered drivers go in through the host, so `plugins ls` says where each was found.
  di.registerDefault(DriverLookupToken, { useFactory: (d) => DriverLookup.of(d, plugins.addDriver) });
  registerEngineServices(di);
  // The built-in IPAM is the `ipam` kind's `default`, unless a plugin of that name came.
  if (!plugins.registry('ipam').has(defaultIpamName)) {
    plugins.addDriver(
      'ipam',
      defaultIpamName,
      di.resolve(IpamToken),
      "the engine's built-in IPAM: subnets from the default address pools",
      {
        announce: false,
      },
    );
  }

  // Start-up, in order: the records, then recovery of what the last engine left.
  const store = di.resolve(ContainerStoreToken);
  const rootfs = di.resolve(RootFilesystemsToken);
  const incomplete: string[] = [];
  await store.load({
    unreadable: (id, err) => log.error('unreadable container record skipped', { id, error: String(err) }),
    incomplete: (id) => incomplete.push(id),
  });
  // Mount helpers (FUSE root filesystems) the last engine left: those of containers whose
  // rootfs stays mounted (running, or created and not yet started) are adopted, the rest stopped.
  const driverMounts = di.resolve(DriverMountsToken);
  driverMounts.recover((owner) => {
    if (owner.kind !== 'container') return false;
    const record = store.find(owner.id);
    return !!record && !incomplete.includes(owner.id) && (record.state.Running || record.state.Status === 'created' || !!record.pending);
  });
  for (const id of incomplete) {
    log.warn('removing what an interrupted create left', { id });
    try {
      await rootfs.unmount(id); // never delete through a mount: the directory goes only once this succeeded
      store.discard(id);
    } catch (err) {
      log.error('cannot remove what an interrupted create left', { id, error: String(err) });
    }
  }
  await rootfs.removeOrphans((id) => !!store.find(id));
  await di.resolve(LayerUnpackerToken).removeInterrupted();
  // Networks before runs: recovery releases the endpoints of runs that ended meanwhile.
  const networks = di.resolve(NetworkServiceToken);
  await networks.recover();
  // Volumes' records, and the driver volumes a create or remove cut short left without one.
  const volumes = di.resolve(VolumeServiceToken);
  await volumes.load();
  // The lifecycle listens to exits (auto-remove) from its construction: before recovery records any.
  const lifecycle = di.resolve(ContainerLifecycleToken);
  const supervisor = di.resolve(RunSupervisorToken);
  // Restart policies listen to exits too (those recovery records included), and then
  // start what their policy says should run now that the engine is up.
  const restarts = di.resolve(RestartPoliciesToken);
  await supervisor.recover();
  // A helper found dead at start: now that runs are adopted, its container is stopped with the reason.
  await driverMounts.reportRecoveredDeaths();
  // Volume mounts held by runs that ended while no engine watched are released; those of running containers kept.
  await volumes.reconcileMounts((id) => store.find(id)?.state.Running === true);
  // Endpoints of containers that are not running (now that recovery knows) go; drivers restore the rest.
  await networks.sweep((endpoint, network) => {
    const record = store.find(endpoint.containerId);
    return record?.state.Running === true && record.networks.some((a) => networks.findMode(a.network)?.id === network.id);
  });
  // The embedded DNS server: the resolver a previous berthd left is adopted and given the records of what still runs.
  const dns = di.resolve(DnsServiceToken);
  await dns.start();
  const execs = di.resolve(ExecServiceToken);
  await execs.recover();
  // Health checks listen to starts and exits from here on, and resume those of the containers recovery found running.
  const health = di.resolve(HealthMonitorToken);
  health.resumeRunning();
  // Stats keep CPU readings from each start on (a sample's precpu_stats), and take one of each container recovery found running.
  const monitor = di.resolve(ContainerMonitorToken);
  monitor.rememberRunning();
  await lifecycle.removeStoppedAutoRemove();
  // The step containers of builds that died with the last engine (after recovery: a running one is killed by its removal).
  await di.resolve(BuildWorkerToken).recover();
  await restarts.restoreAtStart();

  const system = di.resolve(SystemServiceToken);
  await system.id();
  return {
    config,
    di,
    events,
    containers: di.resolve(ContainerServiceToken),
    images: di.resolve(ImageServiceToken),
    execs,
    filesystems: di.resolve(ContainerFilesystemsToken),
    networks: networksApi(networks, di.resolve(NetworkConnectionsToken)),
    volumes: volumesApi(volumes),
    builds: di.resolve(BuildServiceToken),
    version: () => system.version(),
    info: () => system.info(),
    plugins: () => system.pluginStatuses(),
    async close() {
      restarts.close();
      await health.close();
      await execs.close(); // prepared execs nobody started: their waiting monitors end
      monitor.close();
      supervisor.close();
      await driverMounts.close(); // helpers keep serving their containers: the next engine adopts them
      await networks.releasesSettled(); // the endpoints of containers removed just before
      await dns.close();
      di.resolve(HostPortAllocatorToken).close(); // the sockets holding published ports; the kernel's rules stay
      events.removeAllListeners();
      await store.drain();
      await plugins.storage.close?.();
      for (const runtime of plugins.runtimes.values()) await runtime.close?.();
      removeEmptyParentCgroups(config.cgroupParent);
    },
  };
}
