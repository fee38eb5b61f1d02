import type { ContainerCreateBody, HostConfig, PortBinding } from '@berth/core';
import { type FlagSpec, type Flags, flagTitle } from './argv.js';
import { parseNanoCpus, ramInBytes } from './format/units.js';
import { parseMountFlag } from './mount-flag.js';

/** The flags `run` and `create` share (docker's names, shorthands and kinds). */
export const CONTAINER_FLAGS: FlagSpec[] = [
  { long: 'add-host', kind: 'list', help: 'Add a custom host-to-IP mapping (host:ip)' },
  { long: 'attach', short: 'a', kind: 'list', help: 'Attach to STDIN, STDOUT or STDERR' },
  { long: 'cap-add', kind: 'list', help: 'Add Linux capabilities' },
  { long: 'cap-drop', kind: 'list', help: 'Drop Linux capabilities' },
  { long: 'cpu-shares', short: 'c', kind: 'int', help: 'CPU shares (relative weight)' },
  { long: 'cpus', kind: 'string', meta: 'decimal', help: 'Number of CPUs' },
  { long: 'cpuset-cpus', kind: 'string', help: 'CPUs in which to allow execution (0-3, 0,1)' },
  { long: 'dns', kind: 'list', help: 'Set custom DNS servers' },
  { long: 'dns-option', kind: 'list', help: 'Set DNS options' },
  { long: 'dns-search', kind: 'list', help: 'Set custom DNS search domains' },
  { long: 'entrypoint', kind: 'string', help: 'Overwrite the default ENTRYPOINT of the image' },
  { long: 'env', short: 'e', kind: 'list', help: 'Set environment variables' },
  { long: 'env-file', kind: 'list', help: 'Read in a file of environment variables' },
  { long: 'expose', kind: 'list', help: 'Expose a port or a range of ports' },
  { long: 'hostname', short: 'h', kind: 'string', help: 'Container host name' },
  { long: 'ip', kind: 'string', help: 'IPv4 address (e.g., 172.30.100.104)' },
  { long: 'init', kind: 'bool', help: 'Run an init inside the container that forwards signals and reaps processes' },
  { long: 'interactive', short: 'i', kind: 'bool', help: 'Keep STDIN open even if not attached' },
  { long: 'label', short: 'l', kind: 'list', help: 'Set meta data on a container' },
  { long: 'link', kind: 'list', help: 'Add link to another container' },
  { long: 'mac-address', kind: 'string', help: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  { long: 'mount', kind: 'list', meta: 'mount', help: 'Attach a filesystem mount to the container' },
  { long: 'memory', short: 'm', kind: 'string', meta: 'bytes', help: 'Memory limit' },
  { long: 'memory-reservation', kind: 'string', meta: 'bytes', help: 'Memory soft limit' },
  { long: 'memory-swap', kind: 'string', meta: 'bytes', help: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { long: 'name', kind: 'string', help: 'Assign a name to the container' },
  { long: 'network', kind: 'list', meta: 'network', help: 'Connect a container to a network' },
  { long: 'net', kind: 'list', meta: 'network', help: 'Connect a container to a network', hidden: true },
  { long: 'network-alias', kind: 'list', help: 'Add network-scoped alias for the container' },
  { long: 'net-alias', kind: 'list', help: 'Add network-scoped alias for the container', hidden: true },
  { long: 'pids-limit', kind: 'int', help: 'Tune container pids limit (set -1 for unlimited)' },
  { long: 'platform', kind: 'string', help: 'Set platform if server is multi-platform capable', hidden: true },
  { long: 'privileged', kind: 'bool', help: 'Give extended privileges to this container' },
  { long: 'publish', short: 'p', kind: 'list', help: "Publish a container's port(s) to the host" },
  { long: 'publish-all', short: 'P', kind: 'bool', help: 'Publish all exposed ports to random ports' },
  { long: 'read-only', kind: 'bool', help: "Mount the container's root filesystem as read only" },
  { long: 'restart', kind: 'string', help: 'Restart policy to apply when a container exits', def: '"no"' },
  { long: 'rm', kind: 'bool', help: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { long: 'runtime', kind: 'string', help: 'Runtime to use for this container' },
  { long: 'security-opt', kind: 'list', help: 'Security Options' },
  { long: 'shm-size', kind: 'string', meta: 'bytes', help: 'Size of /dev/shm' },
  { long: 'stop-signal', kind: 'string', help: 'Signal to stop the container' },
  { long: 'stop-timeout', kind: 'int', help: 'Timeout (in seconds) to stop a container' },
  { long: 'sysctl', kind: 'list', meta: 'map', help: 'Sysctl options' },
  { long: 'tmpfs', kind: 'list', help: 'Mount a tmpfs directory' },
  { long: 'tty', short: 't', kind: 'bool', help: 'Allocate a pseudo-TTY' },
  { long: 'ulimit', kind: 'list', meta: 'ulimit', help: 'Ulimit options' },
  { long: 'user', short: 'u', kind: 'string', help: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { long: 'volume', short: 'v', kind: 'list', help: 'Bind mount a volume' },
  { long: 'volume-driver', kind: 'string', help: 'Optional volume driver for the container' },
  { long: 'volumes-from', kind: 'list', help: 'Mount volumes from the specified container(s)' },
  { long: 'workdir', short: 'w', kind: 'string', help: 'Working directory inside the container' },
];

/** What `run`/`create` send: the body of `POST /containers/create` and the `name` parameter. */
export interface CreateRequest {
  body: ContainerCreateBody;
  name: string | undefined;
}

export interface BuildOptions {
  /** `run -d`: nothing is attached. */
  detach: boolean;
  /** For `-e NAME` without a value and for env files. */
  env: Record<string, string | undefined>;
  /** Reads `--env-file` and `--security-opt seccomp=<file>` files. */
  readFile: (path: string) => string;
  /** For relative bind-mount sources. */
  cwd: string;
}

function spec(long: string): FlagSpec {
  return CONTAINER_FLAGS.find((f) => f.long === long)!;
}

/** pflag's message for a value a flag rejects. */
function invalid(long: string, value: string, reason: string): Error {
  return new Error(`invalid argument "${value}" for "${flagTitle(spec(long))}" flag: ${reason}`);
}

function bytesFlag(flags: Flags, long: string): number | undefined {
  const v = flags.string(long);
  if (v === undefined) return undefined;
  try {
    return ramInBytes(v);
  } catch (err) {
    throw invalid(long, v, (err as Error).message);
  }
}

/** `-e NAME=value` as is; `-e NAME` takes the value from the environment when set (docker's ValidateEnv). */
export function envEntry(entry: string, env: Record<string, string | undefined>): string {
  if (entry.includes('=')) return entry;
  const v = env[entry];
  return v === undefined ? entry : `${entry}=${v}`;
}

function parseEnvFile(text: string, path: string, env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s+/, '').replace(/\r$/, '');
    if (!line || line.startsWith('#')) continue;
    const name = line.split('=')[0]!;
    if (/\s/.test(name)) throw new Error(`variable '${name}' contains whitespaces (in ${path})`);
    out.push(envEntry(line, env));
  }
  return out;
}

/** `k=v` list → map; `k` alone maps to "" (labels) */
function toMap(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq < 0) out[item] = '';
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

function portRange(text: string, what: string): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) throw new Error(`invalid ${what}: ${text}`);
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : start;
  if (start < 0 || end > 65535 || end < start) throw new Error(`invalid ${what}: ${text}`);
  const out: number[] = [];
  for (let p = start; p <= end; p++) out.push(p);
  return out;
}

/** `-p [ip:][hostPort[-end]:]containerPort[/proto]` with ranges, into exposed ports and bindings (docker's rules: a host range with one container port is sent as is, and the daemon takes its first free port). */
export function parsePublish(specs: string[], exposed: Record<string, object>, bindings: Record<string, PortBinding[]>): void {
  for (const raw of specs) {
    const slash = raw.lastIndexOf('/');
    const proto = slash >= 0 ? raw.slice(slash + 1) : 'tcp';
    const rest = slash >= 0 ? raw.slice(0, slash) : raw;
    if (!/^(tcp|udp|sctp)$/.test(proto)) throw new Error(`invalid proto: ${proto}`);
    let ip = '';
    let hostPart = '';
    let containerPart = rest;
    const v6 = /^\[([^\]]*)\]:(.*)$/.exec(rest);
    const parts = v6 ? [v6[1]!, ...v6[2]!.split(':')] : rest.split(':');
    if (parts.length === 1) containerPart = parts[0]!;
    else if (parts.length === 2) [hostPart, containerPart] = parts as [string, string];
    else {
      containerPart = parts.pop()!;
      hostPart = parts.pop()!;
      ip = parts.join(':');
    }
    if (!containerPart) throw new Error(`no port specified: ${raw}<empty>`);
    const containerPorts = portRange(containerPart, 'containerPort');
    const hostPorts = hostPart ? portRange(hostPart, 'hostPort') : [];
    // A host range with one container port is the range to choose from; two ranges must match.
    if (containerPorts.length > 1 && hostPorts.length > 1 && hostPorts.length !== containerPorts.length) {
      throw new Error(`invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
    }
    containerPorts.forEach((port, i) => {
      const key = `${port}/${proto}`;
      exposed[key] = {};
      const hostPort =
        (hostPorts.length === 1 && containerPorts.length > 1) || (hostPorts.length > 1 && containerPorts.length === 1)
          ? hostPart
          : hostPorts.length
            ? String(hostPorts[i])
            : '';
      bindings[key] ??= [];
      bindings[key].push({ HostIp: ip, HostPort: hostPort });
    });
  }
}

export function parseRestart(text: string): HostConfig['RestartPolicy'] {
  const [name, count] = text.split(':') as [string, string | undefined];
  if (name === 'no' || name === 'always' || name === 'unless-stopped') {
    if (count !== undefined) throw new Error(`maximum retry count cannot be used with restart policy '${name}'`);
    return { Name: name, MaximumRetryCount: 0 };
  }
  if (name === 'on-failure') {
    const n = count === undefined ? 0 : Number(count);
    if (!Number.isInteger(n) || n < 0) throw new Error(`invalid restart policy format: maximum retry count must be a positive integer`);
    return { Name: 'on-failure', MaximumRetryCount: n };
  }
  throw new Error(`invalid restart policy format: unknown policy '${text}'`);
}

function parseUlimit(text: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(text);
  if (!m) throw invalid('ulimit', text, `invalid ulimit argument: ${text}`);
  const soft = Number(m[2]);
  const hard = m[3] !== undefined ? Number(m[3]) : soft;
  if (soft > hard) throw invalid('ulimit', text, `ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

/** `--security-opt seccomp=<file>` is sent with the profile's JSON inline, as docker does. */
function securityOpt(opt: string, readFile: (p: string) => string): string {
  const m = /^seccomp[=:](.*)$/.exec(opt);
  if (!m || m[1] === 'unconfined' || m[1] === 'builtin') return opt;
  let text: string;
  try {
    text = readFile(m[1]!);
  } catch (err) {
    throw new Error(`opening seccomp profile (${m[1]}) failed: ${(err as Error).message}`);
  }
  try {
    return `seccomp=${JSON.stringify(JSON.parse(text))}`;
  } catch (err) {
    throw new Error(`compacting json for seccomp profile (${m[1]}) failed: ${(err as Error).message}`);
  }
}

function volume(spec: string, binds: string[], volumes: Record<string, object>, cwd: string): void {
  const parts = spec.split(':');
  if (!spec || parts.some((p, i) => !p && i < 2)) throw new Error(`invalid spec: ${spec}: empty section between colons`);
  if (parts.length === 1) {
    if (!spec.startsWith('/')) throw new Error(`invalid volume specification: '${spec}': mount path must be absolute`);
    volumes[spec] = {};
    return;
  }
  if (parts.length > 3) throw new Error(`invalid volume specification: '${spec}'`);
  let source = parts[0]!;
  if (source.startsWith('.')) {
    const { resolve } = require('node:path') as typeof import('node:path');
    source = resolve(cwd, source);
  }
  if (!parts[1]!.startsWith('/'))
    throw new Error(
      `invalid volume specification: '${spec}': invalid mount config for type "bind": invalid mount path: '${parts[1]}' mount path must be absolute`,
    );
  binds.push([source, ...parts.slice(1)].join(':'));
}

/**
 * Turns `run`/`create` flags, the image and the command into the create request the docker
 * CLI would send. Only what the flags set is filled in (the daemon defaults the rest), but
 * the fields docker always sends with a meaning (attach flags, NetworkMode) are explicit.
 * Throws an Error with docker's message for a value it refuses.
 */
export function buildCreateRequest(flags: Flags, image: string, command: string[], options: BuildOptions): CreateRequest {
  const attach = flags.list('attach').map((s) => s.toLowerCase());
  for (const a of attach)
    if (!['stdin', 'stdout', 'stderr'].includes(a))
      throw new Error(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
  if (options.detach && attach.length) throw new Error('Conflicting options: -a and -d');
  const interactive = flags.bool('interactive');
  let attachStdin = attach.length ? attach.includes('stdin') : interactive;
  let attachStdout = attach.length ? attach.includes('stdout') : true;
  let attachStderr = attach.length ? attach.includes('stderr') : true;
  if (options.detach) attachStdin = attachStdout = attachStderr = false;

  const env: string[] = [];
  for (const file of flags.list('env-file')) {
    let text: string;
    try {
      text = options.readFile(file);
    } catch (err) {
      throw new Error(
        `open ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
      );
    }
    env.push(...parseEnvFile(text, file, options.env));
  }
  for (const e of flags.list('env')) env.push(envEntry(e, options.env));

  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const v of flags.list('volume')) volume(v, binds, volumes, options.cwd);

  const exposed: Record<string, object> = {};
  const bindings: Record<string, PortBinding[]> = {};
  parsePublish(flags.list('publish'), exposed, bindings);
  for (const e of flags.list('expose')) {
    const [ports, proto = 'tcp'] = e.split('/') as [string, string | undefined];
    for (const p of portRange(ports, 'range for exposed ports')) exposed[`${p}/${proto}`] = {};
  }

  const restart = flags.string('restart');
  const restartPolicy = restart ? parseRestart(restart) : { Name: 'no' as const, MaximumRetryCount: 0 };
  const autoRemove = flags.bool('rm');
  if (autoRemove && restartPolicy?.Name && restartPolicy.Name !== 'no') throw new Error('Conflicting options: --restart and --rm');

  // Several --network: the first is the mode, each joined at start in the order given.
  const networks = [...flags.list('network'), ...flags.list('net')];
  const host: HostConfig = {
    NetworkMode: networks[0] ?? 'default',
    RestartPolicy: restartPolicy,
    AutoRemove: autoRemove,
  };
  if (binds.length) host.Binds = binds;
  if (flags.list('volumes-from').length) host.VolumesFrom = flags.list('volumes-from');
  if (flags.has('mount')) {
    host.Mounts = flags.list('mount').map((m) => {
      try {
        return parseMountFlag(m, options.cwd);
      } catch (err) {
        throw invalid('mount', m, (err as Error).message);
      }
    });
  }
  if (flags.has('volume-driver')) host.VolumeDriver = flags.string('volume-driver')!;
  if (Object.keys(bindings).length) host.PortBindings = bindings;
  if (flags.bool('publish-all')) host.PublishAllPorts = true;
  if (flags.has('cap-add')) host.CapAdd = flags.list('cap-add');
  if (flags.has('cap-drop')) host.CapDrop = flags.list('cap-drop');
  if (flags.bool('privileged')) host.Privileged = true;
  if (flags.bool('read-only')) host.ReadonlyRootfs = true;
  if (flags.has('security-opt')) host.SecurityOpt = flags.list('security-opt').map((o) => securityOpt(o, options.readFile));
  const memory = bytesFlag(flags, 'memory');
  if (memory !== undefined) host.Memory = memory;
  const reservation = bytesFlag(flags, 'memory-reservation');
  if (reservation !== undefined) host.MemoryReservation = reservation;
  const swap = flags.string('memory-swap');
  if (swap !== undefined) host.MemorySwap = swap === '-1' ? -1 : bytesFlag(flags, 'memory-swap')!;
  const cpus = flags.string('cpus');
  if (cpus !== undefined) {
    try {
      host.NanoCpus = parseNanoCpus(cpus);
    } catch (err) {
      throw invalid('cpus', cpus, (err as Error).message);
    }
  }
  if (flags.has('cpu-shares')) host.CpuShares = flags.int('cpu-shares')!;
  if (flags.has('cpuset-cpus')) host.CpusetCpus = flags.string('cpuset-cpus')!;
  if (flags.has('pids-limit')) host.PidsLimit = flags.int('pids-limit')!;
  const shm = bytesFlag(flags, 'shm-size');
  if (shm !== undefined) host.ShmSize = shm;
  if (flags.has('runtime')) host.Runtime = flags.string('runtime')!;
  if (flags.bool('init')) host.Init = true;
  if (flags.has('dns')) host.Dns = flags.list('dns');
  if (flags.has('dns-search')) host.DnsSearch = flags.list('dns-search');
  if (flags.has('dns-option')) host.DnsOptions = flags.list('dns-option');
  if (flags.has('link')) host.Links = flags.list('link');
  if (flags.has('add-host')) host.ExtraHosts = flags.list('add-host').map((h) => h.replace('=', ':'));
  if (flags.has('tmpfs')) {
    host.Tmpfs = {};
    for (const t of flags.list('tmpfs')) {
      const colon = t.indexOf(':');
      host.Tmpfs[colon < 0 ? t : t.slice(0, colon)] = colon < 0 ? '' : t.slice(colon + 1);
    }
  }
  if (flags.has('ulimit')) host.Ulimits = flags.list('ulimit').map(parseUlimit);
  if (flags.has('sysctl')) host.Sysctls = toMap(flags.list('sysctl'));

  const body: ContainerCreateBody = {
    Image: image,
    Cmd: command.length ? command : null,
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    Tty: flags.bool('tty'),
    OpenStdin: interactive,
    StdinOnce: interactive && attachStdin,
    Env: env.length ? env : null,
    Labels: toMap(flags.list('label')),
    HostConfig: host,
  };
  if (flags.has('hostname')) body.Hostname = flags.string('hostname')!;
  if (flags.has('mac-address')) body.MacAddress = flags.string('mac-address')!;
  const aliases = [...flags.list('network-alias'), ...flags.list('net-alias')];
  if (flags.has('ip') || aliases.length > 0 || networks.length > 1) {
    // As docker: the address and the aliases belong to the endpoint on the (first) network the container joins.
    const network = host.NetworkMode === 'default' ? 'bridge' : host.NetworkMode!;
    const endpoints: NonNullable<ContainerCreateBody['NetworkingConfig']>['EndpointsConfig'] = {
      [network]: {
        ...(flags.has('ip') ? { IPAMConfig: { IPv4Address: flags.string('ip')! } } : {}),
        ...(aliases.length > 0 ? { Aliases: aliases } : {}),
      },
    };
    for (const other of networks.slice(1)) endpoints[other] ??= {};
    body.NetworkingConfig = { EndpointsConfig: endpoints };
  }
  if (flags.has('user')) body.User = flags.string('user')!;
  if (flags.has('workdir')) body.WorkingDir = flags.string('workdir')!;
  if (flags.has('entrypoint')) body.Entrypoint = [flags.string('entrypoint')!];
  if (Object.keys(volumes).length) body.Volumes = volumes;
  if (Object.keys(exposed).length) body.ExposedPorts = exposed;
  if (flags.has('stop-signal')) body.StopSignal = flags.string('stop-signal')!;
  if (flags.has('stop-timeout')) body.StopTimeout = flags.int('stop-timeout')!;
  return { body, name: flags.string('name') };
}
