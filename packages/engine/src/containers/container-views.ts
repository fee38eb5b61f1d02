import type {
  ContainerInspect,
  ContainerState,
  ContainerSummary,
  EndpointSettings,
  HostConfig,
  MountPoint,
  NetworkSettings,
  PortBinding,
} from '@berth/core';
import { parseLinks } from '../dns/links.js';
import type { EndpointRecord, NetworkRecord } from '../networks/network-record.js';
import { endpointSettings } from '../networks/network-views.js';
import { exposedPortKeys, portMap, portSummary } from '../networks/port-requests.js';
import { parseBind } from '../oci/mounts.js';
import type { ContainerRecord } from './container-record.js';
import { statusText } from './status-text.js';

/**
 * One of a container's networks as the views show it: the network's name (the record's
 * attachment, `default` shown as the network it resolves to), and, while the container
 * runs on it, the network record and its endpoint.
 */
export interface ContainerNetworkView {
  name: string;
  network?: NetworkRecord;
  endpoint?: EndpointRecord;
}

/** The `Networks` map: one entry per network, dockerd's aliases (the short id and `--network-alias` names, on user networks only). */
function networksMap(record: ContainerRecord, nets: ContainerNetworkView[], withAliases: boolean): Record<string, EndpointSettings> {
  const map: Record<string, EndpointSettings> = {};
  // On a user-defined network dockerd lists the links in the endpoint's settings too (`target:alias`).
  const links = parseLinks(record.hostConfig.Links).map((l) => `${l.target}:${l.alias}`);
  for (const net of nets) {
    const userNetwork = net.network !== undefined && net.network.name !== 'bridge' && net.network.driver === 'bridge';
    const aliases =
      withAliases && net.endpoint && userNetwork ? [...new Set([...net.endpoint.aliases.slice(1), record.id.slice(0, 12)])] : null;
    map[net.name] = endpointSettings(net.network, net.endpoint, aliases, withAliases && userNetwork && links.length > 0 ? links : null);
  }
  return map;
}

/**
 * NetworkSettings.Ports: a running container's exposed ports on an addressed network,
 * each with what it is published on (or null); empty otherwise, as dockerd shows a
 * stopped container, and one on the host's network or none. Ports are published on one
 * endpoint (its first with a way out): that one's bindings.
 */
function publishedPorts(record: ContainerRecord, nets: ContainerNetworkView[]): Record<string, PortBinding[] | null> {
  const addressed = nets.filter((n) => n.endpoint && n.network?.ipv4);
  const net = addressed.find((n) => n.endpoint!.portBindings?.length) ?? addressed[0];
  if (!record.state.Running || !net) return {};
  return portMap(exposedPortKeys(record.config.ExposedPorts, record.hostConfig), net.endpoint!.portBindings);
}

/** NetworkSettings as dockerd shapes it: the top-level fields repeat the default bridge network's endpoint. */
function networkSettings(record: ContainerRecord, nets: ContainerNetworkView[]): NetworkSettings {
  const networks = networksMap(record, nets, true);
  const onBridge = nets.find((n) => n.network?.name === 'bridge');
  const e = onBridge ? networks[onBridge.name]! : endpointSettings(undefined, undefined, null);
  return {
    Bridge: '',
    SandboxID: '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: publishedPorts(record, nets),
    SandboxKey: record.state.Running && record.state.Pid > 0 ? `/proc/${record.state.Pid}/ns/net` : '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    // dockerd fills the top-level fields from the default bridge network only.
    EndpointID: e.EndpointID,
    Gateway: e.Gateway,
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: e.IPAddress,
    IPPrefixLen: e.IPPrefixLen,
    IPv6Gateway: '',
    MacAddress: e.MacAddress,
    Networks: networks,
  };
}

/** Inspect's `Mounts`: the bind mounts of `-v`, then the volumes, as dockerd lists them. */
function mountPoints(record: ContainerRecord): MountPoint[] {
  const mounts: MountPoint[] = [];
  for (const raw of [...(record.hostConfig.Binds ?? []), ...(record.volumesFromBinds ?? [])]) {
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
  for (const m of record.hostConfig.Mounts ?? []) {
    if (m.Type !== 'bind' && m.Type !== 'tmpfs') continue; // volumes are below, with their names and paths
    mounts.push({
      Type: m.Type,
      Source: m.Type === 'bind' ? (m.Source ?? '') : '',
      Destination: m.Target ?? '',
      Mode: '',
      RW: m.ReadOnly !== true,
      Propagation: m.Type === 'bind' ? m.BindOptions?.Propagation || 'rprivate' : '',
    });
  }
  for (const v of record.volumes ?? []) {
    mounts.push({
      Type: 'volume',
      Name: v.name,
      Source: v.source,
      Destination: v.destination,
      Driver: v.driver,
      Mode: v.mode,
      RW: !v.readOnly,
      Propagation: '',
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
export function toSummary(record: ContainerRecord, nets: ContainerNetworkView[]): ContainerSummary {
  return {
    Id: record.id,
    Names: [`/${record.name}`],
    Image: record.imageRef,
    ImageID: record.imageId,
    Command: commandLine(record),
    Created: Math.floor(Date.parse(record.created) / 1000),
    Ports: portSummary(publishedPorts(record, nets)),
    Labels: record.config.Labels ?? {},
    State: record.state.Status,
    Status: statusText(record.state),
    HostConfig: { NetworkMode: shownNetworkMode(record) },
    NetworkSettings: { Networks: networksMap(record, nets, false) },
    Mounts: mountPoints(record),
  };
}

/** `GET /containers/{id}/json`: always with Config, HostConfig, State, NetworkSettings and Mounts. */
export function toInspect(
  record: ContainerRecord,
  paths: { logPath: string; dir: string; etcDir: string; rootfs: string },
  nets: ContainerNetworkView[],
): ContainerInspect {
  return {
    Id: record.id,
    Created: record.created,
    Path: record.path,
    Args: record.args,
    State: shownState(record.state),
    Image: record.imageId,
    ResolvConfPath: `${paths.etcDir}/resolv.conf`,
    HostnamePath: `${paths.etcDir}/hostname`,
    HostsPath: `${paths.etcDir}/hosts`,
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
    Mounts: mountPoints(record),
    Config: record.config,
    NetworkSettings: networkSettings(record, nets),
  };
}
