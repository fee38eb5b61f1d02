import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { claimTestBlock, releaseTestBlock } from '../src/test-blocks.js';

function withClaims(fn: (dir: string) => void): void {
  const dir = mkdtempSync('/tmp/berth-unit-testkit-blocks-');
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a block is claimed once: a second claim fails until the holder gives it back', () =>
  withClaims((dir) => {
    assert.ok(claimTestBlock(5, dir));
    assert.is(readFileSync(path.join(dir, 'block-5'), 'utf8').trim(), String(process.pid));
    assert.not.ok(claimTestBlock(5, dir), 'held by this process already');
    assert.ok(claimTestBlock(6, dir), 'another block is free');
    releaseTestBlock(5, dir);
    assert.ok(claimTestBlock(5, dir));
  }));

test("a live process's claim holds; a dead one's is taken over; a release never drops another's claim", () =>
  withClaims((dir) => {
    // A pid that exited: a child that ran and was reaped.
    const dead = spawnSync('true').pid;
    writeFileSync(path.join(dir, 'block-1'), `${dead}\n`);
    assert.ok(claimTestBlock(1, dir), 'the dead holder is taken over');
    // PID 1 lives as long as the machine.
    writeFileSync(path.join(dir, 'block-2'), '1\n');
    assert.not.ok(claimTestBlock(2, dir));
    releaseTestBlock(2, dir);
    assert.is(readFileSync(path.join(dir, 'block-2'), 'utf8'), '1\n', "another process's claim stays");
  }));

test('a block outside 10.199.0.0/16 is refused, naming it', () => {
  assert.throws(() => claimTestBlock(32, '/nonexistent'), /claimTestBlock: 32 is not a block of 10\.199\.0\.0\/16/);
});

test.run();
