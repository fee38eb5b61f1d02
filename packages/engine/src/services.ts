import { RecentIndexes } from '@berth/builder';
import { IpamToken, type ServiceContainer } from '@berth/core';
import { BuildCache, BuildCacheToken } from './build/build-cache.js';
import { BuildService, BuildServiceToken } from './build/build-service.js';
import { CacheMounts, CacheMountsToken } from './build/cache-mounts.js';
import { BuildWorkerToken, EngineBuildWorker } from './build/engine-build-worker.js';
import { RecentIndexesToken } from './build/recent-indexes-token.js';
import { ContainerBundles, ContainerBundlesToken } from './containers/container-bundles.js';
import { ContainerCreator, ContainerCreatorToken } from './containers/container-creator.js';
import { ContainerDrivers, ContainerDriversToken } from './containers/container-drivers.js';
import { ContainerLifecycle, ContainerLifecycleToken } from './containers/container-lifecycle.js';
import { ContainerLocks, ContainerLocksToken } from './containers/container-locks.js';
import { ContainerPaths, ContainerPathsToken } from './containers/container-paths.js';
import { ContainerPrune, ContainerPruneToken } from './containers/container-prune.js';
import { ContainerQueries, ContainerQueriesToken } from './containers/container-queries.js';
import { ContainerService, ContainerServiceToken } from './containers/container-service.js';
import { ContainerSettings, ContainerSettingsToken } from './containers/container-settings.js';
import { ContainerVolumes, ContainerVolumesToken } from './containers/container-volumes.js';
import { NetworkConnections, NetworkConnectionsToken } from './containers/network-connections.js';
import { DnsService, DnsServiceToken } from './dns/dns-service.js';
import { ExecService, ExecServiceToken } from './exec/exec-service.js';
import { HealthMonitor, HealthMonitorToken } from './health/health-monitor.js';
import { ImageHolds, ImageHoldsToken } from './images/image-holds.js';
import { ImageQueries, ImageQueriesToken } from './images/image-queries.js';
import { ImageService, ImageServiceToken } from './images/image-service.js';
import { ImageUsersToken } from './images/image-users.js';
import { LayerUnpacker, LayerUnpackerToken } from './images/layer-unpacker.js';
import { ContainerIo, ContainerIoToken } from './io/container-io.js';
import { ContainerNamesToken } from './networks/container-names.js';
import { DefaultIpam } from './networks/default-ipam.js';
import { HostPortAllocator, HostPortAllocatorToken } from './networks/host-ports.js';
import { NetworkService, NetworkServiceToken } from './networks/network-service.js';
import { NetworkStore, NetworkStoreToken } from './networks/network-store.js';
import { DriverLookup, DriverLookupToken } from './plugins/driver-lookup.js';
import { ContainerFilesystems, ContainerFilesystemsToken } from './rootfs/container-filesystems.js';
import { ContainerRoots, ContainerRootsToken } from './rootfs/container-roots.js';
import { DriverMounts, DriverMountsToken } from './rootfs/driver-mounts.js';
import { RootFilesystems, RootFilesystemsToken } from './rootfs/root-filesystems.js';
import { SnapshotDiffer, SnapshotDifferToken } from './rootfs/snapshot-differ.js';
import { RestartPolicies, RestartPoliciesToken } from './runs/restart-policy.js';
import { RunResources, RunResourcesToken } from './runs/run-resources.js';
import { RunSupervisor, RunSupervisorToken } from './runs/run-supervisor.js';
import { containerImageUsers } from './state/container-image-users.js';
import { ContainerStoreToken, FileContainerStore } from './state/container-store.js';
import { containerVolumeUsers } from './state/container-volume-users.js';
import { ContainerMonitor, ContainerMonitorToken } from './stats/container-monitor.js';
import { SystemService, SystemServiceToken } from './system/system-service.js';
import { VolumeService, VolumeServiceToken } from './volumes/volume-service.js';
import { VolumeStore, VolumeStoreToken } from './volumes/volume-store.js';
import { VolumeUsersToken } from './volumes/volume-users.js';

/**
 * The engine's own services, one line each: the default provider of every token. Only
 * tokens the embedder's `configure` left unregistered get these. Order does not matter:
 * nothing is built until it is resolved, and each class declares what it needs with
 * `@inject(token)` on its constructor parameters.
 */
export function registerEngineServices(di: ServiceContainer): void {
  // Containers' records and files.
  di.registerDefault(ContainerPathsToken, { useClass: ContainerPaths });
  di.registerDefault(ContainerStoreToken, { useClass: FileContainerStore });
  di.registerDefault(ContainerLocksToken, { useClass: ContainerLocks });
  di.registerDefault(ContainerDriversToken, { useClass: ContainerDrivers });
  di.registerDefault(ContainerBundlesToken, { useClass: ContainerBundles });
  // Networks: their records and endpoints, the built-in IPAM (the `ipam` registry's
  // `default`), drivers found by name (discovered when no plugin registered them), and the
  // facade over them.
  di.registerDefault(NetworkStoreToken, { useClass: NetworkStore });
  di.registerDefault(IpamToken, { useClass: DefaultIpam });
  di.registerDefault(DriverLookupToken, { useFactory: (d) => DriverLookup.of(d) });
  di.registerDefault(HostPortAllocatorToken, { useClass: HostPortAllocator });
  di.registerDefault(NetworkServiceToken, { useClass: NetworkService });
  di.registerDefault(NetworkConnectionsToken, { useClass: NetworkConnections });
  di.registerDefault(DnsServiceToken, { useClass: DnsService });
  di.registerDefault(ContainerNamesToken, { useFactory: (d) => ({ nameOf: (id) => d.resolve(ContainerStoreToken).find(id)?.name }) });
  // Root filesystems and the image layers under them.
  di.registerDefault(DriverMountsToken, { useClass: DriverMounts });
  di.registerDefault(RootFilesystemsToken, { useClass: RootFilesystems });
  di.registerDefault(LayerUnpackerToken, { useClass: LayerUnpacker });
  // Runs and their I/O.
  di.registerDefault(ContainerIoToken, { useClass: ContainerIo });
  di.registerDefault(RunResourcesToken, { useClass: RunResources });
  di.registerDefault(RunSupervisorToken, { useClass: RunSupervisor });
  di.registerDefault(RestartPoliciesToken, { useClass: RestartPolicies });
  // The container API: create, the lifecycle state machine, queries, settings, stats and
  // top, prune, and the facade over them.
  di.registerDefault(ContainerCreatorToken, { useClass: ContainerCreator });
  di.registerDefault(ContainerLifecycleToken, { useClass: ContainerLifecycle });
  di.registerDefault(ContainerQueriesToken, { useClass: ContainerQueries });
  di.registerDefault(ContainerSettingsToken, { useClass: ContainerSettings });
  di.registerDefault(ContainerMonitorToken, { useClass: ContainerMonitor });
  di.registerDefault(ContainerPruneToken, { useClass: ContainerPrune });
  di.registerDefault(ContainerServiceToken, { useClass: ContainerService });
  // Execs: processes run in running containers beside their own.
  di.registerDefault(ExecServiceToken, { useClass: ExecService });
  // Health checks: probes run as execs while a container with a health check runs.
  di.registerDefault(HealthMonitorToken, { useClass: HealthMonitor });
  // Containers' files from the host: diff, export, commit, cp.
  di.registerDefault(ContainerRootsToken, { useClass: ContainerRoots });
  di.registerDefault(SnapshotDifferToken, { useClass: SnapshotDiffer });
  di.registerDefault(ContainerFilesystemsToken, { useClass: ContainerFilesystems });
  // Dockerfile builds: what a build's steps ask of the engine.
  di.registerDefault(BuildCacheToken, { useClass: BuildCache });
  di.registerDefault(CacheMountsToken, { useClass: CacheMounts });
  di.registerDefault(BuildWorkerToken, { useClass: EngineBuildWorker });
  di.registerDefault(BuildServiceToken, { useClass: BuildService });
  di.registerDefault(RecentIndexesToken, { useFactory: () => new RecentIndexes() });
  // Images; the port that tells them which containers use an image is the container store.
  di.registerDefault(ImageQueriesToken, { useClass: ImageQueries });
  di.registerDefault(ImageHoldsToken, { useClass: ImageHolds });
  di.registerDefault(ImageUsersToken, { useFactory: (d) => containerImageUsers(d.resolve(ContainerStoreToken)) });
  di.registerDefault(ImageServiceToken, { useClass: ImageService });
  di.registerDefault(SystemServiceToken, { useClass: SystemService });
  // Volumes: their records, the service over the volume drivers, and the port that tells
  // them which containers use a volume (the container store).
  di.registerDefault(VolumeStoreToken, { useClass: VolumeStore });
  di.registerDefault(VolumeUsersToken, { useFactory: (d) => containerVolumeUsers(d.resolve(ContainerStoreToken)) });
  di.registerDefault(VolumeServiceToken, { useClass: VolumeService });
  di.registerDefault(ContainerVolumesToken, { useClass: ContainerVolumes });
}
