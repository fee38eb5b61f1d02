import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type EngineEvent, isBerthError, RuntimesToken, statusOf } from '@berth/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildExecProcess } from '../src/exec/exec-process.js';
import { ContainerPathsToken, type Engine, ExecServiceToken } from '../src/index.js';
import type { OciProcess } from '../src/oci/index.js';
import { openTestEngine, startTestEngine, stopTestEngine } from './support/test-engine.js';

// ExecService through the engine with real plugins: processes run in running containers.

interface Ctx {
  dir: string;
  engine: Engine;
  container: string;
}

const test = suite<Ctx>('exec');

test.before(async (ctx) => {
  Object.assign(ctx, await startTestEngine('exec'));
  ctx.container = (await ctx.engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '1000'], User: 'nobody' })).Id;
  await ctx.engine.containers.start(ctx.container);
});

test.after((ctx) => stopTestEngine(ctx));

/** Run an exec attached to its end: its output, its inspect once the stream ended. */
async function execRun(engine: Engine, container: string, body: Parameters<Engine['execs']['create']>[1], stdin?: string) {
  const { Id } = await engine.execs.create(container, { AttachStdout: true, AttachStderr: true, ...body });
  const session = await engine.execs.start(Id, { detach: false });
  assert.ok(session);
  const out: string[] = [];
  session.onOutput((stream, data) => out.push(`${stream}:${data}`));
  if (stdin !== undefined) {
    session.writeStdin(Buffer.from(stdin));
    session.closeStdin();
  }
  await session.ended;
  return { id: Id, out: out.join(''), inspect: await engine.execs.inspect(Id) };
}

test('an exec runs with the container user and its settings, its exit code recorded before the stream ends; events', async ({
  engine,
  container,
}) => {
  const events: EngineEvent[] = [];
  const listener = (e: EngineEvent) => events.push(e);
  engine.events.on('event', listener);
  try {
    const r = await execRun(engine, container, {
      Cmd: ['sh', '-c', 'id -un; echo $FOO; pwd; exit 3'],
      Env: ['FOO=bar'],
      WorkingDir: '/tmp',
    });
    assert.is(r.out.replace(/stdout:/g, ''), 'nobody\nbar\n/tmp\n', r.out);
    assert.is(r.inspect.ExitCode, 3);
    assert.is(r.inspect.Running, false);
    assert.ok(r.inspect.Pid > 0);
    assert.equal(r.inspect.ProcessConfig, {
      tty: false,
      entrypoint: 'sh',
      arguments: ['-c', 'id -un; echo $FOO; pwd; exit 3'],
      privileged: false,
    });
    const actions = events.filter((e) => e.attributes.execID === r.id).map((e) => e.action);
    assert.equal(actions, [
      'exec_create: sh -c id -un; echo $FOO; pwd; exit 3',
      'exec_start: sh -c id -un; echo $FOO; pwd; exit 3',
      'exec_die',
    ]);
    assert.is(events.find((e) => e.action === 'exec_die')?.attributes.exitCode, '3');
  } finally {
    engine.events.off('event', listener);
  }
});

test('-u root and --privileged change only the exec; stdin reaches it and its end closes it', async ({ engine, container }) => {
  const caps = (r: { out: string }) => /CapEff:\s*([0-9a-f]+)/.exec(r.out)?.[1];
  const plain = await execRun(engine, container, { Cmd: ['grep', 'CapEff', '/proc/self/status'], User: 'root' });
  const privileged = await execRun(engine, container, { Cmd: ['grep', 'CapEff', '/proc/self/status'], User: 'root', Privileged: true });
  assert.ok(caps(plain) && caps(privileged), `${plain.out} / ${privileged.out}`);
  assert.ok(BigInt(`0x${caps(privileged)}`) > BigInt(`0x${caps(plain)}`), 'privileged has more capabilities');
  const cat = await execRun(engine, container, { Cmd: ['cat'], AttachStdin: true }, 'typed\n');
  assert.is(cat.out, 'stdout:typed\n');
  assert.is(cat.inspect.ExitCode, 0);
});

test('a command not found: the runtime message on the stream and 127; a started exec cannot start again', async ({ engine, container }) => {
  const r = await execRun(engine, container, { Cmd: ['nosuchcmd'] });
  assert.match(r.out, /executable file not found/);
  assert.is(r.inspect.ExitCode, 127);
  const err = await engine.execs.start(r.id, { detach: false }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(isBerthError(err, 'Conflict'), String(err));
});

test('exec in a stopped container is a 409; an unknown exec a 404; an empty Cmd a 400', async ({ engine, container }) => {
  const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['true'] });
  const err = await engine.execs.create(Id, { Cmd: ['true'] }).catch((e: unknown) => e);
  assert.is(statusOf(err), 409);
  assert.match(String(err), /is not running/);
  assert.is(statusOf(await engine.execs.inspect('nosuch').catch((e: unknown) => e)), 404);
  assert.is(statusOf(await engine.execs.create(container, { Cmd: [] }).catch((e: unknown) => e)), 400);
  await engine.containers.remove(Id);
});

test('a detached exec outlives the engine: the next one finds it running, then its exit; its record goes', async (ctx) => {
  const { Id } = await ctx.engine.execs.create(ctx.container, { Cmd: ['sh', '-c', 'sleep 1; exit 6'] });
  assert.is(await ctx.engine.execs.start(Id, { detach: true }), undefined);
  assert.is((await ctx.engine.execs.inspect(Id)).Running, true);
  await ctx.engine.close();
  ctx.engine = await openTestEngine(ctx.dir);
  const found = await ctx.engine.execs.inspect(Id);
  assert.is(found.ContainerID, ctx.container);
  if (found.Running) await new Promise((resolve) => setTimeout(resolve, 1500));
  const after = await ctx.engine.execs.inspect(Id);
  assert.is(after.Running, false);
  assert.is(after.ExitCode, 6);
  const records = path.join(ctx.dir, 'exec', 'execs');
  assert.equal(existsSync(records) ? readdirSync(records) : [], [], 'no record of an exec that ended');
});

test("ExecIDs lists a container's execs from create until they exit, as dockerd; inspect by id still works after", async ({
  engine,
  container,
}) => {
  const execIds = async () => (await engine.containers.inspect(container)).ExecIDs ?? [];
  const { Id } = await engine.execs.create(container, { Cmd: ['sh', '-c', 'read x'], AttachStdin: true });
  assert.ok((await execIds()).includes(Id), 'created');
  const session = await engine.execs.start(Id, { detach: false });
  assert.ok((await execIds()).includes(Id), 'running');
  session!.closeStdin();
  await session!.ended;
  assert.not.ok((await execIds()).includes(Id), 'exited');
  assert.is((await engine.execs.inspect(Id)).ExitCode, 1);
});

test('an exited exec is forgotten by the second sweep after its end, as dockerd forgets it; a created one stays', async ({
  engine,
  container,
}) => {
  const execs = engine.di.resolve(ExecServiceToken);
  const ran = await execRun(engine, container, { Cmd: ['true'] });
  const { Id: created } = await engine.execs.create(container, { Cmd: ['true'] });
  execs.sweep();
  assert.is((await engine.execs.inspect(ran.id)).ExitCode, 0, 'still known after the sweep that found it exited');
  execs.sweep();
  const err = await engine.execs.inspect(ran.id).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.is(statusOf(err), 404, 'forgotten by the next sweep');
  assert.is((await engine.execs.inspect(created)).Running, false);
  assert.ok((await engine.containers.inspect(container)).ExecIDs?.includes(created), 'a created exec stays');
});

test('an exec a crash left created and never started is discarded at the next start: its monitor ends, nothing ran', async (ctx) => {
  // What a daemon that died between the runtime's exec and its start leaves: the exec's
  // monitor (its shim, waiting for `start`) and its record on disk.
  const paths = ctx.engine.di.resolve(ContainerPathsToken);
  const runtime = ctx.engine.di.resolve(RuntimesToken).get('runc')!;
  const execId = 'c'.repeat(64);
  const stateDir = paths.execStateDir(ctx.container, execId);
  const spec = JSON.parse(readFileSync(path.join(paths.bundle(ctx.container), 'config.json'), 'utf8')) as { process: OciProcess };
  const proc = await runtime.exec({
    containerId: ctx.container,
    execId,
    stateDir,
    process: { ...spec.process, args: ['sh', '-c', 'touch /tmp/ran'] } as unknown as Record<string, unknown>,
    openStdin: false,
    terminal: false,
  });
  proc.streams.close();
  const record = {
    id: execId,
    containerId: ctx.container,
    config: { Cmd: ['sh', '-c', 'touch /tmp/ran'] },
    detachKeys: 'ctrl-p,ctrl-q',
    started: true,
    running: false,
    exitCode: null,
    pid: 0,
    stateDir,
  };
  writeFileSync(path.join(paths.execRecords(), `${execId}.json`), JSON.stringify(record));
  await ctx.engine.close();
  ctx.engine = await openTestEngine(ctx.dir);
  assert.not.ok(existsSync(path.join(paths.execRecords(), `${execId}.json`)), 'its record is gone');
  assert.is(statusOf(await ctx.engine.execs.inspect(execId).catch((e: unknown) => e)), 404);
  assert.is((await ctx.engine.containers.inspect(ctx.container)).ExecIDs, null);
  for (let i = 0; i < 100 && existsSync(path.join(stateDir, 'shim.pid')); i++) await new Promise((r) => setTimeout(r, 20));
  assert.not.ok(existsSync(path.join(stateDir, 'shim.pid')), "the exec's monitor ended");
  const ran = await execRun(ctx.engine, ctx.container, { Cmd: ['ls', '/tmp/ran'] });
  assert.is(ran.inspect.ExitCode, 1, 'the command never ran');
});

test('buildExecProcess keeps what confines the container, and changes what Docker changes', async () => {
  const container: OciProcess = {
    terminal: false,
    user: { uid: 65534, gid: 65534 },
    args: ['sleep', '1000'],
    env: ['PATH=/bin', 'FOO=1'],
    cwd: '/',
    capabilities: { bounding: ['CAP_CHOWN'], effective: ['CAP_CHOWN'], inheritable: [], permitted: ['CAP_CHOWN'], ambient: [] },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: true,
  };
  const p = await buildExecProcess(container, { Cmd: ['sh'], Env: ['FOO=2', 'BAR=3'], Tty: true, ConsoleSize: [10, 20] }, '/nonexistent');
  assert.equal(p.args, ['sh']);
  assert.equal(p.env, ['PATH=/bin', 'FOO=2', 'TERM=xterm', 'BAR=3']);
  assert.is(p.terminal, true);
  assert.equal(p.consoleSize, { height: 10, width: 20 });
  assert.equal(p.capabilities, container.capabilities);
  assert.is(p.noNewPrivileges, true);
  assert.equal(p.rlimits, container.rlimits);
  assert.equal(p.user, container.user);
  const all = await buildExecProcess(container, { Cmd: ['sh'], Privileged: true }, '/nonexistent', ['CAP_CHOWN', 'CAP_SYS_ADMIN']);
  assert.equal(all.capabilities.effective, ['CAP_CHOWN', 'CAP_SYS_ADMIN']);
  assert.equal(all.capabilities.inheritable, []);
});

test.run();
