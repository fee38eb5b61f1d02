import { type HostConfig, InvalidArgument } from '@berth/core';
import type { CgroupVersion } from './cgroups.js';
import type { OciCpu, OciDeviceCgroupRule, OciMemory, OciResources } from './spec-types.js';

/**
 * HostConfig's limits → `linux.resources`, with Docker's validation and messages.
 * Pure: the host facts that matter come in `ResourceHost`.
 */

/** The part of HostConfig this file reads. */
export type ResourceRequest = Pick<
  HostConfig,
  | 'Memory'
  | 'MemorySwap'
  | 'MemoryReservation'
  | 'NanoCpus'
  | 'CpuShares'
  | 'CpuPeriod'
  | 'CpuQuota'
  | 'CpusetCpus'
  | 'PidsLimit'
  | 'OomKillDisable'
>;

export interface ResourceHost {
  cgroupVersion: CgroupVersion;
  swapAccounting: boolean;
  cpus: number;
}

/** Docker's smallest memory limit and reservation: 6 MiB. */
export const MIN_MEMORY = 6 * 1024 * 1024;
/** The CFS period berth uses for `--cpus`. */
export const CPU_PERIOD = 100_000;
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;

const char = (major?: number, minor?: number, access = 'rwm'): OciDeviceCgroupRule => {
  const rule: OciDeviceCgroupRule = { allow: true, type: 'c', access };
  if (major !== undefined) rule.major = major;
  if (minor !== undefined) rule.minor = minor;
  return rule;
};

/**
 * The devices cgroup of an unprivileged container: deny everything, then allow
 * creating any node (mknod; using one still needs a rule) and the devices every
 * program expects. This is runc's built-in list, written out so the spec says what
 * the container really gets whichever runtime reads it: runc 1.1 appends its list to
 * the spec's rules anyway, /dev/net/tun included (runc 1.2.0-1.2.3 dropped tun, 1.2.4
 * restored it for compatibility). tun is harmless without CAP_NET_ADMIN, which
 * creating an interface needs. /dev/fuse is not in it: ask with `--device`.
 */
export const DEFAULT_DEVICE_RULES: readonly OciDeviceCgroupRule[] = [
  { allow: false, access: 'rwm' },
  char(undefined, undefined, 'm'),
  { allow: true, type: 'b', access: 'm' },
  char(1, 3), // /dev/null
  char(1, 5), // /dev/zero
  char(1, 7), // /dev/full
  char(1, 8), // /dev/random
  char(1, 9), // /dev/urandom
  char(5, 0), // /dev/tty
  char(5, 2), // /dev/ptmx
  char(10, 200), // /dev/net/tun
  char(136), // /dev/pts/*
];

/** Every device, for privileged containers. */
export const PRIVILEGED_DEVICE_RULES: readonly OciDeviceCgroupRule[] = [{ allow: true, access: 'rwm' }];

export interface ResourceResult {
  resources: OciResources;
  warnings: string[];
}

/**
 * Build `linux.resources`. `extraDeviceRules` (from `--device`) are appended after
 * the defaults. Throws InvalidArgument with Docker's message for values Docker refuses.
 */
export function buildResources(
  req: ResourceRequest,
  host: ResourceHost,
  opts: { privileged?: boolean; extraDeviceRules?: readonly OciDeviceCgroupRule[] } = {},
): ResourceResult {
  const warnings: string[] = [];
  const resources: OciResources = {
    devices: opts.privileged ? [...PRIVILEGED_DEVICE_RULES] : [...DEFAULT_DEVICE_RULES, ...(opts.extraDeviceRules ?? [])],
  };
  const memory = buildMemory(req, host, warnings);
  if (memory) resources.memory = memory;
  const cpu = buildCpu(req, host, warnings);
  if (cpu) resources.cpu = cpu;
  const pids = req.PidsLimit ?? 0;
  if (!Number.isSafeInteger(pids)) throw new InvalidArgument(`invalid PidsLimit: ${pids}`);
  // Docker: 0 and -1 (any value <= 0) mean unlimited.
  if (pids > 0) resources.pids = { limit: pids };
  return { resources, warnings };
}

function buildMemory(req: ResourceRequest, host: ResourceHost, warnings: string[]): OciMemory | undefined {
  const limit = req.Memory ?? 0;
  let swap = req.MemorySwap ?? 0;
  const reservation = req.MemoryReservation ?? 0;
  for (const [name, v] of [
    ['Memory', limit],
    ['MemorySwap', swap],
    ['MemoryReservation', reservation],
  ] as const) {
    if (!Number.isSafeInteger(v) || (v < 0 && !(name === 'MemorySwap' && v === -1))) {
      throw new InvalidArgument(`invalid ${name}: ${v}`);
    }
  }
  if (limit !== 0 && limit < MIN_MEMORY) throw new InvalidArgument('Minimum memory limit allowed is 6MB');
  if (limit === 0 && swap !== 0) {
    throw new InvalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  if (limit > 0 && swap > 0 && swap < limit) {
    throw new InvalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (reservation !== 0 && reservation < MIN_MEMORY) throw new InvalidArgument('Minimum memory reservation allowed is 6MB');
  if (limit > 0 && reservation > limit) {
    throw new InvalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  // Docker's default: as much swap as memory (memory+swap = 2 x memory).
  if (limit > 0 && swap === 0) swap = limit * 2;
  const memory: OciMemory = {};
  if (limit > 0) memory.limit = limit;
  if (reservation > 0) memory.reservation = reservation;
  if (limit > 0) {
    if (host.swapAccounting) {
      memory.swap = swap;
    } else if (swap !== -1) {
      warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    }
  }
  if (req.OomKillDisable) {
    if (host.cgroupVersion === 2) {
      warnings.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    } else {
      memory.disableOOMKiller = true;
      if (limit === 0) {
        warnings.push(
          'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.',
        );
      }
    }
  }
  return Object.keys(memory).length > 0 ? memory : undefined;
}

function buildCpu(req: ResourceRequest, host: ResourceHost, warnings: string[]): OciCpu | undefined {
  const cpu: OciCpu = {};
  const nano = req.NanoCpus ?? 0;
  const period = req.CpuPeriod ?? 0;
  const quota = req.CpuQuota ?? 0;
  if (nano !== 0) {
    if (period !== 0) throw new InvalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
    if (quota !== 0) throw new InvalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
    const q = Math.floor((nano * CPU_PERIOD) / 1e9);
    if (!Number.isSafeInteger(nano) || nano < 0 || nano > host.cpus * 1e9 || q < 1000) {
      throw new InvalidArgument(`Range of CPUs is from 0.01 to ${host.cpus}.00, as there are only ${host.cpus} CPUs available`);
    }
    cpu.period = CPU_PERIOD;
    cpu.quota = q;
  } else {
    if (period !== 0 && (period < 1000 || period > 1_000_000)) {
      throw new InvalidArgument('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
    }
    if (quota > 0 && quota < 1000) throw new InvalidArgument('CPU cfs quota can not be less than 1ms (i.e. 1000)');
    if (period > 0) cpu.period = period;
    if (quota > 0) cpu.quota = quota;
  }
  const shares = req.CpuShares ?? 0;
  if (!Number.isSafeInteger(shares) || shares < 0) throw new InvalidArgument(`invalid CpuShares: ${shares}`);
  if (shares > 0) {
    const clamped = Math.min(MAX_SHARES, Math.max(MIN_SHARES, shares));
    if (clamped !== shares) {
      warnings.push(`CPU shares ${shares} is out of the range ${MIN_SHARES}-${MAX_SHARES}; using ${clamped}`);
    }
    cpu.shares = clamped;
  }
  if (req.CpusetCpus) {
    const wanted = parseCpuList(req.CpusetCpus);
    if (wanted.some((n) => n >= host.cpus)) {
      throw new InvalidArgument(
        `Requested CPUs are not available - requested ${req.CpusetCpus}, available: ${host.cpus === 1 ? '0' : `0-${host.cpus - 1}`}`,
      );
    }
    cpu.cpus = req.CpusetCpus;
  }
  return Object.keys(cpu).length > 0 ? cpu : undefined;
}

/** `0-2,5` → [0, 1, 2, 5]. Throws InvalidArgument for anything else. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    const lo = m ? Number(m[1]) : NaN;
    const hi = m && m[2] !== undefined ? Number(m[2]) : lo;
    if (!m || hi < lo || hi > 8191) throw new InvalidArgument(`invalid value ${JSON.stringify(list)} for cpuset cpus`);
    for (let n = lo; n <= hi; n++) out.push(n);
  }
  return out;
}
