import type { EndpointRecord, NetworkRecord } from '../networks/network-record.js';
import { type DnsRecords, type DnsSandbox, dnsName } from './dns-records.js';
import { parseLinks } from './links.js';

/** What the builder needs to know of a container beside its endpoints. */
export interface DnsContainerFacts {
  id: string;
  name: string;
  /** `--hostname`, when one was given (a generated one is the short id, a name already). */
  hostname?: string;
  /** HostConfig.Links as stored (`/target:/name/alias`, or `target:alias` as the API takes it). */
  links: string[];
  /** `--dns`. */
  dns: string[];
  /**
   * The namespace of its running process (`/proc/<pid>/ns/net`), for an endpoint recorded
   * without its `sandbox` (an endpoint added to a running container by a path that did not
   * set it); the endpoint's own `sandbox` wins.
   */
  netns?: string;
}

/**
 * Whether a network's containers use the embedded DNS: as in Docker, every network but
 * the predefined ones (the default `bridge` keeps the host's resolvers; `none` and `host`
 * have nothing to resolve).
 */
export function usesEmbeddedDns(network: Pick<NetworkRecord, 'predefined'>): boolean {
  return !network.predefined;
}

/**
 * The resolver's records from the engine's network model: each endpoint on a network
 * with embedded DNS makes its container's names (the name, its short id, `--hostname`,
 * its `--network-alias`es: the endpoint's `aliases`) answer with its address on that
 * network, and each such endpoint with a namespace (`sandbox`) makes its container a
 * sandbox that sees the names of every network it is on, plus its own links.
 *
 * Pure: the same model gives the same records, so berthd rebuilds them whole on every
 * change instead of patching them.
 */
export function buildDnsRecords(
  networks: readonly NetworkRecord[],
  endpointsOf: (networkId: string) => readonly EndpointRecord[],
  containerOf: (containerId: string) => DnsContainerFacts | undefined,
): DnsRecords {
  const records: DnsRecords = { version: 1, networks: {}, reverse: {}, sandboxes: [] };
  const sandboxes = new Map<string, DnsSandbox>();
  // Per container: its address on each network, for links.
  const addressOn = new Map<string, Map<string, string>>();
  for (const network of networks) {
    if (network.state !== 'ready' || !usesEmbeddedDns(network)) continue;
    const names: Record<string, string[]> = {};
    const reverse: Record<string, string> = {};
    for (const endpoint of endpointsOf(network.id)) {
      const container = containerOf(endpoint.containerId);
      if (!container) continue;
      if (endpoint.ipAddress) {
        const own = new Set<string>();
        for (const name of [...endpoint.aliases, container.id.slice(0, 12), container.hostname ?? '']) {
          if (name !== '') own.add(dnsName(name));
        }
        own.add(dnsName(`${container.name}.${network.name}`));
        for (const name of own) {
          const list = names[name] ?? [];
          if (!list.includes(endpoint.ipAddress)) list.push(endpoint.ipAddress);
          names[name] = list;
        }
        reverse[endpoint.ipAddress] = dnsName(`${container.name}.${network.name}`);
        const byNetwork = addressOn.get(container.id) ?? new Map<string, string>();
        byNetwork.set(network.id, endpoint.ipAddress);
        addressOn.set(container.id, byNetwork);
      }
      const netns = endpoint.sandbox ?? container.netns;
      if (netns) {
        const sandbox = sandboxes.get(container.id) ?? {
          containerId: container.id,
          netns,
          networks: [],
          links: {},
          upstreams: [...container.dns],
          forward: false,
        };
        sandbox.networks.push(network.id);
        if (!network.internal) sandbox.forward = true;
        sandboxes.set(container.id, sandbox);
      }
    }
    records.networks[network.id] = names;
    records.reverse[network.id] = reverse;
  }
  // Links, once every address is known: the target's addresses on the networks both share.
  const byName = new Map<string, string>();
  for (const id of addressOn.keys()) {
    const facts = containerOf(id);
    if (facts) byName.set(facts.name, id);
  }
  for (const sandbox of sandboxes.values()) {
    const container = containerOf(sandbox.containerId)!;
    for (const link of linksOf(container)) {
      const targetId = byName.get(link.target);
      const targetAddresses = targetId ? addressOn.get(targetId) : undefined;
      if (!targetAddresses) continue;
      const addresses = sandbox.networks.map((n) => targetAddresses.get(n)).filter((a): a is string => a !== undefined);
      if (addresses.length === 0) continue;
      for (const name of [link.alias, link.target]) sandbox.links[dnsName(name)] = addresses;
    }
  }
  records.sandboxes = [...sandboxes.values()];
  return records;
}

/** A container's links; none when its record holds a malformed one (checked at create: only an edited record can), so one record never breaks the others' names. */
function linksOf(container: DnsContainerFacts) {
  try {
    return parseLinks(container.links);
  } catch {
    return [];
  }
}
