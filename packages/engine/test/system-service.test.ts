import { mkdtempSync, rmSync } from 'node:fs';
import { DriverMap, type Runtime, type StorageDriver } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResolvedEngineConfig } from '../src/config.js';
import type { ImageQueries } from '../src/images/image-queries.js';
import { SystemService } from '../src/index.js';
import type { ContainerStore } from '../src/state/container-store.js';

/** A SystemService over collaborators built by hand that count what `/info` costs them. */
function service() {
  const calls = { describe: 0, status: 0, count: 0 };
  const runtime = {
    describe: async () => {
      calls.describe++;
      await new Promise((r) => setTimeout(r, 20)); // a spawned `runc --version` takes a while
      return { path: '/usr/sbin/runc', version: 'runc 1.1' };
    },
  } as unknown as Runtime;
  const runtimes = new DriverMap<Runtime>('runtime');
  runtimes.add('runc', runtime);
  const storage = {
    name: 'vfs',
    status: async () => {
      calls.status++;
      return [['Backing Filesystem', 'extfs']];
    },
  } as unknown as StorageDriver;
  const containers = { all: () => [] } as unknown as ContainerStore;
  const images = {
    count: async () => {
      calls.count++;
      return 3;
    },
  } as unknown as ImageQueries;
  const config = { serverVersion: '0.1.0-test', dataRoot, defaultRuntime: 'runc' } as ResolvedEngineConfig;
  const system = new SystemService(config, { statuses: () => [] }, storage, containers, images, runtimes);
  return { system, calls, runtimes };
}

// /info's ID is kept in the data root: one of the test's own, removed after.
const dataRoot = mkdtempSync('/tmp/berth-unit-system-');
test.after(() => rmSync(dataRoot, { recursive: true, force: true }));

test('concurrent info() calls share one computation', async () => {
  const { system, calls } = service();
  const answers = await Promise.all(Array.from({ length: 200 }, () => system.info()));
  assert.is(calls.count, 1);
  assert.is(calls.describe, 1);
  assert.ok(answers.every((a) => a === answers[0]));
  assert.equal(answers[0]!.Runtimes, { runc: { path: '/usr/sbin/runc' } });
  assert.is(answers[0]!.Images, 3);
});

test("a runtime's path and the storage status are not asked again; counts are", async () => {
  const { system, calls, runtimes } = service();
  await system.info();
  const second = await system.info();
  assert.is(calls.describe, 1, 'describe() spawns a process: once per runtime');
  assert.is(calls.status, 1);
  assert.is(calls.count, 2, 'image counts change: asked each time');
  assert.equal(second.DriverStatus, [['Backing Filesystem', 'extfs']]);
  runtimes.add('crun', { describe: async () => ({ path: '/usr/bin/crun', version: 'crun 1' }) } as unknown as Runtime);
  assert.equal((await system.info()).Runtimes, { runc: { path: '/usr/sbin/runc' }, crun: { path: '/usr/bin/crun' } });
});

test("a runtime's failing describe() is asked again next time", async () => {
  const { system, runtimes } = service();
  let fail = true;
  runtimes.add('flaky', {
    describe: async () => {
      if (fail) throw new Error('flaky: binary not found');
      return { path: '/opt/flaky', version: '1' };
    },
  } as unknown as Runtime);
  await system.info().then(
    () => assert.unreachable('should fail'),
    (e: Error) => assert.match(e.message, 'flaky: binary not found'),
  );
  fail = false;
  assert.equal((await system.info()).Runtimes.flaky, { path: '/opt/flaky' });
});

test.run();
