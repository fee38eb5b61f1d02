import type { EndpointSettings, NetworkInspect } from '@berth/core';
import type { EndpointRecord, NetworkRecord } from './network-record.js';

/** `GET /networks/{id}` as dockerd shapes it, from the record and its endpoints. */
export function networkInspect(
  record: NetworkRecord,
  endpoints: EndpointRecord[],
  nameOf: (containerId: string) => string,
): NetworkInspect {
  const config = record.ipv4
    ? [{ Subnet: record.ipv4.subnet, Gateway: record.ipv4.gateway, ...(record.ipv4.ipRange ? { IPRange: record.ipv4.ipRange } : {}) }]
    : [];
  const containers: NetworkInspect['Containers'] = {};
  for (const e of endpoints) {
    containers[e.containerId] = {
      Name: nameOf(e.containerId),
      EndpointID: e.id,
      MacAddress: e.info?.macAddress ?? e.macAddress ?? '',
      IPv4Address: e.ipAddress ? `${e.ipAddress}/${e.ipPrefixLen}` : '',
      IPv6Address: '',
    };
  }
  return {
    Name: record.name,
    Id: record.id,
    Created: record.created,
    Scope: 'local',
    Driver: record.driver,
    EnableIPv6: false,
    IPAM: { Driver: record.ipamDriver ?? 'default', Options: record.predefined ? null : { ...(record.ipamOptions ?? {}) }, Config: config },
    Internal: record.internal,
    Attachable: record.attachable === true,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: record.options,
    Labels: record.labels,
  };
}

/** A container's `NetworkSettings.Networks.<name>` entry; empty addresses when it has no endpoint (not running, none, host). */
export function endpointSettings(
  network: NetworkRecord | undefined,
  endpoint: EndpointRecord | undefined,
  aliases: string[] | null,
): EndpointSettings {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: aliases,
    NetworkID: network?.id ?? '',
    EndpointID: endpoint?.id ?? '',
    Gateway: endpoint?.gateway ?? '',
    IPAddress: endpoint?.ipAddress ?? '',
    IPPrefixLen: endpoint?.ipPrefixLen ?? 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: endpoint?.info?.macAddress ?? endpoint?.macAddress ?? '',
    DriverOpts: null,
  };
}
