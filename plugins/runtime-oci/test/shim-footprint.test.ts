import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type OciRuntime, runcPlugin } from '../src/index.js';
import { Fixture } from './support/fixture.js';

// berth-shim stays beside every running container, so its size is part of its contract
// (native/shim is static C for that). Memory, unlike time, does not swing with the
// machine's load; bench/lifecycle.ts prints the figure.

const fx = new Fixture();
let runtime: OciRuntime;
test.before(async () => {
  runtime = (await runcPlugin.init(fx.context())) as OciRuntime;
});
test.after(() => fx.cleanup());

test('an idle shim uses less than 2 MiB of RSS', async () => {
  const id = fx.newId();
  await runtime.create(fx.request(id, ['sleep', '100']));
  const streams = await runtime.connect(id);
  try {
    await runtime.start(id);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const status = readFileSync(`/proc/${fx.shimPid(id)}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
    assert.ok(rssKb < 2048, `VmRSS ${rssKb} kB`);
  } finally {
    streams.close();
    await runtime.kill(id, 'KILL');
    await runtime.wait(id);
    await runtime.delete(id);
  }
});

test.run();
