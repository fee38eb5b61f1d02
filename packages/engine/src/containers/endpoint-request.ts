import { type ContainerCreateBody, parseIpv4, parseMacAddress } from '@berth/core';
import type { ContainerRecord } from './container-record.js';

/**
 * What a create asks of its endpoint: `--ip` (NetworkingConfig.EndpointsConfig.<net>.IPAMConfig.IPv4Address),
 * checked for form here (whether it is free and in the subnet is the IPAM's answer at
 * start, as in dockerd). `--mac-address` travels in Config.MacAddress (API 1.41) or the
 * endpoint's MacAddress (later APIs), and is checked for form too. Undefined when nothing is asked.
 */
export function requestedEndpoint(body: ContainerCreateBody): ContainerRecord['endpointRequest'] {
  for (const settings of Object.values(body.NetworkingConfig?.EndpointsConfig ?? {})) {
    const ip = settings?.IPAMConfig?.IPv4Address;
    if (ip) {
      parseIpv4(ip, 'IPv4 address');
      return { ipv4Address: ip };
    }
  }
  return undefined;
}

/** The MAC address a create asks for, in either place the API carries it; checked for form. */
export function requestedMac(body: ContainerCreateBody): string | undefined {
  const fromEndpoint = Object.values(body.NetworkingConfig?.EndpointsConfig ?? {}).find((s) => s?.MacAddress)?.MacAddress;
  const mac = body.MacAddress || fromEndpoint;
  return mac ? parseMacAddress(mac) : undefined;
}
