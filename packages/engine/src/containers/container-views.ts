import type { ContainerInspect, ContainerSummary } from '@berth/core';
import type { ContainerRecord } from './container-record.js';
import { statusText } from './status-text.js';

const emptyNetworkSettings = () => ({
  Bridge: '',
  SandboxID: '',
  SandboxKey: '',
  Ports: {},
  Gateway: '',
  IPAddress: '',
  IPPrefixLen: 0,
  MacAddress: '',
  Networks: {},
});

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
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
}

/** `GET /containers/{id}/json`: always with Config, HostConfig, State, NetworkSettings and Mounts. */
export function toInspect(record: ContainerRecord, paths: { logPath: string; dir: string; rootfs: string }): ContainerInspect {
  return {
    Id: record.id,
    Created: record.created,
    Path: record.path,
    Args: record.args,
    State: record.state,
    Image: record.imageId,
    ResolvConfPath: `${paths.dir}/resolv.conf`,
    HostnamePath: `${paths.dir}/hostname`,
    HostsPath: `${paths.dir}/hosts`,
    LogPath: paths.logPath,
    Name: `/${record.name}`,
    RestartCount: record.restartCount,
    Driver: record.storageDriver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: record.hostConfig,
    GraphDriver: { Name: record.storageDriver, Data: record.state.Running ? { MergedDir: paths.rootfs } : null },
    Mounts: [],
    Config: record.config,
    NetworkSettings: emptyNetworkSettings(),
  };
}
