import type { ContainerInspect, ContainerState, ContainerSummary, HostConfig, MountPoint, NetworkSettings, PortBinding } from '@berth/core';
import type { EndpointRecord, NetworkRecord } from '../networks/network-record.js';
import { endpointSettings } from '../networks/network-views.js';
import { exposedPortKeys, portMap, portSummary } from '../networks/port-requests.js';
import { parseBind } from '../oci/mounts.js';
import type { ContainerRecord } from './container-record.js';
import { statusText } from './status-text.js';

/**
 * A container's network as the views show it: the network's name (the record's mode,
 * `default` shown as the network it resolves to), and, while it runs on a network with
 * addresses, the network record and its endpoint.
 */
export interface ContainerNetworkView {
  name: string;
  network?: NetworkRecord;
  endpoint?: EndpointRecord;
}

/**
 * NetworkSettings.Ports: a running container's exposed ports on an addressed network,
 * each with what it is published on (or null); empty otherwise, as dockerd shows a
 * stopped container, and one on the host's network or none.
 */
function publishedPorts(record: ContainerRecord, net: ContainerNetworkView): Record<string, PortBinding[] | null> {
  if (!record.state.Running || !net.endpoint || !net.network?.ipv4) return {};
  return portMap(exposedPortKeys(record.config.ExposedPorts, record.hostConfig), net.endpoint.portBindings);
}

/** NetworkSettings as dockerd shapes it: the top-level fields repeat the container's one network's. */
function networkSettings(record: ContainerRecord, net: ContainerNetworkView): NetworkSettings {
  const isDefaultBridge = net.network?.name === 'bridge';
  // dockerd lists the short id (and --network-alias names) as aliases on user networks only.
  const aliases =
    net.endpoint && !isDefaultBridge && net.network?.driver === 'bridge'
      ? [...net.endpoint.aliases.slice(1), record.id.slice(0, 12)]
      : null;
  const e = endpointSettings(net.network, net.endpoint, aliases);
  return {
    Bridge: '',
    SandboxID: '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: publishedPorts(record, net),
    SandboxKey: record.state.Running && record.state.Pid > 0 ? `/proc/${record.state.Pid}/ns/net` : '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    // dockerd fills the top-level fields from the default bridge network only.
    EndpointID: isDefaultBridge ? e.EndpointID : '',
    Gateway: isDefaultBridge ? e.Gateway : '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: isDefaultBridge ? e.IPAddress : '',
    IPPrefixLen: isDefaultBridge ? e.IPPrefixLen : 0,
    IPv6Gateway: '',
    MacAddress: isDefaultBridge ? e.MacAddress : '',
    Networks: { [net.name]: e },
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
export function toSummary(record: ContainerRecord, net: ContainerNetworkView): ContainerSummary {
  return {
    Id: record.id,
    Names: [`/${record.name}`],
    Image: record.imageRef,
    ImageID: record.imageId,
    Command: commandLine(record),
    Created: Math.floor(Date.parse(record.created) / 1000),
    Ports: portSummary(publishedPorts(record, net)),
    Labels: record.config.Labels ?? {},
    State: record.state.Status,
    Status: statusText(record.state),
    HostConfig: { NetworkMode: shownNetworkMode(record) },
    NetworkSettings: { Networks: { [net.name]: endpointSettings(net.network, net.endpoint, null) } },
    Mounts: mountPoints(record.hostConfig),
  };
}

/** `GET /containers/{id}/json`: always with Config, HostConfig, State, NetworkSettings and Mounts. */
export function toInspect(
  record: ContainerRecord,
  paths: { logPath: string; dir: string; rootfs: string },
  net: ContainerNetworkView,
): ContainerInspect {
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
    NetworkSettings: networkSettings(record, net),
  };
}
