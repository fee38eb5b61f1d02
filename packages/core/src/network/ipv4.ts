import { InvalidArgument } from '../errors.js';

/** An IPv4 prefix: the network address as an unsigned 32-bit number and its length. */
export interface Ipv4Prefix {
  /** The network address (host bits cleared). */
  base: number;
  /** The prefix length, 0-32. */
  bits: number;
}

/** A dotted-quad IPv4 address as an unsigned 32-bit number; InvalidArgument naming `what` when it is not one. */
export function parseIpv4(text: string, what = 'IP address'): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new InvalidArgument(`invalid ${what}: "${text}"`);
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** An unsigned 32-bit number as a dotted quad. */
export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The mask of a prefix length, as an unsigned 32-bit number. */
function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * `a.b.c.d/n` as a prefix. A CIDR with host bits set (`10.1.2.3/24`) is refused, as
 * Docker refuses `--subnet 10.1.2.3/24`: which network was meant is a guess.
 */
export function parseIpv4Prefix(text: string, what = 'subnet'): Ipv4Prefix {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text);
  if (!m || Number(m[2]) > 32 || m[1]!.split('.').some((b) => Number(b) > 255)) {
    throw new InvalidArgument(`invalid ${what}: "${text}" is not an IPv4 CIDR (a.b.c.d/n)`);
  }
  const bits = Number(m[2]);
  const address = parseIpv4(m[1]!, what);
  const base = (address & mask(bits)) >>> 0;
  if (base !== address)
    throw new InvalidArgument(`invalid ${what}: "${text}" has host bits set (did you mean ${formatIpv4(base)}/${bits}?)`);
  return { base, bits };
}

/** A prefix as `a.b.c.d/n`. */
export function formatIpv4Prefix(prefix: Ipv4Prefix): string {
  return `${formatIpv4(prefix.base)}/${prefix.bits}`;
}

/** How many addresses a prefix spans. */
export function prefixSize(prefix: Ipv4Prefix): number {
  return 2 ** (32 - prefix.bits);
}

/** Whether `address` (a number) lies in `prefix`. */
export function prefixContains(prefix: Ipv4Prefix, address: number): boolean {
  return (address & mask(prefix.bits)) >>> 0 === prefix.base;
}

/** Whether two prefixes share any address (one contains the other's base). */
export function prefixesOverlap(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  return a.bits <= b.bits ? prefixContains(a, b.base) : prefixContains(b, a.base);
}

/**
 * The MAC address Docker derives from a container's IPv4 address: `02:42` (locally
 * administered, unicast) then the four bytes of the address, so a MAC never repeats
 * within a network while its addresses do not.
 */
export function macFromIpv4(address: string): string {
  const n = parseIpv4(address);
  return ['02', '42', ...[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** A unicast MAC address `aa:bb:cc:dd:ee:ff` (lower case), or InvalidArgument naming it. */
export function parseMacAddress(text: string): string {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) throw new InvalidArgument(`invalid MAC address: "${text}"`);
  if (Number.parseInt(text.slice(0, 2), 16) & 1) throw new InvalidArgument(`invalid MAC address: "${text}" is a multicast address`);
  return text.toLowerCase();
}
