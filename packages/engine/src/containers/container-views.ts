import type {
  ContainerInspect,
  ContainerState,
  ContainerSummary,
  EndpointSettings,
  HostConfig,
  MountPoint,
  NetworkSettings,
} from '@berth/core';
import { parseBind } from '../oci/mounts.js';
import type { ContainerRecord } from './container-record.js';
import { statusText } from './status-text.js';

/** The network a container is in, by name: berth's default network is `none`. */
function networkName(record: ContainerRecord): string {
  const mode = record.hostConfig.NetworkMode || 'default';
  return mode === 'default' ? 'none' : mode;
}

/** Docker's endpoint of a network without addresses (none, host). */
function endpoint(): EndpointSettings {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: '',
    DriverOpts: null,
  };
}

/** NetworkSettings as dockerd shapes it for a container on a network without addresses. */
function networkSettings(record: ContainerRecord): NetworkSettings {
  return {
    Bridge: '',
    SandboxID: '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: {},
    SandboxKey: record.state.Running && record.state.Pid > 0 ? `/proc/${record.state.Pid}/ns/net` : '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: '',
    Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    MacAddress: '',
    Networks: { [networkName(record)]: endpoint() },
  };
}

/** Inspect's `Mounts`: the bind mounts of `-v`, as dockerd lists them. */
function mountPoints(hostConfig: HostConfig): MountPoint[] {
  const mounts: MountPoint[] = [];
  for (const raw of hostConfig.Binds ?? []) {
    let bind: ReturnType<typeof parseBind>;
    try {
      bind = parseBind(raw);
    } catch {
      continue; // checked at create; a record cannot hold a bad one
    }
    if (bind.kind !== 'bind') continue;
    const parts = raw.split(':');
    mounts.push({
      Type: 'bind',
      Source: bind.source,
      Destination: bind.destination,
      Mode: parts.length > 2 ? parts[parts.length - 1]! : '',
      RW: !bind.readonly,
      Propagation: bind.propagation,
    });
  }
  return mounts;
}

/** The state as clients read it: a container waiting to restart counts as running, as in dockerd. */
function shownState(state: ContainerState): ContainerState {
  return state.Restarting ? { ...state, Running: true } : state;
}

/** HostConfig as inspect shows it: the log driver in use even when the create named none (docker-py reads it). */
function shownHostConfig(hostConfig: HostConfig): HostConfig {
  const log = hostConfig.LogConfig;
  return { ...hostConfig, LogConfig: { Type: log?.Type || 'json-file', Config: log?.Config ?? {} } };
}

/** The network mode as inspect shows it: the daemon's default network name for "default". */
function shownNetworkMode(record: ContainerRecord): string {
  return record.hostConfig.NetworkMode || 'default';
}

/** Quote a command the way `docker ps` shows it. */
function commandLine(record: ContainerRecord): string {
  return [record.path, ...record.args].map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ');
}

/** `GET /containers/json` entry. */
export function toSummary(record: ContainerRecord): ContainerSummary {
  return {
    Id: record.id,
    Names: [`/${record.name}`],
    Image: record.imageRef,
    ImageID: record.imageId,
    Command: commandLine(record),
    Created: Math.floor(Date.parse(record.created) / 1000),
    Ports: [],
    Labels: record.config.Labels ?? {},
    State: record.state.Status,
    Status: statusText(record.state),
    HostConfig: { NetworkMode: shownNetworkMode(record) },
    NetworkSettings: { Networks: { [networkName(record)]: endpoint() } },
    Mounts: mountPoints(record.hostConfig),
  };
}

/** `GET /containers/{id}/json`: always with Config, HostConfig, State, NetworkSettings and Mounts. */
export function toInspect(record: ContainerRecord, paths: { logPath: string; dir: string; rootfs: string }): ContainerInspect {
  return {
    Id: record.id,
    Created: record.created,
    Path: record.path,
    Args: record.args,
    State: shownState(record.state),
    Image: record.imageId,
    ResolvConfPath: `${paths.dir}/resolv.conf`,
    HostnamePath: `${paths.dir}/hostname`,
    HostsPath: `${paths.dir}/hosts`,
    LogPath: record.hostConfig.LogConfig?.Type === 'none' ? '' : paths.logPath,
    Name: `/${record.name}`,
    RestartCount: record.restartCount,
    Driver: record.storageDriver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: shownHostConfig(record.hostConfig),
    GraphDriver: { Name: record.storageDriver, Data: record.state.Running ? { MergedDir: paths.rootfs } : null },
    Mounts: mountPoints(record.hostConfig),
    Config: record.config,
    NetworkSettings: networkSettings(record),
  };
}
