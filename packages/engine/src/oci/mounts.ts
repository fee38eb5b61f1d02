import { mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';
import type { CgroupVersion } from './cgroups.js';
import type { OciMount } from './spec-types.js';

/**
 * The container's mounts: the system filesystems every container gets (Docker's
 * defaults), the paths hidden or made read-only in /proc and /sys, `-v` binds,
 * `--tmpfs`, and the /etc files the engine writes (hostname, hosts, resolv.conf).
 * Everything here describes mounts; the runtime performs them.
 */

/** Docker's /dev/shm size when ShmSize is not given: 64 MiB. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Paths hidden from unprivileged containers: host information and kernel interfaces they have no use for. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Paths unprivileged containers may read but not write: they would change the host. */
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface DefaultMountOptions {
  /** Size of /dev/shm in bytes; 0 or absent = 64 MiB. */
  shmSize?: number;
  /** Privileged containers get /sys and /sys/fs/cgroup writable, as under Docker. */
  privileged?: boolean;
  cgroupVersion: CgroupVersion;
  /**
   * Where /dev/shm comes from: `private` (its own tmpfs, the default), `host` (the
   * host's /dev/shm bound in), `none` (no /dev/shm).
   */
  ipc?: 'private' | 'host' | 'none';
}

/** The system mounts of a container, in mount order. */
export function defaultMounts(opts: DefaultMountOptions): OciMount[] {
  const shmSize = opts.shmSize && opts.shmSize > 0 ? opts.shmSize : DEFAULT_SHM_SIZE;
  const sysOptions = ['nosuid', 'noexec', 'nodev', opts.privileged ? 'rw' : 'ro'];
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: sysOptions },
    {
      destination: '/sys/fs/cgroup',
      type: opts.cgroupVersion === 2 ? 'cgroup2' : 'cgroup',
      source: opts.cgroupVersion === 2 ? 'cgroup2' : 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', opts.privileged ? 'rw' : 'ro'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  const ipc = opts.ipc ?? 'private';
  if (ipc === 'private') {
    mounts.push({
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
    });
  } else if (ipc === 'host') {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'noexec', 'nodev'] });
  }
  return mounts;
}

/** A `-v` entry that names a host directory or file. */
export interface BindRequest {
  kind: 'bind';
  source: string;
  destination: string;
  readonly: boolean;
  /** Mount propagation; Docker's default for binds is rprivate. */
  propagation: 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
  /** `z`/`Z` were given: SELinux relabelling, which berth does not do (it is accepted and ignored). */
  relabel?: 'z' | 'Z';
  /** The entry as given, for messages. */
  raw: string;
}

/** A `-v` entry that names a volume (`name:/data`), or an anonymous one (`/data`, name ""). */
export interface VolumeRequest {
  kind: 'volume';
  name: string;
  destination: string;
  readonly: boolean;
  /** `nocopy`: do not copy the image's content at the destination into a new volume. */
  nocopy: boolean;
  raw: string;
  /** From `Config.Volumes` or the image's VOLUME (the docker CLI sends `-v /path` there too) or `--mount`, not a `Binds` entry. */
  fromVolumes?: boolean;
  /** `--mount`'s `volume-driver`, `volume-opt` and `volume-label`: how a volume made on first use is created. */
  driver?: string;
  driverOptions?: Record<string, string>;
  labels?: Record<string, string>;
}

export type ParsedBind = BindRequest | VolumeRequest;

const propagations = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);
const volumeName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Parse one `-v`/Binds entry: `/host:/ctr[:opts]` (a bind), `name:/ctr[:opts]` (a
 * named volume), `/ctr` (an anonymous volume). Options are a comma list of
 * `ro`/`rw`, a propagation, `z`/`Z`, `nocopy` (volumes only) and Docker Desktop's
 * `consistent`/`cached`/`delegated`, which mean nothing on Linux. Pure: a missing host
 * path is made by `ensureBindSource` (`-v`) or refused by `checkBindSource` (`--mount`).
 */
export function parseBind(spec: string): ParsedBind {
  const bad = (why: string): never => {
    throw new InvalidArgument(`invalid volume specification: '${spec}': ${why}`);
  };
  const parts = spec.split(':');
  if (spec === '' || parts.length > 3 || parts.some((p) => p === '')) bad('expected [source:]destination[:options]');
  let source = '';
  let destination: string;
  let mode = '';
  if (parts.length === 1) {
    destination = parts[0] as string;
  } else if (parts.length === 2 && isModeList(parts[1] as string)) {
    // `/ctr:ro`: an anonymous volume with options (Docker decides by whether the
    // second part reads as options).
    destination = parts[0] as string;
    mode = parts[1] as string;
  } else {
    source = parts[0] as string;
    destination = parts[1] as string;
    mode = parts[2] ?? '';
  }
  if (!destination.startsWith('/')) {
    bad(
      `invalid mount config for type "${source.startsWith('/') ? 'bind' : 'volume'}": invalid mount path: '${destination}' mount path must be absolute`,
    );
  }
  destination = path.posix.normalize(destination);
  if (destination === '/') bad("destination can't be '/'");

  let readonly = false;
  let propagation: BindRequest['propagation'] | undefined;
  let relabel: 'z' | 'Z' | undefined;
  let nocopy = false;
  const seen = new Set<string>();
  for (const opt of mode === '' ? [] : mode.split(',')) {
    const kind = opt === 'ro' || opt === 'rw' ? 'rw' : propagations.has(opt) ? 'propagation' : opt === 'z' || opt === 'Z' ? 'label' : opt;
    if (seen.has(kind)) bad(`invalid mode: ${mode}`);
    seen.add(kind);
    if (opt === 'ro') readonly = true;
    else if (opt === 'rw') readonly = false;
    else if (propagations.has(opt)) propagation = opt as BindRequest['propagation'];
    else if (opt === 'z' || opt === 'Z') relabel = opt;
    else if (opt === 'nocopy') nocopy = true;
    else if (opt === 'consistent' || opt === 'cached' || opt === 'delegated') continue;
    else bad(`invalid mode: ${mode}`);
  }

  if (source === '' || !source.startsWith('/')) {
    if (source !== '' && !volumeName.test(source)) {
      bad(
        `"${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    if (propagation) bad(`invalid mode: ${mode} (propagation applies to bind mounts only)`);
    return { kind: 'volume', name: source, destination, readonly, nocopy, raw: spec };
  }
  if (nocopy) bad(`invalid mode: ${mode} (nocopy applies to volumes only)`);
  const bind: BindRequest = {
    kind: 'bind',
    source: path.posix.normalize(source),
    destination,
    readonly,
    propagation: propagation ?? 'rprivate',
    raw: spec,
  };
  if (relabel) bind.relabel = relabel;
  return bind;
}

const modeWords = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated', ...propagations]);

function isModeList(text: string): boolean {
  return text.split(',').every((w) => modeWords.has(w));
}

/**
 * Refuse a bind whose host path does not exist, as Docker does for `--mount type=bind`
 * (a typo fails loudly instead of mounting an empty directory).
 */
export function checkBindSource(bind: BindRequest, exists: (p: string) => boolean = pathExists): void {
  if (!exists(bind.source)) {
    throw new InvalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${bind.source}`);
  }
}

/**
 * Docker's `-v /host/path:/x` (HostConfig.Binds): a host path that does not exist is
 * created as a directory (with its missing parents, root-owned, 0755), as dockerd does;
 * `--mount` refuses it instead (`checkBindSource`). Returns whether it made one.
 */
export function ensureBindSource(
  bind: BindRequest,
  exists: (p: string) => boolean = pathExists,
  makeDirectory: (p: string) => void = (p) => mkdirSync(p, { recursive: true, mode: 0o755 }),
): boolean {
  if (exists(bind.source)) return false;
  try {
    makeDirectory(bind.source);
  } catch (err) {
    throw new InvalidArgument(`error while creating mount source path '${bind.source}': ${(err as Error).message}`);
  }
  return true;
}

function pathExists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The OCI mount of a bind request. */
export function bindMount(bind: BindRequest): OciMount {
  const options = ['rbind'];
  if (bind.readonly) options.push('ro');
  options.push(bind.propagation);
  return { destination: bind.destination, type: 'bind', source: bind.source, options };
}

/** The OCI mount of a volume request, once the engine knows the volume's host path. */
export function volumeMount(volume: VolumeRequest, hostPath: string): OciMount {
  const options = ['rbind'];
  if (volume.readonly) options.push('ro');
  options.push('rprivate');
  return { destination: volume.destination, type: 'bind', source: hostPath, options };
}

/**
 * `--tmpfs /path[:options]` (HostConfig.Tmpfs: path → options): a tmpfs with
 * Docker's defaults noexec, nosuid, nodev, which the given options can override
 * (`exec` undoes `noexec`, ...).
 */
export function tmpfsMounts(tmpfs: Readonly<Record<string, string>> | null | undefined): OciMount[] {
  const out: OciMount[] = [];
  for (const [dest, optionText] of Object.entries(tmpfs ?? {})) {
    if (!dest.startsWith('/')) throw new InvalidArgument(`invalid tmpfs mount path: '${dest}' mount path must be absolute`);
    const destination = path.posix.normalize(dest);
    if (destination === '/') throw new InvalidArgument("invalid tmpfs mount: destination can't be '/'");
    const given = optionText === '' ? [] : optionText.split(',').map((o) => o.trim());
    const options = ['noexec', 'nosuid', 'nodev'].filter((d) => !given.some((g) => g === d || g === opposite(d)));
    for (const g of given) {
      if (!/^[a-z0-9_]+(=[A-Za-z0-9_.:+%/-]*)?$/.test(g))
        throw new InvalidArgument(`invalid tmpfs option ${JSON.stringify(g)} for ${dest}`);
      options.push(g);
    }
    out.push({ destination, type: 'tmpfs', source: 'tmpfs', options });
  }
  return out;
}

function opposite(option: string): string {
  return option.startsWith('no') ? option.slice(2) : `no${option}`;
}

/** Host paths of the /etc files the engine prepares for the container; each is optional. */
export interface EtcFiles {
  hostname?: string;
  hosts?: string;
  resolvConf?: string;
}

/**
 * Bind mounts of /etc/hostname, /etc/hosts, /etc/resolv.conf from the engine's
 * copies. Writable unless the rootfs is read-only, as under Docker.
 */
export function etcFileMounts(files: EtcFiles, readonlyRootfs = false): OciMount[] {
  const out: OciMount[] = [];
  const entries: Array<[string, string | undefined]> = [
    ['/etc/resolv.conf', files.resolvConf],
    ['/etc/hostname', files.hostname],
    ['/etc/hosts', files.hosts],
  ];
  for (const [destination, source] of entries) {
    if (!source) continue;
    const options = ['rbind', 'rprivate'];
    if (readonlyRootfs) options.push('ro');
    out.push({ destination, type: 'bind', source, options });
  }
  return out;
}

/**
 * The final mount list: system mounts first (minus any a user mount replaces),
 * then the others ordered so a parent is mounted before what goes inside it
 * (fewer path components first; stable otherwise). Two user mounts on one
 * destination are an error.
 */
export function orderMounts(system: readonly OciMount[], user: readonly OciMount[]): OciMount[] {
  const seen = new Set<string>();
  for (const m of user) {
    if (seen.has(m.destination)) throw new InvalidArgument(`Duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
  }
  const kept = system.filter((m) => !seen.has(m.destination));
  const depth = (m: OciMount) => m.destination.split('/').filter((p) => p !== '').length;
  const sorted = user.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m) - depth(b.m) || a.i - b.i);
  return [...kept, ...sorted.map((x) => x.m)];
}
