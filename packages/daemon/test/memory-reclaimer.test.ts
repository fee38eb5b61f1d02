import type { Logger } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exposeGc, MemoryReclaimer } from '../src/index.js';

const MiB = 1024 * 1024;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

function reclaimer(rssValues: number[], quiet = () => true) {
  let i = 0;
  let collections = 0;
  const r = new MemoryReclaimer({
    log: silent,
    quiet,
    rss: () => rssValues[Math.min(i++, rssValues.length - 1)]!,
    gc: () => collections++,
  });
  return { r, collections: () => collections };
}

test('collects twice after a burst once quiet; the result is the new floor', async () => {
  // start (floor 70), check: 150 → collect → 80 after, next check: 90 (only 10 past 80)
  const { r, collections } = reclaimer([70 * MiB, 150 * MiB, 80 * MiB, 90 * MiB]);
  r.start();
  r.stop();
  assert.is(await r.check(), true);
  assert.is(collections(), 2);
  assert.is(await r.check(), false, 'growth measured from the new floor');
  assert.is(collections(), 2);
});

test('never while busy, nor for growth under the threshold', async () => {
  let busy = true;
  const { r, collections } = reclaimer([70 * MiB, 150 * MiB, 150 * MiB, 80 * MiB, 90 * MiB], () => !busy);
  r.start();
  r.stop();
  assert.is(await r.check(), false, 'busy');
  busy = false;
  assert.is(await r.check(), true);
  assert.is(collections(), 2);
  const small = reclaimer([70 * MiB, 90 * MiB]);
  small.r.start();
  small.r.stop();
  assert.is(await small.r.check(), false);
});

test('exposeGc returns a working collector without --expose-gc', () => {
  const gc = exposeGc();
  assert.type(gc, 'function');
  gc();
});

test.run();
