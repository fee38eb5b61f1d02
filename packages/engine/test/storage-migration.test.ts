import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type AnyPluginManifest, isBerthError } from '@berth/core';
import { ImageStore } from '@berth/image';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import btrfs from '@berth/storage-btrfs';
import fuse from '@berth/storage-fuse';
import overlay from '@berth/storage-overlay';
import vfs from '@berth/storage-vfs';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createEngine, type Engine, migrateStorage, readMigrationJournal } from '../src/index.js';
import { writeMigrationJournal } from '../src/storage-migration/migration-journal.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';
import { type LoopBtrfs, mountLoopBtrfs } from './support/loop-btrfs.js';

// `berth storage migrate`'s engine side (migrateStorage) on real drivers: images and a
// stopped container's changes moved overlay→vfs and overlay→btrfs (a loop-mounted btrfs),
// then run on the new driver; the refusals; an explicit driver refused on a data root
// holding another's state. Kills in the middle: test/crash/storage-migration-crash.test.ts.

const busybox = path.resolve(__dirname, '../../../test/fixtures/.cache/busybox.tar');
const plugins: AnyPluginManifest[] = [overlay, vfs, btrfs, fuse, runc, none];
suiteTimeout(test, 60_000);

/**
 * What the stopped container `keep` does: its first run adds /m and a hard link to it,
 * changes /etc/motd, deletes /etc/group and every entry of /usr/sbin (an opaque
 * directory in the layer tar); a later run exits 7 when it finds them so (its changes
 * came with it), 9 otherwise.
 */
const keepScript = [
  'if [ -f /m ]; then grep -q hello /m && [ ! -e /etc/group ] && [ "$(cat /etc/motd)" = changed ] && [ -z "$(ls /usr/sbin)" ] && exit 7; exit 9; fi',
  'echo hello > /m; echo changed > /etc/motd; rm /etc/group; rm -rf /usr/sbin/*; ln /m /m-link; exit 0',
].join('\n');

function engineOn(dir: string, dataRoot: string, storageDriver?: string): Promise<Engine> {
  return createEngine({
    dataRoot,
    execRoot: path.join(dir, 'exec'),
    cgroupParent: `berth-unit-${path.basename(dir).slice(-6)}`,
    plugins,
    ...(storageDriver ? { storageDriver } : {}),
  });
}

async function runToExit(engine: Engine, id: string): Promise<number> {
  await engine.containers.start(id);
  return (await engine.containers.wait(id)).StatusCode;
}

/** On overlay: busybox, the stopped container `keep`, an image committed from it, and a created container. */
async function makeState(engine: Engine): Promise<{ keep: string; created: string }> {
  await engine.images.load(createReadStream(busybox));
  const keep = (await engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', keepScript] }, 'keep')).Id;
  assert.is(await runToExit(engine, keep), 0);
  await engine.filesystems.commit(keep, { repo: 'migrated/commit', tag: 'v1' });
  const created = (await engine.containers.create({ Image: 'migrated/commit:v1', Cmd: ['cat', '/m'] }, 'created')).Id;
  return { keep, created };
}

/** After the migration, on `driver`: the images run, `keep` starts with its changes, the diff is the same. */
async function checkMigrated(engine: Engine, driver: string, ids: { keep: string; created: string }, diffBefore: unknown): Promise<void> {
  assert.is((await engine.info()).Driver, driver);
  const fromBusybox = (await engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'test -e /etc/group && test ! -e /m'] })).Id;
  assert.is(await runToExit(engine, fromBusybox), 0, 'a container of busybox runs on the migrated layers');
  const fromCommit = (await engine.containers.create({ Image: 'migrated/commit:v1', Cmd: ['sh', '-c', keepScript] })).Id;
  assert.is(await runToExit(engine, fromCommit), 7, "a container of the committed image sees the committed layer's files");
  assert.equal(await engine.filesystems.changes(ids.keep), diffBefore, 'docker diff of the stopped container is unchanged');
  assert.is(await runToExit(engine, ids.keep), 7, 'the stopped container starts with its changes');
  assert.is(await runToExit(engine, ids.created), 0, 'the created container starts');
  const inspect = await engine.containers.inspect(ids.keep);
  assert.is(inspect.GraphDriver.Name, driver);
}

async function migrateCase(to: 'vfs' | 'btrfs' | 'fuse'): Promise<void> {
  const dir = mkdtempSync(`/tmp/berth-unit-migrate-${to}-`);
  const dataRoot = path.join(dir, 'data');
  let loop: LoopBtrfs | undefined;
  let engine: Engine | undefined;
  try {
    if (to === 'btrfs') loop = mountLoopBtrfs(dir, dataRoot, '512M');
    engine = await engineOn(dir, dataRoot, 'overlay');
    const ids = await makeState(engine);
    const diffBefore = await engine.filesystems.changes(ids.keep);
    await engine.close();
    engine = undefined;

    const lines: string[] = [];
    const report = await migrateStorage({ dataRoot, execRoot: path.join(dir, 'exec'), to, plugins, progress: (l) => lines.push(l) });
    assert.is(report.from, 'overlay');
    assert.is(report.layers, 2, 'busybox and the committed layer');
    assert.is(report.containers, 2);
    assert.ok(
      lines.some((l) => /^layer sha256:[0-9a-f]{64} on .*, diff ID sha256:[0-9a-f]{64} checked$/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /^container keep on .*, changes sha256:[0-9a-f]{64} checked$/.test(l)),
      lines.join('\n'),
    );
    assert.equal(readdirSync(path.join(dataRoot, 'storage')), [to], "only the new driver's state is left");
    assert.not.ok(existsSync(path.join(dataRoot, 'storage-migration')), 'the journal and its directory are gone');

    engine = await engineOn(dir, dataRoot);
    await checkMigrated(engine, to, ids, diffBefore);
    if (to === 'btrfs') {
      // And back: btrfs as the source, its subvolumes all removed with its state.
      await engine.close();
      engine = undefined;
      const back = await migrateStorage({ dataRoot, execRoot: path.join(dir, 'exec'), to: 'overlay', plugins });
      assert.is(back.from, 'btrfs');
      assert.equal(readdirSync(path.join(dataRoot, 'storage')), ['overlay']);
      assert.is(execFileSync('btrfs', ['subvolume', 'list', '-o', dataRoot], { encoding: 'utf8' }), '', 'no subvolume left');
      engine = await engineOn(dir, dataRoot);
      await checkMigrated(engine, 'overlay', ids, diffBefore);
    }
    for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
  } finally {
    await engine?.close();
    // The loop mount itself is the test's; anything mounted below it is a leak.
    const leaked = mountsUnder(dir).filter((m) => !(loop && m === dataRoot));
    loop?.release();
    removeAndAssertNoMounts(dir);
    assert.equal(leaked, [], 'nothing left mounted on the data root');
  }
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${dir}/`));
}

test('overlay → vfs: images and a stopped container move, digests checked; containers run from them; the stopped one starts with its changes', () =>
  migrateCase('vfs'));

test('overlay → fuse: the same through mount helpers, none left running afterwards', async () => {
  await migrateCase('fuse');
  assert.equal(fuseHelpersUnder('/tmp/berth-unit-migrate-fuse-'), [], 'no FUSE helper of the test left');
});

/** Mount helpers of storage-fuse still serving a path under `prefix`. */
function fuseHelpersUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' - fuse.') && (l.split(' ')[4] ?? '').startsWith(prefix));
}

test('overlay → btrfs on a loop-mounted btrfs, and back to overlay: the same, and no subvolume is left', () => migrateCase('btrfs'));

test('a layer whose bytes do not match its diff ID (its blob altered): refused in the middle, the error says how to go on; --abort leaves the data root as it was', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-migrate-fail-');
  const dataRoot = path.join(dir, 'data');
  let engine: Engine | undefined;
  try {
    engine = await engineOn(dir, dataRoot, 'overlay');
    const ids = await makeState(engine);
    await engine.close();
    engine = undefined;
    const store = await ImageStore.open(dataRoot);
    const layer = (await store.get('migrated/commit:v1')).layers[1]!;
    const blob = path.join(dataRoot, 'blobs', 'sha256', layer.digest.slice('sha256:'.length));
    // The committed layer is an uncompressed tar: one byte of /m's content changed keeps it
    // a valid tar (its headers' checksums do not cover contents), so only its digest tells.
    const bytes = readFileSync(blob);
    const at = bytes.indexOf('hello\n');
    assert.ok(at > 0, 'the layer holds /m');
    bytes[at] = 'j'.charCodeAt(0);
    writeFileSync(blob, bytes);
    let message = '';
    try {
      await migrateStorage({ dataRoot, execRoot: path.join(dir, 'exec'), to: 'vfs', plugins });
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(message, /layer sha256:[0-9a-f]{64} of image sha256:[0-9a-f]{64} could not be copied to vfs: .*diff/i);
    assert.match(message, /the migration from overlay to vfs is unfinished: run it again to finish it, or undo it with --abort/);
    assert.ok(await readMigrationJournal(dataRoot), 'the journal stays: berthd keeps out');
    await migrateStorage({ dataRoot, execRoot: path.join(dir, 'exec'), plugins, abort: true });
    assert.equal(readdirSync(path.join(dataRoot, 'storage')), ['overlay']);
    assert.not.ok(existsSync(path.join(dataRoot, 'storage-migration')));
    engine = await engineOn(dir, dataRoot);
    assert.is((await engine.info()).Driver, 'overlay');
    assert.is(await runToExit(engine, ids.keep), 7, 'the stopped container still starts with its changes');
    for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
  } finally {
    await engine?.close();
    removeAndAssertNoMounts(dir);
  }
});

test('refusals: a running container (named), an unknown driver, the same driver; nothing is changed', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-migrate-refuse-');
  const dataRoot = path.join(dir, 'data');
  const engine = await engineOn(dir, dataRoot, 'overlay');
  let closed = false;
  try {
    await engine.images.load(createReadStream(busybox));
    const running = (await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '60'] }, 'busy-one')).Id;
    await engine.containers.start(running);
    const refusal = async (options: { to: string }, code: string, message: RegExp) => {
      try {
        await migrateStorage({ dataRoot, execRoot: path.join(dir, 'exec'), plugins, ...options });
      } catch (err) {
        assert.ok(isBerthError(err, code as never), `expected ${code}: ${String(err)}`);
        assert.match((err as Error).message, message);
        assert.is(await readMigrationJournal(dataRoot), undefined, 'no journal written');
        assert.not.ok(existsSync(path.join(dataRoot, 'storage-migration')), 'no migration directory left');
        assert.equal(readdirSync(path.join(dataRoot, 'storage')), ['overlay'], 'no other driver state made');
        return;
      }
      assert.unreachable(`migrate --to ${options.to} was not refused`);
    };
    await refusal({ to: 'vfs' }, 'Conflict', /while containers run: busy-one/);
    await refusal({ to: 'zfs' }, 'InvalidArgument', /unknown storage driver "zfs" \(known: overlay, vfs, btrfs, fuse\)/);
    await refusal({ to: 'overlay' }, 'InvalidArgument', /already uses the overlay storage driver/);
    // One migration at a time: a lock naming a live process (the test runner's parent) refuses a second, and stays.
    const lockFile = path.join(dataRoot, 'storage-migration', 'migrate.pid');
    mkdirSync(path.dirname(lockFile));
    writeFileSync(lockFile, `${process.ppid}\n`);
    try {
      await migrateStorage({ dataRoot, execRoot: path.join(dir, 'exec'), plugins, to: 'vfs' });
      assert.unreachable('a second migration was not refused');
    } catch (err) {
      assert.ok(isBerthError(err, 'Conflict'), String(err));
      assert.match((err as Error).message, new RegExp(`another storage migration of .* is running \\(pid ${process.ppid}\\)`));
    }
    assert.is(readFileSync(lockFile, 'utf8'), `${process.ppid}\n`, "the other migration's lock is left alone");
    rmSync(path.dirname(lockFile), { recursive: true });
    // A driver that cannot work here: btrfs on a data root that is not on btrfs.
    await engine.containers.kill(running);
    await engine.containers.wait(running);
    await refusal({ to: 'btrfs' }, 'InvalidArgument', /storage driver btrfs cannot be used here/);
    // The engine still opens the data root on overlay with its containers.
    closed = true;
    await engine.close();
    const again = await engineOn(dir, dataRoot);
    try {
      assert.is((await again.info()).Driver, 'overlay');
      assert.is((await again.containers.list({ all: true })).length, 1);
      for (const c of await again.containers.list({ all: true })) await again.containers.remove(c.Id, { force: true });
    } finally {
      await again.close();
    }
  } finally {
    // A failed assertion above leaves busy-one running: it goes with the test.
    for (const c of closed ? [] : await engine.containers.list({ all: true })) {
      await engine.containers.remove(c.Id, { force: true }).catch(() => undefined);
    }
    await engine.close().catch(() => undefined);
    removeAndAssertNoMounts(dir);
  }
});

test("a data root holding one driver's state is not opened by another, explicit or not; an unfinished migration keeps every engine out", async () => {
  const dir = mkdtempSync('/tmp/berth-unit-migrate-rule-');
  const dataRoot = path.join(dir, 'data');
  try {
    const first = await engineOn(dir, dataRoot, 'overlay');
    await first.images.load(createReadStream(busybox));
    const id = (await first.containers.create({ Image: 'busybox', Cmd: ['true'] })).Id;
    await first.containers.remove(id);
    await first.close();
    let message = '';
    try {
      await (await engineOn(dir, dataRoot, 'vfs')).close();
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(message, /storage driver vfs was chosen with --storage-driver, but .* holds the state of overlay/);
    assert.match(message, /berth storage migrate --to vfs/);
    assert.equal(readdirSync(path.join(dataRoot, 'storage')), ['overlay'], 'vfs made no state');

    // A journal left by a migration: no engine opens the data root until it is finished or undone.
    await writeMigrationJournal(dataRoot, { from: 'overlay', to: 'vfs', phase: 'copy', started: new Date().toISOString(), containers: [] });
    message = '';
    try {
      await (await engineOn(dir, dataRoot)).close();
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(
      message,
      /storage migration of .* from overlay to vfs is unfinished: finish it with berth storage migrate --to vfs, or undo it with berth storage migrate --abort/,
    );
    const undone = await migrateStorage({ dataRoot, execRoot: path.join(dir, 'exec'), plugins, abort: true });
    assert.ok(undone.undone);
    assert.equal(readdirSync(path.join(dataRoot, 'storage')), ['overlay']);
    const reopened = await engineOn(dir, dataRoot);
    assert.is((await reopened.info()).Driver, 'overlay');
    await reopened.close();
  } finally {
    removeAndAssertNoMounts(dir);
  }
});

test.run();
