import { execFileSync, spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';

/** A network namespace of the test's own: a `sleep` in `unshare --net`, ended by `close`. */
export interface TestNetns {
  pid: number;
  path: string;
  /** Run a command inside; returns its stdout, throws with its stderr. */
  exec(args: string[]): string;
  /** Whether a command inside exits 0. */
  ok(args: string[]): boolean;
  close(): void;
}

export async function testNetns(): Promise<TestNetns> {
  const child = spawn('unshare', ['--net', 'sleep', '300'], { stdio: 'ignore' });
  const pid = child.pid!;
  const path = `/proc/${pid}/ns/net`;
  const ours = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 200; i++) {
    try {
      if (readlinkSync(path) !== ours) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 10));
  }
  if (readlinkSync(path) === ours) {
    child.kill('SIGKILL');
    throw new Error('unshare --net never made a namespace');
  }
  const exec = (args: string[]) =>
    execFileSync('nsenter', [`--net=${path}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    pid,
    path,
    exec,
    ok(args) {
      try {
        exec(args);
        return true;
      } catch {
        return false;
      }
    },
    close: () => child.kill('SIGKILL'),
  };
}

/** The /24s of 10.199.0.0/16 no route of the host covers: the tests' own range. */
export function freeTestSubnets(count: number): string[] {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  const taken = new Set<number>();
  for (const m of routes.matchAll(/\b10\.199\.(\d+)\.\d+/g)) taken.add(Number(m[1]));
  const start = 1 + Math.floor(Math.random() * 200);
  const out: string[] = [];
  for (let i = 0; out.length < count && i < 254; i++) {
    const n = ((start + i) % 253) + 1;
    if (!taken.has(n)) out.push(`10.199.${n}.0/24`);
  }
  if (out.length < count) throw new Error('no free /24 left in 10.199.0.0/16');
  return out;
}

/** Names of the interfaces in the host's namespace. */
export function hostLinks(): string[] {
  return (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string }>).map((l) => l.ifname);
}

/** Whether berth's table of that name exists. */
export function tableExists(table: string): boolean {
  return execFileSync('nft', ['list', 'tables', 'ip'], { encoding: 'utf8' }).split('\n').includes(`table ip ${table}`);
}
