import { type ContainerCreateBody, InvalidArgument, parseIpv4, parseMacAddress } from '@berth/core';
import type { ContainerRecord } from './container-record.js';

/**
 * What a create asks of its endpoint: `--network-alias` (EndpointsConfig.<net>.Aliases), `--ip` (NetworkingConfig.EndpointsConfig.<net>.IPAMConfig.IPv4Address),
 * checked for form here (whether it is free and in the subnet is the IPAM's answer at
 * start, as in dockerd). `--mac-address` travels in Config.MacAddress (API 1.41) or the
 * endpoint's MacAddress (later APIs), and is checked for form too. Undefined when nothing is asked.
 */
export function requestedEndpoint(body: ContainerCreateBody): ContainerRecord['endpointRequest'] {
  const request: NonNullable<ContainerRecord['endpointRequest']> = {};
  for (const [network, settings] of Object.entries(body.NetworkingConfig?.EndpointsConfig ?? {})) {
    const ip = settings?.IPAMConfig?.IPv4Address;
    if (ip) {
      parseIpv4(ip, 'IPv4 address');
      request.ipv4Address = ip;
    }
    const aliases = requestedAliases(network, settings?.Aliases);
    if (aliases.length > 0) request.aliases = aliases;
  }
  return Object.keys(request).length > 0 ? request : undefined;
}

/**
 * `--network-alias` (EndpointsConfig.<net>.Aliases): DNS names, checked for form (a
 * label of letters, digits, `-`, `_`, dots between labels), duplicates dropped.
 */
function requestedAliases(network: string, aliases: readonly string[] | null | undefined): string[] {
  const found: string[] = [];
  for (const alias of aliases ?? []) {
    if (typeof alias !== 'string' || !/^[a-zA-Z0-9_]([a-zA-Z0-9_.-]{0,252}[a-zA-Z0-9_])?$/.test(alias) || alias.includes('..')) {
      throw new InvalidArgument(`invalid network alias ${JSON.stringify(alias)} for network ${network}: expected a DNS name`);
    }
    if (!found.includes(alias)) found.push(alias);
  }
  return found;
}

/** The MAC address a create asks for, in either place the API carries it; checked for form. */
export function requestedMac(body: ContainerCreateBody): string | undefined {
  const fromEndpoint = Object.values(body.NetworkingConfig?.EndpointsConfig ?? {}).find((s) => s?.MacAddress)?.MacAddress;
  const mac = body.MacAddress || fromEndpoint;
  return mac ? parseMacAddress(mac) : undefined;
}
