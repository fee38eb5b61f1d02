export { BuildCache, BuildCacheToken } from './build/build-cache.js';
export { BuildService, BuildServiceToken } from './build/build-service.js';
export { BUILD_STEP_LABEL, BuildWorkerToken, EngineBuildWorker } from './build/engine-build-worker.js';
export { RecentIndexesToken } from './build/recent-indexes-token.js';
export type { EngineConfig, RegistryConfig, ResolvedEngineConfig } from './config.js';
export { EngineConfigToken, storagePriority } from './config.js';
export { ContainerBundles, ContainerBundlesToken, HostFactsToken } from './containers/container-bundles.js';
export { ContainerCreator, ContainerCreatorToken } from './containers/container-creator.js';
export { ContainerDrivers, ContainerDriversToken } from './containers/container-drivers.js';
export { ContainerLifecycle, ContainerLifecycleToken, type StartOptions } from './containers/container-lifecycle.js';
export { ContainerLocks, ContainerLocksToken } from './containers/container-locks.js';
export { ContainerPaths, ContainerPathsToken } from './containers/container-paths.js';
export { ContainerPrune, ContainerPruneToken } from './containers/container-prune.js';
export { ContainerQueries, ContainerQueriesToken } from './containers/container-queries.js';
export type { ContainerRecord } from './containers/container-record.js';
export { ContainerService, ContainerServiceToken } from './containers/container-service.js';
export { ContainerSettings, ContainerSettingsToken } from './containers/container-settings.js';
export { createEngine, type Engine } from './engine.js';
export { ExecService, ExecServiceToken } from './exec/exec-service.js';
export { ImageHolds, ImageHoldsToken } from './images/image-holds.js';
export { ImageQueries, ImageQueriesToken } from './images/image-queries.js';
export { ImageService, ImageServiceToken } from './images/image-service.js';
export { ImageStoreToken } from './images/image-store-token.js';
export { type ImageUser, type ImageUsers, ImageUsersToken } from './images/image-users.js';
export { LayerUnpacker, LayerUnpackerToken } from './images/layer-unpacker.js';
export { ContainerIo, ContainerIoToken } from './io/container-io.js';
export { type ContainerNames, ContainerNamesToken } from './networks/container-names.js';
export { type AddressPool, DefaultIpam, dockerDefaultPools } from './networks/default-ipam.js';
export type { EndpointRecord, NetworkRecord } from './networks/network-record.js';
export { NetworkService, NetworkServiceToken } from './networks/network-service.js';
export { NetworkStore, NetworkStoreToken } from './networks/network-store.js';
export { DriverLookup, DriverLookupToken } from './plugins/driver-lookup.js';
export { ContainerFilesystems, ContainerFilesystemsToken } from './rootfs/container-filesystems.js';
export { ContainerRoots, ContainerRootsToken } from './rootfs/container-roots.js';
export { DriverMounts, DriverMountsToken, type MountHelperDeathListener } from './rootfs/driver-mounts.js';
export { type MountHelperEntry, MountHelperLedger, type MountOwner } from './rootfs/mount-helper-ledger.js';
export { RootFilesystems, RootFilesystemsToken } from './rootfs/root-filesystems.js';
export { SnapshotDiffer, SnapshotDifferToken } from './rootfs/snapshot-differ.js';
export { decideRestart, RestartPolicies, RestartPoliciesToken, restartsAtEngineStart } from './runs/restart-policy.js';
export { RunResources, RunResourcesToken } from './runs/run-resources.js';
export { type ExitListener, RunSupervisor, RunSupervisorToken } from './runs/run-supervisor.js';
export { registerEngineServices } from './services.js';
export { type ContainerStore, ContainerStoreToken, FileContainerStore } from './state/container-store.js';
export { containerVolumeUsers } from './state/container-volume-users.js';
export { ContainerMonitor, ContainerMonitorToken } from './stats/container-monitor.js';
export { type MigrationJournal, readMigrationJournal, refuseWhileMigrating } from './storage-migration/migration-journal.js';
export { migrateStorage, type StorageMigrationOptions, type StorageMigrationReport } from './storage-migration/storage-migration.js';
export {
  apiVersion,
  minApiVersion,
  type PluginStatusSource,
  PluginStatusSourceToken,
  SystemService,
  SystemServiceToken,
} from './system/system-service.js';
export { matchesVolumeFilters } from './volumes/volume-filters.js';
export { checkVolumeName } from './volumes/volume-name.js';
export type { VolumeRecord } from './volumes/volume-record.js';
export {
  DEFAULT_VOLUME_DRIVER,
  type VolumeCreateRequest,
  type VolumeInfo,
  type VolumePruneResult,
  VolumeService,
  VolumeServiceToken,
} from './volumes/volume-service.js';
export { VOLUME_RECORDS_DIR, VolumeStore, VolumeStoreToken } from './volumes/volume-store.js';
export { type VolumeUsers, VolumeUsersToken } from './volumes/volume-users.js';
export { dockerVolume, volumesApi } from './volumes/volumes-api.js';
