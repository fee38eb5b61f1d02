import { readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { type MountInfoEntry, processStartTime } from '@berth/core';
import { capabilityMask } from './capabilities.js';

/**
 * The plan of a direct exec: everything berth-shim needs to run an exec's process in a
 * running container without a runtime process (native/shim/direct-exec.c carries it out
 * with syscalls and decides nothing). Computed here from the container's init as the
 * kernel shows it (/proc/<pid>/ns/*, /proc/<pid>/cgroup: both set before create returns),
 * the OCI process the engine built (ids, capabilities, rlimits, no_new_privs, cwd, env,
 * args) and the container's seccomp program. Nothing is taken from the init's live
 * security state (capabilities, seccomp, no_new_privs): a container just started may not
 * have applied it yet.
 *
 * Or, for what the direct path does not cover, the reason the exec must go through the
 * runtime (`fallback`), which `OciRuntime.exec` then uses as it always did:
 * - an AppArmor profile or SELinux label on the process (the shim sets no LSM label; berth
 *   sets none today, but a process spec may carry one);
 * - a user or time namespace of the container (berth makes neither; joining them orders
 *   credentials and clocks in ways the shim does not handle);
 * - a seccomp profile whose program is not at hand (`seccompProgram` gives none: runc
 *   keeps no compiled program, crun keeps it as `seccomp.bpf` in its state);
 * - a capability or rlimit name this table does not know (the runtime knows its own);
 * - more than the shim's fixed tables take (256 groups or args, 1,024 env entries) or a
 *   plan of 1 MiB or more;
 * - an init that is gone (the runtime then gives its own message).
 *
 * The format is `key\0value\0` pairs (a value may hold anything but NUL; env and args
 * cannot hold NUL either), read by direct_exec_load.
 */
export type DirectExecPlan = { plan: Buffer; initPid: number } | { fallback: string };

/** The part of an OCI `process` a direct exec reads. */
export interface PlannedProcess {
  terminal?: boolean;
  user?: { uid?: number; gid?: number; additionalGids?: number[]; umask?: number };
  args?: string[];
  env?: string[];
  cwd?: string;
  capabilities?: { bounding?: string[]; effective?: string[]; permitted?: string[]; inheritable?: string[]; ambient?: string[] };
  rlimits?: { type: string; soft: number; hard: number }[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
  consoleSize?: { height: number; width: number };
  apparmorProfile?: string;
  selinuxLabel?: string;
}

/** setns(2) flags by the name /proc/<pid>/ns/ gives each namespace (linux/sched.h). */
const namespaceFlags: Readonly<Record<string, number>> = {
  ipc: 0x08000000,
  uts: 0x04000000,
  net: 0x40000000,
  pid: 0x20000000,
  cgroup: 0x02000000,
  mnt: 0x00020000,
};
/** Namespaces the direct path does not join: a container with its own goes through the runtime. */
const unsupportedNamespaces = ['user', 'time'];

/** RLIMIT_* numbers (asm-generic/resource.h). */
const rlimitNumbers: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

const u64Max = (1n << 64n) - 1n;

export interface DirectExecInput {
  /** The container's init (the runtime's pid file). */
  initPid: number;
  process: PlannedProcess;
  /**
   * Whether the container has a seccomp profile (its bundle's `linux.seccomp`): known from
   * the bundle, never from the init, which loads its filter only once started.
   */
  seccomp: boolean;
  /** Where the compiled seccomp program of the container is, if the runtime keeps one. */
  seccompProgram?: string;
  /** The host's mounts (for the cgroup hierarchies); read once per runtime. */
  mounts: readonly MountInfoEntry[];
  /** Whose namespaces count as "not the container's": the shim's, which are this process's. */
  selfPid?: number | 'self';
}

type Pairs = [key: string, value: string][];

export function planDirectExec(input: DirectExecInput): DirectExecPlan {
  const where = planContainerPart(input);
  if ('fallback' in where) return where;
  const what = planProcessPart(input.process);
  if ('fallback' in what) return what;
  const plan = encodePlan([...where.pairs, ...what.pairs]);
  return 'fallback' in plan ? plan : { plan: plan.plan, initPid: input.initPid };
}

/**
 * The container part of a plan alone (where the process runs: the init, its namespaces
 * and cgroups, the seccomp program), for a monitor made before anyone asked for an exec
 * (berth-shim's `--process-later`); `planProcessPart` gives the rest at its start.
 */
export function planContainerDirectExec(input: Omit<DirectExecInput, 'process'>): DirectExecPlan {
  const where = planContainerPart(input);
  if ('fallback' in where) return where;
  const plan = encodePlan(where.pairs);
  return 'fallback' in plan ? plan : { plan: plan.plan, initPid: input.initPid };
}

/**
 * The process part of a plan (what runs: ids, capabilities, rlimits, cwd, args, env), as
 * berth-shim takes it on stream 5 before the start of a `--process-later` monitor; or
 * why this process cannot run there (it must then go through the runtime).
 */
export function planProcessDirectExec(process: PlannedProcess): { part: Buffer } | { fallback: string } {
  const what = planProcessPart(process);
  if ('fallback' in what) return what;
  const plan = encodePlan(what.pairs);
  return 'fallback' in plan ? plan : { part: plan.plan };
}

function planContainerPart(input: Omit<DirectExecInput, 'process'>): { pairs: Pairs } | { fallback: string } {
  const { initPid } = input;
  const pairs: Pairs = [];
  const add = (key: string, value: string | number | bigint) => pairs.push([key, String(value)]);

  const startTime = processStartTime(initPid);
  if (startTime === null) return { fallback: `the container's init ${initPid} is gone` };
  add('pid', initPid);
  add('start-time', startTime);

  let ns = 0;
  for (const name of [...Object.keys(namespaceFlags), ...unsupportedNamespaces]) {
    let theirs: string;
    let ours: string;
    try {
      theirs = readlinkSync(`/proc/${initPid}/ns/${name}`);
      ours = readlinkSync(`/proc/${input.selfPid ?? 'self'}/ns/${name}`);
    } catch {
      continue; // a namespace type this kernel does not have
    }
    if (theirs === ours) continue;
    if (unsupportedNamespaces.includes(name)) return { fallback: `the container has a ${name} namespace of its own` };
    ns |= namespaceFlags[name]!;
  }
  add('ns', ns);

  const cgroups = cgroupTargets(readFileSync(`/proc/${initPid}/cgroup`, 'utf8'), input.mounts);
  if ('fallback' in cgroups) return cgroups;
  if (cgroups.cgroup2) add('cgroup2', cgroups.cgroup2);
  for (const tasks of cgroups.tasks) add('tasks', tasks);

  if (input.seccomp) {
    if (!input.seccompProgram) return { fallback: "the container's seccomp program is not at hand (the runtime keeps none)" };
    add('seccomp', input.seccompProgram);
  }
  return { pairs };
}

function planProcessPart(p: PlannedProcess): { pairs: Pairs } | { fallback: string } {
  if (p.apparmorProfile || p.selinuxLabel) return { fallback: 'the process has an LSM label' };
  const pairs: Pairs = [];
  const add = (key: string, value: string | number | bigint) => pairs.push([key, String(value)]);
  if (p.oomScoreAdj !== undefined) add('oom-score-adj', p.oomScoreAdj);
  for (const limit of p.rlimits ?? []) {
    const number = rlimitNumbers[limit.type.toUpperCase()];
    if (number === undefined) return { fallback: `rlimit ${limit.type}` };
    add('rlimit', `${number} ${u64(limit.soft)} ${u64(limit.hard)}`);
  }
  add('cwd', p.cwd || '/');
  add('uid', p.user?.uid ?? 0);
  add('gid', p.user?.gid ?? 0);
  for (const gid of p.user?.additionalGids ?? []) add('group', gid);
  if (p.user?.umask !== undefined) add('umask', p.user.umask);
  add('no-new-privs', p.noNewPrivileges ? 1 : 0);
  const caps = p.capabilities ?? {};
  for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
    const mask = capabilityMask(caps[set]);
    if (mask === undefined) return { fallback: `a capability of the ${set} set is unknown here` };
    add(`cap-${set}`, mask);
  }
  if (p.terminal && p.consoleSize) {
    add('console-rows', p.consoleSize.height);
    add('console-cols', p.consoleSize.width);
  }
  const args = p.args ?? [];
  if (args.length === 0) return { fallback: 'no args' };
  for (const arg of args) add('arg', arg);
  for (const entry of p.env ?? []) add('env', entry);
  return { pairs };
}

/** `key\0value\0` pairs as the shim reads them, or why they cannot be. */
function encodePlan(pairs: Pairs): { plan: Buffer } | { fallback: string } {
  if (pairs.some(([, value]) => value.includes('\0'))) return { fallback: 'a value holds a NUL byte' };
  // The shim's fixed tables (direct-exec.c): larger lists go to the runtime, which has none.
  const count = (key: string) => pairs.filter(([k]) => k === key).length;
  if (count('group') > 256 || count('arg') > 256 || count('env') > 1024 || count('tasks') > 256) {
    return { fallback: 'more groups, args or env entries than the shim takes' };
  }
  const plan = Buffer.from(pairs.map(([k, v]) => `${k}\0${v}\0`).join(''));
  if (plan.length >= 1 << 20) return { fallback: 'a plan of 1 MiB or more' };
  return { plan };
}

/** A rlimit value as the kernel's unsigned 64 bits (JSON cannot hold RLIM_INFINITY exactly). */
function u64(value: number): string {
  if (!Number.isFinite(value) || value < 0) return String(u64Max);
  const big = BigInt(Math.trunc(value));
  return String(big > u64Max ? u64Max : big);
}

/**
 * Where the init is, as what the shim does to put the process there: the cgroup2
 * directory it is cloned into, and the v1 `tasks` files it writes itself into. From
 * `/proc/<pid>/cgroup` (`N:controllers:/path`, `0::/path` for cgroup2) and the host's
 * cgroup mounts (a v1 hierarchy is the mount whose options carry its controllers).
 */
export function cgroupTargets(
  procCgroup: string,
  mounts: readonly MountInfoEntry[],
): { cgroup2?: string; tasks: string[] } | { fallback: string } {
  const tasks: string[] = [];
  let cgroup2: string | undefined;
  for (const line of procCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line);
    if (!m) continue;
    const [, hierarchy, controllers, rel] = m as unknown as [string, string, string, string];
    if (rel.includes('(deleted)') || rel.split('/').includes('..')) return { fallback: `cgroup ${rel}` };
    if (hierarchy === '0' && controllers === '') {
      const mount = mounts.find((mt) => mt.fstype === 'cgroup2');
      if (!mount) return { fallback: 'no cgroup2 mount' };
      cgroup2 = path.join(mount.mountPoint, rel);
      continue;
    }
    const wanted = controllers.split(',').filter(Boolean);
    const mount = mounts.find((mt) => {
      if (mt.fstype !== 'cgroup') return false;
      const options = mt.superOptions.split(',');
      return wanted.every((c) => options.includes(c));
    });
    if (!mount) return { fallback: `no mount of the ${controllers} cgroup hierarchy` };
    tasks.push(path.join(mount.mountPoint, rel, 'tasks'));
  }
  return { cgroup2, tasks };
}
