import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { EventBus, ownerLabels, RuntimesToken, requiredPlugins, type StorageDriver, StorageDriverToken, silentLogger } from '@berth/core';
import { isMountPoint, mountAll } from '@berth/native';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import overlay from '@berth/storage-overlay';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ContainerPathsToken, ContainerStoreToken, createEngine, type Engine, RootFilesystemsToken } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';

// What a crash leaves between two engines on one data root, and what the next engine's
// start-up makes of it: it decides from the snapshots' owner labels and the records.
const busybox = path.resolve(__dirname, '../../../test/fixtures/.cache/busybox.tar');

function open(dir: string): Promise<Engine> {
  return createEngine({
    dataRoot: path.join(dir, 'data'),
    execRoot: path.join(dir, 'exec'),
    cgroupParent: 'berth-unit-recovery',
    plugins: [overlay, runc, none],
  });
}

/** The storage driver of the engine's data root, opened as the engine opens it (the engine being closed). */
async function driverOf(dir: string): Promise<StorageDriver> {
  const root = path.join(dir, 'data', 'storage', 'overlay');
  const ctx = { root, execRoot: root, dataRoot: path.join(dir, 'data'), cgroupParent: 'berth-unit-recovery', config: {} };
  return overlay.init({
    ...ctx,
    events: new EventBus(),
    log: silentLogger,
    plugins: requiredPlugins('storage/overlay', [], () => undefined),
  });
}

test('a restart removes mounted writable layers without a record and interrupted extractions, and keeps the rest', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-recovery-');
  try {
    let engine = await open(dir);
    await engine.images.load(createReadStream(busybox));
    const kept = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    const keptLayer = (await engine.containers.inspect(kept.Id)).GraphDriver;
    await engine.close();

    // The leftovers of a crash: a container's layer mounted on its rootfs, its record never
    // written; a layer half unpacked, mounted on its extraction directory.
    const storage = await driverOf(dir);
    const lost = 'd'.repeat(64);
    const lostRootfs = path.join(dir, 'data', 'containers', lost, 'rootfs');
    mkdirSync(lostRootfs, { recursive: true });
    mountAll(await storage.prepare(lost, undefined, { labels: ownerLabels('container', lost) }), lostRootfs);
    const extractDir = path.join(dir, 'data', 'tmp', 'extract-0011223344556677');
    mkdirSync(extractDir, { recursive: true });
    mountAll(
      await storage.prepare('extract-0011223344556677', undefined, { labels: ownerLabels('image-extract', 'sha256:x') }),
      extractDir,
    );
    // A snapshot with a 64-hex key that is not a container's: the builder's kind of key.
    await storage.prepare('e'.repeat(64), undefined, { labels: ownerLabels('build', 'b1') });
    await storage.close?.();

    engine = await open(dir);
    try {
      const keys = (await engine.di.resolve(StorageDriverToken).walk()).map((s) => s.key);
      assert.not.ok(keys.includes(lost), 'the orphan container layer is gone');
      assert.not.ok(keys.includes('extract-0011223344556677'), 'the interrupted extraction is gone');
      assert.ok(keys.includes('e'.repeat(64)), 'a snapshot owned by something else stays, whatever its key looks like');
      assert.ok(keys.includes(kept.Id), 'the layer of a container with a record stays');
      assert.not.ok(isMountPoint(lostRootfs), 'the orphan rootfs is unmounted');
      assert.not.ok(existsSync(extractDir), 'the extraction directory is unmounted and gone');
      assert.equal((await engine.containers.inspect(kept.Id)).GraphDriver, keptLayer);
      await engine.containers.remove(kept.Id);
      const storageAgain = engine.di.resolve(StorageDriverToken);
      await storageAgain.remove('e'.repeat(64));
    } finally {
      await engine.close();
    }
  } finally {
    removeAndAssertNoMounts(dir);
  }
});

/** What a daemon that died between the runtime's create and its start leaves: a pending start, a shim, an init that waits. */
async function dieBetweenCreateAndStart(engine: Engine, id: string): Promise<void> {
  const store = engine.di.resolve(ContainerStoreToken);
  const paths = engine.di.resolve(ContainerPathsToken);
  const record = store.get(id);
  const running = { ...record.state, Status: 'running' as const, Running: true, Pid: 0, StartedAt: new Date().toISOString() };
  await store.persist({ ...record, state: running, pending: { op: 'start', prior: record.state } });
  const runtime = engine.di.resolve(RuntimesToken).get('runc')!;
  await runtime.create({ id, bundle: paths.bundle(id), stateDir: paths.stateDir(id), logPath: paths.log(id), openStdin: false });
  await engine.close();
}

function shimsOf(id: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('berth-shim') && cmd.includes(id)) pids.push(Number(pid));
    } catch {}
  }
  return pids;
}

test('a start the daemon died in before the process ran is undone: Created again, never Up, nothing left running', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-recovery-');
  let engine: Engine | undefined;
  try {
    engine = await open(dir);
    await engine.images.load(createReadStream(busybox));
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo it ran'] });
    await dieBetweenCreateAndStart(engine, Id);
    assert.is(shimsOf(Id).length, 1, 'the shim outlived the daemon, its init waiting');

    engine = await open(dir);
    const state = (await engine.containers.inspect(Id)).State;
    assert.equal([state.Status, state.Running, state.Pid], ['created', false, 0]);
    assert.match(state.Error, /never ran/);
    assert.equal(shimsOf(Id), [], 'the waiting init and its shim are gone');
    assert.not.ok(existsSync(engine.di.resolve(ContainerPathsToken).stateDir(Id)), 'no runtime state is left');
    assert.is(readFileSync(engine.di.resolve(ContainerPathsToken).log(Id), 'utf8'), '', 'the command never ran');

    // And it starts normally afterwards.
    const exited = engine.containers.wait(Id, 'next-exit');
    await engine.containers.start(Id);
    assert.is((await exited).StatusCode, 0);
    assert.match(readFileSync(engine.di.resolve(ContainerPathsToken).log(Id), 'utf8'), /it ran/);
    await engine.containers.remove(Id);
  } finally {
    await engine?.close();
    removeAndAssertNoMounts(dir);
  }
});

test('an --rm container whose start the daemon died in is removed at the next start', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-recovery-');
  let engine: Engine | undefined;
  try {
    engine = await open(dir);
    await engine.images.load(createReadStream(busybox));
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true } });
    const created = await engine.containers.create({ Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true } });
    await dieBetweenCreateAndStart(engine, Id);

    engine = await open(dir);
    await assert_rejects(() => engine!.containers.inspect(Id));
    await assert_rejects(() => engine!.containers.inspect(created.Id));
    assert.equal(shimsOf(Id), []);
    assert.equal(await engine.containers.list({ all: true }), []);
  } finally {
    await engine?.close();
    removeAndAssertNoMounts(dir);
  }
});

test('what a create interrupted before its record leaves (a directory, a mounted rootfs) is gone at the next start', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-recovery-');
  let engine: Engine | undefined;
  try {
    engine = await open(dir);
    await engine.images.load(createReadStream(busybox));
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    const paths = engine.di.resolve(ContainerPathsToken);
    await engine.close();
    // The record was the create's last step: without it, the rest is a leftover.
    rmSync(paths.record(Id));
    assert.ok(isMountPoint(paths.rootfs(Id)));

    engine = await open(dir);
    assert.not.ok(isMountPoint(paths.rootfs(Id)), 'unmounted');
    await engine.di.resolve(ContainerStoreToken).drain();
    assert.not.ok(existsSync(paths.dir(Id)), 'its directory is gone');
    assert.not.ok(
      (await engine.di.resolve(StorageDriverToken).walk()).some((s) => s.key === Id),
      'its writable layer is gone',
    );
  } finally {
    await engine?.close();
    removeAndAssertNoMounts(dir);
  }
});

async function assert_rejects(fn: () => Promise<unknown>): Promise<void> {
  const outcome = await fn().then(
    () => 'resolved',
    () => 'rejected',
  );
  assert.is(outcome, 'rejected');
}

test('a shim killed with SIGKILL: its container is reported exited, and its process, cgroup and mount are gone', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-recovery-');
  let engine: Engine | undefined;
  try {
    engine = await open(dir);
    await engine.images.load(createReadStream(busybox));
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '60'] });
    await engine.containers.start(Id);
    const init = (await engine.containers.inspect(Id)).State.Pid;
    const paths = engine.di.resolve(ContainerPathsToken);
    const [shim] = shimsOf(Id);
    assert.ok(shim, 'the container has a shim');
    const exited = engine.containers.wait(Id, 'next-exit');
    process.kill(shim!, 'SIGKILL');
    const { StatusCode } = await exited;
    const state = (await engine.containers.inspect(Id)).State;
    assert.equal([state.Status, state.Running, StatusCode], ['exited', false, 255]);
    assert.not.ok(
      existsSync(`/proc/${init}`) && readFileSync(`/proc/${init}/cmdline`, 'utf8').startsWith('sleep'),
      'the container process is gone',
    );
    assert.not.ok(existsSync(`/sys/fs/cgroup/memory/berth-unit-recovery/${Id}`), 'its cgroup is gone');
    assert.not.ok(isMountPoint(paths.rootfs(Id)), 'its rootfs is unmounted');
    await engine.containers.remove(Id);
  } finally {
    await engine?.close();
    removeAndAssertNoMounts(dir);
  }
});

test('a run whose record never said so (the write ahead was not durable yet) is found by its runtime state and undone', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-recovery-');
  let engine: Engine | undefined;
  try {
    engine = await open(dir);
    await engine.images.load(createReadStream(busybox));
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo it ran'] });
    const paths = engine.di.resolve(ContainerPathsToken);
    const runtime = engine.di.resolve(RuntimesToken).get('runc')!;
    // The runtime created the container; the record on disk still says "created".
    await runtime.create({ id: Id, bundle: paths.bundle(Id), stateDir: paths.stateDir(Id), logPath: paths.log(Id), openStdin: false });
    await engine.close();
    assert.is(shimsOf(Id).length, 1);

    engine = await open(dir);
    const state = (await engine.containers.inspect(Id)).State;
    assert.equal([state.Status, state.Running], ['created', false]);
    assert.equal(shimsOf(Id), [], 'the parked init and its shim are gone');
    assert.not.ok(existsSync(paths.stateDir(Id)), 'no runtime state is left');
    await engine.containers.remove(Id);
  } finally {
    await engine?.close();
    removeAndAssertNoMounts(dir);
  }
});

test('an exited container whose rootfs a cut-short start left mounted is unmounted at the next start', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-recovery-');
  let engine: Engine | undefined;
  try {
    engine = await open(dir);
    await engine.images.load(createReadStream(busybox));
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    const exited = engine.containers.wait(Id, 'next-exit');
    await engine.containers.start(Id);
    await exited;
    const paths = engine.di.resolve(ContainerPathsToken);
    assert.not.ok(isMountPoint(paths.rootfs(Id)), 'an exit unmounts the rootfs');
    // What a start killed after mounting the rootfs, before its record was written ahead, leaves.
    await engine.di.resolve(RootFilesystemsToken).ensureMounted(Id);
    await engine.close();
    assert.ok(isMountPoint(paths.rootfs(Id)));

    engine = await open(dir);
    assert.is((await engine.containers.inspect(Id)).State.Status, 'exited');
    assert.not.ok(isMountPoint(paths.rootfs(Id)), 'unmounted at start');
    await engine.containers.remove(Id);
  } finally {
    await engine?.close();
    removeAndAssertNoMounts(dir);
  }
});

test.run();
