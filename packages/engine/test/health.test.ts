import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ContainerHealth, EngineEvent } from '@berth/core';
import { withTimeout } from '@berth/testkit/timeout';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkHealthcheck, goDuration, healthSuffix, nextHealth, probeCommand } from '../src/health/health-rules.js';
import type { Engine } from '../src/index.js';
import { openTestEngine, startTestEngine, stopTestEngine } from './support/test-engine.js';

// The HealthMonitor: its rules alone, then with real containers through the engine.

const ms = 1e6;

const rules = suite('health rules');

rules('the test forms: CMD, CMD-SHELL, NONE and empty', () => {
  assert.equal(probeCommand(['CMD', 'true']), ['true']);
  assert.equal(probeCommand(['CMD-SHELL', 'exit 1']), ['/bin/sh', '-c', 'exit 1']);
  assert.is(probeCommand(['NONE']), undefined);
  assert.is(probeCommand([]), undefined);
  assert.is(probeCommand(null), undefined);
});

rules("dockerd's checks of a Healthcheck", () => {
  assert.throws(() => checkHealthcheck({ Test: ['CMD'], Interval: 1000 }), /Interval in Healthcheck cannot be less than 1ms/);
  assert.throws(() => checkHealthcheck({ Test: ['CMD'], Retries: -1 }), /Retries in Healthcheck cannot be negative/);
  assert.throws(() => checkHealthcheck({ Test: ['SHELL', 'x'] }), /unknown type "SHELL"/);
  checkHealthcheck({ Test: ['CMD-SHELL', 'true'], Interval: 1000 * ms });
});

rules('probes: success is healthy, retries failures in a row are unhealthy, the start period does not count, 5 kept', () => {
  const probe = (code: number) => ({ Start: 's', End: 'e', ExitCode: code, Output: '' });
  let h: ContainerHealth = { Status: 'starting', FailingStreak: 0, Log: [] };
  h = nextHealth(h, probe(1), true, 2);
  assert.equal([h.Status, h.FailingStreak], ['starting', 0]);
  h = nextHealth(h, probe(1), false, 2);
  assert.equal([h.Status, h.FailingStreak], ['starting', 1]);
  h = nextHealth(h, probe(1), false, 2);
  assert.equal([h.Status, h.FailingStreak], ['unhealthy', 2]);
  h = nextHealth(h, probe(0), false, 2);
  assert.equal([h.Status, h.FailingStreak], ['healthy', 0]);
  for (let i = 0; i < 6; i++) h = nextHealth(h, probe(0), false, 2);
  assert.is(h.Log.length, 5);
  assert.is(healthSuffix(h), ' (healthy)');
  assert.is(healthSuffix({ Status: 'starting', FailingStreak: 0, Log: [] }), ' (health: starting)');
});

rules("the timeout in dockerd's message is written as Go writes a duration", () => {
  assert.equal(
    [goDuration(300), goDuration(1000), goDuration(1500), goDuration(30_000), goDuration(90_000), goDuration(120_000)],
    ['300ms', '1s', '1.5s', '30s', '1m30s', '2m0s'],
  );
});

rules.run();

interface Ctx {
  dir: string;
  engine: Engine;
}

const test = suite<Ctx>('health checks');

test.before(async (ctx) => {
  Object.assign(ctx, await startTestEngine('health'));
});

test.after((ctx) => stopTestEngine(ctx));

async function healthOf(engine: Engine, id: string, want: string): Promise<ContainerHealth | undefined> {
  for (let i = 0; i < 160; i++) {
    const h = (await engine.containers.inspect(id)).State.Health;
    if (h?.Status === want) return h;
    await new Promise((r) => setTimeout(r, 50));
  }
  return (await engine.containers.inspect(id)).State.Health;
}

test('a passing check makes the container healthy, with its probe in the log, an event and ps status', async ({ engine }) => {
  const events: string[] = [];
  engine.events.on('event', (e: EngineEvent) => {
    if (e.action.startsWith('health_status')) events.push(e.action);
  });
  const { Id } = await engine.containers.create({
    Image: 'busybox',
    Cmd: ['sleep', '100'],
    Healthcheck: { Test: ['CMD-SHELL', 'echo fine'], Interval: 100 * ms },
  });
  await engine.containers.start(Id);
  const h = await healthOf(engine, Id, 'healthy');
  assert.is(h?.Status, 'healthy');
  assert.is(h?.FailingStreak, 0);
  assert.is(h?.Log[0]?.ExitCode, 0);
  assert.is(h?.Log[0]?.Output, 'fine\n');
  assert.ok(events.includes('health_status: healthy'), events.join());
  const [listed] = await engine.containers.list({ filters: { id: [Id] } });
  assert.match(listed!.Status, /^Up .* \(healthy\)$/);
  // Checks stop with the container: no probe is added after its exit.
  await engine.containers.kill(Id, 'SIGKILL');
  await engine.containers.wait(Id);
  const probes = (await engine.containers.inspect(Id)).State.Health?.Log.map((l) => l.Start).join();
  await new Promise((r) => setTimeout(r, 300));
  assert.is((await engine.containers.inspect(Id)).State.Health?.Log.map((l) => l.Start).join(), probes);
});

test('a failing check becomes unhealthy after Retries failures; --no-healthcheck runs none', async ({ engine }) => {
  const { Id } = await engine.containers.create({
    Image: 'busybox',
    Cmd: ['sleep', '100'],
    Healthcheck: { Test: ['CMD', 'false'], Interval: 100 * ms, Retries: 2 },
  });
  await engine.containers.start(Id);
  const h = await healthOf(engine, Id, 'unhealthy');
  assert.is(h?.Status, 'unhealthy');
  assert.ok(h!.FailingStreak >= 2);
  assert.is(h?.Log.at(-1)?.ExitCode, 1);
  const off = await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '100'], Healthcheck: { Test: ['NONE'] } });
  await engine.containers.start(off.Id);
  await new Promise((r) => setTimeout(r, 200));
  assert.is((await engine.containers.inspect(off.Id)).State.Health, undefined);
});

test(
  'the health is durable: after an engine restart a running container keeps its status, streak and log, and its checks resume',
  withTimeout(30_000, async (ctx) => {
    const { Id } = await ctx.engine.containers.create({
      Image: 'busybox',
      Cmd: ['sleep', '100'],
      Healthcheck: { Test: ['CMD', 'false'], Interval: 1500 * ms, Retries: 1 },
    });
    await ctx.engine.containers.start(Id);
    const before = await healthOf(ctx.engine, Id, 'unhealthy');
    assert.is(before?.Status, 'unhealthy');
    await ctx.engine.close();
    const record = JSON.parse(readFileSync(path.join(ctx.dir, 'data', 'containers', Id, 'container.json'), 'utf8'));
    assert.is(record.state.Health.Status, 'unhealthy', 'written with the container');
    const reopened = Date.now();
    ctx.engine = await openTestEngine(ctx.dir);
    const after = (await ctx.engine.containers.inspect(Id)).State.Health;
    assert.is(after?.Status, 'unhealthy', 'not back to starting');
    assert.ok(after!.FailingStreak >= before!.FailingStreak);
    assert.ok(
      after?.Log.some((l) => l.Start === before!.Log.at(-1)!.Start),
      'the probes before the restart are kept',
    );
    // The checks resume: a probe made by the new engine joins the log.
    let resumed: ContainerHealth | undefined;
    for (let i = 0; i < 200 && !resumed; i++) {
      const h = (await ctx.engine.containers.inspect(Id)).State.Health;
      if (h?.Log.some((l) => Date.parse(l.Start) >= reopened)) resumed = h;
      else await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(resumed, 'a probe after the restart');
    assert.is(resumed?.Status, 'unhealthy');
    assert.ok(resumed!.FailingStreak > before!.FailingStreak, 'the streak carries on');
    const [listed] = await ctx.engine.containers.list({ filters: { health: ['unhealthy'] } });
    assert.is(listed?.Id, Id);
  }),
);

test(
  "a probe past its timeout is killed and fails with dockerd's message; none keeps running",
  withTimeout(20_000, async ({ engine }) => {
    const { Id } = await engine.containers.create({
      Image: 'busybox',
      Cmd: ['sleep', '100'],
      Healthcheck: { Test: ['CMD', 'sleep', '4321'], Interval: 100 * ms, Timeout: 300 * ms, Retries: 1 },
    });
    await engine.containers.start(Id);
    const h = await healthOf(engine, Id, 'unhealthy');
    assert.is(h?.Status, 'unhealthy');
    assert.is(h?.Log[0]?.ExitCode, -1);
    assert.is(h?.Log[0]?.Output, 'Health check exceeded timeout (300ms)');
    // Three probes timed out while the container runs: each was killed, so at most the
    // probe under way is left (three would be, had they kept running).
    for (let i = 0; i < 100 && ((await engine.containers.inspect(Id)).State.Health?.Log.length ?? 0) < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.is((await engine.containers.inspect(Id)).State.Health?.Log.length, 3);
    let left: string[] = [];
    for (let i = 0; i < 100; i++) {
      left = probesRunning('4321');
      if (left.length <= 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(left.length <= 1, `probes still running: ${left.join(', ')}`);
    await engine.containers.kill(Id, 'SIGKILL');
  }),
);

test('ps --filter health: starting, healthy, unhealthy, none; an unknown value is refused', async ({ engine }) => {
  const { Id } = await engine.containers.create({
    Image: 'busybox',
    Cmd: ['sleep', '100'],
    Healthcheck: { Test: ['CMD', 'true'], Interval: 100 * ms },
  });
  const plain = await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '100'] });
  await engine.containers.start(Id);
  await engine.containers.start(plain.Id);
  await healthOf(engine, Id, 'healthy');
  const ids = async (health: string) => (await engine.containers.list({ filters: { health: [health] } })).map((c) => c.Id);
  assert.ok((await ids('healthy')).includes(Id));
  assert.not.ok((await ids('healthy')).includes(plain.Id));
  assert.ok((await ids('none')).includes(plain.Id));
  assert.not.ok((await ids('none')).includes(Id));
  assert.not.ok((await ids('starting')).includes(Id));
  await engine.containers.list({ filters: { health: ['sick'] } }).then(
    () => assert.unreachable('refused'),
    (err: Error) => assert.is(err.message, 'Unrecognised filter value for health: sick'),
  );
});

test('a running probe shows in ExecIDs; none when no exec runs; exec, health and lifecycle events carry the labels', async ({ engine }) => {
  const events: EngineEvent[] = [];
  const listener = (e: EngineEvent) => events.push(e);
  engine.events.on('event', listener);
  try {
    const { Id } = await engine.containers.create({
      Image: 'busybox',
      Cmd: ['sleep', '100'],
      Labels: { team: 'blue' },
      Healthcheck: { Test: ['CMD', 'sleep', '1'], Interval: 100 * ms },
    });
    assert.is((await engine.containers.inspect(Id)).ExecIDs, null);
    await engine.containers.start(Id);
    let execIds: string[] | null = null;
    for (let i = 0; i < 60 && !execIds; i++) {
      execIds = (await engine.containers.inspect(Id)).ExecIDs;
      if (!execIds) await new Promise((r) => setTimeout(r, 50));
    }
    assert.is(execIds?.length, 1);
    await healthOf(engine, Id, 'healthy');
    const mine = events.filter((e) => e.id === Id);
    const start = mine.find((e) => e.action === 'exec_start: sleep 1');
    assert.ok(start, mine.map((e) => e.action).join());
    assert.equal(start!.attributes, { execID: execIds![0]!, team: 'blue', image: 'busybox', name: start!.attributes.name! });
    const healthy = mine.find((e) => e.action === 'health_status: healthy');
    assert.is(healthy?.attributes.team, 'blue');
    assert.is(mine.find((e) => e.action === 'exec_die')?.attributes.exitCode, '0');
    await engine.containers.kill(Id, 'SIGKILL');
    await engine.containers.wait(Id);
    assert.is((await engine.containers.inspect(Id)).ExecIDs, null);
    // docker events --filter label=team=blue matches every event of the container.
    const lifecycle = events.filter((e) => e.id === Id && ['create', 'start', 'kill', 'die'].includes(e.action));
    assert.equal(
      lifecycle.map((e) => [e.action, e.attributes.team]),
      ['create', 'start', 'kill', 'die'].map((a) => [a, 'blue']),
    );
  } finally {
    engine.events.off('event', listener);
  }
});

/** Host pids of processes running `sleep <arg>` (health probes of the tests above). */
function probesRunning(arg: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `sleep\0${arg}\0`) found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test.run();
