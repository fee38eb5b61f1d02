import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import * as path from 'node:path';
import none from '@berth/network-none';
import runc, { crunPlugin } from '@berth/runtime-oci';
import overlay from '@berth/storage-overlay';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ContainerPathsToken, createEngine, type Engine, ExecServiceToken } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';
import { busyboxTar, startTestEngine, stopTestEngine } from './support/test-engine.js';

// ExecService through crun, the default runtime when it is there: execs run without a
// runtime process (runtime-oci's direct exec, with crun's compiled seccomp program), in a
// container made as the engine makes them (Docker's seccomp profile and capabilities).

interface Ctx {
  dir: string;
  engine: Engine;
  container: string;
}

const test = suite<Ctx>('exec without a runtime process');

test.before(async (ctx) => {
  Object.assign(ctx, await startTestEngine('execd', { plugins: [overlay, runc, crunPlugin, none] }));
  ctx.container = (await ctx.engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { Runtime: 'crun' } })).Id;
  await ctx.engine.containers.start(ctx.container);
});

test.after((ctx) => stopTestEngine(ctx));

/** Run an exec attached to its end: its output, its inspect once the stream ended. */
async function execRun(engine: Engine, container: string, body: Parameters<Engine['execs']['create']>[1]) {
  const { Id } = await engine.execs.create(container, { AttachStdout: true, AttachStderr: true, ...body });
  const session = await engine.execs.start(Id, { detach: false });
  assert.ok(session);
  const out: string[] = [];
  session.onOutput((_stream, data) => out.push(String(data)));
  await session.ended;
  return { id: Id, out: out.join(''), inspect: await engine.execs.inspect(Id) };
}

const securityLines = (text: string) =>
  text.split('\n').filter((l) => /^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp(_filters)?):/.test(l));

test("-u -w -e: the exec has the init's security settings, its own user, cwd and env; no runtime process", async ({
  engine,
  container,
}) => {
  const { Pid } = (await engine.containers.inspect(container)).State;
  const r = await execRun(engine, container, {
    Cmd: ['sh', '-c', 'echo $FOO $(pwd) $(id -u):$(id -g); cat /proc/self/status'],
    User: '1000:1001',
    WorkingDir: '/tmp',
    Env: ['FOO=bar'],
  });
  assert.is(r.inspect.ExitCode, 0, r.out);
  assert.ok(r.out.startsWith('bar /tmp 1000:1001\n'), r.out);
  const init = securityLines(readFileSync(`/proc/${Pid}/status`, 'utf8'));
  const own = securityLines(r.out);
  // A non-root user keeps the bounding set and no_new_privs and seccomp, and loses its effective set (as runc does).
  assert.equal(
    own.filter((l) => !/^Cap(Prm|Eff)/.test(l)),
    init.filter((l) => !/^Cap(Prm|Eff)/.test(l)),
  );
  assert.ok(own.includes('Seccomp:\t2') && own.includes('NoNewPrivs:\t1'), own.join(' '));
  const root = await execRun(engine, container, { Cmd: ['cat', '/proc/self/status'] });
  assert.equal(securityLines(root.out), init, 'as root: exactly the init');
  // A running exec's shim has a plan (in its state dir, or the container's for a monitor
  // made ahead of its exec), no process for crun.
  const paths = engine.di.resolve(ContainerPathsToken);
  const service = engine.di.resolve(ExecServiceToken);
  const { Id } = await engine.execs.create(container, { Cmd: ['sleep', '1'] });
  await engine.execs.start(Id, { detach: true });
  const files = readdirSync((await service.monitorDir(Id))!);
  const containerPlan = existsSync(path.join(paths.stateDir(container), 'exec-plan'));
  assert.ok((files.includes('plan') || containerPlan) && !files.includes('process.json'), files.join(' '));
  for (let i = 0; i < 100 && (await engine.execs.inspect(Id)).Running; i++) await new Promise((t) => setTimeout(t, 20));
  // Every exec's state goes once it has exited; the container's spare monitor (for its next exec) waits.
  const execs = path.dirname(paths.execStateDir(container, r.id));
  const left = () => (existsSync(execs) ? readdirSync(execs) : []).filter((d) => path.join(execs, d) !== service.spareDir(container));
  for (let i = 0; i < 100 && left().length > 0; i++) await new Promise((t) => setTimeout(t, 20));
  assert.equal(left(), [], 'no exec state left');
});

test("a command not found is 127, one that cannot be executed 126, with runc's messages", async ({ engine, container }) => {
  const missing = await execRun(engine, container, { Cmd: ['nosuchcmd'] });
  assert.is(missing.inspect.ExitCode, 127);
  assert.match(missing.out, /exec: "nosuchcmd": executable file not found in \$PATH/);
  const denied = await execRun(engine, container, { Cmd: ['/etc'] });
  assert.is(denied.inspect.ExitCode, 126);
  assert.match(denied.out, /exec: "\/etc": permission denied/);
});

/** Pids of the berth-shims whose command line names `dir` (an exec's state dir). */
function shimsOf(dir: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (argv[0].endsWith('berth-shim') && argv.includes(dir) && !state.includes(') Z ')) pids.push(Number(pid));
    } catch {}
  }
  return pids;
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("an exec's monitor is made at its create and runs nothing until the start; one made for an init that was replaced since is not used; one whose start is refused, or never started, ends", async ({
  engine,
  container,
}) => {
  const execs = engine.di.resolve(ExecServiceToken);
  // The exec's monitor: made at its create, or the container's spare that it took.
  const monitorDir = async (id: string) => {
    const dir = await execs.monitorDir(id);
    assert.ok(dir, `exec ${id} has a monitor`);
    return dir;
  };
  // Made ahead: the monitor waits, nothing runs, no pid file.
  const { Id } = await engine.execs.create(container, { Cmd: ['sh', '-c', 'echo ran'], AttachStdout: true });
  const stateDir = await monitorDir(Id);
  await until('the monitor made at the create', () => shimsOf(stateDir).length === 1);
  const [monitor] = shimsOf(stateDir);
  assert.is(readFileSync(`/proc/${monitor}/task/${monitor}/children`, 'utf8').trim(), '', 'nothing runs before the start');
  assert.is(recordedPid(stateDir), '', 'no pid recorded');
  const session = await engine.execs.start(Id, { detach: false });
  assert.ok(session);
  const out: string[] = [];
  session.onOutput((_stream, data) => out.push(String(data)));
  await session.ended;
  assert.is(out.join(''), 'ran\n');
  assert.is((await engine.execs.inspect(Id)).ExitCode, 0);

  // The container restarted between the create and the start: its new init runs the exec.
  const again = await engine.execs.create(container, { Cmd: ['true'] });
  const againDir = await monitorDir(again.Id);
  await until('the monitor made at the create', () => shimsOf(againDir).length === 1);
  await engine.containers.restart(container, 0);
  await engine.execs.start(again.Id, { detach: true });
  const deadline = Date.now() + 3000;
  while ((await engine.execs.inspect(again.Id)).ExitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const ran = await engine.execs.inspect(again.Id);
  assert.is(ran.ExitCode, 0);
  assert.ok(ran.Pid > 0);

  // A start refused (the container paused meanwhile): the monitor made ahead is ended.
  const refused = await engine.execs.create(container, { Cmd: ['true'] });
  const refusedDir = await monitorDir(refused.Id);
  await until('the monitor made at the create', () => shimsOf(refusedDir).length === 1);
  await engine.containers.pause(container);
  try {
    const err = await engine.execs.start(refused.Id, { detach: true }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.match(String(err), /is paused/);
    await until('the monitor of the refused start ended', () => shimsOf(refusedDir).length === 0);
  } finally {
    await engine.containers.unpause(container);
  }

  // Never started: its monitor ends when the container stops.
  const never = await engine.execs.create(container, { Cmd: ['true'] });
  const neverDir = await monitorDir(never.Id);
  await until('the monitor made at the create', () => shimsOf(neverDir).length === 1);
  await engine.containers.stop(container, 0);
  await until('the monitor of the exec never started ended', () => shimsOf(neverDir).length === 0);
  await engine.containers.start(container);
});

test("a container that exec'd keeps a spare monitor for its next exec without terminal or stdin: it runs nothing until then, the exec runs as any other, and it ends with the container", async ({
  engine,
  container,
}) => {
  const service = engine.di.resolve(ExecServiceToken);
  await execRun(engine, container, { Cmd: ['true'] });
  await until('a spare monitor after an exec', () => service.spareDir(container) !== undefined);
  const spare = service.spareDir(container)!;
  await until('its shim', () => shimsOf(spare).length === 1);
  const [shim] = shimsOf(spare);
  assert.is(readFileSync(`/proc/${shim}/task/${shim}/children`, 'utf8').trim(), '', 'the spare runs nothing');
  assert.is(recordedPid(spare), '', 'no pid recorded');

  // An exec with a terminal makes its own monitor and leaves the spare for the next one.
  const tty = await engine.execs.create(container, { Cmd: ['true'], Tty: true });
  assert.is.not(await service.monitorDir(tty.Id), spare, 'a terminal exec does not take the spare');
  assert.is(service.spareDir(container), spare);
  await engine.execs.start(tty.Id, { detach: true });

  // The next plain exec takes it, and runs exactly as the init is confined.
  const { Pid } = (await engine.containers.inspect(container)).State;
  const { Id } = await engine.execs.create(container, {
    Cmd: ['sh', '-c', 'cat /proc/self/status; echo; cat /proc/self/cgroup'],
    AttachStdout: true,
  });
  assert.is(await service.monitorDir(Id), spare, 'the plain exec took the spare');
  const session = await engine.execs.start(Id, { detach: false });
  assert.ok(session);
  const out: string[] = [];
  session.onOutput((_stream, data) => out.push(String(data)));
  await session.ended;
  const text = out.join('');
  assert.is((await engine.execs.inspect(Id)).ExitCode, 0, text);
  assert.equal(
    securityLines(text),
    securityLines(readFileSync(`/proc/${Pid}/status`, 'utf8')),
    "the init's capabilities, seccomp, no_new_privs",
  );
  assert.ok(text.endsWith(readFileSync(`/proc/${Pid}/cgroup`, 'utf8')), "the init's cgroups");

  // Made again after that exec; it ends with the container (nothing ran: its state goes).
  await until('the next spare', () => service.spareDir(container) !== undefined && service.spareDir(container) !== spare);
  const next = service.spareDir(container)!;
  await until('its shim', () => shimsOf(next).length === 1);
  await engine.containers.stop(container, 0);
  await until('the spare ended with the container', () => shimsOf(next).length === 0 && !existsSync(next));
  assert.is(service.spareDir(container), undefined);
  await engine.containers.start(container);
});

test('an engine that closes ends the monitors of execs created and never started, and the spares; the container runs on, and the next engine removes it and its shim cgroup', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-execd-close-');
  const cgroupParent = `berth-unit-${path.basename(dir).slice(-6)}`;
  const open = () =>
    createEngine({
      dataRoot: path.join(dir, 'data'),
      execRoot: path.join(dir, 'exec'),
      cgroupParent,
      plugins: [overlay, runc, crunPlugin, none],
    });
  let engine: Engine | undefined = await open();
  let id: string | undefined;
  try {
    await engine.images.load(createReadStream(busyboxTar));
    const created = (await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { Runtime: 'crun' } })).Id;
    id = created;
    await engine.containers.start(created);
    const service = engine.di.resolve(ExecServiceToken);
    await execRun(engine, created, { Cmd: ['true'] });
    await until('a spare monitor after an exec', () => service.spareDir(created) !== undefined);
    const spareDir = service.spareDir(created)!;
    await until('its shim', () => shimsOf(spareDir).length === 1);
    const never = await engine.execs.create(created, { Cmd: ['true'], Tty: true });
    const neverDir = (await service.monitorDir(never.Id))!;
    await until('the monitor made at the create', () => shimsOf(neverDir).length === 1);
    await engine.close();
    engine = undefined;
    assert.equal(shimsOf(neverDir), [], 'no monitor outlives the engine waiting for a start');
    assert.equal(shimsOf(spareDir), [], 'no spare monitor outlives the engine');
    engine = await open();
    assert.ok((await engine.containers.inspect(created)).State.Running, 'the container ran on');
    await engine.containers.remove(created, { force: true });
    id = undefined;
    await engine.close();
    engine = undefined;
    const left = readdirSync('/sys/fs/cgroup').flatMap((h) => (existsSync(`/sys/fs/cgroup/${h}/${cgroupParent}`) ? [h] : []));
    assert.equal(left, [], 'no hierarchy keeps the cgroup parent');
  } finally {
    // A test that failed midway leaves its container running: an engine removes it, so
    // neither its shim nor its mounts outlive the test.
    if (id) {
      engine ??= await open();
      await engine.containers.remove(id, { force: true }).catch(() => {});
    }
    await engine?.close();
    for (const h of readdirSync('/sys/fs/cgroup')) {
      try {
        rmdirSync(`/sys/fs/cgroup/${h}/${cgroupParent}`);
      } catch {}
    }
    removeAndAssertNoMounts(dir);
  }
});

/** The pid an exec's monitor recorded in its state dir (its `pid` file, made empty by a monitor that waits for its start): '' for none. */
function recordedPid(dir: string): string {
  const file = path.join(dir, 'pid');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
}

test.run();
