import { createReadStream, mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import type { ContainerHealth, EngineEvent } from '@berth/core';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import overlay from '@berth/storage-overlay';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkHealthcheck, healthSuffix, nextHealth, probeCommand } from '../src/health/health-rules.js';
import { createEngine, type Engine } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';

// The HealthMonitor: its rules alone, then with real containers through the engine.

const busybox = path.resolve(__dirname, '../../../test/fixtures/.cache/busybox.tar');
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

rules.run();

interface Ctx {
  dir: string;
  engine: Engine;
}

const test = suite<Ctx>('health checks');

function open(dir: string): Promise<Engine> {
  return createEngine({
    dataRoot: path.join(dir, 'data'),
    execRoot: path.join(dir, 'exec'),
    cgroupParent: `berth-unit-${path.basename(dir).slice(-6)}`,
    plugins: [overlay, runc, none],
  });
}

test.before(async (ctx) => {
  ctx.dir = mkdtempSync('/tmp/berth-unit-health-');
  ctx.engine = await open(ctx.dir);
  await ctx.engine.images.load(createReadStream(busybox));
});

test.after(async ({ dir, engine }) => {
  try {
    for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
    await engine.close();
  } finally {
    removeAndAssertNoMounts(dir);
  }
});

async function healthOf(engine: Engine, id: string, want: string): Promise<ContainerHealth | undefined> {
  for (let i = 0; i < 80; i++) {
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

test('checks resume for running containers after the engine restarts', async (ctx) => {
  const { Id } = await ctx.engine.containers.create({
    Image: 'busybox',
    Cmd: ['sleep', '100'],
    Healthcheck: { Test: ['CMD', 'true'], Interval: 100 * ms },
  });
  await ctx.engine.containers.start(Id);
  assert.is((await healthOf(ctx.engine, Id, 'healthy'))?.Status, 'healthy');
  await ctx.engine.close();
  ctx.engine = await open(ctx.dir);
  assert.is((await ctx.engine.containers.inspect(Id)).State.Running, true);
  assert.is((await healthOf(ctx.engine, Id, 'healthy'))?.Status, 'healthy');
});

test.run();
