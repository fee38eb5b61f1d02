/** A network as the engine records it; drivers see it when asked to create or join. */
export interface NetworkSpec {
  id: string;
  name: string;
  driver: string;
  options: Record<string, string>;
  labels: Record<string, string>;
  internal: boolean;
}

/** A container's endpoint on one network. */
export interface EndpointSpec {
  networkId: string;
  /** The endpoint id: unique per (network, container). */
  id: string;
  containerId: string;
  /** Names the container answers to on this network (its name, aliases). */
  aliases: string[];
}

/** What a driver reports after attaching an endpoint (empty for none/host). */
export interface EndpointInfo {
  ipAddress?: string;
  ipPrefixLen?: number;
  gateway?: string;
  macAddress?: string;
  interfaceName?: string;
}

/**
 * How a driver's containers get their network namespace:
 * - `host`: the container shares the host's namespace; no `net` namespace in the spec.
 * - `private`: the runtime creates a new namespace (with only `lo`); after the
 *   container is created and before it starts, the engine calls `attach()` with that
 *   namespace's path (`/proc/<pid>/ns/net`) so the driver can plug interfaces into it.
 */
export type NetworkNamespaceMode = 'host' | 'private';

/**
 * A network driver connects containers to networks. Lifecycle:
 *
 * 1. `createNetwork(spec)` when a network of this driver is created (also for the
 *    predefined networks at daemon start). Must be idempotent: after a daemon restart
 *    the engine calls it again for every network it knows.
 * 2. For each container on the network: `attach(endpoint, netnsPath)` after the runtime
 *    has created the container's namespace and before its process starts;
 *    `detach(endpoint)` when the container stops. `detach` of an unknown endpoint is a no-op,
 *    so cleanup after a crash can call it blindly.
 * 3. `deleteNetwork(id)` when the network is removed; the engine refuses this while
 *    endpoints remain.
 *
 * A driver owns every kernel object it makes (links, addresses, firewall rules) and must
 * leave none behind after `detach`/`deleteNetwork`.
 */
export interface NetworkDriver {
  /** The driver's name as `docker network create -d` selects it. */
  readonly name: string;
  readonly namespaceMode: NetworkNamespaceMode;
  createNetwork(spec: NetworkSpec): Promise<void>;
  deleteNetwork(id: string): Promise<void>;
  attach(endpoint: EndpointSpec, netnsPath: string | undefined): Promise<EndpointInfo>;
  detach(endpoint: EndpointSpec): Promise<void>;
}
