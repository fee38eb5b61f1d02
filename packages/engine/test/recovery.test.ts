import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { EventBus, ownerLabels, RuntimesToken, requiredPlugins, type StorageDriver, StorageDriverToken, silentLogger } from '@berth/core';
import { ImageStore, importRootfs, loadArchive, saveArchive, writeTar } from '@berth/image';
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

/** What a recovery test works with: its directory and the engine open on it, if any. */
interface Scaffold {
  dir: string;
  /** The engine open now; `stop` and `restart` replace it. */
  readonly engine: Engine;
  /** Close the engine: what is on disk and in the kernel stays, as after a crash (shims outlive it). */
  stop(): Promise<void>;
  /** `stop` if open, then a new engine on the same data root: its start-up is the recovery under test. */
  restart(): Promise<Engine>;
}

/**
 * The scaffold of every test here: a directory of its own (/tmp/berth-unit-recovery-*,
 * data root and exec root inside), an engine on it with busybox loaded; at the end, pass
 * or fail, the engine open then is closed and nothing may be left mounted under the
 * directory (which is removed).
 */
async function withEngine(fn: (t: Scaffold) => Promise<void>): Promise<void> {
  const dir = mkdtempSync('/tmp/berth-unit-recovery-');
  let current: Engine | undefined;
  const t: Scaffold = {
    dir,
    get engine() {
      if (!current) throw new Error('the engine is stopped');
      return current;
    },
    async stop() {
      const engine = current;
      current = undefined;
      await engine?.close();
    },
    async restart() {
      await t.stop();
      current = await open(dir);
      return current;
    },
  };
  try {
    await t.restart();
    await t.engine.images.load(createReadStream(busybox));
    await fn(t);
  } finally {
    await t.stop();
    removeAndAssertNoMounts(dir);
  }
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

test('a restart removes mounted writable layers without a record and interrupted extractions, and keeps the rest', () =>
  withEngine(async (t) => {
    const kept = await t.engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    const keptLayer = (await t.engine.containers.inspect(kept.Id)).GraphDriver;
    await t.stop();

    // The leftovers of a crash: a container's layer mounted on its rootfs, its record never
    // written; a layer half unpacked, mounted on its extraction directory.
    const storage = await driverOf(t.dir);
    const lost = 'd'.repeat(64);
    const lostRootfs = path.join(t.dir, 'data', 'containers', lost, 'rootfs');
    mkdirSync(lostRootfs, { recursive: true });
    mountAll(await storage.prepare(lost, undefined, { labels: ownerLabels('container', lost) }), lostRootfs);
    const extractDir = path.join(t.dir, 'data', 'tmp', 'extract-0011223344556677');
    mkdirSync(extractDir, { recursive: true });
    mountAll(
      await storage.prepare('extract-0011223344556677', undefined, { labels: ownerLabels('image-extract', 'sha256:x') }),
      extractDir,
    );
    // A view the differ made for a diff cut short, mounted under tmp/ as the differ mounts it.
    const differDir = path.join(t.dir, 'data', 'tmp', 'differ-8899aabbccddeeff');
    mkdirSync(differDir, { recursive: true });
    mountAll(await storage.view('differ-8899aabbccddeeff', undefined, { labels: ownerLabels('differ', kept.Id) }), differDir);
    // A snapshot with a 64-hex key that is not a container's: the builder's kind of key.
    await storage.prepare('e'.repeat(64), undefined, { labels: ownerLabels('build', 'b1') });
    await storage.close?.();

    const engine = await t.restart();
    const keys = (await engine.di.resolve(StorageDriverToken).walk()).map((s) => s.key);
    assert.not.ok(keys.includes(lost), 'the orphan container layer is gone');
    assert.not.ok(keys.includes('extract-0011223344556677'), 'the interrupted extraction is gone');
    assert.not.ok(keys.includes('differ-8899aabbccddeeff'), "the interrupted diff's view is gone");
    assert.not.ok(existsSync(differDir), "the interrupted diff's mount is unmounted and gone");
    assert.ok(keys.includes('e'.repeat(64)), 'a snapshot owned by something else stays, whatever its key looks like');
    assert.ok(keys.includes(kept.Id), 'the layer of a container with a record stays');
    assert.not.ok(isMountPoint(lostRootfs), 'the orphan rootfs is unmounted');
    assert.not.ok(existsSync(extractDir), 'the extraction directory is unmounted and gone');
    assert.equal((await engine.containers.inspect(kept.Id)).GraphDriver, keptLayer);
    await engine.containers.remove(kept.Id);
    await engine.di.resolve(StorageDriverToken).remove('e'.repeat(64));
  }));

/** What a daemon that died between the runtime's create and its start leaves: a pending start, a shim, an init that waits. */
async function dieBetweenCreateAndStart(t: Scaffold, id: string): Promise<void> {
  const store = t.engine.di.resolve(ContainerStoreToken);
  const paths = t.engine.di.resolve(ContainerPathsToken);
  const record = store.get(id);
  const running = { ...record.state, Status: 'running' as const, Running: true, Pid: 0, StartedAt: new Date().toISOString() };
  await store.persist({ ...record, state: running, pending: { op: 'start', prior: record.state } });
  const runtime = t.engine.di.resolve(RuntimesToken).get('runc')!;
  await runtime.create({
    id,
    bundle: paths.bundle(id),
    stateDir: paths.stateDir(id),
    log: { format: 'json-file', path: paths.log(id) },
    openStdin: false,
  });
  await t.stop();
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

test('a start the daemon died in before the process ran is undone: Created again, never Up, nothing left running', () =>
  withEngine(async (t) => {
    const { Id } = await t.engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo it ran'] });
    await dieBetweenCreateAndStart(t, Id);
    assert.is(shimsOf(Id).length, 1, 'the shim outlived the daemon, its init waiting');

    const engine = await t.restart();
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
  }));

test('an --rm container whose start the daemon died in is removed at the next start', () =>
  withEngine(async (t) => {
    const { Id } = await t.engine.containers.create({ Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true } });
    const created = await t.engine.containers.create({ Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true } });
    await dieBetweenCreateAndStart(t, Id);

    const engine = await t.restart();
    await assert_rejects(() => engine.containers.inspect(Id));
    await assert_rejects(() => engine.containers.inspect(created.Id));
    assert.equal(shimsOf(Id), []);
    assert.equal(await engine.containers.list({ all: true }), []);
  }));

test('what a create interrupted before its record leaves (a directory, a mounted rootfs) is gone at the next start', () =>
  withEngine(async (t) => {
    const { Id } = await t.engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    const paths = t.engine.di.resolve(ContainerPathsToken);
    await t.stop();
    // The record was the create's last step: without it, the rest is a leftover.
    rmSync(paths.record(Id));
    assert.ok(isMountPoint(paths.rootfs(Id)));

    const engine = await t.restart();
    assert.not.ok(isMountPoint(paths.rootfs(Id)), 'unmounted');
    await engine.di.resolve(ContainerStoreToken).drain();
    assert.not.ok(existsSync(paths.dir(Id)), 'its directory is gone');
    assert.not.ok(
      (await engine.di.resolve(StorageDriverToken).walk()).some((s) => s.key === Id),
      'its writable layer is gone',
    );
  }));

async function assert_rejects(fn: () => Promise<unknown>): Promise<void> {
  const outcome = await fn().then(
    () => 'resolved',
    () => 'rejected',
  );
  assert.is(outcome, 'rejected');
}

test('a shim killed with SIGKILL: its container is reported exited, and its process, cgroup and mount are gone', () =>
  withEngine(async (t) => {
    const engine = t.engine;
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
  }));

test('a run whose record never said so (the write ahead was not durable yet) is found by its runtime state and undone', () =>
  withEngine(async (t) => {
    const { Id } = await t.engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'echo it ran'] });
    const paths = t.engine.di.resolve(ContainerPathsToken);
    const runtime = t.engine.di.resolve(RuntimesToken).get('runc')!;
    // The runtime created the container; the record on disk still says "created".
    await runtime.create({
      id: Id,
      bundle: paths.bundle(Id),
      stateDir: paths.stateDir(Id),
      log: { format: 'json-file', path: paths.log(Id) },
      openStdin: false,
    });
    await t.stop();
    assert.is(shimsOf(Id).length, 1);

    const engine = await t.restart();
    const state = (await engine.containers.inspect(Id)).State;
    assert.equal([state.Status, state.Running], ['created', false]);
    assert.equal(shimsOf(Id), [], 'the parked init and its shim are gone');
    assert.not.ok(existsSync(paths.stateDir(Id)), 'no runtime state is left');
    await engine.containers.remove(Id);
  }));

test('an exited container whose rootfs a cut-short start left mounted is unmounted at the next start', () =>
  withEngine(async (t) => {
    const { Id } = await t.engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    const exited = t.engine.containers.wait(Id, 'next-exit');
    await t.engine.containers.start(Id);
    await exited;
    const paths = t.engine.di.resolve(ContainerPathsToken);
    assert.not.ok(isMountPoint(paths.rootfs(Id)), 'an exit unmounts the rootfs');
    // What a start killed after mounting the rootfs, before its record was written ahead, leaves.
    await t.engine.di.resolve(RootFilesystemsToken).ensureMounted(Id);
    await t.stop();
    assert.ok(isMountPoint(paths.rootfs(Id)));

    const engine = await t.restart();
    assert.is((await engine.containers.inspect(Id)).State.Status, 'exited');
    assert.not.ok(isMountPoint(paths.rootfs(Id)), 'unmounted at start');
    await engine.containers.remove(Id);
  }));

// The image side. An image operation is cut short as a SIGKILL would cut it: the engine
// is stopped, the operation runs on the data root's own ImageStore, and its durable step
// `step` never returns (it and everything after never happen); the next engine's start-up
// must then finish or undo it.

type ImageStep = 'writePending' | 'writeMetadata' | 'saveReferences' | 'removePending' | 'removeMetadata';

/** Run `op` on the stopped engine's image store until it reaches `step`, where it stops for good. */
async function cutShortAt(t: Scaffold, step: ImageStep, op: (store: ImageStore) => Promise<unknown>): Promise<void> {
  const store = await ImageStore.open(path.join(t.dir, 'data'));
  const reached = new Promise<void>((resolve) => {
    Object.defineProperty(store, step, {
      value: () => {
        resolve();
        return new Promise(() => undefined); // the process died here
      },
    });
  });
  void op(store).catch(() => undefined);
  await reached;
}

/** A docker-archive of one new image (a layer of its own), named `name`; made in a scratch store under `dir`. */
async function archiveOf(dir: string, name: string): Promise<Buffer> {
  const scratch = await ImageStore.open(path.join(dir, `scratch-${name.replace(/\W/g, '-')}`));
  const layer = await collect(writeTar([{ path: 'only-in-this-image', type: 'file', body: name }]));
  const [repo, tag] = name.split(':');
  await importRootfs(scratch, [layer], { repo, tag, created: new Date('2024-01-01T00:00:00Z') });
  return collect(await saveArchive(scratch, [name]));
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

function blobFiles(t: Scaffold): string[] {
  return readdirSync(path.join(t.dir, 'data', 'blobs', 'sha256')).sort();
}

test('a load cut short before its names is undone at the next start; images legitimately without a name stay', () =>
  withEngine(async (t) => {
    const engine = t.engine;
    const busyboxId = (await engine.images.inspect('busybox')).Id;
    // Legitimately unnamed: busybox, untagged by rmi -f while a container uses it; and an
    // image whose tag moved to another.
    const user = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
    assert.equal(await engine.images.remove('busybox', { force: true }), [{ Untagged: 'busybox:latest' }]);
    const first = await engine.images.import(Readable.from(await collect(writeTar([{ path: 'a', type: 'file', body: 'a' }]))), {
      repo: 'moved',
      tag: 'v1',
    });
    const second = await engine.images.import(Readable.from(await collect(writeTar([{ path: 'b', type: 'file', body: 'b' }]))), {
      repo: 'other',
      tag: 'v1',
    });
    await engine.images.tag(second, 'moved', 'v1');
    const archive = await archiveOf(t.dir, 'cut/load:v1');
    const blobsBefore = blobFiles(t);
    await t.stop();

    await cutShortAt(t, 'saveReferences', (store) => loadArchive(store, [archive]));
    assert.ok(existsSync(path.join(t.dir, 'data', 'images', 'pending.json')), 'the load wrote its record ahead');
    assert.ok(blobFiles(t).length > blobsBefore.length, 'and stored its blobs');

    const after = await t.restart();
    await assert_rejects(() => after.images.inspect('cut/load:v1'));
    assert.equal((await after.images.list({ all: true })).map((i) => i.Id).sort(), [busyboxId, first, second].sort());
    assert.equal(blobFiles(t), blobsBefore, 'the blobs only the cut-short load stored are gone');
    assert.not.ok(existsSync(path.join(t.dir, 'data', 'images', 'pending.json')), 'the record is gone');
    assert.equal((await after.images.inspect(busyboxId)).RepoTags, []);
    assert.equal((await after.images.inspect(first)).RepoTags, []);
    const exited = after.containers.wait(user.Id, 'next-exit');
    await after.containers.start(user.Id);
    assert.is((await exited).StatusCode, 0, 'the container of the unnamed image still runs');
    await after.containers.remove(user.Id);
  }));

test('an import cut short after its name was written is finished at the next start', () =>
  withEngine(async (t) => {
    await t.stop();
    const layer = await collect(writeTar([{ path: 'imported', type: 'file', body: 'x' }]));
    await cutShortAt(t, 'removePending', (store) => importRootfs(store, [layer], { repo: 'cut/import', tag: 'v1' }));

    const engine = await t.restart();
    const image = await engine.images.inspect('cut/import:v1');
    assert.equal(image.RepoTags, ['cut/import:v1']);
    assert.not.ok(existsSync(path.join(t.dir, 'data', 'images', 'pending.json')), 'the record is gone');
    const { Id } = await engine.containers.create({ Image: 'cut/import:v1', Cmd: ['x'] });
    assert.ok(existsSync(path.join(engine.di.resolve(ContainerPathsToken).rootfs(Id), 'imported')), 'its layer is whole');
    await engine.containers.remove(Id);
  }));

test('an rmi cut short after the image was forgotten is finished: its names, layer snapshots and blobs are gone', () =>
  withEngine(async (t) => {
    const id = await t.engine.images.import(Readable.from(await collect(writeTar([{ path: 'gone', type: 'file', body: 'x' }]))), {
      repo: 'cut/rmi',
      tag: 'v1',
    });
    await t.engine.images.tag(id, 'cut/rmi', 'v2');
    // A container unpacked its layer into a snapshot; it is gone again before the rmi.
    const { Id } = await t.engine.containers.create({ Image: id, Cmd: ['x'] });
    await t.engine.containers.remove(Id);
    const chainId = (await t.engine.images.inspect(id)).RootFS.Layers![0]!;
    assert.ok((await t.engine.di.resolve(StorageDriverToken).walk()).some((s) => s.key === chainId));
    await t.stop();
    await cutShortAt(t, 'saveReferences', (store) => store.delete(id));

    const engine = await t.restart();
    await assert_rejects(() => engine.images.inspect('cut/rmi:v1'));
    await assert_rejects(() => engine.images.inspect('cut/rmi:v2'));
    await assert_rejects(() => engine.images.inspect(id));
    assert.not.ok(
      (await engine.di.resolve(StorageDriverToken).walk()).some((s) => s.key === chainId),
      'its layer snapshot is gone',
    );
    assert.not.ok(blobFiles(t).includes(id.slice(7)), 'its config blob is gone');
  }));

test.run();
