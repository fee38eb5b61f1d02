import { readFileSync } from 'node:fs';
import { InvalidArgument } from '@berth/core';

/**
 * Linux capabilities by bit number (capability.h), up to CAP_CHECKPOINT_RESTORE (40),
 * the last one runc 1.1.5 knows. Index = bit.
 */
const capabilitiesByBit: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

const bitOf = new Map(capabilitiesByBit.map((name, bit) => [name, bit]));

/** Every capability berth knows, ordered by bit number (index = bit). */
export function allCapabilities(): string[] {
  return [...capabilitiesByBit];
}

/**
 * The capabilities a container gets when nothing is added or dropped: Docker's
 * default set, so images that work under Docker work here.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = sortByBit([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/**
 * `chown`, `cap_chown`, `CAP_CHOWN` → `CAP_CHOWN`; `all` → `ALL`.
 * Throws InvalidArgument `unknown capability: "CAP_FOO"` for a name the kernel lacks.
 */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!bitOf.has(full)) throw new InvalidArgument(`unknown capability: "${full}"`);
  return full;
}

/**
 * Decode a capability mask as /proc/<pid>/status prints it (`CapBnd: 000001fffeffffff`)
 * into names, ignoring bits berth does not know (a newer kernel's).
 */
export function capabilitiesFromMask(hexMask: string): string[] {
  const mask = BigInt(`0x${hexMask.trim()}`);
  return capabilitiesByBit.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/**
 * The capability bounding set of this process (`CapBnd` of /proc/self/status). A
 * container can never hold more; hosts often have less than every capability
 * (nested containers, hardened VMs without CAP_SYS_RESOURCE), and runc fails with
 * "unable to apply caps: operation not permitted" if asked for more.
 */
export function readBoundingSet(statusPath = '/proc/self/status'): string[] {
  const status = readFileSync(statusPath, 'utf8');
  const line = status.split('\n').find((l) => l.startsWith('CapBnd:'));
  if (!line) throw new Error(`no CapBnd line in ${statusPath}`);
  return capabilitiesFromMask(line.slice('CapBnd:'.length));
}

export interface CapabilityRequest {
  capAdd?: readonly string[] | null;
  capDrop?: readonly string[] | null;
  privileged?: boolean;
  /** What the host can give (its bounding set); see `readBoundingSet`. */
  hostBoundingSet: readonly string[];
}

/**
 * The container's capability set, as Docker computes it from `--cap-add`,
 * `--cap-drop` and `--privileged`, limited to what the host can give:
 *
 * - privileged: every capability of the host's bounding set (adds and drops ignored,
 *   as Docker does);
 * - `--cap-add ALL`: every capability except those dropped;
 * - `--cap-drop ALL`: only the added ones;
 * - otherwise: the defaults, minus drops, plus adds.
 *
 * Capabilities the host lacks: silently left out of privileged and `ALL` (those mean
 * "everything you can"), but naming one explicitly in `--cap-add` is an error, since
 * the runtime would fail on it with a far less clear message.
 * The result is ordered by bit number and free of duplicates.
 */
export function computeCapabilities(req: CapabilityRequest): string[] {
  const host = new Set(req.hostBoundingSet);
  if (req.privileged) return sortByBit([...host].filter((c) => bitOf.has(c)));
  const adds = (req.capAdd ?? []).map(normalizeCapability);
  const drops = (req.capDrop ?? []).map(normalizeCapability);
  for (const cap of adds) {
    if (cap !== 'ALL' && !host.has(cap)) {
      throw new InvalidArgument(`capability ${cap} is not in this host's bounding set, so no container can have it`);
    }
  }
  let caps: string[];
  if (adds.includes('ALL')) {
    caps = allCapabilities().filter((c) => host.has(c) && !drops.includes(c));
  } else if (drops.includes('ALL')) {
    caps = adds;
  } else {
    caps = [...DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c)), ...adds];
  }
  return sortByBit([...new Set(caps)].filter((c) => host.has(c)));
}

function sortByBit(caps: string[]): string[] {
  return [...caps].sort((a, b) => (bitOf.get(a) ?? 99) - (bitOf.get(b) ?? 99));
}
