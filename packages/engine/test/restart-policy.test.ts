import { createReadStream, mkdtempSync } from 'node:fs';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import vfs from '@berth/storage-vfs';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decideRestart, type Engine, restartsAtEngineStart } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';
import { recordFixture } from './support/record-fixture.js';
import { busyboxTar, openTestEngine } from './support/test-engine.js';

// Restart policies: the decision (pure), then real containers under runc, and an engine
// closed and opened again on the same data root.
suiteTimeout(test, 30_000);

const exit = { exitCode: 1, manuallyStopped: false, restartCount: 0, runMs: 50, previousDelayMs: 0 };

test('decideRestart: each policy as Docker decides, a stop by hand never restarts, the back-off doubles and resets', () => {
  assert.equal(decideRestart({ ...exit, policy: { Name: 'no' } }), { restart: false });
  assert.equal(decideRestart({ ...exit, policy: undefined }), { restart: false });
  assert.equal(decideRestart({ ...exit, policy: { Name: 'always' }, exitCode: 0 }), { restart: true, delayMs: 100 });
  assert.equal(decideRestart({ ...exit, policy: { Name: 'always' }, manuallyStopped: true }), { restart: false });
  assert.equal(decideRestart({ ...exit, policy: { Name: 'unless-stopped' } }), { restart: true, delayMs: 100 });
  assert.equal(decideRestart({ ...exit, policy: { Name: 'on-failure' }, exitCode: 0 }), { restart: false });
  assert.equal(decideRestart({ ...exit, policy: { Name: 'on-failure', MaximumRetryCount: 2 }, restartCount: 1 }), {
    restart: true,
    delayMs: 100,
  });
  assert.equal(decideRestart({ ...exit, policy: { Name: 'on-failure', MaximumRetryCount: 2 }, restartCount: 2 }), { restart: false });
  assert.equal(decideRestart({ ...exit, policy: { Name: 'always' }, previousDelayMs: 400 }), { restart: true, delayMs: 800 });
  assert.equal(decideRestart({ ...exit, policy: { Name: 'always' }, previousDelayMs: 40_000 }), { restart: true, delayMs: 60_000 });
  assert.equal(decideRestart({ ...exit, policy: { Name: 'always' }, previousDelayMs: 400, runMs: 10_000 }), {
    restart: true,
    delayMs: 100,
  });
});

test('restartsAtEngineStart: always whatever stopped it, unless-stopped unless stopped by hand, on-failure after a failure', () => {
  const record = (Name: 'always' | 'unless-stopped' | 'on-failure' | 'no', manuallyStopped: boolean, ExitCode = 0) => {
    const r = recordFixture('a'.repeat(64), 'policy');
    r.hostConfig = { RestartPolicy: { Name } };
    r.state = { ...r.state, Status: 'exited', Running: false, ExitCode };
    r.manuallyStopped = manuallyStopped;
    return r;
  };
  assert.ok(restartsAtEngineStart(record('always', true)));
  assert.ok(restartsAtEngineStart(record('unless-stopped', false)));
  assert.not.ok(restartsAtEngineStart(record('unless-stopped', true)));
  assert.ok(restartsAtEngineStart(record('on-failure', false, 1)));
  assert.not.ok(restartsAtEngineStart(record('on-failure', false, 0)));
  assert.not.ok(restartsAtEngineStart(record('no', false, 1)));
});

const open = (dir: string): Promise<Engine> => openTestEngine(dir, { plugins: [vfs, runc, none] });

async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('on-failure:2 restarts a failing container twice, then leaves it exited with RestartCount 2', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-restart-');
  const engine = await open(dir);
  try {
    await engine.images.load(createReadStream(busyboxTar));
    const starts: string[] = [];
    engine.events.on('container.start', (e: { id: string }) => starts.push(e.id));
    const { Id } = await engine.containers.create({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'exit 3'],
      HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } },
    });
    await engine.containers.start(Id);
    await until('two restarts', async () => (await engine.containers.inspect(Id)).RestartCount === 2);
    await until('the last exit', async () => (await engine.containers.inspect(Id)).State.Status === 'exited');
    await new Promise((r) => setTimeout(r, 600)); // longer than a third restart's delay: none comes
    const inspect = await engine.containers.inspect(Id);
    assert.is(inspect.RestartCount, 2);
    assert.is(inspect.State.ExitCode, 3);
    assert.is(inspect.State.Restarting, false);
    assert.is(starts.filter((id) => id === Id).length, 3, 'the start and two restarts');
  } finally {
    await engine.close();
    removeAndAssertNoMounts(dir);
  }
});

test('always: a crash loop restarts with back-off; stop cancels a pending restart; rm -f of a restarting container works', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-restart-');
  const engine = await open(dir);
  try {
    await engine.images.load(createReadStream(busyboxTar));
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['false'], HostConfig: { RestartPolicy: { Name: 'always' } } });
    await engine.containers.start(Id);
    // 100 + 200 + 400 + 800 ms of back-off before the fifth restart: a few restarts, not hundreds.
    await until('three restarts', async () => (await engine.containers.inspect(Id)).RestartCount >= 3);
    const count = (await engine.containers.inspect(Id)).RestartCount;
    assert.ok(count < 8, `RestartCount ${count}: the back-off did not hold the loop`);
    await until('a pending restart', async () => (await engine.containers.inspect(Id)).State.Status === 'restarting');
    const listed = await engine.containers.list({ filters: { id: [Id] } });
    assert.is(listed.length, 1, 'a restarting container is listed without --all');
    assert.is((await engine.containers.inspect(Id)).State.Running, true, 'restarting counts as running, as in dockerd');
    await engine.containers.stop(Id);
    const stopped = (await engine.containers.inspect(Id)).RestartCount;
    await new Promise((r) => setTimeout(r, 2000));
    const after = await engine.containers.inspect(Id);
    assert.is(after.State.Status, 'exited');
    assert.is(after.RestartCount, stopped, 'no restart after the stop');

    const { Id: loop } = await engine.containers.create({
      Image: 'busybox',
      Cmd: ['false'],
      HostConfig: { RestartPolicy: { Name: 'always' } },
    });
    await engine.containers.start(loop);
    await until('a pending restart', async () => (await engine.containers.inspect(loop)).State.Status === 'restarting');
    const refused = await engine.containers.remove(loop).then(
      () => undefined,
      (err: Error) => err,
    );
    assert.match(String(refused), /You cannot remove a restarting container/);
    await engine.containers.remove(loop, { force: true });
    assert.equal(await engine.containers.list({ all: true, filters: { id: [loop] } }), []);
  } finally {
    for (const c of await engine.containers.list({ all: true }))
      await engine.containers.remove(c.Id, { force: true }).catch(() => undefined);
    await engine.close();
    removeAndAssertNoMounts(dir);
  }
});

test('at engine start: always containers stopped by hand come back, unless-stopped ones stopped by hand do not', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-restart-');
  let engine = await open(dir);
  try {
    await engine.images.load(createReadStream(busyboxTar));
    const body = (Name: 'always' | 'unless-stopped') => ({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'trap "exit 0" TERM; sleep 30 & wait'],
      HostConfig: { RestartPolicy: { Name } },
    });
    const always = (await engine.containers.create(body('always'))).Id;
    const unless = (await engine.containers.create(body('unless-stopped'))).Id;
    const unlessRunning = (await engine.containers.create(body('unless-stopped'))).Id;
    for (const id of [always, unless, unlessRunning]) await engine.containers.start(id);
    await engine.containers.stop(always, 5);
    await engine.containers.stop(unless, 5);
    await engine.close();

    engine = await open(dir);
    assert.is((await engine.containers.inspect(always)).State.Status, 'running', 'always: started again');
    assert.is((await engine.containers.inspect(unless)).State.Status, 'exited', 'unless-stopped, stopped by hand: stays stopped');
    assert.is((await engine.containers.inspect(unlessRunning)).State.Status, 'running', 'still running, adopted');
  } finally {
    for (const c of await engine.containers.list({ all: true }))
      await engine.containers.remove(c.Id, { force: true }).catch(() => undefined);
    await engine.close();
    removeAndAssertNoMounts(dir);
  }
});

test.run();
