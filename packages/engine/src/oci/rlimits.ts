import { type HostConfig, InvalidArgument } from '@berth/core';
import type { HostRlimit } from './host-facts.js';
import type { OciRlimit } from './spec-types.js';

/**
 * The container's resource limits: `--ulimit` (HostConfig.Ulimits) on top of
 * berth's default RLIMIT_NOFILE.
 *
 * The default open-files limit is 1048576 (what containers get under Docker), but
 * never above the host's current hard limit: raising a hard limit needs
 * CAP_SYS_RESOURCE, which hosts often lack (this kind of VM: hard nofile 20000), and
 * the runtime would fail with EPERM. An explicit `--ulimit` above the host's hard
 * limit is refused here, with the numbers, for the same reason.
 */

/** `unlimited` as the runtime spec writes it (uint64 max). */
export const RLIM_INFINITY = 2n ** 64n - 1n;
export const DEFAULT_NOFILE = 1_048_576;

const names = [
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
];

export type UlimitRequest = NonNullable<HostConfig['Ulimits']>[number];

export interface RlimitHost {
  /** This process's limits keyed `RLIMIT_*` (Infinity = unlimited). */
  rlimits: Readonly<Record<string, HostRlimit>>;
  /** berthd holds CAP_SYS_RESOURCE and may raise hard limits. */
  canRaiseRlimits: boolean;
}

export function buildRlimits(ulimits: readonly UlimitRequest[] | null | undefined, host: RlimitHost): OciRlimit[] {
  const out = new Map<string, OciRlimit>();
  const hostNofile = host.rlimits.RLIMIT_NOFILE?.hard ?? Infinity;
  const nofile = Math.min(DEFAULT_NOFILE, hostNofile);
  out.set('RLIMIT_NOFILE', { type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile });

  for (const u of ulimits ?? []) {
    const name = String(u.Name ?? '').toLowerCase();
    if (!names.includes(name)) throw new InvalidArgument(`invalid ulimit type: ${u.Name}`);
    const type = `RLIMIT_${name.toUpperCase()}`;
    const soft = limitValue(u.Soft, name);
    const hard = limitValue(u.Hard, name);
    if (soft > hard) throw new InvalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    const hostHard = host.rlimits[type]?.hard ?? Infinity;
    if (!host.canRaiseRlimits && hostHard !== Infinity && hard > BigInt(hostHard)) {
      throw new InvalidArgument(
        `ulimit ${name}: hard limit ${u.Hard === -1 ? 'unlimited' : u.Hard} is above this host's hard limit ${hostHard}, which berthd cannot raise (it lacks CAP_SYS_RESOURCE)`,
      );
    }
    out.set(type, { type, hard: toSpec(hard), soft: toSpec(soft) });
  }
  return [...out.values()];
}

function limitValue(v: number, name: string): bigint {
  if (v === -1) return RLIM_INFINITY;
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgument(`invalid ulimit ${name}: ${v} is not a limit (use -1 for unlimited)`);
  return BigInt(v);
}

function toSpec(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
