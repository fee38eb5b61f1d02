import { InvalidArgument } from '@berth/core';
import { orderMounts } from './mounts.js';
import {
  OCI_VERSION,
  type OciDevice,
  type OciMount,
  type OciNamespace,
  type OciResources,
  type OciRlimit,
  type OciSeccomp,
  type OciSpec,
  type OciUser,
} from './spec-types.js';

/**
 * Everything decided about a container, in the runtime's terms but not yet laid out
 * as config.json. `specInputFromDocker` makes one from a Docker create request; the
 * engine may then add what it resolves later (volume mounts) before `buildSpec`.
 */
export interface SpecInput {
  /** The rootfs, mounted already: absolute host path (or relative to the bundle). */
  rootfsPath: string;
  readonlyRootfs: boolean;
  args: string[];
  env: string[];
  /** Absolute path inside the container. */
  cwd: string;
  user: OciUser;
  terminal: boolean;
  /** The terminal's initial size (HostConfig.ConsoleSize, rows then columns). */
  consoleSize?: { height: number; width: number };
  capabilities: string[];
  noNewPrivileges: boolean;
  rlimits: OciRlimit[];
  /** Absent when the container shares the host's UTS namespace. */
  hostname?: string;
  namespaces: OciNamespace[];
  /** proc, /dev, sysfs, ... (`defaultMounts`); a user mount on the same destination replaces one. */
  systemMounts: OciMount[];
  /** Binds, volumes, tmpfs, /etc files: ordered parent-first by `buildSpec`. */
  mounts: OciMount[];
  resources: OciResources;
  cgroupsPath: string;
  /** Absent: no seccomp filter (privileged, or `seccomp=unconfined`). */
  seccomp?: OciSeccomp;
  maskedPaths: string[];
  readonlyPaths: string[];
  sysctl: Record<string, string>;
  /** Device nodes to create (`--device`); the defaults are the runtime's. */
  devices: OciDevice[];
  oomScoreAdj?: number;
  annotations?: Record<string, string>;
}

/**
 * Lay out config.json. Pure; checks what would otherwise fail late inside the
 * runtime with a vaguer message (empty args, relative paths, duplicate mounts).
 */
export function buildSpec(input: SpecInput): OciSpec {
  if (input.args.length === 0 || input.args[0] === '') throw new InvalidArgument('no command specified');
  if (!input.cwd.startsWith('/')) {
    throw new InvalidArgument(`the working directory '${input.cwd}' is invalid, it needs to be an absolute path`);
  }
  for (const m of [...input.systemMounts, ...input.mounts]) {
    if (!m.destination.startsWith('/')) {
      throw new InvalidArgument(`invalid mount destination '${m.destination}': it needs to be an absolute path`);
    }
  }
  const user: OciUser = { uid: input.user.uid, gid: input.user.gid };
  if (input.user.additionalGids && input.user.additionalGids.length > 0) {
    user.additionalGids = [...input.user.additionalGids];
  }
  const caps = [...input.capabilities];
  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: input.terminal,
      user,
      args: [...input.args],
      env: [...input.env],
      cwd: input.cwd,
      // Inheritable and ambient stay empty: a non-root process or a file with
      // inheritable file capabilities must not regain what was not granted (CVE-2022-24769).
      capabilities: { bounding: caps, effective: [...caps], inheritable: [], permitted: [...caps], ambient: [] },
      rlimits: input.rlimits.map((r) => ({ ...r })),
      noNewPrivileges: input.noNewPrivileges,
    },
    root: { path: input.rootfsPath, readonly: input.readonlyRootfs },
    mounts: orderMounts(input.systemMounts, input.mounts),
    linux: {
      namespaces: input.namespaces.map((n) => ({ ...n })),
      cgroupsPath: input.cgroupsPath,
      resources: input.resources,
    },
  };
  if (input.oomScoreAdj !== undefined) spec.process.oomScoreAdj = input.oomScoreAdj;
  if (input.terminal && input.consoleSize) spec.process.consoleSize = input.consoleSize;
  if (input.hostname !== undefined) spec.hostname = input.hostname;
  if (input.devices.length > 0) spec.linux.devices = input.devices.map((d) => ({ ...d }));
  if (Object.keys(input.sysctl).length > 0) spec.linux.sysctl = { ...input.sysctl };
  if (input.seccomp) spec.linux.seccomp = input.seccomp;
  if (input.maskedPaths.length > 0) spec.linux.maskedPaths = [...input.maskedPaths];
  if (input.readonlyPaths.length > 0) spec.linux.readonlyPaths = [...input.readonlyPaths];
  if (input.annotations && Object.keys(input.annotations).length > 0) spec.annotations = { ...input.annotations };
  return spec;
}
