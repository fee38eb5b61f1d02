import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { InvalidArgument } from '@berth/core';
import { seccompArchitectures, unameArch } from './seccomp-default.js';
import type { OciSeccomp, OciSeccompArg, OciSeccompSyscall, SeccompAction, SeccompArch, SeccompOperator } from './spec-types.js';

/**
 * Profiles in Docker's seccomp JSON format (`--security-opt seccomp=<file>`), turned
 * into the OCI form for one container on one host. Docker's format adds to the OCI
 * one: `archMap` (an architecture with its sub-architectures), `name` as well as
 * `names`, and `includes`/`excludes` that keep a rule only for some capabilities,
 * architectures or kernels. Those are resolved here, so the runtime sees plain rules.
 *
 * The docker CLI reads the file itself and sends its content in the security option,
 * so the daemon receives either JSON text or (from other clients) a path on the
 * daemon's host: `loadDockerSeccomp` takes either.
 */

/** Where the profile came from, for error messages: a file path or "inline profile". */
export type ProfileOrigin = string;

export interface DockerSeccompTarget {
  /** The container's capabilities, for includes/excludes.caps. */
  capabilities: readonly string[];
  /** The host's `uname -m` (`x86_64`) or Node arch (`x64`). */
  arch: string;
  kernelVersion?: readonly [number, number];
}

const actions: readonly SeccompAction[] = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
];
const operators: readonly SeccompOperator[] = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
];
const architectures: readonly SeccompArch[] = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_RISCV64',
];
const flags = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'];

/** Docker's `includes.arches` use Go's architecture names. */
function goArch(arch: string): string {
  return { x86_64: 'amd64', aarch64: 'arm64', i686: '386', armv7l: 'arm' }[unameArch(arch)] ?? arch;
}

/**
 * The value of a `seccomp=` security option: `unconfined` → undefined (no filter),
 * JSON text → that profile, anything else → a file on the daemon's host.
 */
export function loadDockerSeccomp(value: string, target: DockerSeccompTarget): OciSeccomp | undefined {
  if (value === 'unconfined') return undefined;
  if (value.trimStart().startsWith('{')) return convertDockerSeccomp(value, 'inline profile', target);
  if (!value.startsWith('/')) {
    throw new InvalidArgument(
      `seccomp profile ${JSON.stringify(value)}: expected JSON, "unconfined", or an absolute path on the daemon's host`,
    );
  }
  let text: string;
  try {
    text = readProfileFile(value);
  } catch (err) {
    throw new InvalidArgument(`seccomp profile ${value}: cannot read it: ${(err as Error).message}`);
  }
  return convertDockerSeccomp(text, value, target);
}

/** A regular file of at most 1 MiB; O_NONBLOCK so a FIFO named by a client cannot hang the daemon. */
function readProfileFile(file: string): string {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > 1 << 20) throw new Error('larger than 1 MiB');
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Parse and convert a Docker-format profile; errors name `origin` and the problem. */
export function convertDockerSeccomp(text: string, origin: ProfileOrigin, target: DockerSeccompTarget): OciSeccomp {
  const fail = (problem: string): never => {
    throw new InvalidArgument(`seccomp profile ${origin}: ${problem}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // JSON.parse quotes the text it choked on: fine for the client's own inline
    // profile, but a file named by a client may be any host file, so only say where.
    const message = (err as Error).message;
    const where = /position \d+/.exec(message);
    return fail(origin === 'inline profile' ? `not valid JSON: ${message}` : `not valid JSON${where ? ` (at ${where[0]})` : ''}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return fail('must be a JSON object');
  const p = doc as Record<string, unknown>;

  const defaultAction = checkAction(p.defaultAction, 'defaultAction', fail);
  const out: OciSeccomp = { defaultAction, architectures: [], syscalls: [] };
  if (p.defaultErrnoRet !== undefined) out.defaultErrnoRet = checkUint(p.defaultErrnoRet, 'defaultErrnoRet', fail);

  if (p.architectures !== undefined && p.archMap !== undefined) {
    fail('"architectures" and "archMap" were both given; use one');
  }
  if (p.architectures !== undefined) {
    out.architectures = checkArray(p.architectures, 'architectures', fail).map((a, i) => checkArch(a, `architectures[${i}]`, fail));
  } else if (p.archMap !== undefined) {
    const native = seccompArchitectures(target.arch)[0];
    for (const [i, entry] of checkArray(p.archMap, 'archMap', fail).entries()) {
      if (typeof entry !== 'object' || entry === null) fail(`archMap[${i}] must be an object`);
      const e = entry as Record<string, unknown>;
      const main = checkArch(e.architecture, `archMap[${i}].architecture`, fail);
      const subs = checkArray(e.subArchitectures ?? [], `archMap[${i}].subArchitectures`, fail).map((a, j) =>
        checkArch(a, `archMap[${i}].subArchitectures[${j}]`, fail),
      );
      if (main === native) out.architectures = [main, ...subs];
    }
  }
  if (p.flags !== undefined) {
    out.flags = checkArray(p.flags, 'flags', fail).map((f, i) => {
      if (typeof f !== 'string' || !flags.includes(f)) fail(`flags[${i}]: unknown flag ${JSON.stringify(f)}`);
      return f as string;
    });
  }
  if (p.listenerPath !== undefined && p.listenerPath !== '') fail('"listenerPath" (seccomp notify) is not supported');

  const caps = new Set(target.capabilities);
  const arch = goArch(target.arch);
  const kernel = target.kernelVersion;
  for (const [i, raw] of checkArray(p.syscalls ?? [], 'syscalls', fail).entries()) {
    const where = `syscalls[${i}]`;
    if (typeof raw !== 'object' || raw === null) fail(`${where} must be an object`);
    const s = raw as Record<string, unknown>;
    if (s.name !== undefined && s.names !== undefined) fail(`${where}: "name" and "names" were both given; use one`);
    let names: string[];
    if (s.names !== undefined) {
      names = checkArray(s.names, `${where}.names`, fail).map((n, j) => checkName(n, `${where}.names[${j}]`, fail));
    } else if (s.name !== undefined) {
      names = [checkName(s.name, `${where}.name`, fail)];
    } else {
      return fail(`${where}: no "names"`);
    }
    if (names.length === 0) fail(`${where}: "names" is empty`);
    const action = checkAction(s.action, `${where}.action`, fail);
    const rule: OciSeccompSyscall = { names, action };
    if (s.errnoRet !== undefined) rule.errnoRet = checkUint(s.errnoRet, `${where}.errnoRet`, fail);
    if (s.args !== undefined && s.args !== null) {
      const args = checkArray(s.args, `${where}.args`, fail).map((a, j) => checkArg(a, `${where}.args[${j}]`, fail));
      if (args.length > 0) rule.args = args;
    }
    const includes = checkFilter(s.includes, `${where}.includes`, fail);
    const excludes = checkFilter(s.excludes, `${where}.excludes`, fail);
    if (includes.arches && !includes.arches.includes(arch)) continue;
    if (includes.caps && !includes.caps.every((c) => caps.has(c))) continue;
    if (includes.minKernel && kernel && compareKernel(kernel, includes.minKernel) < 0) continue;
    if (excludes.arches?.includes(arch)) continue;
    if (excludes.caps?.some((c) => caps.has(c))) continue;
    if (excludes.minKernel && kernel && compareKernel(kernel, excludes.minKernel) >= 0) continue;
    out.syscalls.push(rule);
  }
  return out;
}

type Fail = (problem: string) => never;

interface Filter {
  caps?: string[];
  arches?: string[];
  minKernel?: [number, number];
}

function checkFilter(value: unknown, where: string, fail: Fail): Filter {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) return fail(`${where} must be an object`);
  const v = value as Record<string, unknown>;
  const out: Filter = {};
  const strings = (key: string): string[] | undefined => {
    if (v[key] === undefined || v[key] === null) return undefined;
    const list = checkArray(v[key], `${where}.${key}`, fail).map((x, i) => {
      if (typeof x !== 'string') fail(`${where}.${key}[${i}] must be a string`);
      return x as string;
    });
    return list.length > 0 ? list : undefined;
  };
  const caps = strings('caps');
  if (caps) out.caps = caps.map((c) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`));
  const arches = strings('arches');
  if (arches) out.arches = arches;
  if (v.minKernel !== undefined && v.minKernel !== '') {
    const m = typeof v.minKernel === 'string' ? /^(\d+)\.(\d+)/.exec(v.minKernel) : null;
    if (!m) return fail(`${where}.minKernel: expected "major.minor", got ${JSON.stringify(v.minKernel)}`);
    out.minKernel = [Number(m[1]), Number(m[2])];
  }
  return out;
}

function compareKernel(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

function checkArray(value: unknown, where: string, fail: Fail): unknown[] {
  if (value === null) return [];
  if (!Array.isArray(value)) return fail(`${where} must be an array`);
  return value;
}

function checkAction(value: unknown, where: string, fail: Fail): SeccompAction {
  if (value === 'SCMP_ACT_NOTIFY') return fail(`${where}: SCMP_ACT_NOTIFY is not supported`);
  if (typeof value !== 'string' || !actions.includes(value as SeccompAction)) {
    return fail(`${where}: unknown action ${JSON.stringify(value)} (expected one of ${actions.join(', ')})`);
  }
  return value as SeccompAction;
}

function checkArch(value: unknown, where: string, fail: Fail): SeccompArch {
  if (typeof value !== 'string' || !architectures.includes(value as SeccompArch)) {
    return fail(`${where}: unknown architecture ${JSON.stringify(value)}`);
  }
  return value as SeccompArch;
}

function checkName(value: unknown, where: string, fail: Fail): string {
  if (typeof value !== 'string' || !/^[a-z_][a-z0-9_]*$/.test(value)) {
    return fail(`${where}: invalid syscall name ${JSON.stringify(value)}`);
  }
  return value;
}

function checkUint(value: unknown, where: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return fail(`${where} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkArg(value: unknown, where: string, fail: Fail): OciSeccompArg {
  if (typeof value !== 'object' || value === null) return fail(`${where} must be an object`);
  const a = value as Record<string, unknown>;
  const index = checkUint(a.index, `${where}.index`, fail);
  if (index > 5) fail(`${where}.index must be 0 to 5, got ${index}`);
  if (typeof a.op !== 'string' || !operators.includes(a.op as SeccompOperator)) {
    fail(`${where}: unknown operator ${JSON.stringify(a.op)} (expected one of ${operators.join(', ')})`);
  }
  const arg: OciSeccompArg = { index, value: checkUint(a.value, `${where}.value`, fail), op: a.op as SeccompOperator };
  if (a.valueTwo !== undefined) arg.valueTwo = checkUint(a.valueTwo, `${where}.valueTwo`, fail);
  return arg;
}
