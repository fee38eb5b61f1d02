import { readFileSync, rmSync } from 'node:fs';
import * as assert from 'uvu/assert';

/**
 * The end of an engine test: remove its temporary directory and assert that nothing was
 * left mounted under it (the directory goes first, whatever the assertion finds).
 */
export function removeAndAssertNoMounts(dir: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
  rmSync(dir, { recursive: true, force: true });
  assert.equal(mounts, [], 'no mount left under the test directory');
}
