import { execFileSync } from 'node:child_process';
import { claimTestBlock, releaseTestBlock } from '@berth/testkit';

/**
 * The network objects one test daemon owns, all named or numbered after its suite's
 * suffix, so daemons running side by side (other suites, other people's berthds, a
 * dockerd) never share a bridge, an nftables table or a subnet:
 * - `bridge`: its default network's Linux bridge (`--bridge`), `<prefix><suffix>`;
 * - `table`: its nftables table (`--nftables-table`), `berth_<prefix>_<suffix>`;
 * - `pool`: a /21 of 10.199.0.0/16 no host route touches (`--default-address-pool`,
 *   carved in /24s), where its default bridge and the networks its tests create without
 *   `--subnet` get their subnets; `block` is its index (0-31), claimed for this process
 *   (@berth/testkit's claimTestBlock) until cleanUpNetwork.
 */
export interface DaemonNetwork {
  bridge: string;
  table: string;
  pool: string;
  block: number;
}

/** The berthd flags that give a daemon its own network objects. */
export function networkArgs(network: DaemonNetwork): string[] {
  return ['--bridge', network.bridge, '--nftables-table', network.table, '--default-address-pool', `base=${network.pool},size=24`];
}

/** Host routes as [base, bits] over every table (`ip -4 route show table all`). */
function routedPrefixes(): Array<[number, number]> {
  const out = execFileSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  const found: Array<[number, number]> = [];
  for (const line of out.split('\n')) {
    const m = /^(?:\S+\s+)?(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/.exec(line.replace(/^(local|broadcast|unicast)\s+/, ''));
    if (m) found.push([toNumber(m[1]!), m[2] === undefined ? 32 : Number(m[2])]);
  }
  return found;
}

function toNumber(address: string): number {
  return address.split('.').reduce((n, b) => n * 256 + Number(b), 0);
}

function overlaps(a: [number, number], b: [number, number]): boolean {
  const bits = Math.min(a[1], b[1]);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (a[0] & mask) >>> 0 === (b[0] & mask) >>> 0;
}

/**
 * Network objects for a daemon named `<prefix><suffix>`: a /21 of 10.199.0.0/16 picked at
 * random among those no host route overlaps (another daemon's bridges are routes, so a
 * running daemon's subnets are never picked) and claimed for this process
 * (claimTestBlock: a daemon starting at the same moment elsewhere, whose bridge is not
 * routed yet, holds the claim of its block). cleanUpNetwork gives the block back.
 */
export function daemonNetwork(prefix: string, suffix: string): DaemonNetwork {
  const clean = suffix.replace(/[^A-Za-z0-9]/g, '');
  const routes = routedPrefixes().filter(([, bits]) => bits > 0);
  const start = Math.floor(Math.random() * 32);
  for (let i = 0; i < 32; i++) {
    const index = (start + i) % 32;
    const block: [number, number] = [toNumber(`10.199.${index * 8}.0`), 21];
    if (routes.some((r) => overlaps(r, block))) continue;
    if (!claimTestBlock(index)) continue;
    const pool = `10.199.${index * 8}.0/21`;
    return { bridge: `${prefix}${clean}`.slice(0, 15), table: `berth_${prefix}_${clean}`, pool, block: index };
  }
  throw new Error('no free /21 left in 10.199.0.0/16 for a test daemon');
}

/** Links named after the daemon or holding an address of its pool: its bridges, and the veths enslaved to them. */
export function networkObjects(network: DaemonNetwork): string[] {
  const links = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show'], { encoding: 'utf8' })) as Array<{
    ifname: string;
    master?: string;
    addr_info?: Array<{ family: string; local: string }>;
  }>;
  const pool: [number, number] = [toNumber(network.pool.split('/')[0]!), Number(network.pool.split('/')[1])];
  const bridges = new Set(
    links
      .filter(
        (l) => l.ifname === network.bridge || l.addr_info?.some((a) => a.family === 'inet' && overlaps([toNumber(a.local), 32], pool)),
      )
      .map((l) => l.ifname),
  );
  return links.filter((l) => bridges.has(l.ifname) || (l.master !== undefined && bridges.has(l.master))).map((l) => l.ifname);
}

/** Whether the daemon's nftables table exists. */
export function tableExists(table: string): boolean {
  return execFileSync('nft', ['list', 'tables', 'ip'], { encoding: 'utf8' }).split('\n').includes(`table ip ${table}`);
}

/**
 * What a stopped daemon may leave of its network, and what is a leak. Its default bridge
 * and its table stay after berthd stops (as docker0 and Docker's rules do): removed here,
 * not counted. Anything else (a veth, a user network's bridge, an address of its pool)
 * is a leak: reported, then removed so the next suite starts clean.
 */
export function cleanUpNetwork(network: DaemonNetwork): string[] {
  const leaks: string[] = [];
  const objects = networkObjects(network);
  for (const name of objects) if (name !== network.bridge) leaks.push(`link ${name}`);
  // Veths first (deleting one deletes its peer), then the bridges.
  for (const name of [...objects.filter((n) => n !== network.bridge), network.bridge]) {
    try {
      execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' });
    } catch {}
  }
  if (tableExists(network.table)) execFileSync('nft', ['delete', 'table', 'ip', network.table]);
  releaseTestBlock(network.block);
  return leaks;
}

/**
 * The n-th /24 of a daemon's pool (its default bridge has the first, 0; a /21 has eight): a
 * subnet for a test's own network. Tests remove their networks, so the next test may reuse one.
 */
export function poolSubnet(network: DaemonNetwork, n: number): string {
  const [a, b, c] = network.pool.split('/')[0]!.split('.').map(Number) as [number, number, number];
  const count = 2 ** (24 - Number(network.pool.split('/')[1]));
  // Past the pool's last /24 lies another daemon's pool, or past 10.199.255 no address at all.
  if (!Number.isInteger(n) || n < 0 || n >= count) throw new Error(`poolSubnet: ${n} is not one of the ${count} /24s of ${network.pool}`);
  return `${a}.${b}.${c + n}.0/24`;
}
