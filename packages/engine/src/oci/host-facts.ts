import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { capabilitiesFromMask, readBoundingSet } from './capabilities.js';
import { type CgroupVersion, detectCgroupVersion, detectSwapAccounting } from './cgroups.js';
import { unameArch } from './seccomp-default.js';

/** A resource limit of this process; Infinity is "unlimited". */
export interface HostRlimit {
  soft: number;
  hard: number;
}

/**
 * What the spec depends on about the host. Read once with `readHostFacts()` (or
 * built by hand in tests); every spec function takes them as input, so they stay
 * pure and a test can describe any host.
 */
export interface HostFacts {
  /** `uname -m`: x86_64, aarch64. */
  arch: string;
  /** [major, minor] of the running kernel. */
  kernelVersion: [number, number];
  /** The capability bounding set: no container can have more. */
  boundingSet: string[];
  /** Whether berthd can raise a hard rlimit (it holds CAP_SYS_RESOURCE). */
  canRaiseRlimits: boolean;
  cgroupVersion: CgroupVersion;
  /** Memory+swap limits work (v1 memsw / v2 memory.swap.max). */
  swapAccounting: boolean;
  /** This process's limits, keyed `RLIMIT_NOFILE`, ... */
  rlimits: Record<string, HostRlimit>;
  /** CPUs online, for NanoCpus and CpusetCpus checks. */
  cpus: number;
  /** The host's name, which a container on the host network takes by default. */
  hostname: string;
}

const limitNames: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** Parse /proc/<pid>/limits. */
export function parseProcLimits(text: string): Record<string, HostRlimit> {
  const out: Record<string, HostRlimit> = {};
  for (const line of text.split('\n')) {
    const label = Object.keys(limitNames).find((l) => line.startsWith(l));
    if (!label) continue;
    const [soft, hard] = line.slice(label.length).trim().split(/\s+/);
    const value = (v: string | undefined) => (v === 'unlimited' ? Infinity : Number(v));
    out[limitNames[label] as string] = { soft: value(soft), hard: value(hard) };
  }
  return out;
}

/** Parse `6.1.0-18-amd64` → [6, 1]. */
export function parseKernelVersion(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** Read the facts of the host this process runs on. */
export function readHostFacts(): HostFacts {
  const status = readFileSync('/proc/self/status', 'utf8');
  const capEff = status.split('\n').find((l) => l.startsWith('CapEff:'));
  const cgroupVersion = detectCgroupVersion();
  return {
    arch: unameArch(os.machine?.() ?? process.arch),
    kernelVersion: parseKernelVersion(os.release()),
    boundingSet: readBoundingSet(),
    canRaiseRlimits: capEff ? capabilitiesFromMask(capEff.slice(7)).includes('CAP_SYS_RESOURCE') : false,
    cgroupVersion,
    swapAccounting: detectSwapAccounting(cgroupVersion),
    rlimits: parseProcLimits(readFileSync('/proc/self/limits', 'utf8')),
    cpus: os.cpus().length || 1,
    hostname: os.hostname(),
  };
}
