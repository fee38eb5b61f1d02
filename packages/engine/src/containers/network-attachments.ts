import { type ContainerCreateBody, type EndpointRequest, InvalidArgument, parseIpv4, parseMacAddress } from '@berth/core';

/**
 * One network a container joins at each start, and what it asked of its endpoint there
 * (a create's `NetworkingConfig.EndpointsConfig.<network>`, or a connect's `EndpointConfig`).
 * Kept in the container's record (`networks`); the endpoint itself exists only while the
 * container runs (the network store's records).
 */
export interface NetworkAttachment {
  /**
   * The network as named: `default` (the daemon's default network), a name or an id, as
   * the create gave it (dockerd too resolves it only at start: a network created after the
   * container still counts); a connect records the network's name.
   */
  network: string;
  /** `--network-alias`, compose's service name: more names of the container on this network. */
  aliases?: string[];
  /** `--ip`: checked for form here; whether it is free and in the subnet is the IPAM's answer at start. */
  ipv4Address?: string;
  /** `--mac-address` for this network's interface. */
  macAddress?: string;
  /** The endpoint with the highest priority carries the default route (API 1.48's `GwPriority`; 0 by default). */
  gwPriority?: number;
}

/** The prefix of a network mode that joins another container's network namespace. */
export const containerModePrefix = 'container:';

/** Whether a network mode shares another container's namespace (`container:<name|id>`). */
export function isContainerMode(mode: string): boolean {
  return mode.startsWith(containerModePrefix);
}

/**
 * An endpoint request (create or connect) as an attachment to `network`: the settings
 * berth carries out, checked for form; InvalidArgument naming a malformed one.
 */
export function attachmentOf(network: string, settings: EndpointRequest | null | undefined): NetworkAttachment {
  const attachment: NetworkAttachment = { network };
  const ip = settings?.IPAMConfig?.IPv4Address;
  if (ip) {
    parseIpv4(ip, 'IPv4 address');
    attachment.ipv4Address = ip;
  }
  if (settings?.MacAddress) attachment.macAddress = parseMacAddress(settings.MacAddress);
  const aliases = [...new Set((settings?.Aliases ?? []).filter((a) => a !== ''))];
  if (aliases.length > 0) attachment.aliases = aliases;
  if (settings?.GwPriority) attachment.gwPriority = settings.GwPriority;
  return attachment;
}

/**
 * The networks a create asks for, in the order the container joins them at start: the
 * network of its mode first (with the `EndpointsConfig` entry that names it, and the API
 * 1.41 `MacAddress`), then every other `EndpointsConfig` network in the order of the
 * request (the docker CLI sends them sorted by name). `sameNetwork` tells whether two
 * names are one network (`default` and `bridge`, a name and its id). None for
 * `container:<id>`, whose namespace is another container's.
 */
export function attachmentsFromCreate(
  body: ContainerCreateBody,
  mode: string,
  sameNetwork: (a: string, b: string) => boolean,
): NetworkAttachment[] {
  const endpoints = Object.entries(body.NetworkingConfig?.EndpointsConfig ?? {});
  if (isContainerMode(mode)) {
    const asked = endpoints.find(([, s]) => s?.IPAMConfig?.IPv4Address || s?.MacAddress || s?.Aliases?.length);
    if (asked)
      throw new InvalidArgument(`invalid config for network ${asked[0]}: a container:<name|id> network mode has no endpoint of its own`);
    return [];
  }
  const ofMode = endpoints.find(([name]) => name === mode) ?? endpoints.find(([name]) => sameNetwork(name, mode));
  const primary = attachmentOf(mode, ofMode?.[1]);
  const mac = body.MacAddress ? parseMacAddress(body.MacAddress) : undefined;
  if (mac && !primary.macAddress) primary.macAddress = mac;
  const attachments = [primary];
  for (const [name, settings] of endpoints) {
    if (ofMode && name === ofMode[0]) continue;
    if (attachments.some((a) => a.network === name || sameNetwork(a.network, name))) continue;
    attachments.push(attachmentOf(name, settings));
  }
  return attachments;
}
