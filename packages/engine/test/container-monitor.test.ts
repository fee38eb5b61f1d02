import type { ContainerStatsSample, CpuStats, StatsOptions } from '@berth/core';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import vfs from '@berth/storage-vfs';
import { withTimeout } from '@berth/testkit/timeout';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Engine } from '../src/index.js';
import { ContainerMonitorToken } from '../src/stats/container-monitor.js';
import { CpuHistory, type CpuReading, minimumWindowMs } from '../src/stats/cpu-history.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';
import { openTestEngine, startTestEngine } from './support/test-engine.js';

// Stats samples' precpu_stats: the kept readings' rules alone, then real containers.

const reading = (at: number, total = at): CpuReading => ({
  at,
  cpu: {
    cpu_usage: { total_usage: total, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  },
});

const rules = suite('kept CPU readings');

rules('the first reading of a run is what the samples of its first second compare with', () => {
  const h = new CpuHistory();
  assert.is(h.previous('a', 0), undefined, 'nothing kept for a container never seen');
  h.remember('a', reading(0));
  h.remember('a', reading(300)); // younger than the window after the first: not kept
  assert.is(h.previous('a', 500)!.at, 0);
  assert.is(h.previous('a', 5000)!.at, 0);
});

rules('readings are kept at least the window apart, two at most; the newest old enough is given', () => {
  const h = new CpuHistory();
  h.remember('a', reading(0));
  h.remember('a', reading(minimumWindowMs + 200));
  // Samples polled fast compare with a reading 1 to 2 windows old, never a younger one.
  assert.is(h.previous('a', minimumWindowMs + 500)!.at, 0);
  assert.is(h.previous('a', 2 * minimumWindowMs + 200)!.at, minimumWindowMs + 200);
  h.remember('a', reading(2 * minimumWindowMs + 300));
  h.remember('a', reading(2 * minimumWindowMs + 400));
  assert.is(h.previous('a', 2 * minimumWindowMs + 500)!.at, minimumWindowMs + 200, 'the oldest of two kept');
  // A client polling every 5 s sees the CPU used over those 5 s.
  h.remember('a', reading(7 * minimumWindowMs));
  assert.is(h.previous('a', 12 * minimumWindowMs)!.at, 7 * minimumWindowMs);
});

rules('forget drops a container, and only it', () => {
  const h = new CpuHistory();
  h.remember('a', reading(0));
  h.remember('b', reading(0));
  h.forget('a');
  assert.is(h.previous('a', 5000), undefined);
  assert.is(h.previous('b', 5000)!.at, 0);
  assert.is(h.size, 1);
});

rules.run();

interface Ctx {
  dir: string;
  engine: Engine;
}

const test = suite<Ctx>('stats of real containers');

test.before(async (ctx) => {
  Object.assign(ctx, await startTestEngine('stats', { plugins: [vfs, runc, none] }));
});

test.after(async ({ dir, engine }) => {
  try {
    for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
    assert.is(engine.di.resolve(ContainerMonitorToken).keptReadings, 0, 'no readings kept of removed containers');
    await engine.close();
  } finally {
    removeAndAssertNoMounts(dir);
  }
});

async function one(engine: Engine, id: string, options: StatsOptions): Promise<ContainerStatsSample> {
  for await (const s of engine.containers.stats(id, options)) return s;
  throw new Error('no sample');
}

/** What `docker stats` shows as CPU %, computed as docker CLI 28 does (calculateCPUPercentUnix). */
function cpuPercent(pre: CpuStats, now: CpuStats): { cpuDelta: number; systemDelta: number; percent: number } {
  const cpuDelta = now.cpu_usage.total_usage - pre.cpu_usage.total_usage;
  const systemDelta = (now.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const percent = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * (now.online_cpus ?? 0) * 100 : 0;
  return { cpuDelta, systemDelta, percent };
}

/** Polls one-shot samples until the container has used `ns` of CPU (its busy loop ran). */
async function usedAtLeast(engine: Engine, id: string, ns: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await one(engine, id, { stream: false, oneShot: true })).cpu_stats.cpu_usage.total_usage >= ns) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.unreachable(`container ${id} did not use ${ns / 1e6} ms of CPU in 10 s`);
}

// First run: a busy loop; every later run (the marker is in its writable layer): asleep.
const busyOnce = ['sh', '-c', 'if [ -e /ran ]; then exec sleep 60; fi; touch /ran; while :; do :; done'];

test(
  "a busy container's sample answers at once with a CPU percentage from a reading of its own run",
  withTimeout(20_000, async ({ engine }) => {
    const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: busyOnce });
    await engine.containers.start(Id);
    await usedAtLeast(engine, Id, 100e6);
    const sample = await one(engine, Id, { stream: false });
    const { cpuDelta, systemDelta, percent } = cpuPercent(sample.precpu_stats, sample.cpu_stats);
    assert.ok(cpuDelta > 0 && systemDelta > 0, `the loop used CPU since the earlier reading: ${cpuDelta} of ${systemDelta}`);
    assert.ok(percent > 0, `CPU % ${percent}`);
    const started = Date.parse((await engine.containers.inspect(Id)).State.StartedAt);
    assert.ok(Date.parse(sample.preread) >= started, `preread ${sample.preread} is of this run (started ${started})`);
    // one-shot: no earlier reading, as dockerd.
    const shot = await one(engine, Id, { stream: false, oneShot: true });
    assert.is(shot.preread, '0001-01-01T00:00:00Z');
    assert.is(shot.precpu_stats.cpu_usage.total_usage, 0);

    // The next run has a new cgroup counting from zero: its samples must not compare with the busy run's readings.
    await engine.containers.kill(Id, 'SIGKILL');
    await engine.containers.wait(Id, 'not-running');
    await engine.containers.start(Id);
    const again = await one(engine, Id, { stream: false });
    const restarted = Date.parse((await engine.containers.inspect(Id)).State.StartedAt);
    assert.ok(Date.parse(again.preread) >= restarted, `preread ${again.preread} is of the new run (started ${restarted})`);
    assert.ok(
      again.precpu_stats.cpu_usage.total_usage <= again.cpu_stats.cpu_usage.total_usage,
      `precpu ${again.precpu_stats.cpu_usage.total_usage} ns is not the busy run's (now ${again.cpu_stats.cpu_usage.total_usage} ns)`,
    );
  }),
);

test('the first sample of a stream has an earlier reading too; a stopped container gives a zeroed one', async ({ engine }) => {
  const { Id } = await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '60'] });
  await engine.containers.start(Id);
  const controller = new AbortController();
  let first: ContainerStatsSample | undefined;
  for await (const s of engine.containers.stats(Id, { stream: true, signal: controller.signal })) {
    first = s;
    controller.abort();
  }
  assert.ok((first?.precpu_stats.system_cpu_usage ?? 0) > 0, `precpu_stats ${JSON.stringify(first?.precpu_stats)}`);
  assert.is.not(first?.preread, '0001-01-01T00:00:00Z');
  await engine.containers.kill(Id, 'SIGKILL');
  await engine.containers.wait(Id, 'not-running');
  const stopped = await one(engine, Id, { stream: false });
  assert.is(stopped.preread, '0001-01-01T00:00:00Z');
  assert.is(stopped.cpu_stats.cpu_usage.total_usage, 0);
  assert.is(stopped.precpu_stats.cpu_usage.total_usage, 0);
});

test('after an engine restart, a container found running has a reading from the new engine', async (ctx) => {
  const { Id } = await ctx.engine.containers.create({ Image: 'busybox', Cmd: ['sleep', '60'] });
  await ctx.engine.containers.start(Id);
  await ctx.engine.close();
  const reopened = Date.now();
  ctx.engine = await openTestEngine(ctx.dir, { plugins: [vfs, runc, none] });
  const sample = await one(ctx.engine, Id, { stream: false });
  assert.ok((sample.precpu_stats.system_cpu_usage ?? 0) > 0, `precpu_stats ${JSON.stringify(sample.precpu_stats)}`);
  assert.ok(Date.parse(sample.preread) >= reopened, `preread ${sample.preread} is the new engine's`);
  assert.ok(sample.precpu_stats.cpu_usage.total_usage <= sample.cpu_stats.cpu_usage.total_usage);
});

test.run();
