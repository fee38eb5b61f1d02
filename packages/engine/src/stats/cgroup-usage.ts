import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BlkioStatEntry, NetworkStats } from '@berth/core';
import type { CgroupVersion } from '../oci/cgroups.js';

/**
 * What a container's cgroup says it uses, read from the kernel's files (v1: one
 * hierarchy per controller under `/sys/fs/cgroup/<controller>`; v2: one directory), in
 * the units Docker's stats carry. Synchronous small reads: a stats sample of one
 * container is a dozen files of a few hundred bytes, cheaper than the promises would be.
 */
export interface CgroupUsage {
  cpu: { total: number; perCpu: number[]; user: number; system: number; periods: number; throttledPeriods: number; throttledTime: number };
  memory: { usage: number; maxUsage?: number; limit?: number; failcnt?: number; stats: Record<string, number> };
  pids: { current: number; limit?: number };
  blkio: { serviceBytes: BlkioStatEntry[]; serviced: BlkioStatEntry[] };
}

/** Where a container's cgroup is: `relPath` is `/<parent>/<id>` (oci/cgroups.ts's cgroupsPathFor). */
export interface CgroupLocation {
  version: CgroupVersion;
  relPath: string;
  /** The cgroup file system's mount point, `/sys/fs/cgroup` unless a test says otherwise. */
  root?: string;
}

/** 2^63 rounded down to the page size: cgroup v1's "no limit". */
const v1Unlimited = 0x7ffffffffffff000;

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function num(text: string | undefined): number {
  const n = Number(text?.trim());
  return Number.isFinite(n) ? n : 0;
}

/** `key value` lines (memory.stat, cpu.stat, cpuacct.stat). */
function keyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value !== undefined) out[key] = Number(value);
  }
  return out;
}

/** The directory of one controller's cgroup (v1), or of the cgroup (v2). */
export function cgroupDir(where: CgroupLocation, controller: string): string {
  const root = where.root ?? '/sys/fs/cgroup';
  return where.version === 2 ? path.join(root, where.relPath) : path.join(root, controller, where.relPath);
}

/** The pids of the cgroup's processes (`cgroup.procs`), empty when the cgroup is gone. */
export function cgroupPids(where: CgroupLocation): number[] {
  const text = read(path.join(cgroupDir(where, 'pids'), 'cgroup.procs'));
  return (text ?? '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

/** Nanoseconds per USER_HZ tick (cpuacct.stat counts in ticks of 1/100 s on Linux). */
const nsPerTick = 1e7;

/** Read the usage of a container's cgroup. */
export function readCgroupUsage(where: CgroupLocation): CgroupUsage {
  return where.version === 2 ? readV2(where) : readV1(where);
}

/** Read the CPU counters of a container's cgroup alone: what a kept reading (`cpu-history.ts`) needs. */
export function readCgroupCpu(where: CgroupLocation): CgroupUsage['cpu'] {
  if (where.version === 2) return v2Cpu(keyValues(read(path.join(cgroupDir(where, ''), 'cpu.stat'))));
  const cpuacct = cgroupDir(where, 'cpuacct');
  const ticks = keyValues(read(path.join(cpuacct, 'cpuacct.stat')));
  const throttling = keyValues(read(path.join(cgroupDir(where, 'cpu'), 'cpu.stat')));
  const perCpu = (read(path.join(cpuacct, 'cpuacct.usage_percpu')) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return {
    // cpuacct.usage is the sum of the per-CPU counters (the kernel adds them up the same
    // way): one file less per sample, and the total and its parts from one reading.
    total: perCpu.length ? perCpu.reduce((sum, n) => sum + n, 0) : num(read(path.join(cpuacct, 'cpuacct.usage'))),
    perCpu,
    user: (ticks.user ?? 0) * nsPerTick,
    system: (ticks.system ?? 0) * nsPerTick,
    periods: throttling.nr_periods ?? 0,
    throttledPeriods: throttling.nr_throttled ?? 0,
    throttledTime: throttling.throttled_time ?? 0,
  };
}

/**
 * Which v1 blkio counters the kernel has, by cgroup root: the CFQ scheduler's
 * `blkio.*_recursive` files when it is built in, else only the throttle layer's. Found at
 * the first read and kept: a read of a file that is not there costs an exception, which
 * was a fifth of a sample's time.
 */
const blkioCounters = new Map<string, 'recursive' | 'throttle'>();

function readBlkio(where: CgroupLocation, name: string): BlkioStatEntry[] {
  const dir = cgroupDir(where, 'blkio');
  const root = where.root ?? '/sys/fs/cgroup';
  let counters = blkioCounters.get(root);
  let text: string | undefined;
  if (counters !== 'throttle') {
    text = read(path.join(dir, `blkio.${name}_recursive`));
    if (counters === undefined && text !== undefined) {
      counters = 'recursive';
      blkioCounters.set(root, counters);
    }
  }
  if (!text) {
    text = read(path.join(dir, `blkio.throttle.${name}`));
    if (counters === undefined && text !== undefined) blkioCounters.set(root, 'throttle');
  }
  return blkioEntries(text);
}

function readV1(where: CgroupLocation): CgroupUsage {
  const memDir = cgroupDir(where, 'memory');
  const pidsDir = cgroupDir(where, 'pids');
  const limit = num(read(path.join(memDir, 'memory.limit_in_bytes')));
  const pidsMax = read(path.join(pidsDir, 'pids.max'))?.trim();
  return {
    cpu: readCgroupCpu(where),
    memory: {
      usage: num(read(path.join(memDir, 'memory.usage_in_bytes'))),
      maxUsage: num(read(path.join(memDir, 'memory.max_usage_in_bytes'))),
      limit: limit >= v1Unlimited ? undefined : limit,
      failcnt: num(read(path.join(memDir, 'memory.failcnt'))),
      stats: keyValues(read(path.join(memDir, 'memory.stat'))),
    },
    pids: { current: num(read(path.join(pidsDir, 'pids.current'))), limit: pidsMax && pidsMax !== 'max' ? Number(pidsMax) : undefined },
    // The CFQ scheduler's recursive counters when the kernel has them, else the throttle layer's.
    blkio: { serviceBytes: readBlkio(where, 'io_service_bytes'), serviced: readBlkio(where, 'io_serviced') },
  };
}

/** v1 blkio lines `8:0 Read 4096` (and a closing `Total N`), as Docker lists them. */
function blkioEntries(text: string | undefined): BlkioStatEntry[] {
  const out: BlkioStatEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\S+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

/** v2's cpu.stat (microseconds) in Docker's units (nanoseconds); v2 counts no per-CPU usage. */
function v2Cpu(cpu: Record<string, number>): CgroupUsage['cpu'] {
  return {
    total: (cpu.usage_usec ?? 0) * 1000,
    perCpu: [],
    user: (cpu.user_usec ?? 0) * 1000,
    system: (cpu.system_usec ?? 0) * 1000,
    periods: cpu.nr_periods ?? 0,
    throttledPeriods: cpu.nr_throttled ?? 0,
    throttledTime: (cpu.throttled_usec ?? 0) * 1000,
  };
}

function readV2(where: CgroupLocation): CgroupUsage {
  const dir = cgroupDir(where, '');
  const cpu = keyValues(read(path.join(dir, 'cpu.stat')));
  const max = read(path.join(dir, 'memory.max'))?.trim();
  const pidsMax = read(path.join(dir, 'pids.max'))?.trim();
  const serviceBytes: BlkioStatEntry[] = [];
  const serviced: BlkioStatEntry[] = [];
  // io.stat: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`; Docker names the ops read and write.
  for (const line of (read(path.join(dir, 'io.stat')) ?? '').split('\n')) {
    const [device, ...pairs] = line.trim().split(' ');
    const m = /^(\d+):(\d+)$/.exec(device ?? '');
    if (!m) continue;
    const values = Object.fromEntries(pairs.map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]));
    const major = Number(m[1]);
    const minor = Number(m[2]);
    serviceBytes.push({ major, minor, op: 'read', value: values.rbytes ?? 0 }, { major, minor, op: 'write', value: values.wbytes ?? 0 });
    serviced.push({ major, minor, op: 'read', value: values.rios ?? 0 }, { major, minor, op: 'write', value: values.wios ?? 0 });
  }
  return {
    cpu: v2Cpu(cpu),
    memory: {
      usage: num(read(path.join(dir, 'memory.current'))),
      limit: max && max !== 'max' ? Number(max) : undefined,
      stats: keyValues(read(path.join(dir, 'memory.stat'))),
    },
    pids: { current: num(read(path.join(dir, 'pids.current'))), limit: pidsMax && pidsMax !== 'max' ? Number(pidsMax) : undefined },
    blkio: { serviceBytes, serviced },
  };
}

/** The last /proc/stat reading: when (performance.now()) and its value. */
let systemCpu = { at: Number.NEGATIVE_INFINITY, ns: 0 };

/**
 * The host's CPU time in nanoseconds, from /proc/stat's first line (Docker's
 * `system_cpu_usage`). A reading younger than `maxAgeMs` is given again: the samples
 * `docker stats` asks for at once (one request per container) share one, as dockerd's
 * collector reads /proc/stat once per round for all its containers.
 */
export function systemCpuUsage(maxAgeMs = 0): number {
  const now = performance.now();
  if (maxAgeMs > 0 && now - systemCpu.at < maxAgeMs) return systemCpu.ns;
  systemCpu = { at: now, ns: readSystemCpuUsage() };
  return systemCpu.ns;
}

function readSystemCpuUsage(): number {
  const line = (read('/proc/stat') ?? '').split('\n', 1)[0] ?? '';
  const ticks = line
    .split(/\s+/)
    .slice(1, 8)
    .reduce((sum, v) => sum + num(v), 0);
  return ticks * nsPerTick;
}

/**
 * The interfaces of a process's network namespace (`/proc/<pid>/net/dev`), without `lo`,
 * as Docker's `networks` keys them.
 */
export function networkUsage(pid: number): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of (read(`/proc/${pid}/net/dev`) ?? '').split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === 'lo') continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    out[name] = {
      rx_bytes: f[0] ?? 0,
      rx_packets: f[1] ?? 0,
      rx_errors: f[2] ?? 0,
      rx_dropped: f[3] ?? 0,
      tx_bytes: f[8] ?? 0,
      tx_packets: f[9] ?? 0,
      tx_errors: f[10] ?? 0,
      tx_dropped: f[11] ?? 0,
    };
  }
  return out;
}
