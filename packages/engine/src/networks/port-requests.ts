import {
  type ContainerSummary,
  type HostConfig,
  InvalidArgument,
  type PortBinding,
  type PortProtocol,
  type PublishedPort,
} from '@berth/core';

/**
 * One port a container asks to publish, as HostConfig says it: the host port is a range
 * to choose from (`start === end` for one port; `0`..`0` for an ephemeral one).
 */
export interface PortRequest {
  protocol: PortProtocol;
  containerPort: number;
  /** `0.0.0.0` for every IPv4 address of the host (HostIp `""`). */
  hostIp: string;
  hostPortStart: number;
  hostPortEnd: number;
}

/** A port key of ExposedPorts or PortBindings: `80/tcp`, `53/udp`, `80` (tcp). */
export function parsePortKey(key: string): { containerPort: number; protocol: PortProtocol } {
  const m = /^(\d{1,5})(?:\/([a-z]+))?$/.exec(key);
  const port = m ? Number(m[1]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgument(`invalid port "${key}": a port is 1-65535`);
  const protocol = m[2] ?? 'tcp';
  if (protocol === 'sctp') throw new InvalidArgument(`invalid port "${key}": publishing sctp ports is not supported by berth`);
  if (protocol !== 'tcp' && protocol !== 'udp') throw new InvalidArgument(`invalid port "${key}": protocol must be tcp or udp`);
  return { containerPort: port, protocol };
}

/** `PortBinding.HostPort`: `""` (ephemeral), `8080`, or a range `8000-8010` to take the first free port of. */
export function parseHostPort(text: string | undefined, key: string): { start: number; end: number } {
  if (text === undefined || text === '' || text === '0') return { start: 0, end: 0 };
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const start = m ? Number(m[1]) : Number.NaN;
  const end = m?.[2] !== undefined ? Number(m[2]) : start;
  if (!m || start < 1 || end > 65535 || end < start) {
    throw new InvalidArgument(`invalid host port "${text}" for ${key}: a port 1-65535, or a range such as 8000-8010`);
  }
  return { start, end };
}

/** `PortBinding.HostIp`: empty for every address, else an IPv4 address (berth publishes no IPv6). */
export function parseHostIp(text: string | undefined, key: string): string {
  if (text === undefined || text === '') return '0.0.0.0';
  const bytes = text.split('.');
  if (bytes.length === 4 && bytes.every((b) => /^\d{1,3}$/.test(b) && Number(b) <= 255)) return bytes.map(Number).join('.');
  if (text.includes(':'))
    throw new InvalidArgument(`invalid host address "${text}" for ${key}: publishing on IPv6 is not supported by berth`);
  throw new InvalidArgument(`invalid host address "${text}" for ${key}: an IPv4 address`);
}

/** The ports a container exposes: its config's ExposedPorts and every key of its PortBindings (as dockerd counts them). */
export function exposedPortKeys(exposed: Record<string, object> | null | undefined, hostConfig: HostConfig): string[] {
  const keys = new Set<string>();
  for (const key of [...Object.keys(exposed ?? {}), ...Object.keys(hostConfig.PortBindings ?? {})]) {
    const { containerPort, protocol } = parsePortKey(key);
    keys.add(`${containerPort}/${protocol}`);
  }
  return [...keys].sort(comparePortKeys);
}

function comparePortKeys(a: string, b: string): number {
  const [pa, ta] = a.split('/') as [string, string];
  const [pb, tb] = b.split('/') as [string, string];
  return Number(pa) - Number(pb) || ta.localeCompare(tb);
}

/**
 * What a container asks to publish: each binding of HostConfig.PortBindings, and with
 * PublishAllPorts (`-P`) an ephemeral port on every address for each exposed port that
 * has no binding of its own. Throws InvalidArgument naming the first malformed entry, so
 * create can refuse it before anything is made.
 */
export function portRequests(exposed: Record<string, object> | null | undefined, hostConfig: HostConfig): PortRequest[] {
  const requests: PortRequest[] = [];
  const bound = new Set<string>();
  for (const [key, bindings] of Object.entries(hostConfig.PortBindings ?? {})) {
    const { containerPort, protocol } = parsePortKey(key);
    if (!bindings || bindings.length === 0) continue;
    bound.add(`${containerPort}/${protocol}`);
    for (const binding of bindings as PortBinding[]) {
      const { start, end } = parseHostPort(binding?.HostPort, key);
      requests.push({ protocol, containerPort, hostIp: parseHostIp(binding?.HostIp, key), hostPortStart: start, hostPortEnd: end });
    }
  }
  if (hostConfig.PublishAllPorts) {
    for (const key of exposedPortKeys(exposed, hostConfig)) {
      if (bound.has(key)) continue;
      const { containerPort, protocol } = parsePortKey(key);
      requests.push({ protocol, containerPort, hostIp: '0.0.0.0', hostPortStart: 0, hostPortEnd: 0 });
    }
  }
  return requests;
}

/**
 * Inspect's NetworkSettings.Ports: every exposed port, with the host addresses and ports
 * it is published on, or null when it is not. Only a running container has any (as
 * dockerd: the map is emptied when the container stops).
 */
export function portMap(exposedKeys: string[], published: PublishedPort[] | undefined): Record<string, PortBinding[] | null> {
  const map: Record<string, PortBinding[] | null> = {};
  for (const key of exposedKeys) map[key] = null;
  for (const p of published ?? []) {
    const key = `${p.containerPort}/${p.protocol}`;
    const list = map[key] ?? [];
    list.push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
    map[key] = list;
  }
  return map;
}

/** `GET /containers/json`'s Ports: one entry per published binding, and one without a public port per exposed port that has none. */
export function portSummary(map: Record<string, PortBinding[] | null>): ContainerSummary['Ports'] {
  const out: ContainerSummary['Ports'] = [];
  for (const [key, bindings] of Object.entries(map)) {
    const [port, type] = key.split('/') as [string, string];
    if (!bindings || bindings.length === 0) out.push({ PrivatePort: Number(port), Type: type });
    else for (const b of bindings) out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  return out;
}
