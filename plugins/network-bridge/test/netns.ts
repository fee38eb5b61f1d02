import { execFileSync } from 'node:child_process';

import { claimTestBlock, releaseTestBlock } from '@berth/testkit';

export { type TestNetns, testNetns } from '@berth/testkit';

/**
 * `count` (at most 8) /24s of 10.199.0.0/16 no route of the host covers, the tests' own
 * range, all in one /21 block claimed for this process (claimTestBlock: a test daemon
 * started beside it never picks the same block before either has routed it), given back
 * when the process exits.
 */
export function freeTestSubnets(count: number): string[] {
  if (count > 8) throw new Error(`freeTestSubnets: ${count} /24s do not fit in one /21 block`);
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  const taken = new Set<number>();
  for (const m of routes.matchAll(/\b10\.199\.(\d+)\.\d+/g)) taken.add(Number(m[1]));
  const start = Math.floor(Math.random() * 32);
  for (let i = 0; i < 32; i++) {
    const index = (start + i) % 32;
    const free = Array.from({ length: 8 }, (_, k) => index * 8 + k).filter((n) => n >= 1 && n <= 253 && !taken.has(n));
    if (free.length < count || !claimTestBlock(index)) continue;
    process.once('exit', () => releaseTestBlock(index));
    return free.slice(0, count).map((n) => `10.199.${n}.0/24`);
  }
  throw new Error(`no /21 block of 10.199.0.0/16 with ${count} free /24s left`);
}

/** Names of the interfaces in the host's namespace. */
export function hostLinks(): string[] {
  return (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string }>).map((l) => l.ifname);
}

/** Whether berth's table of that name exists. */
export function tableExists(table: string): boolean {
  return execFileSync('nft', ['list', 'tables', 'ip'], { encoding: 'utf8' }).split('\n').includes(`table ip ${table}`);
}
