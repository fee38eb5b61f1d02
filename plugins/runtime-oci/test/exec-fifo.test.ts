import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OciRuntime, runcPlugin } from '../src/index.js';
import { collect, Fixture, shimPids } from './support/fixture.js';

/*
 * runc's start, done by the shim through the exec fifo (no `runc start` process), and
 * the runtime's own `start` when the runtime is not told to (crun's path).
 */

const fx = new Fixture();
let runtime: OciRuntime;
test.before(async () => {
  runtime = (await runcPlugin.init(fx.context())) as OciRuntime;
});
test.after(() => fx.cleanup());

const stateRoot = () => path.join(fx.dir, 'exec', 'state');
const runcStatus = (id: string): string =>
  JSON.parse(execFileSync('/usr/sbin/runc', ['--root', stateRoot(), 'state', id], { encoding: 'utf8' })).status;

test('start through the fifo: the process runs, runc sees it running, no runc start was run', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sh', '-c', 'echo started; sleep 0.3']));
  const fifo = path.join(stateRoot(), id, 'exec.fifo');
  assert.ok(existsSync(fifo), 'runc keeps the created init waiting on exec.fifo');
  assert.is(runcStatus(id), 'created');
  const out = collect(await runtime.connect(id));
  await runtime.start(id);
  assert.not.ok(existsSync(fifo), 'the fifo is removed, as runc start does');
  assert.is(runcStatus(id), 'running');
  assert.not.ok(existsSync(path.join(fx.stateDir(id), 'runtime-start.log')), 'no runtime process wrote a start log');
  assert.is((await runtime.wait(id)).exitCode, 0);
  await out.closed;
  assert.is(out.stdout(), 'started\n');
  await runtime.delete(id);
});

/** The error `start` rejects with, or null if it succeeds. */
function startRefusal(id: string): Promise<Error | null> {
  return runtime.start(id).then(
    () => null,
    (e: Error) => e,
  );
}

/** `start` of a container whose init is gone was refused with runc's words. */
function assertStoppedRefusal(outcome: Error | string | null): void {
  assert.instance(outcome, Error, `start was not refused: ${String(outcome)}`);
  assert.match((outcome as Error).message, /cannot start a container that has stopped/, (outcome as Error).message);
}

test("a container whose init died before start: refused with runc's message", async () => {
  const id = fx.newId();
  const { pid } = await runtime.create(fx.request(id, ['true']));
  process.kill(pid, 'SIGKILL');
  // The shim may see the init die first (then its socket is gone), while it is asked, or
  // answer the request: the same message each way.
  assertStoppedRefusal(await startRefusal(id));
  await runtime.wait(id);
  await runtime.delete(id);
});

test('start on the connection connect made (as the engine does): the same message for a dead init', async () => {
  const id = fx.newId();
  const { pid } = await runtime.create(fx.request(id, ['true']));
  const streams = await runtime.connect(id);
  process.kill(pid, 'SIGKILL');
  assertStoppedRefusal(await startRefusal(id));
  streams.close();
  await runtime.wait(id);
  await runtime.delete(id);
});

test('a start asked after the shim has reaped a dead init is refused at once, and the shim exits', async () => {
  const id = fx.newId();
  const { pid } = await runtime.create(fx.request(id, ['true']));
  const shim = fx.shimPid(id)!;
  const streams = await runtime.connect(id); // accepted now: start asks on it
  // The shim sees the init's death and the start request in one go: it reaps first.
  let starting: Promise<Error | null> = Promise.resolve(null);
  process.kill(shim, 'SIGSTOP');
  try {
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 50));
    starting = startRefusal(id);
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.kill(shim, 'SIGCONT');
  }
  assertStoppedRefusal(await Promise.race([starting, new Promise<string>((r) => setTimeout(() => r('no answer in 3 s'), 3000))]));
  streams.close();
  assert.is((await runtime.wait(id)).exitCode, 137);
  await runtime.delete(id);
  assert.not.ok(shimPids(id).length, 'the shim has exited');
});

test("without execFifo the runtime's own start runs (its log is left in the state dir)", async () => {
  const plain = new OciRuntime({
    name: 'runc',
    binary: '/usr/sbin/runc',
    shimPath: path.resolve(__dirname, '../../../native/shim/berth-shim'),
    stateRoot: stateRoot(),
  });
  const id = fx.newId();
  await plain.create(fx.request(id, ['true']));
  await plain.start(id);
  assert.is((await plain.wait(id)).exitCode, 0);
  assert.ok(existsSync(path.join(fx.stateDir(id), 'runtime-start.log')));
  assert.not.match(readFileSync(path.join(fx.stateDir(id), 'runtime-start.log'), 'utf8'), /"level":"error"/);
  await plain.delete(id);
});

test.run();
