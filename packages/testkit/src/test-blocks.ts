import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

// Which of 10.199.0.0/16's thirty-two /21 blocks a test process may put subnets in. Tests
// that put subnets on the host (the e2e harness's daemons, the bridge driver's tests) pick
// a block no host route covers, but a daemon routes its block only once it has started:
// two processes started at the same moment (scripts/run-tests.js runs several side by
// side; other people's runs share the machine) could pick the same one. A claim closes
// that gap: a file per block, made with O_EXCL, naming the process that holds it; a claim
// whose process has died is taken over. The lifecycle: `claimTestBlock` before the block's
// first subnet is made, `releaseTestBlock` once its last is gone (a process that exits
// without releasing leaves a claim the next claimer takes over).

/** Where the claims live: one file per block, `block-<index>`, holding the holder's pid. */
export const TEST_BLOCK_CLAIMS = '/run/berth-test-blocks';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claim /21 block `index` (0-31: 10.199.<8 × index>.0/21) for this process: true when it
 * is now this process's, false when another claim (of this process or a live other) holds
 * it. `claims`: the directory of claims (its tests use one of their own).
 */
export function claimTestBlock(index: number, claims = TEST_BLOCK_CLAIMS): boolean {
  if (!Number.isInteger(index) || index < 0 || index > 31)
    throw new Error(`claimTestBlock: ${index} is not a block of 10.199.0.0/16 (0-31)`);
  mkdirSync(claims, { recursive: true });
  const file = path.join(claims, `block-${index}`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = holderOf(file);
    // A holder still writing its pid, or alive: the block is taken.
    if (holder === undefined || alive(holder)) return false;
    // Its process died without releasing it.
    rmSync(file, { force: true });
  }
  return false;
}

/** Give block `index` back, if this process holds it. */
export function releaseTestBlock(index: number, claims = TEST_BLOCK_CLAIMS): void {
  const file = path.join(claims, `block-${index}`);
  if (holderOf(file) === process.pid) rmSync(file, { force: true });
}
