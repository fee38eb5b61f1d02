import { mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import btrfs from '@berth/storage-btrfs';
import overlay from '@berth/storage-overlay';
import vfs from '@berth/storage-vfs';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createEngine } from '../src/index.js';
import { type LoopBtrfs, mountLoopBtrfs } from './support/loop-btrfs.js';

// The storage driver berth picks when the operator names none, and the reason it gives
// (`docker info`'s DriverStatus, the plugin's status): btrfs on a data root on btrfs,
// the first of the kind's priority that works elsewhere.
suiteTimeout(test, 60_000);

test('with no choice, a data root on btrfs runs btrfs, and info says why', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-storage-choice-');
  const dataRoot = path.join(dir, 'data');
  let loop: LoopBtrfs | undefined;
  try {
    loop = mountLoopBtrfs(dir, dataRoot);
    const engine = await createEngine({
      dataRoot: path.join(dataRoot, 'berth'),
      execRoot: path.join(dir, 'exec'),
      cgroupParent: `berth-unit-${path.basename(dir).slice(-6)}`,
      plugins: [overlay, vfs, btrfs, runc, none],
    });
    try {
      const info = await engine.info();
      assert.is(info.Driver, 'btrfs');
      const because = info.DriverStatus.find(([k]) => k === 'Chosen because');
      assert.match(because?.[1] ?? '', /is on btrfs/);
      const overlayStatus = engine.plugins().find((p) => p.kind === 'storage' && p.name === 'overlay');
      assert.match(overlayStatus?.reason ?? '', /not selected: this daemon uses btrfs/);
    } finally {
      await engine.close();
    }
  } finally {
    loop?.release();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('elsewhere, the first of the priority that works, named with the others', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-storage-choice-');
  try {
    const engine = await createEngine({
      dataRoot: path.join(dir, 'data'),
      execRoot: path.join(dir, 'exec'),
      cgroupParent: `berth-unit-${path.basename(dir).slice(-6)}`,
      plugins: [vfs, overlay, runc, none],
    });
    try {
      const info = await engine.info();
      assert.is(info.Driver, 'overlay');
      assert.equal(
        info.DriverStatus.find(([k]) => k === 'Chosen because'),
        ['Chosen because', 'the first of overlay, vfs that works here'],
      );
    } finally {
      await engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
