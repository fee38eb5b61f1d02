import * as path from 'node:path';
import { suiteTimeout } from '@berth/testkit/timeout';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { busyboxTar, TestDaemon } from './harness';

/**
 * `berth storage migrate --to btrfs` through the CLI on a berthd's data root (a
 * loop-mounted btrfs of the suite's own, run on overlay first): the images and a stopped
 * container move, and berthd, started again on btrfs, runs them (an explicit btrfs is
 * refused while overlay's state is there). Kills in the middle and the refusals: test/crash/storage-migration-crash.test.ts.
 */
const test = suite<{ d: TestDaemon }>('storage migrate overlay → btrfs');
suiteTimeout(test, 60_000);

test.before(async (ctx) => {
  ctx.d = new TestDaemon('btrfs'); // the data root on btrfs ...
  ctx.d.storageDriver = 'overlay'; // ... run on overlay until the migration
  await ctx.d.start();
  assert.is((await ctx.d.berth(['load', '-i', busyboxTar])).code, 0);
});

test.after(async (ctx) => {
  const leaks = await ctx.d.destroy();
  assert.equal(leaks, [], `leaked: ${leaks.join(', ')}`);
});

test('images and a stopped container move to btrfs; berthd opens the data root on btrfs and runs them', async ({ d }) => {
  await d.ok(['run', '--name', 'keep', 'busybox', 'sh', '-c', 'echo kept > /kept; rm -f /etc/group; test ! -e /etc/group']);
  await d.ok(['commit', 'keep', 'moved/img:v1']);
  const diff = await d.ok(['diff', 'keep']);
  await d.kill('SIGTERM');
  const r = await d.berth([
    'storage',
    'migrate',
    '--to',
    'btrfs',
    '--data-root',
    d.dataRoot,
    '--exec-root',
    d.execRoot,
    '--config-file',
    path.join(d.dir, 'none.json'),
  ]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /done: .* now uses btrfs \(2 layers, 1 containers moved\)/);
  d.storageDriver = 'btrfs';
  await d.start();
  const info = JSON.parse(await d.ok(['info', '--format', '{{json .}}'])) as { Driver: string; DriverStatus: string[][] };
  assert.is(info.Driver, 'btrfs');
  assert.is(await d.ok(['diff', 'keep']), diff);
  assert.is(await d.ok(['start', '-a', 'keep']), '', 'it starts again on its moved layer');
  assert.is(await d.ok(['run', '--rm', 'moved/img:v1', 'sh', '-c', 'cat /kept; test ! -e /etc/group && echo no-group']), 'kept\nno-group');
});

test.run();
