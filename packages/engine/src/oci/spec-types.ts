import { randomUUID } from 'node:crypto';

/**
 * The OCI runtime spec (config.json) as berth writes it: the subset of runtime-spec
 * 1.0.2 that runc 1.1.5 accepts and berth fills. Field names are the spec's, so
 * `specToJson()` of an `OciSpec` is a valid config.json.
 *
 * Values that are uint64 in the spec and may exceed 2^53 (rlimits of "unlimited")
 * are `bigint`; `specToJson` writes them as plain JSON numbers.
 */

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: OciRoot;
  hostname?: string;
  mounts: OciMount[];
  linux: OciLinux;
  annotations?: Record<string, string>;
}

export interface OciRoot {
  /** The rootfs directory, absolute or relative to the bundle. */
  path: string;
  readonly: boolean;
}

export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

export interface OciRlimit {
  /** `RLIMIT_NOFILE`, `RLIMIT_NPROC`, ... */
  type: string;
  hard: number | bigint;
  soft: number | bigint;
}

export interface OciProcess {
  terminal: boolean;
  user: OciUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciCapabilities;
  rlimits: OciRlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  /** The terminal's initial window size (with `terminal`), before any resize. */
  consoleSize?: { height: number; width: number };
  apparmorProfile?: string;
  selinuxLabel?: string;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export type OciNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface OciNamespace {
  type: OciNamespaceType;
  /** Join this existing namespace (`/proc/<pid>/ns/net`) rather than create one. */
  path?: string;
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** A device node the runtime creates in the container's /dev. */
export interface OciDevice {
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** A rule of the devices cgroup; absent type/major/minor mean "all". */
export interface OciDeviceCgroupRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  /** Some of r, w, m. */
  access: string;
}

export interface OciMemory {
  limit?: number;
  reservation?: number;
  /** Memory plus swap (cgroup v1 semantics); -1 is unlimited. */
  swap?: number;
  disableOOMKiller?: boolean;
}

export interface OciCpu {
  shares?: number;
  quota?: number;
  period?: number;
  cpus?: string;
  mems?: string;
}

export interface OciResources {
  devices: OciDeviceCgroupRule[];
  memory?: OciMemory;
  cpu?: OciCpu;
  pids?: { limit: number };
}

export type SeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG';

export type SeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

export type SeccompArch =
  | 'SCMP_ARCH_X86'
  | 'SCMP_ARCH_X86_64'
  | 'SCMP_ARCH_X32'
  | 'SCMP_ARCH_ARM'
  | 'SCMP_ARCH_AARCH64'
  | 'SCMP_ARCH_MIPS'
  | 'SCMP_ARCH_MIPS64'
  | 'SCMP_ARCH_MIPS64N32'
  | 'SCMP_ARCH_MIPSEL'
  | 'SCMP_ARCH_MIPSEL64'
  | 'SCMP_ARCH_MIPSEL64N32'
  | 'SCMP_ARCH_PPC'
  | 'SCMP_ARCH_PPC64'
  | 'SCMP_ARCH_PPC64LE'
  | 'SCMP_ARCH_S390'
  | 'SCMP_ARCH_S390X'
  | 'SCMP_ARCH_RISCV64';

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

export interface OciSeccompSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures: SeccompArch[];
  flags?: string[];
  syscalls: OciSeccompSyscall[];
}

export interface OciLinux {
  namespaces: OciNamespace[];
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
  devices?: OciDevice[];
  cgroupsPath: string;
  resources: OciResources;
  sysctl?: Record<string, string>;
  seccomp?: OciSeccomp;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
}

/** The runtime-spec version berth writes; runc 1.1.5 reports `spec: 1.0.2-dev`. */
export const OCI_VERSION = '1.0.2-dev';

/**
 * config.json text for a spec. Plain `JSON.stringify` cannot write a bigint, and
 * "unlimited" rlimits (2^64-1) do not fit a double, so bigints are written as digits.
 */
export function specToJson(spec: OciSpec): string {
  // A marker no string of the spec can contain by chance or by design (env values are user input).
  const marker = `__berth_bigint_${randomUUID().replaceAll('-', '')}__`;
  const text = JSON.stringify(spec, (_key, value: unknown) => (typeof value === 'bigint' ? `${marker}${value.toString()}` : value), 2);
  return `${text.replace(new RegExp(`"${marker}(\\d+)"`, 'g'), '$1')}\n`;
}
