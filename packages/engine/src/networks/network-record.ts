import type { EndpointInfo, EndpointSpec, Ipv4PoolRequest, NetworkSpec } from '@berth/core';

/**
 * A network as the engine keeps it (`<data-root>/networks/<id>/network.json`): the spec
 * its driver sees plus what inspect shows. `state` makes create and remove crash-safe:
 * `creating` is written before the driver makes anything and `ready` after, `removing`
 * before the driver deletes anything; recovery undoes a `creating` network and finishes
 * a `removing` one (NetworkService.recover).
 */
export interface NetworkRecord extends NetworkSpec {
  created: string;
  state: 'creating' | 'ready' | 'removing';
  /** What `--subnet`/`--gateway`/`--ip-range`/`--ipam-opt` asked for (inspect's IPAM.Config shows the pool). */
  ipamRequest: Ipv4PoolRequest;
  /** `--attachable`: stored and shown, as dockerd does for a local network (it matters to swarm only). */
  attachable?: boolean;
  /** `bridge`, `none` and `host`: made by the engine at start, never removed by a user. */
  predefined: boolean;
}

/**
 * A container's endpoint on a network (`<data-root>/networks/<network id>/endpoints/<container id>.json`),
 * written once, before the driver attaches (its address and MAC are then reserved,
 * durably); removed after detach. The records are the truth IPAM is
 * rebuilt from at start, and what inspect's NetworkSettings shows.
 */
export interface EndpointRecord extends EndpointSpec {
  /** The `GwPriority` the container asked for on this network (the default route's choice when another network is connected). */
  gwPriority?: number;
  /** The driver's answer to attach, in memory only (absent while the attach is under way, and after a restart). */
  info?: EndpointInfo;
}
