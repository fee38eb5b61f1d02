/**
 * The rtnetlink messages an endpoint's attach and detach send (rtnetlink(7)), encoded
 * here and sent by `@berth/native`'s netlinkTransact: a veth pair created with its peer
 * born in the container's namespace, a link looked up by name, an IPv4 address, a
 * default route, a link deleted. Host byte order throughout (netlink's), addresses in
 * network order. Only what the bridge driver asks for: each builder writes the same
 * request `ip` would for the command in its doc comment.
 */

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_REPLACE = 0x100;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;

const AF_UNSPEC = 0;
const AF_INET = 2;
const IFF_UP = 0x1;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;

const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;

const nlmsghdrLength = 16;
const ifinfomsgLength = 16;
const ifaddrmsgLength = 8;
const rtmsgLength = 12;

const align = (n: number) => (n + 3) & ~3;

/** A netlink attribute (type, payload), nested ones included: its bytes, padded to 4. */
function attr(type: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(align(4 + payload.length));
  out.writeUInt16LE(4 + payload.length, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

const u32 = (type: number, value: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return attr(type, b);
};
const s32 = (type: number, value: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value);
  return attr(type, b);
};
const str = (type: number, value: string) => attr(type, Buffer.from(`${value}\0`, 'utf8'));
const ipv4 = (type: number, address: string) => attr(type, Buffer.from(address.split('.').map(Number)));
const mac = (type: number, address: string) => attr(type, Buffer.from(address.split(':').map((h) => Number.parseInt(h, 16))));

/** struct ifinfomsg: family, type, index, flags and which flags change. */
function ifinfomsg(index: number, flags: number): Buffer {
  const b = Buffer.alloc(ifinfomsgLength);
  b.writeUInt8(AF_UNSPEC, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(flags, 12);
  return b;
}

/** Sequence numbers, one per request, so an answer is never taken for another's. */
let sequence = 0;

function message(type: number, flags: number, body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  const header = Buffer.alloc(nlmsghdrLength);
  header.writeUInt32LE(nlmsghdrLength + payload.length, 0);
  header.writeUInt16LE(type, 4);
  header.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK | flags, 6);
  sequence = (sequence + 1) >>> 0;
  header.writeUInt32LE(sequence, 8);
  return Buffer.concat([header, payload]);
}

/** What a veth pair is made of: the host end, enslaved to a bridge, and its peer born in another namespace. */
export interface VethPairRequest {
  /** The host end's name. */
  name: string;
  mtu: number;
  /** The index of the bridge the host end is enslaved to. */
  masterIndex: number;
  peerName: string;
  peerMac: string;
  /** An open descriptor of the namespace the peer is created in. */
  peerNetnsFd: number;
}

/**
 * `ip link add <name> mtu <mtu> master <bridge> up type veth peer name <peerName> mtu <mtu>
 * address <peerMac> netns <fd>`: both ends in one request, the peer never visible in the
 * host's namespace. The peer comes down: the kernel cannot open a veth end before its
 * pair is complete (ENOTCONN), so setLinkUp brings it up afterwards.
 */
export function newVethPair(pair: VethPairRequest): Buffer {
  const peer = Buffer.concat([
    ifinfomsg(0, 0),
    str(IFLA_IFNAME, pair.peerName),
    u32(IFLA_MTU, pair.mtu),
    mac(IFLA_ADDRESS, pair.peerMac),
    u32(IFLA_NET_NS_FD, pair.peerNetnsFd),
  ]);
  const linkinfo = Buffer.concat([str(IFLA_INFO_KIND, 'veth'), attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer))]);
  return message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, [
    ifinfomsg(0, IFF_UP),
    str(IFLA_IFNAME, pair.name),
    u32(IFLA_MTU, pair.mtu),
    u32(IFLA_MASTER, pair.masterIndex),
    attr(IFLA_LINKINFO, linkinfo),
  ]);
}

/** `ip link show <name>`: answered with the link's RTM_NEWLINK (see linkOf). */
export function getLink(name: string): Buffer {
  return message(RTM_GETLINK, 0, [ifinfomsg(0, 0), str(IFLA_IFNAME, name)]);
}

/** `ip link set dev <index> up`. */
export function setLinkUp(index: number): Buffer {
  return message(RTM_NEWLINK, 0, [ifinfomsg(index, IFF_UP)]);
}

/** `ip link del <name>` (a veth's peer goes with it). */
export function deleteLink(name: string): Buffer {
  return message(RTM_DELLINK, 0, [ifinfomsg(0, 0), str(IFLA_IFNAME, name)]);
}

/** `ip addr add <address>/<prefixLen> dev <index>` (scope global, no broadcast, as ip). */
export function newAddress(index: number, address: string, prefixLen: number): Buffer {
  const ifaddrmsg = Buffer.alloc(ifaddrmsgLength);
  ifaddrmsg.writeUInt8(AF_INET, 0);
  ifaddrmsg.writeUInt8(prefixLen, 1);
  ifaddrmsg.writeUInt32LE(index, 4);
  return message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, [ifaddrmsg, ipv4(IFA_LOCAL, address), ipv4(IFA_ADDRESS, address)]);
}

/**
 * `ip route replace default via <gateway> dev <index>` (main table, proto boot, as ip):
 * replace, so that a network connected later with a higher priority takes the route over.
 */
export function newDefaultRoute(index: number, gateway: string): Buffer {
  const rtmsg = Buffer.alloc(rtmsgLength);
  rtmsg.writeUInt8(AF_INET, 0);
  rtmsg.writeUInt8(RT_TABLE_MAIN, 4);
  rtmsg.writeUInt8(RTPROT_BOOT, 5);
  rtmsg.writeUInt8(RT_SCOPE_UNIVERSE, 6);
  rtmsg.writeUInt8(RTN_UNICAST, 7);
  return message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, [rtmsg, ipv4(RTA_GATEWAY, gateway), s32(RTA_OIF, index)]);
}

/** A link as an RTM_NEWLINK answer describes it: its index and, for a veth, its peer's index (in the peer's namespace). */
export interface LinkAnswer {
  index: number;
  name?: string;
  /** IFLA_LINK: a veth's peer. */
  link?: number;
}

/** The first RTM_NEWLINK in an answer (getLink's); undefined when there is none. */
export function linkOf(answer: Buffer): LinkAnswer | undefined {
  for (let at = 0; at + nlmsghdrLength <= answer.length; ) {
    const length = answer.readUInt32LE(at);
    if (length < nlmsghdrLength || at + length > answer.length) return undefined;
    if (answer.readUInt16LE(at + 4) === RTM_NEWLINK && length >= nlmsghdrLength + ifinfomsgLength) {
      const found: LinkAnswer = { index: answer.readInt32LE(at + nlmsghdrLength + 4) };
      for (let a = at + nlmsghdrLength + ifinfomsgLength; a + 4 <= at + length; ) {
        const len = answer.readUInt16LE(a);
        const type = answer.readUInt16LE(a + 2) & 0x3fff;
        if (len < 4 || a + len > at + length) break;
        if (type === IFLA_LINK && len >= 8) found.link = answer.readInt32LE(a + 4);
        if (type === IFLA_IFNAME) found.name = answer.toString('utf8', a + 4, a + len).replace(/\0.*$/s, '');
        a += align(len);
      }
      return found;
    }
    at += align(length);
  }
  return undefined;
}
