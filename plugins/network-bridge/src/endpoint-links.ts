import { existsSync, readFileSync } from 'node:fs';
import { NotFound, SystemError } from '@berth/core';
import { netlinkTransact } from '@berth/native';
import { deleteLink, getLink, linkOf, newAddress, newDefaultRoute, newVethPair, setLinkUp } from './rtnetlink.js';

/** An endpoint's links as attach makes them. */
export interface EndpointLinks {
  /** The host end of the veth pair (`vb…`), enslaved to `bridge`. */
  veth: string;
  bridge: string;
  mtu: number;
  /** The container's end: its name inside the namespace, and its MAC. */
  peerName: string;
  mac: string;
  address: string;
  prefixLen: number;
  /** The default route's next hop; none on an internal network, or when another of the container's endpoints carries it. */
  gateway?: string;
  /** An open descriptor of the container's network namespace (the caller's; kept open until this resolves). */
  netnsFd: number;
}

/**
 * Make an endpoint's links with two rtnetlink transactions, no process: in the host's
 * namespace the veth pair (the host end enslaved and up, the peer born in the container's
 * namespace with its name, MAC and MTU, so nothing is ever renamed or moved) and a
 * look-up of the host end, whose IFLA_LINK is the peer's index; then, through a socket
 * opened in the container's namespace, the peer up, its address and the default route. On failure the pair is deleted (the kernel takes both ends) and the error says
 * which step failed.
 */
export async function createEndpointLinks(links: EndpointLinks): Promise<void> {
  const masterIndex = bridgeIndex(links.bridge);
  let peerIndex: number | undefined;
  try {
    const [, answer] = await netlinkTransact([
      newVethPair({
        name: links.veth,
        mtu: links.mtu,
        masterIndex,
        peerName: links.peerName,
        peerMac: links.mac,
        peerNetnsFd: links.netnsFd,
      }),
      getLink(links.veth),
    ]);
    peerIndex = linkOf(answer!)?.link;
  } catch (err) {
    await deleteHostVeth(links.veth).catch(() => {});
    throw failure(`cannot create the veth pair ${links.veth} on ${links.bridge}`, err);
  }
  try {
    if (peerIndex === undefined || peerIndex <= 0) throw new Error(`the kernel gave no peer index for ${links.veth}`);
    const inside = [setLinkUp(peerIndex), newAddress(peerIndex, links.address, links.prefixLen)];
    if (links.gateway) inside.push(newDefaultRoute(peerIndex, links.gateway));
    await netlinkTransact(inside, { netnsFd: links.netnsFd });
  } catch (err) {
    await deleteHostVeth(links.veth).catch(() => {});
    throw failure(`cannot configure ${links.peerName} (${links.address}/${links.prefixLen}) in the container's namespace`, err);
  }
}

/**
 * Route a namespace's default traffic through its interface `ifname` to `gateway`
 * (replacing the route it had): the endpoint that takes the route over when a container
 * is connected to a network of higher priority, or loses the one that carried it.
 */
export async function routeDefaultThrough(netnsFd: number, ifname: string, gateway: string): Promise<void> {
  try {
    const [answer] = await netlinkTransact([getLink(ifname)], { netnsFd });
    const index = linkOf(answer!)?.index;
    if (index === undefined || index <= 0) throw new Error(`no interface ${ifname} in the container's namespace`);
    await netlinkTransact([newDefaultRoute(index, gateway)], { netnsFd });
  } catch (err) {
    throw failure(`cannot route the container's default traffic through ${ifname} to ${gateway}`, err);
  }
}

/** The deletions under way, one after another (see deleteHostVeth). */
let deletions: Promise<unknown> = Promise.resolve();

/**
 * Delete the host end of an endpoint's veth pair (the kernel deletes the peer with it);
 * resolves false when it was gone already. The kernel's part waits for an RCU grace
 * period (tens of milliseconds on a busy host) with the pool thread that sent it, so the
 * deletions go one at a time: a burst of removals holds one of libuv's threads (which the
 * daemon's file work shares), never all of them. Each looks in sysfs when its turn comes:
 * a container that exited takes its end of the pair with its namespace, and the kernel
 * the other, so in a burst many are gone by then and cost nothing.
 */
export function deleteHostVeth(veth: string): Promise<boolean> {
  const deleted = deletions.then(async () => {
    if (!existsSync(`/sys/class/net/${veth}`)) return false;
    try {
      await netlinkTransact([deleteLink(veth)]);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENODEV') return false;
      throw failure(`cannot delete ${veth}`, err);
    }
  });
  deletions = deleted.catch(() => {});
  return deleted;
}

/** A bridge's interface index, from sysfs (a read, where a netlink look-up would be a pool job). */
function bridgeIndex(bridge: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${bridge}/ifindex`, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFound(`bridge ${bridge} not found`);
    throw err;
  }
}

/** A netlink refusal as a SystemError: what was being done, the errno's text, and the kernel's extended-ack text. */
function failure(what: string, err: unknown): SystemError {
  // The addon's message ends with the extended-ack text in quotes, empty when the kernel gave none.
  const text = (err instanceof Error ? err.message : String(err)).replace(/ ''$/, '');
  return new SystemError(`${what}: ${text}`, { cause: err });
}
