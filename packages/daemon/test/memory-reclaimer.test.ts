import type { Logger } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collectEverything, exposeGc, MemoryReclaimer } from '../src/index.js';

const MiB = 1024 * 1024;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

function reclaimer(rssValues: number[], quiet = () => true) {
  let i = 0;
  const steps: string[] = [];
  const r = new MemoryReclaimer({
    log: silent,
    quiet,
    rss: () => rssValues[Math.min(i++, rssValues.length - 1)]!,
    gc: () => steps.push('gc'),
    trimMalloc: () => steps.push('trim') > 0,
  });
  return { r, collections: () => steps.filter((s) => s === 'gc').length, steps };
}

test('collects, then trims malloc, after a burst once quiet; the result is the new floor', () => {
  // start (floor 70), check: 150 → collect → 80 after, next check: 90 (only 10 past 80)
  const { r, collections, steps } = reclaimer([70 * MiB, 150 * MiB, 80 * MiB, 90 * MiB]);
  r.start();
  r.stop();
  assert.is(r.check(), true);
  assert.equal(steps, ['gc', 'trim'], 'malloc is trimmed after the collection has freed what held native memory');
  assert.is(r.check(), false, 'growth measured from the new floor');
  assert.is(collections(), 1);
});

test('never while busy, nor for growth under the threshold', () => {
  let busy = true;
  const { r, collections } = reclaimer([70 * MiB, 150 * MiB, 150 * MiB, 80 * MiB, 90 * MiB], () => !busy);
  r.start();
  r.stop();
  assert.is(r.check(), false, 'busy');
  busy = false;
  assert.is(r.check(), true);
  assert.is(collections(), 1);
  const small = reclaimer([70 * MiB, 85 * MiB]); // 15 MiB: under the 16 MiB threshold
  small.r.start();
  small.r.stop();
  assert.is(small.r.check(), false);
});

test('exposeGc returns a working collector without --expose-gc', () => {
  const gc = exposeGc();
  assert.type(gc, 'function');
  gc();
});

test('collectEverything frees unreachable objects and shrinks the heap V8 holds', () => {
  let garbage: Array<{ i: number; s: string }> | undefined = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `item ${i}` }));
  const grown = process.memoryUsage().heapTotal;
  assert.ok(garbage.length > 0);
  garbage = undefined;
  collectEverything();
  const after = process.memoryUsage().heapTotal;
  assert.ok(after < grown, `heapTotal ${grown} → ${after}`);
});

test.run();
