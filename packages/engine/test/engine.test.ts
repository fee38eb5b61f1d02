import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Conflict, InvalidArgument, NotFound, statusOf } from '@berth/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Engine, ImageStoreToken } from '../src/index.js';
import { openTestEngine, startTestEngine, stopTestEngine } from './support/test-engine.js';

// The engine with real plugins on the real kernel: containers through ContainerService
// directly, without HTTP. test/e2e covers the same ground through berthd and the CLIs.

interface Ctx {
  dir: string;
  engine: Engine;
}
const test = suite<Ctx>('engine with real plugins');

test.before(async (ctx) => {
  try {
    Object.assign(ctx, await startTestEngine('engine'));
  } catch (err) {
    console.error('engine set-up failed', err);
    throw err;
  }
});

test.after((ctx) => stopTestEngine(ctx));

/** Run a container to its end, collecting what it wrote through an attach made before start. */
async function run(engine: Engine, body: Parameters<Engine['containers']['create']>[0]) {
  const { Id } = await engine.containers.create(body);
  const session = await engine.containers.attach(Id, { stdout: true, stderr: true, stream: true });
  const out: string[] = [];
  session.onOutput((stream, data) => out.push(`${stream}:${data}`));
  const waited = engine.containers.wait(Id, 'next-exit');
  await engine.containers.start(Id);
  const { StatusCode } = await waited;
  await session.ended;
  return { id: Id, code: StatusCode, out: out.join('') };
}

test('attach before start receives all output; wait reports the exit code', async ({ engine }) => {
  const r = await run(engine, { Image: 'busybox', Cmd: ['sh', '-c', 'echo one; echo two >&2; exit 4'] });
  assert.is(r.code, 4);
  assert.ok(r.out.includes('stdout:one\n') && r.out.includes('stderr:two\n'), r.out);
  const inspect = await engine.containers.inspect(r.id);
  assert.equal([inspect.State.Status, inspect.State.ExitCode, inspect.State.Running], ['exited', 4, false]);
  const logs = await engine.containers.logs(r.id, { stdout: true, stderr: true });
  const lines: string[] = [];
  for await (const l of logs.lines) lines.push(`${l.stream}:${l.data}`);
  assert.equal(lines.sort(), ['stderr:two\n', 'stdout:one\n']);
  await engine.containers.remove(r.id);
  await assert_rejects(() => engine.containers.inspect(r.id), NotFound);
});

test('an exited container holds no mount and can start again', async ({ engine, dir }) => {
  const r = await run(engine, { Image: 'busybox', Cmd: ['true'] });
  const rootfs = path.join(dir, 'data/containers', r.id, 'rootfs');
  assert.not.ok(readFileSync('/proc/self/mounts', 'utf8').includes(rootfs), 'rootfs unmounted after exit');
  const again = engine.containers.wait(r.id, 'next-exit');
  await engine.containers.start(r.id);
  assert.is((await again).StatusCode, 0);
  await engine.containers.remove(r.id);
});

test('AutoRemove removes the container when it exits; wait(removed) resolves after', async ({ engine, dir }) => {
  const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', 'exit 2'], HostConfig: { AutoRemove: true } });
  const removed = engine.containers.wait(Id, 'removed');
  await engine.containers.start(Id);
  assert.is((await removed).StatusCode, 2);
  assert.not.ok(existsSync(path.join(dir, 'data/containers', Id)));
});

test('stop sends SIGTERM, then SIGKILL after the timeout; kill of a stopped container is a conflict', async ({ engine }) => {
  // PID 1 traps SIGTERM, says so and carries on: only a SIGKILL after the TERM ends it.
  const { Id } = await engine.containers.create({
    Image: 'busybox',
    Cmd: ['sh', '-c', 'trap "echo got TERM" TERM; echo ready; while :; do sleep 0.1; done'],
  });
  const session = await engine.containers.attach(Id, { stdout: true, stderr: true, stream: true });
  const out: string[] = [];
  session.onOutput((_stream, data) => out.push(String(data)));
  await engine.containers.start(Id);
  for (let i = 0; i < 200 && !out.join('').includes('ready'); i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(out.join(''), 'ready', 'the trap is set before stop');
  await engine.containers.stop(Id, 1);
  await session.ended;
  assert.match(out.join(''), 'got TERM', 'SIGTERM came first, and the container outlived it');
  assert.is((await engine.containers.inspect(Id)).State.ExitCode, 137);
  await assert_rejects(() => engine.containers.kill(Id), Conflict);
  await engine.containers.remove(Id);
});

test('remove of a running container needs force', async ({ engine }) => {
  const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '60'] });
  await engine.containers.start(Id);
  await assert_rejects(() => engine.containers.remove(Id), Conflict);
  await engine.containers.remove(Id, { force: true });
  assert.equal(await engine.containers.list({ all: true, filters: { id: [Id] } }), []);
});

test('bad input fails before anything is kept', async ({ engine, dir }) => {
  // Earlier tests' removals may still be deleting in the background (.removing-*).
  const records = () => readdirSync(path.join(dir, 'data/containers')).filter((n) => !n.startsWith('.removing-'));
  const before = records();
  await assert_rejects(() => engine.containers.create({ Image: 'nosuch' }), NotFound);
  await assert_rejects(() => engine.containers.create({ Image: 'busybox', HostConfig: { Memory: 1024 } }), InvalidArgument);
  await assert_rejects(() => engine.containers.create({ Image: 'busybox', HostConfig: { CapAdd: ['NOPE'] } }), InvalidArgument);
  await assert_rejects(() => engine.containers.create({ Image: 'busybox', HostConfig: { Runtime: 'nosuch' } }), InvalidArgument);
  await assert_rejects(() => engine.containers.create({ Image: 'busybox' }, 'bad name!'), InvalidArgument);
  assert.equal(records(), before);
  const started = await engine.containers.create({ Image: 'busybox', Cmd: ['nosuchcommand'] });
  await assert_rejects(() => engine.containers.start(started.Id), InvalidArgument);
  assert.is((await engine.containers.inspect(started.Id)).State.Running, false);
  // The record written ahead as "running" while runc created the container ends with the failure.
  const onDisk = JSON.parse(readFileSync(path.join(dir, 'data/containers', started.Id, 'container.json'), 'utf8'));
  assert.is(onDisk.state.Running, false);
  assert.match(onDisk.state.Error, /nosuchcommand/);
  await engine.containers.remove(started.Id);
});

test('a start the daemon died in (record running, no shim) is an exit with 255 for the next engine', async (ctx) => {
  const { Id } = await ctx.engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
  await ctx.engine.close();
  // What a daemon that died after writing the record ahead, before runc created anything, leaves.
  const file = path.join(ctx.dir, 'data/containers', Id, 'container.json');
  const record = JSON.parse(readFileSync(file, 'utf8'));
  record.state = { ...record.state, Status: 'running', Running: true, Pid: 0 };
  writeFileSync(file, JSON.stringify(record));
  ctx.engine = await openTestEngine(ctx.dir);
  const state = (await ctx.engine.containers.inspect(Id)).State;
  assert.is(state.Running, false);
  assert.is(state.Status, 'exited');
  assert.is(state.ExitCode, 255);
  await ctx.engine.containers.remove(Id);
});

test("an --rm container's writable layer is mounted volatile, another container's is not", async ({ engine, dir }) => {
  const rm = await engine.containers.create({ Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true } });
  const kept = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
  const options = (id: string) =>
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.includes(` ${path.join(dir, 'data/containers', id, 'rootfs')} `)) ?? '';
  assert.match(options(rm.Id), /[ ,](fsync=)?volatile(,|$)/);
  assert.not.match(options(kept.Id), /volatile/);
  assert.match(options(kept.Id), / - overlay /);
  await engine.containers.remove(rm.Id);
  await engine.containers.remove(kept.Id);
});

test('list filters by status, name and label', async ({ engine }) => {
  const a = await engine.containers.create({ Image: 'busybox', Cmd: ['true'], Labels: { role: 'a' } }, 'filter-a');
  const b = await engine.containers.create({ Image: 'busybox', Cmd: ['true'], Labels: { role: 'b' } }, 'filter-b');
  const ids = async (filters: Record<string, string[]>) => (await engine.containers.list({ all: true, filters })).map((c) => c.Id);
  assert.equal(await ids({ label: ['role=a'] }), [a.Id]);
  assert.equal((await ids({ name: ['filter-'] })).sort(), [a.Id, b.Id].sort());
  assert.equal(await ids({ status: ['created'], name: ['filter-b'] }), [b.Id]);
  await assert_rejects(() => engine.containers.list({ filters: { bogus: ['x'] } }), InvalidArgument);
  await engine.containers.remove(a.Id);
  await engine.containers.remove(b.Id);
});

test('a new engine on the same data root re-adopts a running container', async (ctx) => {
  const { Id } = await ctx.engine.containers.create({
    Image: 'busybox',
    Cmd: ['sh', '-c', 'trap "exit 9" TERM; while true; do sleep 0.1; done'],
  });
  await ctx.engine.containers.start(Id);
  await ctx.engine.close();
  ctx.engine = await openTestEngine(ctx.dir);
  assert.is((await ctx.engine.containers.inspect(Id)).State.Running, true);
  await ctx.engine.containers.stop(Id, 5);
  assert.is((await ctx.engine.containers.inspect(Id)).State.ExitCode, 9);
  await ctx.engine.containers.remove(Id);
});

test('a closed engine leaves an exit to the next one, which records the real exit code', async (ctx) => {
  const { Id } = await ctx.engine.containers.create({
    Image: 'busybox',
    Cmd: ['sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.1; done'],
  });
  await ctx.engine.containers.start(Id);
  const pid = (await ctx.engine.containers.inspect(Id)).State.Pid;
  await ctx.engine.close();
  // SIGTERM only once sh is in its loop (a `sleep` child), past the trap: before it, the
  // signal would be lost (pid 1 of a namespace, and ash itself before it runs `trap`).
  const inLoop = () => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim() !== '';
  for (let i = 0; i < 300 && !inLoop(); i++) await new Promise((r) => setTimeout(r, 10));
  process.kill(pid, 'SIGTERM');
  const exitFile = path.join(ctx.dir, 'exec/c', Id.slice(0, 32), 'exit.json');
  for (let i = 0; i < 300 && !existsSync(exitFile); i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100)); // time for a closed engine to (wrongly) act on it
  assert.ok(existsSync(exitFile), "the shim's exit record is left for the next engine");
  const onDisk = JSON.parse(readFileSync(path.join(ctx.dir, 'data/containers', Id, 'container.json'), 'utf8'));
  assert.is(onDisk.state.Running, true, 'the closed engine wrote no exit');
  ctx.engine = await openTestEngine(ctx.dir);
  const state = (await ctx.engine.containers.inspect(Id)).State;
  assert.is(state.Running, false);
  assert.is(state.ExitCode, 7);
  await ctx.engine.containers.remove(Id);
});

test("a container's writable layer left by a crash in its removal goes when a new engine starts", async (ctx) => {
  const { Id } = await ctx.engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
  const metadata = path.join(ctx.dir, 'data/storage/overlay/metadata.json');
  const snapshotKeys = () => Object.keys(JSON.parse(readFileSync(metadata, 'utf8')).snapshots);
  assert.ok(snapshotKeys().includes(Id));
  await ctx.engine.close();
  // The crash: the record went, the snapshot did not.
  const containerDir = path.join(ctx.dir, 'data/containers', Id);
  execFileSync('umount', [path.join(containerDir, 'rootfs')]);
  rmSync(containerDir, { recursive: true, force: true });
  ctx.engine = await openTestEngine(ctx.dir);
  assert.not.ok(snapshotKeys().includes(Id), 'the orphan snapshot is removed');
  assert.ok(snapshotKeys().length > 0, 'the image layers stay');
});

test('images: tag, inspect, history, and rmi conflicts with a container that uses the image', async ({ engine }) => {
  await engine.images.tag('busybox', 'docker.io/library/harbour', 'v1');
  const inspect = await engine.images.inspect('harbour:v1');
  assert.ok(inspect.RepoTags.includes('harbour:v1') && inspect.RepoTags.includes('busybox:latest'), inspect.RepoTags.join(','));
  assert.is((await engine.images.history('harbour:v1'))[0].Id, inspect.Id);
  assert.equal(await engine.images.remove('harbour:v1'), [{ Untagged: 'harbour:v1' }]);
  const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
  await assert_rejects(() => engine.images.remove('busybox'), Conflict);
  await engine.containers.remove(Id);
});

test("rmi with repo digests (what a pull or push records): Docker's rules", async ({ engine }) => {
  const store = engine.di.resolve(ImageStoreToken);
  const id = (await engine.images.inspect('busybox')).Id as `sha256:${string}`;
  const digest = `sha256:${'ab'.repeat(32)}` as const;
  await engine.images.tag('busybox', '127.0.0.1:5000/trc/dig', '1');
  await store.tag(id, { domain: '127.0.0.1:5000', path: 'trc/dig', digest });
  await store.tag(id, { domain: '127.0.0.1:5000', path: 'trc/other', digest });
  // The last tag of trc/dig goes with trc/dig's repo digest; trc/other's digest and busybox:latest stay.
  assert.equal(await engine.images.remove('127.0.0.1:5000/trc/dig:1'), [
    { Untagged: '127.0.0.1:5000/trc/dig:1' },
    { Untagged: `127.0.0.1:5000/trc/dig@${digest}` },
  ]);
  assert.equal((await engine.images.inspect('busybox')).RepoDigests, [`127.0.0.1:5000/trc/other@${digest}`]);
  // By id, a tag and a digest of different repositories need -f.
  await assert_rejects(() => engine.images.remove(id.slice(7, 19)), Conflict);
  await store.untag({ domain: '127.0.0.1:5000', path: 'trc/other', digest });
});

async function assert_rejects(fn: () => Promise<unknown>, type: new (...a: never[]) => Error): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, type);
    return;
  }
  assert.unreachable(`expected ${type.name}`);
}

test('every lifecycle operation takes the container lock: stop, kill, remove -f and start at once all settle cleanly', async (ctx) => {
  const { engine } = ctx;
  const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '60'] });
  await engine.containers.start(Id);
  const [stop, kill, remove, start] = await Promise.allSettled([
    engine.containers.stop(Id, 0),
    engine.containers.kill(Id, 'KILL'),
    engine.containers.remove(Id, { force: true }),
    engine.containers.start(Id),
  ]);
  assert.is(remove.status, 'fulfilled', 'the removal wins');
  // The others may lose the race, but only with the answers a user expects.
  for (const [name, result] of Object.entries({ stop, kill, start })) {
    if (result.status === 'rejected') assert.ok([304, 404, 409].includes(statusOf(result.reason)), `${name}: ${result.reason}`);
  }
  assert.equal(await engine.containers.list({ all: true, filters: { id: [Id] } }), []);
  // Removed means removed, for the next engine too.
  await engine.close();
  ctx.engine = await openTestEngine(ctx.dir);
  await assert_rejects(() => ctx.engine.containers.inspect(Id), NotFound);
});

test('a container being removed cannot be started again', async ({ engine }) => {
  const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '60'] });
  await engine.containers.start(Id);
  const removal = engine.containers.remove(Id, { force: true });
  // Queued behind the removal's kill: it runs after the exit is recorded, before the record goes.
  const restart = engine.containers.start(Id).catch((e: unknown) => e);
  await removal;
  const err = await restart;
  assert.ok(err instanceof Error, 'the start was refused');
  assert.match((err as Error).message, /marked for removal|already running|No such container/);
  assert.equal(await engine.containers.list({ all: true, filters: { id: [Id] } }), []);
});

test('restart of an --rm container keeps it: the stop a restart makes is not its end', async ({ engine }) => {
  const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '60'], HostConfig: { AutoRemove: true } });
  await engine.containers.start(Id);
  const pid = (await engine.containers.inspect(Id)).State.Pid;
  await engine.containers.restart(Id, 0);
  const state = (await engine.containers.inspect(Id)).State;
  assert.is(state.Running, true);
  assert.is.not(state.Pid, pid, 'a new process runs');
  const removed = engine.containers.wait(Id, 'removed');
  await engine.containers.stop(Id, 0);
  assert.is((await removed).StatusCode, 137, 'an ordinary stop still removes it');
  await assert_rejects(() => engine.containers.inspect(Id), NotFound);
});

test('update changes the limits given and the restart policy; a zero limit leaves one as it was', async ({ engine }) => {
  const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 64 << 20, CpuShares: 512 } });
  await engine.containers.update(Id, {
    Memory: 0,
    CpuShares: 256,
    PidsLimit: 50,
    RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
  });
  const host = (await engine.containers.inspect(Id)).HostConfig;
  assert.is(host.Memory, 64 << 20, 'a zero leaves the memory limit');
  assert.is(host.CpuShares, 256);
  assert.is(host.PidsLimit, 50);
  assert.equal(host.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
  await engine.containers.remove(Id);
});

test.run();
