import { execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mountAll, unmountAll } from '@berth/native';
import { pluginContext, rejectsWith } from '@berth/testkit';
import { suiteTimeout } from '@berth/testkit/timeout';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import plugin, { BtrfsDriver, deleteSubvolume } from '../src/index.js';
import { LoopBtrfs } from './loop-btrfs.js';

const test = suite('btrfs driver');
suiteTimeout(test, 60_000);
const loop = LoopBtrfs.plan();
let n = 0;

test.before(() => loop.create());
test.after(() => loop.destroy());

/** A fresh driver root on the loop filesystem. */
async function freshRoot(): Promise<string> {
  const root = path.join(loop.mountPoint, `root-${++n}`);
  await fs.mkdir(root);
  return root;
}

/** Every subvolume on the loop filesystem, as paths from its top. */
function subvolumes(): string[] {
  const out = execFileSync('btrfs', ['subvolume', 'list', loop.mountPoint], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => / path (.*)$/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined)
    .sort();
}

function subvolumesUnder(root: string): string[] {
  const rel = path.relative(loop.mountPoint, root);
  return subvolumes().filter((p) => p.startsWith(`${rel}/`));
}

async function recordedIds(root: string): Promise<string[]> {
  const meta = JSON.parse(await fs.readFile(path.join(root, 'metadata.json'), 'utf8')) as { snapshots: Record<string, { id: number }> };
  return Object.values(meta.snapshots)
    .map((r) => String(r.id))
    .sort();
}

async function mounted<T>(source: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fs.mkdtemp(path.join(loop.mountPoint, 'mnt-'));
  mountAll([{ type: 'bind', source, options: ['rbind', 'rw'] }], dir);
  try {
    return await fn(dir);
  } finally {
    unmountAll(dir);
    await fs.rmdir(dir);
  }
}

test('init refuses a data root that is not on btrfs, naming it', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-unit-storage-btrfs-plain-'));
  try {
    await rejectsWith(Promise.resolve(plugin.init(pluginContext(dir))), 'PluginSkipped', /not on a btrfs filesystem/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('init enables quotas and declares its capabilities', async () => {
  const driver = await plugin.init(pluginContext(await freshRoot()));
  assert.equal(driver.capabilities, { usage: 'exact', volatile: false, sizeQuota: true, nativeDiff: false });
  const out = execFileSync('btrfs', ['qgroup', 'show', loop.mountPoint], { encoding: 'utf8' });
  assert.match(out, /0\/5/);
});

test('--storage-opt size: writes past the limit fail inside the snapshot (EDQUOT), below it they succeed', async () => {
  const driver = await BtrfsDriver.open(await freshRoot(), { quota: true });
  const [mount] = await driver.prepare('limited', undefined, { sizeBytes: 32 << 20 });
  await rejectsWith(driver.prepare('bad', undefined, { sizeBytes: -1 }), 'InvalidArgument', /positive/);
  await mounted(mount!.source, async (dir) => {
    await fs.writeFile(path.join(dir, 'small'), Buffer.alloc(4 << 20, 1));
    let failure: NodeJS.ErrnoException | undefined;
    const fh = await fs.open(path.join(dir, 'big'), 'w');
    try {
      for (let i = 0; i < 64; i++) {
        await fh.write(Buffer.alloc(1 << 20, 2));
        await fh.sync();
      }
    } catch (err) {
      failure = err as NodeJS.ErrnoException;
    } finally {
      await fh.close().catch(() => undefined);
    }
    assert.ok(failure, 'writing 64 MiB into a 32 MiB snapshot succeeded');
    // EDQUOT is errno 122; Node has no name for it ("Unknown system error -122").
    assert.ok(failure!.errno === -122 || failure!.code === 'ENOSPC', `unexpected error ${failure!.code}`);
  });
  const unlimited = await BtrfsDriver.open(await freshRoot(), { quota: false });
  await rejectsWith(unlimited.prepare('x', undefined, { sizeBytes: 1 << 20 }), 'InvalidArgument', /btrfs storage driver/);
  assert.equal(await unlimited.walk(), [], 'a refused prepare created a snapshot');
});

test('remove deletes the subvolumes a container made inside its snapshot, read-only ones included', async () => {
  const root = await freshRoot();
  const driver = await BtrfsDriver.open(root, { quota: true });
  const [mount] = await driver.prepare('c');
  await mounted(mount!.source, async (dir) => {
    execFileSync('btrfs', ['-q', 'subvolume', 'create', path.join(dir, 'sub')]);
    execFileSync('btrfs', ['-q', 'subvolume', 'create', path.join(dir, 'sub', 'deeper')]);
    execFileSync('btrfs', ['-q', 'subvolume', 'snapshot', '-r', path.join(dir, 'sub'), path.join(dir, 'frozen')]);
  });
  assert.is(subvolumesUnder(root).length, 4);
  await driver.remove('c');
  assert.equal(subvolumesUnder(root), []);
});

test('recovery: a subvolume made by a prepare killed before its record is deleted at open, nested ones too', async () => {
  const root = await freshRoot();
  const driver = await BtrfsDriver.open(root, { quota: true });
  await driver.prepare('kept');
  // The state a kill -9 between `subvolume create` and the metadata write leaves.
  execFileSync('btrfs', ['-q', 'subvolume', 'create', path.join(root, 'snapshots', '99')]);
  execFileSync('btrfs', ['-q', 'subvolume', 'create', path.join(root, 'snapshots', '99', 'inner')]);
  await fs.mkdir(path.join(root, 'snapshots', 'stray-dir'));
  await BtrfsDriver.open(root, { quota: true });
  assert.equal(
    subvolumesUnder(root).map((p) => path.basename(p)),
    (await recordedIds(root)).map(String),
  );
  assert.equal((await fs.readdir(path.join(root, 'snapshots'))).sort(), await recordedIds(root));
});

test('recovery: the record of a prepare killed before its subvolume was made is dropped at open', async () => {
  const root = await freshRoot();
  const driver = await BtrfsDriver.open(root, { quota: true });
  await driver.prepare('kept');
  // The state a kill -9 leaves when the record was written and the snapshot not yet made.
  const file = path.join(root, 'metadata.json');
  const meta = JSON.parse(await fs.readFile(file, 'utf8'));
  meta.snapshots.unmade = { id: meta.nextId, kind: 'active', created: new Date().toISOString() };
  meta.nextId++;
  await fs.writeFile(file, JSON.stringify(meta));
  const reopened = await BtrfsDriver.open(root, { quota: true });
  assert.equal(
    (await reopened.walk()).map((s) => s.key),
    ['kept'],
  );
  await reopened.prepare('unmade');
  assert.is((await reopened.stat('unmade')).kind, 'active', 'the key is free again');
});

test('a prepare whose subvolume cannot be made leaves no record', async () => {
  const root = await freshRoot();
  const driver = await BtrfsDriver.open(root, { quota: true });
  await driver.prepare('base');
  await driver.commit('base-c', 'base');
  // The parent's subvolume taken away under the driver: the snapshot of it fails.
  const parentDir = path.join(
    root,
    'snapshots',
    String(JSON.parse(await fs.readFile(path.join(root, 'metadata.json'), 'utf8')).snapshots['base-c'].id),
  );
  await deleteSubvolume(parentDir);
  await driver.prepare('child', 'base-c').then(
    () => assert.unreachable('a snapshot of a missing subvolume succeeded'),
    (err: Error) => assert.match(err.message, /btrfs/),
  );
  await rejectsWith(driver.stat('child'), 'NotFound');
  const onDisk = JSON.parse(await fs.readFile(path.join(root, 'metadata.json'), 'utf8')).snapshots;
  assert.not.ok('child' in onDisk, 'the failed prepare left its record in metadata.json');
});

test('recovery: a commit killed after its record, before the subvolume became read-only, is finished at open', async () => {
  const root = await freshRoot();
  const driver = await BtrfsDriver.open(root, { quota: true });
  await driver.prepare('layer');
  // The state a kill -9 between commit's record and `property set ro` leaves.
  const file = path.join(root, 'metadata.json');
  const meta = JSON.parse(await fs.readFile(file, 'utf8'));
  const record = meta.snapshots.layer;
  delete meta.snapshots.layer;
  meta.snapshots['layer-c'] = { ...record, kind: 'committed', sealing: true };
  await fs.writeFile(file, JSON.stringify(meta));
  const reopened = await BtrfsDriver.open(root, { quota: true });
  const dir = path.join(root, 'snapshots', String(record.id));
  assert.is(execFileSync('btrfs', ['property', 'get', '-ts', dir, 'ro'], { encoding: 'utf8' }).trim(), 'ro=true');
  assert.is((await reopened.stat('layer-c')).kind, 'committed');
  assert.not.ok(JSON.parse(await fs.readFile(file, 'utf8')).snapshots['layer-c'].sealing);
});

test('recovery: kill -9 at random points of prepare/commit/remove leaves no subvolume without a record', async () => {
  const root = await freshRoot();
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'crash-child.ts'), root], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '--conditions=@berth/source' },
    });
    const exited = new Promise((r) => child.once('exit', r));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`crash child exited (${code}) before it was ready: ${stderr}`)));
    });
    await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 600)));
    child.kill('SIGKILL');
    await exited;
    assert.is(stderr, '', `the crash child failed on its own: ${stderr}`);
    const driver = await BtrfsDriver.open(root, { quota: true });
    const ids = await recordedIds(root);
    const top = subvolumesUnder(root).filter((p) => path.dirname(p) === path.join(path.relative(loop.mountPoint, root), 'snapshots'));
    assert.equal(top.map((p) => path.basename(p)).sort(), ids, `round ${round}: subvolumes and records differ`);
    for (const info of await driver.walk()) {
      if (info.kind !== 'committed') continue;
      const record = JSON.parse(await fs.readFile(path.join(root, 'metadata.json'), 'utf8')).snapshots[info.key];
      const ro = execFileSync('btrfs', ['property', 'get', '-ts', path.join(root, 'snapshots', String(record.id)), 'ro'], {
        encoding: 'utf8',
      });
      assert.is(ro.trim(), 'ro=true', `round ${round}: committed ${info.key} is writable`);
    }
  }
  for (const name of await fs.readdir(root))
    if (name.startsWith('child-mnt-')) await fs.rmdir(path.join(root, '..', name)).catch(() => undefined);
  for (const name of await fs.readdir(path.join(root, 'snapshots'))) await deleteSubvolume(path.join(root, 'snapshots', name));
});

test.run();
