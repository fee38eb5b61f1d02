/** One entry of a container summary's `Ports`. */
export interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Orders addresses like Go's netip: none, then IPv4, then IPv6, then by text. */
function compareIp(a: string | undefined, b: string | undefined): number {
  const rank = (ip: string | undefined): number => (!ip ? 0 : ip.includes(':') ? 2 : 1);
  const byRank = rank(a) - rank(b);
  if (byRank) return byRank;
  const x = a ?? '';
  const y = b ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The PORTS column of `docker ps`: `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 9000-9001/tcp`.
 * Ports published on the same number are grouped into ranges per address and protocol;
 * ports published on another number are listed one by one after them.
 */
export function displayablePorts(ports: PortSummary[] | null | undefined): string {
  if (!ports?.length) return '';
  const sorted = [...ports].sort(
    (a, b) =>
      a.PrivatePort - b.PrivatePort ||
      compareIp(a.IP, b.IP) ||
      (a.PublicPort ?? 0) - (b.PublicPort ?? 0) ||
      (a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0),
  );
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const mappings: string[] = [];
  const form = (key: string, first: number, last: number): string => {
    const slash = key.lastIndexOf('/');
    const ip = slash >= 0 ? key.slice(0, slash) : '';
    const type = slash >= 0 ? key.slice(slash + 1) : key;
    const range = first === last ? `${first}` : `${first}-${last}`;
    return `${ip ? `${joinHostPort(ip, range)}->${range}` : range}/${type}`;
  };
  for (const p of sorted) {
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== p.PrivatePort) {
        mappings.push(`${joinHostPort(p.IP, String(p.PublicPort ?? 0))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    else if (p.PrivatePort === g.last + 1) g.last = p.PrivatePort;
    else {
      result.push(form(key, g.first, g.last));
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    }
  }
  for (const [key, g] of groups) result.push(form(key, g.first, g.last));
  return [...result, ...mappings].join(', ');
}
