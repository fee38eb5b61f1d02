import { readFileSync } from 'node:fs';
import { isPluginManifest, isPluginSkipped, type PluginSkipped } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import runcDefault, { crunPlugin, isCgroupHybrid, type OciRuntime, probeRuntime, runcPlugin } from '../src/index.js';
import { Fixture } from './support/fixture.js';

const fx = new Fixture();
test.after(() => fx.cleanup());

test('the default export is the runc manifest; crun is a named export', () => {
  assert.is(runcDefault, runcPlugin);
  assert.ok(isPluginManifest(runcPlugin));
  assert.ok(isPluginManifest(crunPlugin));
  assert.is(runcPlugin.kind, 'runtime');
  assert.is(runcPlugin.name, 'runc');
  assert.is(crunPlugin.name, 'crun');
});

test('runc: describe gives the binary path and its version line', async () => {
  const runtime = (await runcPlugin.init(fx.context())) as OciRuntime;
  assert.is(runtime.name, 'runc');
  const d = await runtime.describe();
  assert.match(d.path, /\/runc$/);
  assert.match(d.version, /^runc version \d+\.\d+/);
});

test('runc is skipped with a reason when the binary cannot be found', async () => {
  const ctx = { ...fx.context(), config: { path: '/nonexistent/runc' } };
  try {
    await runcPlugin.init(ctx);
    assert.unreachable('init must skip');
  } catch (err) {
    assert.ok(isPluginSkipped(err), String(err));
    assert.is((err as PluginSkipped).reason, 'runc not found at /nonexistent/runc');
  }
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await runcPlugin.init({ ...fx.context(), config: { path: 'runc-not-installed' } });
    assert.unreachable('init must skip');
  } catch (err) {
    assert.ok(isPluginSkipped(err), String(err));
    assert.match((err as Error).message, /runc-not-installed/);
  } finally {
    process.env.PATH = saved;
  }
});

test("crun: skipped with crun's own reason on a cgroup v1 hybrid host, usable elsewhere", async () => {
  const hybrid = isCgroupHybrid();
  // The plugin decides from a real run, so check that crun really fails here first.
  const failure = await probeRuntime('/usr/bin/crun', fx.context().execRoot);
  if (hybrid) assert.match(failure ?? '', /hybrid mode not supported/);
  if (hybrid) {
    try {
      await crunPlugin.init(fx.context());
      assert.unreachable('crun must be skipped on this host');
    } catch (err) {
      assert.ok(isPluginSkipped(err), String(err));
      const reason = (err as PluginSkipped).reason;
      assert.match(reason, /^crun \d+\.\d+(\.\d+)? does not support cgroup v1 hybrid hosts \("/);
      assert.ok(reason.includes('cgroups in hybrid mode not supported'), reason);
    }
  } else {
    const runtime = await crunPlugin.init(fx.context());
    assert.is(runtime.name, 'crun');
  }
});

test('the hybrid detection agrees with the mount table', () => {
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  const v1 = / \/sys\/fs\/cgroup\/\S+ cgroup /.test(mounts);
  const unified = / \/sys\/fs\/cgroup\/unified cgroup2 /.test(mounts);
  assert.is(isCgroupHybrid(), v1 && unified);
});

test.run();
