import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type OciRuntime, runcPlugin } from '../src/index.js';
import { Fixture } from './support/fixture.js';

const fx = new Fixture();
let runtime: OciRuntime;
test.before(async () => {
  runtime = (await runcPlugin.init(fx.context())) as OciRuntime;
});
test.after(() => fx.cleanup());

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

test('create+connect+start+wait of `true`: median of 10 (printed)', async () => {
  const runs: number[] = [];
  const deletes: number[] = [];
  for (let i = 0; i < 10; i++) {
    const id = fx.newId();
    const req = fx.request(id, ['true']); // bundle prepared outside the timing
    const t0 = performance.now();
    await runtime.create(req);
    const streams = await runtime.connect(id);
    await runtime.start(id);
    const status = await runtime.wait(id);
    runs.push(performance.now() - t0);
    streams.close();
    assert.is(status.exitCode, 0);
    const t1 = performance.now();
    await runtime.delete(id);
    deletes.push(performance.now() - t1);
  }
  console.log(
    `  create+connect+start+wait of true: median ${median(runs).toFixed(1)} ms (min ${Math.min(...runs).toFixed(1)}, max ${Math.max(...runs).toFixed(1)}); delete median ${median(deletes).toFixed(1)} ms`,
  );
  assert.ok(median(runs) < 2000);
});

test('an idle shim uses less than 2 MiB of RSS', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sleep', '100']));
  const streams = await runtime.connect(id);
  await runtime.start(id);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const status = readFileSync(`/proc/${fx.shimPid(id)}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
  let pss = '';
  try {
    pss = /Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${fx.shimPid(id)}/smaps_rollup`, 'utf8'))![1]!;
  } catch {}
  console.log(`  idle berth-shim: VmRSS ${rssKb} kB${pss ? `, PSS ${pss} kB` : ''}`);
  assert.ok(rssKb < 2048, `VmRSS ${rssKb} kB`);
  streams.close();
  await runtime.kill(id, 'KILL');
  await runtime.wait(id);
  await runtime.delete(id);
});

test.run();
