import { readFileSync, rmSync } from 'node:fs';
import { unmountAll } from '@berth/native';
import * as assert from 'uvu/assert';

/**
 * The end of an engine test: assert that nothing was left mounted under its temporary
 * directory, after unmounting whatever was (deepest first) and removing the directory,
 * so a failing test leaves nothing behind either. Never deletes through a mount.
 */
export function removeAndAssertNoMounts(dir: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
  const targets = mounts.map((l) => l.split(' ')[1]!).sort((a, b) => b.length - a.length);
  for (const target of targets) unmountAll(target);
  rmSync(dir, { recursive: true, force: true });
  assert.equal(mounts, [], 'no mount left under the test directory');
}
