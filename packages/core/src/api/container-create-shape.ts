import {
  arrayOf,
  boolean,
  type Fields,
  integer,
  keySet,
  mapOf,
  object,
  type Shape,
  string,
  stringArray,
  stringMap,
  stringOrStringArray,
} from './shape.js';
import type {
  ContainerConfig,
  ContainerCreateBody,
  DeviceRequest,
  EndpointRequest,
  HostConfig,
  MountRequest,
  NetworkConnectRequest,
  NetworkDisconnectRequest,
  NetworkingConfig,
  PortBinding,
  RestartPolicy,
  ThrottleDevice,
  WeightDevice,
} from './types.js';

/**
 * The body of `POST /containers/create` as Docker 1.41 types it (api/types/container's
 * Config, HostConfig and Resources, api/types/network's NetworkingConfig). Every field of
 * those types is here, typed as Docker types it: the compiler checks that each field
 * core's `ContainerCreateBody` declares has a shape. Whether berth does what a field asks
 * is the engine's decision (packages/engine/src/oci/README.md), not this file's.
 */

const throttleDevice = object<ThrottleDevice>({ Path: string, Rate: integer });

const ulimit = object<{ Name: string; Soft: number; Hard: number }>({ Name: string, Soft: integer, Hard: integer });

const deviceMapping = object<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }>({
  PathOnHost: string,
  PathInContainer: string,
  CgroupPermissions: string,
});

const mountRequest = object<MountRequest>({
  Target: string,
  Source: string,
  Type: string,
  ReadOnly: boolean,
  Consistency: string,
  BindOptions: object<NonNullable<MountRequest['BindOptions']>>({ Propagation: string, NonRecursive: boolean }),
  VolumeOptions: object<NonNullable<MountRequest['VolumeOptions']>>({
    NoCopy: boolean,
    Labels: stringMap,
    DriverConfig: object<{ Name?: string; Options?: Record<string, string> | null }>({ Name: string, Options: stringMap }),
  }),
  TmpfsOptions: object<NonNullable<MountRequest['TmpfsOptions']>>({ SizeBytes: integer, Mode: integer }),
});

const deviceRequest = object<DeviceRequest>({
  Driver: string,
  Count: integer,
  DeviceIDs: stringArray,
  Capabilities: arrayOf(stringArray, 'an array of arrays of strings'),
  Options: stringMap,
});

/** HostConfig, with the Resources Docker embeds in it. */
export const hostConfigShape: Shape<HostConfig> = object<HostConfig>({
  Binds: stringArray,
  ContainerIDFile: string,
  LogConfig: object<NonNullable<HostConfig['LogConfig']>>({ Type: string, Config: stringMap }),
  NetworkMode: string,
  PortBindings: mapOf(arrayOf(object<PortBinding>({ HostIp: string, HostPort: string })), {
    nullValues: true,
    expected: 'a map of arrays of port bindings',
  }),
  RestartPolicy: object<RestartPolicy>({ Name: string, MaximumRetryCount: integer }),
  AutoRemove: boolean,
  VolumeDriver: string,
  VolumesFrom: stringArray,
  Mounts: arrayOf(mountRequest, 'an array of mounts'),
  Capabilities: stringArray,
  CapAdd: stringArray,
  CapDrop: stringArray,
  CgroupnsMode: string,
  Dns: stringArray,
  DnsOptions: stringArray,
  DnsSearch: stringArray,
  ExtraHosts: stringArray,
  GroupAdd: stringArray,
  IpcMode: string,
  Cgroup: string,
  Links: stringArray,
  OomScoreAdj: integer,
  PidMode: string,
  Privileged: boolean,
  PublishAllPorts: boolean,
  ReadonlyRootfs: boolean,
  SecurityOpt: stringArray,
  StorageOpt: stringMap,
  Tmpfs: stringMap,
  UTSMode: string,
  UsernsMode: string,
  ShmSize: integer,
  Sysctls: stringMap,
  Runtime: string,
  ConsoleSize: arrayOf(integer),
  Isolation: string,
  MaskedPaths: stringArray,
  ReadonlyPaths: stringArray,
  // Resources.
  CpuShares: integer,
  Memory: integer,
  NanoCpus: integer,
  CgroupParent: string,
  BlkioWeight: integer,
  BlkioWeightDevice: arrayOf(object<WeightDevice>({ Path: string, Weight: integer })),
  BlkioDeviceReadBps: arrayOf(throttleDevice),
  BlkioDeviceWriteBps: arrayOf(throttleDevice),
  BlkioDeviceReadIOps: arrayOf(throttleDevice),
  BlkioDeviceWriteIOps: arrayOf(throttleDevice),
  CpuPeriod: integer,
  CpuQuota: integer,
  CpuRealtimePeriod: integer,
  CpuRealtimeRuntime: integer,
  CpusetCpus: string,
  CpusetMems: string,
  Devices: arrayOf(deviceMapping, 'an array of device mappings'),
  DeviceCgroupRules: stringArray,
  DeviceRequests: arrayOf(deviceRequest, 'an array of device requests'),
  KernelMemory: integer,
  KernelMemoryTCP: integer,
  MemoryReservation: integer,
  MemorySwap: integer,
  MemorySwappiness: integer,
  OomKillDisable: boolean,
  Init: boolean,
  PidsLimit: integer,
  Ulimits: arrayOf(ulimit, 'an array of ulimits'),
  CpuCount: integer,
  CpuPercent: integer,
  IOMaximumIOps: integer,
  IOMaximumBandwidth: integer,
});

const endpointRequest = object<EndpointRequest>({
  IPAMConfig: object<NonNullable<EndpointRequest['IPAMConfig']>>({ IPv4Address: string, IPv6Address: string, LinkLocalIPs: stringArray }),
  Links: stringArray,
  Aliases: stringArray,
  NetworkID: string,
  EndpointID: string,
  Gateway: string,
  IPAddress: string,
  IPPrefixLen: integer,
  IPv6Gateway: string,
  GlobalIPv6Address: string,
  GlobalIPv6PrefixLen: integer,
  MacAddress: string,
  DriverOpts: stringMap,
  GwPriority: integer,
});

/** The body of `POST /networks/{id}/connect`: the container and its endpoint settings (the same shape as a create's). */
export const networkConnectShape: Shape<NetworkConnectRequest> = object<NetworkConnectRequest>(
  { Container: string, EndpointConfig: endpointRequest },
  'a network connect request (a JSON object)',
);

/** The body of `POST /networks/{id}/disconnect`. */
export const networkDisconnectShape: Shape<NetworkDisconnectRequest> = object<NetworkDisconnectRequest>(
  { Container: string, Force: boolean },
  'a network disconnect request (a JSON object)',
);

export const networkingConfigShape: Shape<NetworkingConfig> = object<NetworkingConfig>({
  EndpointsConfig: mapOf(endpointRequest, { nullValues: true, expected: 'a map of endpoint settings' }),
});

/** A container's Config (the create body without HostConfig and NetworkingConfig), as inspect shows it too. */
const containerConfigFields: Fields<ContainerConfig> = {
  Hostname: string,
  Domainname: string,
  User: string,
  AttachStdin: boolean,
  AttachStdout: boolean,
  AttachStderr: boolean,
  ExposedPorts: keySet,
  Tty: boolean,
  OpenStdin: boolean,
  StdinOnce: boolean,
  Env: stringArray,
  Cmd: stringOrStringArray,
  Healthcheck: object<NonNullable<ContainerCreateBody['Healthcheck']>>({
    Test: stringArray,
    Interval: integer,
    Timeout: integer,
    Retries: integer,
    StartPeriod: integer,
  }),
  ArgsEscaped: boolean,
  Image: string,
  Volumes: keySet,
  WorkingDir: string,
  Entrypoint: stringOrStringArray,
  NetworkDisabled: boolean,
  MacAddress: string,
  OnBuild: stringArray,
  Labels: stringMap,
  StopSignal: string,
  StopTimeout: integer,
  Shell: stringArray,
};

export const containerConfigShape: Shape<ContainerConfig> = object<ContainerConfig>(
  containerConfigFields,
  'a container config (a JSON object)',
);

/** The whole create body: the container's Config, its HostConfig and NetworkingConfig. */
export const containerCreateShape: Shape<ContainerCreateBody> = object<ContainerCreateBody>(
  { ...containerConfigFields, HostConfig: hostConfigShape, NetworkingConfig: networkingConfigShape },
  'a container config (a JSON object)',
);
