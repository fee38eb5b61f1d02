import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { DiskUsage } from '@berth/core';
import { writeTar } from '@berth/image';
import * as assert from 'uvu/assert';
import { daemonSuite, type TestDaemon } from './harness';

/** history, image prune, system df and system prune through the docker CLI and berth's own verbs, and what they leave on disk. */
const test = daemonSuite('image maintenance', 'overlay');

async function ok(r: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const res = await r;
  assert.is(res.code, 0, res.stderr);
  return res.stdout;
}

async function diskUsage(daemon: TestDaemon): Promise<DiskUsage> {
  const r = await daemon.request('GET', '/v1.41/system/df');
  assert.is(r.status, 200, r.body);
  return JSON.parse(r.body) as DiskUsage;
}

/** The blobs and layer records on disk, and the storage driver's snapshots. */
async function onDisk(daemon: TestDaemon): Promise<{ blobs: string[]; layers: string[]; snapshots: string[] }> {
  const list = (dir: string) => fs.readdir(path.join(daemon.dataRoot, dir)).catch(() => [] as string[]);
  const meta = JSON.parse(await fs.readFile(path.join(daemon.dataRoot, 'storage/overlay/metadata.json'), 'utf8').catch(() => '{}')) as {
    snapshots?: Record<string, unknown>;
  };
  return { blobs: await list('blobs/sha256'), layers: await list('images/layers'), snapshots: Object.keys(meta.snapshots ?? {}) };
}

test('history shows every layer, newest first: the image id on top, <missing> below, created-by and sizes', async ({ daemon }) => {
  await ok(daemon.docker(['run', '--name', 'hist', 'busybox', 'sh', '-c', 'echo twelve bytes > /f']));
  const id = (await ok(daemon.docker(['commit', '-c', 'CMD ["cat", "/f"]', 'hist', 'hist:1']))).trim();
  await ok(daemon.docker(['rm', 'hist']));
  // Removed whatever happens: a later test counts the images.
  try {
    const rows = (await ok(daemon.docker(['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}', 'hist:1'])))
      .trim()
      .split('\n');
    assert.is(rows.length, 2, rows.join('\n'));
    const [top, base] = rows.map((r) => r.split('|'));
    assert.is(top![0], id);
    assert.is(top![1], 'sh -c echo twelve bytes > /f');
    assert.is(top![2], '13B');
    assert.is(base![0], '<missing>');
    const berth = await ok(daemon.berth(['history', 'hist:1']));
    assert.match(berth, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT\n/);
    // The CREATED column is relative to now: a slow machine may be past the first second.
    assert.match(
      berth,
      new RegExp(`\\n${id.slice(7, 19)}\\s+(Less than a second|\\d+ seconds?) ago\\s+sh -c echo twelve bytes > /f\\s+13B`),
    );
    assert.match(berth, /\n<missing>\s+/);
    const quiet = await ok(daemon.berth(['image', 'history', '-q', '--no-trunc', 'hist:1']));
    assert.is(quiet, `${id}\n<missing>\n`);
  } finally {
    await daemon.docker(['rmi', '-f', 'hist:1']);
  }
});

test('system df: shared and unique sizes add up to the layers size; -v lists them', async ({ daemon }) => {
  await ok(daemon.docker(['run', '--name', 'df1', 'busybox', 'sh', '-c', 'echo one > /one']));
  await ok(daemon.docker(['commit', 'df1', 'df:1']));
  await ok(daemon.docker(['run', '--name', 'df2', 'df:1', 'sh', '-c', 'echo two > /two']));
  await ok(daemon.docker(['commit', 'df2', 'df:2']));
  try {
    const usage = await diskUsage(daemon);
    const busybox = usage.Images.find((i) => i.RepoTags?.includes('busybox:latest'))!;
    const one = usage.Images.find((i) => i.RepoTags?.includes('df:1'))!;
    const two = usage.Images.find((i) => i.RepoTags?.includes('df:2'))!;
    // busybox's layer is in all three, df:1's in df:1 and df:2, df:2's own only in df:2.
    assert.is(busybox.SharedSize, busybox.Size);
    assert.is(one.SharedSize, one.Size, "both of df:1's layers are df:2's too");
    assert.is(two.Size - two.SharedSize, 4, 'df:2 holds 4 bytes of its own');
    assert.is(one.Size - busybox.Size, 4, "df:1's own layer");
    const unique = usage.Images.reduce((n, i) => n + (i.Size - i.SharedSize), 0);
    const sharedOnce = busybox.Size + (one.Size - busybox.Size);
    assert.is(unique + sharedOnce, usage.LayersSize, 'unique sizes plus each shared layer once');
    assert.is(busybox.Containers, 1);
    assert.is(one.Containers, 1);
    assert.ok(usage.Containers.every((c) => typeof c.SizeRw === 'number'));
    assert.equal(usage.Volumes, []);
    assert.equal(usage.BuildCache, []);

    const table = await ok(daemon.docker(['system', 'df']));
    assert.match(table, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+3\s+2\s+/);
    const verbose = await ok(daemon.docker(['system', 'df', '-v']));
    // df:2: 4 bytes of its own, no container (df2 runs df:1).
    assert.match(verbose, /\ndf\s+2\s+[0-9a-f]{12}\s+.*\s+4B\s+0\b/);
    const berth = await ok(daemon.berth(['system', 'df']));
    assert.match(berth, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+3\s+2\s+/);
    assert.match(await ok(daemon.berth(['system', 'df', '-v'])), /\ndf\s+2\s+[0-9a-f]{12}\s+.*\s+4B\s+0\n/);
  } finally {
    await daemon.docker(['rm', '-f', 'df1', 'df2']);
    await daemon.docker(['rmi', 'df:2', 'df:1']);
  }
});

test('image prune: dangling by default, -a every unused one, filters by label and age; never an image a container uses', async ({
  daemon,
}) => {
  const rootfs = path.join(daemon.dir, 'prune-rootfs.tar');
  // A one-file rootfs: each import below is its own image (the label or the repo tells them apart).
  const parts: Buffer[] = [];
  for await (const c of writeTar([{ path: 'f', type: 'file', body: 'x' }])) parts.push(c as Buffer);
  await fs.writeFile(rootfs, Buffer.concat(parts));
  const dangling = (await ok(daemon.docker(['import', '-c', 'LABEL which=dangling', rootfs]))).trim();
  await ok(daemon.docker(['import', '-c', 'LABEL which=named', rootfs, 'prune:named']));
  await ok(daemon.docker(['import', '-c', 'LABEL keep=yes', rootfs, 'prune:kept']));
  await ok(daemon.docker(['create', '--name', 'user', 'busybox', 'true']));

  const first = await ok(daemon.docker(['image', 'prune', '-f']));
  assert.match(first, `deleted: ${dangling}`);
  assert.not.match(first, 'untagged');
  assert.is((await daemon.docker(['inspect', dangling])).code, 1, 'the dangling image is gone');

  const old = await ok(daemon.docker(['image', 'prune', '-af', '--filter', 'until=240h']));
  assert.not.match(old, 'prune:', 'until=240h keeps what was made in the last 10 days');
  assert.not.match(old, 'busybox', 'a container uses busybox');

  const byLabel = await ok(daemon.berth(['image', 'prune', '-a', '-f', '--filter', 'label!=keep']));
  assert.match(byLabel, 'untagged: prune:named');
  assert.not.match(byLabel, 'prune:kept');
  // Its one layer is prune:kept's too: nothing is freed until the last image using it goes.
  assert.match(byLabel, /Total reclaimed space: 0B\n$/);
  const left = await ok(daemon.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']));
  assert.equal(left.trim().split('\n').sort(), ['busybox:latest', 'prune:kept']);
  await ok(daemon.docker(['rm', 'user']));
  assert.match(await ok(daemon.docker(['rmi', 'prune:kept'])), 'Deleted: sha256:');
});

test('system prune -a removes stopped containers, then every image left unused, with their blobs and snapshots', async ({ daemon }) => {
  await ok(daemon.docker(['run', '--name', 'sp1', 'busybox', 'sh', '-c', 'echo x > /x']));
  await ok(daemon.docker(['commit', 'sp1', 'sp:1']));
  const running = (await ok(daemon.docker(['run', '-d', 'busybox', 'sleep', '60']))).trim();
  const before = await onDisk(daemon);
  assert.ok(before.snapshots.length >= 3, before.snapshots.join(' '));

  const out = await ok(daemon.docker(['system', 'prune', '-af']));
  assert.match(out, /Deleted Containers:\n[0-9a-f]{64}\n/);
  assert.match(out, 'untagged: sp:1');
  assert.not.match(out, 'busybox', 'the running container keeps busybox');
  const images = await ok(daemon.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']));
  assert.is(images.trim(), 'busybox:latest');
  const after = await onDisk(daemon);
  // busybox: its config and its layer; one layer record; its layer snapshot and the running container's.
  assert.is(after.blobs.length, 2, after.blobs.join(' '));
  assert.is(after.layers.length, 1, after.layers.join(' '));
  assert.is(after.snapshots.length, 2, after.snapshots.join(' '));

  await ok(daemon.docker(['rm', '-f', running]));
  const berth = await ok(daemon.berth(['system', 'prune', '-a', '-f']));
  assert.match(berth, 'untagged: busybox:latest');
  assert.equal(await onDisk(daemon), { blobs: [], layers: [], snapshots: [] }, 'nothing left');
  // The suite's other tests share this daemon: busybox back.
  await ok(daemon.berth(['load', '-i', path.join(__dirname, '../fixtures/.cache/busybox.tar')]));
});

test.run();
