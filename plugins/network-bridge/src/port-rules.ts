import type { PublishedPort } from '@berth/core';

/** One published port as the firewall forwards it: to which container address, behind which bridge. */
export interface ForwardedPort {
  bridge: string;
  /** The container's address on that bridge. */
  address: string;
  binding: PublishedPort;
}

/** The regular chain holding the DNAT rules, jumped to for new connections to a local address. */
export const dnatChain = 'published';
/** The regular chain holding the forward accepts of published ports, jumped to first in `forward`. */
export const acceptChain = 'published_forward';

/**
 * The DNAT rule of one published port: a new connection to the host port (on any local
 * address for `0.0.0.0`, else on that address only) goes to the container's port.
 */
export function dnatRule(port: ForwardedPort): string {
  const { protocol, hostIp, hostPort, containerPort } = port.binding;
  const daddr = hostIp === '0.0.0.0' ? '' : `ip daddr ${hostIp} `;
  return `${daddr}${protocol} dport ${hostPort} dnat to ${port.address}:${containerPort}`;
}

/**
 * The forward accept of one published port: only what the DNAT above redirected (`ct
 * status dnat`) may enter the bridge to that address and port, so the host never routes
 * traffic addressed straight to a container from outside (stricter than Docker's rule,
 * which accepts any packet to the container's port).
 */
export function acceptRule(port: ForwardedPort): string {
  const { protocol, containerPort } = port.binding;
  return `oifname ${JSON.stringify(port.bridge)} ip daddr ${port.address} ${protocol} dport ${containerPort} ct status dnat accept`;
}

/**
 * The base chains that send new connections to `published`. Prerouting takes what arrives
 * from elsewhere (other hosts, containers: the hairpin) addressed to a local address but
 * never to 127.0.0.0/8: a packet for 127.0.0.1 that arrives on a real interface is a
 * martian the kernel drops, and DNAT before routing would let a neighbour reach a port
 * published on 127.0.0.1 only. Output takes the host's own connections, 127.0.0.1 included.
 */
export function jumpRules(): { prerouting: string[]; output: string[] } {
  return {
    prerouting: [`fib daddr type local ip daddr != 127.0.0.0/8 jump ${dnatChain}`],
    output: [`fib daddr type local jump ${dnatChain}`],
  };
}

/**
 * What a bridge needs so its published ports work from 127.0.0.1 and from its own
 * containers, and nothing more:
 * - guard (prerouting, before conntrack): nothing from the bridge may carry a 127.0.0.0/8
 *   source or destination. The driver sets the bridge's `route_localnet` (a connection
 *   from 127.0.0.1 DNATed to a container leaves through the bridge with that source, and
 *   its replies come back to it), which would otherwise let a container reach the host's
 *   loopback services; legitimate replies are addressed to the gateway (masqueraded
 *   below) until conntrack translates them, after this chain.
 * - postrouting: a connection from 127.0.0.0/8 leaving through the bridge is masqueraded
 *   to the gateway (the container cannot answer 127.0.0.1); a DNATed connection that
 *   comes from the bridge's subnet and goes back into it (a container reaching a
 *   published port through the host's address, its own included) is masqueraded too, so
 *   the answer returns through the host and is translated back rather than going
 *   straight to the sender, who would not recognise it (or, for its own port, would drop
 *   a packet from its own address). The driver also turns on the bridge port's hairpin
 *   mode for an endpoint with published ports: with br_netfilter the kernel bridges a
 *   container's connection to its own port back out of the port it came in by.
 */
export function bridgeRules(bridge: string, subnet: string): { guard: string[]; postrouting: string[] } {
  const br = JSON.stringify(bridge);
  return {
    guard: [`iifname ${br} ip saddr 127.0.0.0/8 counter drop`, `iifname ${br} ip daddr 127.0.0.0/8 counter drop`],
    // The hairpin is matched by source, not by input interface: where br_netfilter is
    // loaded the kernel bridges the DNATed frame and its postrouting sees no input interface.
    postrouting: [`oifname ${br} ip saddr 127.0.0.0/8 masquerade`, `oifname ${br} ip saddr ${subnet} ct status dnat masquerade`],
  };
}
