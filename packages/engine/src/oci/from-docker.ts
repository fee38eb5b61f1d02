import * as path from 'node:path';
import { type ContainerCreateBody, InvalidArgument, NotImplemented } from '@berth/core';
import { computeCapabilities } from './capabilities.js';
import { cgroupsPathFor, DEFAULT_CGROUP_PARENT } from './cgroups.js';
import { buildEnv, type ImageRunConfig, mergeCommand } from './container-config.js';
import { type HostDeviceInfo, resolveDevices, statHostDevice } from './devices.js';
import type { HostFacts } from './host-facts.js';
import { mountRequest } from './mount-requests.js';
import {
  bindMount,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultMounts,
  type EtcFiles,
  ensureBindSource,
  etcFileMounts,
  parseBind,
  tmpfsMounts,
  type VolumeRequest,
} from './mounts.js';
import { buildResources } from './resources.js';
import { buildRlimits } from './rlimits.js';
import { defaultSeccompProfile } from './seccomp-default.js';
import { loadDockerSeccomp } from './seccomp-docker-format.js';
import { parseSecurityOptions } from './security-opts.js';
import type { SpecInput } from './spec.js';
import type { OciMount, OciNamespace, OciSeccomp } from './spec-types.js';
import { checkSysctls } from './sysctls.js';
import { refuseUnsupportedSettings } from './unsupported-settings.js';
import { type ResolvedUser, resolveUser } from './user.js';

/**
 * What to do with `Tty: true`:
 * - `allow` (default): `process.terminal = true`; the runtime makes a pty and berth-shim
 *   holds its master (the console socket), so the terminal outlives the daemon;
 * - `warn`: run without a terminal and say so in the warnings (a runtime without terminals);
 * - `reject`: NotImplemented.
 */
export type TtyPolicy = 'allow' | 'warn' | 'reject';

export interface DockerSpecRequest {
  /** The container id (64 hex); its first 12 characters are the default hostname. */
  id: string;
  body: ContainerCreateBody;
  /** The image's run config; undefined for a container without an image config. */
  image?: ImageRunConfig;
  /** The mounted rootfs on the host; /etc/passwd and /etc/group are read inside it. */
  rootfsPath: string;
  /** The /etc files the engine wrote for this container. */
  etcFiles: EtcFiles;
  /** `private`: a new network namespace (the network driver plugs it); `host`: the host's. */
  networkMode: 'host' | 'private';
  /** Overrides HostConfig.CgroupParent; default `berth`. */
  cgroupParent?: string;
  host: HostFacts;
  tty?: TtyPolicy;
  /** stat of host devices for `--device`; tests replace it. */
  statDevice?: (p: string) => HostDeviceInfo;
  /** Existence of bind sources; tests replace it. */
  pathExists?: (p: string) => boolean;
  /** Creates a `-v` bind's missing host directory (mkdir -p, 0755); tests replace it. */
  makeDirectory?: (p: string) => void;
  /** The storage driver the rootfs is on, named in the refusal of StorageOpt. */
  storageDriver?: string;
  /** The storage driver enforces `--storage-opt size=` (StorageCapabilities.sizeQuota). */
  sizeQuota?: boolean;
}

export interface DockerSpecResult {
  /** Ready for `buildSpec`, once the engine has appended the volumes' mounts. */
  input: SpecInput;
  /** Messages for the create response's `Warnings`. */
  warnings: string[];
  /**
   * Named and anonymous volumes to resolve (`name` "" = anonymous). The engine mounts
   * each and appends `volumeMount(volume, hostPath)` to `input.mounts`.
   */
  volumes: VolumeRequest[];
  /** The resolved user, for inspect and exec. */
  user: ResolvedUser;
  /** Signal that stops the container: request, image, or SIGTERM. */
  stopSignal: string;
}

const hostnamePattern = /^(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*$/;

/**
 * Translate a Docker create request plus its image's config into a `SpecInput`,
 * the way Docker would run it (see the README of this folder for every rule and
 * where berth differs). Reads only the rootfs's /etc/passwd and /etc/group (and,
 * for `--device`, `seccomp=<path>` and binds, the named host paths); all host
 * facts come in `req.host`.
 */
export async function specInputFromDocker(req: DockerSpecRequest): Promise<DockerSpecResult> {
  const { body, host } = req;
  const hc = body.HostConfig ?? {};
  // First, before any file is read: a setting berth would not carry out is refused, never ignored.
  const warnings = refuseUnsupportedSettings(body, {
    hostNetwork: req.networkMode === 'host',
    storageDriver: req.storageDriver,
    sizeQuota: req.sizeQuota === true,
  });
  const privileged = hc.Privileged === true;

  const security = parseSecurityOptions(hc.SecurityOpt);
  warnings.push(...security.warnings);

  // Namespaces.
  const pidMode = namespaceMode('PidMode', hc.PidMode);
  const ipcMode = hc.IpcMode === 'none' ? 'none' : namespaceMode('IpcMode', hc.IpcMode);
  const utsMode = namespaceMode('UTSMode', hc.UTSMode);
  const namespaces: OciNamespace[] = [{ type: 'mount' }];
  if (pidMode === 'private') namespaces.push({ type: 'pid' });
  if (ipcMode !== 'host') namespaces.push({ type: 'ipc' });
  if (utsMode === 'private') namespaces.push({ type: 'uts' });
  if (req.networkMode === 'private') namespaces.push({ type: 'network' });
  // CgroupnsMode; Docker's default: private on v2, host on v1.
  const cgroupns = hc.CgroupnsMode || (host.cgroupVersion === 2 ? 'private' : 'host');
  if (cgroupns === 'private') namespaces.push({ type: 'cgroup' });

  // Hostname.
  let hostname: string | undefined;
  if (utsMode === 'host') {
    if (body.Hostname) throw new InvalidArgument('Conflicting options: hostname and the UTS mode');
  } else {
    if (body.Hostname && !hostnamePattern.test(body.Hostname)) {
      throw new InvalidArgument(`invalid hostname format: ${JSON.stringify(body.Hostname)}`);
    }
    // The host's own name is taken as it is, whatever its form.
    hostname = body.Hostname || (req.networkMode === 'host' ? host.hostname : req.id.slice(0, 12));
  }

  // Terminal.
  let terminal = false;
  if (body.Tty) {
    const policy = req.tty ?? 'allow';
    if (policy === 'reject') throw new NotImplemented('containers with a terminal (Tty: true) are not supported yet');
    if (policy === 'allow') terminal = true;
    else warnings.push('berth does not give containers a terminal yet: Tty ignored, the process runs without one');
  }

  // Process.
  const args = mergeCommand(body, req.image);
  const workingDir = body.WorkingDir || req.image?.WorkingDir || '/';
  if (!workingDir.startsWith('/')) {
    throw new InvalidArgument(`the working directory '${workingDir}' is invalid, it needs to be an absolute path`);
  }
  const user = await resolveUser(req.rootfsPath, body.User || req.image?.User || '', hc.GroupAdd ?? []);
  const env = buildEnv({ image: req.image?.Env, request: body.Env, hostname, terminal, home: user.home });

  // Privileges.
  const capabilities = computeCapabilities({
    capAdd: hc.CapAdd,
    capDrop: hc.CapDrop,
    privileged,
    hostBoundingSet: host.boundingSet,
  });
  let seccomp: OciSeccomp | undefined;
  if (privileged) {
    if (security.seccomp !== undefined && security.seccomp !== 'unconfined') {
      warnings.push('a privileged container runs without seccomp: the seccomp profile given is ignored');
    }
  } else if (security.seccomp === undefined) {
    seccomp = defaultSeccompProfile({ capabilities, arch: host.arch, kernelVersion: host.kernelVersion });
  } else {
    seccomp = loadDockerSeccomp(security.seccomp, { capabilities, arch: host.arch, kernelVersion: host.kernelVersion });
  }
  // berth's choice: no_new_privs unless asked otherwise (Docker's default is off);
  // privileged containers keep Docker's default, so setuid tools work there.
  const noNewPrivileges = security.noNewPrivileges ?? !privileged;
  const unconfinedPaths = privileged || security.unconfinedSystemPaths;
  const maskedPaths = unconfinedPaths ? [] : [...(hc.MaskedPaths ?? DEFAULT_MASKED_PATHS)];
  const readonlyPaths = unconfinedPaths ? [] : [...(hc.ReadonlyPaths ?? DEFAULT_READONLY_PATHS)];

  // Resources, devices, limits.
  const { devices, rules } = resolveDevices(hc.Devices, req.statDevice ?? statHostDevice);
  const resourceResult = buildResources(hc, host, { privileged, extraDeviceRules: rules });
  warnings.push(...resourceResult.warnings);
  const rlimits = buildRlimits(hc.Ulimits, host);
  const sysctl = checkSysctls(hc.Sysctls, {
    privateNetwork: req.networkMode === 'private',
    privateIpc: ipcMode !== 'host',
  });
  const cgroupsPath = cgroupsPathFor(req.id, req.cgroupParent ?? (hc.CgroupParent || DEFAULT_CGROUP_PARENT));

  // Mounts.
  const readonlyRootfs = hc.ReadonlyRootfs === true;
  const userMounts: OciMount[] = [];
  const volumes: VolumeRequest[] = [];
  const taken = new Set<string>();
  const claim = (destination: string, raw: string) => {
    if (taken.has(destination)) throw new InvalidArgument(`Duplicate mount point: ${destination} (${raw})`);
    taken.add(destination);
  };
  // `--volume-driver`: the driver of the volumes `-v` and VOLUME make on first use (`--mount` names its own).
  const volumeDriver = hc.VolumeDriver ? { driver: hc.VolumeDriver } : {};
  for (const raw of hc.Binds ?? []) {
    const parsed = parseBind(raw);
    claim(parsed.destination, raw);
    if (parsed.kind === 'volume') {
      volumes.push({ ...parsed, ...volumeDriver });
      continue;
    }
    ensureBindSource(parsed, req.pathExists, req.makeDirectory);
    if (parsed.relabel) warnings.push(`berth does not relabel for SELinux: option ${parsed.relabel} of ${raw} ignored`);
    userMounts.push(bindMount(parsed));
  }
  for (const request of hc.Mounts ?? []) {
    const made = mountRequest(request, req.pathExists);
    claim(made.destination, `--mount target=${made.destination}`);
    if (made.kind === 'volume') volumes.push(made.volume);
    else userMounts.push(made.mount);
  }
  for (const m of tmpfsMounts(hc.Tmpfs)) {
    claim(m.destination, `--tmpfs ${m.destination}`);
    userMounts.push(m);
  }
  // Anonymous volumes: the request's `Volumes` and the image's, unless something else is mounted there.
  for (const dest of [...Object.keys(body.Volumes ?? {}), ...Object.keys(req.image?.Volumes ?? {})]) {
    if (!dest.startsWith('/')) throw new InvalidArgument(`invalid volume path: '${dest}' mount path must be absolute`);
    const destination = path.posix.normalize(dest);
    if (taken.has(destination)) continue;
    taken.add(destination);
    volumes.push({ kind: 'volume', name: '', destination, readonly: false, nocopy: false, raw: dest, fromVolumes: true, ...volumeDriver });
  }
  for (const m of etcFileMounts(req.etcFiles, readonlyRootfs)) {
    if (!taken.has(m.destination)) userMounts.push(m);
  }
  const systemMounts = defaultMounts({
    shmSize: hc.ShmSize ?? 0,
    privileged,
    cgroupVersion: host.cgroupVersion,
    ipc: ipcMode,
  });

  const input: SpecInput = {
    rootfsPath: req.rootfsPath,
    readonlyRootfs,
    args,
    env,
    cwd: path.posix.normalize(workingDir),
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    terminal,
    consoleSize: consoleSizeOf(hc.ConsoleSize),
    capabilities,
    noNewPrivileges,
    rlimits,
    namespaces,
    systemMounts,
    mounts: userMounts,
    resources: resourceResult.resources,
    cgroupsPath,
    maskedPaths,
    readonlyPaths,
    sysctl,
    devices,
  };
  if (hostname !== undefined) input.hostname = hostname;
  if (hc.OomScoreAdj) input.oomScoreAdj = hc.OomScoreAdj;
  if (seccomp) input.seccomp = seccomp;
  return {
    input,
    warnings,
    volumes,
    user,
    stopSignal: body.StopSignal || req.image?.StopSignal || 'SIGTERM',
  };
}

/** '' / 'private' → private, 'host' → host; joining another container's namespace is refused (400) until berth can. */
function namespaceMode(field: string, value: string | undefined): 'private' | 'host' {
  if (!value || value === 'private' || value === 'shareable') return 'private';
  if (value === 'host') return 'host';
  if (value.startsWith('container:')) {
    throw new InvalidArgument(
      `HostConfig.${field} ${JSON.stringify(value)} is not supported by berth yet: joining another container's namespace`,
    );
  }
  throw new InvalidArgument(`invalid HostConfig.${field}: ${JSON.stringify(value)}`);
}

/** Docker's `ConsoleSize` ([rows, columns]; [0, 0] when the client has no terminal) as the spec's. */
export function consoleSizeOf(size: readonly number[] | null | undefined): { height: number; width: number } | undefined {
  const [height, width] = size ?? [];
  return height && width && height > 0 && width > 0 ? { height, width } : undefined;
}
