import { execFileSync } from 'node:child_process';

import { ownsTestBlock } from '@berth/testkit';

export { type TestNetns, testNetns } from '@berth/testkit';

/**
 * The /24s of 10.199.0.0/16 no route of the host covers: the tests' own range; only in the
 * /21 blocks of this process's slot (ownsTestBlock), so a test daemon started beside it
 * never picks the same block before either has routed it.
 */
export function freeTestSubnets(count: number): string[] {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  const taken = new Set<number>();
  for (const m of routes.matchAll(/\b10\.199\.(\d+)\.\d+/g)) taken.add(Number(m[1]));
  const start = 1 + Math.floor(Math.random() * 200);
  const out: string[] = [];
  for (let i = 0; out.length < count && i < 254; i++) {
    const n = ((start + i) % 253) + 1;
    if (!taken.has(n) && ownsTestBlock(n >> 3)) out.push(`10.199.${n}.0/24`);
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
