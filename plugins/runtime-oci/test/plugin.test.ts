import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
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

test('crun: usable on this host; on a cgroup v1 hybrid host, which crun refuses as it is, without the cgroup2 mount', async () => {
  const hybrid = isCgroupHybrid();
  // The plugin decides from a real run, so check that crun really fails here as it is first.
  const failure = await probeRuntime('/usr/bin/crun', fx.context().execRoot);
  if (hybrid) assert.match(failure ?? '', /hybrid mode not supported/);
  const runtime = (await crunPlugin.init(fx.context())) as OciRuntime;
  assert.is(runtime.name, 'crun');
});

test('crun is skipped with its own message when it cannot run even without the cgroup2 mount', async () => {
  if (!isCgroupHybrid()) return; // only hybrid hosts probe
  // A "crun" that always fails with crun's cgroup message, hidden mount or not.
  const fake = path.join(fx.context().execRoot, 'fake-crun');
  writeFileSync(fake, '#!/bin/sh\necho "cgroups in hybrid mode not supported, drop all controllers from cgroupv2" >&2\nexit 1\n', {
    mode: 0o755,
  });
  try {
    await crunPlugin.init({ ...fx.context(), config: { path: fake } });
    assert.unreachable('crun must be skipped');
  } catch (err) {
    assert.ok(isPluginSkipped(err), String(err));
    const reason = (err as PluginSkipped).reason;
    assert.match(reason, /does not support cgroup v1 hybrid hosts \("cgroups in hybrid mode not supported/);
    assert.ok(reason.includes('nor runs without /sys/fs/cgroup/unified'), reason);
  }
});

test('the hybrid detection agrees with the mount table', () => {
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  const v1 = / \/sys\/fs\/cgroup\/\S+ cgroup /.test(mounts);
  const unified = / \/sys\/fs\/cgroup\/unified cgroup2 /.test(mounts);
  assert.is(isCgroupHybrid(), v1 && unified);
});

test.run();
