import { Conflict, type ContainerCreateBody, InvalidArgument, SystemError } from '@berth/core';
import type { ContainerStore } from '../state/container-store.js';
import type { ContainerRecord } from './container-record.js';
import { containerModePrefix } from './network-attachments.js';

/**
 * The container whose network namespace `record` joins (`--network container:<name|id>`),
 * checked at each start as dockerd checks it: it must exist, not be `record` itself, and
 * run (a restarting one does not count). Its namespace is then `/proc/<its pid>/ns/net`.
 * The joining container has no endpoint of its own: nothing of it is in the network
 * store, so the joined container stopping (its endpoints released, its namespace kept
 * alive by the joiner's processes until they end) changes no record of the joiner.
 */
export function joinedContainer(store: ContainerStore, record: ContainerRecord): ContainerRecord {
  const ref = record.networkMode.slice(containerModePrefix.length);
  const joined = store.find(ref);
  if (!joined) throw new SystemError(`joining network namespace of container: No such container: ${ref}`);
  if (joined.id === record.id) throw new SystemError('cannot join own network namespace');
  if (joined.state.Restarting) {
    throw new Conflict(
      `cannot join network namespace of container: Container ${joined.id} is restarting, wait until the container is running`,
    );
  }
  if (!joined.state.Running || joined.state.Pid <= 0) {
    throw new Conflict(`cannot join network namespace of a non running container: container ${joined.name} is ${joined.state.Status}`);
  }
  return joined;
}

/**
 * What a container joining another's namespace cannot ask for, refused with dockerd's
 * messages in dockerd's order: its own hostname, links, DNS servers, hosts entries, MAC
 * address, published ports, exposed ports.
 */
export function refuseOwnNetworkSettings(body: ContainerCreateBody): void {
  const hc = body.HostConfig ?? {};
  const published = Object.values(hc.PortBindings ?? {}).some((b) => (b?.length ?? 0) > 0);
  // API 1.44 moved `--mac-address` into the endpoint settings.
  const mac = body.MacAddress || Object.values(body.NetworkingConfig?.EndpointsConfig ?? {}).some((s) => s?.MacAddress);
  const refusals: Array<[boolean, string]> = [
    [!!body.Hostname, 'conflicting options: hostname and the network mode'],
    [
      (hc.Links?.length ?? 0) > 0,
      "conflicting options: container type network can't be used with links. This would result in undefined behavior",
    ],
    [(hc.Dns?.length ?? 0) > 0, 'conflicting options: dns and the network mode'],
    [(hc.ExtraHosts?.length ?? 0) > 0, 'conflicting options: custom host-to-IP mapping and the network mode'],
    [!!mac, 'conflicting options: mac-address and the network mode'],
    [published || hc.PublishAllPorts === true, 'conflicting options: port publishing and the container type network mode'],
    [Object.keys(body.ExposedPorts ?? {}).length > 0, 'conflicting options: port exposing and the container type network mode'],
  ];
  for (const [refused, message] of refusals) if (refused) throw new InvalidArgument(message);
}
