/**
 * The Docker Engine API's shapes (API 1.41), as berth's engine returns them and its
 * API layer serialises them. Field names are Docker's, so the JSON is what the docker
 * CLI, docker-py and dockerode read. Output shapes declare only the fields berth fills;
 * the create request's (`ContainerConfig`, `HostConfig`, `NetworkingConfig`) declare every
 * field of Docker 1.41, so the API's schema checks each one and the engine decides each one
 * (packages/engine/src/oci/README.md has the table). Every optional field may be absent on
 * input, since docker-py sends sparse bodies.
 */

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

export interface RestartPolicy {
  Name?: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount?: number;
}

export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** One of `HostConfig.Mounts` (`docker run --mount`). */
export interface MountRequest {
  Target?: string;
  Source?: string;
  Type?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean } | null;
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string> | null;
    DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null;
  } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

/** A per-device blkio weight (`--blkio-weight-device`). */
export interface WeightDevice {
  Path?: string;
  Weight?: number;
}

/** A per-device blkio throttle (`--device-read-bps` and the like). */
export interface ThrottleDevice {
  Path?: string;
  Rate?: number;
}

/** A request for devices from a device driver (`--gpus`). */
export interface DeviceRequest {
  Driver?: string;
  Count?: number;
  DeviceIDs?: string[] | null;
  Capabilities?: string[][] | null;
  Options?: Record<string, string> | null;
}

export interface HostConfig {
  Binds?: string[] | null;
  ContainerIDFile?: string;
  VolumeDriver?: string;
  VolumesFrom?: string[] | null;
  Mounts?: MountRequest[] | null;
  Capabilities?: string[] | null;
  CgroupnsMode?: string;
  Cgroup?: string;
  Links?: string[] | null;
  OomScoreAdj?: number;
  PublishAllPorts?: boolean;
  StorageOpt?: Record<string, string> | null;
  UsernsMode?: string;
  ConsoleSize?: number[] | null;
  Isolation?: string;
  BlkioWeight?: number;
  BlkioWeightDevice?: WeightDevice[] | null;
  BlkioDeviceReadBps?: ThrottleDevice[] | null;
  BlkioDeviceWriteBps?: ThrottleDevice[] | null;
  BlkioDeviceReadIOps?: ThrottleDevice[] | null;
  BlkioDeviceWriteIOps?: ThrottleDevice[] | null;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetMems?: string;
  DeviceCgroupRules?: string[] | null;
  DeviceRequests?: DeviceRequest[] | null;
  KernelMemory?: number;
  KernelMemoryTCP?: number;
  MemorySwappiness?: number | null;
  CpuCount?: number;
  CpuPercent?: number;
  IOMaximumIOps?: number;
  IOMaximumBandwidth?: number;
  NetworkMode?: string;
  PortBindings?: Record<string, PortBinding[] | null> | null;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  PidsLimit?: number | null;
  OomKillDisable?: boolean | null;
  ShmSize?: number;
  Tmpfs?: Record<string, string> | null;
  Ulimits?: Array<{ Name: string; Soft: number; Hard: number }> | null;
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  ExtraHosts?: string[] | null;
  Init?: boolean | null;
  Runtime?: string;
  LogConfig?: { Type?: string; Config?: Record<string, string> };
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  Sysctls?: Record<string, string> | null;
  GroupAdd?: string[] | null;
  IpcMode?: string;
  PidMode?: string;
  UTSMode?: string;
  CgroupParent?: string;
  Devices?: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }> | null;
}

export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | string | null;
  Healthcheck?: { Test?: string[] | null; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number } | null;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | string | null;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number | null;
  Shell?: string[] | null;
}

/** A container's settings on one network, as `NetworkingConfig.EndpointsConfig` carries them. */
export interface EndpointRequest {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  MacAddress?: string;
  DriverOpts?: Record<string, string> | null;
  /** API 1.48: the endpoint with the highest priority gives the container its default route. */
  GwPriority?: number;
}

/** The networks a container is created on, and its settings on each. */
export interface NetworkingConfig {
  EndpointsConfig?: Record<string, EndpointRequest | null> | null;
}

/** The body of `POST /containers/create`. */
export interface ContainerCreateBody extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: NetworkingConfig | null;
}

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Only for a container with a health check. */
  Health?: ContainerHealth;
}

/** One probe of a health check, as `State.Health.Log` shows it. */
export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** `State.Health`: the health check's status, its failures in a row and its last 5 probes. */
export interface ContainerHealth {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface EndpointSettings {
  IPAMConfig?: Record<string, string> | null;
  Links?: string[] | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  MacAddress: string;
  Aliases: string[] | null;
  DriverOpts?: Record<string, string> | null;
}

export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  HairpinMode?: boolean;
  LinkLocalIPv6Address?: string;
  LinkLocalIPv6PrefixLen?: number;
  SandboxKey: string;
  SecondaryIPAddresses?: string[] | null;
  SecondaryIPv6Addresses?: string[] | null;
  EndpointID?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  IPv6Gateway?: string;
  Ports: Record<string, PortBinding[] | null>;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  MacAddress: string;
  Networks: Record<string, EndpointSettings>;
}

/** `GET /containers/{id}/json`. Config, HostConfig, State, NetworkSettings and Mounts are always present (CLI 28 panics otherwise). */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: HostConfig;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  Mounts: MountPoint[];
  Config: ContainerConfig;
  NetworkSettings: NetworkSettings;
}

/** One entry of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }>;
  Labels: Record<string, string>;
  State: ContainerState['Status'];
  Status: string;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, EndpointSettings> };
  Mounts: MountPoint[];
  SizeRw?: number;
  SizeRootFs?: number;
}

/** One entry of `GET /images/json`. */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  VirtualSize: number;
  SharedSize: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

/** `GET /images/{name}/json`. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container: string;
  ContainerConfig: ContainerConfig;
  DockerVersion: string;
  Author: string;
  Config: ContainerConfig;
  Architecture: string;
  Os: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

/** One entry of `GET /images/{name}/history`. */
export interface ImageHistoryEntry {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** One entry of the `DELETE /images/{name}` answer. */
export type ImageDeleteEntry = { Untagged: string } | { Deleted: string };

/** `GET /version`. */
export interface VersionInfo {
  Platform: { Name: string };
  Components: Array<{ Name: string; Version: string; Details?: Record<string, string> }>;
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  BuildTime: string;
}

/** The state of one plugin, for `berth plugins ls` and `docker info`. */
export interface PluginStatus {
  kind: string;
  name: string;
  status: 'ok' | 'skipped' | 'error';
  /** Why it was skipped or failed; empty when ok. */
  reason: string;
  description: string;
}

/** `GET /info`: Docker's fields berth fills, plus `BerthPlugins`. */
export interface SystemInfo {
  ID: string;
  ExperimentalBuild: boolean;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: Array<[string, string]>;
  Plugins: { Volume: string[]; Network: string[]; Authorization: null; Log: string[] };
  MemoryLimit: boolean;
  SwapLimit: boolean;
  CpuCfsPeriod: boolean;
  CpuCfsQuota: boolean;
  PidsLimit: boolean;
  OomKillDisable: boolean;
  IPv4Forwarding: boolean;
  Debug: boolean;
  NFd: number;
  NGoroutines: number;
  SystemTime: string;
  LoggingDriver: string;
  CgroupDriver: string;
  CgroupVersion: string;
  KernelVersion: string;
  OperatingSystem: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  DockerRootDir: string;
  Name: string;
  Labels: string[];
  ServerVersion: string;
  Runtimes: Record<string, { path: string }>;
  DefaultRuntime: string;
  Swarm: { NodeID: string; NodeAddr: string; LocalNodeState: 'inactive' };
  LiveRestoreEnabled: boolean;
  Isolation: string;
  InitBinary: string;
  SecurityOptions: string[];
  Warnings: string[] | null;
  /** berth's own addition: every plugin with its status and reason. */
  BerthPlugins: PluginStatus[];
}

/** `GET /containers/{id}/top`: `ps`'s header and one row per process of the container. */
export interface ContainerTop {
  Titles: string[];
  Processes: string[][];
}

/** `POST /containers/{id}/update`'s answer. */
export interface ContainerUpdateResult {
  Warnings: string[] | null;
}

/** `POST /containers/prune`'s answer. */
/** `POST /images/prune`: what went (`Untagged`/`Deleted` entries as `rmi` reports them) and the layer bytes freed. */
export interface ImagesPruneReport {
  ImagesDeleted: ImageDeleteEntry[] | null;
  SpaceReclaimed: number;
}

/** The images part of `GET /system/df`: every image with `SharedSize` and `Containers` filled, and the bytes of all layers once each. */
export interface ImagesDiskUsage {
  LayersSize: number;
  Images: ImageSummary[];
}

/**
 * One entry of the build cache, as `GET /system/df` lists it (BuildKit's `BuildCache`
 * record): a step's image, its own layer's size, whether an image with a name still
 * needs it (`Shared`: not reclaimed by a prune without `all`).
 */
export interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  /** RFC 3339. */
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/** `POST /build/prune`'s answer. */
export interface BuildCachePruneReport {
  CachesDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** `GET /system/df`. */
export interface DiskUsage extends ImagesDiskUsage {
  Containers: ContainerSummary[];
  Volumes: Volume[];
  BuildCache: BuildCacheRecord[];
}

/** A volume as `GET /volumes/{name}` and the list answer it (Docker's `Volume`). */
export interface Volume {
  Name: string;
  Driver: string;
  /** The host path of the volume's data; "" for a driver that has one only while mounted. */
  Mountpoint: string;
  /** RFC 3339. */
  CreatedAt: string;
  Status?: Record<string, unknown>;
  Labels: Record<string, string>;
  Scope: 'local' | 'global';
  Options: Record<string, string>;
  /** `GET /system/df` only: the bytes its data holds and how many containers use it. */
  UsageData?: { Size: number; RefCount: number };
}

/** `POST /volumes/create`. */
export interface VolumeCreateBody {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** `GET /volumes`: dockerd's `Warnings` is null when there are none. */
export interface VolumeListResponse {
  Volumes: Volume[];
  Warnings: string[] | null;
}

/** `POST /volumes/prune`: the names removed (null when none) and the bytes their data held. */
export interface VolumesPruneReport {
  VolumesDeleted: string[] | null;
  SpaceReclaimed: number;
}

export interface ContainersPruneReport {
  ContainersDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** Docker's CPU usage of a stats sample (nanoseconds of CPU time; `system_cpu_usage` in host clock ticks × 10^7). */
export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

/** One entry of blkio's lists, as Docker's stats carry them. */
export interface BlkioStatEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** One network interface's counters in a stats sample. */
export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/**
 * `GET /containers/{id}/stats`: one sample, in Docker's shape (what `docker stats` and
 * docker-py compute percentages from). A stopped container's sample is zeroed, as Docker's.
 */
export interface ContainerStatsSample {
  read: string;
  preread: string;
  name: string;
  id: string;
  num_procs: number;
  pids_stats: { current?: number; limit?: number };
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; limit?: number; stats?: Record<string, number>; failcnt?: number };
  blkio_stats: {
    io_service_bytes_recursive: BlkioStatEntry[] | null;
    io_serviced_recursive: BlkioStatEntry[] | null;
    io_queue_recursive: BlkioStatEntry[] | null;
    io_service_time_recursive: BlkioStatEntry[] | null;
    io_wait_time_recursive: BlkioStatEntry[] | null;
    io_merged_recursive: BlkioStatEntry[] | null;
    io_time_recursive: BlkioStatEntry[] | null;
    sectors_recursive: BlkioStatEntry[] | null;
  };
  storage_stats: Record<string, never>;
  networks?: Record<string, NetworkStats>;
}

/** `POST /containers/{id}/exec`'s body (Docker's ExecConfig at 1.41). */
export interface ExecCreateBody {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  /** Overrides the default detach keys (`ctrl-p,ctrl-q`) for this exec's attached stream. */
  DetachKeys?: string;
  Tty?: boolean;
  /** Rows and columns of the terminal at start (`[0, 0]` or absent: the runtime's default). */
  ConsoleSize?: number[] | null;
  /** `KEY=value` entries added to (or replacing those of) the container's environment. */
  Env?: string[] | null;
  Cmd?: string[] | null;
  /** All capabilities (Docker's `--privileged` exec); otherwise the container's. */
  Privileged?: boolean;
  /** `user`, `uid`, `user:group`, `uid:gid`; default the container's user. */
  User?: string;
  /** Default the container's working directory. */
  WorkingDir?: string;
}

/** `GET /exec/{id}/json`. */
export interface ExecInspect {
  ID: string;
  Running: boolean;
  /** Null until the process has ended. */
  ExitCode: number | null;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user?: string };
  OpenStdin: boolean;
  OpenStderr: boolean;
  OpenStdout: boolean;
  CanRemove: boolean;
  ContainerID: string;
  DetachKeys: string;
  /** 0 until it runs. */
  Pid: number;
}

/** The body of `POST /networks/create`, as the docker CLI sends it. */
/** The body of `POST /networks/{id}/connect`: the container (name or id) and its settings on the network. */
export interface NetworkConnectRequest {
  Container: string;
  EndpointConfig?: EndpointRequest | null;
}

/** The body of `POST /networks/{id}/disconnect`. */
export interface NetworkDisconnectRequest {
  Container: string;
  /** Also forget the network of a container when the network is gone. */
  Force?: boolean;
}

export interface NetworkCreateRequest {
  Name: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  EnableIPv6?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network?: string } | null;
  IPAM?: {
    Driver?: string;
    Config?: Array<{ Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> | null }> | null;
    Options?: Record<string, string> | null;
  } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** A container on a network, as `GET /networks/{id}` lists it. */
export interface NetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  /** `a.b.c.d/n`, or empty on a network without addresses. */
  IPv4Address: string;
  IPv6Address: string;
}

/** `GET /networks/{id}` and each entry of `GET /networks`. */
export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: Array<{ Subnet: string; Gateway: string; IPRange?: string }> };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, NetworkContainer>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** `POST /networks/prune`. */
export interface NetworksPruneReport {
  NetworksDeleted: string[];
}
