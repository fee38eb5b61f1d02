/**
 * Exec monitors prepared before their exec (OciRuntime.prepareExec, berth-shim's
 * `--process-later`): the shim waits in its cgroups with the container part of the plan
 * only; the process part comes with the start. On the real kernel: it runs nothing until
 * then; the process it is given runs confined exactly as the init; a process part that
 * names where to run is refused by the shim; what it cannot run is said before (accepts);
 * it ends with the init, when dropped, or when discarded; what cannot be prepared is not.
 */
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { PreparedExecProcess } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crunPlugin, type OciRuntime, runcPlugin } from '../src/index.js';
import type { ShimConnection } from '../src/shim-connection.js';
import { collect, Fixture, processEnded, shimPids } from './support/fixture.js';

const fx = new Fixture();
let crun: OciRuntime;
let runc: OciRuntime;

test.before(async () => {
  crun = (await crunPlugin.init(fx.context())) as OciRuntime;
  runc = (await runcPlugin.init(fx.context())) as OciRuntime;
});
test.after(() => fx.cleanup());

/** A running container with Docker-like capabilities and a profile that refuses mkdir. */
async function running(runtime: OciRuntime, seccomp = true) {
  const id = fx.newId();
  const { pid } = await runtime.create(fx.dockerLikeRequest(id, ['sleep', '100'], { seccomp }));
  await runtime.start(id);
  let n = 0;
  return {
    id,
    pid,
    async prepare(): Promise<{ proc: PreparedExecProcess; stateDir: string }> {
      const stateDir = path.join(fx.stateDir(id), 'x', `p${++n}`);
      const proc = await runtime.prepareExec(id, stateDir);
      assert.ok(proc, 'a monitor made ahead');
      return { proc, stateDir };
    },
    async done() {
      await runtime.kill(id, 'SIGKILL');
      await runtime.wait(id);
      await runtime.delete(id);
    },
  };
}

/** The shim of a monitor (its pid file comes just after its ready line). */
async function shimOf(stateDir: string): Promise<number> {
  const file = path.join(stateDir, 'shim.pid');
  const until = Date.now() + 2000;
  while (!existsSync(file) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  return Number(readFileSync(file, 'utf8'));
}
const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
const securityOf = (text: string) => text.split('\n').filter((l) => /^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp(_filters)?):/.test(l));

test('a prepared monitor runs nothing until its start; then the process it is given runs confined as the init, with its own user, cwd and env', async () => {
  const c = await running(crun);
  try {
    const { proc, stateDir } = await c.prepare();
    // The container part of the plan, in the container's state dir: one file per init.
    const planFile = path.join(fx.stateDir(c.id), 'exec-plan');
    const plan = readFileSync(planFile, 'utf8');
    assert.ok(plan.includes('pid\0') && !plan.includes('arg\0') && !plan.includes('cwd\0'), 'only where it runs is planned');
    assert.not.ok(existsSync(path.join(stateDir, 'plan')), 'no plan of its own');
    // Its state dir (and the container's execs dir above it) made by the shim, root's only.
    assert.is(statSync(stateDir).mode & 0o777, 0o700);
    assert.is(statSync(path.dirname(stateDir)).mode & 0o777, 0o700);
    const written = statSync(planFile).mtimeMs;
    const next = await c.prepare();
    assert.is(statSync(planFile).mtimeMs, written, 'the next monitor for the same init reads the same plan');
    await next.proc.kill('SIGKILL');
    assert.is((await next.proc.wait()).exitCode, 255);
    const shim = await shimOf(stateDir);
    await new Promise((r) => setTimeout(r, 50));
    assert.is(childrenOf(shim), '', 'nothing runs before the start');
    assert.is(recordedPid(stateDir), '', 'no pid recorded');

    const process = fx.execProcess(c.id, ['sh', '-c', 'echo $FOO $(pwd) $(id -u); cat /proc/self/status; mkdir /tmp/z || echo refused'], {
      cwd: '/tmp',
      env: ['PATH=/bin', 'FOO=bar'],
    });
    const out = collect(proc.streams);
    assert.ok(proc.bind(process));
    await new Promise((r) => setTimeout(r, 50));
    assert.is(childrenOf(shim), '', 'bound, it still runs nothing before the start');
    const { pid } = await proc.start();
    assert.ok(pid > 0);
    assert.is((await proc.wait()).exitCode, 0);
    await out.closed;
    const text = out.stdout();
    assert.ok(text.startsWith('bar /tmp 0\n'), text);
    assert.ok(text.trimEnd().endsWith('refused'), 'the seccomp profile applies');
    assert.equal(
      securityOf(text),
      securityOf(readFileSync(`/proc/${c.pid}/status`, 'utf8')),
      "the init's capabilities, seccomp, no_new_privs",
    );
    const again = await proc.start().then(
      () => 'started',
      (err: Error) => err.message,
    );
    assert.match(again, /started already/);
    assert.throws(() => proc.bind(process), /given its process already/);
    await crun.releaseExec(c.id, stateDir);
    assert.not.ok(existsSync(stateDir));
  } finally {
    await c.done();
  }
});

test('a prepared monitor is not bound to what it cannot run: a terminal, an LSM label, an unknown capability; a start without a process is refused', async () => {
  const c = await running(crun);
  try {
    const { proc, stateDir } = await c.prepare();
    const base = fx.execProcess(c.id, ['true']);
    assert.not.ok(proc.bind({ ...base, terminal: true }), 'a terminal');
    assert.not.ok(proc.bind({ ...base, apparmorProfile: 'docker-default' }), 'an LSM label');
    assert.not.ok(proc.bind({ ...base, selinuxLabel: 'x' }), 'an SELinux label');
    assert.not.ok(proc.bind({ ...base, capabilities: { bounding: ['CAP_NO_SUCH'] } }), 'an unknown capability');
    const refused = await proc.start().then(
      () => 'started',
      (err: Error) => err.message,
    );
    assert.match(refused, /has no process to run yet/);
    await proc.kill('SIGKILL'); // discarded: nothing ran
    assert.is((await proc.wait()).exitCode, 255);
    await crun.releaseExec(c.id, stateDir);
  } finally {
    await c.done();
  }
});

test('a process part that names where to run (the init, namespaces, cgroups, seccomp) is refused by the shim: the start fails, nothing runs', async () => {
  const c = await running(crun);
  try {
    for (const key of ['pid', 'ns', 'tasks', 'cgroup2', 'seccomp', 'start-time']) {
      const { proc, stateDir } = await c.prepare();
      const shim = await shimOf(stateDir);
      const streams = proc.streams as ShimConnection;
      streams.sendProcessPart(Buffer.from(`${key}\u00001\u0000cwd\u0000/\u0000arg\u0000true\u0000`));
      const reply = await streams.control('start');
      assert.match(reply, new RegExp(`^error: exec process: key ${key} is not the process's$`));
      assert.is((await proc.wait()).exitCode, 255, 'recorded as a start that failed');
      await crun.releaseExec(c.id, stateDir);
      assert.ok(await processEnded(shim), 'the monitor ended');
    }
    // A second process part is refused as well: the shim drops the client that sends it.
    const { proc, stateDir } = await c.prepare();
    const streams = proc.streams as ShimConnection;
    const part = Buffer.from('cwd\u0000/\u0000arg\u0000true\u0000');
    streams.sendProcessPart(part);
    streams.sendProcessPart(part);
    assert.is((await proc.wait()).exitCode, 255, 'nothing ran');
    await crun.releaseExec(c.id, stateDir);
  } finally {
    await c.done();
  }
});

test("a prepared monitor ends having run nothing when dropped, or when the container's init exits", async () => {
  const c = await running(crun);
  try {
    const dropped = await c.prepare();
    const droppedShim = await shimOf(dropped.stateDir);
    dropped.proc.streams.close();
    await crun.releaseExec(c.id, dropped.stateDir); // waits for the shim to end
    assert.ok(await processEnded(droppedShim), 'the dropped monitor ended');

    const orphan = await c.prepare();
    const orphanShim = await shimOf(orphan.stateDir);
    await crun.kill(c.id, 'SIGKILL');
    assert.is((await orphan.proc.wait()).exitCode, 255);
    await crun.releaseExec(c.id, orphan.stateDir);
    assert.ok(await processEnded(orphanShim), "the monitor ended with the container's init");
    assert.is(shimPids(c.id).length <= 1, true, "no monitor beside the container's shim");
  } finally {
    await c.done();
  }
});

test('a monitor ended before its shim.pid is written is awaited by the pid of its ready line: released, its process has exited', async () => {
  const c = await running(crun);
  let shim = 0;
  try {
    const early = await c.prepare();
    shim = await shimOf(early.stateDir);
    // As just after its ready line: no shim.pid yet (the shim's own unlink at its end finds
    // none); and the shim held off the CPU, as one preempted on a loaded machine.
    renameSync(path.join(early.stateDir, 'shim.pid'), path.join(early.stateDir, 'shim.pid.away'));
    process.kill(shim, 'SIGSTOP');
    early.proc.streams.close();
    let released = false;
    const release = crun.releaseExec(c.id, early.stateDir).then(() => {
      released = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.not.ok(released, 'the release waits while the shim lives');
    process.kill(shim, 'SIGCONT');
    await release;
    assert.ok(await processEnded(shim, 0), 'the shim has exited when its release resolves');
    assert.not.ok(existsSync(early.stateDir), 'its state went');
  } finally {
    if (shim > 0 && !(await processEnded(shim, 0))) process.kill(shim, 'SIGCONT');
    await c.done();
  }
});

test('nothing is prepared where execs go through the runtime (runc with a seccomp filter: no compiled program at hand)', async () => {
  const c = await running(runc, true);
  try {
    const stateDir = path.join(fx.stateDir(c.id), 'x', 'none');
    assert.is(await runc.prepareExec(c.id, stateDir), undefined);
    assert.not.ok(existsSync(stateDir), 'no state dir made');
  } finally {
    await c.done();
  }
});

/** The pid an exec's monitor recorded in its state dir (its `pid` file, made empty by a monitor that waits for its start): '' for none. */
function recordedPid(dir: string): string {
  const file = path.join(dir, 'pid');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
}

test.run();
